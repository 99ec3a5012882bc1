"""The call list's walk in C (rtcscope.sip._callwalk.walk) against its specification, the
pure-Python road (calls._walk_py): the same marks, counts and lists, in the same order, and
the tracker's state left the same, on generated message sequences (odd values, any order,
state carried between walks) and on real captures; built and active under CI=true;
RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.sip
from rtcscope.scan.files import sip_messages
from rtcscope.sip import calls as calls_module
from rtcscope.sip import dialogs as dialogs_module
from rtcscope.sip import transactions as transactions_module
from rtcscope.sip.calls import _walk_py, _Walked
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.dialogs import find_calls
from rtcscope.sip.headers import CSeq
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, IN_CI, c_module, needs_built

_callwalk = c_module("rtcscope.sip._callwalk")

needs_c = needs_built(_callwalk)


def _c_walk(messages: Any, state: dict[Any, Any]) -> _Walked:
    assert _callwalk is not None
    # (set up as calls.py sets it up: under RTCSCOPE_PURE=1 calls.py did not.)
    calls_module._c_walk_setup(_callwalk)
    walked: _Walked = _callwalk.walk(messages, state)
    return walked


def _same(a: _Walked, b: _Walked) -> None:
    assert type(a) is type(b) is _Walked
    assert a == b
    # Orders too: marks by message, counts in order of first sight.
    assert list(a.marks.items()) == list(b.marks.items())
    assert list(a.methods.items()) == list(b.methods.items())
    assert list(a.statuses.items()) == list(b.statuses.items())
    assert type(a.methods) is type(b.methods)
    assert a.bye is b.bye
    assert all(x is y for x, y in zip(a.acks + a.infos, b.acks + b.infos, strict=True))


@dataclass(slots=True)
class _OddMessage:
    """Not a SipMessage (read through getattr), with values a parse never gives."""

    cseq: Any
    request_method: Any
    is_response: Any
    status_code: Any
    call_id: Any


@dataclass(slots=True)
class _OddCaptured:
    frame: Any
    ts_ns: Any
    src: str
    sport: int
    dst: str
    dport: int
    transport: str
    message: Any


METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "INFO", "OPTIONS", "ack", "PRACK"]
ENDS = [("10.0.0.1", 5060), ("10.0.0.2", 5060), ("10.0.0.2", 5080), ("::1", 5060)]


def _raw(
    request: str | None,
    code: int,
    call_id: str | None,
    cseq: tuple[int, str] | None,
    via: tuple[str | None, str | None] = ("10.0.0.1", "z9hG4bK1"),
    to_tag: str | None = None,
) -> bytes:
    """A message with these start line, Call-ID, CSeq, top Via (sent-by, branch; none
    without a sent-by) and To tag."""
    start = f"{request} sip:b@h SIP/2.0" if request else f"SIP/2.0 {code} Reason"
    lines = [start, "From: <sip:a@h>;tag=a"]
    sent_by, branch = via
    if sent_by is not None:
        lines.append(f"Via: SIP/2.0/UDP {sent_by}" + (f";branch={branch}" if branch else ""))
    lines.append("To: <sip:b@h>" + (f";tag={to_tag}" if to_tag else ""))
    if call_id is not None:
        lines.append(f"Call-ID: {call_id}")
    if cseq is not None:
        lines.append(f"CSeq: {cseq[0]} {cseq[1]}")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


@st.composite
def captured_messages(draw: st.DrawFn) -> Any:
    request = draw(st.sampled_from([*METHODS, None, None]))
    code = draw(st.sampled_from([100, 180, 183, 200, 200, 486, 487, 408, 699]))
    call_id = draw(st.sampled_from(["c1", "c2", "", None]))
    cseq = draw(st.none() | st.tuples(st.integers(0, 3), st.sampled_from(METHODS)))
    frame = draw(st.integers(0, 12))
    ts_ns = draw(
        st.sampled_from([0, 1, -1, 999_999_999, 1_000_000_001, 2**63 - 1, 2**64, -(2**64)])
        | st.integers(1_700_000_000_000_000_000, 1_700_000_003_000_000_000)
    )
    src, sport = draw(st.sampled_from(ENDS))
    dst, dport = draw(st.sampled_from(ENDS))
    transport = draw(st.sampled_from(["udp", "udp", "tcp"]))
    if draw(st.integers(0, 4)) == 0:
        # Values a parse never gives: a response without a status code, an int-like
        # frame of 0, a CSeq number as a bool.
        message: Any = _OddMessage(
            None if cseq is None else CSeq(draw(st.sampled_from([cseq[0], True])), cseq[1]),
            request,
            draw(st.sampled_from([request is None, 0, 1])),
            draw(st.sampled_from([code, None])) if request is None else None,
            call_id,
        )
        return _OddCaptured(frame, ts_ns, src, sport, dst, dport, transport, message)
    message = SipMessage.parse(_raw(request, code, call_id, cseq))
    return CapturedSip(frame, ts_ns, src, sport, dst, dport, transport, message)  # type: ignore[arg-type]


@needs_c
@settings(max_examples=400)
@given(st.lists(captured_messages(), max_size=14), st.integers(0, 14))
def test_c_walk_returns_what_the_python_road_returns(messages: list[Any], cut: int) -> None:
    """Two walks in a row, the tracker's state carried from the first to the second (as
    WiresharkSipTracker carries it): the same values and the same state."""
    by_python: dict[Any, Any] = {}
    by_c: dict[Any, Any] = {}
    for part in (messages[:cut], tuple(messages[cut:])):
        _same(_c_walk(part, by_c), _walk_py(part, by_python))
        assert list(by_c.items()) == list(by_python.items())


@pytest.mark.parametrize(
    "path",
    [DATA / "aaa.pcap", DATA / "SIP_DTMF2.pcap", DATA / "testbed-unreachable-contact.pcap"],
    ids=lambda p: p.name,
)
@needs_c
def test_c_walk_of_real_calls(path: Path) -> None:
    messages = list(sip_messages(path))
    for call in find_calls(messages):
        _same(_c_walk(call.messages, {}), _walk_py(call.messages, {}))
    state_c: dict[Any, Any] = {}
    state_py: dict[Any, Any] = {}
    _same(_c_walk(iter(messages), state_c), _walk_py(messages, state_py))
    assert list(state_c.items()) == list(state_py.items())


@needs_c
def test_c_walk_refuses_what_is_not_a_message() -> None:
    with pytest.raises(AttributeError):
        _c_walk([object()], {})
    with pytest.raises(TypeError):
        _c_walk(5, {})
    odd = _OddCaptured(1, 0, "a", 1, "b", 2, "udp", _OddMessage(CSeq(1, "BYE"), "BYE", 0, 0, "c"))
    state: dict[Any, Any] = {("c", "a", 1, "b", 2): "not a list"}
    with pytest.raises(TypeError):
        _c_walk([odd], state)


def test_the_walk_accelerator_is_built_and_active_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _callwalk is not None
    assert calls_module.WALK_ROAD == "c"


def road_of_copy(
    monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, pure: str | None, road: str
) -> str:
    """The ``road`` (WALK_ROAD, GROUP_ROAD) of a fresh copy of ``module`` imported with
    RTCSCOPE_PURE so; the C module set up again as the real modules set it up."""
    if pure is None:
        monkeypatch.delenv("RTCSCOPE_PURE", raising=False)
    else:
        monkeypatch.setenv("RTCSCOPE_PURE", pure)
    name = f"_{module.__name__.rpartition('.')[2]}_copy"
    spec = importlib.util.spec_from_file_location(name, module.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, copy)  # its dataclasses look it up
    try:
        spec.loader.exec_module(copy)
        return str(getattr(copy, road))
    finally:
        if _callwalk is not None:  # set up with the copy's classes: set back
            calls_module._c_walk_setup(_callwalk)
            calls_module._c_sdp_setup(_callwalk)
            calls_module._c_counts_setup(_callwalk)
            transactions_module._c_group_setup(_callwalk)
            dialogs_module._c_calls_setup(_callwalk)
            if calls_module.SUMMARY_ROAD == "c":
                calls_module._c_summary_setup(_callwalk)


def _road_with(monkeypatch: pytest.MonkeyPatch, pure: str | None) -> str:
    return road_of_copy(monkeypatch, calls_module, pure, "WALK_ROAD")


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _road_with(monkeypatch, "1") == "python"
    assert _road_with(monkeypatch, "0") == ("c" if _callwalk is not None else "python")
    assert _road_with(monkeypatch, None) == ("c" if _callwalk is not None else "python")


def test_an_older_accelerator_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A .so left from an older _callwalk.c (a later build failed: setuptools keeps going)
    whose setup() takes other arguments: the import takes the Python road, no error."""
    older = types.ModuleType("rtcscope.sip._callwalk")

    def setup() -> None:
        raise AssertionError("not called with these arguments")

    older.setup = setup  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rtcscope.sip._callwalk", older)
    monkeypatch.setattr(rtcscope.sip, "_callwalk", older, raising=False)
    assert _road_with(monkeypatch, None) == "python"
