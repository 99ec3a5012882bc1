"""Wireshark's statistics on streams made here with loss, reordering, duplicates, sequence
and timestamp wraps, comfort noise, markers, jitter and restarts: ours equal tshark's.

Streams are drawn by hypothesis and written with scapy (tests only); tshark reads them with
its rtp_udp heuristic (there is no signalling). Each example is one tshark run, so the
number of examples is kept small.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcscope.rtp.packet import RtpPacket
from rtcscope.scan.files import find_streams
from tests.rtp.test_tshark_streams import FIELDS, tshark_streams

scapy_all = pytest.importorskip("scapy.all")


def make_stream(rng: random.Random, pt: int, count: int) -> list[tuple[float, bytes]]:
    """(arrival offset s, RTP datagram) with every kind of trouble, seeded."""
    seq = rng.choice([rng.randrange(65536), 65535 - rng.randrange(30)])
    ts = rng.choice([rng.randrange(2**32), 2**32 - 160 * rng.randrange(1, 20)])
    ssrc = rng.randrange(2**32)
    t = 0.0
    out: list[tuple[float, bytes]] = []
    marker = True
    for _ in range(count):
        event = rng.random()
        step = 1
        ts_step = 160
        if event < 0.05:
            step = rng.randrange(2, 6)  # loss
            ts_step = 160 * step
        elif event < 0.08:
            ts_step = 160 * rng.randrange(3, 30)  # DTX: timestamp jump, no sequence gap
            marker = True
        elif event < 0.09:
            step = rng.randrange(-40000, -300)  # restart / big backward jump
        elif event < 0.10:
            ts_step = -rng.randrange(160, 100000)  # timestamp going backwards
        seq = (seq + step) & 0xFFFF
        ts = (ts + ts_step) & 0xFFFFFFFF
        this_pt = 13 if rng.random() < 0.04 else pt
        payload = bytes(rng.randrange(256) for _ in range(4 if this_pt == 13 else 20))
        t += 0.020 * max(step, 1) + rng.uniform(-0.004, 0.006)
        data = RtpPacket(this_pt, seq, ts, ssrc, marker, payload=payload).encode()
        marker = rng.random() < 0.02
        out.append((t, data))
        if rng.random() < 0.03:
            out.append((t + 0.0001, data))  # duplicate
    # A few late packets: swap neighbours.
    for _ in range(count // 40):
        i = rng.randrange(1, len(out) - 1)
        (ta, a), (tb, b) = out[i], out[i + 1]
        out[i], out[i + 1] = (ta, b), (tb, a)
    return out


def write_capture(path: Path, seed: int, streams: int, count: int) -> None:
    rng = random.Random(seed)
    frames = []
    base = 1_700_000_000.0
    for index in range(streams):
        pt = rng.choice([0, 8, 8, 18, 3, 9, 96])
        src, dst = f"10.0.{index}.1", f"10.0.{index}.2"
        sport, dport = 20000 + 2 * index, 30000 + 2 * index
        for offset, data in make_stream(rng, pt, count):
            if index % 3 == 2:
                ip = scapy_all.IPv6(src=f"2001:db8::{index}:1", dst=f"2001:db8::{index}:2")
            else:
                ip = scapy_all.IP(src=src, dst=dst)
            ether = scapy_all.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            frame = ether / ip / scapy_all.UDP(sport=sport, dport=dport) / data
            frame.time = base + index * 0.5 + offset
            frames.append(frame)
    frames.sort(key=lambda f: float(f.time))
    scapy_all.wrpcap(str(path), frames)


def ours(path: Path) -> dict[tuple[str, int, str, int, int], dict[str, str]]:
    found = {}
    for s in find_streams(path):
        st_ = s.stats
        values = {"packets": str(st_.packets), "lost": str(st_.lost)}
        values.update({f: f"{getattr(st_, f):.3f}" for f in FIELDS[2:]})
        k = s.key
        found[(k.src, k.src_port, k.dst, k.dst_port, k.ssrc)] = values
    return found


@pytest.mark.peer
@pytest.mark.slow
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_streams_equal_tshark(tmp_path: Path, seed: int) -> None:
    path = tmp_path / f"gen-{seed}.pcap"
    write_capture(path, seed, streams=4, count=300)
    theirs = tshark_streams(path, heuristic=True)
    mine = ours(path)
    assert theirs, "tshark finds the generated streams"
    for key, values in theirs.items():
        assert mine.get(key) == values, f"seed {seed} stream {key}"
