"""MediaAnnouncer.feed (on the C road, _sipscan.announcer_feed, when built) gives what its
specification MediaAnnouncer._feed_py gives, and leaves the announcer's state the same, message
after message: on generated messages (requests and responses of a few calls, with and without
To tags, CSeqs and reasons of every shape, SDP bodies real, cut, mutated, blank or of another
type, Content-Length right, short, long, past 2**63 or absent) and on real captures; built and
used under CI=true; RTCSCOPE_PURE=1 selects the Python road."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.sip.capture as capture_module
from rtcscope.scan.files import sip_messages
from rtcscope.sip.capture import CapturedSip, MediaAnnouncer
from rtcscope.sip.message import ROAD, SipMessage
from tests.conftest import DATA, IN_CI, c_module
from tests.peers import fresh_python
from tests.sip.test_properties import real_messages


@cache
def real_sdps() -> tuple[bytes, ...]:
    bodies = {body for raw in real_messages() if (body := SipMessage.parse(raw).sdp_body())}
    assert bodies
    return tuple(sorted(bodies))


@st.composite
def sdp_bodies(draw: st.DrawFn) -> bytes:
    """A real SDP, as it is or with a new address and port, cut or with bytes replaced; or
    blank, or random bytes."""
    body = draw(st.sampled_from(real_sdps()))
    if draw(st.booleans()):
        body = body.replace(b"IN IP4 ", b"IN IP4 10.9." + str(draw(st.integers(0, 300))).encode())
        body = body.replace(b"m=audio ", b"m=audio " + str(draw(st.integers(0, 99999))).encode())
    data = bytearray(body)
    for _ in range(draw(st.integers(0, 2))):
        if data and draw(st.booleans()):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return draw(
        st.sampled_from([bytes(data)] * 4 + [b"", b" \r\n\t", b"\x0b"]) | st.binary(max_size=40)
    )


METHODS = ["INVITE", "ACK", "PRACK", "prack", "Ack", "BYE", "UPDATE", "INVİTE", "OPTIONS"]
REASONS = ["OK", "Ringing ", "", "Session Progress", "OK\t", "Très bien"]
TYPES = [
    "application/sdp",
    "application/SDP",
    "application/sdp; charset=x",
    "text/plain",
    "multipart/mixed;boundary=b",
    "",
    None,
]


@st.composite
def messages(draw: st.DrawFn) -> CapturedSip:
    call = draw(st.sampled_from(["a@x", "b@x", "c@x"]))
    number = draw(st.sampled_from([1, 2, 102]))
    method = draw(st.sampled_from(METHODS))
    cseq_method = draw(st.sampled_from([method, "INVITE", "ACK"]))
    if draw(st.booleans()):
        start = f"{method} sip:{draw(st.sampled_from(['bob', 'al']))}@h.example SIP/2.0"
    else:
        start = f"SIP/2.0 {draw(st.sampled_from([100, 180, 183, 200, 486]))} "
        start += draw(st.sampled_from(REASONS))
    from_tag = draw(st.sampled_from(["f1", "f2"]))
    to = "<sip:b@x>" + draw(st.sampled_from(["", ";tag=t1", ";tag=t2"]))
    lines = [
        start,
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
        f"From: <sip:a@x>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call}",
    ]
    if draw(st.integers(0, 9)):
        lines.append(f"CSeq: {number} {cseq_method}")
    body = draw(sdp_bodies())
    content_type = draw(st.sampled_from(TYPES))
    if body and content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    length = draw(
        st.sampled_from([len(body), len(body), max(len(body) - 5, 0), len(body) + 3])
        | st.integers(2**63 - 2, 2**70)  # past a C ssize_t: the rest of the bytes, as sliced
    )
    if draw(st.integers(0, 5)):
        lines.append(f"Content-Length: {length}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    frame = draw(st.integers(1, 1 << 40))
    return CapturedSip(
        frame, frame * 1000, "192.0.2.1", 5060, "192.0.2.2", 5062, "udp", SipMessage.parse(raw)
    )


def _state(announcer: MediaAnnouncer) -> tuple[Any, ...]:
    return (
        list(announcer._caller_tags.items()),
        announcer._offers_in_requests,
        announcer._response_offer_pending,
    )


def _same_roads(items: list[CapturedSip]) -> None:
    by_road, by_python = MediaAnnouncer(), MediaAnnouncer()
    for item in items:
        found = by_road.feed(item)
        expected = by_python._feed_py(item)
        assert found == expected
        assert [type(a) for a in found] == [type(a) for a in expected]
        assert _state(by_road) == _state(by_python)


@settings(max_examples=500, deadline=None)
@given(st.lists(messages(), max_size=12))
def test_feed_is_feed_py(items: list[CapturedSip]) -> None:
    # each message twice: the second time the texts the Python road cached are there
    _same_roads([item for item in items for _ in range(2)])


@pytest.mark.parametrize("path", sorted(DATA.glob("*.pcap"))[:40], ids=lambda p: p.name)
def test_feed_of_real_captures(path: Path) -> None:
    _same_roads(list(sip_messages(path)) * 2)


def test_the_c_feed_is_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert ROAD == "c"
    assert capture_module._c_feed is not None
    assert capture_module.ANNOUNCER_ROAD == "c"
    items = [m for m in sip_messages(DATA / "aaa.pcap") if m.message.sdp_body()]
    MediaAnnouncer()._feed_py(items[0])  # (the texts cached)
    assert capture_module._c_feed(items[0], {}, set(), set())


@pytest.mark.parametrize("pure", ["1", "0", None])
def test_rtcscope_pure_selects_the_python_road(pure: str | None) -> None:
    """ANNOUNCER_ROAD in a fresh interpreter (the road is chosen at import)."""
    out = fresh_python("import rtcscope.sip.capture as c; print(c.ANNOUNCER_ROAD)", pure)
    # (this process may run pure: what the child finds is the built module's; an older build
    # without the announcer gives the Python road, as capture.py takes it)
    sipscan = c_module("rtcscope.sip._sipscan")
    built = sipscan is not None and hasattr(sipscan, "announcer_batch")
    expected = "c" if built and pure != "1" else "python"
    assert out == expected


class _Item:
    """Not a CapturedSip: its fields are read by name (and so are its message's)."""

    def __init__(self, item: CapturedSip) -> None:
        for name in ("frame", "ts_ns", "src", "sport", "dst", "dport", "transport", "message"):
            setattr(self, name, getattr(item, name))


class _Message(SipMessage):
    """Not of the SipMessage class itself: the C road leaves it to the Python road."""

    __slots__ = ()


def test_feed_of_other_classes_and_missing_fields() -> None:
    items = [m for m in sip_messages(DATA / "aaa.pcap") if m.message.sdp_body()]
    _same_roads([_Item(item) for item in items] * 2)  # type: ignore[misc]
    for field in ("frame", "ts_ns", "src", "sport", "dst", "dport", "message"):
        # each field missing: both roads raise, and leave the same state (the Python road's
        # order: the state has changed before it reads the item's own fields)
        odd = _Item(items[0])
        delattr(odd, field)
        states = []
        for announcer in (MediaAnnouncer(), MediaAnnouncer()):
            feed = announcer.feed if not states else announcer._feed_py
            with pytest.raises(AttributeError):
                feed(odd)  # type: ignore[arg-type]
            states.append(_state(announcer))
        assert states[0] == states[1]
        assert states[0][0] or field == "message"  # (the INVITE's caller tag kept)
    other = _Item(items[0])
    other.message = _Message.parse(items[0].message.raw)
    assert type(other.message) is _Message
    _same_roads([other, other])  # type: ignore[list-item]


class _Clearing(_Item):
    """Its source address is read by a property that clears the CSeq and summary texts (and
    makes new objects where theirs were): what the C road read from them it must hold."""

    @property  # type: ignore[misc]
    def src(self) -> str:
        capture_module._CSEQS.clear()
        capture_module._TEXTS.clear()
        self.junk = [("x" * 6).upper() + str(n) for n in range(2000)]
        return self._src

    @src.setter
    def src(self, value: str) -> None:
        self._src = value


def test_feed_holds_the_texts_while_python_code_runs() -> None:
    items = [m for m in sip_messages(DATA / "aaa.pcap") if m.message.sdp_body()]
    for _ in range(50):
        MediaAnnouncer()._feed_py(items[0])  # the texts cached, then cleared by the read
        _same_roads([_Clearing(items[0])])  # type: ignore[list-item]
