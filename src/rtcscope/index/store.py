"""The index directory: Parquet parts, the manifest that commits them, staging, the lock.

Layout of ``INDEX/``::

    manifest.json                       what is committed: per capture, its fingerprint,
                                        status and parts (written whole, then renamed)
    captures/day=2024-05-01/part-<capture_id>-<fingerprint>.parquet
    calls/day=.../part-....parquet      (streams, findings, messages alike)
    errors/part-<capture_id>-<fingerprint>.parquet
    .staging/<job>/...                  parts written by this job's tasks, same layout
    .lock                               held (flock) by the one job writing the index

A task (one capture) writes its parts under the job's staging directory, each to a
temporary name renamed when complete, so a task killed mid-write leaves only a temporary
file and its retry writes the part again. When the job ends, :func:`commit` moves the parts
into place and then replaces ``manifest.json`` in one rename: readers (``rtcscope query``)
open only the parts the manifest lists, so they see the index before the job or after it,
never half of it. Parts the new manifest no longer lists (a capture re-indexed because it
changed) are deleted after the rename.

The fingerprint of a capture is its size, its modification time (ns) and the SHA-256 of its
first and last MiB: enough to notice a ring-buffer file rewritten in place or still growing,
without reading whole files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rtcscope.errors import InputError, InvalidArgument
from rtcscope.index.schema import TABLES
from rtcscope.outfile import make_output_dir

MANIFEST = "manifest.json"
STAGING = ".staging"
LOCK = ".lock"
MANIFEST_FORMAT = 1
HASHED_BYTES = 1 << 20  # first and last MiB


@dataclass(frozen=True, slots=True)
class Fingerprint:
    size: int
    mtime_ns: int
    hash: str  # SHA-256 (hex) of the first and last MiB

    @property
    def short(self) -> str:
        """16 hex digits naming this version of the file in part names."""
        text = f"{self.size}:{self.mtime_ns}:{self.hash}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(path: str | os.PathLike[str]) -> Fingerprint:
    """Size, mtime and the hash of the first and last MiB (the whole file when smaller)."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(HASHED_BYTES))
        if st.st_size > HASHED_BYTES:
            f.seek(max(HASHED_BYTES, st.st_size - HASHED_BYTES))
            digest.update(f.read(HASHED_BYTES))
    return Fingerprint(st.st_size, st.st_mtime_ns, digest.hexdigest())


def capture_id(path: str) -> str:
    """16 hex digits of the SHA-256 of the capture's absolute path."""
    return hashlib.sha256(path.encode()).hexdigest()[:16]


@dataclass(slots=True)
class ManifestEntry:
    path: str
    size: int
    mtime_ns: int
    hash: str
    status: str  # "ok" or "error"
    parts: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.mtime_ns, self.hash)


@dataclass(slots=True)
class Manifest:
    files: dict[str, ManifestEntry] = field(default_factory=dict)

    def parts(self, table: str) -> list[str]:
        """Committed parts of one table, relative to the index, sorted."""
        prefix = table + "/"
        return sorted(p for e in self.files.values() for p in e.parts if p.startswith(prefix))

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "files": {cid: asdict(e) for cid, e in sorted(self.files.items())},
        }


def read_manifest(index: Path) -> Manifest:
    """The committed manifest (empty for a new index)."""
    path = index / MANIFEST
    if not path.exists():
        return Manifest()
    try:
        data = json.loads(path.read_text())
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return Manifest({cid: ManifestEntry(**e) for cid, e in data["files"].items()})
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not an rtcscope index manifest: {exc}") from exc


def write_part(staging: Path, relative: str, table: pa.Table) -> None:
    """Write one part under ``staging``: to a temporary name, renamed when complete."""
    final = staging / relative
    make_output_dir(final.parent)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, final)


def part_name(table: str, day: str | None, capture: str, version: str) -> str:
    name = f"part-{capture}-{version}.parquet"
    return f"{table}/{name}" if day is None else f"{table}/day={day}/{name}"


@contextlib.contextmanager
def locked(index: Path) -> Iterator[None]:
    """Hold the index's lock for one job; a second job on the same index is refused."""
    make_output_dir(index)
    with open(index / LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InvalidArgument(
                "index", f"{index} is being written by another rtcscope index job"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def commit(index: Path, staging: Path, manifest: Manifest, done: Iterable[ManifestEntry]) -> None:
    """Move the staged parts of ``done`` into place and replace the manifest (module doc)."""
    old_parts: set[str] = set()
    for entry in done:
        for relative in entry.parts:
            target = index / relative
            make_output_dir(target.parent)
            os.replace(staging / relative, target)
        previous = manifest.files.get(capture_id(entry.path))
        if previous is not None:
            old_parts.update(previous.parts)
        manifest.files[capture_id(entry.path)] = entry
    temporary = index / f".{MANIFEST}.tmp"
    with open(temporary, "w") as f:
        json.dump(manifest.as_dict(), f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, index / MANIFEST)
    kept = {p for e in manifest.files.values() for p in e.parts}
    for relative in old_parts - kept:
        with contextlib.suppress(FileNotFoundError):
            (index / relative).unlink()
    sweep(index, kept)
    shutil.rmtree(staging, ignore_errors=True)


def sweep(index: Path, kept: set[str]) -> None:
    """Delete parts no manifest lists (left by a job that died between its renames and its
    manifest), and empty day directories."""
    for table in TABLES:
        root = index / table
        if not root.is_dir():
            continue
        for part in root.rglob("*.parquet"):
            if part.relative_to(index).as_posix() not in kept:
                part.unlink()
        for day in root.iterdir():
            if day.is_dir() and not any(day.iterdir()):
                day.rmdir()
