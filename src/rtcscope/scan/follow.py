"""Sources that grow while they are read: a capture file still being written (``tail -f``) and
a pipe (standard input, a FIFO, a capture program's output).

Each is a file-like whose ``read(size)`` returns as soon as it has at least one byte (never
more than ``size``), and waits when nothing new has arrived: polling the file's size every
``poll_s`` seconds, or ``select`` on the pipe with the same period. It returns ``b""`` (the
end) when the pipe closes or when ``stop`` is set (a signal handler sets it; the wait is
never longer than ``poll_s``), so the reader sees an ordinary end of input. A record cut at
the end is therefore only a fault once the source stopped; until then it waits for its bytes.

``on_wait(quiet_s)`` is called at each poll with nothing new, with the time since the last
byte arrived: a caller whose output depends on capture time (calls that end by a quiet
timeout) advances its clock by it.

``incremental = True`` tells the capture reader to ask for no more than the record it needs
(``rtcscope.scan.onepass.open_source``), so records are handed on as they arrive instead of
after a megabyte of them.
"""

from __future__ import annotations

import os
import select
import stat
import threading
import time
from collections.abc import Callable

from rtcscope.errors import CaptureError, InvalidArgument

DEFAULT_POLL_S = 0.2
READ_BYTES = 1 << 16  # what one system call takes when that much has arrived


class _Growing:
    """What both sources share: the stop event, the wait hook, byte counts."""

    incremental = True

    def __init__(
        self,
        name: str,
        stop: threading.Event | None,
        poll_s: float,
        on_wait: Callable[[float], None] | None,
    ) -> None:
        if poll_s <= 0:
            raise ValueError("poll interval must be positive")
        self.name = name
        self.stop = stop if stop is not None else threading.Event()
        self.poll_s = poll_s
        self.on_wait = on_wait
        self.bytes_read = 0
        self._last_data = time.monotonic()
        self._held = b""  # read ahead from the file or pipe, not handed out yet

    def _got(self, data: bytes, size: int) -> bytes:
        """Hand out at most ``size`` bytes of ``data`` and hold the rest (the reader asks for
        a record header, then its body: one system call serves many records)."""
        if not data:
            return data
        self.bytes_read += len(data)
        self._last_data = time.monotonic()
        if 0 < size < len(data):
            self._held = data[size:]
            return data[:size]
        return data

    def _take_held(self, size: int) -> bytes:
        held = self._held
        if 0 < size < len(held):
            self._held = held[size:]
            return held[:size]
        self._held = b""
        return held

    def _quiet(self) -> None:
        if self.on_wait is not None:
            self.on_wait(time.monotonic() - self._last_data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        """The owner closes what it opened (subclasses)."""


class FollowFile(_Growing):
    """A regular capture file read as it grows (``tail -f``), from its first byte."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        stop: threading.Event | None = None,
        poll_s: float = DEFAULT_POLL_S,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        name = os.fspath(path)
        super().__init__(name, stop, poll_s, on_wait)
        try:
            info = os.stat(name)
        except OSError as exc:
            raise CaptureError(f"cannot open {name}: {exc.strerror}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(
                "path", f"{name}: not a regular file to follow (a pipe is read as standard input)"
            )
        self._fd = os.open(name, os.O_RDONLY)
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if self._held:
            return self._take_held(size)
        while True:
            data = os.read(self._fd, READ_BYTES)
            if data:
                self._position += len(data)
                return self._got(data, size)
            if self.stop.is_set():
                return b""
            if os.fstat(self._fd).st_size < self._position:
                raise CaptureError(
                    f"{self.name} shrank below the {self._position} bytes read "
                    "(rotated or truncated by its writer)",
                    offset=self._position,
                )
            self._quiet()
            self.stop.wait(self.poll_s)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class PipeSource(_Growing):
    """A pipe (standard input, a FIFO, a child's output) read as data arrives."""

    def __init__(
        self,
        fd: int,
        name: str,
        stop: threading.Event | None = None,
        poll_s: float = DEFAULT_POLL_S,
        on_wait: Callable[[float], None] | None = None,
        *,
        owned: bool = False,
    ) -> None:
        super().__init__(name, stop, poll_s, on_wait)
        self._fd = fd
        self._owned = owned
        self.closed_by_writer = False

    @classmethod
    def open_fifo(
        cls,
        path: str | os.PathLike[str],
        stop: threading.Event | None = None,
        poll_s: float = DEFAULT_POLL_S,
        on_wait: Callable[[float], None] | None = None,
    ) -> PipeSource:
        """A FIFO by name (opened without blocking on its writer)."""
        name = os.fspath(path)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise CaptureError(f"cannot open {name}: {exc.strerror}") from exc
        os.set_blocking(fd, True)
        return cls(fd, name, stop, poll_s, on_wait, owned=True)

    def read(self, size: int = -1) -> bytes:
        if self._held:
            return self._take_held(size)
        while True:
            if self.stop.is_set():
                return b""
            ready, _, _ = select.select([self._fd], [], [], self.poll_s)
            if ready:
                try:
                    data = os.read(self._fd, READ_BYTES)
                except BlockingIOError:
                    continue
                if not data:
                    # A FIFO opened before its writer reads as closed until one opens it.
                    if self._owned and self.bytes_read == 0 and not self.stop.is_set():
                        self._quiet()
                        self.stop.wait(self.poll_s)
                        continue
                    self.closed_by_writer = True
                return self._got(data, size)
            self._quiet()

    def close(self) -> None:
        if self._owned and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
