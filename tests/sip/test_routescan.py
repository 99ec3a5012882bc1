"""The C road of rtcscope.sip.routing's reads on a message's bytes as they are
(rtcscope.sip._routescan: may_hold_route, usual_max_forwards) against their specification,
the Python road (raw_may_hold_route_py, usual_max_forwards_py) and the message's own
reading, on any bytes; built and active under CI=true; RTCSCOPE_PURE=1 selects the Python
road.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope.sip import routing
from rtcscope.sip.message import SipMessage
from rtcscope.sip.routing import (
    may_hold_route,
    message_max_forwards,
    raw_may_hold_route_py,
    usual_max_forwards_py,
)
from tests.conftest import IN_CI
from tests.sip.test_calls_walk_c import road_of_copy

try:
    from rtcscope.sip import _routescan
except ImportError:  # no compiler or no Python headers where it was installed
    _routescan = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(_routescan is None, reason="the C accelerator is not built here")

# Pieces near the shapes the reads must decide or leave to the Python road: both names in
# any case, lookalikes, blanks, colons, digits, line ends, empty and folded lines, and
# characters that lower-case to nothing ASCII ('\r' | 0x20 is '-').
_PIECES = st.sampled_from(
    [
        *(b"Max-Forwards", b"max-forwards", b"MAX-FORWARDS", b"mAx-fOrWaRdS", b"max\rforwards"),
        *(b"Max_Forwards", b"X-Max-Forwards", b"route", b"Record-Route", b"ROUTE", b"rOuTe"),
        *(b"rout", b"oute", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\n\n"),
        *(b"\n\r\n", b"\r\n ", b"\r\n\t", b"70", b"0", b"007", b"9" * 19, b"-1", b"x", b"\xc4"),
        *(b"ACK sip:b@h SIP/2.0\r\n", b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"),
    ]
)
_RAW = st.one_of(st.lists(_PIECES, max_size=12).map(b"".join), st.binary(max_size=120))


def _same(a: object, b: object) -> bool:
    """Equal and of one type (False == 0 in Python: a decision is not a number)."""
    return type(a) is type(b) and a == b


@example(b"\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nMax-Forwards: 70")
@example(b"ACK x\r\nMax-Forwards: 70\r\n ")
@example(b"ACK x\r\n\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nmax\rforwards: 70\r\nMax-Forwards: 1\r\n")
@example(b"Max-Forwards: 70\r\n")
@given(raw=_RAW)
def test_the_python_road_is_the_message_s_reading(raw: bytes) -> None:
    assert raw_may_hold_route_py(raw) is may_hold_route(raw.lower())
    usual = usual_max_forwards_py(raw)
    expected = SipMessage.parse(raw).max_forwards
    if usual is None:
        assert expected is None
    elif usual is not False:
        assert _same(usual, expected)
    # message_max_forwards reads the same with or without the lowered bytes (either road)
    assert _same(message_max_forwards(SipMessage.parse(raw)), expected)
    assert _same(message_max_forwards(SipMessage.parse(raw), raw.lower()), expected)


@needs_c
@example(b"\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nMax-Forwards: 70")
@example(b"ACK x\r\nMax-Forwards: " + b"9" * 19 + b"\r\n")
@example(b"ACK x\r\nMax-Forwards: " + b"9" * 18 + b"\r\n")
@example(b"ACK x\r\nMax-Forwards: " + b"0" * 19 + b"70\r\n")
@example(b"ACK x\r\nMax-Forwards: 000\r\n")
@example(b"ACK x\r\nMax-Forwards: 70\r\n\t")
@example(b"ACK x\r\nMax-Forwards: 70\n\n")
@example(b"ACK x\n\nMax-Forwards: 70\r\n")
@example(b"ACK x\n\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\n\rMax-Forwards: 70\r\n")
@example(b"ACK x\r\nmax\rforwards: 1\r\n")
@example(b"ACK x\r\nMAX-FORWARDS :\t70 \r \r\n")
@example(b"")
@given(raw=_RAW)
def test_the_c_road_reads_as_the_python_road(raw: bytes) -> None:
    assert _routescan is not None
    assert _routescan.may_hold_route(raw) is raw_may_hold_route_py(raw)
    found = _routescan.usual_max_forwards(raw)
    usual = usual_max_forwards_py(raw)
    # (more digits, leading zeros aside, than a long long holds: the Python road reads them)
    assert _same(found, usual) or (found is False and isinstance(usual, int) and usual >= 10**18)


@needs_c
def test_the_c_road_takes_bytes_only() -> None:
    assert _routescan is not None
    for read in (_routescan.may_hold_route, _routescan.usual_max_forwards):
        with pytest.raises(TypeError):
            read("Max-Forwards: 70")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            read(bytearray(b"route"))  # type: ignore[arg-type]


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _routescan is not None
    assert routing.ROUTE_SCAN_ROAD == "c"


def _road_with(monkeypatch: pytest.MonkeyPatch, pure: str | None) -> str:
    return road_of_copy(monkeypatch, routing, pure, "ROUTE_SCAN_ROAD")


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    built = "c" if _routescan is not None else "python"
    assert _road_with(monkeypatch, "1") == "python"
    assert _road_with(monkeypatch, "0") == built
    assert _road_with(monkeypatch, None) == built
