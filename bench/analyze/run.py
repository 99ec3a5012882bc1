"""bench/analyze: the main job and the commands a user runs, against tshark, at real sizes.

Captures (fixed seeds, written with struct for speed):

(a) bench/streams' capture: ``--packets`` (default 2,000,000) frames, 28 G.711 calls and 4
    Opus streams with loss, jitter, RTCP SR, SIP over UDP;
(b) ``--calls`` (default 20,000) short SIP calls, one starting every 5 ms (bench/analyze/
    callgen.py: 80% answered with 10 PCMA packets each way, 4% with the 200 resent, 10% busy,
    5% timing out, 1% with the INVITE resent before the 100).

On each, alternating, best of ``--rounds`` (default 3): ``rtcscope analyze FILE``,
``rtcscope analyze FILE -o DIR``, ``calls``, ``diagnose``, ``streams`` (all ``--format json``
where they have it), ``tshark -n -q -z sip,stat -z rtp,streams`` (one run, both taps; on (a)
with ``--enable-heuristic rtp_udp``) and ``tshark -n -q -z sip,stat``. Wall time, CPU time
(user+sys, from the kernel's accounting of the finished child: steadier than wall time on a
busy machine) and peak memory of the process tree (``measure``) are printed with the
ratios the targets name. Then the scaling runs: ``analyze`` on (a) at 0.5M, 1M, 2M, 4M
packets and ``calls`` on (b) at 5k, 10k, 20k calls (one run each), with the per-packet and
per-call slopes.

Run: ``.venv/bin/python bench/analyze/run.py [--packets N] [--calls N] [--rounds N]
[--no-scaling] [--only a|b]``; ``make bench`` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "analyze"))
sys.path.insert(0, str(ROOT / "bench" / "streams"))

from callgen import generate as generate_calls  # noqa: E402
from run import _tree_kb  # noqa: E402
from run import generate as generate_streams  # noqa: E402
from tests.peers import background, rtcscope_background  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(program: str, args: list[str], workdir: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MB) of one run: the peak of the process tree's memory (bench/
    streams' _tree_kb: VmHWM of the process, and its resident set plus its children's
    private pages, sampled every 5 ms: a program that forks workers is charged for them)."""
    log = workdir / "run.log"
    context = (
        rtcscope_background(args, log)
        if program == "rtcscope"
        else background(program, args, log, max_seconds=7200)
    )
    peak_kb = 0
    cpu_before = _children_cpu()
    start = time.perf_counter()
    with context as proc:
        while proc.poll() is None:
            peak_kb = max(peak_kb, _tree_kb(proc.pid))
            time.sleep(0.005)
        code = proc.returncode
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    if code not in (0, 1):  # diagnose exits 1 when it finds an error
        print(f"  !! {program} {' '.join(args[:2])} exited {code}: {log.read_text()[-400:]}")
    return elapsed, cpu, peak_kb / 1024


def commands(capture: Path, out_dir: Path, heuristic: bool) -> dict[str, tuple[str, list[str]]]:
    f = str(capture)
    both = ["-n", "-q", "-r", f, "-z", "sip,stat", "-z", "rtp,streams"]
    if heuristic:
        both[1:1] = ["--enable-heuristic", "rtp_udp"]
    return {
        "rtcscope analyze": ("rtcscope", ["analyze", f, "--format", "json"]),
        "rtcscope analyze -o DIR": (
            "rtcscope",
            ["analyze", f, "--format", "json", "-o", str(out_dir)],
        ),
        "rtcscope calls": ("rtcscope", ["calls", f, "--format", "json"]),
        "rtcscope diagnose": ("rtcscope", ["diagnose", f, "--format", "json"]),
        "rtcscope streams": ("rtcscope", ["streams", f, "--format", "json"]),
        "tshark sip,stat + rtp,streams": ("tshark", both),
        "tshark sip,stat": ("tshark", ["-n", "-q", "-r", f, "-z", "sip,stat"]),
    }


def run_set(
    label: str, capture: Path, workdir: Path, rounds: int, heuristic: bool
) -> dict[str, tuple[float, float, float]]:
    runs = commands(capture, workdir / "out", heuristic)
    best: dict[str, tuple[float, float, float]] = {}
    for round_index in range(rounds):
        order = list(runs) if round_index % 2 == 0 else list(reversed(runs))
        for name in order:
            program, args = runs[name]
            wall, cpu, peak = measure(program, args, workdir)
            old = best.get(name)
            if old is None:
                best[name] = (wall, cpu, peak)
            else:
                best[name] = (min(old[0], wall), min(old[1], cpu), max(old[2], peak))
    print(f"\n{label}")
    print(f"{'program':<34} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name, (wall, cpu, peak) in best.items():
        print(f"{name:<34} {wall:8.2f} {cpu:8.2f} {peak:8.1f}")
    both = best["tshark sip,stat + rtp,streams"]
    sip = best["tshark sip,stat"]
    for ours, theirs, theirs_name in (
        ("rtcscope analyze", both, "tshark both taps"),
        ("rtcscope calls", sip, "tshark sip,stat"),
        ("rtcscope diagnose", sip, "tshark sip,stat"),
    ):
        wall, cpu, peak = best[ours]
        print(
            f"{ours} vs {theirs_name}: {theirs[0] / wall:.2f}x by wall time, "
            f"{theirs[1] / cpu:.2f}x by CPU time; peak {peak:.0f} MB vs {theirs[2]:.0f} MB"
        )
    return best


def scaling(workdir: Path, packets: list[int], calls: list[int]) -> None:
    print("\nscaling (one run each; CPU seconds)")
    points: list[tuple[int, float, float]] = []
    for n in packets:
        capture = workdir / f"a-{n}.pcap"
        generate_streams(capture, n, 28, 4)
        wall, cpu, peak = measure(
            "rtcscope", ["analyze", str(capture), "--format", "json"], workdir
        )
        points.append((n, cpu, peak))
        print(
            f"  analyze (a) {n:>9,} packets: {wall:7.2f} s wall, {cpu:7.2f} s CPU, {peak:6.1f} MB"
        )
        capture.unlink()
    startup = measure("rtcscope", ["info", "--help"], workdir)[1]
    for small, big in ((0, 2), (1, 3)):
        if big < len(points):
            ratio = points[big][1] / points[small][1]
            print(f"  {points[small][0]:,} -> {points[big][0]:,} packets: {ratio:.2f}x the time")
    if len(points) >= 2:
        slope = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
        print(f"  per-packet slope: {slope * 1e6:.2f} us CPU/packet (start-up {startup:.2f} s)")
    call_points: list[tuple[int, float, float]] = []
    for n in calls:
        capture = workdir / f"b-{n}.pcap"
        generate_calls(capture, n)
        wall, cpu, peak = measure("rtcscope", ["calls", str(capture), "--format", "json"], workdir)
        call_points.append((n, cpu, peak))
        print(f"  calls (b) {n:>7,} calls: {wall:7.2f} s wall, {cpu:7.2f} s CPU, {peak:6.1f} MB")
        capture.unlink()
    if len(call_points) >= 2:
        (n0, c0, m0), (n1, c1, m1) = call_points[0], call_points[-1]
        print(
            f"  per-call slope: {(c1 - c0) / (n1 - n0) * 1e3:.2f} ms CPU/call, "
            f"{(m1 - m0) / (n1 - n0) * 1024:.1f} KB/call"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=2_000_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("a", "b"), default=None)
    parser.add_argument("--no-scaling", action="store_true")
    opts = parser.parse_args()
    os.environ.setdefault("COLUMNS", "120")
    # As an installed package is (pip byte-compiles at install): without this, a shell with
    # PYTHONDONTWRITEBYTECODE=1 makes every timed run compile the sources (~0.15 s each).
    compileall.compile_dir(str(ROOT / "src" / "rtcscope"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="rtcscope-bench-") as tmp:
        workdir = Path(tmp)
        if opts.only in (None, "a"):
            capture = workdir / "a.pcap"
            counts = generate_streams(capture, opts.packets, 28, 4)
            print(f"(a) {counts['packets']:,} packets, {capture.stat().st_size / 1e6:.0f} MB")
            run_set("(a) media-heavy", capture, workdir, opts.rounds, heuristic=True)
            capture.unlink()
        if opts.only in (None, "b"):
            capture = workdir / "b.pcap"
            counts = generate_calls(capture, opts.calls)
            print(
                f"(b) {opts.calls:,} calls, {counts['packets']:,} packets "
                f"({counts['sip']:,} SIP), {capture.stat().st_size / 1e6:.0f} MB"
            )
            run_set("(b) SIP-heavy", capture, workdir, opts.rounds, heuristic=False)
            capture.unlink()
        if not opts.no_scaling:
            scaling(
                workdir,
                [opts.packets // 4, opts.packets // 2, opts.packets, opts.packets * 2],
                [opts.calls // 4, opts.calls // 2, opts.calls],
            )


if __name__ == "__main__":
    main()
