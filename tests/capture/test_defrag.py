"""IP fragment reassembly: order, overlaps, duplicates, timeouts and caps.

Synthetic fragments are cut from a known payload, so the expected result is that payload.
The capture tests compare with tshark: SIP over fragmented IPv6 (ipv6frag.pcap) and SIP
datagrams that scapy fragmented, shuffled, duplicated and overlapped (made_captures.py).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.defrag import Defragmenter
from rtcscope.capture.packet import FragmentInfo, IpProto, Packet
from rtcscope.capture.pipeline import PipelineReport, packets
from tests.capture.made_captures import make_fragmented_sip
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields


def reassembled_udp_equals_tshark(capture: Path) -> dict[int, bytes]:
    """Our UDP payloads, frame by frame, after checking them against tshark's (reassembling)."""
    report = PipelineReport()
    ours = {p.frame: bytes(p.payload) for p in packets(capture, report=report) if p.is_udp}
    rows = tshark_fields(capture, ["frame.number", "udp.payload"])
    theirs = {int(frame): bytes.fromhex(payload) for frame, payload in rows if payload}
    assert ours == theirs
    assert report.defrag.datagrams_incomplete == 0 and report.defrag.overlap_conflicts == 0
    return ours


@pytest.mark.peer
def test_sip_over_fragmented_ipv6_comes_out_whole() -> None:
    capture = shared_capture("ipv6frag.pcap")
    ours = reassembled_udp_equals_tshark(capture)
    assert len(ours) == 32  # 34 frames, two datagrams in two fragments each
    for frame in (2, 5):  # the two fragmented INVITEs, whole by their Content-Length
        headers, body = ours[frame].split(b"\r\n\r\n", 1)
        length = int(headers.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert headers.startswith(b"INVITE sip:") and len(body) == length > 0
    sip_headers = tshark_fields(capture, ["frame.number", "sip.msg_hdr"], "sip")
    assert [int(r[0]) for r in sip_headers] == sorted(ours)


@pytest.mark.peer
@pytest.mark.parametrize("version", [4, 6])
def test_shuffled_duplicated_overlapping_fragments_equal_tshark(
    version: int, tmp_path: Path
) -> None:
    capture = tmp_path / f"frag-sip-ipv{version}.pcap"
    make_fragmented_sip(DATA / "sip-rtp-opus.pcap", capture, version)
    ours = reassembled_udp_equals_tshark(capture)
    assert len(ours) == 6  # the six SIP messages of sip-rtp-opus.pcap


def fragment(
    payload: bytes,
    offset: int,
    more: bool,
    ident: int = 7,
    frame: int = 1,
    ts_ns: int | None = None,
    version: int = 4,
    src: str = "127.0.11.1",
) -> Packet:
    return Packet(
        frame=frame,
        ts_ns=frame * 1000 if ts_ns is None else ts_ns,
        interface=0,
        linktype=1,
        data=memoryview(b""),
        orig_len=0,
        ip_version=version,
        src=src,
        dst="127.0.11.2",
        ip_proto=IpProto.UDP,
        payload=memoryview(payload),
        fragment=FragmentInfo(ident=ident, offset=offset, more=more),
    )


def cut(data: bytes, size: int, version: int = 4) -> list[Packet]:
    return [
        fragment(data[o : o + size], o, o + size < len(data), frame=i + 1, version=version)
        for i, o in enumerate(range(0, len(data), size))
    ]


def test_unfragmented_packets_pass_through() -> None:
    d = Defragmenter()
    p = fragment(b"x", 0, False)
    p.fragment = None
    assert d.feed(p) is p


@pytest.mark.parametrize("version", [4, 6])
def test_fragments_out_of_order_make_one_datagram(version: int) -> None:
    data = bytes(range(256)) * 10
    pieces = cut(data, 800, version=version)
    d = Defragmenter()
    results = [d.feed(p) for p in [pieces[3], pieces[1], pieces[0], pieces[2]]]
    assert results[:3] == [None, None, None]
    whole = results[3]
    assert whole is not None and bytes(whole.payload) == data
    assert whole.fragment is None and whole.frame == pieces[2].frame
    assert d.stats.datagrams_reassembled == 1 and d.stats.pending_datagrams == 0


def test_overlap_keeps_the_first_bytes_and_counts_the_conflict() -> None:
    d = Defragmenter()
    assert d.feed(fragment(b"A" * 16, 0, True)) is None
    assert d.feed(fragment(b"B" * 16, 8, True)) is None  # bytes 8..15 conflict
    whole = d.feed(fragment(b"C" * 8, 24, False))
    assert whole is not None and bytes(whole.payload) == b"A" * 16 + b"B" * 8 + b"C" * 8
    assert d.stats.overlapping_fragments == 1 and d.stats.overlap_conflicts == 1


def test_transport_function_decodes_the_reassembled_payload() -> None:
    def ports(p: Packet) -> Packet:
        p.sport, p.dport = p.payload[0], p.payload[1]
        return p

    d = Defragmenter(transport=ports)
    d.feed(fragment(b"\x05\x06" + b"\0" * 6, 0, True))
    whole = d.feed(fragment(b"tail", 8, False))
    assert whole is not None and (whole.sport, whole.dport) == (5, 6)


def test_atomic_ipv6_fragment_is_whole_at_once() -> None:
    whole = Defragmenter().feed(fragment(b"abc", 0, False, version=6))
    assert whole is not None and bytes(whole.payload) == b"abc" and whole.fragment is None


def test_datagrams_from_different_sources_do_not_mix() -> None:
    d = Defragmenter()
    d.feed(fragment(b"1" * 8, 0, True, src="127.0.11.1"))
    d.feed(fragment(b"2" * 8, 0, True, src="127.0.11.3"))
    whole = d.feed(fragment(b"end", 8, False, src="127.0.11.3"))
    assert whole is not None and bytes(whole.payload) == b"2" * 8 + b"end"


def test_timeout_in_capture_time_drops_and_counts() -> None:
    d = Defragmenter(ipv4_timeout_ns=30_000_000_000)
    d.feed(fragment(b"x" * 8, 0, True, ts_ns=0))
    # 31 s later (capture time) the first half has expired: the second half cannot complete.
    assert d.feed(fragment(b"y", 8, False, ts_ns=31_000_000_000)) is None
    assert d.stats.datagrams_expired == 1 and d.stats.fragments_expired == 1
    d.flush()
    assert d.stats.datagrams_incomplete == 1 and d.stats.fragments_dropped == 2
    assert d.stats.pending_bytes == 0 and d.stats.pending_datagrams == 0


def test_fragment_past_the_size_limit_or_the_known_end_is_invalid() -> None:
    d = Defragmenter()
    assert d.feed(fragment(b"x" * 16, 65528, True)) is None
    d.feed(fragment(b"x" * 8, 8, False))  # the datagram ends at 16
    assert d.feed(fragment(b"x" * 8, 16, True)) is None
    assert d.stats.invalid_fragments == 2


def test_caps_hold_under_a_flood_of_never_completed_fragments() -> None:
    d = Defragmenter(max_datagrams=100, max_pending_bytes=40_000)
    for n in range(5000):
        d.feed(fragment(b"z" * 1000, 0, True, ident=n, frame=n + 1))
        assert d.stats.pending_datagrams <= 100
        assert d.stats.pending_bytes <= 40_000
    assert d.stats.peak_pending_bytes <= 40_000
    assert d.stats.fragments == 5000
    d.flush()
    assert d.stats.fragments_evicted + d.stats.fragments_incomplete == 5000
    assert d.stats.fragments_dropped == 5000 and d.stats.datagrams_reassembled == 0


@given(
    st.binary(min_size=9, max_size=2000),
    st.integers(1, 40),
    st.lists(st.tuples(st.integers(0, 249), st.integers(1, 30)), max_size=6),
    st.randoms(use_true_random=False),
    st.sampled_from([4, 6]),
)
def test_any_order_overlap_and_duplication_give_the_same_datagram(
    data: bytes,
    units: int,
    extra: list[tuple[int, int]],
    rng: random.Random,
    version: int,
) -> None:
    # Fragment offsets are in 8-byte units (RFC 791, RFC 8200); at least two pieces, as one
    # would be an unfragmented (atomic) datagram.
    size = min(units * 8, 8 * ((len(data) - 1) // 8))
    pieces = cut(data, size, version=version)
    for start_unit, length_units in extra:  # re-sent fragments cut differently
        start = start_unit * 8
        if start >= len(data):
            continue
        end = min(len(data), start + length_units * 8)
        if start == 0 and end == len(data):
            continue  # that would be the whole datagram, unfragmented
        pieces.append(fragment(data[start:end], start, end < len(data), version=version))
    pieces += [rng.choice(pieces) for _ in range(2)]
    rng.shuffle(pieces)
    d = Defragmenter()
    results = [d.feed(p) for p in pieces]
    done = [r for r in results if r is not None]
    assert len(done) == 1
    assert bytes(done[0].payload) == data
    # Copies arriving after delivery are recognised as duplicates, not left incomplete.
    d.flush()
    assert d.stats.overlap_conflicts == 0 and d.stats.pending_bytes == 0
    assert d.stats.datagrams_incomplete == 0


@given(st.lists(st.tuples(st.integers(0, 70000), st.binary(max_size=64), st.booleans())))
def test_arbitrary_fragments_never_crash_and_respect_caps(
    pieces: list[tuple[int, bytes, bool]],
) -> None:
    d = Defragmenter(max_datagrams=3, max_pending_bytes=300)
    for i, (offset, data, more) in enumerate(pieces):
        d.feed(fragment(data, offset, more, ident=i % 5, frame=i + 1))
        assert d.stats.pending_bytes <= 300 and d.stats.pending_datagrams <= 3


@pytest.mark.peer
def test_conflicting_overlap_keeps_what_tshark_keeps(tmp_path: Path) -> None:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap  # type: ignore[attr-defined]

    whole = bytes(UDP(sport=1000, dport=2000) / (b"A" * 64))
    common = {"src": "127.0.11.1", "dst": "127.0.11.2", "id": 9, "proto": 17}
    frames = [
        Ether() / IP(**common, flags="MF", frag=0) / Raw(whole[:40]),
        Ether() / IP(**common, flags="MF", frag=3) / Raw(b"B" * 24),  # bytes 24..47 differ
        Ether() / IP(**common, frag=5) / Raw(whole[40:]),
    ]
    for i, frame in enumerate(frames):
        frame.time = 1_700_000_000 + i / 1000
    capture = tmp_path / "frag-conflict.pcap"
    wrpcap(str(capture), frames)
    report = PipelineReport()
    ours = [bytes(p.payload) for p in packets(capture, report=report)]
    [[theirs]] = [r for r in tshark_fields(capture, ["udp.payload"]) if r[0]]
    assert ours == [bytes.fromhex(theirs)]
    # The middle fragment disagrees with the first (bytes 24..31) and the last with it (40..47).
    assert report.defrag.overlap_conflicts == 2
