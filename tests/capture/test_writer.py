"""PcapWriter: a record-by-record copy is the same file; re-framing keeps what tshark sees."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rtcscope.capture.decode import decode
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.errors import OutputError
from tests.capture import convert
from tests.capture.test_shared_captures import CAPTURES
from tests.capture.tshark_compare import compare_with_tshark, read_packets, tshark_rows
from tests.conftest import DATA, shared_capture

PCAPS = [p for p in CAPTURES if p.suffix == ".pcap"]


def _copy(source: Path, target: Path) -> None:
    with open_capture(source) as reader:
        records = iter(reader)
        first = next(records)
        assert reader.pcap_header is not None
        with PcapWriter(target, header=reader.pcap_header) as writer:
            writer.write_record(first)
            for record in records:
                writer.write_record(record)


@pytest.mark.parametrize("path", PCAPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_copy_is_byte_identical(tmp_path: Path, path: Path) -> None:
    copy = tmp_path / "copy.pcap"
    _copy(path, copy)
    assert copy.read_bytes() == path.read_bytes()


def test_big_endian_and_nanosecond_copies_are_byte_identical(tmp_path: Path) -> None:
    big = tmp_path / "big.pcap"
    big.write_bytes(convert.swap_pcap((DATA / "aaa.pcap").read_bytes()))
    _copy(big, tmp_path / "copy.pcap")
    assert (tmp_path / "copy.pcap").read_bytes() == big.read_bytes()


@pytest.mark.peer
def test_tshark_reads_a_copy_as_the_original(tmp_path: Path) -> None:
    source = shared_capture("heplify-sip_ipv6_udp.pcap")  # times past 2038: ts_sec unsigned
    copy = tmp_path / "copy.pcap"
    _copy(source, copy)
    assert tshark_rows(copy) == tshark_rows(source)


@pytest.mark.peer
def test_pcapng_to_pcap_keeps_nanoseconds_and_fields(tmp_path: Path) -> None:
    source = shared_capture("ndpi-meet-srtp-ipv6.pcapng")
    out = tmp_path / "meet.pcap"
    with PcapWriter(out, nanosecond=True) as writer, open_capture(source) as reader:
        for record in reader:
            writer.write_record(record)
    assert [(p.ts_ns, p.src, p.sport) for p in read_packets(out)[0]] == [
        (p.ts_ns, p.src, p.sport) for p in read_packets(source)[0]
    ]
    compare_with_tshark(out)


@pytest.mark.peer
def test_linux_cooked_packets_reframed_as_ethernet_for_sipp(tmp_path: Path) -> None:
    source = shared_capture("ndpi-rtcp-compound.pcap")  # SLL v1
    out = tmp_path / "ether.pcap"
    with PcapWriter(out) as writer, open_capture(source) as reader:
        for record in reader:
            writer.write_packet(decode(record))
    assert read_packets(out)[1] == [1]
    compare_with_tshark(out)
    ours = [(p.src, p.dst, p.sport, p.dport, bytes(p.payload)) for p in read_packets(out)[0]]
    theirs = [(p.src, p.dst, p.sport, p.dport, bytes(p.payload)) for p in read_packets(source)[0]]
    assert ours == theirs


def test_writer_refuses_what_pcap_cannot_hold() -> None:
    with PcapWriter(io.BytesIO()) as writer:
        with pytest.raises(OutputError):
            writer.write(b"x", -1)
        with pytest.raises(OutputError):
            writer.write(b"x", (1 << 32) * 1_000_000_000)
        writer.write(b"abc", 1_500_000_123_456_789)
        assert writer.records == 1
