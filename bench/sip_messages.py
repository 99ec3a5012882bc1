"""What finding the SIP messages of a capture costs, beside tshark.

Builds a capture by tiling real ones (SIP over UDP with RTP, SIP over TCP, SIP over
WebSocket), each copy moved to addresses of its own so every TCP connection is new, then
times in one run:

- ``rtcscope.sip.capture.sip_messages()`` (pipeline + TCP reassembly + SIP/WebSocket framing
  + parsing every message, its SDP included),
- ``tshark -r FILE -Y sip -T fields -e sip.Call-ID`` on the same file,

and checks both found the same number of messages.

Usage: ``.venv/bin/python bench/sip_messages.py [--packets N]`` (default 200,000).
"""

from __future__ import annotations

import argparse
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.peers import run  # noqa: E402

from rtcscope.capture.reader import open_capture  # noqa: E402
from rtcscope.scan.files import sip_messages  # noqa: E402

SHARED = ROOT.parent / "shared" / "captures"
DATA = ROOT / "tests" / "data"
SOURCES = [
    DATA / "SIP_DTMF2.pcap",
    DATA / "aaa.pcap",
    SHARED / "heplify-sip_ipv4_tcp.pcap",
    SHARED / "heplify-sip_tcp_websocket.pcap",
]


def _frames(path: Path) -> list[tuple[int, bytes]]:
    with open_capture(path) as reader:
        return [(r.ts_ns // 1000, bytes(r.data)) for r in reader]


def _readdress(frame: bytes, copy: int) -> bytes:
    """Give each copy its own IPv4 addresses (second and third octets XORed with the copy)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    buf = bytearray(frame)
    for start in (26, 30):
        buf[start + 1] ^= copy & 0xFF
        buf[start + 2] ^= (copy >> 8) & 0xFF
    return bytes(buf)


def build_capture(out: Path, target: int) -> int:
    tile: list[bytes] = []
    for source in SOURCES:
        if source.exists():
            tile += [data for _, data in _frames(source)]
    written = 0
    ts_us = 1_700_000_000 * 1_000_000
    with out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        copy = 0
        while written < target:
            for data in tile:
                frame = _readdress(data, copy)
                ts_us += 100
                f.write(struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame),
                                    len(frame)))  # fmt: skip
                f.write(frame)
                written += 1
            copy += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "sip-bench.pcap"
        count = build_capture(path, args.packets)
        size_mb = path.stat().st_size / 1e6

        start = time.perf_counter()
        ours = sum(1 for _ in sip_messages(path))
        ours_s = time.perf_counter() - start

        start = time.perf_counter()
        tshark_args = ["-n", "-r", path, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"]
        tshark_args += ["-E", "occurrence=a", "-E", "aggregator=\x1f"]
        out = run("tshark", tshark_args, timeout=900).stdout
        tshark_s = time.perf_counter() - start
        theirs = sum(len(line.split("\x1f")) for line in out.splitlines())

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"capture: {count} packets, {size_mb:.1f} MB, tiled from {len(SOURCES)} real captures")
    print(f"{'':28}{'seconds':>9}{'packets/s':>12}{'messages':>10}")
    print(f"{'rtcscope sip_messages()':28}{ours_s:9.2f}{count / ours_s:12.0f}{ours:10}")
    print(f"{'tshark -Y sip':28}{tshark_s:9.2f}{count / tshark_s:12.0f}{theirs:10}")
    print(f"ratio (tshark time / ours): {tshark_s / ours_s:.2f}x; peak RSS {rss_mb:.0f} MB")
    if ours != theirs:
        print(f"MESSAGE COUNTS DIFFER: ours {ours}, tshark {theirs}")
        sys.exit(1)


if __name__ == "__main__":
    main()
