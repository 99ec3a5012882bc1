"""bench/streams: ``rtcscope streams`` against ``tshark -q --enable-heuristic rtp_udp -z
rtp,streams`` on one generated capture.

The capture (``--packets``, default 2,000,000 frames, Ethernet/IPv4/UDP, written with struct):
``--calls`` (default 28) SIP calls over UDP (INVITE with SDP, 200 OK with SDP, ACK, BYE), each
with two G.711 streams (PCMA/PCMU, 20 ms) that lose 1% of their packets (single and bursts)
and arrive with 0-4 ms of jitter, plus ``--opus`` (default 4) Opus streams (PT 111, rtpmap in
the SDP) carrying RFC 8285 one-byte header extensions (audio level, RFC 6464), and RTCP SR
(with a report block) every 5 s per stream on the RTP port + 1. Then each program runs
``--rounds`` times (default 2), alternating, and the fastest wall time is printed with
packets/s and the peak memory of the process tree (the child's VmHWM, or its resident set
plus its children's private pages where larger, as bench/analyze measures it) seen over all
rounds, and the ratio. Lost counts of every stream are compared between the two outputs.

Run: ``.venv/bin/python bench/streams/run.py [--packets N] [--rounds N] [--keep FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.peers import background, rtcscope_background  # noqa: E402

MAC = bytes.fromhex("020000000002020000000001")
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def ipv4_udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    return MAC + b"\x08\x00" + ip + udp


def sip_messages(call: int, a: str, b: str, port_a: int, port_b: int, pt: int) -> list[bytes]:
    codec = {8: "PCMA/8000", 0: "PCMU/8000", 111: "opus/48000/2"}[pt]
    call_id = f"bench-{call}@{a}"

    def sdp(ip: str, port: int) -> bytes:
        return (
            f"v=0\r\no=- {call} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {codec}\r\na=sendrecv\r\n"
        ).encode()

    def msg(start: str, cseq: str, to_tag: str, body: bytes = b"") -> bytes:
        head = (
            f"{start}\r\nVia: SIP/2.0/UDP {a}:5060;branch=z9hG4bK{call}{cseq[0]}\r\n"
            f"From: <sip:a{call}@{a}>;tag=f{call}\r\nTo: <sip:b{call}@{b}>{to_tag}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:a{call}@{a}:5060>\r\n"
            f"Max-Forwards: 70\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    tag = f";tag=t{call}"
    return [
        msg(f"INVITE sip:b{call}@{b} SIP/2.0", "1 INVITE", "", sdp(a, port_a)),
        msg("SIP/2.0 200 OK", "1 INVITE", tag, sdp(b, port_b)),
        msg(f"ACK sip:b{call}@{b} SIP/2.0", "1 ACK", tag),
        msg(f"BYE sip:b{call}@{b} SIP/2.0", "2 BYE", tag),
    ]


def generate(path: Path, packets: int, calls: int, opus: int, seed: int = 7) -> dict[str, int]:
    """Write the capture; returns counts by kind."""
    rng = random.Random(seed)
    streams = []  # [src, dst, sport, dport, pt, ssrc, seq, ts, payload, ext]
    sip: list[tuple[bytes, bytes, bytes]] = []
    for call in range(calls + opus // 2):
        is_opus = call >= calls
        pt = 111 if is_opus else rng.choice([0, 8])
        a = bytes([10, 1, call // 200, call % 200 + 1])
        b = bytes([10, 2, call // 200, call % 200 + 1])
        port_a, port_b = 20000 + 4 * call, 40000 + 4 * call
        sip.append((a, b, b"".join([])))
        for src, dst, sport, dport in ((a, b, port_a, port_b), (b, a, port_b, port_a)):
            ext = b""
            if is_opus:
                # RFC 8285 one-byte form: ID 1 (audio level, 1 byte), ID 3 (3 bytes), padding.
                ext = struct.pack("!HH", 0xBEDE, 2) + bytes([0x10, 0x9E, 0x32, 1, 2, 3, 0, 0])
            payload = bytes(rng.randrange(256) for _ in range(60 if is_opus else 160))
            streams.append(
                [
                    src,
                    dst,
                    sport,
                    dport,
                    pt,
                    rng.randrange(2**32),
                    rng.randrange(65536),
                    rng.randrange(2**32),
                    payload,
                    ext,
                    call,
                ]
            )
    counts = {"rtp": 0, "rtcp": 0, "sip": 0, "lost": 0}
    ticks = packets // len(streams) * 11 // 10 + 10  # losses: run until `packets` written
    t0 = 1_700_000_000_000_000
    written = 0
    with open(path, "wb") as out:
        out.write(PCAP_HEADER)
        buf = bytearray()

        def emit(ts_us: int, frame: bytes) -> None:
            nonlocal written
            buf.extend(
                struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame))
            )
            buf.extend(frame)
            written += 1

        for call, (a, b, _) in enumerate(sip):
            s = streams[2 * call]
            invite, ok, ack, _bye = sip_messages(
                call, ".".join(map(str, a)), ".".join(map(str, b)), s[2], s[3], s[4]
            )
            emit(t0 + call * 100, ipv4_udp(a, b, 5060, 5060, invite))
            emit(t0 + call * 100 + 30, ipv4_udp(b, a, 5060, 5060, ok))
            emit(t0 + call * 100 + 60, ipv4_udp(a, b, 5060, 5060, ack))
            counts["sip"] += 3
        start = t0 + 100_000
        burst = [0] * len(streams)
        for tick in range(ticks):
            base = start + tick * 20_000
            frames = []
            for index, s in enumerate(streams):
                src, dst, sport, dport, pt, ssrc, seq, ts, payload, ext, _ = s
                s[6] = (seq + 1) & 0xFFFF
                s[7] = (ts + (960 if pt == 111 else 160)) & 0xFFFFFFFF
                if burst[index]:
                    burst[index] -= 1
                    counts["lost"] += 1
                    continue
                if rng.random() < 0.01:
                    burst[index] = rng.choice([0, 0, 0, 1, 3])
                    counts["lost"] += 1
                    continue
                first = 0x90 if ext else 0x80
                rtp = struct.pack("!BBHII", first, pt, seq, ts, ssrc) + ext + payload
                arrival = base + index * 37 + rng.randrange(0, 4000)
                frames.append((arrival, ipv4_udp(src, dst, sport, dport, rtp)))
                if tick % 250 == 0:
                    sr = struct.pack(
                        "!BBHIIIIII", 0x81, 200, 12, ssrc, tick, 0, ts, tick, tick * 160
                    )
                    block = struct.pack("!IIIIII", streams[index ^ 1][5], 0, seq, 40, 0, 0)
                    frames.append(
                        (arrival + 5, ipv4_udp(src, dst, sport + 1, dport + 1, sr + block))
                    )
            frames.sort()
            for arrival, frame in frames:
                emit(arrival, frame)
                if len(frame) > 150 or frame[42] != 0x81:
                    counts["rtp"] += 1
                else:
                    counts["rtcp"] += 1
            if len(buf) > 1 << 22:
                out.write(buf)
                buf.clear()
            if written >= packets:
                break
        end = start + ticks * 20_000
        for call, (a, b, _) in enumerate(sip):
            s = streams[2 * call]
            bye = sip_messages(
                call, ".".join(map(str, a)), ".".join(map(str, b)), s[2], s[3], s[4]
            )[3]
            emit(end + call * 100, ipv4_udp(a, b, 5060, 5060, bye))
            counts["sip"] += 1
        out.write(buf)
        out.flush()
        os.fsync(out.fileno())
    counts["packets"] = written
    return counts


def _proc_kb(path: str, fields: tuple[str, ...]) -> dict[str, int]:
    """These ``kB`` fields of a /proc file, read once (those it lacks left out; none when the
    process is gone)."""
    found: dict[str, int] = {}
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name in fields:
                found[name] = found.get(name, 0) + int(value.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return found


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (a child's children too), from the kernel's lists: one
    per thread (proc(5): /proc/P/task/T/children holds the children thread T forked), so a
    child forked by any thread is found."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        kids: list[int] = []
        for listing in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids += [int(word) for word in listing.read_text().split()]
            except (OSError, ValueError):  # the thread or the process ended meanwhile
                continue
        found += kids
        todo += kids
    return found


def _tree_kb(pid: int) -> int:
    """The peak memory of ``pid`` and its descendants as far as one look now tells: the
    larger of its own peak (VmHWM) and its resident set now plus each descendant's private
    pages (those a forked child shares with it unchanged are counted once, in it); one read
    of its status file. 0 when it is gone."""
    status = _proc_kb(f"/proc/{pid}/status", ("VmHWM", "VmRSS"))
    tree = status.get("VmRSS", 0)
    for child in _descendants(pid):
        private = _proc_kb(f"/proc/{child}/smaps_rollup", ("Private_Clean", "Private_Dirty"))
        tree += sum(private.values())
    return max(status.get("VmHWM", 0), tree)


def measure(name: str, args: list[str], workdir: Path) -> tuple[float, float, str]:
    """(wall seconds, peak MB, stdout) of one run: the peak of the process tree's memory
    (:func:`_tree_kb`, sampled every 5 ms: a program that forks workers is charged for
    them)."""
    log = workdir / f"{name}.log"
    context = (
        rtcscope_background(args, log)
        if name == "rtcscope"
        else background(name, args, log, max_seconds=3600)
    )
    peak_kb = 0
    start = time.perf_counter()
    with context as proc:
        while proc.poll() is None:
            peak_kb = max(peak_kb, _tree_kb(proc.pid))
            time.sleep(0.005)
    elapsed = time.perf_counter() - start
    return elapsed, peak_kb / 1024, log.read_text()


TSHARK_ROW = re.compile(
    r"\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-F]+)\s+.*?\s+(\d+)\s+(-?\d+) \("
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=2_000_000)
    parser.add_argument("--calls", type=int, default=28)
    parser.add_argument("--opus", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        capture = opts.keep or workdir / "streams.pcap"
        started = time.perf_counter()
        counts = generate(capture, opts.packets, opts.calls, opts.opus)
        size_mb = capture.stat().st_size / 1e6
        print(
            f"capture: {counts['packets']:,} packets ({counts['rtp']:,} RTP in "
            f"{2 * (opts.calls + opts.opus // 2)} streams, {counts['rtcp']:,} RTCP, "
            f"{counts['sip']} SIP; {counts['lost']:,} RTP packets left out), {size_mb:.0f} MB, "
            f"made in {time.perf_counter() - started:.1f} s"
        )
        programs = {
            "rtcscope": ["streams", str(capture), "--format", "json"],
            "tshark": [
                "-n",
                "-r",
                str(capture),
                "-q",
                "--enable-heuristic",
                "rtp_udp",
                "-z",
                "rtp,streams",
            ],
        }
        best: dict[str, tuple[float, float, str]] = {}
        for round_index in range(opts.rounds):
            order = list(programs) if round_index % 2 == 0 else list(reversed(programs))
            for name in order:
                elapsed, peak, out = measure(name, programs[name], workdir)
                previous = best.get(name)
                if previous is None or elapsed < previous[0]:
                    best[name] = (elapsed, max(peak, previous[1] if previous else 0.0), out)
                else:
                    best[name] = (previous[0], max(peak, previous[1]), previous[2])
        ours_lost = {
            (s["src"], s["src_port"], s["dst"], s["dst_port"], s["ssrc"]): s["lost"]
            for s in json.loads(best["rtcscope"][2])
        }
        theirs_lost = {}
        for line in best["tshark"][2].splitlines():
            m = TSHARK_ROW.match(line)
            if m:
                g = m.groups()
                theirs_lost[(g[0], int(g[1]), g[2], int(g[3]), int(g[4], 16))] = int(g[6])
        print(f"{'program':<44} {'wall s':>8} {'packets/s':>12} {'peak MB':>8}")
        for name, label in (
            ("rtcscope", "rtcscope streams --format json"),
            ("tshark", "tshark -q --enable-heuristic rtp_udp -z rtp,streams"),
        ):
            elapsed, peak, _ = best[name]
            rate = counts["packets"] / elapsed
            print(f"{label:<44} {elapsed:8.2f} {rate:12,.0f} {peak:8.1f}")
        ratio = best["tshark"][0] / best["rtcscope"][0]
        print(f"rtcscope is {ratio:.2f}x tshark's speed (target >= 5x, peak < 150 MB)")
        same = ours_lost == theirs_lost
        print(
            f"streams: rtcscope {len(ours_lost)}, tshark {len(theirs_lost)}; lost counts "
            + ("equal for every stream" if same else "DIFFER")
            + f" (total lost {sum(theirs_lost.values()):,})"
        )
        if not same:
            for key in sorted(set(ours_lost) | set(theirs_lost)):
                if ours_lost.get(key) != theirs_lost.get(key):
                    print(f"  {key}: rtcscope {ours_lost.get(key)} tshark {theirs_lost.get(key)}")


if __name__ == "__main__":
    main()
