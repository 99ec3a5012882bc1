"""The counts tap's SIP test: the one-match road for the usual start line gives what the
whole test gives, on lines near the usual shape and on arbitrary bytes; matched in place on
a batch's buffer (count_sip) and with HEP's magic and status lines read from the columns,
the counts tap classes payloads as classify_udp_payload classes the decoded packets."""

from __future__ import annotations

import io
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.decode import decode
from rtcscope.capture.fastscan import BatchRows, count_batch
from rtcscope.capture.info import (
    UDP_CLASSES,
    PacketCounts,
    _start_line_is_sip,
    classify_udp_payload,
    count_sip,
    looks_like_sip,
)
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter

_pieces = st.sampled_from(
    [
        b"INVITE",
        b"ACK",
        b"invite",
        b"SIP/2.0",
        b"SIP/2.0 ",
        b"SIP/2.1",
        b" ",
        b"  ",
        b"\r\n",
        b"\r",
        b"\n",
        b"sip:a@b",
        b"200",
        b"20",
        b"OK",
        b"x" * 300,
        b"\t",
        b"\x00",
        b"\xff",
        b"1",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_pieces, max_size=12), st.binary(max_size=8))
def test_the_usual_road_agrees_with_the_whole_test(parts: list[bytes], tail: bytes) -> None:
    data = b"".join(parts) + tail
    assert looks_like_sip(data) is _start_line_is_sip(data)
    assert looks_like_sip(memoryview(data)) is _start_line_is_sip(data)


@given(st.binary(max_size=64))
def test_arbitrary_bytes(data: bytes) -> None:
    assert looks_like_sip(data) is _start_line_is_sip(data)


def test_the_window_edge() -> None:
    """The line must end within the first 1,024 bytes, by both roads."""
    for size in range(1000, 1030):
        line = b"OPTIONS sip:" + b"a" * (size - len(b"OPTIONS sip: SIP/2.0")) + b" SIP/2.0"
        data = line + b"\r\nVia: x\r\n\r\n"
        assert (
            looks_like_sip(data)
            is _start_line_is_sip(data)
            is (len(line) + 2 <= 1024 or len(line) == 1024)
        )


_request_lines = st.tuples(
    st.sampled_from([b"INVITE", b"invite", b"Invite", b"ACK", b"", b"IN VITE", b"SIP/2.0", b"B1"]),
    st.sampled_from([b" ", b"  ", b"", b"\t"]),
    st.sampled_from([b"sip:a@b", b"", b"a b", b"x\r", b"x\ny", b"\r\n"]),
    st.sampled_from([b" ", b"  ", b""]),
    st.sampled_from([b"SIP/2.0", b"SIP/2.1", b"sip/2.0", b"SIP/2.0 ", b"SIP/2.00"]),
    st.sampled_from([b"\r\n", b"\n", b"\r", b"", b" \r\n"]),
    st.binary(max_size=4),
)
_status_lines = st.tuples(
    st.sampled_from([b"SIP/2.0 ", b"SIP/2.0", b"SIP/2.0  ", b"sip/2.0 "]),
    st.sampled_from([b"200", b"20", b"2x0", b"1234", b"", b"20\r\n"]),
    st.sampled_from([b" OK\r\n", b"\r\n", b"", b"\n"]),
)


@settings(max_examples=1500, deadline=None)
@given(_request_lines | _status_lines)
def test_start_lines_near_the_usual_shape(parts: tuple[bytes, ...]) -> None:
    data = b"".join(parts)
    assert looks_like_sip(data) is _start_line_is_sip(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.lists(_pieces, max_size=8), st.binary(max_size=6)), max_size=8))
def test_count_sip_matches_each_payload_in_place(payloads: list[tuple[list[bytes], bytes]]) -> None:
    """count_sip reads each payload where it lies in a buffer with bytes around it: the
    bytes after a payload's end (a line's CRLF, say) must not make it SIP."""
    buffer = bytearray(b"\r\n")
    spans = []
    for parts, tail in payloads:
        data = b"".join(parts) + tail
        spans.append((len(buffer), len(buffer) + len(data)))
        buffer += data + b" SIP/2.0\r\n"
    expected = sum(looks_like_sip(bytes(buffer[a:b])) for a, b in spans)
    assert count_sip(memoryview(bytes(buffer)), spans) == expected


_letter_payloads = st.one_of(
    st.sampled_from([b"HEP3", b"EEP3", b"HEP2", b"EEP", b"HE", b"H", b"HEP3\x00\x10"]),
    st.lists(_pieces, max_size=6).map(b"".join),
    st.binary(max_size=8).map(lambda tail: b"E" + tail),
    # Status lines and near misses: the counts tap decides "SIP/2.0 NNN" on byte columns.
    _status_lines.map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_letter_payloads, st.integers(0, 3)), min_size=1, max_size=10))
def test_the_counts_tap_classes_letter_payloads_as_decode_does(
    payloads: list[tuple[bytes, int]],
) -> None:
    """HEP's magic from the columns and SIP by count_sip give classify_udp_payload's
    classes of the decoded packets (UDP lengths that cut the payload short included)."""
    sink = io.BytesIO()
    packets = []
    with PcapWriter(sink, nanosecond=True) as writer:
        for index, (payload, short) in enumerate(payloads):
            udp_length = max(8, 8 + len(payload) - short)
            frame = (
                bytes(12)
                + b"\x08\x00"
                + struct.pack(
                    "!BBHHHBBH4s4s",
                    0x45,
                    0,
                    28 + len(payload),
                    0,
                    0,
                    64,
                    17,
                    0,
                    b"\n\0\0\1",
                    b"\n\0\0\2",
                )
                + struct.pack("!HHHH", 5060, 5060, udp_length, 0)
                + payload
                + b"\r\n" * index  # Ethernet padding after the datagram
            )
            writer.write(frame, 1_700_000_000_000_000_000 + index)
            packets.append(decode(Record(index + 1, 0, 0, 1, memoryview(frame), len(frame))))
    expected = dict.fromkeys(UDP_CLASSES, 0)
    for packet in packets:
        kind = classify_udp_payload(packet.payload, packet.sport, packet.dport)
        if kind:
            expected[kind] += 1
    sink.seek(0)
    counts = PacketCounts()
    with open_capture(sink) as reader:
        for batch in reader.batches():
            rows = BatchRows(batch)
            for packet in _decoded(rows, count_batch(rows, counts)):
                kind = classify_udp_payload(packet.payload, packet.sport, packet.dport)
                if kind:
                    counts.udp_classes[kind] += 1
    assert counts.udp_classes == expected


def _decoded(rows: BatchRows, left: list[int]) -> list[Packet]:
    return [decode(record) for record in rows.records(left)]
