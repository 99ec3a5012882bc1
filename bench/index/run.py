"""bench/index: how fast ``rtcscope index`` goes, and how fast its canned queries answer.

1. Indexing: ``--copies`` (default 200) captures made from four real ones in tests/data
   (tests/index/generate.py: times shifted, Call-IDs and SSRCs rewritten, written with the
   project's writer), indexed with ``--jobs 1``, ``--jobs 2`` and on a Dask cluster of two
   single-threaded worker processes on 127.0.0.1 (``LocalCluster``). Each run starts from an
   empty index; files/s, MB/s and the ratio to ``--jobs 1`` are printed.
2. A large set (``--big-mb``, default 0 = skipped; the issue's figure is 2048): plain copies
   of the largest shared/test captures up to that many MB, indexed with ``--jobs 2`` and on
   the cluster.
3. Queries: an index of ``--calls`` (default 1,000,000) generated call rows (and one finding
   per 20 calls) of 100 captures over 30 days; each canned filter of ``rtcscope query`` runs
   ``--rounds`` times (default 3) through the same code as the command, and the fastest wall
   times are printed: "query" (open the index, lock it down, run the filter to a count of
   its rows: DuckDB's work) and "fetch" (the same returning every row as Python values, what
   the command does before printing them).

Run: ``.venv/bin/python bench/index/run.py [--copies N] [--big-mb N] [--calls N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import DATA, SHARED_CAPTURES  # noqa: E402
from tests.index.generate import make_copies  # noqa: E402

from rtcscope.index.build import build_index  # noqa: E402
from rtcscope.index.query import CallFilter, calls_sql, run_query  # noqa: E402
from rtcscope.index.schema import schema  # noqa: E402
from rtcscope.index.store import Manifest, ManifestEntry, commit, write_part  # noqa: E402

SOURCES = ("sip-rtp-g729a.pcap", "testbed-busy.pcap", "testbed-good.pcap", "sip-rtp-ilbc.pcap")


def _index_seconds(files: Path, index: Path, **options: Any) -> float:
    """Wall time of one indexing job into an empty ``index`` (removed afterwards)."""
    start = time.perf_counter()
    report = build_index([files], index, **options)
    seconds = time.perf_counter() - start
    assert not report.failed, [r.message for r in report.failed]
    shutil.rmtree(index)
    return seconds


def bench_indexing(files: Path, label: str, work: Path) -> None:
    from distributed import LocalCluster

    paths = [p for p in files.iterdir() if p.is_file()]
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"\n{label}: {len(paths)} files, {size_mb:.1f} MB")
    print(f"{'executor':<22} {'seconds':>8} {'files/s':>8} {'MB/s':>7} {'vs jobs 1':>9}")
    base: float | None = None

    def show(name: str, seconds: float) -> None:
        nonlocal base
        base = base or seconds
        print(
            f"{name:<22} {seconds:8.2f} {len(paths) / seconds:8.1f} {size_mb / seconds:7.2f} "
            f"{base / seconds:9.2f}"
        )

    for jobs in (1, 2):
        show(f"--jobs {jobs}", _index_seconds(files, work / "index", jobs=jobs))
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as cluster:
        seconds = _index_seconds(files, work / "index", scheduler=cluster.scheduler_address)
        show("dask, 2 workers", seconds)


def big_set(target_mb: int, folder: Path) -> Path:
    """Plain copies of the largest captures until ``target_mb`` MB."""
    pool = [p for p in [*DATA.iterdir(), *SHARED_CAPTURES.glob("*")] if p.suffix == ".pcap"]
    pool.sort(key=lambda p: -p.stat().st_size)
    pool = pool[:6]
    folder.mkdir()
    total, n = 0, 0
    while total < target_mb * 1_000_000:
        source = pool[n % len(pool)]
        shutil.copy(source, folder / f"big-{n:05d}-{source.name}")
        total += source.stat().st_size
        n += 1
    return folder


def generated_calls(count: int, parts: int, index: Path) -> None:
    """``count`` call rows (and a finding per 20 calls) of ``parts`` captures over 30 days."""
    rng = np.random.default_rng(19)
    day0 = int(dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    staging = index / ".staging" / "bench"
    entries = []
    per_part = count // parts
    states = np.array(["answered", "failed", "cancelled", "no response", "ACK missing"])
    for part in range(parts):
        capture = f"/captures/bench-{part:04d}.pcap"
        cid = f"{part:016x}"
        n = per_part
        # a capture spans part of one day, as a rotated capture file does
        day_start = day0 + (part % 30) * 86_400 * 10**9
        start = np.sort(day_start + rng.integers(0, 86_400 * 10**9, n))
        state = states[rng.choice(len(states), n, p=[0.8, 0.1, 0.05, 0.03, 0.02])]
        users = rng.integers(33100000000, 33199999999, n)
        calls: dict[str, pa.Array] = {}
        for field in schema("calls"):
            calls[field.name] = pa.nulls(n, field.type)
        calls.update(
            capture=pa.array([capture] * n),
            capture_id=pa.array([cid] * n),
            call_index=pa.array(np.arange(1, n + 1, dtype=np.int32)),
            call_id=pa.array([f"{part}-{i}@bench" for i in range(n)]),
            kind=pa.array(["INVITE"] * n),
            from_uri=pa.array([f"sip:+{u}@sbc{u % 7}.example.net" for u in users]),
            to_uri=pa.array([f"sip:+{u + 17}@carrier.example.com" for u in users]),
            start_time=pa.array(start, pa.timestamp("ns", tz="UTC")),
            state=pa.array(state),
            failed=pa.array(state != "answered"),
            mos=pa.array(np.round(rng.uniform(1.0, 4.5, n), 2)),
            frames=pa.array([[i * 10 + 1, i * 10 + 5] for i in range(n)], pa.list_(pa.int64())),
        )
        days = start.view("datetime64[ns]").astype("datetime64[D]").astype(str)
        table = pa.table(calls, schema=schema("calls"))
        written = []
        for day in sorted(set(days)):
            rel = f"calls/day={day}/part-{cid}-bench.parquet"
            write_part(staging, rel, table.filter(pa.array(days == day)))
            written.append(rel)
        with_finding = np.arange(0, n, 20)
        findings = {f.name: pa.nulls(len(with_finding), f.type) for f in schema("findings")}
        findings.update(
            capture=pa.array([capture] * len(with_finding)),
            capture_id=pa.array([cid] * len(with_finding)),
            call_index=pa.array((with_finding + 1).astype(np.int32)),
            code=pa.array(["ack-not-received"] * len(with_finding)),
            severity=pa.array(["error"] * len(with_finding)),
        )
        rel = f"findings/day={days[0]}/part-{cid}-bench.parquet"
        write_part(staging, rel, pa.table(findings, schema=schema("findings")))
        written.append(rel)
        entries.append(ManifestEntry(capture, 0, 0, "", "ok", written))
    commit(index, staging, Manifest(), entries)


def bench_queries(count: int, rounds: int, work: Path) -> None:
    index = work / "calls-index"
    start = time.perf_counter()
    generated_calls(count, 100, index)
    seconds = time.perf_counter() - start
    print(f"\nqueries on {count:,} generated calls (index written in {seconds:.1f} s)")
    cases = {
        "--from +331234": CallFilter(from_="+331234"),
        "--failed": CallFilter(failed=True),
        "--finding ack-not-received": CallFilter(finding=["ack-not-received"]),
        "--mos-below 3.5": CallFilter(mos_below=3.5),
        "--since/--until (1 day)": CallFilter(
            since=dt.datetime(2024, 5, 10, tzinfo=dt.UTC),
            until=dt.datetime(2024, 5, 11, tzinfo=dt.UTC),
        ),
        "--failed --finding --from": CallFilter(
            from_="sbc3", failed=True, finding=["ack-not-received"]
        ),
    }
    print(f"{'filter':<28} {'rows':>8} {'query s':>8} {'fetch s':>8}")
    for name, chosen in cases.items():
        sql, params = calls_sql(chosen)
        query_s = fetch_s = float("inf")
        rows = 0
        for _ in range(rounds):
            # DuckDB's work: open the index (views, lock-down) and run the filter to the end
            start = time.perf_counter()
            counted = run_query(index, f"SELECT count(*) AS n FROM ({sql})", params, checked=False)
            query_s = min(query_s, time.perf_counter() - start)
            rows = counted.rows[0]["n"]
            # what rtcscope query does before printing: every row as Python values
            start = time.perf_counter()
            run_query(index, sql, params, checked=False)
            fetch_s = min(fetch_s, time.perf_counter() - start)
        print(f"{name:<28} {rows:8d} {query_s:8.3f} {fetch_s:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=0)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        work = Path(tmp)
        copies = work / "copies"
        make_copies([DATA / name for name in SOURCES], args.copies, copies)
        bench_indexing(copies, f"{args.copies} generated captures", work)
        shutil.rmtree(copies)
        if args.big_mb:
            bench_indexing(big_set(args.big_mb, work / "big"), "large set", work)
            shutil.rmtree(work / "big")
        bench_queries(args.calls, args.rounds, work)


if __name__ == "__main__":
    main()
