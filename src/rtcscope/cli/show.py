"""``rtcscope show FILE --frame N``: one SIP message as captured (headers and SDP).

Text from the packet is printed through rtcscope.text's escaping (a capture is untrusted
input: a terminal would act on escape sequences); ``--format json`` gives frame,
time_epoch_s, src, dst, transport and text (the exact message with lines ending in LF,
bytes that are not UTF-8 as ``\\xNN``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import ReportFormat, format_json, print_text
from rtcscope.errors import UsageError
from rtcscope.text import decode_packet_text


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    frame: Annotated[int, typer.Option("--frame", help="the frame number (as Wireshark's)")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table (text) or json")] = (
        ReportFormat.table
    ),
) -> None:
    """Print the SIP message of one frame: start line, headers and body (SDP) as captured."""
    from rtcscope.scan.files import sip_messages
    from rtcscope.sip.transactions import endpoint

    found = [m for m in sip_messages(file) if m.frame == frame]
    if not found:
        raise UsageError(f"frame {frame} of {file} holds no SIP message")
    for captured in found:
        src = endpoint(captured.src, captured.sport)
        dst = endpoint(captured.dst, captured.dport)
        text = decode_packet_text(captured.message.raw, lf_lines=True)
        if fmt is ReportFormat.json:
            sys.stdout.write(
                format_json(
                    {
                        "frame": captured.frame,
                        "time_epoch_s": round(captured.ts_ns / 1e9, 6),
                        "src": src,
                        "dst": dst,
                        "transport": captured.transport,
                        "text": text,
                    }
                )
                + "\n"
            )
        else:
            print_text(
                f"frame {captured.frame}  {src} -> {dst} {captured.transport.upper()}\n\n"
                + text.rstrip("\n")
            )
