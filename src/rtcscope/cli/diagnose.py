"""``rtcscope diagnose FILE``: why calls failed, with evidence and fixes.

Findings are grouped by code (count, calls, example calls, rule, fix); ``--details`` lists
every finding with its evidence and every request's path. ``--severity`` keeps that level and
worse (error < warning < info), ``--code`` (repeatable) only those codes, ``--limit`` the
examples per code (grouped) or the findings per code (``--details``). ``--list-codes`` prints
the catalogue of every code the checks can give (no FILE needed).

Exit code 1 when an error finding exists in the capture (whatever the filters show: DESIGN,
the command ran and found problems). JSON keys: ``calls``, ``errors``, ``warnings``,
``findings`` (each: severity, code, call_id, summary, element, last_hop, frames, time_s
(seconds from the capture's first packet), time_iso (ISO 8601 UTC), rfc, fix, detail; after
the filters), ``groups`` (each: code, severity, count, calls,
example_calls, example, explanation, rfc, fix), ``paths`` (each in-dialog request's hops:
call_id, method, cseq, outcome, last_hop, steps), ``notes``. ``--list-codes --format json``:
a list of {code, severity, concern, rule, explanation, fix}. With ``--follow`` or ``-i``
(cli/live.py): one object per INVITE call as it ends (index, call_id, state, final_status and
the keys above for that call), SIP checks only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    AnsweredTimeoutOpt,
    BpfOpt,
    CallIdOpt,
    CallOpt,
    CaptureArgs,
    DedupOpt,
    DurationOpt,
    FollowOpt,
    FromOpt,
    HostOpt,
    IdleTimeoutOpt,
    InterfaceOpt,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    RtpPortOpt,
    SinceOpt,
    ToOpt,
    UntilOpt,
    call_filter,
    call_id_with_streams,
    capture_args,
    conclude,
    find_call,
    message_filter,
    read_model,
)
from rtcscope.cli.output import FINDING_STYLES, OutputFormat, print_rows, print_text
from rtcscope.errors import EXIT_FOUND_PROBLEMS, UsageError
from rtcscope.sip.diagnosis import (
    CATALOGUE,
    Diagnosis,
    Severity,
    catalogue_rows,
    format_catalogue,
    format_diagnosis,
    group_findings,
    select_findings,
)
from rtcscope.timebase import iso_time

if TYPE_CHECKING:
    from rtcscope.cli.live_options import LiveOptions
    from rtcscope.sip.live import CallFilter, FinishedCall

COLUMNS = ("severity", "code", "summary", "element", "last_hop", "frames", "time_s", "rfc", "fix")
CATALOGUE_COLUMNS = ("code", "severity", "concern", "rule", "explanation", "fix")


def _print_catalogue(fmt: OutputFormat) -> None:
    rows = [row.as_dict() for row in catalogue_rows()]
    if fmt is OutputFormat.table:
        print_text(format_catalogue(catalogue_rows()))
    else:
        print_rows(rows, fmt, CATALOGUE_COLUMNS, json_data=rows)


def _filtered(result: Diagnosis, severity: Severity | None, codes: list[str]) -> Diagnosis:
    unknown = sorted(set(codes) - set(CATALOGUE))
    if unknown:
        raise UsageError(f"--code {', '.join(unknown)}: not a finding code (see --list-codes)")
    return Diagnosis(
        findings=select_findings(result.findings, severity=severity, codes=codes),
        paths=result.paths,
        calls=result.calls,
        notes=result.notes,
    )


def _with_iso(row: dict[str, Any], first_ns: int | None) -> dict[str, Any]:
    """``time_iso`` (ISO 8601 UTC) beside ``time_s`` (seconds from the first packet)."""
    time_s = row.get("time_s")
    row["time_iso"] = (
        None
        if time_s is None or first_ns is None
        else iso_time(first_ns + round(time_s * 1e6) * 1000)
    )
    return row


def _follow_diagnose(
    live: LiveOptions,
    args: CaptureArgs,
    rules: CallFilter,
    fmt: OutputFormat,
    *,
    severity: Severity | None,
    codes: list[str],
    details: bool,
    limit: int | None,
) -> None:
    """Follow/live mode: each INVITE call's findings printed once the call ends (text, or
    one JSON object per call: index, call_id, state, final_status and the keys of
    ``diagnose --format json`` for that call). SIP only: the media is not diagnosed here."""
    import json
    import sys

    from rtcscope.cli.live import conclude_live, run_live
    from rtcscope.sip.diagnosis import diagnose as diagnose_messages

    if fmt is OutputFormat.csv:
        raise UsageError("--follow/-i print text or JSON Lines (--format table or json)")
    errors = 0
    print("rtcscope: --follow/-i diagnose SIP only (media is not checked)", file=sys.stderr)

    def print_call(finished: FinishedCall, first_ns: int) -> None:
        nonlocal errors
        result = diagnose_messages(finished.messages)
        if not result.calls:
            return  # not an INVITE call
        if result.has_errors:
            errors += 1
        shown = _filtered(result, severity, codes)
        shown.notes = []  # the one note, "media not checked", is said once at the start
        call = finished.summary
        final = f" {call.final_status}" if call.final_status else ""
        if fmt is OutputFormat.json:
            data = {
                "index": call.index,
                "call_id": call.call_id,
                "state": call.state.value,
                "final_status": call.final_status,
                **shown.as_dict(),
            }
            data["errors"] = result.count(Severity.ERROR)
            data["warnings"] = result.count(Severity.WARNING)
            sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            head = f"#{call.index} {call.call_id} ({call.state.value}{final})"
            body = format_diagnosis(shown, details=details, limit=limit)
            sys.stdout.write(head + "\n" + "\n".join("  " + line for line in body.splitlines()))
            sys.stdout.write("\n")
        sys.stdout.flush()

    outcome = run_live(live, args, rules, print_call)
    conclude_live(outcome, args.keep_going)
    if errors:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)


@app.command()
def diagnose(
    file: Annotated[
        Path | None,
        typer.Argument(help="pcap or pcapng capture (.gz read too); '-' reads standard input"),
    ] = None,
    call: CallOpt = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    rtp_port: RtpPortOpt = None,
    quiet: QuietOpt = False,
    details: Annotated[
        bool, typer.Option("--details", help="every finding and every request's path")
    ] = False,
    severity: Annotated[
        Severity | None,
        typer.Option("--severity", help="show this level and worse: error, warning or info"),
    ] = None,
    code: Annotated[
        list[str] | None, typer.Option("--code", help="only this finding code (repeatable)")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="examples per code (grouped) or findings per code"),
    ] = None,
    list_codes: Annotated[
        bool, typer.Option("--list-codes", help="print every finding code and exit")
    ] = False,
    call_id: CallIdOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
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
    """Findings for every INVITE call, grouped by code: ACK/BYE paths hop by hop, 2xx
    retransmissions, target refreshes, loops, media."""
    if list_codes:
        _print_catalogue(fmt)
        return
    from rtcscope.cli.live_options import LiveOptions

    live = LiveOptions(file, follow, interface, bpf, idle_timeout, answered_timeout, duration)
    if file is None and interface is None:
        raise UsageError("give a capture FILE (or --list-codes)")
    live.check()
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    rules = call_filter(call_id=call_id, from_=from_, to=to, since=since, until=until, hosts=host)
    if live.live:
        codes = code or []
        if call:  # --call: that Call-ID only (the batch diagnosis picks it after the pass)
            rules = replace(rules, call_id=rules.call_id or call)
        _follow_diagnose(
            live, args, rules, fmt, severity=severity, codes=codes, details=details, limit=limit
        )
        return
    assert file is not None
    model = read_model(file, args, select=message_filter(rules))
    wanted = None
    found = None
    if call is not None:  # the same --call as every command: index, Call-ID or prefix
        found = find_call(model, call, file)
        wanted = call_id_with_streams(found, call, [])
    result = model.diagnosis(wanted)
    shown = _filtered(result, severity, code or [])
    groups = group_findings(shown.findings)
    if fmt is OutputFormat.table:
        text = format_diagnosis(shown, details=details, limit=limit)
        if found is not None and not result.calls:  # it matched, but is not an INVITE call
            text = f"call {found.index} ({wanted}) is a {found.kind}: diagnose checks INVITE calls"
        hidden = len(result.findings) - len(shown.findings)
        if hidden:
            text += f"\n({hidden} finding(s) left out by --severity/--code)"
        print_text(text, line_styles=FINDING_STYLES)
    else:
        per_code: dict[str, int] = {}
        findings = []
        for f in shown.findings:
            per_code[f.code] = per_code.get(f.code, 0) + 1
            if limit is None or per_code[f.code] <= limit:
                findings.append(f)
        rows = [_with_iso(f.as_dict(), model.info.counts.first_ns) for f in findings]
        data = shown.json_data(rows)  # (the paths written as text, most objects not made)
        data["errors"], data["warnings"] = (
            result.count(Severity.ERROR),
            result.count(Severity.WARNING),
        )
        data["groups"] = [g.as_dict(limit or 3) for g in groups]
        print_rows(rows, fmt, COLUMNS, json_data=data)
    conclude(model, keep_going)
    if result.has_errors:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)
