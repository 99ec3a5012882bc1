"""``rtcscope diagnose FILE [--call ID]``: why calls failed, with evidence and fixes.

Exit code 1 when an error finding exists (DESIGN: the command ran and found problems).
JSON keys: ``calls``, ``errors``, ``warnings``, ``findings`` (each: severity, code, call_id,
summary, element, last_hop, frames, time_s, rfc, fix, detail), ``paths`` (each in-dialog
request's hops: call_id, method, cseq, outcome, last_hop, steps), ``notes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, make_table, print_rows, stdout_console
from rtcscope.errors import EXIT_FOUND_PROBLEMS
from rtcscope.sip.diagnosis import Severity, diagnose_capture, format_details

COLUMNS = ("severity", "code", "summary", "element", "last_hop", "frames", "time_s", "rfc", "fix")
TABLE_COLUMNS = ("#", "severity", "summary", "element", "last_hop", "frames", "time_s")


@app.command()
def diagnose(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    call: Annotated[str | None, typer.Option("--call", help="only this Call-ID")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    dedup: Annotated[
        bool, typer.Option("--dedup", help="drop packets captured twice (two interfaces)")
    ] = False,
) -> None:
    """Findings for every INVITE call: ACK/BYE paths hop by hop, 2xx retransmissions, loops."""
    result = diagnose_capture(file, call_id=call, dedup=dedup)
    rows = [f.as_dict() for f in result.findings]
    if fmt is OutputFormat.table:
        console = stdout_console()
        counts = (
            f"{result.calls} call(s): {result.count(Severity.ERROR)} error(s), "
            f"{result.count(Severity.WARNING)} warning(s), {result.count(Severity.INFO)} info"
        )
        console.print(counts, markup=False, highlight=False)
        if rows:
            table_rows = [{"#": n, **row} for n, row in enumerate(rows, 1)]
            console.print(make_table(table_rows, TABLE_COLUMNS))
        console.print(format_details(result), markup=False, highlight=False)
    else:
        print_rows(rows, fmt, COLUMNS, json_data=result.as_dict())
    if result.has_errors:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)
