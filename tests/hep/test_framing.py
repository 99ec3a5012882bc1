"""HEP over TCP framing: frames back to back, split anywhere, garbage refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import HepError
from rtcscope.hep.codec import HepPacket, decode, encode
from rtcscope.hep.framing import CONNECTION_CLOSED, NEED_DATA, HepFramer


def _frames(n: int) -> list[bytes]:
    return [
        encode(HepPacket(proto_type=1, capture_id=i, payload=b"SIP/2.0 200 OK\r\n" * (i % 5)))
        for i in range(n)
    ]


def _drain(framer: HepFramer) -> list[bytes]:
    out = []
    while True:
        event = framer.next_event()
        if event is NEED_DATA or event is CONNECTION_CLOSED:
            return out
        assert isinstance(event, bytes)
        out.append(event)


def test_back_to_back_frames_in_one_read() -> None:
    frames = _frames(5)
    framer = HepFramer()
    framer.receive_data(b"".join(frames))
    assert _drain(framer) == frames
    framer.receive_data(b"")
    assert framer.next_event() is CONNECTION_CLOSED


@given(st.integers(1, 8), st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_any_split_gives_the_same_frames(n: int, cuts: list[int]) -> None:
    frames = _frames(n)
    stream = b"".join(frames)
    framer = HepFramer()
    got: list[bytes] = []
    pos = 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        framer.receive_data(stream[pos : pos + cut])
        pos += cut
        got += _drain(framer)
        if pos >= len(stream):
            break
    assert got == frames
    assert [decode(f).capture_id for f in got] == list(range(n))


def test_one_byte_at_a_time() -> None:
    frames = _frames(3)
    framer = HepFramer()
    got: list[bytes] = []
    for byte in b"".join(frames):
        framer.receive_data(bytes([byte]))
        got += _drain(framer)
    assert got == frames
    assert framer.pending == 0


def test_garbage_is_refused_with_its_offset() -> None:
    framer = HepFramer()
    framer.receive_data(_frames(1)[0] + b"GET / HTTP/1.1\r\n")
    assert isinstance(framer.next_event(), bytes)
    with pytest.raises(HepError, match="expected HEP3"):
        framer.next_event()


def test_close_mid_frame_is_an_error() -> None:
    framer = HepFramer()
    framer.receive_data(_frames(1)[0][:-2])
    assert framer.next_event() is NEED_DATA
    framer.receive_data(b"")
    with pytest.raises(HepError, match="middle of a frame"):
        framer.next_event()


def test_send_refuses_hepv2() -> None:
    with pytest.raises(HepError):
        HepFramer.send(HepPacket(version=2, src="1.1.1.1", dst="2.2.2.2"))
    assert HepFramer.send(HepPacket(capture_id=1))[:4] == b"HEP3"


@given(st.binary(max_size=200))
def test_any_bytes_give_frames_or_a_hep_error(data: bytes) -> None:
    framer = HepFramer()
    framer.receive_data(b"HEP3" + data)
    framer.receive_data(b"")
    try:
        _drain(framer)
    except HepError:
        return
