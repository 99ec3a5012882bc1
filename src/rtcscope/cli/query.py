"""``rtcscope query INDEX [SQL]``: SQL (DuckDB) or canned filters over an index.

Without SQL the canned filters (``--from``, ``--to``, ``--since``, ``--until``, ``--failed``,
``--finding``, ``--mos-below``) select calls; the columns are ``capture``, ``call_index``,
``start_time``, ``from_uri``, ``to_uri``, ``state``, ``final_status``, ``setup_ms``,
``duration_s``, ``mos``, ``findings_error``, ``findings_warning``, ``call_id``, ``frames``.
With SQL (one SELECT) the columns are the query's. Tables: ``captures``, ``calls``,
``streams``, ``findings``, ``messages``, ``errors`` (README: "rtcscope index"). JSON is a
list of row objects, times in ISO 8601 UTC. ``--export DIR`` writes one pcap per call
returned (the rows need ``capture`` and ``call_index``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, WideOpt, print_rows
from rtcscope.errors import UsageError
from rtcscope.index.query import CallFilter, calls_sql, parse_time, run_query

# The canned call list's columns that fit 80 (--wide: all of them, as SQL gives its own).
NARROW_CALL_COLUMNS = ["capture", "call_index", "start_time", "from_uri", "to_uri", "final_status"]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    frames = row.get("frames")
    if isinstance(frames, list) and len(frames) > 6:
        return {**row, "frames": f"{frames[0]}..{frames[-1]} ({len(frames)})"}
    return row


@app.command()
def query(
    index: Annotated[Path, typer.Argument(help="an index made by rtcscope index")],
    sql: Annotated[str | None, typer.Argument(help="one SELECT statement")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="From URI contains this (any case)")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="To URI contains this (any case)")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="calls starting at or after (ISO 8601, UTC)")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="calls starting before (ISO 8601, UTC)")
    ] = None,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="failed, busy, cancelled, redirected, unanswered, ACK missing"
        ),
    ] = False,
    finding: Annotated[
        list[str] | None,
        typer.Option("--finding", help="the call has a finding with this code (repeatable)"),
    ] = None,
    mos_below: Annotated[
        float | None, typer.Option("--mos-below", help="MOS of the worst direction below")
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="write one pcap per call returned here")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    wide: WideOpt = False,
) -> None:
    """Calls, streams, findings and messages of many captures, by SQL or canned filters."""
    chosen = CallFilter(
        from_=from_,
        to=to,
        since=parse_time(since) if since else None,
        until=parse_time(until) if until else None,
        failed=failed,
        finding=list(finding or []),
        mos_below=mos_below,
    )
    if sql is not None:
        if chosen != CallFilter():
            raise UsageError("give SQL or filters, not both")
        result = run_query(index, sql)
    else:
        statement, params = calls_sql(chosen)
        result = run_query(index, statement, params, checked=False)
    if export is not None:
        from rtcscope.index.export import export_calls

        if not {"capture", "call_index"} <= set(result.columns):
            raise UsageError("--export needs rows with the columns capture and call_index")
        calls = [(r["capture"], r["call_index"]) for r in result.rows if r["call_index"]]
        written = export_calls(index, calls, export)
        print_rows(
            [
                {
                    "capture": w.capture,
                    "call_index": w.call_index,
                    "packets": w.packets,
                    "file": str(w.path),
                }
                for w in written
            ],
            fmt,
            title="Calls exported",
        )
        return
    if fmt is OutputFormat.table:
        columns = result.columns
        if sql is None and not wide:  # the canned call list: what fits 80 columns
            columns = [c for c in NARROW_CALL_COLUMNS if c in result.columns]
        print_rows([_shown(r) for r in result.rows], fmt, columns, wide=wide)
    else:
        print_rows(result.rows, fmt, result.columns)
