"""MediaAnnouncer.feed_batch (on the C road, _sipscan.announcer_batch, when built) gives what its
specification MediaAnnouncer._feed_batch_py gives (which is feed of each message in turn): the
announcements, the items that announced something and each one's own list by frame, and the
announcer's state after, batch after batch: on generated messages (tests/sip/
test_announcer_feed_c.py's) and on every real capture; built and used by the scan under CI=true;
RTCSCOPE_PURE=1 selects the Python road."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.sip.capture as capture_module
from rtcscope.scan.files import sip_messages
from rtcscope.scan.onepass import scan
from rtcscope.scan.options import ScanOptions, Tap
from rtcscope.sip.capture import CapturedSip, MediaAnnouncement, MediaAnnouncer
from rtcscope.sip.message import ROAD
from tests.conftest import DATA, IN_CI, shared_captures
from tests.peers import fresh_python
from tests.sip.test_announcer_feed_c import _Item, _state, messages


def _same_roads(batches: list[list[CapturedSip]]) -> None:
    by_road, by_python, one_by_one = MediaAnnouncer(), MediaAnnouncer(), MediaAnnouncer()
    for n, items in enumerate(batches):
        ahead: dict[int, list[MediaAnnouncement]] | None = {} if n % 2 else None
        expected_ahead: dict[int, list[MediaAnnouncement]] | None = {} if n % 2 else None
        found, announcing = by_road.feed_batch(items, ahead)
        expected, expected_announcing = by_python._feed_batch_py(items, expected_ahead)
        assert found == expected
        assert [type(a) for a in found] == [type(a) for a in expected]
        assert [id(item) for item in announcing] == [id(item) for item in expected_announcing]
        assert ahead == expected_ahead
        assert _state(by_road) == _state(by_python)
        fed = [a for item in items for a in one_by_one.feed(item)]
        assert fed == found
        assert _state(one_by_one) == _state(by_road)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(messages(), max_size=8), max_size=5))
def test_feed_batch_is_feed_batch_py(batches: list[list[CapturedSip]]) -> None:
    # each batch twice: the second time the texts the Python road cached are there
    _same_roads([batch for batch in batches for _ in range(2)])


REAL = sorted(DATA.glob("*.pcap*")) + shared_captures()


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_feed_batch_of_real_captures(path: Path) -> None:
    try:
        items = list(sip_messages(path))
    except Exception as exc:  # an unreadable capture: what the scan makes of it is tested elsewhere
        pytest.skip(f"not read: {exc}")
    # batches of varied sizes, the whole capture twice (the texts cached the second time)
    cuts = [0, 1, 2, 5, 17, 64, 300]
    batches = [items[a:b] for a, b in zip(cuts, [*cuts[1:], len(items)], strict=True)]
    _same_roads([*batches, items])


def test_feed_batch_of_other_classes_and_faults() -> None:
    items = [m for m in sip_messages(DATA / "aaa.pcap") if m.message.sdp_body()]
    _same_roads([[_Item(item) for item in items]] * 2)  # type: ignore[misc]
    odd = _Item(items[0])
    del odd.message
    for road in (MediaAnnouncer().feed_batch, MediaAnnouncer()._feed_batch_py):
        with pytest.raises(AttributeError):
            road([odd], None)  # type: ignore[list-item]


@pytest.mark.skipif(capture_module._c_batch is None, reason="the C road is not built")
def test_announcer_batch_checks_its_arguments() -> None:
    batch: Any = capture_module._c_batch
    items = [m for m in sip_messages(DATA / "aaa.pcap") if m.message.sdp_body()]
    with pytest.raises(TypeError):
        batch(tuple(items), {}, set(), set(), MediaAnnouncer()._feed_py, None)
    with pytest.raises(TypeError):
        batch(items, {}, set(), set(), MediaAnnouncer()._feed_py, [])
    with pytest.raises(TypeError):
        batch(items, {}, [], set(), MediaAnnouncer()._feed_py, None)
    # what feed_py gives must be a list (the C road leaves it every item it does not read)
    original = capture_module._CSEQS.copy()
    capture_module._CSEQS.clear()  # no CSeq text cached: every SDP item is left to feed_py
    try:
        with pytest.raises(TypeError):
            batch(items, {}, set(), set(), lambda item: None, None)
        with pytest.raises(ZeroDivisionError):
            batch(items, {}, set(), set(), lambda item: 1 / 0, None)
    finally:
        capture_module._CSEQS.update(original)


def test_the_c_batch_is_built_and_used_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert ROAD == "c"
    c_batch = capture_module._c_batch
    assert c_batch is not None
    calls: list[int] = []

    def counted(items: list[CapturedSip], *args: Any) -> Any:
        calls.append(len(items))
        return c_batch(items, *args)

    monkeypatch.setattr(capture_module, "_c_batch", counted)
    model = scan(DATA / "SIP_DTMF2.pcap", ScanOptions(taps=frozenset({Tap.SIP, Tap.RTP})))
    assert calls and model.announcements


def _udp_frame(payload: bytes, sport: int, dport: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, b"\n\0\0\1", b"\n\0\0\2"
    )
    return b"\0" * 6 + b"\1" * 6 + b"\x08\x00" + ip + udp


def test_scan_with_a_content_length_past_2_63(tmp_path: Path) -> None:
    # Content-Length 10**20: the rest of the datagram is the body on both roads (the C road
    # raised OverflowError and the scan stopped), so the INVITE's SDP names the stream
    sdp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    sdp += b"m=audio 4000 RTP/AVP 0\r\n"
    invite = (
        b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
        b"From: <sip:a@x>;tag=f\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: 100000000000000000000\r\n\r\n"
    )
    rtp = [struct.pack("!BBHII", 0x80, 0, n, n * 160, 0x1234) + b"\xff" * 160 for n in range(20)]
    frames = [_udp_frame(invite + sdp, 5060, 5060)] + [_udp_frame(p, 4000, 4002) for p in rtp]
    path = tmp_path / "big-content-length.pcap"
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, frame in enumerate(frames):
            out.write(struct.pack("<IIII", 1000 + n, 0, len(frame), len(frame)) + frame)
    probe = (
        "from rtcscope.scan.onepass import scan\n"
        "from rtcscope.scan.options import ScanOptions, Tap\n"
        f"m = scan({str(path)!r}, ScanOptions(taps=frozenset({{Tap.SIP, Tap.RTP}})))\n"
        "print(repr(m.announcements), repr(m.streams))"
    )
    found, pure = fresh_python(probe, None), fresh_python(probe, "1")
    assert found == pure
    assert "side='offer'" in found and "source='sdp'" in found
