"""A call's dialogs in C (rtcscope.sip._dialogs.dialogs) against its specification, the
pure-Python road (dialogs._build_dialogs with Call.initial_invites and Call.caller_tag): the
same Dialog objects (ids, states, the response that created each, answers, in-dialog
transactions), in order, and the same kept look-ups left on the call; or None from C where
a value is not of the exact classes and types it reads. On generated calls (forks, early
dialogs ended by a non-2xx, requests from either side, BYEs answered or not, tags missing
or empty, messages of other classes, odd kept look-ups) and on every capture of tests/data
and ../shared/captures; built and active under CI=true; RTCSCOPE_PURE=1 selects the Python
road.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope._roads import c_function
from rtcscope.scan.files import sip_messages
from rtcscope.sip import dialogs as dialogs_module
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.dialogs import Call, Dialog, _build_dialogs, find_calls
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, IN_CI, c_module, needs_built, shared_captures
from tests.sip.test_calls_walk_c import _OddCaptured

_dialogs = c_module("rtcscope.sip._dialogs")

needs_c = needs_built(_dialogs)


def _c_dialogs(call: Any) -> list[Dialog] | None:
    assert _dialogs is not None
    # (set up as dialogs.py sets it up: under RTCSCOPE_PURE=1 it did not)
    dialogs_module._c_dialogs_setup(_dialogs)
    made: list[Dialog] | None = _dialogs.dialogs(call)
    return made


def _shape(dialogs: list[Dialog]) -> list[tuple[Any, ...]]:
    return [
        (
            type(d),
            d.id,
            type(d.id),
            d.state,
            id(d.created_by),
            [id(a) for a in d.answers],
            [id(t) for t in d.transactions],
        )
        for d in dialogs
    ]


def _kept(call: Call) -> tuple[Any, ...]:
    initial, tag = call._initial, call._caller_tag
    return (
        None if initial is None else (id(initial[0]), [id(t) for t in initial[1]]),
        None if tag is None else (initial is not None and tag[0] is initial[1], tag[1]),
    )


def _same_or_declined(call: Call) -> list[Dialog] | None:
    """C's dialogs, checked against the Python road's (C may decline, never differ); the
    call's kept look-ups as the Python road leaves them."""
    kept = (call._initial, call._caller_tag)
    made = _c_dialogs(call)
    c_kept = _kept(call)
    call._initial, call._caller_tag = kept
    expected = _build_dialogs(call)
    if made is not None:
        assert _shape(made) == _shape(expected)
        assert c_kept == _kept(call)
    return made


TAGS = ["a", "b", "t1", "t2", "", None]


def _message(
    request: str | None, code: int, cseq: tuple[int, str], from_tag: Any, to_tag: Any, branch: str
) -> SipMessage:
    start = f"{request} sip:b@h SIP/2.0" if request else f"SIP/2.0 {code} Reason"
    lines = [
        start,
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=" + branch,
        "From: <sip:a@h>" + (f";tag={from_tag}" if from_tag is not None else ""),
        "To: <sip:b@h>" + (f";tag={to_tag}" if to_tag is not None else ""),
        "Call-ID: c1",
        f"CSeq: {cseq[0]} {cseq[1]}",
    ]
    return SipMessage.parse(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())


@st.composite
def call_messages(draw: st.DrawFn) -> Any:
    request = draw(st.sampled_from(["INVITE", "INVITE", "ACK", "BYE", "INFO", None, None, None]))
    method = request or draw(st.sampled_from(["INVITE", "INVITE", "BYE", "INFO"]))
    code = draw(st.sampled_from([100, 101, 180, 183, 200, 202, 299, 300, 486, 487]))
    cseq = (draw(st.integers(1, 3)), method)
    branch = draw(st.sampled_from(["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]))
    message: Any = _message(
        request, code, cseq, draw(st.sampled_from(TAGS)), draw(st.sampled_from(TAGS)), branch
    )
    odd = draw(st.integers(0, 12))
    if odd == 0:  # a status code of another type
        message.status_code = draw(st.sampled_from([True, 200.0, 2**70, -(2**70)]))
    elif odd == 1:  # a tag of another type
        message.to_tag = draw(st.sampled_from([b"t1", 0, ("t1",)]))
    if odd == 2:
        return _OddCaptured(1, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", message)
    return CapturedSip(1, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", message)


@needs_c
@settings(max_examples=600)
@given(st.lists(call_messages(), max_size=10), st.sampled_from(["", "initial", "odd tag"]))
def test_c_dialogs_are_the_python_roads(messages: list[Any], kept: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialogs_module, "_c_dialogs", None)  # (the calls' grouping as it is)
        calls = find_calls(messages)
    for call in calls:
        if kept == "initial":
            call.caller_tag  # noqa: B018  (kept look-ups found first by Python)
        elif kept == "odd tag":
            call._caller_tag = (call.initial_invites, 5)
        made = _same_or_declined(call)
        plain = all(
            type(m) is CapturedSip
            and type(m.message.status_code) in (int, type(None))
            and type(m.message.to_tag) in (str, type(None))
            for m in call.messages
        )
        if plain and kept != "odd tag":  # declined only for what it does not read
            assert made is not None


@needs_c
@pytest.mark.parametrize(
    "capture", sorted(DATA.glob("*.pcap*")) + shared_captures(), ids=lambda p: p.name
)
def test_c_dialogs_of_real_captures(capture: Path) -> None:
    for call in find_calls(list(sip_messages(capture))):
        assert _same_or_declined(call) is not None


@needs_c
def test_c_declines_what_is_not_a_call() -> None:
    assert _c_dialogs(object()) is None
    call = Call("c1")
    call.transactions = (1,)  # type: ignore[assignment]
    assert _c_dialogs(call) is None
    assert _c_dialogs(Call("c1")) == []
    assert _dialogs is not None
    with pytest.raises((TypeError, AttributeError)):  # (not the classes it reads)
        _dialogs.setup(int, int, int, int, int, tuple, 1, 2, 3)
    dialogs_module._c_dialogs_setup(_dialogs)


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    def road() -> Any:
        return c_function("rtcscope.sip._dialogs", "dialogs", dialogs_module._c_dialogs_setup)

    monkeypatch.setenv("RTCSCOPE_PURE", "1")
    assert road() is None
    monkeypatch.delenv("RTCSCOPE_PURE")
    assert (road() is None) == (_dialogs is None)


def test_the_c_dialogs_road_is_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert dialogs_module.DIALOGS_ROAD == "c"
