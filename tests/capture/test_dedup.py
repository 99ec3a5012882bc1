"""--dedup: the second copy of a packet captured twice is dropped and counted.

The doubled capture is made with real tools: tcprewrite adds a VLAN tag and lowers the TTL
(as a second capture point behind a router would see the packet), editcap shifts it by
50 µs, mergecap interleaves it with the original. What must come out is the original,
packet for packet; a SIP retransmission (same bytes, 500 ms later) must stay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.capture.dedup import Deduplicator
from rtcscope.capture.packet import IpProto, Packet
from rtcscope.capture.pipeline import PipelineReport, packets
from tests.conftest import DATA
from tests.peers import run, tshark_fields


def doubled(original: Path, tmp_path: Path) -> Path:
    rewritten, shifted, merged = (tmp_path / n for n in ("copy.pcap", "late.pcap", "dup.pcap"))
    run(
        "tcprewrite",
        [
            f"--infile={original}",
            f"--outfile={rewritten}",
            "--ttl=-1",
            "--enet-vlan=add",
            "--enet-vlan-tag=10",
            "--enet-vlan-cfi=0",
            "--enet-vlan-pri=0",
            "--fixcsum",
        ],
    )
    run("editcap", ["-t", "0.00005", rewritten, shifted])
    run("mergecap", ["-w", merged, original, shifted])
    return merged


def signature(p: Packet) -> tuple[str, str, int, int, bytes]:
    return (p.src, p.dst, p.sport, p.dport, bytes(p.payload))


@pytest.mark.peer
def test_a_capture_taken_twice_comes_out_once(tmp_path: Path) -> None:
    original = DATA / "sip-rtp-opus.pcap"
    merged = doubled(original, tmp_path)
    # tshark sees both copies: the VLAN id tells them apart.
    rows = tshark_fields(merged, ["vlan.id", "ip.ttl"])
    assert len(rows) == 2 * len(list(packets(original)))
    assert sum(1 for vlan, _ in rows if vlan == "10") == len(rows) // 2
    report = PipelineReport()
    kept = list(packets(merged, dedup=True, report=report))
    assert [signature(p) for p in kept] == [signature(p) for p in packets(original)]
    assert all(p.vlan == () for p in kept)  # the first copy (the original) is kept
    assert report.dedup.duplicates == len(kept) == report.packets
    assert report.records == 2 * len(kept)
    assert any("duplicate packets dropped" in line for line in report.summary())


def test_sip_retransmissions_are_not_duplicates() -> None:
    # aaa.pcap holds INVITEs resent unanswered (RFC 3261 17.1.1.2: T1 = 500 ms apart).
    capture = DATA / "aaa.pcap"
    payloads = [bytes(p.payload) for p in packets(capture) if p.is_udp]
    assert len(payloads) > len(set(payloads))  # same bytes more than once...
    report = PipelineReport()
    assert len(list(packets(capture, dedup=True, report=report))) == len(list(packets(capture)))
    assert report.dedup.duplicates == 0  # ...but never within the window


def _udp(ts_ns: int, payload: bytes, ttl: int = 64) -> Packet:
    return Packet(
        frame=1,
        ts_ns=ts_ns,
        interface=0,
        linktype=1,
        data=memoryview(b"link" + payload),
        orig_len=0,
        ip_version=4,
        src="127.0.11.1",
        dst="127.0.11.2",
        ip_proto=IpProto.UDP,
        sport=1,
        dport=2,
        payload=memoryview(payload),
        ttl=ttl,
    )


def test_window_in_capture_time_and_memory_held() -> None:
    d = Deduplicator(window_ns=1_000_000)
    assert not d.is_duplicate(_udp(0, b"a"))
    assert d.is_duplicate(_udp(999_999, b"a", ttl=63))  # TTL is not compared
    assert not d.is_duplicate(_udp(2_000_001, b"a"))  # past the window: a new packet
    assert not d.is_duplicate(_udp(2_000_002, b"b"))
    for n in range(10_000):  # a steady flow: only one window's worth is remembered
        d.is_duplicate(_udp(3_000_000 + n * 20_000, n.to_bytes(4, "big")))
    assert d.held <= 51
    assert d.stats.duplicates == 1 and d.stats.packets == 10_004


def test_copies_out_of_time_order_are_caught_too() -> None:
    d = Deduplicator(window_ns=1_000_000)
    assert not d.is_duplicate(_udp(5_000_000, b"x"))
    assert d.is_duplicate(_udp(4_500_000, b"x"))  # merged captures are not always sorted
