"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="rtcscope",
    help="Captures, RTP streams, audio, SIP calls and HEP for people who run VoIP services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """rtcscope: read captures, list streams and calls, extract audio, explain SIP failures."""
