"""The options of ``calls``/``diagnose`` that choose between reading a whole capture and
following one (``--follow``, ``-i``): checked before either, so a command that reads a file
does not import the live machinery (rtcscope.cli.live: threads, signals, the followed file
and the capture child)."""

from __future__ import annotations

from pathlib import Path

from rtcscope._dataclass import dataclass
from rtcscope.errors import UsageError


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How to read incrementally: a followed path (``-``: standard input) or an interface."""

    file: Path | None
    follow: bool
    interface: str | None
    bpf: str | None
    idle_timeout_s: float
    answered_timeout_s: float
    duration_s: float | None

    @property
    def live(self) -> bool:
        return self.follow or self.interface is not None

    def check(self) -> None:
        if self.interface is not None and self.file is not None:
            raise UsageError("give a capture FILE or -i INTERFACE, not both")
        if self.interface is None and self.file is None:
            raise UsageError("give a capture FILE (or -i INTERFACE)")
        if self.bpf is not None and self.interface is None:
            raise UsageError("-f/--bpf is a capture filter for -i INTERFACE")
        if self.duration_s is not None and not self.live:
            raise UsageError("--duration goes with --follow or -i")
