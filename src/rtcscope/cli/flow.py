"""``rtcscope flow FILE --call ID``: one call's ladder diagram.

``--format text`` (coloured when stdout is a terminal), ``svg``, ``html``, ``mermaid`` or
``json`` (keys: title, nodes [name, addresses], rows [kind, frame, time_s, from, to, label,
detail, resent, resent_of, status, sdp], notes). One column per network element: addresses
of one element (a proxy's two interfaces, a Via's received/rport) share a column; name
columns with ``--alias NAME=ADDR``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    DedupOpt,
    FileArg,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    capture_args,
    conclude,
    read_model,
)
from rtcscope.cli.output import format_json
from rtcscope.errors import UsageError
from rtcscope.scan import Tap
from rtcscope.sip.calls import call_ladder, icmp_for_call
from rtcscope.sip.ladder import FORMATTERS, format_text, ladder_to_dict
from rtcscope.sip.nodes import find_nodes, parse_alias


class FlowFormat(StrEnum):
    text = "text"
    svg = "svg"
    html = "html"
    mermaid = "mermaid"
    json = "json"


@app.command()
def flow(
    file: FileArg,
    call: Annotated[
        str | None,
        typer.Option("--call", help="Call-ID (or a unique prefix) or the index `calls` shows"),
    ] = None,
    fmt: Annotated[
        FlowFormat, typer.Option("--format", help="text, svg, html, mermaid or json")
    ] = FlowFormat.text,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="NAME=ADDR (ip, ip:port, [v6]:port) names a column"),
    ] = None,
    rtp: Annotated[bool, typer.Option("--rtp/--no-rtp", help="RTP rows with counts")] = True,
    icmp: Annotated[bool, typer.Option("--icmp", help="ICMP error rows")] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """A call's ladder: one column per element with its addresses, retransmissions marked."""
    aliases = [parse_alias(a) for a in alias or []]
    args = capture_args(dedup=dedup, reassembly=reassembly, keep_going=keep_going, quiet=quiet)
    taps = {Tap.SIP} | ({Tap.RTP} if rtp else set()) | ({Tap.ICMP} if icmp else set())
    model = read_model(file, args, frozenset(taps))
    result = model.calls()
    icmp_events = model.icmp_events()
    if not result.calls:
        raise UsageError(f"{file}: no SIP calls")
    if call is None:
        if len(result.calls) > 1:
            ids = ", ".join(f"{c.index}={c.call_id}" for c in result.calls[:10])
            raise UsageError(f"{len(result.calls)} calls: choose one with --call ({ids})")
        chosen = result.calls[0]
    else:
        found = result.find(call)
        if found is None:
            raise UsageError(f"no call {call!r} in {file} (see `rtcscope calls {file}`)")
        chosen = found
    nodes = find_nodes(result.messages, aliases)
    ladder = call_ladder(chosen, nodes, rtp=rtp, icmp=icmp_for_call(chosen, icmp_events))
    if fmt is FlowFormat.json:
        text = format_json(ladder_to_dict(ladder)) + "\n"
    elif fmt is FlowFormat.text:
        color = output is None and sys.stdout.isatty()
        text = format_text(ladder, color=color)
    else:
        text = FORMATTERS[fmt.value](ladder)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    conclude(model, keep_going)
