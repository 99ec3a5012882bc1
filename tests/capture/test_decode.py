"""decode() on packets no shared capture has, made with scapy and read back by tshark.

IPv4 options, IPv6 hop-by-hop / routing / destination options / AH headers, IPv6 and IPv4
fragments, ICMP and ICMPv6 errors quoting SIP datagrams, an unknown link type, and
malformed headers (decode stops at the last good layer and says why).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.decode import decode, decode_by_layers
from rtcscope.capture.packet import IpProto, Record
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.scan.files import capture_info
from tests.capture.plain_frames import counting, every_capture, is_plain_udp, reshaped
from tests.capture.tshark_compare import compare_with_tshark, read_packets
from tests.conftest import DATA
from tests.peers import run

scapy = pytest.importorskip("scapy.all")
Ether, IP, IPv6, UDP, TCP, ICMP = (
    scapy.Ether,
    scapy.IP,
    scapy.IPv6,
    scapy.UDP,
    scapy.TCP,
    scapy.ICMP,
)
IPOption_RR = scapy.IPOption_RR
ICMPv6DestUnreach = scapy.ICMPv6DestUnreach
ICMPv6TimeExceeded = scapy.ICMPv6TimeExceeded
IPv6ExtHdrHopByHop = scapy.IPv6ExtHdrHopByHop
IPv6ExtHdrRouting = scapy.IPv6ExtHdrRouting
IPv6ExtHdrDestOpt = scapy.IPv6ExtHdrDestOpt
IPv6ExtHdrFragment = scapy.IPv6ExtHdrFragment
fragment6 = scapy.fragment6
fragment = scapy.fragment

SIP = b"OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060\r\n\r\n"
V6A, V6B, V6C = "2001:db8::1", "2001:db8::2", "2001:db8:ff::7"


def _frames() -> list[bytes]:
    mac = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    sip4 = IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5060, dport=5080) / SIP
    sip6 = IPv6(src=V6A, dst=V6B) / UDP(sport=5060, dport=5080) / SIP
    frames = [
        mac
        / IP(src="192.0.2.1", dst="192.0.2.2", options=[IPOption_RR()])
        / UDP(sport=5060, dport=5062)
        / SIP,
        mac
        / IPv6(src=V6A, dst=V6B)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=[V6C])
        / IPv6ExtHdrDestOpt()
        / UDP(sport=5070, dport=5072)
        / SIP,
        mac
        / IPv6(src=V6A, dst=V6B)
        / IPv6ExtHdrHopByHop()
        / TCP(sport=5061, dport=5063, seq=1000, flags="PA")
        / SIP,
        mac / IP(src="198.51.100.9", dst="192.0.2.1") / ICMP(type=3, code=3) / sip4,
        mac / IP(src="198.51.100.9", dst="192.0.2.1") / ICMP(type=11, code=0) / sip4,
        mac / IPv6(src=V6C, dst=V6A) / ICMPv6DestUnreach(code=4) / sip6,
        mac
        / IPv6(src=V6C, dst=V6A)
        / ICMPv6TimeExceeded(code=0)
        / (IPv6(src=V6A, dst=V6B) / IPv6ExtHdrDestOpt() / UDP(sport=5060, dport=5090) / SIP),
    ]
    frames += [
        mac / f
        for f in fragment6(
            IPv6(src=V6A, dst=V6B)
            / IPv6ExtHdrFragment(id=77)
            / UDP(sport=5060, dport=5064)
            / (SIP * 30),
            600,
        )
    ]
    frames += [
        mac / f
        for f in fragment(
            IP(src="192.0.2.1", dst="192.0.2.2", id=99) / UDP(sport=5060, dport=5066) / (SIP * 30),
            600,
        )
    ]
    return [bytes(f) for f in frames]


@pytest.fixture(scope="module")
def made_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("decode") / "made.pcap"
    with PcapWriter(path) as writer:
        for index, frame in enumerate(_frames()):
            writer.write(frame, 1_700_000_000_000_000_000 + index * 1_000_000)
    return path


@pytest.mark.peer
def test_tshark_reads_the_made_packets_as_we_do(made_capture: Path) -> None:
    assert compare_with_tshark(made_capture) == len(_frames())
    assert capture_info(made_capture).as_dict() == capture_info(made_capture, fast=False).as_dict()


def test_headers_walked_and_errors_quoted(made_capture: Path) -> None:
    packets, _ = read_packets(made_capture)
    options, routed, hop_tcp, unreachable, ttl, unreachable6, exceeded6 = packets[:7]
    assert (options.sport, options.dport, bytes(options.payload)) == (5060, 5062, SIP)
    assert (routed.ip_proto, routed.sport, routed.dport, bytes(routed.payload)) == (
        17,
        5070,
        5072,
        SIP,
    )
    assert hop_tcp.tcp is not None and hop_tcp.tcp.seq == 1000 and bytes(hop_tcp.payload) == SIP
    assert unreachable.icmp is not None
    assert unreachable.icmp.description == "port unreachable"
    assert (unreachable.icmp.quoted_dst, unreachable.icmp.quoted_dport) == ("192.0.2.2", 5080)
    assert ttl.icmp is not None and ttl.icmp.description == "time to live exceeded"
    assert unreachable6.icmp is not None and unreachable6.icmp.description == "port unreachable"
    assert (unreachable6.icmp.quoted_dst, unreachable6.icmp.quoted_proto) == (V6B, IpProto.UDP)
    assert exceeded6.icmp is not None and exceeded6.icmp.quoted_dport == 5090
    fragments = [p for p in packets[7:] if p.fragment is not None]
    assert len(fragments) == len(packets) - 7
    first6 = fragments[0]
    assert first6.fragment is not None and first6.fragment.offset == 0 and first6.fragment.more
    assert (first6.ip_id, first6.sport) == (77, 5060)
    assert all(p.sport == 0 for p in fragments if p.fragment and p.fragment.offset)
    # The fragment data put back together is the datagram (what capture/defrag.py does).
    six = [p for p in fragments if p.ip_version == 6]
    assert b"".join(bytes(p.payload) for p in six)[8:] == SIP * 30


def test_unknown_link_type_is_counted_not_fatal(tmp_path: Path) -> None:
    out = tmp_path / "user0.pcap"
    run("editcap", ["-T", "user0", DATA / "sip-rtp-opus.pcap", out])
    info = capture_info(out).as_dict()
    assert info["packets"] == info["unknown_link"] == 433 and info["ipv4"] == 0
    assert info["link_types"] == ["linktype (147)"]
    assert all(p.ip_version == 0 for p in read_packets(out)[0])


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x02" * 12 + b"\x08\x00" + b"\x45\x00\x00", "IPv4 header is truncated: 3 of 20 bytes"),
        (b"\x02" * 12 + b"\x81\x00\x00", "802.1Q tag is truncated: 1 of 4 bytes"),
        (
            b"\x02" * 12
            + b"\x08\x00"
            + bytes.fromhex("450000200000400040110000c0000201c0000202")
            + b"\x13\xc4",
            "UDP header is truncated: 2 of 8 bytes",
        ),
    ],
)
def test_malformed_headers_stop_decoding_with_a_reason(frame: bytes, reason: str) -> None:
    packet = decode(Record(1, 0, 0, 1, memoryview(frame), len(frame)))
    assert packet.malformed == reason


@given(st.integers(0, 300), st.binary(max_size=200))
def test_decode_never_raises(linktype: int, data: bytes) -> None:
    packet = decode(Record(1, 0, 0, linktype, memoryview(data), len(data)))
    assert len(packet.payload) <= len(data)


# decode() reads the common frame (Ethernet, IPv4 without options, whole, UDP) in one step:
# the same Packet as the layer by layer road, on frames near that shape and on every capture.
_PLAIN = bytes(
    Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    / IP(src="10.1.0.1", dst="10.2.0.1")
    / UDP(sport=5060, dport=5062)
    / (b"OPTIONS sip:x SIP/2.0\r\n" * 3)
)


_OTHER_VALUES = {  # (byte offset, struct format): values that leave the one-step shape
    (12, "!H"): [0x86DD, 0x8100, 0x0806],  # ethertype
    (14, "!B"): [0x46, 0x44, 0x55, 0x4F],  # version/IHL
    (20, "!H"): [0x2000, 0x0001, 0x6000, 0x4000],  # flags and fragment offset (DF stays)
    (23, "!B"): [6, 1, 4, 132],  # protocol
    (36, "!H"): [4789],  # UDP destination port: VXLAN
}


@given(
    st.one_of(
        st.none(),
        st.sampled_from(sorted(_OTHER_VALUES)).flatmap(
            lambda field: st.tuples(st.just(field), st.sampled_from(_OTHER_VALUES[field]))
        ),
    ),
    st.one_of(st.just(len(_PLAIN) - 14), st.integers(0, 120), st.sampled_from([0, 20, 27, 28])),
    st.one_of(st.just(len(_PLAIN) - 34), st.integers(0, 120), st.sampled_from([0, 7, 8, 9])),
    st.one_of(st.just(0), st.integers(0, 100)),
    st.sampled_from([1, 113]),
)
def test_the_one_step_read_is_the_layer_by_layer_one(
    change: tuple[tuple[int, str], int] | None,
    total_length: int,
    udp_length: int,
    cut: int,
    linktype: int,
) -> None:
    data = memoryview(reshaped(_PLAIN, change, total_length, udp_length, cut))
    record = Record(7, 1_000, 0, linktype, data, len(_PLAIN))
    assert decode(record) == decode_by_layers(record)


def test_the_one_step_read_takes_the_plain_frames_and_agrees_on_every_capture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rtcscope.capture.decode as decode_module

    by_layers, counted = counting(decode_by_layers)
    plain = 0
    for path in every_capture():
        with open_capture(path) as reader:
            for record in reader:
                before = len(by_layers)
                monkeypatch.setattr(decode_module, "decode_by_layers", counted)
                packet = decode(record)
                monkeypatch.undo()
                assert packet == decode_by_layers(record), (path.name, record.frame)
                if is_plain_udp(packet):
                    plain += 1
                    assert len(by_layers) == before, (path.name, record.frame)  # one step
    assert plain > 1000
