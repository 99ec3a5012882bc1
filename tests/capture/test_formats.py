"""Formats and link types no shared capture has, made from the real ones and read by tshark.

Made with Wireshark's own tools where they can (editcap -F/-T/-C, text2pcap -l, mergecap)
and with tests/capture/convert.py where they cannot (big-endian pcap/pcapng, pcapng Simple
Packet Blocks, QinQ). For every file: our frames (timestamps, interfaces, VLAN ids,
addresses, ports) equal tshark's on the same file, and our link types and count equal
capinfos'.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from rtcscope.capture.decode import decode
from rtcscope.capture.reader import open_capture
from rtcscope.scan.files import capture_info
from tests.capture import convert
from tests.capture.tshark_compare import (
    CAPINFOS_ENCAPSULATIONS,
    capinfos_count_and_interfaces,
    compare_with_tshark,
    read_packets,
)
from tests.conftest import DATA, shared_capture
from tests.peers import run

pytestmark = pytest.mark.peer

OPUS = DATA / "sip-rtp-opus.pcap"  # Ethernet, IPv4/UDP, SIP + RTP


def _check(path: Path, linktypes: list[int], fmt: str | None = None) -> None:
    """tshark and capinfos read ``path`` as we do."""
    count, names = capinfos_count_and_interfaces(path)
    with open_capture(path) as reader:
        records = list(reader)
        ours = [i.linktype for i in reader.interfaces]
        if fmt is not None:
            assert reader.format == fmt
    assert len(records) == count
    assert ours == linktypes
    for linktype, name in zip(ours, names, strict=True):
        assert linktype in CAPINFOS_ENCAPSULATIONS[name], (linktype, name)
    assert compare_with_tshark(path) == count
    # The vectorized info path reads these link types and tags as decode() does.
    assert capture_info(path).as_dict() == capture_info(path, fast=False).as_dict()


def _ip_rows(path: Path) -> list[tuple[str, str, int, int]]:
    packets, _ = read_packets(path)
    return [(p.src, p.dst, p.sport, p.dport) for p in packets]


def test_nanosecond_pcap(tmp_path: Path) -> None:
    source = shared_capture("ndpi-meet-srtp-ipv6.pcapng")  # one interface has ns times
    out = tmp_path / "nsec.pcap"
    run("editcap", ["-F", "nsecpcap", source, out])
    assert struct.unpack_from("<I", out.read_bytes())[0] == 0xA1B23C4D
    _check(out, [1], "pcap-nsec")
    assert any(p.ts_ns % 1000 for p in read_packets(out)[0])


def test_pcapng_from_a_nanosecond_pcap_keeps_if_tsresol(tmp_path: Path) -> None:
    nsec = tmp_path / "nsec.pcap"
    run("editcap", ["-F", "nsecpcap", shared_capture("ndpi-meet-srtp-ipv6.pcapng"), nsec])
    out = tmp_path / "nsec.pcapng"
    run("editcap", ["-F", "pcapng", nsec, out])
    _check(out, [1], "pcapng")
    assert [p.ts_ns for p in read_packets(out)[0]] == [p.ts_ns for p in read_packets(nsec)[0]]


@pytest.mark.parametrize(
    ("encapsulation", "linktypes"), [("rawip", (101, 12, 14)), ("rawip4", (228,))]
)
def test_raw_ip_from_ethernet(tmp_path: Path, encapsulation: str, linktypes: tuple[int]) -> None:
    out = tmp_path / f"{encapsulation}.pcap"
    run("editcap", ["-C", "14", "-T", encapsulation, OPUS, out])
    with open_capture(out) as reader:
        list(reader)
        assert reader.linktypes[0] in linktypes
    _check(out, reader.linktypes)
    assert _ip_rows(out) == _ip_rows(OPUS)


def test_raw_ipv6(tmp_path: Path) -> None:
    source = shared_capture("heplify-sip_ipv6_udp.pcap")
    out = tmp_path / "rawip6.pcap"
    run("editcap", ["-C", "14", "-T", "rawip6", source, out])
    _check(out, [229])
    assert _ip_rows(out) == _ip_rows(source)


def _ip_datagrams(path: Path) -> list[tuple[int, bytes]]:
    """(IP version, datagram bytes) of an Ethernet capture without VLAN tags."""
    with open_capture(path) as reader:
        return [(r.data[14] >> 4, bytes(r.data[14:])) for r in reader]


@pytest.mark.parametrize(
    ("linktype", "name"), [(0, "null"), (108, "loop"), (276, "sll2"), (113, "sll")]
)
def test_link_headers_made_with_text2pcap(tmp_path: Path, linktype: int, name: str) -> None:
    """BSD null (host order family), OpenBSD loop (network order), Linux SLL2 and SLL."""
    datagrams = _ip_datagrams(OPUS) + _ip_datagrams(shared_capture("heplify-sip_ipv6_udp.pcap"))
    frames = []
    for version, datagram in datagrams:
        ethertype = 0x0800 if version == 4 else 0x86DD
        if linktype == 0:
            header = struct.pack("<I", 2 if version == 4 else 30)
        elif linktype == 108:
            header = struct.pack("!I", 2 if version == 4 else 24)
        elif linktype == 276:
            # protocol, reserved, ifindex, ARPHRD_ETHER, PACKET_HOST, address length, address
            header = struct.pack("!HHIHBB8s", ethertype, 0, 3, 1, 0, 6, bytes(range(1, 7)))
        else:
            header = struct.pack("!HHH8sH", 0, 1, 6, bytes(range(1, 7)) + b"\0\0", ethertype)
        frames.append(header + datagram)
    dump = tmp_path / f"{name}.txt"
    dump.write_text(convert.hexdump(frames))
    out = tmp_path / f"{name}.pcap"
    run("text2pcap", ["-q", "-l", str(linktype), dump, out])
    _check(out, [linktype])
    ours = _ip_rows(out)
    assert ours == _ip_rows(OPUS) + _ip_rows(shared_capture("heplify-sip_ipv6_udp.pcap"))


def test_several_interfaces_with_their_own_link_types(tmp_path: Path) -> None:
    out = tmp_path / "merged.pcapng"
    sll = shared_capture("ipv6frag.pcap")
    run("mergecap", ["-w", out, sll, OPUS, shared_capture("ndpi-rtp.pcapng")])
    with open_capture(out) as reader:
        records = list(reader)
        assert len(reader.interfaces) == 4
    assert {r.linktype for r in records} == {1, 113}
    _check(out, [i.linktype for i in reader.interfaces], "pcapng")


def test_big_endian_pcap(tmp_path: Path) -> None:
    out = tmp_path / "big.pcap"
    out.write_bytes(convert.swap_pcap(OPUS.read_bytes()))
    with open_capture(out) as reader:
        list(reader)
        assert reader.byte_order == "big"
    _check(out, [1], "pcap")
    assert _ip_rows(out) == _ip_rows(OPUS)


def test_big_endian_pcapng_with_several_interfaces(tmp_path: Path) -> None:
    source = tmp_path / "little.pcapng"
    run("mergecap", ["-w", source, shared_capture("ipv6frag.pcap"), OPUS])
    out = tmp_path / "big.pcapng"
    out.write_bytes(convert.swap_pcapng(source.read_bytes()))
    with open_capture(out) as reader:
        list(reader)
        assert reader.byte_order == "big"
    _check(out, [113, 1], "pcapng")
    assert _ip_rows(out) == _ip_rows(source)


def test_pcapng_simple_packet_blocks(tmp_path: Path) -> None:
    source = tmp_path / "epb.pcapng"
    run("editcap", ["-F", "pcapng", OPUS, source])
    out = tmp_path / "spb.pcapng"
    out.write_bytes(convert.epb_to_spb(source.read_bytes()))
    # An SPB has no timestamp: tshark prints none, we give 0.
    count, names = capinfos_count_and_interfaces(out)
    packets, linktypes = read_packets(out)
    assert len(packets) == count == 433 and linktypes == [1] and names == ["ether"]
    assert all(p.ts_ns == 0 for p in packets)
    assert _ip_rows(out) == _ip_rows(OPUS)
    rows = run("tshark", ["-n", "-r", out, "-T", "fields", "-e", "frame.time_epoch"]).stdout
    assert set(rows.split("\n")) == {""}


def test_qinq(tmp_path: Path) -> None:
    out = tmp_path / "qinq.pcap"
    out.write_bytes(convert.insert_qinq(OPUS.read_bytes(), 100, 200))
    _check(out, [1])
    packets, _ = read_packets(out)
    assert all(p.vlan == (100, 200) for p in packets)
    assert _ip_rows(out) == _ip_rows(OPUS)


def test_gzip_is_read_whatever_the_name(tmp_path: Path) -> None:
    for name in ("opus.pcap.gz", "opus.pcap"):
        out = tmp_path / name
        out.write_bytes(gzip.compress(OPUS.read_bytes()))
        with open_capture(out) as reader:
            packets = [decode(r) for r in reader]
            assert reader.compressed
        assert [(p.ts_ns, p.src, p.sport) for p in packets] == [
            (p.ts_ns, p.src, p.sport) for p in read_packets(OPUS)[0]
        ]
    with (tmp_path / "opus.pcap.gz").open("rb") as stream:
        assert len(list(open_capture(stream))) == 433


@pytest.mark.parametrize(
    ("tsoffset_s", "tsresol"),
    [(1000, None), (-5, 9), (None, 0x80 | 20), (3600, 3)],
    ids=["if_tsoffset", "nanoseconds+negative-offset", "2^-20-seconds", "milliseconds+offset"],
)
def test_pcapng_timestamp_resolution_and_offset(
    tmp_path: Path, tsoffset_s: int | None, tsresol: int | None
) -> None:
    """if_tsresol (decimal and binary) and if_tsoffset: our times equal tshark's exactly."""
    source = tmp_path / "plain.pcapng"
    run("editcap", ["-F", "pcapng", OPUS, source])
    out = tmp_path / "options.pcapng"
    out.write_bytes(convert.with_idb_options(source.read_bytes(), tsoffset_s, tsresol))
    _check(out, [1], "pcapng")
    if tsresol is None:
        # Same instants: the offset put back what the converter took out of the EPBs.
        assert [p.ts_ns for p in read_packets(out)[0]] == [p.ts_ns for p in read_packets(OPUS)[0]]


def test_two_sections_of_different_byte_orders(tmp_path: Path) -> None:
    """A new Section Header Block forgets the interfaces before it and may swap byte order."""
    first = tmp_path / "sll.pcapng"
    run("editcap", ["-F", "pcapng", shared_capture("ipv6frag.pcap"), first])
    second = tmp_path / "ether.pcapng"
    run("editcap", ["-F", "pcapng", OPUS, second])
    out = tmp_path / "sections.pcapng"
    out.write_bytes(first.read_bytes() + convert.swap_pcapng(second.read_bytes()))
    with open_capture(out) as reader:
        records = list(reader)
        assert reader.byte_order == "little"
    assert [r.interface for r in records] == [0] * 34 + [1] * 433
    assert [r.linktype for r in records] == [113] * 34 + [1] * 433
    # capinfos 4.0 lists the interfaces of each section (twice here) and counts every packet
    # on interface 0: only its packet count is compared.
    count, _names = capinfos_count_and_interfaces(out)
    assert len(records) == count
    assert compare_with_tshark(out, interface_ids=False) == count
    assert capture_info(out).as_dict() == capture_info(out, fast=False).as_dict()
