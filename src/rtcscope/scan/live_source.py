"""A live interface as a capture source: tcpdump (or dumpcap) runs as a child process writing
pcap to a pipe we read (``tcpdump -i IFACE -U -w - [BPF]``: ``-U`` flushes each packet, so
calls are seen as they happen), the way sngrep and Wireshark capture without a second tool.

The child is ours: started with its standard error in a temporary file (never a pipe that
could fill), stopped by its PID (SIGTERM, then SIGKILL after a few seconds) when the reading
ends, and its closing statistics ("N packets dropped by kernel") read from that file.
Capturing needs the rights tcpdump needs (root, or CAP_NET_RAW on the binary).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rtcscope.errors import InputError, PeerError
from rtcscope.scan.follow import DEFAULT_POLL_S, PipeSource

_STAT = re.compile(r"(\d+) packets? (captured|received by filter|dropped by kernel)")
_CHATTER = ("listening on", "tcpdump: listening", "Capturing on", "File:")
_DUMPCAP_DROPS = re.compile(r"Packets(?: received/dropped)?[^:]*:\s*(\d+)/(\d+)", re.I)


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """What the capture program said when it stopped (None: it did not say)."""

    program: str
    captured: int | None
    received: int | None
    dropped: int | None
    exit_code: int | None
    errors: tuple[str, ...]  # its other stderr lines (a bad filter, no permission, ...)

    def summary(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.captured, "captured"),
                (self.received, "received by filter"),
                (self.dropped, "dropped by kernel"),
            )
            if n is not None
        ]
        return f"{self.program}: " + (", ".join(parts) if parts else "no statistics")


def capture_command(
    interface: str, bpf: str | None, program: str | None = None
) -> tuple[str, list[str]]:
    """The program (tcpdump, else dumpcap) and its arguments for a pcap stream on stdout."""
    wanted = [program] if program else ["tcpdump", "dumpcap"]
    for name in wanted:
        path = shutil.which(name)
        if path is None:
            continue
        if name == "dumpcap":
            args = [path, "-q", "-i", interface, "-F", "pcap", "-w", "-"]
            return name, args + (["-f", bpf] if bpf else [])
        args = [path, "-i", interface, "-n", "-U", "-w", "-"]
        return name, args + ([bpf] if bpf else [])
    raise InputError(f"a live capture needs {' or '.join(wanted)} on PATH (Debian: tcpdump)")


def parse_stats(program: str, text: str, exit_code: int | None) -> CaptureStats:
    """The counts tcpdump (or dumpcap) prints on standard error when it stops."""
    found: dict[str, int] = {}
    other: list[str] = []
    for line in text.splitlines():
        match = _STAT.search(line)
        if match:
            found[match.group(2)] = int(match.group(1))
            continue
        dumpcap = _DUMPCAP_DROPS.search(line)
        if dumpcap:
            found["captured"] = int(dumpcap.group(1))
            found["dropped by kernel"] = int(dumpcap.group(2))
            continue
        if line.strip() and not line.startswith(
            ("listening on", "tcpdump: listening", "Capturing")
        ):
            other.append(line.strip())
    return CaptureStats(
        program,
        found.get("captured"),
        found.get("received by filter"),
        found.get("dropped by kernel"),
        exit_code,
        tuple(other),
    )


class LiveCapture:
    """A running capture program and the pipe of its output (use as a context manager).

    ``source`` is the :class:`~rtcscope.scan.follow.PipeSource` to scan. :meth:`stop` asks the
    program to stop (it flushes, then the pipe ends, so the scan ends normally); leaving the
    context stops it for good and reads its statistics into :attr:`stats`.
    """

    def __init__(
        self,
        interface: str,
        bpf: str | None = None,
        *,
        program: str | None = None,
        stop: threading.Event | None = None,
        poll_s: float = DEFAULT_POLL_S,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.program, self.args = capture_command(interface, bpf, program)
        self.stop_event = stop if stop is not None else threading.Event()
        self._poll_s = poll_s
        self._on_wait = on_wait
        import tempfile  # (a live capture only)

        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.stats: CaptureStats | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.source: PipeSource | None = None
        self.listening = False  # the program said it captures

    def __enter__(self) -> LiveCapture:
        try:
            self._proc = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=self._errors,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            self._errors.close()
            raise PeerError(f"cannot start {self.program}: {exc.strerror}") from exc
        self._wait_listening()
        assert self._proc.stdout is not None
        self.source = _ChildPipe(
            self._proc.stdout.fileno(),
            f"{self.program} -i",
            self.stop_event,
            self._poll_s,
            self._on_wait,
            capture=self,
        )
        return self

    def _wait_listening(self, limit_s: float = 5.0) -> None:
        """Until the program says it listens (packets sent before would be missed), it exits,
        or ``limit_s`` passes: a caller that starts traffic next sees all of it."""
        assert self._proc is not None
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self._proc.poll() is None:
            self._errors.seek(0)
            said = self._errors.read()
            if b"listening on" in said or b"Capturing on" in said:
                self.listening = True
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Ask the program to stop (SIGTERM: tcpdump and dumpcap flush, print their
        statistics and exit); the pipe then ends."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        self.stop()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()
        self._errors.seek(0)
        text = self._errors.read().decode("utf-8", "replace")
        self._errors.seek(0, os.SEEK_END)
        self._errors.close()
        self.stats = parse_stats(self.program, text, proc.returncode)
        self._proc = None


class _ChildPipe(PipeSource):
    """The child's output: a stop request stops the child first and reads on to the end of
    its output (what it flushes on the way out is captured too)."""

    def __init__(
        self,
        fd: int,
        name: str,
        stop: threading.Event,
        poll_s: float,
        on_wait: Callable[[float], None] | None,
        *,
        capture: LiveCapture,
    ) -> None:
        super().__init__(fd, name, threading.Event(), poll_s, self._check)
        self._outer_stop = stop
        self._capture = capture
        self._outer_wait = on_wait
        self._stopping = False

    def _check(self, quiet_s: float) -> None:
        if self._outer_wait is not None:
            self._outer_wait(quiet_s)
        if self._outer_stop.is_set() and not self._stopping:
            self._stopping = True
            self._capture.stop()

    def read(self, size: int = -1) -> bytes:
        if self._outer_stop.is_set() and not self._stopping:
            self._stopping = True
            self._capture.stop()
        return super().read(size)


def running_as_capture_capable() -> bool:
    """Whether this process can usually capture (root); tcpdump with file capabilities may
    capture without it."""
    return hasattr(os, "geteuid") and os.geteuid() == 0
