"""The capture options every command takes, with the same words and meaning, and the one way
a command reads a capture: :func:`read_model` (one pass, a progress bar on a terminal).

A truncated or corrupt capture: the command still shows everything read before the fault,
then :func:`conclude` exits 3 naming the fault, or, with ``--keep-going``, prints it as a
warning and exits 0.
"""

from __future__ import annotations

import gc
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rtcscope._dataclass import dataclass
from rtcscope.cli import keep_until_exit
from rtcscope.errors import EXIT_INVALID_INPUT, InputError, UsageError
from rtcscope.scan import ALL_TAPS, CaptureModel, ScanOptions, Tap, scan
from rtcscope.text import LINE_LIMIT, terminal_text

if TYPE_CHECKING:
    from rtcscope.sip.calls import CallSummary
    from rtcscope.sip.live import CallFilter, MessageFilter, TimeBound

FileArg = Annotated[
    Path,
    typer.Argument(help="pcap or pcapng capture (.gz read too); '-' reads standard input"),
]
DedupOpt = Annotated[
    bool,
    typer.Option("--dedup", help="drop the second copy of packets captured twice (within 5 ms)"),
]
ReassemblyOpt = Annotated[
    bool,
    typer.Option(
        "--reassembly/--no-reassembly",
        help="reassemble IP fragments (default); --no-reassembly takes every record alone",
    ),
]
KeepGoingOpt = Annotated[
    bool,
    typer.Option(
        "--keep-going",
        help="a truncated or corrupt capture is a warning (exit 0), not an error (exit 3)",
    ),
]
RtpPortOpt = Annotated[
    list[int] | None,
    typer.Option("--rtp-port", help="treat this UDP port as RTP (like Decode As); repeatable"),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar on standard error")]
CallOpt = Annotated[
    str | None,
    typer.Option(
        "--call",
        help="a call: its index in `rtcscope calls`, a Call-ID (any leg's) or a unique prefix",
    ),
]

# Call filters applied while the capture is read (rtcscope.sip.live.MessageFilter): the
# messages of other calls are framed, their Call-ID read, and dropped.
CallIdOpt = Annotated[str | None, typer.Option("--call-id", help="a Call-ID contains this")]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from", help="the From URI of the call's first request contains this (any case)"
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option("--to", help="the To URI of the call's first request contains this (any case)"),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="calls whose first message is at or after this: seconds after the first packet "
        "(12.5) or an ISO time (2024-05-01T10:00:00, UTC unless it says)",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="calls whose first message is at or before this (as --since)"),
]
HostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        help="only SIP sent from or to this address or network (10.0.0.0/24); repeatable",
    ),
]

# Reading a capture as it grows (cli/live.py).
FollowOpt = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="read FILE as it is written (tail -f; '-' or a FIFO: as the pipe delivers) and "
        "print each call when it ends; Ctrl-C stops (exit 0)",
    ),
]
InterfaceOpt = Annotated[
    str | None,
    typer.Option(
        "-i",
        "--interface",
        help="capture live on this interface (runs tcpdump -U -w -; needs root) and print "
        "each call when it ends",
    ),
]
BpfOpt = Annotated[
    str | None, typer.Option("-f", "--bpf", help="capture filter for -i (tcpdump syntax)")
]
IdleTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--idle-timeout",
        min=0.001,
        help="live: a call not answered is printed after this many seconds (capture time) "
        "without a message",
    ),
]
AnsweredTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--answered-timeout",
        min=0.001,
        help="live: the same for an answered call (quiet while people talk)",
    ),
]
DurationOpt = Annotated[
    float | None,
    typer.Option("--duration", min=0.001, help="live: stop after this many seconds (wall clock)"),
]


@dataclass(frozen=True, slots=True)
class CaptureArgs:
    """The capture options as the CLI received them."""

    dedup: bool = False
    reassembly: bool = True
    keep_going: bool = False
    rtp_port: tuple[int, ...] = ()
    quiet: bool = False
    heuristic: bool = True
    use_sdp: bool = True

    def scan_options(self, taps: frozenset[Tap] = ALL_TAPS) -> ScanOptions:
        for port in self.rtp_port:
            if not 0 < port < 65536:
                raise UsageError(f"--rtp-port {port} is not a UDP port")
        return ScanOptions(
            dedup=self.dedup,
            reassemble=self.reassembly,
            keep_going=self.keep_going,
            rtp_ports=self.rtp_port,
            heuristic=self.heuristic,
            use_sdp=self.use_sdp,
            taps=taps,
        )


def capture_args(
    *,
    dedup: bool = False,
    reassembly: bool = True,
    keep_going: bool = False,
    rtp_port: list[int] | None = None,
    quiet: bool = False,
    heuristic: bool = True,
    use_sdp: bool = True,
) -> CaptureArgs:
    return CaptureArgs(
        dedup, reassembly, keep_going, tuple(rtp_port or ()), quiet, heuristic, use_sdp
    )


def _size_of(file: Path) -> int | None:
    if os.fspath(file) == "-":
        return None
    try:
        info = os.stat(file)
    except OSError:
        return None
    import stat

    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > 0 else None


def read_model(
    file: Path,
    args: CaptureArgs,
    taps: frozenset[Tap] = ALL_TAPS,
    *,
    spool: bool = False,
    select: MessageFilter | None = None,
    offsets: bool | None = None,
) -> CaptureModel:
    """One pass over ``file`` (a path, or '-' for standard input) with these options.

    A progress bar (bytes read, a percentage when the size is known) shows on standard
    error when it is a terminal, unless ``--quiet``; it appears only for captures that take
    more than a moment (rich shows it after its first refresh). ``spool``: a later step
    reads packets again (a piped source is copied to a temporary file; ``model.close()``
    removes it). ``select``: keep only the SIP of these calls (:func:`message_filter`,
    applied during the pass). ``offsets`` (default: ``spool``): the later step will read some
    streams' packets, by their offsets (not when it only may: ``streams`` without --quality).
    """
    wanted = spool if offsets is None else offsets
    model = _read_model(file, args, taps, spool, select, wanted)
    keep_until_exit(model)
    if select is not None:
        keep_selected_streams(model)
    return model


def _read_model(
    file: Path,
    args: CaptureArgs,
    taps: frozenset[Tap],
    spool: bool,
    select: MessageFilter | None,
    offsets: bool,
) -> CaptureModel:
    options = replace(args.scan_options(taps), spool=spool, offsets=offsets)
    source: str | Path = "-" if os.fspath(file) == "-" else file
    # The model lives until the command ends, and with it hundreds of thousands of objects
    # on a busy capture (messages, headers, transactions, calls) with few reference cycles:
    # every automatic collection would walk all of them again (seconds on 20,000 calls).
    # A command that reads a capture is one short process: the cyclic collector stays off
    # for the rest of it (reference counting frees everything as usual).
    gc.disable()
    if args.quiet or not sys.stderr.isatty():
        return scan(source, options, select=select)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    total = _size_of(file)
    columns = [
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(Path(os.fspath(file)).name, total=total)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        return scan(source, options, progress=advance, select=select)


def parse_time(text: str, option: str) -> TimeBound:
    """``--since``/``--until``: seconds after the first packet, or an ISO 8601 time (UTC when
    it names no zone)."""
    from rtcscope.sip.live import TimeBound  # (the call filters: calls, diagnose, flow...)

    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not abs(seconds) < 1e10:  # also nan and inf
            raise UsageError(f"{option} {text!r}: seconds out of range")
        return TimeBound(round(seconds * 1e9), relative=True)
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give seconds after the first packet (12.5) or an ISO time "
            "(2024-05-01T10:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return TimeBound(
        (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000, False
    )


def call_filter(
    *,
    call_id: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    since: str | None = None,
    until: str | None = None,
    hosts: list[str] | None = None,
) -> CallFilter:
    """The call filters as given on the command line (checked: a usage error names a bad one)."""
    from rtcscope.sip.live import CallFilter, parse_networks

    rules = CallFilter(
        call_id=call_id or None,
        from_=from_ or None,
        to=to or None,
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
        hosts=tuple(hosts or ()),
    )
    parse_networks(rules.hosts)  # InvalidArgument, worded as --host's (cli/errors.py)
    return rules


def message_filter(rules: CallFilter) -> MessageFilter | None:
    """The scan-time filter for these rules (None when no filter was asked for)."""
    from rtcscope.sip.live import MessageFilter

    return MessageFilter(rules) if rules.active else None


def keep_selected_streams(model: CaptureModel) -> None:
    """After a filtered scan: the streams whose SDP names a call that was filtered out are
    dropped (the SDP of every call still named its streams, so none is taken for a kept
    call's stream because it reused the same port)."""
    if model.rtp is None:
        return
    kept = {m.message.call_id for m in model.messages}
    model.rtp.streams = [s for s in model.rtp.streams if s.call_id is None or s.call_id in kept]


def conclude(model: CaptureModel, keep_going: bool) -> None:
    """After the output: a fault in the capture is exit 3, or a warning with --keep-going."""
    if not model.faults:
        return
    for fault in model.faults:
        word = "warning" if keep_going else "error"
        shown = terminal_text(str(fault), limit=LINE_LIMIT)
        print(f"rtcscope: {word}: {shown} (everything before it was read)", file=sys.stderr)
    if not keep_going:
        raise typer.Exit(EXIT_INVALID_INPUT)


def find_call(model: CaptureModel, wanted: str, file: Path) -> CallSummary:
    """The call ``--call`` names, the same way in every command: its index in ``rtcscope
    calls`` (``3`` or ``#3``), a Call-ID of any of its legs, or a unique Call-ID prefix.

    A capture without SIP calls is a fault of the input (exit 3); a ``--call`` that names
    none of its calls is a usage error (exit 2) that says how to list them."""
    result = model.calls()
    if not result.calls:
        raise InputError(f"{file}: no SIP calls")
    found = result.find(wanted)
    if found is None:
        raise UsageError(
            f"--call {wanted!r}: no call of {file} has that index, Call-ID or Call-ID prefix\n"
            f"hint: they are listed by: {shlex.join(['rtcscope', 'calls', str(file)])}"
        )
    return found


def call_id_with_streams(call: CallSummary, wanted: str, streams: list[str | None]) -> str:
    """The Call-ID to select streams by: ``wanted`` when it is one of the call's Call-IDs,
    else the first leg that has streams (``streams``: each stream's Call-ID), else the
    first leg."""
    if wanted in call.call_ids:
        return wanted
    return next((cid for cid in call.call_ids if cid in streams), call.call_id)


def resolve_call_id(file: Path, wanted: str, args: CaptureArgs) -> str:
    """For commands that read a stream themselves (``replay``, ``sipp``): one pass over SIP
    and RTP to turn ``--call`` (index, Call-ID or prefix) into the Call-ID of its streams."""
    model = read_model(file, replace(args, quiet=True), frozenset({Tap.SIP, Tap.RTP}))
    call = find_call(model, wanted, file)
    return call_id_with_streams(call, wanted, [s.call_id for s in model.streams])


def stream_call_id(file: Path, call: str | None) -> str | None:
    """``--call`` as the Call-ID of its streams, or None when not given."""
    return None if call is None else resolve_call_id(file, call, CaptureArgs(quiet=True))
