"""Incremental indexing: unchanged files are skipped, changed ones replaced, failures kept
as ``errors`` rows, and only committed parts are ever read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rtcscope.cli import main
from rtcscope.errors import EXIT_INVALID_INPUT, InvalidArgument
from rtcscope.index.build import build_index
from rtcscope.index.query import run_query
from rtcscope.index.store import MANIFEST, STAGING, locked, read_manifest
from tests.conftest import DATA

SOURCES = ("testbed-busy.pcap", "testbed-good.pcap", "sip-rtp-g729a.pcap")


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    folder = tmp_path / "captures" / "sub"
    folder.mkdir(parents=True)
    for name in SOURCES:
        shutil.copy(DATA / name, folder / name)
    (folder / "notes.txt").write_text("not a capture")
    return tmp_path / "captures"


def count(index: Path, table: str) -> int:
    return int(run_query(index, f"SELECT count(*) AS n FROM {table}").rows[0]["n"])


def test_second_run_skips_a_changed_file_is_replaced_rebuild_redoes(
    captures: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    first = build_index([captures], index, jobs=2)
    assert len(first.results) == 3 and not first.failed
    calls = count(index, "calls")
    messages = count(index, "messages")
    assert count(index, "captures") == 3 and calls == 3

    again = build_index([captures], index, jobs=2)
    assert again.results == [] and len(again.skipped) == 3

    changed = captures / "sub" / SOURCES[0]
    old_parts = read_manifest(index).files
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = build_index([captures], index, jobs=2)
    assert [Path(r.entry.path).name for r in third.results] == [SOURCES[0]]
    new_parts = read_manifest(index).files
    replaced = {p for e in old_parts.values() for p in e.parts} - {
        p for e in new_parts.values() for p in e.parts
    }
    assert replaced and not any((index / p).exists() for p in replaced)
    assert (count(index, "calls"), count(index, "messages")) == (calls, messages)

    rebuilt = build_index([captures], index, jobs=1, rebuild=True)
    assert len(rebuilt.results) == 3 and rebuilt.skipped == []
    assert count(index, "captures") == 3


def test_a_bad_capture_gives_an_errors_row_and_the_job_goes_on(
    captures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = captures / "sub" / "broken.pcap"
    bad.write_bytes((DATA / SOURCES[2]).read_bytes()[:5000])  # cut inside a record
    (captures / "garbage.pcap").write_bytes(b"this is not a capture at all")
    index = tmp_path / "index"
    assert main(["index", str(captures), "-o", str(index), "--jobs", "2"]) == 1
    assert "Captures that failed" in capsys.readouterr().out
    errors = run_query(index, "SELECT capture, exit_code, message FROM errors ORDER BY 1").rows
    assert {(Path(e["capture"]).name, e["exit_code"]) for e in errors} == {
        ("garbage.pcap", EXIT_INVALID_INPUT),
        ("broken.pcap", EXIT_INVALID_INPUT),
    }
    assert all("pcap" in e["message"] for e in errors)
    assert count(index, "captures") == 3
    # Unchanged, the failed files are not tried again.
    assert build_index([captures], index).results == []


def test_only_committed_parts_are_read(captures: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index([captures], index, jobs=1)
    committed = read_manifest(index).parts("calls")
    # What a job killed before its commit leaves: a staged part and a part moved into place
    # but never listed in a manifest. Neither is read; the next commit removes the second.
    some = index / committed[0]
    staged = index / STAGING / "dead-job" / committed[0]
    staged.parent.mkdir(parents=True)
    shutil.copy(some, staged)
    orphan = some.with_name("part-0000000000000000-0000000000000000.parquet")
    shutil.copy(some, orphan)
    assert pq.read_table(orphan).num_rows == 1
    assert count(index, "calls") == 3
    manifest_before = (index / MANIFEST).read_text()
    build_index([captures], index, jobs=1)  # nothing to do, but it commits
    assert (index / MANIFEST).read_text() == manifest_before
    assert not orphan.exists()
    assert count(index, "calls") == 3


def test_query_refuses_a_folder_that_is_not_an_index(tmp_path: Path) -> None:
    assert main(["query", str(tmp_path), "SELECT 1"]) == EXIT_INVALID_INPUT


def test_a_second_job_on_the_same_index_is_refused(captures: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    with locked(index), pytest.raises(InvalidArgument, match="another rtcscope index job"):
        build_index([captures], index, jobs=1)
    assert not (index / MANIFEST).exists()
    assert len(build_index([captures], index, jobs=1).results) == 3
