"""``rtcscope info FILE...``: what is in each capture (rtcscope.capture.info).

JSON is a list with one object per file; CSV has one row per file with the same columns;
the table has one column per file. The keys, in order, are documented in
:mod:`rtcscope.capture.info` (``file``, ``format``, ... ``packets``, ``first_time``, ...
``sip_sctp``, ``tls_flow_count``, ``tls_server_ports``, ... ``warnings``). ``tls_flow_count``
is how many TCP connections carry TLS: ``rtcscope calls --format json`` lists the same flows
as ``tls_flows``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.capture.info import QUIET_WHEN_ZERO
from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    DedupOpt,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    capture_args,
    conclude,
    read_model,
)
from rtcscope.cli.notes import print_tls_flows
from rtcscope.cli.output import OutputFormat, print_rows
from rtcscope.scan import CaptureModel, Tap


@app.command()
def info(
    files: Annotated[
        list[Path],
        typer.Argument(help="pcap or pcapng captures (.gz read too); '-' reads standard input"),
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", help="table (one column per file), json or csv (one row each)"),
    ] = OutputFormat.table,
    keep_going: KeepGoingOpt = False,
    reassembly: ReassemblyOpt = True,
    dedup: DedupOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Format, link types, time span, bytes, and IPv4/IPv6/UDP/TCP/ICMP/SIP/RTP/... counts."""
    args = capture_args(dedup=dedup, reassembly=reassembly, keep_going=keep_going, quiet=quiet)
    models: list[CaptureModel] = [read_model(f, args, frozenset({Tap.COUNTS})) for f in files]
    summaries = [m.info.as_dict() for m in models]
    if fmt is OutputFormat.table:
        keys = list(summaries[0].keys())
        names = [Path(s["file"]).name for s in summaries]
        columns = ["", *names] if len(set(names)) == len(names) else ["", *map(str, files)]
        rows: list[dict[str, Any]] = []
        for key in keys:
            if key == "file" or (key in QUIET_WHEN_ZERO and not any(s[key] for s in summaries)):
                continue
            row: dict[str, Any] = {"": key}
            for column, summary in zip(columns[1:], summaries, strict=True):
                value = summary[key]
                row[column] = f"{value:.6f}" if isinstance(value, float) else value
            rows.append(row)
        print_rows(rows, fmt, columns)
    else:
        print_rows(summaries, fmt, json_data=summaries)
    for model, name in zip(
        models, columns[1:] if fmt is OutputFormat.table else files, strict=True
    ):
        prefix = f"{name}: " if len(models) > 1 else ""
        print_tls_flows(model.tls_flows, to_stderr=fmt is not OutputFormat.table, prefix=prefix)
    for model in models:
        conclude(model, keep_going)
