"""Output files that never follow a planted symlink and never stay half written.

:func:`create_output` opens a new temporary file beside the target with
``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name nobody can have planted: random, and refused if it
exists), hands it to the writer and, on success, renames it over the target (``os.replace``
replaces a symlink at the target name itself; it never writes through it). On any failure
the temporary file is removed, so the target is either the complete new file or untouched.
Every OS error (missing folder, read-only or full file system, permission) becomes an
:class:`~rtcscope.errors.OutputError` (exit 3) that names the file. A target that exists and
is not a regular file or a symlink (``/dev/full``, a FIFO, a folder) is refused: a rename
would replace it.

:func:`open_live` is for files other programs read while we append (the collector's pcap):
created in place with ``O_NOFOLLOW`` (a symlink at the name is refused), no rename.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeVar

from rtcscope.errors import OutputError

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def output_error(path: str | os.PathLike[str], exc: OSError) -> OutputError:
    """The OutputError for an OS error on ``path``."""
    return OutputError(f"cannot write {path}: {exc.strerror or exc}")


class Committed(ABC):
    """A writer used as a context manager: :meth:`close` keeps what was written when the
    block ends normally, :meth:`discard` leaves nothing when it raised. The one place this
    rule is written: every output writer (this file's, pcap, WAV, Ogg Opus) inherits it."""

    @abstractmethod
    def close(self) -> None:
        """Finish the output and keep it."""

    @abstractmethod
    def discard(self) -> None:
        """Leave nothing of the output behind."""

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


_W = TypeVar("_W", bound=Committed)


class OutputFile(Committed):
    """A file being written to a temporary name; :meth:`commit` renames it to ``path``.

    Use it as a context manager: leaving the block normally commits, an exception discards.
    ``file`` is the binary file to write; its OS errors surface as OutputError from
    :meth:`write`, :meth:`commit` (and the context manager).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise output_error(self.path, exc) from None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            # renaming over a device, a FIFO or a folder would replace it: never do that
            raise OutputError(f"cannot write {self.path}: it exists and is not a regular file")
        self._temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.part")
        try:
            fd = os.open(self._temp, _CREATE_FLAGS | _CLOEXEC, 0o644)
        except OSError as exc:
            raise output_error(self.path, exc) from None
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.file.closed and not self._done:
            self.resume()
        try:
            return self.file.write(data)
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None

    @property
    def suspended(self) -> bool:
        return self.file.closed and not self._done

    def suspend(self) -> None:
        """Close the descriptor but keep the file, for a writer that keeps many files and
        few descriptors (``split``); :meth:`resume` reopens it for appending."""
        if self._done or self.file.closed:
            return
        try:
            self.file.close()
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None

    def resume(self) -> None:
        """Reopen a suspended file (``O_APPEND | O_NOFOLLOW``: still our temporary file)."""
        if self._done or not self.file.closed:
            return
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | _CLOEXEC
        try:
            self.file = os.fdopen(os.open(self._temp, flags), "ab")
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None

    def commit(self) -> None:
        """Flush, sync and rename to the target name."""
        if self._done:
            return
        try:
            if not self.file.closed:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None
        self._done = True

    def discard(self) -> None:
        """Close and remove the temporary file; the target is left as it was."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temp)

    def close(self) -> None:
        """:meth:`commit` (the name :class:`Committed` calls when the block ends normally)."""
        self.commit()


def create_output(path: str | os.PathLike[str]) -> OutputFile:
    """A new :class:`OutputFile` for ``path`` (see the module docstring)."""
    return OutputFile(path)


def write_output(path: str | os.PathLike[str], data: bytes) -> None:
    """``data`` as the whole content of ``path``, atomically."""
    with create_output(path) as out:
        out.write(data)


def open_live(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` created or truncated for appending records others read as they come; a
    symlink at the name is refused (``O_NOFOLLOW``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | _CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise output_error(path, exc) from None
    return os.fdopen(fd, "wb")


def make_output_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder for output files, created with its parents if needed; an OS error
    (read-only file system, a file in the way, /proc) is an OutputError naming it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(folder, exc) from None
    return folder
