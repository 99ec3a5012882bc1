"""``rtcscope query``: the canned filters return exactly the calls the test computes from
each file's ``calls``/``diagnose`` JSON, and SQL cannot leave the index or write to it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rtcscope.cli import main
from rtcscope.errors import InvalidArgument
from rtcscope.index.build import IndexReport, build_index
from rtcscope.index.query import CallFilter, calls_sql, run_query
from tests.conftest import DATA
from tests.index.conftest import every_capture
from tests.peers import tshark_fields

# The states ``--failed`` means (its help text): failed, busy, cancelled, redirected,
# unanswered, ACK missing.
FAILED_STATES = {"failed", "busy", "cancelled", "redirected", "no response", "ACK missing"}


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    main([*args, "--format", "json"])
    return json.loads(capsys.readouterr().out)


PerFile = list[tuple[str, dict[str, Any], set[str]]]


def per_file_calls(capsys: pytest.CaptureFixture[str]) -> PerFile:
    """(capture, call JSON, codes of the call's findings) for every call of every file."""
    out = []
    for path in every_capture():
        calls = _json(capsys, "calls", str(path), "--quality")["calls"]
        findings = _json(capsys, "diagnose", str(path))["findings"]
        for call in calls:
            codes = {f["code"] for f in findings if f["call_id"] in call["call_ids"]}
            out.append((str(path.absolute()), call, codes))
    return out


def expected_calls(calls: PerFile, keep: Any) -> list[tuple[str, int]]:
    return sorted((path, call["index"]) for path, call, codes in calls if keep(call, codes))


def returned(index: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[tuple[str, int]]:
    rows = _json(capsys, "query", str(index), *args)
    assert all(r["frames"] for r in rows), "each row names its frames"
    return sorted((r["capture"], r["call_index"]) for r in rows)


def test_canned_filters_return_the_calls_computed_from_each_files_json(
    capture_index: tuple[Path, IndexReport], capsys: pytest.CaptureFixture[str]
) -> None:
    index, _ = capture_index
    cases: list[tuple[list[str], Any]] = [
        (["--from", "CyberCity"], lambda c, _: "cybercity" in (c["from"] or "").lower()),
        (
            ["--from", "alice", "--to", "service"],
            lambda c, _: "alice" in (c["from"] or "") and "service" in (c["to"] or ""),
        ),
        (["--failed"], lambda c, _: c["state"] in FAILED_STATES),
        (["--finding", "ack-not-received"], lambda c, codes: "ack-not-received" in codes),
        (
            ["--failed", "--finding", "invite-failed"],
            lambda c, codes: c["state"] in FAILED_STATES and "invite-failed" in codes,
        ),
        # No MOS is computed yet (rtcscope.quality is not there): no call has one.
        (
            ["--mos-below", "3.5"],
            lambda c, _: c["quality"] is not None and c["quality"]["mos"] < 3.5,
        ),
    ]
    calls = per_file_calls(capsys)
    for args, keep in cases:
        wanted = expected_calls(calls, keep)
        assert returned(index, capsys, *args) == wanted, args
        assert wanted, f"{args} selects nothing: not a test"


@pytest.mark.peer
def test_since_and_until_against_tshark_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = DATA / "aaa.pcap"
    build_index([capture], tmp_path / "index", jobs=1)
    # start_s counts from the capture's first packet (tshark's frame.time_relative)
    first_packet = float(tshark_fields(capture, ["frame.time_epoch"])[0][0])
    starts = [
        (c["index"], first_packet + c["start_s"])
        for c in _json(capsys, "calls", str(capture))["calls"]
    ]
    since, until = starts[1][1] - 0.0001, starts[-1][1] - 0.0001
    wanted = sorted((str(capture), i) for i, t in starts if since <= t < until)
    assert len(wanted) == len(starts) - 2
    text = [dt.datetime.fromtimestamp(t, dt.UTC).isoformat() for t in (since, until)]
    got = returned(tmp_path / "index", capsys, "--since", text[0], "--until", text[1])
    assert got == wanted


def _files(index: Path) -> set[Path]:
    return set(index.rglob("*"))


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM calls) TO '{index}/calls/day=2000-01-01/evil.parquet'",
        "SELECT 1; COPY (SELECT 1) TO '{index}/x.csv'",
        "SET enable_external_access = true",
        "ATTACH '{index}/x.duckdb'",
        "INSTALL httpfs",
        "CREATE TABLE x AS SELECT 1",
        "PRAGMA enable_profiling",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM query('COPY (SELECT 1) TO ''{index}/y.csv''')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_sql_cannot_write_or_leave_the_index(
    sql: str, capture_index: tuple[Path, IndexReport], capsys: pytest.CaptureFixture[str]
) -> None:
    index, _ = capture_index
    before = _files(index)
    with pytest.raises(InvalidArgument):
        rows = run_query(index, sql.format(index=index)).rows
        assert rows == [], f"{sql} gave {rows}"
        raise InvalidArgument("returned nothing")
    assert main(["query", str(index), sql.format(index=index)]) == 2
    assert _files(index) == before


def test_sql_reads_the_index(capture_index: tuple[Path, IndexReport]) -> None:
    index, report = capture_index
    rows = run_query(index, "SELECT count(*) AS n FROM captures").rows
    assert rows == [{"n": len(report.results)}]
    sql, params = calls_sql(CallFilter(failed=True, finding=["ack-not-received"]))
    assert "?" in sql and "ack-not-received" not in sql  # parameters, never pasted text
    assert run_query(index, sql, params, checked=False).rows


def test_sum_of_integers_prints_as_a_whole_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB's sum() of an integer column is a HUGEINT (an Arrow decimal of scale 0): JSON
    gives an integer and tables/CSV print it without decimals, equal to the sum the test
    makes of the rows themselves; an average stays a float."""
    index = tmp_path / "index"
    build_index([DATA / "SIP_DTMF2.pcap", DATA / "aaa.pcap"], index, jobs=1)
    each = [r["packets"] for r in _json(capsys, "query", str(index), "SELECT packets FROM streams")]
    assert each and all(isinstance(n, int) for n in each)
    sql = "SELECT sum(packets) AS total, avg(packets) AS mean FROM streams"
    (row,) = _json(capsys, "query", str(index), sql)
    assert row["total"] == sum(each) and isinstance(row["total"], int)
    assert isinstance(row["mean"], float)
    main(["query", str(index), sql, "--format", "csv"])
    assert capsys.readouterr().out.splitlines()[1].split(",")[0] == str(sum(each))
    main(["query", str(index), sql])
    table = capsys.readouterr().out
    assert f"{sum(each)} " in table and f"{sum(each)}.0" not in table
