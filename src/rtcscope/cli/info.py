"""``rtcscope info FILE...``: what is in each capture (rtcscope.capture.info)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.capture.info import QUIET_WHEN_ZERO, capture_info
from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, print_rows


@app.command()
def info(
    files: Annotated[list[Path], typer.Argument(help="pcap or pcapng captures (.gz read too)")],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", help="table (one column per file), json or csv (one row each)"),
    ] = OutputFormat.table,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going", help="report a truncated or corrupt file as a warning, not an error"
        ),
    ] = False,
    reassembly: Annotated[
        bool,
        typer.Option(
            "--reassembly/--no-reassembly",
            help="reassemble IP fragments and count each datagram once, as a whole (default); "
            "--no-reassembly counts every record on its own",
        ),
    ] = True,
    dedup: Annotated[
        bool,
        typer.Option(
            "--dedup",
            help="drop (and count) the second copy of packets captured twice (within 5 ms)",
        ),
    ] = False,
) -> None:
    """Format, link types, time span, bytes, and IPv4/IPv6/UDP/TCP/ICMP/SIP/RTP/... counts."""
    summaries = [
        capture_info(f, keep_going=keep_going, reassemble=reassembly, dedup=dedup).as_dict()
        for f in files
    ]
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
