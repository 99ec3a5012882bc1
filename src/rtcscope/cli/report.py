"""``rtcscope report FILE -o report.html``: one self-contained HTML page for a capture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import print_text


@app.command()
def report(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the HTML file to write")],
    audio: Annotated[
        bool, typer.Option("--audio/--no-audio", help="WAV players (files beside the page)")
    ] = True,
    embed_audio: Annotated[
        bool, typer.Option("--embed-audio", help="put the WAVs inside the page (data: URLs)")
    ] = False,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="drop packets captured twice (two interfaces)")
    ] = False,
) -> None:
    """Calls, their ladders, findings and messages, streams with jitter/delta/loss plots,
    E-model quality (R, MOS-CQE per jitter buffer) and audio: one file, works offline."""
    from rtcscope.report import write_report

    written = write_report(
        file, output, extract_audio=audio or embed_audio, embed_audio=embed_audio, dedup=dedup
    )
    print_text(f"wrote {written}")
