"""BatchRows.packets: a batch's rows decoded from its columns are decode()'s packets.

decode() (itself checked against tshark in test_decode.py and test_shared_captures.py) is the
reference: the column road must give the same Packet, field by field, on every capture and on
frames near the common shape (one field changed at a time, lengths free, frames cut short).
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.decode import TUNNEL_UDP_PORTS, decode
from rtcscope.capture.fastscan import BatchRows
from rtcscope.capture.packet import LinkType
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from tests.capture.plain_frames import (
    counting,
    every_capture,
    is_plain_udp,
    plain_udp_frame,
    reshaped,
)

# Ethernet, IPv4 (20-byte header), UDP 5060 -> 5062, a SIP request line three times.
_PAYLOAD = b"OPTIONS sip:x SIP/2.0\r\n" * 3
_PLAIN = plain_udp_frame(_PAYLOAD, bytes([10, 1, 0, 1]), bytes([10, 2, 0, 1]), 5060, 5062)

_OTHER_VALUES = {  # (byte offset, struct format): values that leave the common shape
    (12, "!H"): [0x86DD, 0x8100, 0x0806, 0x8847],  # ethertype
    (14, "!B"): [0x46, 0x44, 0x55, 0x4F],  # version/IHL
    (20, "!H"): [0x2000, 0x0001, 0x6000, 0x4000, 0x0000],  # flags and fragment offset
    (23, "!B"): [6, 1, 4, 132, 47],  # protocol
    (36, "!H"): [4789, 4788, 0],  # UDP destination port (VXLAN)
    (26, "!I"): [0, 0xFFFFFFFF, 0x7F000001],  # source address
}


def _decoded_by_records(rows: BatchRows, wanted: list[int]) -> list[object]:
    return [decode(record) for record in rows.records(wanted, ready=False)]


_SIP_FIRST = frozenset(b"\r\nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _check_sip_datagrams(rows: BatchRows, wanted: list[int]) -> int:
    """BatchRows.sip_datagrams(wanted) against decode(): exactly the rows decode() reads as
    plain UDP (the column road's shape) whose payload starts with a SIP first byte, with
    decode()'s frame, time, addresses, ports and payload. Returns how many it took."""
    packets = _decoded_by_records(rows, wanted)
    expected = [
        (row, p)
        for row, p in zip(wanted, packets, strict=True)
        if is_plain_udp(p)  # type: ignore[arg-type]
        and p.dport not in TUNNEL_UDP_PORTS  # type: ignore[attr-defined]
        and p.payload[:1]  # type: ignore[attr-defined]
        and p.payload[0] in _SIP_FIRST  # type: ignore[attr-defined]
    ]
    # Rows left out must be ones the column road of BatchRows.packets leaves to decode() too
    # (a frame whose window would run past the buffer's end, an IPv4 total length of 0...).
    record_road, counted = counting(decode)
    rows.packets(wanted, counted)
    found = rows.sip_datagrams(wanted)
    if found is None:
        assert all(rows.frames[row] in record_road for row, _ in expected)
        return 0
    by_row = dict(expected)
    buffer = rows.batch.buffer
    for row, frame, ts_ns, src, sport, dst, dport, start, stop in zip(*found, strict=True):
        packet = by_row.pop(row)
        assert (frame, ts_ns, src, sport, dst, dport) == (
            packet.frame,  # type: ignore[attr-defined]
            packet.ts_ns,  # type: ignore[attr-defined]
            packet.src,  # type: ignore[attr-defined]
            packet.sport,  # type: ignore[attr-defined]
            packet.dst,  # type: ignore[attr-defined]
            packet.dport,  # type: ignore[attr-defined]
        )
        assert buffer[start:stop] == bytes(packet.payload)  # type: ignore[attr-defined]
    assert found.rows == sorted(found.rows, key=wanted.index)  # in the order given
    assert all(rows.frames[row] in record_road for row in by_row)
    return len(found.rows)


def _batches(source: Path | io.BytesIO) -> list[BatchRows]:
    with open_capture(source) as reader:
        return [BatchRows(batch) for batch in reader.batches()]


def test_every_capture_column_road_taken_for_plain_frames() -> None:
    record_road, counted = counting(decode)
    by_columns = 0
    for path in every_capture():
        for rows in _batches(path):
            wanted = list(range(rows.count))
            before = len(record_road)
            made = rows.packets(wanted, counted)
            assert made == _decoded_by_records(rows, wanted), path.name
            plain = [p for p in made if is_plain_udp(p) and p.dport != 4789]
            # Every plain frame took the column road (a frame near the buffer's end may not).
            assert len(record_road) - before <= len(made) - len(plain) + 1, path.name
            by_columns += len(made) - (len(record_road) - before)
            # Any subset of rows, in the order given.
            odd = wanted[1::3][::-1]
            assert rows.packets(odd) == _decoded_by_records(rows, odd), path.name
    assert by_columns > 5000


def test_every_capture_sip_datagrams_are_decodes_sip_rows() -> None:
    taken = 0
    for path in every_capture():
        for rows in _batches(path):
            wanted = list(range(rows.count))
            taken += _check_sip_datagrams(rows, wanted)
            _check_sip_datagrams(rows, wanted[1::3])
    assert taken > 300  # the SIP of tests/data's calls


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(),
                st.sampled_from(sorted(_OTHER_VALUES)).flatmap(
                    lambda field: st.tuples(st.just(field), st.sampled_from(_OTHER_VALUES[field]))
                ),
            ),
            st.one_of(
                st.just(len(_PLAIN) - 14), st.integers(0, 120), st.sampled_from([0, 20, 27, 28])
            ),
            st.one_of(
                st.just(len(_PLAIN) - 34), st.integers(0, 120), st.sampled_from([0, 7, 8, 9])
            ),
            st.one_of(st.just(0), st.integers(0, len(_PLAIN))),
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([LinkType.ETHERNET, LinkType.RAW]),
    st.data(),
)
def test_frames_near_the_common_shape(
    frames: list[tuple[tuple[tuple[int, str], int] | None, int, int, int]],
    linktype: int,
    data: st.DataObject,
) -> None:
    sink = io.BytesIO()
    with PcapWriter(sink, linktype, nanosecond=True) as writer:
        for index, (change, total_length, udp_length, cut) in enumerate(frames):
            frame = reshaped(_PLAIN, change, total_length, udp_length, cut)
            writer.write(frame, 1_700_000_000_000_000_000 + index)
    sink.seek(0)
    for rows in _batches(sink):
        wanted = sorted(
            data.draw(st.sets(st.integers(0, rows.count - 1), max_size=rows.count), "rows")
        )
        assert rows.packets(wanted) == _decoded_by_records(rows, wanted)
        _check_sip_datagrams(rows, wanted)
