"""``rtcscope index SOURCE... -o INDEX``: index many captures into Parquet tables.

JSON (``--format json``): ``index`` (its path), ``executor``, ``indexed``, ``skipped``,
``failed`` (counts of files), ``bytes`` (of the files indexed), ``rows`` (per table, this
job), ``errors`` (each: ``capture``, ``exit_code``, ``message``). Exit code 1 when a capture
failed (its ``errors`` row is in the index and the others were indexed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, format_json, print_rows
from rtcscope.errors import EXIT_FOUND_PROBLEMS
from rtcscope.index.build import DEFAULT_GLOBS, FileResult, IndexReport, build_index

TABLES = ("captures", "calls", "streams", "findings", "messages", "errors")


def _summary(report: IndexReport) -> dict[str, Any]:
    return {
        "index": str(report.index),
        "executor": report.executor,
        "indexed": len(report.results) - len(report.failed),
        "skipped": len(report.skipped),
        "failed": len(report.failed),
        "bytes": report.bytes,
        "rows": {table: report.rows(table) for table in TABLES},
        "errors": [
            {"capture": r.entry.path, "exit_code": r.exit_code, "message": r.message}
            for r in report.failed
        ],
    }


@app.command()
def index(
    sources: Annotated[
        list[Path],
        typer.Argument(help="capture files, directories (walked recursively), HEP store dirs"),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="the index directory")],
    glob: Annotated[
        list[str] | None,
        typer.Option(
            "--glob",
            help="file names to take in directories (repeatable; default "
            + " ".join(DEFAULT_GLOBS)
            + ")",
        ),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="processes (default: the number of cores)")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="run on a Dask cluster: tcp://HOST:8786"),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="index again files already in the index")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
) -> None:
    """Index captures (calls, streams, findings, SIP messages) into Parquet, in parallel."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    stderr = Console(stderr=True)
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not stderr.is_terminal,
        transient=True,
    )
    task = bar.add_task("indexing", total=None)

    def planned(count: int, skipped: int) -> None:
        bar.update(task, total=count)

    def advance(result: FileResult) -> None:
        # started at the first result: the process pool has forked all its workers by then
        bar.start()
        bar.update(task, advance=1, description=Path(result.entry.path).name[:40])

    try:
        report = build_index(
            sources,
            out,
            globs=glob or DEFAULT_GLOBS,
            jobs=jobs,
            scheduler=scheduler,
            rebuild=rebuild,
            progress=advance,
            on_plan=planned,
        )
    finally:
        bar.stop()
    summary = _summary(report)
    if fmt is OutputFormat.json:
        sys.stdout.write(format_json(summary) + "\n")
    else:
        rows = [
            {"": key, "value": summary[key]}
            for key in ("index", "executor", "indexed", "skipped", "failed", "bytes")
        ]
        rows += [{"": f"{table} rows", "value": n} for table, n in summary["rows"].items()]
        print_rows(rows, fmt, ["", "value"])
        if summary["errors"]:
            print_rows(summary["errors"], fmt, title="Captures that failed")
    if report.failed:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)
