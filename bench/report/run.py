"""bench/report: ``rtcscope report`` on a generated capture with many calls: wall time, peak
memory, page size, and how many calls the table lists and get a section.

The capture is bench/streams' generator (``--calls`` G.711 calls, each with two streams that
lose 1 % of their packets, RTCP every 5 s; ``--packets`` frames in all). The page lists at
most 1000 calls and writes sections (ladder, messages, plots) for at most 200.

Run: ``.venv/bin/python bench/report/run.py [--calls N] [--packets N] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.streams.run import generate  # noqa: E402
from tests.peers import rtcscope_background  # noqa: E402


def _peak_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--packets", type=int, default=300_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep capture and page here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        capture = folder / "report-bench.pcap"
        counts = generate(capture, args.packets, args.calls, 0)
        page = folder / "report-bench.html"
        log = folder / "report-bench.log"
        started = time.monotonic()
        peak = 0
        with rtcscope_background(["report", capture, "-o", page, "--no-audio"], log) as proc:
            while proc.poll() is None:
                peak = max(peak, _peak_kb(proc.pid))
                time.sleep(0.2)
        wall = time.monotonic() - started
        text = page.read_text()
        rows = text.split('<table class="calls">', 1)[1].split("</table>", 1)[0].count("<tr>") - 1
        sections = len(re.findall(r'<section class="call"', text))
        print(f"capture: {capture.stat().st_size / 1e6:.1f} MB, {counts}")
        print(
            f"rtcscope report: {wall:.1f} s, peak RSS {peak / 1024:.0f} MB, page "
            f"{len(text.encode()) / 1e6:.1f} MB, {rows} calls listed, {sections} sections"
        )


if __name__ == "__main__":
    main()
