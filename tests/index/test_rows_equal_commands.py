"""The index's rows of every capture equal what ``rtcscope calls/streams/diagnose --format
json`` print for that file (the issue's acceptance), column for column."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rtcscope.cli import main
from rtcscope.index.build import IndexReport
from rtcscope.index.schema import from_arrow_row
from rtcscope.index.store import MANIFEST, read_manifest
from tests.index.conftest import every_capture


def command_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    main([*args, "--format", "json"])
    return json.loads(capsys.readouterr().out)


def index_rows(index: Path, table: str, capture: Path, order: str) -> list[dict[str, Any]]:
    """Rows read straight from the committed Parquet parts (not through our query code)."""
    parts = [str(index / p) for p in read_manifest(index).parts(table)]
    if not parts:
        return []
    relation = duckdb.sql(
        f"SELECT * EXCLUDE (day) FROM read_parquet({parts!r}, hive_partitioning = true) "
        f"WHERE capture = ? ORDER BY {order}",
        params=[str(capture.absolute())],
    )
    columns = relation.columns
    return [
        from_arrow_row(table, dict(zip(columns, row, strict=True))) for row in relation.fetchall()
    ]


def without_iso(row: dict[str, Any]) -> dict[str, Any]:
    """The command's row without its ISO 8601 twins of the relative times (``start_iso``,
    ``time_iso``...): the index keeps absolute times as timestamp columns instead
    (``start_time``, ``time``), checked against them where it has one."""
    return {k: v for k, v in row.items() if not k.endswith("_iso")}


def iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def same_keys(index_row: dict[str, Any], command_row: dict[str, Any]) -> dict[str, Any]:
    """The index row restricted to the command's keys (the index adds columns of its own)."""
    missing = set(command_row) - set(index_row)
    assert not missing, f"index lacks {missing}"
    return {key: index_row[key] for key in command_row}


def test_every_capture_indexed_without_error(capture_index: tuple[Path, IndexReport]) -> None:
    index, report = capture_index
    assert (index / MANIFEST).is_file()
    assert [r.entry.path for r in report.failed] == []
    assert {r.entry.path for r in report.results} == {str(p.absolute()) for p in every_capture()}


@pytest.mark.parametrize("path", every_capture(), ids=lambda p: p.name)
def test_rows_equal_the_commands_json(
    path: Path, capture_index: tuple[Path, IndexReport], capsys: pytest.CaptureFixture[str]
) -> None:
    index, _ = capture_index
    calls = command_json(capsys, "calls", str(path))["calls"]
    rows = index_rows(index, "calls", path, "call_index")
    assert [iso(r["start_time"]) for r in rows] == [c["start_iso"] for c in calls]
    calls = [without_iso(c) for c in calls]
    assert [same_keys(r, c) for r, c in zip(rows, calls, strict=True)] == calls

    streams = command_json(capsys, "streams", str(path))
    rows = index_rows(index, "streams", path, "stream_index")
    assert [iso(r["start_time"]) for r in rows] == [s["start_iso"] for s in streams]
    streams = [without_iso(s) for s in streams]
    for row, stream in zip(rows, streams, strict=True):
        stream.setdefault("srtp", None)  # the command adds the key for encrypted streams only
        assert same_keys(row, stream) == stream

    findings = [without_iso(f) for f in command_json(capsys, "diagnose", str(path))["findings"]]
    rows = index_rows(index, "findings", path, "capture")
    in_index = sorted(json.dumps(same_keys(r, f)) for r, f in zip(rows, findings, strict=True))
    assert in_index == sorted(json.dumps(f) for f in findings)
