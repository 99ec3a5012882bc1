"""``rtcscope flow FILE --call ID``: one call's ladder diagram.

``--format text`` (coloured when stdout is a terminal), ``svg``, ``html``, ``mermaid`` or
``json`` (keys: title, nodes [name, addresses], rows [kind, frame, time_s, from, to, label,
detail, resent, resent_of, status, sdp], notes; with ``--messages`` also messages [frame,
time_s, src, dst, transport, text]). ``--messages`` prints every SIP message of the call
after the ladder, as captured (control characters shown as '?'). ICMP errors about the
call's flows are drawn when the call failed (they may be why), or always with ``--icmp``.
One column per network element: addresses of one element (a proxy's two interfaces, a
Via's received/rport) share a column; name columns with ``--alias NAME=ADDR``.
"""

from __future__ import annotations

import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    CallIdOpt,
    CallOpt,
    DedupOpt,
    FileArg,
    FromOpt,
    HostOpt,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    SinceOpt,
    ToOpt,
    UntilOpt,
    call_filter,
    capture_args,
    conclude,
    find_call,
    message_filter,
    read_model,
)
from rtcscope.cli.output import format_json
from rtcscope.errors import UsageError
from rtcscope.outfile import write_output
from rtcscope.scan import Tap
from rtcscope.sip.calls import call_ladder, icmp_for_call
from rtcscope.sip.ladder import (
    FORMATTERS,
    format_html,
    format_text,
    ladder_to_dict,
    message_text,
    messages_by_frame,
)
from rtcscope.sip.nodes import find_nodes, parse_alias
from rtcscope.sip.transactions import endpoint
from rtcscope.text import LINE_LIMIT, decode_packet_text, terminal_text
from rtcscope.timebase import iso_time


class FlowFormat(StrEnum):
    text = "text"
    svg = "svg"
    html = "html"
    mermaid = "mermaid"
    json = "json"


def _terminal_message(raw: bytes) -> str:
    """A SIP message for --messages text: rtcscope.text's escaping, lines kept."""
    return terminal_text(decode_packet_text(raw), limit=LINE_LIMIT, multiline=True).rstrip()


@app.command()
def flow(
    file: FileArg,
    call: CallOpt = None,
    fmt: Annotated[
        FlowFormat, typer.Option("--format", help="text, svg, html, mermaid or json")
    ] = FlowFormat.text,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="NAME=ADDR (ip, ip:port, [v6]:port) names a column"),
    ] = None,
    rtp: Annotated[bool, typer.Option("--rtp/--no-rtp", help="RTP rows with counts")] = True,
    icmp: Annotated[
        bool | None,
        typer.Option(
            "--icmp/--no-icmp",
            help="ICMP error rows (default: shown when the call failed, as they may explain it)",
        ),
    ] = None,
    messages: Annotated[
        bool,
        typer.Option("--messages", help="text/json: every SIP message of the call, as captured"),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    quiet: QuietOpt = False,
    call_id: CallIdOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    host: HostOpt = None,
) -> None:
    """A call's ladder: one column per element with its addresses, retransmissions marked."""
    aliases = [parse_alias(a) for a in alias or []]
    args = capture_args(dedup=dedup, reassembly=reassembly, keep_going=keep_going, quiet=quiet)
    rules = call_filter(call_id=call_id, from_=from_, to=to, since=since, until=until, hosts=host)
    taps = {Tap.SIP} | ({Tap.RTP} if rtp else set()) | ({Tap.ICMP} if icmp is not False else set())
    model = read_model(file, args, frozenset(taps), select=message_filter(rules))
    result = model.calls()
    icmp_events = model.icmp
    if call is None and len(result.calls) > 1:
        ids = ", ".join(f"{c.index}={c.call_id}" for c in result.calls[:10])
        # the first INVITE call: what a ladder is most often wanted for
        example = next((c.index for c in result.calls if c.kind == "INVITE"), 1)
        raise UsageError(
            f"{len(result.calls)} calls: choose one with --call INDEX or Call-ID ({ids})\n"
            f"hint: e.g. rtcscope flow {shlex.quote(str(file))} --call {example}"
        )
    chosen = find_call(model, call or "1", file)
    nodes = find_nodes(result.messages, aliases)
    shown_icmp = icmp_for_call(chosen, icmp_events) if icmp or chosen.failed else []
    ladder = call_ladder(chosen, nodes, rtp=rtp, icmp=shown_icmp)
    if model.info.counts.first_ns is not None:  # one time base: the capture's first packet
        ladder.start_ns = model.info.counts.first_ns
    if messages and fmt not in (FlowFormat.text, FlowFormat.json, FlowFormat.html):
        raise UsageError("--messages goes with --format text, json or html (html always has them)")
    if fmt is FlowFormat.json:
        data = ladder_to_dict(ladder)
        if messages:
            data["messages"] = [
                {
                    "frame": m.frame,
                    "time_s": round((m.ts_ns - ladder.start_ns) / 1e9, 6),
                    "time_iso": iso_time(m.ts_ns),
                    "src": endpoint(m.src, m.sport),
                    "dst": endpoint(m.dst, m.dport),
                    "transport": m.transport,
                    "text": decode_packet_text(m.message.raw, lf_lines=True),
                }
                for m in chosen.messages
            ]
        text = format_json(data) + "\n"
    elif fmt is FlowFormat.text:
        color = output is None and sys.stdout.isatty()
        text = format_text(ladder, color=color)
        if messages:
            text += "".join(
                f"\n── frame {m.frame}  {(m.ts_ns - ladder.start_ns) / 1e9:.6f} s  "
                f"{endpoint(m.src, m.sport)} -> {endpoint(m.dst, m.dport)} "
                f"{m.transport.upper()}\n{_terminal_message(m.message.raw)}\n"
                for m in chosen.messages
            )
    elif fmt is FlowFormat.html:
        # a click on an arrow shows its message (CSS :target, no script)
        texts = [(m.frame, message_text(m.message.raw)) for m in chosen.messages]
        text = format_html(ladder, messages_by_frame(texts))
    else:
        text = FORMATTERS[fmt.value](ladder)
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text.encode("utf-8"))
    conclude(model, keep_going)
