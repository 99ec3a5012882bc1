"""``rtcscope analyze FILE [-o DIR]``: the main job, every section from one pass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.analyze import SECTION_NAMES, AnalyzeOptions, iter_sections
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
from rtcscope.cli.output import FINDING_STYLES, ReportFormat, print_text, write_json


@app.command()
def analyze(
    file: FileArg,
    out_dir: Annotated[
        Path | None, typer.Option("-o", "--out", help="directory for audio, ladders, ...")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help=f"run only these sections (repeatable): {', '.join(SECTION_NAMES)}"
        ),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table or json")] = (
        ReportFormat.table
    ),
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    rtp_port: RtpPortOpt = None,
    quiet: QuietOpt = False,
    all_files: Annotated[
        bool,
        typer.Option(
            "--all-files",
            help="with -o: ladders and audio for every dialog and stream (default: INVITE "
            "calls, and beyond 200 of them only failed or flagged ones)",
        ),
    ] = False,
) -> None:
    """The main job: capture summary, calls, streams, audio, diagnosis, from ONE pass over
    the capture; with -o DIR, ladders and audio written to DIR."""
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    # Audio and the report's plots read packets again: a piped capture is spooled for them.
    wants_audio = out_dir is not None and (only is None or bool({"audio", "report"} & set(only)))
    model = read_model(file, args, spool=wants_audio)
    try:
        # Each section is written as soon as it is made, then let go: on 20,000 calls the
        # sections' data and the JSON text held at once were most of the peak memory.
        sections = iter_sections(
            model, AnalyzeOptions(out_dir=out_dir, all_files=all_files), only=only
        )
        if fmt is ReportFormat.json:
            write_json(
                (
                    {
                        "name": s.name,
                        "title": s.title,
                        "data": s.json_data(),
                        "files": [str(f) for f in s.files],
                        "problems": s.problems,
                    }
                    for s in sections
                ),
                depth=4,  # sections, a section, its data, a list in it (calls, streams...)
            )
            sys.stdout.write("\n")
        else:
            for section in sections:
                print_text(f"── {section.title} " + "─" * max(3, 72 - len(section.title)), "bold")
                print_text(section.text, line_styles=FINDING_STYLES)
                for written in section.files:
                    print_text(f"  wrote {written}")
    finally:
        model.close()
    conclude(model, keep_going)
