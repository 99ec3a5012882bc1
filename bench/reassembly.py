"""What reassembly, tunnels and dedup cost on the capture read path, beside tshark.

Builds a capture by tiling real ones (SIP over TCP, SIP + RTP over UDP, SIP datagrams in
shuffled IPv4 fragments, VXLAN and ERSPAN II mirrors), each copy with its own addresses so
every datagram and connection is new, then times in one run:

- records -> decode only (no defragmentation),
- ``pipeline.packets()`` (tunnels + defragmentation: the default every consumer gets),
- the same with ``dedup=True``,
- the same feeding every packet to ``TcpReassembler``,
- ``tshark -r FILE -q`` (its default: IP and TCP reassembly on) on the same file.

Usage: ``.venv/bin/python bench/reassembly.py [--packets N]`` (default 400,000).
Prints packets/s and MB/s for each, the ratio to tshark, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.capture.made_captures import make_fragmented_sip, make_tunnel  # noqa: E402
from tests.peers import run  # noqa: E402

from rtcscope.capture.decode import decode  # noqa: E402
from rtcscope.capture.pipeline import PipelineReport, packets  # noqa: E402
from rtcscope.capture.reader import open_capture  # noqa: E402
from rtcscope.capture.tcp import TcpReassembler  # noqa: E402

SHARED = ROOT.parent / "shared" / "captures"
DATA = ROOT / "tests" / "data"


def _records(path: Path) -> list[bytes]:
    with open_capture(path) as reader:
        return [bytes(r.data) for r in reader]


def _readdress(frame: bytes, copy: int) -> bytes:
    """Move the outer IPv4 source and destination into a network of their own per copy."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    octet2, octet3 = copy & 0xFF, (copy >> 8) & 0xFF
    buf = bytearray(frame)
    for start in (26, 30):
        buf[start + 1] ^= octet2
        buf[start + 2] ^= octet3
    return bytes(buf)


def build_capture(out: Path, target: int, work: Path) -> tuple[int, int]:
    """Tile the sources into ``out`` (Ethernet pcap, microsecond stamps); (packets, bytes)."""
    opus = DATA / "sip-rtp-opus.pcap"
    sources = [opus]
    tcp = SHARED / "heplify-sip_ipv4_tcp.pcap"
    if tcp.exists():
        sources.append(tcp)
    fragments = work / "fragments.pcap"
    make_fragmented_sip(opus, fragments, 4)
    sources.append(fragments)
    for kind in ("vxlan", "erspan2"):
        made = work / f"{kind}.pcap"
        make_tunnel(opus, made, kind, count=100)
        sources.append(made)
    tile = [frame for source in sources for frame in _records(source)]
    written = size = 0
    ts_us = 1_700_000_000 * 1_000_000
    with out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        copy = 0
        while written < target:
            for frame in tile:
                frame = _readdress(frame, copy)
                ts_us += 20
                f.write(
                    struct.pack(
                        "<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)
                    )
                )
                f.write(frame)
                written += 1
                size += len(frame) + 16
                if written >= target:
                    break
            copy += 1
    return written, size


def timed(
    label: str, count: Callable[[], int], size: int, results: list[tuple[str, float, int]]
) -> None:
    start = time.perf_counter()
    n = count()
    seconds = time.perf_counter() - start
    results.append((label, seconds, n))
    print(_figures(label, n, seconds, size))


def _figures(label: str, n: int, seconds: float, size: int) -> str:
    rate, mb_s = n / seconds, size / seconds / 1e6
    return f"{label:<44} {n:>9} pkts {seconds:7.2f} s {rate:>10,.0f} pkt/s {mb_s:7.1f} MB/s"


def count(iterable: Iterable[object]) -> int:
    return sum(1 for _ in iterable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=400_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        capture = work / "bench-reassembly.pcap"
        n, size = build_capture(capture, args.packets, work)
        print(f"capture: {n} packets, {size / 1e6:.1f} MB ({capture.name})")
        results: list[tuple[str, float, int]] = []

        def decode_only() -> int:
            with open_capture(capture) as reader:
                return count(decode(r) for r in reader)

        report = PipelineReport()
        dedup_report = PipelineReport()
        timed("records -> decode (no reassembly)", decode_only, size, results)
        timed(
            "pipeline.packets() (tunnels + defrag)",
            lambda: count(packets(capture, report=report)),
            size,
            results,
        )
        timed(
            "pipeline.packets(dedup=True)",
            lambda: count(packets(capture, dedup=True, report=dedup_report)),
            size,
            results,
        )

        def with_tcp() -> int:
            reassembler = TcpReassembler()
            n = 0
            for packet in packets(capture):
                n += 1
                if packet.tcp is not None:
                    reassembler.feed(packet)
            reassembler.flush()
            return n

        timed("pipeline.packets() + TcpReassembler", with_tcp, size, results)
        start = time.perf_counter()
        run("tshark", ["-n", "-r", capture, "-q"], timeout=3600)
        tshark_s = time.perf_counter() - start
        print(_figures("tshark -r FILE -q (reassembly on)", n, tshark_s, size))
        print()
        for label, seconds, _ in results:
            print(f"{label:<44} {tshark_s / seconds:5.2f}x tshark's speed")
        print()
        for line in report.summary():
            print(line)
        # The VXLAN and ERSPAN tiles mirror the same 100 packets 2 ms apart: dedup drops one.
        print(f"dedup: {dedup_report.dedup.duplicates} duplicate packets dropped")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (all runs): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
