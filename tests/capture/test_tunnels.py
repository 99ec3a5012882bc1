"""Tunnels: the inner packet and its outer path, compared with tshark's dissection.

The tunnel captures are made by tests/capture/made_captures.py: real packets of
tests/data/sip-rtp-opus.pcap wrapped by scapy in GRE, ERSPAN II/III, VXLAN, MPLS and IP-in-IP.
tshark dissects them on its own; our inner addresses, ports and payload bytes must equal its
innermost layer, and the tunnel path must carry the same span ids, VNIs, labels and keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.capture.decode import hand_to_tunnels
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.pipeline import packets
from tests.capture.made_captures import make_tunnel
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields

SOURCE = DATA / "sip-rtp-opus.pcap"
FIELDS = (
    "frame.number",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "udp.payload",
    "tcp.payload",
    "gre.key",
    "erspan.spanid",
    "vxlan.vni",
    "mpls.label",
)

# kind -> the path we must report, with the tshark field whose value goes in its {}.
EXPECTED_PATH = {
    "gre": ("ipv4 127.0.11.10>127.0.11.20", "gre"),
    "gre-key": ("ipv4 127.0.11.10>127.0.11.20", "gre key {gre.key}"),
    "gre-eth": ("ipv4 127.0.11.10>127.0.11.20", "gre"),
    "erspan1": ("ipv4 127.0.11.10>127.0.11.20", "gre", "erspan-1"),
    "erspan2": ("ipv4 127.0.11.10>127.0.11.20", "gre", "erspan-2 span {erspan.spanid}"),
    "erspan3": ("ipv4 127.0.11.10>127.0.11.20", "gre", "erspan-3 span {erspan.spanid}"),
    "vxlan": ("ipv4 127.0.11.10>127.0.11.20", "vxlan vni {vxlan.vni}"),
    "mpls": ("mpls {mpls.label}",),
    "gre-mpls": ("ipv4 127.0.11.10>127.0.11.20", "gre", "mpls {mpls.label}"),
    "ipip": ("ipv4 127.0.11.10>127.0.11.20", "4in4"),
    "6in4": ("ipv4 127.0.11.10>127.0.11.20", "6in4"),
    "4in6": ("ipv6 fd00:11::10>fd00:11::20", "4in6"),
}


def _last(cell: str) -> str:
    return cell.split(",")[-1] if cell else ""


@pytest.mark.peer
@pytest.mark.parametrize("kind", sorted(EXPECTED_PATH))
def test_inner_packets_equal_tsharks_innermost_layer(kind: str, tmp_path: Path) -> None:
    capture = tmp_path / f"tunnel-{kind}.pcap"
    count = make_tunnel(SOURCE, capture, kind)
    ours = list(packets(capture))
    rows = tshark_fields(capture, FIELDS)
    assert len(ours) == len(rows) == count
    for packet, row in zip(ours, rows, strict=True):
        cells = dict(zip(FIELDS, (row + [""] * len(FIELDS))[: len(FIELDS)], strict=True))
        where = f"{kind} frame {packet.frame}"
        assert packet.frame == int(cells["frame.number"])
        src = _last(cells["ipv6.src"]) if packet.ip_version == 6 else _last(cells["ip.src"])
        dst = _last(cells["ipv6.dst"]) if packet.ip_version == 6 else _last(cells["ip.dst"])
        assert (packet.src, packet.dst) == (src, dst), where
        proto = "udp" if packet.is_udp else "tcp"
        assert str(packet.sport) == _last(cells[f"{proto}.srcport"]), where
        assert str(packet.dport) == _last(cells[f"{proto}.dstport"]), where
        assert bytes(packet.payload).hex() == _last(cells[f"{proto}.payload"]), where
        expected = tuple(_fill(part, cells) for part in EXPECTED_PATH[kind])
        assert packet.tunnel == expected, where


def _fill(part: str, cells: dict[str, str]) -> str:
    """Put tshark's value in a path part: "mpls {mpls.label}" -> "mpls 100/200"."""
    if "{" not in part:
        return part
    head, field = part[:-1].split("{")
    values = [str(int(v, 0)) for v in cells[field].split(",")]  # gre.key prints as hex
    return head + "/".join(values)


@pytest.mark.peer
def test_sip_over_tcp_inside_ip_in_ip_comes_out_whole() -> None:
    capture = shared_capture("ipip.pcap")
    ours = {p.frame: p for p in packets(capture) if p.is_tcp}
    rows = tshark_fields(capture, ["frame.number", "tcp.payload", "ip.src", "ip.dst"])
    assert len(rows) == 4
    for frame, payload, ip_src, ip_dst in rows:
        packet = ours[int(frame)]
        assert bytes(packet.payload).hex() == payload
        srcs, dsts = ip_src.split(","), ip_dst.split(",")
        assert (packet.src, packet.dst) == (srcs[-1], dsts[-1])
        if len(srcs) > 1:  # tshark shows an outer header: we report it in the path
            assert packet.tunnel == (f"ipv4 {srcs[0]}>{dsts[0]}", "4in4")
        content_length = int(bytes(packet.payload).split(b"Content-Length:")[1].split(b"\r\n")[0])
        _headers, body = bytes(packet.payload).split(b"\r\n\r\n", 1)
        assert len(body) == content_length  # each message whole in its segment


def _bare(data: bytes) -> Packet:
    return Packet(1, 0, 0, 1, memoryview(data), len(data))


def test_unknown_or_broken_encapsulations_leave_the_outer_packet() -> None:
    from rtcscope.capture.decode import decode

    # IPv4/GRE with an unknown protocol type, then a GRE header cut short.
    outer = bytes.fromhex("4500002c00010000402f00007f000b0a7f000b14")
    for gre in (bytes.fromhex("0000abcd") + b"x" * 20, bytes.fromhex("2000")):
        data = b"\x02" * 12 + b"\x08\x00" + outer[:2] + (20 + len(gre)).to_bytes(2, "big")
        data += outer[4:] + gre
        packet = decode(Record(1, 0, 0, 1, memoryview(data), len(data)))
        assert packet.ip_version == 4 and packet.ip_proto == 47 and packet.tunnel == ()
        assert packet.src == "127.0.11.10"


def test_arbitrary_bytes_after_a_tunnel_header_never_crash() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    @given(
        st.sampled_from(
            [("ip", 4), ("ip", 41), ("ip", 47), ("ip", 137), ("udp", 4789), ("ethertype", 0x8847)]
        ),
        st.binary(max_size=120),
    )
    def check(where: tuple[str, int], body: bytes) -> None:
        packet = _bare(body)
        packet.ip_version, packet.src, packet.dst = 4, "127.0.11.1", "127.0.11.2"
        decoded = hand_to_tunnels(where[0], where[1], memoryview(body), 0, len(body), packet)
        if not decoded:
            assert packet.src == "127.0.11.1" and packet.tunnel == ()
        else:
            assert packet.ip_version in (4, 6) and packet.tunnel

    check()


def test_deeply_nested_tunnels_stop_at_the_layer_limit() -> None:
    from rtcscope.capture.decode import decode
    from rtcscope.capture.tunnels import MAX_TUNNEL_LAYERS

    inner = bytes.fromhex("4500001c000000004011000001020304050607080035003500080000")
    for _ in range(400):  # IPv4 in IPv4, 400 deep
        length = 20 + len(inner)
        inner = (
            bytes.fromhex("4500")
            + length.to_bytes(2, "big")
            + bytes.fromhex("000000004004000001020304 05060708".replace(" ", ""))
            + inner
        )
    frame = b"\x02" * 12 + b"\x08\x00" + inner
    packet = decode(Record(1, 0, 0, 1, memoryview(frame), len(frame)))
    assert len(packet.tunnel) == MAX_TUNNEL_LAYERS and "tunnel layers" in packet.malformed


@pytest.mark.peer
def test_fragments_outside_and_inside_a_tunnel_are_reassembled(tmp_path: Path) -> None:
    from scapy.all import GRE, IP, UDP, VXLAN, Ether, fragment, wrpcap  # type: ignore[attr-defined]

    from tests.capture.made_captures import sip_udp_payloads

    frames = []
    for n, (src, dst, sport, dport, payload) in enumerate(sip_udp_payloads(SOURCE)):
        inner = IP(src=src, dst=dst, id=0x100 + n) / UDP(sport=sport, dport=dport) / payload
        # The outer GRE packet fragmented (a tunnel over a smaller MTU)...
        outer = IP(src="127.0.11.10", dst="127.0.11.20", id=0x200 + n) / GRE() / inner
        frames += [Ether() / f for f in fragment(outer, fragsize=160)]
        # ... and the inner packet fragmented before it entered a VXLAN tunnel.
        for piece in fragment(inner, fragsize=160):
            frames.append(
                Ether()
                / IP(src="127.0.11.10", dst="127.0.11.20")
                / UDP(sport=40000, dport=4789)
                / VXLAN(vni=5)
                / Ether()
                / piece
            )
    for i, frame in enumerate(frames):
        frame.time = 1_700_000_000 + i / 1000
    capture = tmp_path / "tunnel-fragments.pcap"
    wrpcap(str(capture), frames)
    ours = {p.frame: (p.tunnel, bytes(p.payload)) for p in packets(capture) if p.is_udp}
    rows = tshark_fields(capture, ["frame.number", "udp.dstport", "udp.payload"])
    # A VXLAN frame whose inner fragment is held shows only the outer UDP (port 4789).
    theirs = {
        int(f): bytes.fromhex(_last(payload))
        for f, dport, payload in rows
        if payload and _last(dport) != "4789"
    }
    assert {f: data for f, (_, data) in ours.items()} == theirs
    paths = [path[1] for path, _ in ours.values()]
    assert paths.count("gre") == paths.count("vxlan vni 5") == 6
