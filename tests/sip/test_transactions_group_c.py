"""The transaction grouping in C (rtcscope.sip._callwalk.group) against its specification,
the pure-Python road (transactions._group_transactions_py): the same transactions (keys,
methods, CSeq numbers, the same captured messages in each list), in the same order, on
generated messages (RFC 2543 peers without a branch, sent-by and CSeq methods in any case,
ACKs to non-2xx and to 2xx, values a parse never gives) and on real captures; built and
active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import transactions as transactions_module
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.dialogs import find_calls
from rtcscope.sip.headers import CSeq
from rtcscope.sip.message import SipMessage
from rtcscope.sip.transactions import Transaction, _group_transactions_py
from tests.conftest import DATA, IN_CI, c_module, needs_built
from tests.sip.test_calls_walk_c import _OddCaptured, _raw, road_of_copy

_callwalk = c_module("rtcscope.sip._callwalk")

needs_c = needs_built(_callwalk)


def _c_group(messages: Any) -> list[Transaction]:
    assert _callwalk is not None
    # (set up as transactions.py sets it up: under RTCSCOPE_PURE=1 it did not.)
    transactions_module._c_group_setup(_callwalk)
    grouped: list[Transaction] = _callwalk.group(messages)
    return grouped


def _shape(transactions: list[Transaction]) -> list[tuple[Any, ...]]:
    return [
        (
            t.key,
            type(t.key),
            type(t),
            t.method,
            t.cseq,
            [id(m) for m in t.requests],
            [id(m) for m in t.responses],
            [id(m) for m in t.acks],
        )
        for t in transactions
    ]


@dataclass(slots=True)
class _OddMessage:
    """Not a SipMessage (read through getattr), with values a parse never gives."""

    cseq: Any
    call_id: Any
    sent_by: Any
    branch: Any
    request_method: Any
    is_response: Any
    to_tag: Any
    from_tag: Any
    status_code: Any


METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "invite", "Ack", "OPTIONS", "\u0131nvite"]
SENT_BY = ["10.0.0.1:5060", "10.0.0.1", "HOST.Example:5060", "[::1]:5060", "\u00c4b", None]
BRANCHES = ["z9hG4bK1", "z9hG4bK2", "z9hg4bk1", "abc", "", None]


@st.composite
def captured_messages(draw: st.DrawFn) -> Any:
    request = draw(st.sampled_from([*METHODS[:4], "OPTIONS", None, None, None]))
    code = draw(st.sampled_from([100, 180, 200, 200, 202, 299, 300, 486, 487]))
    call_id = draw(st.sampled_from(["c1", "c2", None]))
    cseq = draw(st.none() | st.tuples(st.integers(1, 3), st.sampled_from(METHODS)))
    via = (draw(st.sampled_from(SENT_BY)), draw(st.sampled_from(BRANCHES)))
    to_tag = draw(st.sampled_from(["t1", "t2", None]))
    if draw(st.integers(0, 4)) == 0:
        message: Any = _OddMessage(
            None if cseq is None else CSeq(*cseq),
            call_id,
            via[0],
            via[1],
            request,
            draw(st.sampled_from([request is None, 0, 1])),
            to_tag,
            draw(st.sampled_from(["a", None])),
            code if request is None else None,
        )
        return _OddCaptured(1, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", message)
    message = SipMessage.parse(_raw(request, code, call_id, cseq, via, to_tag))
    return CapturedSip(1, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", message)


@needs_c
@settings(max_examples=500)
@given(st.lists(captured_messages(), max_size=16))
def test_c_grouping_makes_what_the_python_road_makes(messages: list[Any]) -> None:
    assert _shape(_c_group(messages)) == _shape(_group_transactions_py(messages))
    assert _shape(_c_group(tuple(messages))) == _shape(_group_transactions_py(messages))


class _Branch(str):
    """A branch of another class than str: the C grouping's table does not compare it."""


@needs_c
@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.sampled_from(METHODS[:4]), st.booleans()),
             max_size=40),
    st.integers(0, 40),
)  # fmt: skip
def test_c_grouping_of_many_transactions(picks: list[tuple[int, str, bool]], odd_at: int) -> None:
    """Up to 21 transactions of one call (more than the C table holds: it moves into a
    dict), requests and responses, and one branch of a str subclass somewhere."""
    messages: list[Any] = []
    for n, (number, method, is_request) in enumerate(picks):
        via = ("10.0.0.1:5060", f"z9hG4bK{number}")
        raw = _raw(method if is_request else None, 200, "c1", (1, method), via, "t1")
        message = SipMessage.parse(raw)
        if n == odd_at:
            object.__setattr__(message, "branch", _Branch(message.branch))
        messages.append(CapturedSip(n + 1, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", message))
    assert _shape(_c_group(messages)) == _shape(_group_transactions_py(messages))


@pytest.mark.parametrize(
    "path",
    [DATA / "aaa.pcap", DATA / "SIP_DTMF2.pcap", DATA / "testbed-unreachable-contact.pcap"],
    ids=lambda p: p.name,
)
@needs_c
def test_c_grouping_of_real_captures(path: Path) -> None:
    messages = list(sip_messages(path))
    assert _shape(_c_group(iter(messages))) == _shape(_group_transactions_py(messages))
    for call in find_calls(messages):
        assert _shape(_c_group(call.messages)) == _shape(_group_transactions_py(call.messages))


@needs_c
def test_c_grouping_refuses_what_is_not_a_message() -> None:
    with pytest.raises(AttributeError):
        _c_group([object()])
    with pytest.raises(TypeError):
        _c_group(5)


def test_the_grouping_accelerator_is_built_and_active_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _callwalk is not None
    assert transactions_module.GROUP_ROAD == "c"


def _road_with(monkeypatch: pytest.MonkeyPatch, pure: str | None) -> str:
    return road_of_copy(monkeypatch, transactions_module, pure, "GROUP_ROAD")


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _road_with(monkeypatch, "1") == "python"
    assert _road_with(monkeypatch, "0") == ("c" if _callwalk is not None else "python")
    assert _road_with(monkeypatch, None) == ("c" if _callwalk is not None else "python")
