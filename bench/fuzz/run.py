"""The long mutation campaign (issue 16): every capture of tests/data and ../shared/captures,
mutated (truncations, bit flips, byte insertions and deletions, records resized with their
lengths fixed, absurd pcap/pcapng lengths, file-header lies, extreme numbers in SIP/SDP text,
duplicated records, gzip and cut gzip), run through every capture-reading command:
info/streams/calls/diagnose/extract/analyze/split/``hep send`` by their library entry points
on every input (half of them read a second time with --dedup --no-reassembly, or with every
SIP/RTP port forced to RTP), and one CLI command line (typer's CliRunner, in process) on every
``--cli-every``-th. First the gzip bombs (10 GB inflated: zeros alone, behind a pcap header,
64 KiB frames of zeros, a 16 MiB record header, a pcapng block claiming 4 GB), each in its
own child, bounded by ``--bomb-s``.

Inputs run in child processes (multiprocessing, spawned), a batch of 50 each; a child
reports every input on a pipe, and one that says nothing for ``--hang-s`` seconds is killed
and its input kept as a hang. A child's address space is capped (``--rss-limit-mb``,
RLIMIT_AS) so that a runaway allocation is a MemoryError (a crash) rather than a swapped
machine. Peak memory is the largest ``ru_maxrss`` of the children
(resource.getrusage(RUSAGE_CHILDREN)).

A crash: an exception that is not an RtcscopeError, a CLI exit code outside {0, 1, 2, 3} or a
traceback, a child that dies. Each crashing or hanging input is written to ``--out`` (default
bench/fuzz/found/) with a .txt saying what happened and which mutators made it.

Usage: ``nice .venv/bin/python bench/fuzz/run.py [--minutes 10] [--seed 1] [--out DIR]``.
Prints executions, crashes, hangs and peak memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.mutation import (  # noqa: E402
    Crash,
    cli_commands,
    corpus,
    exercise_cli,
    exercise_library,
    gzip_bombs,
    hep_sink,
    load,
    maybe_gzip,
    mutate,
)

BATCH = 50  # inputs per child before a fresh one (bounds what a slow leak can do)
Line = dict[str, Any]


def _limit_memory(rss_limit_mb: int) -> None:
    limit = rss_limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _keep(out: Path, stem: str, data: bytes | None, text: str) -> None:
    """Write an input that crashed or hung (``stem``.pcap) and what happened (``stem``.txt)."""
    out.mkdir(parents=True, exist_ok=True)
    if data is not None:
        (out / f"{stem}.pcap").write_bytes(data)
    (out / f"{stem}.txt").write_text(text)


def child(
    report: Connection, workdir: Path, out: Path, seed: int, first: int, cli_every: int, mb: int
) -> None:
    """Run inputs ``first`` .. ``first + BATCH - 1`` of ``seed``; one line each on ``report``;
    the input being run is in ``workdir``/current (the parent keeps it if the child hangs
    or dies); a crashing input is written to ``out`` here."""
    _limit_memory(mb)
    captures = corpus()
    originals = {p: load(p) for p in captures}
    with hep_sink() as hep:
        for index in range(first, first + BATCH):
            rng = random.Random(f"{seed}:{index}")
            capture = rng.choice(captures)
            data, names = mutate(originals[capture], rng, rounds=rng.choice([1, 1, 2, 3]))
            data = maybe_gzip(data, rng)
            per_packet = rng.random() < 0.2
            variant = rng.choice([None, None, 0, 1])
            which = rng.randrange(len(cli_commands(capture, workdir, hep)))
            cli = cli_every > 0 and index % cli_every == 0
            (workdir / "current").write_bytes(data)
            run_dir = workdir / "run"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir()
            path = run_dir / "input.pcap"
            path.write_bytes(data)
            line: Line = {
                "index": index,
                "status": "ok",
                "capture": capture.name,
                "mutators": names,
                "per_packet": per_packet,
                "variant": variant,
                "cli": " ".join(cli_commands(capture, run_dir, hep)[which][:2]) if cli else None,
            }
            try:
                exercise_library(path, run_dir, per_packet=per_packet, variant=variant)
                if cli:
                    exercise_cli(path, run_dir, hep, which)
            except Crash as exc:
                line["status"] = "crash"
                trace = traceback.format_exception(exc.__cause__ or exc)
                line["message"] = (str(exc) + "\n" + "".join(trace))[-6000:]
            except BaseException as exc:  # MemoryError, RecursionError, ...
                line["status"] = "crash"
                line["message"] = "".join(traceback.format_exception(exc))[-6000:]
            if line["status"] != "ok":
                _keep(out, f"crash-{seed}-{index}", data, json.dumps(line, indent=1))
            report.send(line)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bomb_child(report: Connection, workdir: Path, name: str, mb: int) -> None:
    """Read one gzip bomb: the full scan every command starts with, reporting its progress
    (inflated bytes and resident memory, every 256 MiB), then the commands' work on its
    model (calls, diagnose, the analyze sections); one last line with what the scan said."""
    from rtcscope.analyze import AnalyzeOptions, run_sections
    from rtcscope.scan import ScanOptions, scan

    _limit_memory(mb)
    path = workdir / f"{name}.pcap.gz"
    step = 256 << 20
    next_report = [step]

    def progress(offset: int) -> None:
        if offset >= next_report[0]:
            next_report[0] = offset + step
            report.send({"progress": offset, "rss_mb": round(_rss_mb(), 1)})

    line: Line = {"index": name, "status": "ok"}
    try:
        model = scan(path, ScanOptions(keep_going=True), progress=progress)
        try:
            model.calls()
            model.diagnosis(None)
            run_sections(model, AnalyzeOptions())
            line["packets"] = model.info.counts.packets
            line["fault"] = str(model.faults[0]) if model.faults else ""
        finally:
            model.close()
    except BaseException as exc:
        trace = "".join(traceback.format_exception(exc))
        line = {"index": name, "status": "crash", "message": trace}
    line["rss_mb"] = round(_rss_mb(), 1)
    report.send(line)


@contextlib.contextmanager
def _killed_on_exit(proc: Any) -> Iterator[None]:
    """The child is killed if the parent is interrupted (SIGINT, SIGTERM) while it runs."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    except BaseException:
        proc.kill()
        proc.join()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


class Campaign:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.out = Path(args.out)
        self.context = multiprocessing.get_context("spawn")
        self.executions = 0
        self.crashes = 0
        self.hangs = 0
        self.by_mutator: dict[str, int] = {}

    def spawn(self, target: Any, *args: Any) -> tuple[Any, Connection]:
        receiver, sender = self.context.Pipe(duplex=False)
        proc = self.context.Process(target=target, args=(sender, *args), daemon=True)
        proc.start()
        sender.close()
        return proc, receiver

    def watch(
        self, proc: Any, pipe: Connection, hang_s: float, total_s: float | None = None
    ) -> tuple[list[Line], str | None]:
        """A child's lines until it ends, and "hang" (no line for ``hang_s``), "bound"
        (still reporting after ``total_s``) or "died ..." when it did not end by itself."""
        lines: list[Line] = []
        end = None if total_s is None else time.monotonic() + total_s
        with pipe, _killed_on_exit(proc):
            while True:
                wait = hang_s if end is None else min(hang_s, max(0.0, end - time.monotonic()))
                if not pipe.poll(wait):
                    proc.kill()
                    proc.join()
                    bound = end is not None and time.monotonic() >= end
                    return lines, "bound" if bound else "hang"
                try:
                    lines.append(pipe.recv())
                except EOFError:
                    break
        proc.join()
        return lines, (None if proc.exitcode == 0 else f"died with exit {proc.exitcode}")

    def run_batches(self, deadline: float) -> None:
        index = 0
        slot = self.workdir / "slot"
        slot.mkdir()
        while time.monotonic() < deadline:
            args = (slot, self.out, self.args.seed, index, self.args.cli_every)
            proc, pipe = self.spawn(child, *args, self.args.rss_limit_mb)
            lines, trouble = self.watch(proc, pipe, self.args.hang_s)
            for line in lines:
                self.executions += 1
                if line["status"] != "ok":
                    self.crashes += 1
                    for name in line["mutators"]:
                        self.by_mutator[name] = self.by_mutator.get(name, 0) + 1
                    first = str(line["message"]).splitlines()[0][:200]
                    print(f"crash at input {line['index']}: {first}", flush=True)
            index += len(lines)
            if trouble is not None:
                current = slot / "current"
                data = current.read_bytes() if current.exists() else b""
                self.executions += 1
                if trouble == "hang":
                    self.hangs += 1
                else:
                    self.crashes += 1
                kind = trouble.split()[0]
                _keep(
                    self.out, f"{kind}-{self.args.seed}-{index}", data, f"input {index}: {trouble}"
                )
                print(f"{trouble} at input {index}", flush=True)
                index += 1

    def run_bombs(self) -> None:
        """Each bomb in its own child: refused, read to the end, or still reading in flat
        memory when ``--bomb-s`` is up (a bomb of 16-byte empty records is 625 million
        records: linear time, as tshark; the memory is what must stay bounded)."""
        slot = self.workdir / "bombs"
        slot.mkdir()
        for name, data in gzip_bombs(self.args.bomb_bytes).items():
            (slot / f"{name}.pcap.gz").write_bytes(data)
            started = time.monotonic()
            proc, pipe = self.spawn(bomb_child, slot, name, self.args.rss_limit_mb)
            lines, trouble = self.watch(proc, pipe, self.args.hang_s, self.args.bomb_s)
            took = time.monotonic() - started
            self.executions += 1
            progress = [line for line in lines if "progress" in line]
            done = [line for line in lines if "status" in line]
            read = f"{progress[-1]['progress'] / 1e9:.2f} GB" if progress else "0 GB"
            rss = [float(line["rss_mb"]) for line in progress]
            memory = f", RSS {min(rss):.0f}..{max(rss):.0f} MB" if rss else ""
            head = f"gzip bomb {name} ({len(data):,} bytes)"
            if trouble == "bound" and progress:
                print(f"{head}: still reading at {read} after {took:.0f} s{memory}; stopped")
            elif trouble is not None:
                self.hangs += trouble in ("hang", "bound")
                self.crashes += trouble.startswith("died")
                print(f"{head}: {trouble} after {took:.0f} s ({read} read)")
                _keep(self.out, f"{trouble.split()[0]}-bomb-{name}", None, trouble)
            elif done and done[0]["status"] != "ok":
                self.crashes += 1
                print(f"{head}: crash: {str(done[0]['message'])[-300:]}")
                _keep(self.out, f"crash-bomb-{name}", None, str(done[0]["message"]))
            else:
                result = done[0] if done else {}
                fault = str(result.get("fault") or "").replace(f"{slot}/", "")
                packets = f"{result.get('packets', 0):,} packets"
                what = f"refused ({packets}): {fault}" if fault else f"read to the end ({packets})"
                end_rss = f"RSS {result.get('rss_mb')} MB at the end"
                print(f"{head}: {what} in {took:.1f} s{memory}, {end_rss}")
            (slot / f"{name}.pcap.gz").unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "fuzz" / "found"))
    parser.add_argument("--hang-s", type=float, default=60.0, help="one input's bound")
    parser.add_argument("--bomb-s", type=float, default=150.0, help="one gzip bomb's bound")
    parser.add_argument("--bomb-bytes", type=int, default=10 * 10**9)
    parser.add_argument("--no-bombs", action="store_true")
    parser.add_argument("--cli-every", type=int, default=4, help="a CLI run every N inputs")
    parser.add_argument("--rss-limit-mb", type=int, default=3072, help="a child's RLIMIT_AS")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rtcscope-fuzz-") as tmp:
        campaign = Campaign(args, Path(tmp))
        print(f"corpus: {len(corpus())} captures; seed {args.seed}; {args.minutes} min", flush=True)
        if not args.no_bombs:
            campaign.run_bombs()
        campaign.run_batches(started + args.minutes * 60)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"executions: {campaign.executions}")
    print(f"crashes: {campaign.crashes}")
    print(f"hangs: {campaign.hangs}")
    print(f"peak memory (largest child ru_maxrss): {peak_mb:.0f} MB")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    if campaign.by_mutator:
        print("crashes by mutator:", json.dumps(campaign.by_mutator, sort_keys=True))
    return 1 if campaign.crashes or campaign.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
