"""``rtcscope route``: the path an ACK (or other in-dialog request) must take, hop by hop.

Give the 2xx as ``--frame N`` of a capture, or as a text file holding the message (an INVITE
as the callee received it gives the callee's BYE path instead, RFC 3261 12.1.1); name the
proxies with ``--proxy NAME=ADDR[,ADDR]`` (a proxy with two interfaces lists both). Without
``--proxy``, each Route address is its own proxy, except consecutive ``r2=on`` values.
JSON keys: ``route_set``, ``remote_target``, ``hops`` (index, sender, to, to_element,
request_uri, routes, route_count, routes_truncated, max_forwards, sends_from, actions),
``problems``. Each hop's ``routes`` lists the Route values it carries; past
``ROUTES_SHOWN`` values it lists the first ones and sets ``routes_truncated`` (the whole set is
``route_set``), so the output grows linearly with the route set, not with its square.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, print_rows, print_text
from rtcscope.errors import InputError, UsageError
from rtcscope.sip.message import SipMessage, looks_like_sip
from rtcscope.sip.routing import Proxy, RoutePlan, plan_route
from rtcscope.sip.uri import Uri

ROUTES_SHOWN = 8  # Route values listed per hop; the rest is counted

COLUMNS = ("hop", "sender", "to", "element", "request_uri", "route", "max_forwards", "sends_from")


# pcap (both byte orders, micro- and nanosecond) and pcapng section header block.
CAPTURE_MAGICS = frozenset(
    {
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
        b"\x0a\x0d\x0d\x0a",
    }
)


def _load_answer(file: Path, frame: int | None) -> SipMessage:
    if frame is not None:
        from rtcscope.cli.capture import CaptureArgs, read_model
        from rtcscope.scan import Tap

        model = read_model(file, CaptureArgs(), frozenset({Tap.SIP}))
        for captured in model.messages:
            if captured.frame == frame:
                return captured.message  # read whole before any fault later in the file
        if model.faults:
            raise model.faults[0]
        raise InputError(f"{file}: no SIP message ends in frame {frame}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: {exc.strerror}") from exc
    if data[:4] in CAPTURE_MAGICS or data[:2] == b"\x1f\x8b":
        raise UsageError(
            f"{file} is a capture: give --frame N, the frame of the 2xx "
            f"(listed by: rtcscope flow {file})"
        )
    if not looks_like_sip(data):
        raise InputError(f"{file} holds no SIP message (a request or status line first)")
    # A message pasted into a text file usually has bare LF line ends.
    if b"\r\n" not in data:
        data = data.replace(b"\n", b"\r\n")
    return SipMessage.parse(data)


def _shown_routes(routes: Sequence[Uri]) -> list[str]:
    """The first ``ROUTES_SHOWN`` Route values of a hop (a view: nothing is copied)."""
    return [str(routes[i]) for i in range(min(len(routes), ROUTES_SHOWN))]


def _route_line(routes: Sequence[Uri]) -> str:
    if not routes:
        return "(none)"
    shown = ", ".join(f"<{u}>" for u in _shown_routes(routes))
    more = len(routes) - ROUTES_SHOWN
    return shown + (f", ... ({more} more, {len(routes)} in all)" if more > 0 else "")


def plan_as_dict(plan: RoutePlan) -> dict[str, Any]:
    return {
        "route_set": [str(u) for u in plan.route_set],
        "remote_target": str(plan.remote_target),
        "hops": [
            {
                "index": h.index,
                "sender": h.sender,
                "to": h.to,
                "to_element": h.to_element,
                "request_uri": str(h.request_uri),
                "routes": _shown_routes(h.routes),
                "route_count": len(h.routes),
                "routes_truncated": len(h.routes) > ROUTES_SHOWN,
                "max_forwards": h.max_forwards,
                "sends_from": h.sends_from,
                "actions": list(h.actions),
            }
            for h in plan.hops
        ],
        "problems": list(plan.problems),
    }


def format_plan(plan: RoutePlan, method: str) -> str:
    lines = [
        "route set: " + (", ".join(f"<{u}>" for u in plan.route_set) or "(empty)"),
        f"remote target (Contact): <{plan.remote_target}>",
    ]
    for hop in plan.hops:
        leaves = f" from {hop.sends_from}" if hop.sends_from else ""
        lines.append(f"hop {hop.index}: {hop.sender}{leaves} -> {hop.to} ({hop.to_element})")
        lines.append(f"    {method} <{hop.request_uri}> SIP/2.0")
        lines.append("    Route: " + _route_line(hop.routes))
        lines.append(f"    Max-Forwards: {hop.max_forwards}")
        for action in hop.actions:
            lines.append(f"    - {hop.sender}: {action}")
    for problem in plan.problems:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)


@app.command()
def route(
    file: Annotated[Path, typer.Argument(help="a capture (with --frame) or a text file")],
    frame: Annotated[
        int | None, typer.Option("--frame", help="frame number of the 2xx in the capture")
    ] = None,
    proxy: Annotated[
        list[str] | None,
        typer.Option("--proxy", help="NAME=ADDR[,ADDR...] (repeatable, in any order)"),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="in-dialog request")] = "ACK",
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
) -> None:
    """The ACK's path for a 2xx (or the callee's BYE for an INVITE), hop by hop, with what
    each proxy must do (RFC 3261 16)."""
    answer = _load_answer(file, frame)
    from_callee = answer.is_request and answer.method == "INVITE"
    if not from_callee and not (answer.is_response and 200 <= (answer.status_code or 0) < 300):
        what = (
            f"{answer.summary!r} is neither a 2xx (the caller's ACK/BYE path) nor an INVITE "
            "as the callee received it (the callee's BYE path)"
        )
        if frame is not None:  # the option chose the wrong frame: usage
            raise UsageError(f"--frame {frame}: {what}")
        raise InputError(what)  # the text file holds no such message: input
    if from_callee and method.upper() == "ACK":
        method = "BYE"  # the callee sends no ACK
    proxies = [Proxy.parse(p) for p in proxy or []]
    plan = plan_route(answer, proxies, method=method.upper(), uac=not from_callee)
    if fmt is OutputFormat.table:
        print_text(format_plan(plan, method.upper()))
        return
    rows = [
        {
            "hop": h.index,
            "sender": h.sender,
            "to": h.to,
            "element": h.to_element,
            "request_uri": str(h.request_uri),
            "route": _shown_routes(h.routes),
            "max_forwards": h.max_forwards,
            "sends_from": h.sends_from,
        }
        for h in plan.hops
    ]
    print_rows(rows, fmt, COLUMNS, json_data=plan_as_dict(plan))
