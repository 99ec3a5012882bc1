"""``rtcscope replay CAPTURE --to HOST:PORT``: send a stream again over plain UDP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import CallOpt, stream_call_id
from rtcscope.cli.output import OutputFormat, format_json, print_rows
from rtcscope.replay import parse_host_port, plan_sends, send_plan
from rtcscope.sipp.source import choice_from_options, load_stream


@app.command()
def replay(
    capture: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    to: Annotated[str, typer.Option("--to", help="HOST:PORT to send the RTP to")],
    ssrc: Annotated[str | None, typer.Option("--ssrc", help="the stream's SSRC")] = None,
    stream: Annotated[
        int | None, typer.Option("--stream", help="its number in `rtcscope streams`")
    ] = None,
    call: CallOpt = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="with --call: caller or callee")
    ] = None,
    speed: Annotated[float, typer.Option("--speed", help="2 plays twice as fast")] = 1.0,
    source: Annotated[
        str | None, typer.Option("--from", help="HOST:PORT to send from (default: any)")
    ] = None,
    rtcp: Annotated[
        bool, typer.Option("--rtcp", help="also the stream's RTCP, to and from port + 1")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
) -> None:
    """Send the stream's RTP (and RTCP) payloads byte for byte from an ordinary UDP socket
    (no root), paced by the capture times; prints packets sent and the timing error."""
    destination = parse_host_port(to, "to")
    local = None if source is None else parse_host_port(source, "source")
    loaded = load_stream(
        capture,
        choice_from_options(ssrc, stream, stream_call_id(capture, call), direction, None),
        with_rtcp=rtcp,
    )
    sends = plan_sends(
        [(d.ts_ns, d.payload) for d in loaded.packets],
        [(d.ts_ns, d.payload) for d in loaded.rtcp],
        speed,
    )
    report = send_plan(sends, destination, local)
    row = {"stream": loaded.stream.index, "ssrc_hex": f"0x{loaded.stream.key.ssrc:08X}"}
    row |= {"to": to, **report.as_dict()}
    if fmt is OutputFormat.json:
        sys.stdout.write(format_json(row) + "\n")
        return
    print_rows([row], fmt, title="Replay")
