"""Many short SDP-signalled calls (issue 14's capture (b) in small): every column of
``tshark -z rtp,streams`` equals ours in ``rtcscope streams --format json``.

The capture is written here with our pcap writer: 1,200 overlapping calls (INVITE and 200 OK
with SDP, then about ten G.711 packets each way), more than one 4 MB batch of the fast path,
with loss, late packets, duplicates, sequence wrap, markers, RFC 4733 events, streams of one
and two packets and a few longer ones. tshark reads the same file; our own counts
(duplicates, reordered, markers, packets) are checked against what the test planted.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from rtcscope.capture.writer import PcapWriter
from rtcscope.rtp.events import TelephoneEvent
from rtcscope.rtp.packet import RtpPacket
from tests.peers import rtcscope_cli, run
from tests.rtp.test_dtmf_tshark import tshark_digits
from tests.rtp.test_tshark_streams import FIELDS
from tests.test_mutation import _udp_frame

CALLS = 1200
START_NS = 1_700_000_000 * 10**9
# tshark's payload names for the RFC 3551 / rtpmap names of this capture.
TSHARK_NAMES = {"PCMU": "g711U", "telephone-event": "telephone-event"}

_ROW = re.compile(
    r"\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-F]+)\s+(.*?)\s+"
    r"(\d+)\s+(-?\d+) \((-?[\d.]+)%\)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)"
    r"\s+(-?[\d.]+)\s+(-?[\d.]+)\s*(X?)\s*$"
)
Key = tuple[str, int, str, int, int]


@dataclass
class Planted:
    """What the test put into one stream (counted here, not by the code under test)."""

    packets: int = 0
    duplicates: int = 0
    reordered: int = 0
    markers: int = 0
    digits: list[str] = field(default_factory=list)


def _sip(kind: str, call: int, caller: str, callee: str, host: str, port: int) -> bytes:
    sdp = (
        f"v=0\r\no=- {call} 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    ).encode()
    start = f"INVITE sip:b@{callee} SIP/2.0" if kind == "INVITE" else "SIP/2.0 200 OK"
    to_tag = "" if kind == "INVITE" else f";tag=b{call}"
    head = (
        f"{start}\r\nVia: SIP/2.0/UDP {caller}:5060;branch=z9hG4bK{call}\r\n"
        f"From: <sip:a@{caller}>;tag=a{call}\r\nTo: <sip:b@{callee}>{to_tag}\r\n"
        f"Call-ID: short-{call}@test\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{host}>\r\n"
        f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n"
    )
    return head.encode() + sdp


def _stream(
    rng: random.Random, variant: int, count: int, start_s: float, ssrc: int
) -> tuple[list[tuple[float, bytes]], Planted]:
    """(arrival s, RTP datagram) of one stream, and what was planted in it."""
    planted = Planted()
    seq = 65530 if variant == 4 else rng.randrange(60000)  # 4: the sequence number wraps
    ts = rng.randrange(2**31)
    out: list[tuple[float, bytes]] = []
    t = start_s
    n = 0
    while n < count:
        marker = n == 0 or (variant == 5 and n == 5)
        if variant == 1 and n == 4:  # loss: a sequence number never sent
            seq, ts, t, n = seq + 1, ts + 160, t + 0.020, n + 1
            continue
        if variant == 5 and n == 3:
            # RFC 4733: one event, three packets on one timestamp, the last with E set.
            for part, duration in enumerate((160, 320, 480)):
                body = TelephoneEvent(5, part == 2, 10, duration).encode()
                data = RtpPacket(101, seq & 0xFFFF, ts, ssrc, part == 0, payload=body).encode()
                out.append((t - 0.008 + 0.002 * part, data))
                planted.markers += part == 0
                seq += 1
            planted.digits.append("5")
            planted.packets += 3
        payload = bytes(rng.randrange(256) for _ in range(160))
        data = RtpPacket(0, seq & 0xFFFF, ts, ssrc, marker, payload=payload).encode()
        out.append((t + rng.uniform(0, 0.003), data))
        planted.packets += 1
        planted.markers += marker
        if variant == 3 and n == 3:  # a copy, a little later
            out.append((out[-1][0] + 0.0004, data))
            planted.packets += 1
            planted.duplicates += 1
        seq, ts, t, n = seq + 1, ts + 160, t + 0.020, n + 1
    out.sort(key=lambda item: item[0])
    if variant == 2 and len(out) > 7:  # a late packet: two neighbours arrive swapped
        (ta, a), (tb, b) = out[5], out[6]
        out[5], out[6] = (ta, b), (tb, a)
        planted.reordered += 1
    return out, planted


def write_capture(path: Path) -> dict[Key, Planted]:
    rng = random.Random(14)
    frames: list[tuple[int, bytes]] = []
    planted: dict[Key, Planted] = {}
    for call in range(CALLS):
        caller = f"10.1.{call // 200}.{1 + call % 200}"
        callee = f"10.2.{call // 200}.{1 + call % 200}"
        a_port, b_port = 20000 + 2 * (call % 500), 30000 + 2 * (call % 500)
        at = call * 0.012  # a new call every 12 ms: a dozen or so at once
        invite = _sip("INVITE", call, caller, callee, caller, a_port)
        ok = _sip("200", call, caller, callee, callee, b_port)
        frames.append((round(at * 1e9), _udp_frame(invite, caller, callee, 5060, 5060)))
        frames.append((round((at + 0.004) * 1e9), _udp_frame(ok, callee, caller, 5060, 5060)))
        variant = call % 8
        counts = (1, 2) if variant == 6 else (40, 33) if variant == 7 else (10, 9)
        for (src, sport, dst, dport), count in zip(
            ((caller, a_port, callee, b_port), (callee, b_port, caller, a_port)),
            counts,
            strict=True,
        ):
            ssrc = rng.randrange(1, 2**32)
            packets, what = _stream(rng, variant, count, at + 0.010 + rng.uniform(0, 0.01), ssrc)
            planted[(src, sport, dst, dport, ssrc)] = what
            frames += [
                (round(when * 1e9), _udp_frame(data, src, dst, sport, dport))
                for when, data in packets
            ]
    frames.sort(key=lambda item: item[0])
    with PcapWriter(path, nanosecond=True) as writer:
        for ts_ns, data in frames:
            writer.write(data, START_NS + ts_ns)
    return planted


def tshark_table(path: Path) -> dict[Key, tuple[str, ...]]:
    """Every column of tshark's row per stream: start, end, payload, packets, lost, lost %,
    min/mean/max delta, min/mean/max jitter, problems."""
    out = run("tshark", ["-n", "-r", path, "-q", "-z", "rtp,streams"], timeout=300).stdout
    table: dict[Key, tuple[str, ...]] = {}
    for line in out.splitlines():
        m = _ROW.match(line)
        if m:
            g = m.groups()
            table[(g[2], int(g[3]), g[4], int(g[5]), int(g[6], 16))] = (g[0], g[1], *g[7:])
    return table


def as_tshark_row(stream: dict[str, object]) -> tuple[str, ...]:
    """Our JSON object in tshark's columns (its names, its decimals)."""
    names = [TSHARK_NAMES[str(name)] for name in stream["payload_names"]]  # type: ignore[attr-defined]
    return (
        f"{stream['start_s']:.6f}",
        f"{stream['end_s']:.6f}",
        ", ".join(names),
        str(stream["packets"]),
        str(stream["lost"]),
        f"{stream['lost_percent']:.1f}",
        *(f"{stream[name]:.3f}" for name in FIELDS[2:]),  # delta and jitter, min/mean/max
        "X" if stream["problems"] else "",
    )


@cache
def _made(directory: Path) -> tuple[Path, dict[Key, Planted]]:
    path = directory / "short-calls.pcap"
    return path, write_capture(path)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Key, Planted]]:
    return _made(tmp_path_factory.mktemp("short"))


@pytest.fixture(scope="module")
def ours(capture: tuple[Path, dict[Key, Planted]]) -> dict[Key, dict[str, object]]:
    path, _ = capture
    proc = rtcscope_cli(["streams", path, "--dtmf", "--format", "json"], check=True)
    data = json.loads(proc.stdout)
    rows = data["streams"] if isinstance(data, dict) else data
    return {(s["src"], s["src_port"], s["dst"], s["dst_port"], s["ssrc"]): s for s in rows}


@pytest.mark.peer
def test_every_column_equals_tsharks(
    capture: tuple[Path, dict[Key, Planted]], ours: dict[Key, dict[str, object]]
) -> None:
    path, planted = capture
    assert path.stat().st_size > 4 * 2**20  # more than one of the fast path's 4 MB batches
    theirs = tshark_table(path)
    assert set(theirs) == set(planted)
    assert set(ours) == set(theirs)
    for key, row in theirs.items():
        assert as_tshark_row(ours[key]) == row, key
    # The capture has what it should: every kind of trouble shows in tshark's own columns.
    assert {row[3] for row in theirs.values()} >= {"1", "2", "10", "40"}
    assert any(row[4] != "0" for row in theirs.values())
    assert any(row[-1] == "X" for row in theirs.values())


def test_our_counts_equal_what_was_planted(
    capture: tuple[Path, dict[Key, Planted]], ours: dict[Key, dict[str, object]]
) -> None:
    _, planted = capture
    for key, what in planted.items():
        got = ours[key]
        assert (got["packets"], got["duplicates"], got["reordered"], got["markers"]) == (
            what.packets,
            what.duplicates,
            what.reordered,
            what.markers,
        ), key
        assert got.get("digits", "") == "".join(what.digits), key
    assert sum(w.duplicates for w in planted.values()) > 100
    assert sum(w.reordered for w in planted.values()) > 100


@pytest.mark.peer
def test_digits_equal_tsharks(
    capture: tuple[Path, dict[Key, Planted]], ours: dict[Key, dict[str, object]]
) -> None:
    path, _ = capture
    theirs = tshark_digits(path, [])
    assert len(theirs) == CALLS // 8 * 2
    mine = sorted(
        (d["frame"], d["digit"])
        for s in ours.values()
        for d in s.get("dtmf", [])  # type: ignore[attr-defined]
    )
    assert [digit for _, digit in mine] == theirs
