"""SIP over SCTP (RFC 4168): chunks, bundling, fragments, retransmissions, against tshark.

The capture is made here with scapy (its SCTP layers write the chunks and the CRC32c), and
tshark reads it independently (SCTP reassembly is on in its defaults): the frames it shows as
SIP, with their Call-IDs and CSeqs, must be the ones we find. The checksums our encoder
writes are checked by tshark's CRC-32C validation and against RFC 3720's test vectors.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.sctp import (
    SCTP,
    SCTPChunkData,
    SCTPChunkInit,
    SCTPChunkInitAck,
    SCTPChunkSACK,
)
from scapy.packet import Raw
from scapy.utils import wrpcap

from rtcscope.capture.decode import decode
from rtcscope.capture.packet import LinkType, Record
from rtcscope.capture.sctp import (
    ChunkType,
    DataChunk,
    SctpChunk,
    SctpPacket,
    SctpReassembler,
    crc32c,
)
from rtcscope.errors import PacketError
from rtcscope.scan.files import capture_info, sip_messages
from rtcscope.sip.capture import SipCaptureFramer, SipCaptureReport
from tests.capture.made_captures import _stamp as stamp
from tests.peers import rtcscope_cli, run

CLIENT, SERVER = "127.0.82.1", "127.0.82.2"
CLIENT6, SERVER6 = "fd00:82::1", "fd00:82::2"
CLIENT_PORT, SIP_PORT = 40001, 5060
ETHER = Ether(src="02:00:00:00:82:01", dst="02:00:00:00:82:02")


def sip_text(
    start: str, call_id: str, cseq: str, *, response: bool = False, body: str = ""
) -> bytes:
    via = f"SIP/2.0/SCTP {CLIENT}:{CLIENT_PORT};branch=z9hG4bK-{call_id}-{cseq.split()[0]}"
    to_tag = ";tag=srv" if response else ""
    head = (
        f"{start}\r\nVia: {via}\r\nFrom: <sip:alice@{CLIENT}>;tag=cli\r\n"
        f"To: <sip:bob@{SERVER}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
        f"Max-Forwards: 70\r\n"
    )
    if body:
        head += "Content-Type: application/sdp\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n" + body).encode()


SDP = (
    f"v=0\r\no=- 1 1 IN IP4 {CLIENT}\r\ns=-\r\nc=IN IP4 {CLIENT}\r\nt=0 0\r\n"
    "m=audio 40002 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
    "a=sendrecv\r\n" + "a=x-padding:" + "p" * 300 + "\r\n"
)
INVITE = sip_text(f"INVITE sip:bob@{SERVER} SIP/2.0", "call-403", "1 INVITE", body=SDP)
TRYING = sip_text("SIP/2.0 100 Trying", "call-403", "1 INVITE", response=True)
FORBIDDEN = sip_text("SIP/2.0 403 Forbidden", "call-403", "1 INVITE", response=True)
ACK = sip_text(f"ACK sip:bob@{SERVER} SIP/2.0", "call-403", "1 ACK")
OPTIONS = sip_text(f"OPTIONS sip:bob@{SERVER} SIP/2.0", "ping-1", "7 OPTIONS")
OPTIONS_OK = sip_text("SIP/2.0 200 OK", "ping-1", "7 OPTIONS", response=True)
OPTIONS6 = sip_text(f"OPTIONS sip:bob@[{SERVER6}] SIP/2.0", "ping-v6-odd", "9 OPTIONS")


def _data(tsn: int, ssn: int, data: bytes, beginning: int = 1, ending: int = 1) -> SCTPChunkData:
    # scapy leaves B and E clear unless told: a whole message has both.
    return SCTPChunkData(
        tsn=tsn,
        stream_id=0,
        stream_seq=ssn,
        proto_id=0,
        data=data,
        beginning=beginning,
        ending=ending,
    )


def make_sip_over_sctp(out: Path) -> None:
    """:func:`sip_over_sctp_packets` written to ``out``."""
    wrpcap(str(out), sip_over_sctp_packets())


def sip_over_sctp_packets() -> list[Any]:
    """A call rejected with 403 and an OPTIONS ping, as SIP over SCTP would carry them.

    Frames: 1 INIT, 2 INIT ACK, 3-5 the INVITE in three fragments (the last one before the
    middle one), 6 a SACK alone, 7 SACK + 100 Trying bundled, 8 the 403, 9 the 403's DATA
    chunk retransmitted (same TSN), 10 ACK + OPTIONS bundled (two DATA chunks, the first one
    padded), 11 the 200 OK unordered with PPID 46, 12-13 an OPTIONS over IPv6 in two I-DATA
    fragments (RFC 8260).
    """
    up = ETHER / IP(src=CLIENT, dst=SERVER) / SCTP(sport=CLIENT_PORT, dport=SIP_PORT, tag=7)
    down = ETHER / IP(src=SERVER, dst=CLIENT) / SCTP(sport=SIP_PORT, dport=CLIENT_PORT, tag=9)
    a, b = len(INVITE) // 3, 2 * len(INVITE) // 3
    packets = [
        ETHER
        / IP(src=CLIENT, dst=SERVER)
        / SCTP(sport=CLIENT_PORT, dport=SIP_PORT, tag=0)
        / SCTPChunkInit(init_tag=9, n_in_streams=4, n_out_streams=4, init_tsn=100),
        ETHER
        / IP(src=SERVER, dst=CLIENT)
        / SCTP(sport=SIP_PORT, dport=CLIENT_PORT, tag=9)
        / SCTPChunkInitAck(init_tag=7, n_in_streams=4, n_out_streams=4, init_tsn=5000),
        up / _data(100, 0, INVITE[:a], beginning=1, ending=0),
        up / _data(102, 0, INVITE[b:], beginning=0, ending=1),
        up / _data(101, 0, INVITE[a:b], beginning=0, ending=0),
        down / SCTPChunkSACK(cumul_tsn_ack=102, a_rwnd=65535),
        down / SCTPChunkSACK(cumul_tsn_ack=102, a_rwnd=65535) / _data(5000, 0, TRYING),
        down / _data(5001, 1, FORBIDDEN),
        down / _data(5001, 1, FORBIDDEN),
        up / _data(103, 1, ACK) / _data(104, 2, OPTIONS),
        down
        / SCTPChunkData(
            tsn=5002,
            stream_id=1,
            stream_seq=0,
            proto_id=46,
            unordered=1,
            beginning=1,
            ending=1,
            data=OPTIONS_OK,
        ),
    ]
    v6 = ETHER / IPv6(src=CLIENT6, dst=SERVER6) / SCTP(sport=CLIENT_PORT, dport=SIP_PORT, tag=3)
    half = len(OPTIONS6) // 2 + 1
    for chunk in (
        DataChunk(1, 0, 0, 0, OPTIONS6[:half], beginning=True, end=False, i_data=True, mid=0),
        DataChunk(2, 0, 0, 0, OPTIONS6[half:], beginning=False, end=True, i_data=True, fsn=1),
    ):
        packets.append(v6 / Raw(bytes(chunk)))
    return stamp(packets)


@pytest.fixture(scope="module")
def sctp_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sctp") / "sip-over-sctp.pcap"
    make_sip_over_sctp(path)
    return path


def tshark_sip(path: Path) -> set[tuple[int, str, str]]:
    """(frame, Call-ID, CSeq) of every SIP message tshark shows (several in one frame)."""
    rows = run(
        "tshark",
        [
            "-r",
            path,
            "-Y",
            "sip",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
            "-e",
            "frame.number",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq",
        ],
    ).stdout.splitlines()
    found = set()
    for row in rows:
        frame, call_ids, cseqs = row.split("\t")
        for call_id, cseq in zip(call_ids.split("|"), cseqs.split("|"), strict=True):
            found.add((int(frame), call_id, cseq))
    return found


@pytest.mark.peer
def test_sip_over_sctp_equals_tshark(sctp_capture: Path) -> None:
    theirs = tshark_sip(sctp_capture)
    report = SipCaptureReport()
    messages = list(sip_messages(sctp_capture, report=report))
    ours = {(m.frame, m.message.call_id or "", str(m.message.cseq)) for m in messages}
    assert ours == theirs
    # Written above: 7 messages; the retransmitted 403 (frame 9) is not a second message.
    assert len(messages) == report.sctp_messages == 7
    assert {m.transport for m in messages} == {"sctp"}
    assert [m.frame for m in messages] == [5, 7, 8, 10, 10, 11, 13]
    invite = messages[0].message
    assert invite.method == "INVITE" and invite.body == SDP.encode()
    assert messages[-1].src == CLIENT6 and messages[-1].message.raw == OPTIONS6


@pytest.mark.peer
def test_our_checksums_pass_tshark_crc32c_validation(tmp_path: Path) -> None:
    packet = SctpPacket(SIP_PORT, CLIENT_PORT, 0x1234, (DataChunk(1, 0, 0, 0, OPTIONS).to_chunk(),))
    capture = tmp_path / "ours.pcap"
    wrpcap(str(capture), [ETHER / IP(src=CLIENT, dst=SERVER, proto=132) / Raw(bytes(packet))])
    out = run(
        "tshark",
        [
            "-r",
            capture,
            "-o",
            "sctp.checksum:CRC-32C",
            "-T",
            "fields",
            "-e",
            "sctp.checksum.status",
        ],
    ).stdout.split()
    assert out == ["1"]  # PROTO_CHECKSUM_E_GOOD
    assert SctpPacket.parse(bytes(packet)).checksum_ok


def test_crc32c_rfc3720_vectors() -> None:
    """RFC 3720 B.4 (the same CRC32c SCTP uses, RFC 9260 Appendix B)."""
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


def test_parse_equals_scapy_fields() -> None:
    packets = sip_over_sctp_packets()
    raw = bytes(packets[9][SCTP])
    parsed = SctpPacket.parse(raw)
    assert (parsed.sport, parsed.dport, parsed.verification_tag) == (CLIENT_PORT, SIP_PORT, 7)
    assert parsed.checksum == SCTP(raw).chksum and parsed.checksum_ok  # scapy's CRC32c
    chunks = parsed.data_chunks()
    assert [(c.tsn, c.ssn, c.data) for c in chunks] == [(103, 1, ACK), (104, 2, OPTIONS)]
    assert bytes(parsed) == raw
    sack = SctpPacket.parse(bytes(packets[6][SCTP]))
    assert [c.type for c in sack.chunks] == [ChunkType.SACK, ChunkType.DATA]
    unordered = SctpPacket.parse(bytes(packets[10][SCTP])).data_chunks()[0]
    assert unordered.unordered and unordered.ppid == 46


def test_info_counts_sctp_and_its_sip(sctp_capture: Path) -> None:
    info = capture_info(sctp_capture).as_dict()
    assert info == capture_info(sctp_capture, fast=False).as_dict()
    assert info["sctp"] == 13 and info["tcp"] == 0 and info["udp"] == 0
    # Frames 5, 7, 8, 10, 11 and 13 complete SIP messages (frame 10 two of them).
    assert info["sip"] == info["sip_sctp"] == 6


def test_calls_sees_the_403(sctp_capture: Path) -> None:
    import json

    result = rtcscope_cli(["calls", "--format", "json", sctp_capture], check=True)
    calls = json.loads(result.stdout)["calls"]
    invite = next(c for c in calls if c["call_id"] == "call-403")
    assert invite["final_status"] == 403 and invite["messages"] == 4


def test_truncated_chunks_are_typed_errors() -> None:
    good = bytes(DataChunk(1, 0, 0, 0, b"abc").to_chunk())
    header = SctpPacket(1, 2, 3, ()).__bytes__()
    with pytest.raises(PacketError, match="truncated"):
        SctpPacket.parse(header + good[:-5])
    with pytest.raises(PacketError, match="length 2"):
        SctpPacket.parse(header + b"\x00\x03\x00\x02")
    with pytest.raises(PacketError, match="DATA chunk at byte 0 is truncated"):
        DataChunk.from_chunk(SctpChunk(ChunkType.DATA, 3, b"\x00" * 8))
    with pytest.raises(PacketError, match="common header"):
        SctpPacket.parse(b"\x00" * 11)
    # The reassembler keeps the DATA chunks before a fault and counts the packet malformed.
    reassembler = SctpReassembler()
    found = reassembler.receive(good + b"\x00\x00\x00\x40", ("a", 1, "b", 2), 1, 0)
    assert [m.data for m in found] == [b"abc"]
    assert reassembler.stats.malformed_packets == 1


def test_caps_bound_the_fragments_held() -> None:
    reassembler = SctpReassembler(max_pending_bytes_per_flow=10_000)
    flow = ("a", 1, "b", 2)
    for tsn in range(1, 1000):  # middles only: never a whole message
        chunk = DataChunk(tsn, 0, 0, 0, b"x" * 100, beginning=False, end=False)
        assert reassembler.receive(bytes(chunk), flow, tsn, 0) == []
    assert reassembler.stats.pending_bytes <= 10_000
    assert reassembler.stats.fragments_dropped > 900
    reassembler.flush()
    assert reassembler.stats.pending_bytes == 0 and reassembler.stats.fragments_incomplete > 0
    # The cap over all directions: many directions each under their own cap.
    shared = SctpReassembler(max_pending_bytes_per_flow=10_000, max_pending_bytes=50_000)
    for port in range(100):
        for tsn in range(1, 20):
            chunk = DataChunk(tsn, 0, 0, 0, b"x" * 100, beginning=tsn == 1, end=False)
            shared.receive(bytes(chunk), ("a", port, "b", 2), tsn, 0)
    assert 40_000 < shared.stats.pending_bytes <= 50_000
    assert shared.stats.peak_pending_bytes <= 50_000 + 164


# -- properties -------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_packet_error(data: bytes) -> None:
    try:
        packet = SctpPacket.parse(data)
    except PacketError:
        return
    for chunk in packet.chunks:
        if chunk.type in (ChunkType.DATA, ChunkType.I_DATA):
            with contextlib.suppress(PacketError):
                DataChunk.from_chunk(chunk)


@given(st.lists(st.binary(max_size=120), max_size=12))
def test_any_chunk_bytes_never_crash_the_reassembler_or_the_framer(payloads: list[bytes]) -> None:
    reassembler = SctpReassembler()
    framer = SipCaptureFramer()
    for n, payload in enumerate(payloads, 1):
        reassembler.receive(payload, ("a", 1, "b", 2), n, n)
        sctp = (SCTP(sport=1, dport=5060).build()[:12] if n % 2 else b"") + payload
        frame = bytes(ETHER / IP(src=CLIENT, dst=SERVER, proto=132) / Raw(sctp))
        framer.feed(decode(Record(n, n, 0, LinkType.ETHERNET, memoryview(frame), len(frame))))
    reassembler.flush()
    framer.flush()


@given(
    message=st.binary(min_size=1, max_size=600),
    cuts=st.lists(st.integers(min_value=1, max_value=599), max_size=8, unique=True),
    seed=st.integers(min_value=0, max_value=2**16),
    i_data=st.booleans(),
    unordered=st.booleans(),
    first_tsn=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_fragments_in_any_order_make_the_message_once(
    message: bytes, cuts: list[int], seed: int, i_data: bool, unordered: bool, first_tsn: int
) -> None:
    bounds = [0, *sorted(c for c in cuts if c < len(message)), len(message)]
    pieces = [message[a:b] for a, b in itertools.pairwise(bounds)]
    last = len(pieces) - 1
    chunks = [
        DataChunk(
            (first_tsn + n) % 2**32,
            3,
            0 if unordered else 5,
            0 if n else 77,
            piece,
            beginning=n == 0,
            end=n == last,
            unordered=unordered,
            i_data=i_data,
            mid=11,
            fsn=n,
        )
        for n, piece in enumerate(pieces)
    ]
    rng = random.Random(seed)
    order = chunks + rng.sample(chunks, k=min(2, len(chunks)))  # two retransmissions
    rng.shuffle(order)
    reassembler = SctpReassembler()
    delivered = []
    # Bundle up to three chunks per packet, in the shuffled order.
    n = 0
    while n < len(order):
        size = rng.randint(1, 3)
        body = b"".join(bytes(c) for c in order[n : n + size])
        delivered += reassembler.receive(body, ("a", 1, "b", 2), n + 1, n)
        n += size
    assert [m.data for m in delivered] == [message]
    assert delivered[0].stream_id == 3 and delivered[0].ppid == 77
    assert delivered[0].fragments == len(pieces)
    assert reassembler.stats.duplicate_chunks == len(order) - len(chunks)


def test_hep_from_the_capture_says_sctp(sctp_capture: Path) -> None:
    """HEP chunk 2 is the IP protocol number: 132 for SCTP (IANA), not TCP's 6."""
    from rtcscope.hep.from_capture import capture_hep_packets
    from rtcscope.scan import ScanOptions, scan

    messages = scan(sctp_capture, ScanOptions()).messages
    protocols = {(p.src, p.ip_proto) for p in capture_hep_packets(messages)}
    assert protocols == {(CLIENT, 132), (SERVER, 132), (CLIENT6, 132)}


_chunk_fields = st.tuples(
    st.integers(min_value=0, max_value=40),  # TSN: small, so fragments meet and collide
    st.integers(min_value=0, max_value=2),  # MID
    st.integers(min_value=0, max_value=5),  # FSN
    st.booleans(),  # B
    st.booleans(),  # E
    st.booleans(),  # I-DATA
    st.booleans(),  # U
    st.binary(max_size=30),
)


@given(st.lists(_chunk_fields, max_size=60), st.integers(min_value=200, max_value=3000))
def test_held_bytes_add_up_whatever_arrives(chunks: list[Any], cap: int) -> None:
    """The byte accounting the caps rely on stays exact: what is held is what is counted."""
    reassembler = SctpReassembler(max_pending_bytes_per_flow=cap, max_pending_bytes=2 * cap)
    for n, (tsn, mid, fsn, first, last, i_data, unordered, data) in enumerate(chunks):
        chunk = DataChunk(
            tsn, 0, 1, 0, data, first, last, unordered, i_data, mid, 0 if first else fsn
        )
        for message in reassembler.receive(bytes(chunk), ("a", 1, "b", n % 2), n, n):
            assert message.data  # assembled from held pieces (or a whole chunk)
        directions = reassembler._directions.values()
        held = [
            *(f for d in directions for f in d.by_tsn.values()),
            *(f for d in directions for g in d.by_mid.values() for f in g.values()),
        ]
        assert reassembler.stats.pending_bytes == sum(f.cost for f in held)
        assert sum(d.pending_cost for d in directions) == reassembler.stats.pending_bytes
        assert reassembler.stats.pending_bytes <= 2 * cap
        for d in directions:
            assert d.begins == sum(f.chunk.beginning for f in d.by_tsn.values())
            assert d.ends == sum(f.chunk.end for f in d.by_tsn.values())
    reassembler.flush()
    assert reassembler.stats.pending_bytes == 0
