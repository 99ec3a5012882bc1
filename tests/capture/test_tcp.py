"""TCP reassembly: ordering, retransmissions, overlaps, gaps, flags and memory caps.

The synthetic tests build segments from a known byte stream, so the expected output is the
stream itself (independent of the code under test). The capture tests compare with tshark.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.packet import IpProto, Packet, TcpSegment
from rtcscope.capture.pipeline import packets
from rtcscope.capture.tcp import Flow, TcpData, TcpReassembler, reassemble
from tests.capture.made_captures import make_resegmented_tcp
from tests.conftest import DATA, shared_capture
from tests.peers import run, tshark_fields

CLIENT = ("127.0.11.1", 40000)
SERVER = ("127.0.11.2", 5060)
FLOW = (CLIENT[0], CLIENT[1], SERVER[0], SERVER[1])
REVERSE = (SERVER[0], SERVER[1], CLIENT[0], CLIENT[1])


def segment(
    seq: int,
    data: bytes = b"",
    flags: int = TcpSegment.ACK,
    frame: int = 1,
    ack: int = 0,
    reverse: bool = False,
) -> Packet:
    src, dst = (SERVER, CLIENT) if reverse else (CLIENT, SERVER)
    return Packet(
        frame=frame,
        ts_ns=frame * 1000,
        interface=0,
        linktype=1,
        data=memoryview(b""),
        orig_len=0,
        ip_version=4,
        src=src[0],
        dst=dst[0],
        ip_proto=IpProto.TCP,
        sport=src[1],
        dport=dst[1],
        payload=memoryview(data),
        tcp=TcpSegment(seq=seq % (1 << 32), ack=ack % (1 << 32), flags=flags, window=65535),
    )


def stream_of(chunks: list[TcpData], flow: tuple[str, int, str, int] = FLOW) -> bytes:
    return b"".join(c.data for c in chunks if c.flow == flow)


def feed_all(reassembler: TcpReassembler, packets: list[Packet]) -> list[TcpData]:
    out: list[TcpData] = []
    for p in packets:
        out += reassembler.feed(p)
    return out + reassembler.flush()


def test_in_order_stream_with_syn_and_fin() -> None:
    isn = 1000
    packets = [
        segment(isn, flags=TcpSegment.SYN, frame=1),
        segment(isn + 1, b"INVITE ", frame=2),
        segment(isn + 8, b"sip:a", frame=3),
        segment(isn + 13, flags=TcpSegment.FIN | TcpSegment.ACK, frame=4),
    ]
    out = feed_all(TcpReassembler(), packets)
    assert out[0].syn and out[0].data == b""
    assert [(c.data, c.frame, c.gap_before) for c in out[1:3]] == [
        (b"INVITE ", 2, 0),
        (b"sip:a", 3, 0),
    ]
    assert out[-1].fin and out[-1].frame == 4
    assert len(out) == 4


def test_out_of_order_bytes_carry_the_completing_frame() -> None:
    r = TcpReassembler()
    r.feed(segment(0, flags=TcpSegment.SYN, frame=1))
    assert r.feed(segment(6, b"world", frame=2)) == []
    [chunk] = r.feed(segment(1, b"hello", frame=3))
    assert chunk.data == b"helloworld" and chunk.frame == 3 and chunk.ts_ns == 3000
    assert r.stats.out_of_order_segments == 1


def test_retransmission_and_overlap_keep_the_first_bytes() -> None:
    r = TcpReassembler()
    out = feed_all(
        r,
        [
            segment(0, flags=TcpSegment.SYN),
            segment(1, b"abcd", frame=2),
            segment(1, b"abcd", frame=3),  # retransmission
            segment(3, b"XXef", frame=4),  # overlaps "cd", first bytes kept
        ],
    )
    assert stream_of(out) == b"abcdef"
    assert r.stats.retransmitted_segments == 1 and r.stats.retransmitted_bytes == 4
    assert r.stats.overlap_bytes == 2


def test_a_missing_segment_is_reported_as_a_gap_at_flush() -> None:
    r = TcpReassembler()
    r.feed(segment(0, flags=TcpSegment.SYN))
    r.feed(segment(1, b"one", frame=2))
    assert r.feed(segment(1 + 3 + 5, b"three", frame=4)) == []
    [chunk] = r.flush()
    assert (chunk.data, chunk.gap_before, chunk.frame) == (b"three", 5, 4)
    assert (r.stats.gaps, r.stats.gap_bytes) == (1, 5)


def test_the_receivers_ack_past_a_hole_releases_what_follows_it() -> None:
    r = TcpReassembler()
    r.feed(segment(0, flags=TcpSegment.SYN))
    r.feed(segment(1, b"one", frame=2))
    assert r.feed(segment(9, b"three", frame=4)) == []
    # The server acknowledges everything up to the end of "three": "two!!" was sent and
    # received, only the capture missed it.
    out = r.feed(segment(0, b"", frame=5, ack=14, reverse=True))
    [chunk] = [c for c in out if c.flow == FLOW]
    assert (chunk.data, chunk.gap_before) == (b"three", 5)
    # The missing bytes turning up afterwards are late, not part of the stream.
    assert r.feed(segment(4, b"two!!", frame=6)) == []
    assert r.stats.late_bytes == 5 and r.stats.retransmitted_segments == 0


def test_a_stream_starting_mid_connection_is_marked() -> None:
    r = TcpReassembler()
    [first] = r.feed(segment(5000, b"tail of a message", frame=1))
    [second] = r.feed(segment(5017, b"INVITE", frame=2))
    assert first.midstream and not second.midstream
    assert r.stats.midstream_starts == 1


def test_rst_flushes_held_data_with_its_gap_and_closes() -> None:
    r = TcpReassembler()
    r.feed(segment(0, flags=TcpSegment.SYN))
    r.feed(segment(1, b"ab", frame=2))
    r.feed(segment(6, b"fg", frame=3))
    out = r.feed(segment(8, flags=TcpSegment.RST, frame=4))
    assert [(c.data, c.gap_before, c.rst) for c in out] == [(b"fg", 3, False), (b"", 0, True)]


def test_port_reuse_with_a_new_syn_starts_a_new_stream() -> None:
    r = TcpReassembler()
    out = feed_all(
        r,
        [
            segment(100, flags=TcpSegment.SYN),
            segment(101, b"first", frame=2),
            segment(106, flags=TcpSegment.FIN | TcpSegment.ACK, frame=3),
            segment(106, flags=TcpSegment.FIN | TcpSegment.ACK, frame=4),  # retransmitted FIN
            segment(9000, flags=TcpSegment.SYN, frame=5),
            segment(9001, b"second", frame=6),
        ],
    )
    assert [(c.data, c.syn, c.fin) for c in out] == [
        (b"", True, False),
        (b"first", False, False),
        (b"", False, True),
        (b"", True, False),
        (b"second", False, False),
    ]
    assert r.stats.connections == 2


def test_sequence_numbers_wrap_around() -> None:
    isn = (1 << 32) - 3
    out = feed_all(
        TcpReassembler(),
        [
            segment(isn, flags=TcpSegment.SYN),
            segment(isn + 7, b"6789", frame=3),
            segment(isn + 1, b"012345", frame=2),
        ],
    )
    assert stream_of(out) == b"0123456789"


def test_per_flow_cap_declares_the_hole_a_gap() -> None:
    r = TcpReassembler(max_pending_bytes_per_flow=1000)
    r.feed(segment(0, flags=TcpSegment.SYN))
    out: list[TcpData] = []
    for i in range(20):  # byte 1 never arrives: everything from 2 on waits
        out += r.feed(segment(2 + i * 100, bytes([i]) * 100, frame=2 + i))
    assert r.stats.cap_releases >= 1
    assert r.stats.pending_bytes <= 1000
    assert out[0].gap_before == 1
    assert stream_of(out + r.flush()) == b"".join(bytes([i]) * 100 for i in range(20))


def test_total_cap_and_flow_count_hold_under_a_flood() -> None:
    r = TcpReassembler(max_pending_bytes=50_000, max_flows=100)
    out: list[TcpData] = []
    for n in range(2000):  # 2000 connections, each with a hole that never fills
        p = segment(0, flags=TcpSegment.SYN, frame=n)
        p.sport = 10000 + n
        out += r.feed(p)
        q = segment(500, b"x" * 200, frame=n)
        q.sport = 10000 + n
        out += r.feed(q)
        assert r.stats.pending_bytes <= 50_000
    out += r.flush()
    assert r.stats.peak_pending_bytes <= 50_000
    assert r.stats.flows_evicted == 2000 - 100
    # Nothing is dropped silently: every connection's bytes come out after a 499-byte gap.
    delivered = [(c.flow[1], c.gap_before, c.data) for c in out if c.data]
    assert sorted(delivered) == [(10000 + n, 499, b"x" * 200) for n in range(2000)]
    assert r.stats.gaps == 2000 and r.stats.pending_bytes == 0


@st.composite
def segmented_streams(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, int]]]:
    data = draw(st.binary(min_size=1, max_size=300))
    isn = draw(st.integers(0, (1 << 32) - 1))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data)), max_size=12))) | {len(data)})
    pieces, start = [], 0
    for cut in cuts:
        pieces.append((start, cut))
        start = cut
    # Retransmissions cut differently: random ranges that overlap the originals.
    extra = draw(
        st.lists(
            st.tuples(st.integers(0, len(data) - 1), st.integers(1, 40)).map(
                lambda t: (t[0], min(len(data), t[0] + t[1]))
            ),
            max_size=6,
        )
    )
    return data, isn, pieces + extra


@given(segmented_streams(), st.randoms(use_true_random=False), st.booleans())
def test_any_order_and_duplication_gives_the_same_stream(
    case: tuple[bytes, int, list[tuple[int, int]]], rng: random.Random, with_fin: bool
) -> None:
    data, isn, ranges = case
    packets = [segment(isn + 1 + a, data[a:b], frame=i + 2) for i, (a, b) in enumerate(ranges)]
    packets += [rng.choice(packets) for _ in range(3)]  # plain duplicates
    if with_fin:
        packets.append(segment(isn + 1 + len(data), flags=TcpSegment.FIN | TcpSegment.ACK))
    rng.shuffle(packets)
    r = TcpReassembler()
    out = feed_all(r, [segment(isn, flags=TcpSegment.SYN), *packets])
    assert stream_of(out) == data
    assert all(c.gap_before == 0 for c in out)
    assert r.stats.gaps == 0 and r.stats.pending_bytes == 0
    assert sum(c.fin for c in out) == (1 if with_fin else 0)
    if with_fin:
        assert out[-1].fin


@given(st.lists(st.tuples(st.integers(0, 1 << 32), st.binary(max_size=64)), max_size=40))
def test_arbitrary_segments_never_crash_and_respect_caps(
    segments: list[tuple[int, bytes]],
) -> None:
    r = TcpReassembler(max_pending_bytes_per_flow=512, max_pending_bytes=2048, max_flows=4)
    for i, (seq, data) in enumerate(segments):
        flags = [TcpSegment.ACK, TcpSegment.SYN, TcpSegment.FIN, TcpSegment.RST][i % 4]
        p = segment(seq, data, flags=flags, frame=i, ack=seq * 7, reverse=i % 3 == 0)
        r.feed(p)
        assert r.stats.pending_bytes <= 2048
    r.flush()
    assert r.stats.pending_bytes == 0 or r.stats.pending_bytes <= 2048


# -- real captures, compared with tshark ---------------------------------------------------


def sip_messages_by_content_length(capture: Path) -> list[tuple[int, bytes]]:
    """(completing frame, message) of every SIP message over TCP, framed here by
    Content-Length (RFC 3261 18.3) on our reassembled streams."""
    reassembler = TcpReassembler()
    chunks: list[TcpData] = []
    for packet in packets(capture):
        chunks += reassembler.feed(packet)
    chunks += reassembler.flush()
    assert all(c.gap_before == 0 for c in chunks)
    buffers: dict[Flow, bytes] = {}
    messages: list[tuple[int, bytes]] = []
    for chunk in chunks:
        buffered = buffers.get(chunk.flow, b"") + chunk.data
        while (end_of_headers := buffered.find(b"\r\n\r\n")) >= 0:
            headers = buffered[:end_of_headers].lower()
            length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
            end = end_of_headers + 4 + length
            if len(buffered) < end:
                break
            messages.append((chunk.frame, buffered[:end]))
            buffered = buffered[end:]
        buffers[chunk.flow] = buffered
    assert all(not rest for rest in buffers.values())
    return messages


def tshark_sip_over_tcp(capture: Path) -> list[tuple[int, bytes]]:
    """(frame, bytes) of each SIP PDU tshark reassembles (or finds in one segment)."""
    rows = tshark_fields(
        capture,
        ["frame.number", "tcp.reassembled.data", "tcp.payload"],
        "sip",
        extra=["-o", "tcp.reassemble_out_of_order:TRUE"],
    )
    return [(int(frame), bytes.fromhex(whole or payload)) for frame, whole, payload in rows]


@pytest.mark.peer
def test_heplify_sip_over_tcp_gives_its_seven_messages_as_tshark_does() -> None:
    capture = shared_capture("heplify-sip_ipv4_tcp.pcap")
    ours = sip_messages_by_content_length(capture)
    assert len(ours) == 7
    assert ours == tshark_sip_over_tcp(capture)


@pytest.mark.peer
def test_resegmented_reordered_duplicated_sip_over_tcp_equals_tshark(tmp_path: Path) -> None:
    capture = tmp_path / "tcp-resegmented-sip.pcap"
    make_resegmented_tcp(shared_capture("heplify-sip_ipv4_tcp.pcap"), capture)
    ours = sip_messages_by_content_length(capture)
    assert len(ours) == 7
    assert ours == tshark_sip_over_tcp(capture)


def tshark_follow_streams(capture: Path) -> dict[Flow, bytes]:
    """Each direction's bytes as ``tshark -z follow,tcp,raw,N`` prints them."""
    numbers = {int(r[0]) for r in tshark_fields(capture, ["tcp.stream"], "tcp")}
    streams: dict[Flow, bytes] = {}
    for number in sorted(numbers):
        out = run("tshark", ["-n", "-r", capture, "-q", "-z", f"follow,tcp,raw,{number}"]).stdout
        nodes: list[tuple[str, int]] = []
        forward, backward = [], []
        for line in out.splitlines():
            if line.startswith("Node "):
                address, port = line.split(": ", 1)[1].rsplit(":", 1)
                nodes.append((address.strip("[]"), int(port)))
            elif len(nodes) == 2 and line and not line.startswith("="):
                (backward if line.startswith("\t") else forward).append(line.strip())
        (a, a_port), (b, b_port) = nodes
        streams[(a, a_port, b, b_port)] = bytes.fromhex("".join(forward))
        streams[(b, b_port, a, a_port)] = bytes.fromhex("".join(backward))
    return {flow: data for flow, data in streams.items() if data}


def our_streams(capture: Path) -> dict[Flow, bytes]:
    reassembler = TcpReassembler()
    streams: dict[Flow, bytes] = {}
    for chunk in reassemble(packets(capture), reassembler):
        assert chunk.gap_before == 0
        streams[chunk.flow] = streams.get(chunk.flow, b"") + chunk.data
    assert reassembler.stats.gaps == 0 and reassembler.stats.pending_bytes == 0
    return {flow: data for flow, data in streams.items() if data}


@pytest.mark.peer
@pytest.mark.parametrize(
    "name", ["heplify-sip_tcp_websocket.pcap", "heplify-sip_ipv4_tcp.pcap", "aaa.pcap"]
)
def test_every_direction_equals_tshark_follow_tcp(name: str) -> None:
    capture = DATA / name if (DATA / name).exists() else shared_capture(name)
    assert our_streams(capture) == tshark_follow_streams(capture)


@pytest.mark.peer
def test_a_segment_missing_from_the_capture_is_reported_as_a_gap(tmp_path: Path) -> None:
    source = shared_capture("heplify-sip_ipv4_tcp.pcap")
    # Frame 9 is the 200 OK; editcap deletes it, as a capture that missed it would.
    [[lost_length, lost_port]] = tshark_fields(
        source, ["tcp.len", "tcp.srcport"], "frame.number == 9"
    )
    capture = tmp_path / "tcp-missing-200-ok.pcap"
    run("editcap", [source, capture, "9"])
    reassembler = TcpReassembler()
    chunks = [c for c in reassemble(packets(capture), reassembler) if c.data or c.gap_before]
    server = [c for c in chunks if c.flow[1] == int(lost_port)]
    gapped = [c for c in server if c.gap_before]
    assert [c.gap_before for c in gapped] == [int(lost_length)]
    # The server's next bytes are its BYE (frame 81, 80 once frame 9 is gone), whole; they
    # are released when the client's ACK shows the 200 OK was received.
    assert gapped[0].data.startswith(b"BYE sip:") and gapped[0].frame == 80
    assert reassembler.stats.gaps == 1 and reassembler.stats.gap_bytes == int(lost_length)


@pytest.mark.peer
def test_sip_over_tcp_inside_ip_in_ip_comes_out_as_whole_messages() -> None:
    capture = shared_capture("ipip.pcap")
    ours = sip_messages_by_content_length(capture)
    assert [m[:3] for _, m in ours] == [b"INV", b"SIP", b"SIP", b"BYE"]
    assert ours == tshark_sip_over_tcp(capture)


def test_mid_connection_start_lines_up_on_the_peers_acknowledgement() -> None:
    r = TcpReassembler()
    r.feed(segment(7000, b"", frame=1, ack=1000, reverse=True))  # server expects byte 1000
    assert r.feed(segment(1100, b"B" * 50, frame=2)) == []  # captured before what precedes it
    [chunk] = r.feed(segment(1000, b"A" * 100, frame=3))
    assert chunk.data == b"A" * 100 + b"B" * 50 and chunk.midstream and chunk.gap_before == 0
    assert r.stats.retransmitted_bytes == 0


@given(
    st.binary(min_size=2, max_size=400),
    st.lists(st.integers(1, 399), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
)
def test_lost_segments_come_out_as_gaps_of_their_exact_size(
    data: bytes, cut_points: list[int], rng: random.Random
) -> None:
    cuts = sorted({c for c in cut_points if c < len(data)} | {0, len(data)})
    pieces = list(itertools.pairwise(cuts))
    lost = set(rng.sample(range(len(pieces)), k=rng.randrange(0, len(pieces))))
    kept = [p for i, p in enumerate(pieces) if i not in lost]
    rng.shuffle(kept)
    r = TcpReassembler()
    out = feed_all(
        r, [segment(0, flags=TcpSegment.SYN)] + [segment(1 + a, data[a:b]) for a, b in kept]
    )
    # Rebuild the stream with each gap as that many '?' bytes: the known bytes line up exactly.
    rebuilt = b"".join(b"?" * c.gap_before + c.data for c in out if c.flow == FLOW)
    expected = b"".join(
        b"?" * (b - a) if i in lost else data[a:b] for i, (a, b) in enumerate(pieces)
    )
    # Bytes lost at the very end are unknowable (no later segment, no FIN): not a gap.
    assert rebuilt == expected[: len(rebuilt)] and not expected[len(rebuilt) :].strip(b"?")
    assert r.stats.gap_bytes == sum(c.gap_before for c in out)
