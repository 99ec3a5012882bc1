"""Calls printed as they end: ``calls``/``diagnose`` with ``--follow`` (a file still being
written, ``-`` or a FIFO as the pipe delivers) or ``-i IFACE [-f BPF]`` (tcpdump as a child).

One streaming pass (rtcscope.scan with a SIP sink): each framed SIP message goes through the
call filters to a :class:`~rtcscope.sip.live.CallTracker`, whose finished calls are printed
at once (stdout flushed per call). SIGINT/SIGTERM stop the reading: what is read is used,
every call still open is printed as it stands, and the command exits 0. While the feed is
quiet the tracker's clock moves on with the wall clock, so quiet timeouts still fire.

Memory: the open calls' messages (a few KB each) and the Call-IDs of calls ended in the last
32 s; nothing of a printed call is kept. RTP is not followed in this mode (the streams of a
call are listed by ``calls`` on the saved capture).
"""

from __future__ import annotations

import gc
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, cast

import typer

from rtcscope.cli.capture import CaptureArgs
from rtcscope.cli.live_options import LiveOptions
from rtcscope.errors import EXIT_INVALID_INPUT, PeerError, UsageError
from rtcscope.scan import ScanOptions, Tap, scan
from rtcscope.scan.follow import FollowFile, PipeSource
from rtcscope.scan.live_source import CaptureStats, LiveCapture
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.live import NS, CallFilter, CallTracker, FinishedCall, MessageFilter

# A full collection after this many printed calls: the command pauses the automatic
# collector (cli/capture.py), and an endless feed must not keep cycles forever.
_COLLECT_EVERY = 2000


@dataclass(slots=True)
class LiveOutcome:
    """What the live run ended with."""

    calls: int = 0
    stopped: bool = False  # by a signal or --duration
    faults: list[str] | None = None
    capture: CaptureStats | None = None
    dropped_after_end: int = 0


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the sources return at their next poll)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _open_followed(
    file: Path, stop: threading.Event, on_wait: Callable[[float], None]
) -> FollowFile | PipeSource:
    if os.fspath(file) == "-":
        return PipeSource(sys.stdin.buffer.fileno(), "<stdin>", stop, on_wait=on_wait)
    try:
        mode = os.stat(file).st_mode
    except OSError as exc:
        raise UsageError(f"--follow {file}: {exc.strerror}") from None
    if stat.S_ISFIFO(mode):
        return PipeSource.open_fifo(file, stop, on_wait=on_wait)
    return FollowFile(file, stop, on_wait=on_wait)


def run_live(
    options: LiveOptions,
    args: CaptureArgs,
    rules: CallFilter,
    on_call: Callable[[FinishedCall, int], None],
) -> LiveOutcome:
    """Read incrementally and call ``on_call(call, first_ns)`` for each call as it ends."""
    options.check()
    tracker = CallTracker(
        idle_ns=round(options.idle_timeout_s * NS),
        answered_idle_ns=round(options.answered_timeout_s * NS),
    )
    select = (
        MessageFilter(rules, forget_after_ns=tracker.answered_idle_ns) if rules.active else None
    )
    outcome = LiveOutcome()
    stop = threading.Event()
    base_ns: list[int | None] = [None]  # capture time of the last message (the quiet clock's base)
    origin: list[int | None] = [None]  # the capture's first packet: times count from it

    def emit(finished: list[FinishedCall]) -> None:
        first = origin[0] or (select.first_ns if select is not None else None)
        for call in finished:
            on_call(call, first or tracker.first_ns or 0)
            outcome.calls += 1
            if outcome.calls % _COLLECT_EVERY == 0:
                gc.collect()

    def sink(captured: CapturedSip, origin_ns: int | None) -> list[CapturedSip]:
        if origin[0] is None:
            origin[0] = origin_ns
        for message in [captured] if select is None else select(captured, origin_ns):
            base_ns[0] = message.ts_ns
            emit(tracker.feed(message))
        return []  # the tracker keeps what it needs: the model keeps nothing

    def on_wait(quiet_s: float) -> None:
        if base_ns[0] is not None:
            emit(tracker.advance(base_ns[0] + round(quiet_s * NS)))

    scan_options: ScanOptions = replace(
        args.scan_options(frozenset({Tap.SIP})), vectorized=False, use_sdp=False
    )
    timer = threading.Timer(options.duration_s, stop.set) if options.duration_s else None
    capture: LiveCapture | None = None
    source: BinaryIO
    with _stop_on_signals(stop):
        if options.interface is not None:
            capture = LiveCapture(options.interface, options.bpf, stop=stop, on_wait=on_wait)
        context: Any = capture if capture is not None else nullcontext()
        with context:
            if capture is not None:
                assert capture.source is not None
                grower: FollowFile | PipeSource = capture.source
                filtered = f" (filter: {options.bpf})" if options.bpf else ""
                state = "listening" if capture.listening else "started"
                print(
                    f"rtcscope: {capture.program} {state} on {options.interface}{filtered}",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                assert options.file is not None
                grower = _open_followed(options.file, stop, on_wait)
            source = cast(BinaryIO, grower)
            if timer is not None:
                timer.daemon = True
                timer.start()
            try:
                model = scan(source, scan_options, select=sink)
            finally:
                if timer is not None:
                    timer.cancel()
                grower.close()
        outcome.stopped = stop.is_set()
        emit(tracker.finish())
    if capture is not None:
        outcome.capture = capture.stats
    outcome.dropped_after_end = tracker.dropped_after_end
    # After a stop, a record cut at the end is where the reading was interrupted, not a fault.
    outcome.faults = [] if outcome.stopped else [str(f) for f in model.faults]
    return outcome


def conclude_live(outcome: LiveOutcome, keep_going: bool) -> None:
    """After a live run: the capture program's statistics (its kernel drop count) and any
    fault on standard error; exit 3 for a fault in the capture (0 with ``--keep-going``),
    4 when the capture program failed on its own."""
    stats = outcome.capture
    if stats is not None:
        if stats.captured is not None:
            print(f"rtcscope: {stats.summary()}", file=sys.stderr)
        if stats.dropped:
            print(
                f"rtcscope: warning: the kernel dropped {stats.dropped} packets: calls may "
                "look broken that were not (a larger buffer: tcpdump -B, or a narrower -f)",
                file=sys.stderr,
            )
        failed = stats.exit_code not in (0, None) and not outcome.stopped
        if failed or (stats.errors and stats.captured is None):
            detail = "; ".join(stats.errors) or f"exit code {stats.exit_code}"
            if any("filter" in line for line in stats.errors):
                raise UsageError(f"{stats.program} refused the capture filter: {detail}")
            raise PeerError(f"{stats.program} failed: {detail}")
    for fault in outcome.faults or []:
        word = "warning" if keep_going else "error"
        print(f"rtcscope: {word}: {fault} (every call before it was printed)", file=sys.stderr)
    if outcome.faults and not keep_going:
        raise typer.Exit(EXIT_INVALID_INPUT)
