"""Compare what rtcscope reads from a capture with tshark's fields, frame by frame.

tshark runs with IP reassembly off, so that a first fragment shows the ports it carries and
later fragments none, as ``decode`` does before capture/defrag.py reassembles them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from rtcscope.capture.decode import TUNNEL_IP_PROTOCOLS, decode
from rtcscope.capture.packet import IpProto, Packet
from rtcscope.capture.reader import open_capture
from tests.peers import run, tshark_fields

FIELDS = (
    "frame.number",
    "frame.time_epoch",
    "frame.interface_id",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "vlan.id",
    "ieee8021ad.id",
    "frame.protocols",
    "rtp.version",
    "rtcp.version",
)
NO_REASSEMBLY = ("-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE")
HEURISTICS = ("--enable-heuristic", "rtp_udp", "--enable-heuristic", "rtcp_udp")


@functools.lru_cache(maxsize=64)
def tshark_rows(path: Path) -> list[list[str]]:
    """One tshark run per capture (reassembly off, RTP/RTCP heuristics on), shared by tests."""
    rows = tshark_fields(path, FIELDS, extra=(*NO_REASSEMBLY, *HEURISTICS))
    return [(row + [""] * len(FIELDS))[: len(FIELDS)] for row in rows]


def epoch_text(ts_ns: int) -> str:
    """An exact timestamp the way tshark prints ``frame.time_epoch`` (nine decimals)."""
    seconds, nanoseconds = divmod(ts_ns, 1_000_000_000)
    return f"{seconds}.{nanoseconds:09d}"


def read_packets(path: Path) -> tuple[list[Packet], list[int]]:
    with open_capture(path) as reader:
        decoded = [decode(record) for record in reader]
        return decoded, reader.linktypes


def _values(cell: str) -> list[str]:
    return [v for v in cell.split(",") if v] if cell else []


def compare_with_tshark(path: Path, interface_ids: bool = True) -> int:
    """Assert our timestamps, addresses, ports and VLAN ids equal tshark's for every frame.

    ``interface_ids=False`` for files of several pcapng sections: tshark 4.0 numbers
    interfaces within each section, rtcscope across the file.
    """
    ours, _ = read_packets(path)
    rows = tshark_rows(path)
    assert len(ours) == len(rows), f"{path.name}: {len(ours)} packets, tshark {len(rows)}"
    for packet, row in zip(ours, rows, strict=True):
        (
            number,
            epoch,
            interface,
            ip_src,
            ip_dst,
            ip6_src,
            ip6_dst,
            udp_sport,
            udp_dport,
            tcp_sport,
            tcp_dport,
            vlan,
            service_vlan,
            _protocols,
            _rtp_version,
            _rtcp_version,
        ) = row
        where = f"{path.name} frame {number}"
        assert packet.frame == int(number), where
        assert epoch_text(packet.ts_ns) == epoch, where
        if interface_ids:
            assert packet.interface == int(interface or 0), where
        tags = _values(service_vlan) + _values(vlan)  # an 802.1ad S-tag is the outer one
        assert packet.vlan == tuple(int(v) for v in tags), where
        v4_srcs, v4_dsts = _values(ip_src), _values(ip_dst)
        v6_srcs, v6_dsts = _values(ip6_src), _values(ip6_dst)
        if packet.ip_version == 0:
            assert not v4_srcs and not v6_srcs, f"{where}: tshark sees IP, we see none"
            continue
        sports = _values(udp_sport) + _values(tcp_sport)
        dports = _values(udp_dport) + _values(tcp_dport)
        if packet.tunnel:
            # The inner packet is one of the later IP layers tshark lists.
            assert packet.src in (v4_srcs + v6_srcs)[1:], where
            assert packet.dst in (v4_dsts + v6_dsts)[1:], where
            continue
        # tshark lists the outer header first (then a tunnel's or an ICMP quote's).
        srcs, dsts = (v4_srcs, v4_dsts) if packet.ip_version == 4 else (v6_srcs, v6_dsts)
        assert (packet.src, packet.dst) == (srcs[0], dsts[0]), (where, packet.src, srcs)
        if packet.icmp is not None:
            quoted = (v4_srcs + v6_srcs)[1:]
            assert packet.icmp.quoted_src in quoted, (where, packet.icmp, quoted)
            if packet.icmp.quoted_sport:
                assert (str(packet.icmp.quoted_sport), str(packet.icmp.quoted_dport)) == (
                    sports[0],
                    dports[0],
                ), where
            continue
        first_part = packet.fragment is None or packet.fragment.offset == 0
        if packet.ip_proto in TUNNEL_IP_PROTOCOLS:
            # No tunnel module decoded it: tshark's later layers are the inner packet's.
            continue
        if packet.ip_proto in (IpProto.UDP, IpProto.TCP) and not packet.malformed and first_part:
            assert (str(packet.sport), str(packet.dport)) == (sports[0], dports[0]), (
                where,
                packet.sport,
                packet.dport,
                sports,
                dports,
            )
        elif not first_part:
            assert not sports, (where, sports)
    return len(ours)


# capinfos names encapsulations by Wireshark's short names; the link types they stand for.
CAPINFOS_ENCAPSULATIONS: dict[str, frozenset[int]] = {
    "ether": frozenset({1}),
    "linux-sll": frozenset({113}),
    "linux-sll2": frozenset({276}),
    "rawip": frozenset({101, 12, 14}),
    "rawip4": frozenset({228}),
    "rawip6": frozenset({229}),
    "null": frozenset({0}),
    "loop": frozenset({108}),
}


def capinfos_count_and_interfaces(path: Path) -> tuple[int, list[str]]:
    """capinfos' packet count and each interface's encapsulation short name, in order."""
    out = run("capinfos", ["-M", path]).stdout
    count = int(re.search(r"^Number of packets:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    names = re.findall(r"Encapsulation = .*\(\d+ - ([\w-]+)\)", out)
    return count, names
