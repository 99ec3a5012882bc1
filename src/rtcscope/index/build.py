"""Building the index: which files, one task per file, run here or on a Dask cluster.

:func:`build_index` finds the captures (files given, directories walked recursively for
names matching ``--glob``), skips the ones the manifest already holds with the same
fingerprint (unless ``rebuild``), and runs :func:`index_file` on each of the others:

- ``jobs=1``: in this process, one file after the other;
- ``jobs=N``: a pool of N processes on this machine (``concurrent.futures``);
- ``scheduler="tcp://HOST:8786"``: the same tasks on a Dask distributed cluster
  (:mod:`distributed`). Workers need rtcscope installed and the captures and the index
  directory at the same paths (a shared file system). A worker that dies mid-task has its
  task run again elsewhere (Dask reschedules the tasks of a lost worker); its half-written
  part never left the staging directory.

Each task reads its capture through :func:`rtcscope.index.adapter.rows_for_capture` and
writes the capture's rows as Parquet parts into the job's staging directory, returning only
their names. A capture that fails gives an ``errors`` row (path, exit code, message) and
the job goes on. When every task is done, :func:`rtcscope.index.store.commit` makes the
parts visible at once. Tasks are submitted largest file first, so one big capture does not
finish alone at the end.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtcscope.errors import InputError, InvalidArgument, PeerError, RtcscopeError
from rtcscope.index.schema import DAY_KEYS, day_of, to_arrow
from rtcscope.index.store import (
    STAGING,
    Fingerprint,
    ManifestEntry,
    capture_id,
    commit,
    fingerprint,
    locked,
    part_name,
    read_manifest,
    write_part,
)

DEFAULT_GLOBS = ("*.pcap", "*.pcapng", "*.cap", "*.pcap.gz", "*.pcapng.gz")
# The exit code recorded for a capture whose reading failed on something other than an
# rtcscope error (a bug): what Python gives an uncaught exception.
EXIT_INTERNAL = 1


@dataclass(frozen=True, slots=True)
class FileTask:
    """One capture to index, with where its parts go."""

    path: str
    size: int
    mtime_ns: int
    hash: str
    staging: str

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.mtime_ns, self.hash)


@dataclass(slots=True)
class FileResult:
    """What one task did: its manifest entry (parts written) and the error, if any."""

    entry: ManifestEntry
    exit_code: int = 0
    message: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table


@dataclass(slots=True)
class IndexReport:
    """One job: what was indexed, skipped, failed."""

    index: Path
    results: list[FileResult]
    skipped: list[str]
    executor: str

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.exit_code]

    @property
    def bytes(self) -> int:
        return sum(r.entry.size for r in self.results)

    def rows(self, table: str) -> int:
        return sum(r.rows.get(table, 0) for r in self.results)


def find_captures(sources: Sequence[str | os.PathLike[str]], globs: Sequence[str]) -> list[str]:
    """Absolute paths of the captures named: files as given, directories walked
    recursively for file names matching any of ``globs``; sorted, without repeats."""
    found: set[str] = set()
    for source in sources:
        path = Path(source).absolute()
        if path.is_file():
            found.add(str(path))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    if any(fnmatch.fnmatch(name, g) for g in globs):
                        found.add(os.path.join(root, name))
        else:
            raise InputError(f"{source}: no such file or directory")
    return sorted(found)


def _rows_by_day(table: str, rows: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    key = DAY_KEYS[table]
    groups: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[None if key is None else day_of(row.get(key))].append(row)
    return groups


def _write_rows(
    task: FileTask, tables: dict[str, list[dict[str, Any]]]
) -> tuple[list[str], dict[str, int]]:
    cid = capture_id(task.path)
    head = {"capture": task.path, "id": cid}
    staging = Path(task.staging)
    parts: list[str] = []
    counts: dict[str, int] = {}
    for table, rows in tables.items():
        counts[table] = len(rows)
        for day, day_rows in sorted(_rows_by_day(table, rows).items(), key=lambda kv: str(kv[0])):
            relative = part_name(table, day, cid, task.fingerprint.short)
            write_part(staging, relative, to_arrow(table, day_rows, head))
            parts.append(relative)
    return parts, counts


def index_file(task: FileTask) -> FileResult:
    """Index one capture into the staging directory (runs in a worker process)."""
    from rtcscope.index.adapter import rows_for_capture

    known = {"size": task.size, "mtime_ns": task.mtime_ns, "hash": task.hash}
    status, code, message = "ok", 0, ""
    try:
        rows = rows_for_capture(task.path)
        rows.capture.update(known)
        tables = {
            "captures": [rows.capture],
            "calls": rows.calls,
            "streams": rows.streams,
            "findings": rows.findings,
            "messages": rows.messages,
        }
    except RtcscopeError as exc:
        status, code, message = "error", exc.exit_code, str(exc)
    except Exception as exc:  # a bug must not stop the other files' indexing
        status, code, message = "error", EXIT_INTERNAL, f"{type(exc).__name__}: {exc}"
    if status == "error":
        tables = {"errors": [{**known, "exit_code": code, "message": message}]}
    parts, counts = _write_rows(task, tables)
    entry = ManifestEntry(task.path, task.size, task.mtime_ns, task.hash, status, parts)
    return FileResult(entry, code, message, counts)


Progress = Callable[[FileResult], None]


def _run_here(tasks: Sequence[FileTask], progress: Progress) -> Iterator[FileResult]:
    for task in tasks:
        result = index_file(task)
        progress(result)
        yield result


def _run_pool(tasks: Sequence[FileTask], jobs: int, progress: Progress) -> Iterator[FileResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # Forked, so that a script calling build_index needs no __main__ guard (spawn and
    # forkserver import the main module again). Every worker is forked while the tasks are
    # submitted, before the first result: a caller that starts threads (a progress bar)
    # from the first ``progress`` call on never forks with a thread holding a lock.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(index_file, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool as exc:
                raise RtcscopeError(f"a worker process of the index pool died: {exc}") from exc
            progress(result)
            yield result


def _run_dask(
    tasks: Sequence[FileTask], scheduler: str, progress: Progress
) -> Iterator[FileResult]:
    import distributed

    # distributed has no type hints: its two entry points used here, as Any.
    client_class: Any = distributed.Client
    as_completed: Any = distributed.as_completed
    scheme, _, rest = scheduler.rpartition("://")
    if scheme not in ("", "tcp", "tls", "ws", "wss") or not rest:
        raise InvalidArgument("scheduler", f"{scheduler!r}: give tcp://HOST:PORT")
    try:
        client = client_class(scheduler, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise PeerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        futures = client.map(
            index_file,
            list(tasks),
            key=[f"rtcscope-index-{capture_id(t.path)}-{t.fingerprint.short}" for t in tasks],
            pure=False,
        )
        for future in as_completed(futures, loop=client.loop):
            result = future.result()
            progress(result)
            yield result


def build_index(
    sources: Sequence[str | os.PathLike[str]],
    index: str | os.PathLike[str],
    *,
    globs: Sequence[str] = DEFAULT_GLOBS,
    jobs: int | None = None,
    scheduler: str | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Index the captures of ``sources`` into ``index`` (module docstring).

    ``progress`` is called after each file; ``on_plan(to_index, skipped)`` once, before.
    """
    index_dir = Path(index).absolute()
    if jobs is None:  # 0 is not 'all cores': it is refused below
        jobs = os.cpu_count() or 1
    if jobs < 1:
        raise InvalidArgument("jobs", f"{jobs}: give 1 or more")
    paths = find_captures(sources, globs)
    with locked(index_dir):
        manifest = read_manifest(index_dir)
        # What an interrupted job staged is never committed: the lock says no job runs now.
        shutil.rmtree(index_dir / STAGING, ignore_errors=True)
        staging = index_dir / STAGING / uuid.uuid4().hex
        tasks: list[FileTask] = []
        skipped: list[str] = []
        for path in paths:
            if path.startswith(str(index_dir) + os.sep):
                continue
            try:
                fp = fingerprint(path)
            except OSError:
                # unreadable here: the task's read fails too and gives the errors row
                fp = Fingerprint(0, 0, "")
            known = manifest.files.get(capture_id(path))
            if not rebuild and known is not None and known.fingerprint == fp:
                skipped.append(path)
                continue
            tasks.append(FileTask(path, fp.size, fp.mtime_ns, fp.hash, str(staging)))
        tasks.sort(key=lambda t: -t.size)
        if on_plan is not None:
            on_plan(len(tasks), len(skipped))
        tell: Progress = progress or (lambda _: None)
        if scheduler:
            executor = f"dask {scheduler}"
            running = _run_dask(tasks, scheduler, tell)
        elif jobs == 1 or len(tasks) <= 1:
            executor = "this process"
            running = _run_here(tasks, tell)
        else:
            executor = f"{jobs} processes"
            running = _run_pool(tasks, jobs, tell)
        results = list(running)
        commit(index_dir, staging, manifest, [r.entry for r in results])
    results.sort(key=lambda r: r.entry.path)
    return IndexReport(index_dir, results, skipped, executor)
