"""HEP codec: the specification's example, real agent packets, v2 byte layout, properties."""

from __future__ import annotations

import contextlib
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import HepError, ParseError
from rtcscope.hep.codec import (
    ChunkType,
    HepPacket,
    ProtocolType,
    RawChunk,
    compress,
    decode,
    encode,
)
from tests.conftest import SHARED, shared_capture
from tests.peers import run, tshark_fields


def _spec_example() -> bytes:
    path = SHARED / "hep" / "spec-example.md"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    block = path.read_text().split("```")[1]
    return bytes.fromhex("".join(line.split(";")[0] for line in block.splitlines()))


def test_spec_example_decodes_to_the_documented_values_and_reencodes_byte_for_byte() -> None:
    wire = _spec_example()
    assert len(wire) == 113
    packet = decode(wire)
    assert packet.version == 3
    assert packet.ip_family == 2
    assert packet.ip_proto == 17
    assert packet.src == "212.202.0.1"
    assert packet.dst == "82.116.0.211"
    assert packet.sport == 12010
    assert packet.dport == 5060
    assert packet.ts_sec == 1313440459
    assert packet.ts_usec == 120000
    assert packet.proto_type == ProtocolType.SIP
    assert packet.capture_id == 228
    assert packet.payload == b"INVITE sip:bob"
    assert encode(packet) == wire
    assert bytes(packet) == wire


def _hep_pcap_payloads() -> list[bytes]:
    path = shared_capture("hep-wireshark-hep.pcap")
    return [bytes.fromhex(row[0]) for row in tshark_fields(path, ["udp.payload"])]


@pytest.mark.peer
def test_wireshark_hep_pcap_matches_what_sngrep_e_extracts(tmp_path: Path) -> None:
    """sngrep -E unwraps each HEP3 packet into a frame with the inner addresses, ports and time;
    tshark reads those frames back. Our decode of the same packets must agree on every field."""
    path = shared_capture("hep-wireshark-hep.pcap")
    out = tmp_path / "sngrep-e.pcap"
    run("sngrep", ["-N", "-q", "-E", "-I", path, "-O", out], timeout=30)
    inner = tshark_fields(
        out,
        ["frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "udp.payload"],
    )
    packets = [decode(b) for b in _hep_pcap_payloads()]
    assert len(packets) == len(inner) == 8
    for packet, (epoch, src, dst, sport, dport, payload) in zip(packets, inner, strict=True):
        assert packet.time_ns == round(float(epoch) * 1e6) * 1000
        assert (packet.src, packet.dst) == (src, dst)
        assert (packet.sport, packet.dport) == (int(sport), int(dport))
        assert packet.payload == bytes.fromhex(payload)
    # what the packet bytes show (chunk by chunk, read here with struct, not our codec)
    by_hand = [_generic_chunks_by_hand(b) for b in _hep_pcap_payloads()]
    assert [c[11][0] for c in by_hand] == [1, 1, 1, 1, 100, 1, 1, 5]
    assert {struct.unpack("!I", c[12])[0] for c in by_hand} == {2001}
    assert {c[14] for c in by_hand} == {b"myHep"}
    assert {c[17] for c in by_hand} == {b"qgf3dm9rudi@127.0.0.1"}
    # and our decode says the same
    assert [p.proto_type for p in packets] == [1, 1, 1, 1, 100, 1, 1, 5]
    assert {p.capture_id for p in packets} == {2001}
    assert {p.auth_key for p in packets} == {"myHep"}
    assert {p.correlation_id for p in packets} == {"qgf3dm9rudi@127.0.0.1"}


def _generic_chunks_by_hand(wire: bytes) -> dict[int, bytes]:
    """HEP3 chunk type -> value for the generic (vendor 0) chunks, walked with struct alone."""
    assert wire[:4] == b"HEP3" and struct.unpack_from("!H", wire, 4)[0] == len(wire)
    chunks: dict[int, bytes] = {}
    offset = 6
    while offset < len(wire):
        vendor, chunk_type, length = struct.unpack_from("!HHH", wire, offset)
        if vendor == 0:
            chunks[chunk_type] = wire[offset + 6 : offset + length]
        offset += length
    assert offset == len(wire)
    return chunks


@pytest.mark.peer
def test_wireshark_hep_pcap_reencodes_byte_for_byte() -> None:
    for wire in _hep_pcap_payloads():
        assert encode(decode(wire)) == wire
        # chunk 12 read by hand: capture id 2001 as 4 bytes
        at = wire.index(b"\x00\x00\x00\x0c\x00\x0a")
        assert struct.unpack_from("!I", wire, at + 6)[0] == 2001


def test_hepv2_layout_host_order_times_and_padding() -> None:
    packet = HepPacket(
        version=2,
        ip_proto=17,
        src="10.1.2.3",
        dst="10.4.5.6",
        sport=5060,
        dport=5080,
        ts_sec=0x01020304,
        ts_usec=0x0A0B0C,
        capture_id=0x1234,
        payload=b"OPTIONS sip:x SIP/2.0\r\n\r\n",
    )
    wire = encode(packet)
    assert wire[:4] == bytes([2, 16, 2, 17])
    assert wire[4:8] == bytes.fromhex("13c413d8")
    assert wire[8:16] == bytes([10, 1, 2, 3, 10, 4, 5, 6])
    assert wire[16:28] == bytes.fromhex("040302010c0b0a0034120000")
    assert wire[28:] == packet.payload
    again = decode(wire)
    assert again.ts_sec == 0x01020304 and again.capture_id == 0x1234
    assert again.payload == packet.payload and again.proto_type == ProtocolType.SIP


def test_hepv2_as_sngrep_sends_it() -> None:
    """sngrep 1.6 (eep.send.version 2): header length byte unset (1), garbage padding."""
    wire = (
        bytes.fromhex("0201021113c413c4c0a80102d4f221234402c942d9e10c00e110eee6")
        + b"REGISTER sip:sip.cybercity.dk SIP/2.0\r\n\r\n"
    )
    packet = decode(wire)
    assert (packet.src, packet.dst, packet.sport) == ("192.168.1.2", "212.242.33.35", 5060)
    assert (packet.ts_sec, packet.ts_usec, packet.capture_id) == (1120469572, 844249, 4321)
    assert packet.payload.startswith(b"REGISTER")


def test_hepv1_and_ipv6() -> None:
    packet = HepPacket(
        version=1,
        ip_proto=6,
        src="2001:db8::1",
        dst="2001:db8::2",
        sport=1,
        dport=2,
        payload=b"BYE sip:a SIP/2.0\r\n\r\n",
    )
    wire = encode(packet)
    assert wire[:4] == bytes([1, 40, 10, 6])
    again = decode(wire)
    assert (again.src, again.dst, again.ts_sec) == ("2001:db8::1", "2001:db8::2", None)


def test_hepv2_capture_id_over_16_bits_is_refused() -> None:
    with pytest.raises(HepError, match="16 bits"):
        encode(HepPacket(version=2, src="1.1.1.1", dst="2.2.2.2", capture_id=70000))


def test_every_generic_chunk_round_trips() -> None:
    packet = HepPacket(
        magic=b"EEP3",
        ip_family=10,
        ip_proto=6,
        src="2001:db8::1",
        dst="2001:db8::2",
        sport=5061,
        dport=5062,
        ts_sec=1700000000,
        ts_usec=999999,
        proto_type=ProtocolType.RTCP_JSON,
        capture_id=0xFFFFFFFF,
        keep_alive_s=30,
        auth_key="secret",
        payload=b'{"type":200}',
        correlation_id="abc@host",
        vlan_id=100,
        node_name="edge-1",
        src_mac=bytes.fromhex("001122334455"),
        dst_mac=bytes.fromhex("0000665544332211"),
        ethernet_type=0x86DD,
        tcp_flags=0x18,
        ip_tos=0xB8,
        mos=438,
        r_factor=93,
        geo_location="48.85,2.35",
        jitter=12,
        transaction_type="call",
        payload_json_keys="a,b",
        tags="x=1",
        tag_type=2,
        event_type=3,
        group_id="g1",
        extra_chunks=(RawChunk(0x0003, 0x0101, b"\x01\x02"), RawChunk(0, 0x19, b"r")),
    )
    wire = encode(packet)
    assert decode(wire) == packet
    assert wire[:4] == b"EEP3"
    # chunk 41 (group id) is there, with the spec's layout
    assert b"\x00\x00\x00\x29\x00\x08g1" in wire
    assert b"\x00\x03\x01\x01\x00\x08\x01\x02" in wire


@pytest.mark.parametrize("method", ["gzip", "deflate"])
def test_compressed_payload(method: str) -> None:
    payload = b"INVITE sip:bob@example.com SIP/2.0\r\n" * 20
    packet = compress(HepPacket(proto_type=1, payload=payload), method)
    wire = encode(packet)
    assert struct.pack("!HH", 0, ChunkType.COMPRESSED_PAYLOAD) in wire
    assert struct.pack("!HH", 0, ChunkType.PAYLOAD) not in wire
    again = decode(wire)
    assert again.payload == payload
    assert encode(again) == wire
    # a peer's raw deflate (no zlib header) is read too
    raw = zlib.compressobj(wbits=-15)
    blob = raw.compress(payload) + raw.flush()
    assert decode(encode(HepPacket(compressed_payload=blob))).payload == payload


def _hep3(*chunks: bytes) -> bytes:
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def _chunk(ctype: int, value: bytes, length: int | None = None) -> bytes:
    return struct.pack("!HHH", 0, ctype, 6 + len(value) if length is None else length) + value


@pytest.mark.parametrize(
    ("wire", "fault"),
    [
        (b"HEP3\x00\x07", "total length says 7"),
        (_hep3(b"\x00\x00\x00\x01"), "truncated: 4 of 6"),
        (_hep3(_chunk(1, b"", length=5)), "has length 5"),
        (_hep3(_chunk(1, b"\x02", length=8)), "has length 8"),
        (_hep3(_chunk(1, b"\x03")), "IP family is 3"),
        (_hep3(_chunk(7, b"\x13")), "has 1 value bytes, not 2"),
        (_hep3(_chunk(3, b"\x01\x02\x03")), "not 4"),
        (_hep3(_chunk(12, b"\x00\x01")), "not 4"),
        (_hep3(_chunk(20, b"\x00\x01")), "not 6 or 8"),
        (_hep3(_chunk(2, b"\x11"), _chunk(2, b"\x11")), "twice"),
        (_hep3(_chunk(3, bytes(4)), _chunk(5, bytes(16))), "gives src twice"),
        (_hep3(_chunk(15, b"x"), _chunk(16, zlib.compress(b"x"))), "both a payload"),
        (_hep3(_chunk(16, b"\x1f\x8b\x08\x00\x00")), "compressed payload"),
        (_hep3(_chunk(16, zlib.compress(b"x" * 100)[:-3])), "truncated"),
        (b"\x02\x10\x02\x11\x13\xc4", "truncated"),
        (b"\x02\x10\x02\x11" + bytes(20), "truncated: 24 of 28"),
        (b"\x02\x10\x07\x11" + bytes(30), "family is 7"),
        (b"GET / HTTP/1.1", "not a HEP packet"),
        (b"HE", "truncated"),
    ],
)
def test_bad_packets_give_a_typed_error(wire: bytes, fault: str) -> None:
    with pytest.raises(HepError, match=fault):
        decode(wire)


@given(st.binary(max_size=300))
def test_any_bytes_give_a_packet_or_a_hep_error(data: bytes) -> None:
    with contextlib.suppress(HepError):
        decode(data)


@given(st.binary(max_size=200))
def test_mutated_real_packets_never_crash(suffix: bytes) -> None:
    base = b"HEP3\x00\x00" + suffix
    wire = base[:4] + struct.pack("!H", len(base) % 65536) + base[6:]
    try:
        packet = decode(wire)
    except ParseError:
        return
    assert encode(decode(encode(packet))) == encode(packet)


_text = st.text(max_size=20)
_u16 = st.integers(0, 0xFFFF)
_u32 = st.integers(0, 0xFFFFFFFF)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)


@st.composite
def _packets(draw: st.DrawFn) -> HepPacket:
    v6 = draw(st.booleans())
    addr = _ipv6 if v6 else _ipv4
    return HepPacket(
        ip_family=draw(st.none() | st.just(10 if v6 else 2)),
        ip_proto=draw(st.none() | st.integers(0, 255)),
        src=draw(st.none() | addr),
        dst=draw(st.none() | addr),
        sport=draw(st.none() | _u16),
        dport=draw(st.none() | _u16),
        ts_sec=draw(st.none() | _u32),
        ts_usec=draw(st.none() | _u32),
        proto_type=draw(st.none() | st.integers(0, 255)),
        capture_id=draw(st.none() | _u32),
        auth_key=draw(st.none() | _text),
        correlation_id=draw(st.none() | _text),
        node_name=draw(st.none() | _text),
        vlan_id=draw(st.none() | _u16),
        mos=draw(st.none() | _u16),
        group_id=draw(st.none() | _text),
        payload=draw(st.binary(max_size=400)),
        extra_chunks=tuple(
            RawChunk(v, t, val)
            for v, t, val in draw(
                st.lists(
                    st.tuples(st.integers(1, 0xFFFF), _u16, st.binary(max_size=10)), max_size=3
                )
            )
        ),
    )


@given(_packets())
def test_encode_then_decode_round_trips(packet: HepPacket) -> None:
    wire = encode(packet)
    assert decode(wire) == packet
    assert encode(decode(wire)) == wire


@given(_packets(), st.integers(0, 500))
def test_truncated_packets_give_a_hep_error(packet: HepPacket, cut: int) -> None:
    wire = encode(packet)
    if cut >= len(wire):
        return
    with pytest.raises(HepError):
        decode(wire[:cut])


@given(_packets())
def test_hepv2_round_trip(packet: HepPacket) -> None:
    if packet.src is None or packet.dst is None or (":" in packet.src) != (":" in packet.dst):
        return
    v2 = HepPacket(
        version=2,
        ip_family=10 if ":" in packet.src else 2,
        ip_proto=packet.ip_proto if packet.ip_proto is not None else 17,
        src=packet.src,
        dst=packet.dst,
        sport=packet.sport or 0,
        dport=packet.dport or 0,
        ts_sec=packet.ts_sec or 0,
        ts_usec=packet.ts_usec or 0,
        proto_type=ProtocolType.SIP,
        capture_id=(packet.capture_id or 0) & 0xFFFF,
        payload=packet.payload,
        magic=b"",
    )
    assert decode(encode(v2)) == v2


def test_common_prefix_path_still_catches_repeats_and_bad_family() -> None:
    """The first ten chunks in the usual order are read at once; what follows is still
    checked against them."""
    wire = _spec_example()
    body = wire[6:]
    repeat = _hep3(body[:-20], _chunk(1, b"\x02"), body[-20:])
    with pytest.raises(HepError, match="twice"):
        decode(repeat)
    v6_src_too = _hep3(body[:-20], _chunk(5, bytes(16)), body[-20:])
    with pytest.raises(HepError, match="src twice"):
        decode(v6_src_too)
    bad_family = bytearray(wire)
    bad_family[12] = 7
    with pytest.raises(HepError, match="IP family is 7"):
        decode(bytes(bad_family))
