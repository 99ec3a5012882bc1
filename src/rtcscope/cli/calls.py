"""``rtcscope calls FILE``: every call (every Call-ID, legs linked) with its outcome.

JSON (``--format json``) is an object: ``calls`` (each: index, call_id, call_ids, kind, from,
to, caller, callee, start_s, ring_s, answer_s, end_s, duration_s, setup_ms, final_status,
final_reason, state, ended_by, bye_source, messages, resent, methods, statuses, sdp, streams,
dtmf; times in seconds from the capture's first packet, as tshark's frame.time_relative, each
with its absolute twin in ISO 8601 UTC: start_iso, ring_iso, answer_iso, end_iso, time_iso),
``statistics`` (messages, resent, status_codes, methods, setup_ms: what ``tshark -q -z
sip,stat`` prints) and ``tls_flows`` (TCP connections carrying TLS, not decoded: client,
client_port, server, server_port, first_frame, description; a table ends with a line
counting them by port).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

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
from rtcscope.cli.notes import print_tls_flows
from rtcscope.cli.output import OutputFormat, WideOpt, format_json, print_rows, print_text
from rtcscope.errors import UsageError
from rtcscope.quality import StreamQuality
from rtcscope.rtp.streams import StreamKey
from rtcscope.scan import CaptureModel, Tap
from rtcscope.sip.calls import FAILED_STATES, CallState, CallSummary, SipStatistics

# What fits 80 columns; --wide shows TABLE_COLUMNS.
NARROW_COLUMNS = ["index", "start_s", "from", "to", "state", "final", "duration_s"]
TABLE_COLUMNS = [
    "index",
    "start_s",
    "start_utc",
    "kind",
    "from",
    "to",
    "state",
    "final",
    "ring_s",
    "answer_s",
    "duration_s",
    "ended_by",
    "messages",
    "resent",
    "streams",
    "call_id",
]


def _status_matches(call: CallSummary, wanted: str) -> bool:
    text = wanted.strip().lower()
    if len(text) == 3 and text[0].isdigit() and text[1:] == "xx":
        return any(code // 100 == int(text[0]) for code in call.statuses)
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"--status {wanted!r}: give a code (486) or a class (4xx)")
    return int(text) in call.statuses


def select_calls(
    calls: list[CallSummary],
    *,
    from_: str | None = None,
    to: str | None = None,
    call_id: str | None = None,
    method: str | None = None,
    status: str | None = None,
    failed: bool = False,
) -> list[CallSummary]:
    """The calls matching every filter given (substring matches, case-insensitive)."""
    out = []
    for call in calls:
        if from_ and not any(from_.lower() in uri.lower() for uri in call.from_uris):
            continue
        if to and not any(to.lower() in uri.lower() for uri in call.to_uris):
            continue
        if call_id and not any(call_id in cid for cid in call.call_ids):
            continue
        if method and method.upper() not in {m.upper() for m in call.methods}:
            continue
        if status and not _status_matches(call, status):
            continue
        if failed and not call.failed:
            continue
        out.append(call)
    return out


def _qualities(model: CaptureModel) -> dict[StreamKey, StreamQuality]:
    """Each stream's quality from its packets (one more read, of those packets only)."""
    from rtcscope.report.data import stream_qualities

    if model.payload_path is None:
        return {}
    return stream_qualities(model.payload_path, model.streams, dedup=model.options.dedup)


def _table_row(data: dict[str, Any]) -> dict[str, Any]:
    row = dict(data)
    final = data["final_status"]
    row["final"] = f"{final} {data['final_reason'] or ''}".strip() if final else ""
    row["streams"] = len(data["streams"])
    row["start_utc"] = (data["start_iso"] or "")[11:23]  # wall clock, to compare with logs
    if "quality" in data:
        row["mos"] = "" if data["quality"] is None else f"{data['quality']['mos']:.2f}"
    return row


def _failed_red(row: dict[str, Any]) -> str | None:
    """Failed, busy, cancelled, unanswered calls in red (where the terminal has colour)."""
    return "red" if CallState(row["state"]) in FAILED_STATES else None


def format_statistics(stats: SipStatistics) -> str:
    """The statistics in the words ``tshark -z sip,stat`` uses."""
    lines = [
        f"Number of SIP messages: {stats.messages}",
        f"Number of resent SIP messages: {stats.resent}",
        "SIP status codes: "
        + (", ".join(f"{k}: {v}" for k, v in sorted(stats.status_counts.items())) or "none"),
        "SIP request methods: "
        + (", ".join(f"{k}: {v}" for k, v in sorted(stats.method_counts.items())) or "none"),
        f"Average setup time {stats.average_setup_ms} ms, min {stats.min_setup_ms} ms, "
        f"max {stats.max_setup_ms} ms",
    ]
    return "\n".join(lines)


@app.command()
def calls(
    file: FileArg,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="a From URI of the call's out-of-dialog requests contains this (any case)",
        ),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="To URI contains this")] = None,
    call_id: Annotated[str | None, typer.Option("--call-id", help="a Call-ID contains this")] = (
        None
    ),
    method: Annotated[
        str | None, typer.Option("--method", help="the call has a request with this method")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="the call has this response (486 or 4xx)")
    ] = None,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help="only failed, busy, cancelled, redirected, unanswered calls and calls missing ACK",
        ),
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="also print tshark -z sip,stat's figures")
    ] = False,
    quality: Annotated[
        bool,
        typer.Option(
            "--quality",
            help="E-model MOS per stream and the call's worst direction (reads the streams' "
            "packets once more)",
        ),
    ] = False,
    no_streams: Annotated[
        bool, typer.Option("--no-streams", help="skip RTP stream discovery (faster)")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    rtp_port: RtpPortOpt = None,
    quiet: QuietOpt = False,
    wide: WideOpt = False,
) -> None:
    """Every call of a capture: from, to, ring/answer/end times, final response, state."""
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    taps = frozenset({Tap.SIP} if no_streams else {Tap.SIP, Tap.RTP})
    if quality and no_streams:
        raise UsageError("--quality needs the RTP streams: drop --no-streams")
    model = read_model(file, args, taps, spool=quality)
    result = model.calls()
    chosen = select_calls(
        result.calls,
        from_=from_,
        to=to,
        call_id=call_id,
        method=method,
        status=status,
        failed=failed,
    )
    qualities = _qualities(model) if quality else None
    model.close()
    data = [c.as_dict(result.first_ns, qualities) for c in chosen]
    if fmt is OutputFormat.json:
        sys.stdout.write(
            format_json(
                {
                    "calls": data,
                    "statistics": result.statistics.as_dict(),
                    "tls_flows": [flow.as_dict() for flow in model.tls_flows],
                }
            )
            + "\n"
        )
        conclude(model, keep_going)
        return
    if fmt is OutputFormat.csv:
        flat = [
            {k: v for k, v in _table_row(d).items() if k not in ("sdp", "dtmf", "methods")}
            for d in data
        ]
        print_rows(flat, fmt, [c for c in TABLE_COLUMNS if c != "final"] + ["final_status"])
        print_tls_flows(model.tls_flows, to_stderr=True)
        conclude(model, keep_going)
        return
    columns = TABLE_COLUMNS if wide else NARROW_COLUMNS
    if quality:
        columns = [*columns[:-1], "mos", columns[-1]] if wide else [*columns, "mos"]
    print_rows(
        [_table_row(d) for d in data],
        fmt,
        columns,
        title="SIP calls",
        row_style=_failed_red,
        wide=wide,
    )
    print_tls_flows(model.tls_flows)
    if stats:
        print_text(format_statistics(result.statistics))
    conclude(model, keep_going)
