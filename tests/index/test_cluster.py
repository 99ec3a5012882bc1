"""The index on a real Dask cluster: a scheduler and two worker processes (each under its
nanny) on loopback, 200 captures made from real ones, and one worker process killed with
SIGKILL mid-job. The job completes and its tables equal the local run's."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rtcscope.index.build import FileResult, build_index
from rtcscope.index.schema import TABLES
from rtcscope.index.store import MANIFEST, read_manifest
from tests.conftest import DATA
from tests.index.generate import make_copies

SOURCES = ("sip-rtp-g729a.pcap", "testbed-busy.pcap", "testbed-good.pcap", "sip-rtp-ilbc.pcap")
COPIES = 200


def table_rows(index: Path, table: str) -> list[str]:
    """Every row of a table (its committed parts), as sorted JSON text."""
    rows: list[str] = []
    for part in read_manifest(index).parts(table):
        day = part.split("/")[1] if part.count("/") == 2 else None
        for row in pq.read_table(index / part).to_pylist():
            rows.append(json.dumps({**row, "day": day}, sort_keys=True, default=str))
    return sorted(rows)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("copies")
    make_copies([DATA / name for name in SOURCES], COPIES, folder)
    return folder


@pytest.mark.slow
def test_cluster_run_with_a_worker_killed_equals_the_local_run(
    copies: Path, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    local = tmp_path / "local"
    local_report = build_index([copies], local, jobs=2)
    assert len(local_report.results) == COPIES and not local_report.failed
    calls = table_rows(local, "calls")
    # Every copy's Call-IDs were rewritten: as many distinct Call-IDs as calls.
    assert len({json.loads(c)["call_id"] for c in calls}) == len(calls) >= COPIES

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
        ) as cluster,
        Client(cluster.scheduler_address) as watcher,
    ):
        pids: dict[str, Any] = watcher.run(os.getpid)
        assert len(pids) == 2 and os.getpid() not in pids.values()
        killed: list[tuple[int, list[str]]] = []

        def kill_one_worker_mid_job(result: FileResult) -> None:
            if killed:
                return
            busy = {w: tasks for w, tasks in watcher.processing().items() if tasks}
            done = sum(1 for p in (tmp_path / "cluster").rglob("*.parquet"))
            if busy and done > 20:
                worker, tasks = next(iter(busy.items()))
                os.kill(pids[worker], signal.SIGKILL)  # the worker process, not its nanny
                killed.append((pids[worker], list(tasks)))

        report = build_index(
            [copies],
            tmp_path / "cluster",
            scheduler=cluster.scheduler_address,
            progress=kill_one_worker_mid_job,
        )
        assert killed, "no worker was killed while it had a task"
        assert killed[0][1], "the killed worker had tasks in progress"
        watcher.wait_for_workers(2, timeout=60)
        assert killed[0][0] not in watcher.run(os.getpid).values()  # the nanny restarted it

    assert report.executor.startswith("dask ")
    assert len(report.results) == COPIES and not report.failed
    cluster_index = tmp_path / "cluster"
    local_manifest = json.loads((local / MANIFEST).read_text())
    assert json.loads((cluster_index / MANIFEST).read_text()) == local_manifest
    for table in TABLES:
        assert table_rows(cluster_index, table) == table_rows(local, table), table
    assert not list(cluster_index.rglob("*.tmp")), "a half-written part is left"


def test_a_scheduler_address_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    from rtcscope.cli import main

    args = ["index", str(DATA / SOURCES[1]), "-o", str(tmp_path / "index")]
    assert main([*args, "--scheduler", "bogus://x"]) == 2
    assert not (tmp_path / "index" / MANIFEST).exists()
