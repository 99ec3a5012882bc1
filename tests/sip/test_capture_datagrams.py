"""SipCaptureFramer.datagrams (the scan's SIP rows, a batch's columns at a time) gives what
SipCaptureFramer.datagram gives for each datagram as a packet: the same messages (frames,
times, addresses, ports, bytes), keep-alives and counts, on generated and mutated payloads
(real messages of tests/data, keep-alives, SIP-looking pieces, random bytes)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.fastscan import UdpDatagrams
from rtcscope.sip.capture import SipCaptureFramer
from tests.rtp.test_heuristic import udp
from tests.sip.test_properties import SIPISH, real_messages

KEEPALIVES = st.sampled_from([b"\r\n", b"\r\n\r\n", b"\n", b"\r\n\x00\x00", b"\x00", b"\r"])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real message with a few bytes replaced, cut, or CR/LFs put before it."""
    data = bytearray(draw(st.sampled_from(real_messages())))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    return draw(st.sampled_from([b"", b"\r\n", b"\n\n"])) + bytes(data)


PAYLOADS = (
    st.sampled_from(real_messages()) | mutated() | KEEPALIVES | SIPISH | st.binary(max_size=80)
).filter(bool)  # the scan hands over non-empty payloads only


@settings(max_examples=300, deadline=None)
@given(st.lists(PAYLOADS, min_size=1, max_size=8), st.binary(max_size=5))
def test_datagrams_is_datagram_of_each(payloads: list[bytes], gap: bytes) -> None:
    buffer = bytearray(gap)
    starts: list[int] = []
    for payload in payloads:
        starts.append(len(buffer))
        buffer += payload + gap
    count = len(payloads)
    frames = [3 * i + 1 for i in range(count)]
    srcs = [f"10.0.0.{i % 2}" for i in range(count)]
    sports = [5060 + i % 3 for i in range(count)]
    columns = UdpDatagrams(
        list(range(count)),
        frames,
        [frame * 20_000_000 for frame in frames],
        srcs,
        sports,
        ["10.0.1.1"] * count,
        [5062] * count,
        starts,
        [start + len(p) for start, p in zip(starts, payloads, strict=True)],
    )
    by_columns, by_packets = SipCaptureFramer(), SipCaptureFramer()
    found = by_columns.datagrams(bytes(buffer), columns)
    expected = [
        by_packets.datagram(udp(frame, payload, sport, 5062, src, "10.0.1.1"))
        for frame, payload, src, sport in zip(frames, payloads, srcs, sports, strict=True)
    ]
    expected_found = [captured for captured in expected if captured is not None]
    assert found == expected_found
    for got, want in zip(found, expected_found, strict=True):
        assert bytes(got.message) == bytes(want.message)
        assert got.message.problems == want.message.problems
    assert by_columns.report == by_packets.report
