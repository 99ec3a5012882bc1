"""``rtcscope diagnose FILE [--call ID]``: why calls failed, with evidence and fixes.

Exit code 1 when an error finding exists (DESIGN: the command ran and found problems).
JSON keys: ``calls``, ``errors``, ``warnings``, ``findings`` (each: severity, code, call_id,
summary, element, last_hop, frames, time_s, rfc, fix, detail), ``paths`` (each in-dialog
request's hops: call_id, method, cseq, outcome, last_hop, steps), ``notes``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    DedupOpt,
    FileArg,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    RtpPortOpt,
    capture_args,
    conclude,
    read_model,
)
from rtcscope.cli.output import OutputFormat, make_table, print_rows, stdout_console
from rtcscope.errors import EXIT_FOUND_PROBLEMS
from rtcscope.sip.diagnosis import Severity, format_details

COLUMNS = ("severity", "code", "summary", "element", "last_hop", "frames", "time_s", "rfc", "fix")
TABLE_COLUMNS = ("#", "severity", "summary", "element", "last_hop", "frames", "time_s")


@app.command()
def diagnose(
    file: FileArg,
    call: Annotated[str | None, typer.Option("--call", help="only this Call-ID")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    rtp_port: RtpPortOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Findings for every INVITE call: ACK/BYE paths hop by hop, 2xx retransmissions, loops."""
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    model = read_model(file, args)
    result = model.diagnosis(call)
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
    conclude(model, keep_going)
    if result.has_errors:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)
