"""``rtcscope analyze FILE [-o DIR]``: every registered analysis on one capture."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.analyze import run_analyses
from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, format_json, stdout_console
from rtcscope.errors import UsageError


@app.command()
def analyze(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out", help="directory for audio, ladders, ...")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="run only these analyses (repeatable)")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.table
    ),
    dedup: Annotated[
        bool,
        typer.Option(
            "--dedup", help="drop the second copy of packets captured twice (within 5 ms)"
        ),
    ] = False,
) -> None:
    """The main job: capture summary, calls, streams, diagnosis; files written to DIR."""
    if fmt is OutputFormat.csv:
        raise UsageError("analyze prints sections: use --format table or json")
    # Analyses read the capture through rtcscope.capture.pipeline.packets(dedup=...).
    sections = run_analyses(file, out_dir, only=only, options={"dedup": dedup})
    if fmt is OutputFormat.json:
        sys.stdout.write(
            format_json(
                [
                    {
                        "name": s.name,
                        "title": s.title,
                        "data": s.data,
                        "files": [str(f) for f in s.files],
                        "problems": s.problems,
                    }
                    for s in sections
                ]
            )
            + "\n"
        )
    else:
        console = stdout_console()
        for section in sections:
            # A fixed-width heading: a rule would span the 200 columns of a pipe.
            console.print(f"── {section.title} " + "─" * max(3, 72 - len(section.title)))
            console.print(section.text, markup=False, highlight=False)
            for written in section.files:
                console.print(f"  wrote {written}", markup=False, highlight=False)
    # analyze is a report: findings are in its sections; `diagnose` is the command whose
    # exit code says whether problems were found.
