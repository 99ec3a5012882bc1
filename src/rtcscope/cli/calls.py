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
With ``--follow`` or ``-i`` (cli/live.py): one such call object per line (JSON Lines), printed
as each call ends.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    AnsweredTimeoutOpt,
    BpfOpt,
    CaptureArgs,
    DedupOpt,
    DurationOpt,
    FollowOpt,
    HostOpt,
    IdleTimeoutOpt,
    InterfaceOpt,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    RtpPortOpt,
    SinceOpt,
    UntilOpt,
    call_filter,
    capture_args,
    conclude,
    message_filter,
    read_model,
)
from rtcscope.cli.notes import print_tls_flows
from rtcscope.cli.output import (
    OutputFormat,
    WideOpt,
    print_rows,
    print_text,
    write_json_object,
)
from rtcscope.errors import UsageError
from rtcscope.rtp.streams import StreamKey
from rtcscope.scan import CaptureModel, Tap
from rtcscope.sip.calls import (
    FAILED_STATES,
    CallState,
    CallSummary,
    SipStatistics,
    calls_json,
)

# What fits 80 columns; --wide shows TABLE_COLUMNS.
NARROW_COLUMNS = ["index", "start_s", "from", "to", "state", "final", "duration_s"]
if TYPE_CHECKING:
    from rtcscope.cli.live_options import LiveOptions
    from rtcscope.quality import StreamQuality
    from rtcscope.sip.live import CallFilter, FinishedCall

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

    payloads = model.payload_source
    if payloads is None:
        return {}
    return stream_qualities(payloads, model.streams, dedup=model.options.dedup)


def _table_row(data: dict[str, Any], streams: int | None = None) -> dict[str, Any]:
    """A call's table (or CSV) row from its JSON object; ``streams``: the count of RTP
    streams, for an object made without its lists (``as_dict(detail=False)``)."""
    row = dict(data)
    final = data["final_status"]
    row["final"] = f"{final} {data['final_reason'] or ''}".strip() if final else ""
    row["streams"] = len(data["streams"]) if streams is None else streams
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


LIVE_COLUMNS = (
    ("index", 5),
    ("start_s", 12),
    ("kind", 8),
    ("from", 24),
    ("to", 24),
    ("state", 12),
    ("final", 20),
    ("ring_s", 12),
    ("answer_s", 12),
    ("duration_s", 10),
    ("ended_by", 8),
    ("messages", 8),
    ("resent", 6),
)


def format_live_row(row: dict[str, Any]) -> str:
    """One call as one line (follow/live mode: no table to size, so fixed widths; long
    values are cut with '~'; the Call-ID comes last, whole)."""
    cells = []
    for name, width in LIVE_COLUMNS:
        value = row.get(name)
        text = "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
        cells.append(text if len(text) <= width else text[: width - 1] + "~")
        cells[-1] = cells[-1].ljust(width)
    return " ".join([*cells, str(row.get("call_id", ""))]).rstrip()


def _follow_calls(
    live: LiveOptions,
    args: CaptureArgs,
    rules: CallFilter,
    fmt: OutputFormat,
    *,
    method: str | None,
    status: str | None,
    failed: bool,
) -> None:
    """Follow/live mode: each call printed once it ends (a line, a JSON object per line, or a
    CSV row), with the same keys as ``calls --format json``'s call objects."""
    import csv
    import json

    from rtcscope.cli.live import conclude_live, run_live

    out = sys.stdout
    csv_writer = csv.writer(out, lineterminator="\n")
    csv_columns = [c for c in TABLE_COLUMNS if c != "final"] + ["final_status"]
    if fmt is OutputFormat.table:
        out.write(format_live_row({n: n for n, _ in LIVE_COLUMNS} | {"call_id": "call_id"}) + "\n")
    elif fmt is OutputFormat.csv:
        csv_writer.writerow(csv_columns)
    out.flush()

    def print_call(finished: FinishedCall, first_ns: int) -> None:
        if not select_calls([finished.summary], method=method, status=status, failed=failed):
            return
        data = finished.summary.as_dict(first_ns)
        if fmt is OutputFormat.json:
            out.write(json.dumps(data, ensure_ascii=False) + "\n")  # JSON Lines
        elif fmt is OutputFormat.csv:
            row = _table_row(data)
            csv_writer.writerow(["" if row.get(c) is None else row.get(c) for c in csv_columns])
        else:
            out.write(format_live_row(_table_row(data)) + "\n")
        out.flush()

    outcome = run_live(live, args, rules, print_call)
    conclude_live(outcome, args.keep_going)


@app.command()
def calls(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="pcap or pcapng capture (.gz read too); '-' reads standard input (not with -i)"
        ),
    ] = None,
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
    since: SinceOpt = None,
    until: UntilOpt = None,
    host: HostOpt = None,
    follow: FollowOpt = False,
    interface: InterfaceOpt = None,
    bpf: BpfOpt = None,
    idle_timeout: IdleTimeoutOpt = 60.0,
    answered_timeout: AnsweredTimeoutOpt = 3600.0,
    duration: DurationOpt = None,
) -> None:
    """Every call of a capture: from, to, ring/answer/end times, final response, state."""
    from rtcscope.cli.live_options import LiveOptions

    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    rules = call_filter(call_id=call_id, from_=from_, to=to, since=since, until=until, hosts=host)
    live = LiveOptions(file, follow, interface, bpf, idle_timeout, answered_timeout, duration)
    live.check()
    if live.live:
        if stats or quality:
            raise UsageError("--stats and --quality need the whole capture: not with --follow/-i")
        _follow_calls(live, args, rules, fmt, method=method, status=status, failed=failed)
        return
    assert file is not None
    taps = frozenset({Tap.SIP} if no_streams else {Tap.SIP, Tap.RTP})
    if quality and no_streams:
        raise UsageError("--quality needs the RTP streams: drop --no-streams")
    select = message_filter(rules)
    model = read_model(file, args, taps, spool=quality, select=select)
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
    # Times from the capture's first packet (tshark's time base), filtered or not.
    first_ns = result.first_ns
    if fmt is OutputFormat.json:
        # call by call: 20,000 calls' dicts and their text are never all in memory at once
        write_json_object(
            {
                # The usual call's text written in C, no object made (calls_json); with
                # qualities, each call's object.
                "calls": calls_json(chosen, first_ns)
                if qualities is None
                else (c.as_dict(first_ns, qualities) for c in chosen),
                "statistics": result.statistics.as_dict(),
                "tls_flows": [flow.as_dict() for flow in model.tls_flows],
            }
        )
        conclude(model, keep_going)
        return
    # The table's fields (without the lists: neither the table nor CSV shows them).
    rows = [
        _table_row(c.as_dict(first_ns, qualities, detail=False), len(c.streams)) for c in chosen
    ]
    if fmt is OutputFormat.csv:
        print_rows(rows, fmt, [c for c in TABLE_COLUMNS if c != "final"] + ["final_status"])
        print_tls_flows(model.tls_flows, to_stderr=True)
        conclude(model, keep_going)
        return
    columns = TABLE_COLUMNS if wide else NARROW_COLUMNS
    if quality:
        columns = [*columns[:-1], "mos", columns[-1]] if wide else [*columns, "mos"]
    print_rows(
        rows,
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
