"""Test captures made from real ones with scapy, for reassembly and tunnel tests.

Each maker reads a real capture, rebuilds its packets the way a network would have carried
them (fragmented, re-segmented and reordered, or wrapped in a tunnel) and writes a pcap that
tshark then dissects independently of rtcscope. Seeds are fixed, so the files are the same on
every run.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from scapy.all import (  # type: ignore[attr-defined]
    GRE,
    IP,
    TCP,
    UDP,
    VXLAN,
    Ether,
    IPv6,
    IPv6ExtHdrFragment,
    Raw,
    fragment,
    fragment6,
    rdpcap,
    wrpcap,
)
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.mpls import MPLS

OUTER_MAC = {"src": "02:00:00:00:0b:01", "dst": "02:00:00:00:0b:02"}


def _stamp(packets: list[Any], start: float = 1_700_000_000.0) -> list[Any]:
    for i, p in enumerate(packets):
        p.time = start + i * 0.001
    return packets


def sip_udp_payloads(source: Path) -> list[tuple[str, str, int, int, bytes]]:
    """(src, dst, sport, dport, payload) of the SIP-over-UDP packets of a real capture."""
    found = []
    for p in rdpcap(str(source)):
        if IP in p and UDP in p and 5060 in (p[UDP].sport, p[UDP].dport):
            found.append((p[IP].src, p[IP].dst, p[UDP].sport, p[UDP].dport, bytes(p[UDP].payload)))
    return found


def make_fragmented_sip(source: Path, out: Path, version: int, seed: int = 3) -> int:
    """SIP datagrams cut into small fragments, shuffled, duplicated and overlapped."""
    rng = random.Random(seed)
    frames: list[Any] = []
    for n, (src, dst, sport, dport, payload) in enumerate(sip_udp_payloads(source)):
        if version == 4:
            whole = IP(src=src, dst=dst, id=0x4000 + n) / UDP(sport=sport, dport=dport) / payload
            pieces = list(fragment(whole, fragsize=120))
            transport = bytes(whole[UDP])
            # A fragment re-sent with other boundaries: the same bytes, overlapping two.
            start = 8 * rng.randrange(1, max(2, len(transport) // 8 - 20))
            stop = min(len(transport), start + 200)
            extra = IP(
                src=src,
                dst=dst,
                id=0x4000 + n,
                proto=17,
                frag=start // 8,
                flags="MF" if stop < len(transport) else 0,
            ) / Raw(transport[start:stop])
        else:
            src6, dst6 = f"fd00:11::{src.split('.')[-1]}", f"fd00:11::{dst.split('.')[-1]}"
            whole = (
                IPv6(src=src6, dst=dst6)
                / IPv6ExtHdrFragment(id=0x6000 + n)
                / UDP(sport=sport, dport=dport)
                / payload
            )
            pieces = list(fragment6(whole, 200))
            transport = bytes(whole[UDP])
            start = 8 * rng.randrange(1, max(2, len(transport) // 8 - 20))
            stop = min(len(transport), start + 160)
            extra = (
                IPv6(src=src6, dst=dst6)
                / IPv6ExtHdrFragment(
                    id=0x6000 + n, nh=17, offset=start // 8, m=1 if stop < len(transport) else 0
                )
                / Raw(transport[start:stop])
            )
        pieces.append(extra)
        pieces.append(rng.choice(pieces))  # a plain duplicate
        rng.shuffle(pieces)
        # The last fragment to arrive completes the datagram: keep a middle one last so the
        # completing frame is not always the tail.
        frames += [Ether(**OUTER_MAC) / p for p in pieces]
    wrpcap(str(out), _stamp(frames))
    return len(frames)


def make_resegmented_tcp(source: Path, out: Path, seed: int = 5) -> int:
    """Every TCP payload cut into 1-300 byte segments, reordered, duplicated, overlapped."""
    rng = random.Random(seed)
    frames: list[Any] = []
    for p in rdpcap(str(source)):
        if TCP not in p or not bytes(p[TCP].payload):
            frames.append(p)
            continue
        data = bytes(p[TCP].payload)
        seq = p[TCP].seq
        cuts = sorted({0, len(data), *(rng.randrange(1, len(data)) for _ in range(4))})
        segments = list(itertools.pairwise(cuts))
        # A retransmission covering the end of one segment and the start of the next.
        if len(segments) > 1:
            a = rng.randrange(0, segments[1][0])
            segments.append((a, min(len(data), segments[1][0] + 10)))
        segments.append(rng.choice(segments))
        rng.shuffle(segments)
        for a, b in segments:
            q = p.copy()
            q[TCP].remove_payload()
            q[TCP].seq = (seq + a) % (1 << 32)
            q = q / Raw(data[a:b])
            del q[IP].len, q[IP].chksum, q[TCP].chksum
            frames.append(q)
    wrpcap(str(out), _stamp(frames))
    return len(frames)


def _ethernet_frames(source: Path, count: int) -> list[Any]:
    return [p for p in rdpcap(str(source), count=count) if IP in p]


def make_tunnel(source: Path, out: Path, kind: str, count: int = 40) -> int:
    """The first ``count`` IPv4 frames of a real capture inside the tunnel ``kind``."""
    outer4 = IP(src="127.0.11.10", dst="127.0.11.20")
    frames: list[Any] = []
    for p in _ethernet_frames(source, count):
        inner_ip = p[IP]
        inner_eth = Ether(src=p[Ether].src, dst=p[Ether].dst) / inner_ip
        if kind == "gre":
            frames.append(Ether(**OUTER_MAC) / outer4 / GRE(proto=0x0800) / inner_ip)
        elif kind == "gre-key":
            frames.append(
                Ether(**OUTER_MAC) / outer4 / GRE(key_present=1, key=77, proto=0x0800) / inner_ip
            )
        elif kind == "gre-eth":
            frames.append(Ether(**OUTER_MAC) / outer4 / GRE(proto=0x6558) / inner_eth)
        elif kind == "erspan1":  # type I: no GRE sequence number, no ERSPAN header
            frames.append(Ether(**OUTER_MAC) / outer4 / GRE(proto=0x88BE) / inner_eth)
        elif kind == "erspan2":
            frames.append(
                Ether(**OUTER_MAC)
                / outer4
                / GRE(seqnum_present=1, sequence_number=len(frames), proto=0x88BE)
                / ERSPAN_II(session_id=7, vlan=0)
                / inner_eth
            )
        elif kind == "erspan3":
            frames.append(
                Ether(**OUTER_MAC)
                / outer4
                / GRE(seqnum_present=1, sequence_number=len(frames), proto=0x22EB)
                / ERSPAN_III(session_id=9, vlan=0, timestamp=len(frames))
                / inner_eth
            )
        elif kind == "vxlan":
            frames.append(
                Ether(**OUTER_MAC)
                / outer4
                / UDP(sport=50000, dport=4789)
                / VXLAN(vni=4242)
                / inner_eth
            )
        elif kind == "mpls":
            frames.append(
                Ether(**OUTER_MAC, type=0x8847)
                / MPLS(label=100, s=0, ttl=64)
                / MPLS(label=200, s=1, ttl=64)
                / inner_ip
            )
        elif kind == "gre-mpls":
            frames.append(
                Ether(**OUTER_MAC)
                / outer4
                / GRE(proto=0x8847)
                / MPLS(label=300, s=1, ttl=9)
                / inner_ip
            )
        elif kind == "ipip":
            frames.append(Ether(**OUTER_MAC) / outer4 / inner_ip)
        elif kind == "6in4":
            frames.append(
                Ether(**OUTER_MAC) / IP(src="127.0.11.10", dst="127.0.11.20") / _as_ipv6(inner_ip)
            )
        elif kind == "4in6":
            frames.append(
                Ether(**OUTER_MAC) / IPv6(src="fd00:11::10", dst="fd00:11::20", nh=4) / inner_ip
            )
        else:
            raise ValueError(kind)
    wrpcap(str(out), _stamp(frames))
    return len(frames)


def _as_ipv6(inner_ip: Any) -> Any:
    """The same UDP/TCP packet carried over IPv6 (addresses mapped into fd00:11::/64)."""
    transport = inner_ip.payload.copy()
    if UDP in transport:
        del transport[UDP].chksum, transport[UDP].len
    elif TCP in transport:
        del transport[TCP].chksum
    src = f"fd00:11::{inner_ip.src.split('.')[-1]}"
    dst = f"fd00:11::{inner_ip.dst.split('.')[-1]}"
    return IPv6(src=src, dst=dst, nh=inner_ip.proto) / transport
