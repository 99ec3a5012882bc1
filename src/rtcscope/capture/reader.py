"""Streaming pcap/pcapng reader: the only place that opens a capture file.

Written by hand rather than on a library because the reader is the hot path of every
command, must stay flat in memory whatever the file size, must report faults with the record
number and byte offset, and must give timestamps as exact integer nanoseconds (the libraries
we looked at give floats or microseconds).

Formats (facts from the pcap and pcapng specifications, draft-ietf-opsawg-pcap and
draft-ietf-opsawg-pcapng):

- pcap: a 24-byte file header whose magic 0xA1B2C3D4 (microsecond) or 0xA1B23C4D
  (nanosecond) also gives the byte order; records of a 16-byte header (``ts_sec`` unsigned,
  fraction, captured length, original length) and the captured bytes. The link type is the
  low 16 bits of the header's last field (the upper bits carry FCS information).
- pcapng: blocks of (type, total length, body, total length). A Section Header Block starts a
  section, fixes its byte order (magic 0x1A2B3C4D) and forgets the interfaces of the previous
  section; each Interface Description Block adds an interface with its own link type,
  ``if_tsresol`` (option 9) and ``if_tsoffset`` (option 14). Packets come in Enhanced (6),
  Simple (3, interface 0, no timestamp) and the obsolete Packet Block (2). Other blocks are
  skipped.
- gzip: a file starting with 1F 8B is decompressed on the fly, whatever its name.

Frames are numbered from 1 in file order, as Wireshark numbers them. A truncated or corrupt
file yields every good record and then raises :class:`~rtcscope.errors.CaptureError` naming
the record and the byte offset (in the uncompressed stream); with ``keep_going=True`` the
error is appended to :attr:`CaptureReader.warnings` instead and iteration ends there.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import gc
import mmap
import os
import pickle
import signal
import stat
import struct
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from types import TracebackType
from typing import BinaryIO, Literal

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_function
from rtcscope.capture.packet import Record
from rtcscope.errors import CaptureError

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
PCAPNG_IDB = 0x00000001
PCAPNG_PB = 0x00000002
PCAPNG_SPB = 0x00000003
PCAPNG_EPB = 0x00000006
GZIP_MAGIC = b"\x1f\x8b"
_PCAP_MAGICS = (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC)

# A record longer than this is taken as corruption rather than read into memory; Wireshark's
# largest per-link-type maximum (D-Bus) is 128 MiB, every link type rtcscope decodes is 256 KiB.
MAX_RECORD_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1 << 20
BATCH_BYTES = 4 << 20  # larger reads for batches: NumPy pays per call
# On the Python road only (RECORD_WALK_ROAD == "python": no C built, or RTCSCOPE_PURE=1), batches
# of a pcap file larger than this (regular, uncompressed, native byte order) have their record
# boundaries found by a helper process (CaptureReader._pipelined_batches); the C road walks every
# file in this process. The fork is kept so that installs without a compiler stay usable on
# large files.
PIPELINE_MIN_BYTES = 32 << 20
PIPE_BYTES = 1 << 20
# Helper-to-parent messages: kind and five integers (see _walk_for_parent), native order.
_MESSAGE = struct.Struct("=6q")
_END, _BATCH, _FAULT, _FAILED = range(4)

IF_TSRESOL = 9
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
IF_TSOFFSET = 14
OPT_ENDOFOPT = 0


@dataclass(slots=True)
class Interface:
    """One capture interface: pcap has one, a pcapng section one per IDB."""

    linktype: int
    snaplen: int
    tsresol: int = 6  # if_tsresol byte: bit 7 clear = 10^-n seconds, set = 2^-n
    tsoffset_s: int = 0  # if_tsoffset: seconds added to every timestamp
    name: str = ""

    def ts_ns(self, units: int) -> int:
        """Exact nanoseconds of a timestamp given in this interface's units."""
        resol = self.tsresol
        if resol & 0x80:
            per_second = 1 << (resol & 0x7F)
            seconds, frac = divmod(units, per_second)
            ns = seconds * 1_000_000_000 + frac * 1_000_000_000 // per_second
        elif resol <= 9:
            ns = units * 10 ** (9 - resol)
        else:
            ns = units // 10 ** (resol - 9)
        ns += self.tsoffset_s * 1_000_000_000
        # 64 bits of units (or an offset) can pass year 2262, the end of int64 nanoseconds
        # that every consumer's arrays hold: such a corrupt time is pinned to the end
        return min(max(ns, INT64_MIN), INT64_MAX)


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """The pcap file header fields, so that a copy can reproduce them (capture/writer.py).

    ``network`` is the whole field: the link type in its low 16 bits, FCS information above.
    """

    nanosecond: bool = False
    byte_order: Literal["little", "big"] = "little"
    version_major: int = 2
    version_minor: int = 4
    thiszone: int = 0
    sigfigs: int = 0
    snaplen: int = 262144
    network: int = 1


class _Chained:
    """A read-only stream that first returns bytes already peeked from another stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                more = self._rest.read(-1 if size < 0 else size - len(head))
                return head + more
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._rest.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("a capture read from a pipe cannot seek")


class CaptureReader:
    """Iterates the :class:`Record` s of one pcap or pcapng file (gzip read transparently).

    Use as a context manager; iterate once. After iteration, :attr:`warnings` holds the faults
    met with ``keep_going=True``. :attr:`format` is ``"pcap"``, ``"pcap-nsec"`` or
    ``"pcapng"``; :attr:`interfaces` lists every interface seen (all sections);
    :attr:`byte_order` is ``"little"`` or ``"big"`` (of the first section).
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, keep_going: bool = False) -> None:
        self.keep_going = keep_going
        self.warnings: list[CaptureError] = []
        self.interfaces: list[Interface] = []
        self.compressed = False
        self.format = ""
        self.byte_order = ""
        self.records = 0
        self.pcap_header: PcapHeader | None = None  # a pcap file's header, as read
        self.size = 0  # bytes consumed from the (uncompressed) stream
        self._owned: BinaryIO | None = None
        if isinstance(source, str | os.PathLike):
            self.name = os.fspath(source)
            try:
                raw: BinaryIO = open(self.name, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise CaptureError(f"cannot open {self.name}: {exc.strerror}") from exc
            self._owned = raw
        else:
            self.name = str(getattr(source, "name", "<stream>"))
            raw = source
        try:
            head = raw.read(4)
        except OSError as exc:
            self.close()
            raise CaptureError(f"cannot read {self.name}: {exc}") from exc
        stream: BinaryIO
        if head[:2] == GZIP_MAGIC:
            import gzip  # (a compressed capture only)

            self.compressed = True
            self._gzip: gzip.GzipFile | None = gzip.GzipFile(fileobj=_Chained(head, raw), mode="rb")
            stream = self._gzip  # type: ignore[assignment]
            head = b""
        else:
            stream = raw
            self._gzip = None
        self._stream = stream
        self._buf: bytes | mmap.mmap = head
        self._base = 0  # file offset of self._buf[0]
        self._pos = 0
        self._chunk = CHUNK_BYTES
        self._mapped: int | None = None  # file descriptor when batches map the file
        # A read fault (and where) kept until the bytes read before it are used up.
        self._read_fault: tuple[Exception, int] | None = None
        self._walker: int | None = None  # pid of the batch walk's helper process
        self._iter = self._start()

    # -- low-level buffer --------------------------------------------------------------

    def _read(self, size: int) -> bytes:
        if self._gzip is not None:
            # read1 returns what one decompression step gives, so a corrupt or truncated
            # gzip member loses no good bytes before the fault.
            return self._gzip.read1(size)
        return self._stream.read(size)

    def _read_error(self, exc: Exception, offset: int) -> CaptureError:
        what = "compressed stream is corrupt" if self._gzip is not None else "read failed"
        return CaptureError(
            f"{self.name}: {what} after byte {offset} of its content (record "
            f"{self.records + 1} is cut): {exc}",
            offset=offset,
            record=self.records + 1,
        )

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available at ``self._pos``; False at end of file."""
        buf = self._buf
        if len(buf) - self._pos >= need:
            return True
        if self._mapped is not None:
            return self._map(need, self._mapped)
        pieces = [buf[self._pos :]]
        have = len(pieces[0])
        self._base += self._pos
        self._pos = 0
        want = max(need, self._chunk)
        if self._read_fault is not None:
            self._buf = pieces[0]
            raise self._read_error(*self._read_fault)
        try:
            while have < want:
                more = self._read(want - have)
                if not more:
                    break
                pieces.append(more)
                have += len(more)
        except (OSError, EOFError, zlib.error) as exc:
            # The bytes read before the fault still hold good records: hand those out
            # first; the fault surfaces when more is needed.
            self._read_fault = (exc, self._base + have)
            if have < need:
                self._buf = b"".join(pieces)
                raise self._read_error(exc, self._base + have) from exc
        self._buf = b"".join(pieces)
        return have >= need

    def _map(self, need: int, fileno: int) -> bool:
        """Like _fill, by mapping the next window of the file instead of copying it.

        Used for batches of an uncompressed file opened by path: no read copy, no join
        copy; a window is unmapped once nothing refers to it, so memory stays flat.
        """
        start = self._base + self._pos
        size = os.fstat(fileno).st_size
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        length = min(max(need + start - aligned, self._chunk), size - aligned)
        if length <= start - aligned:
            self._buf, self._base, self._pos = b"", start, 0
            return need <= 0
        self._buf = mmap.mmap(fileno, length, offset=aligned, access=mmap.ACCESS_READ)
        self._base, self._pos = aligned, start - aligned
        return length - self._pos >= need

    # -- public ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        item = next(self._iter)
        assert isinstance(item, Record)
        return item

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop_walker()
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    @property
    def linktypes(self) -> list[int]:
        """Distinct link types of the interfaces, in order of appearance."""
        return list(dict.fromkeys(i.linktype for i in self.interfaces))

    # -- dispatch --------------------------------------------------------------------

    def _fault(self, error: CaptureError) -> None:
        if self.keep_going:
            self.warnings.append(error)
        else:
            raise error

    def _start(self, batches: bool = False) -> Iterator[Record | RecordBatch]:
        if not self._fill(4):
            size = len(self._buf)
            self._fault(
                CaptureError(
                    f"{self.name}: not a capture file: {size} bytes, too short for a header",
                    offset=0,
                    record=1,
                )
            )
            return
        magic_le = struct.unpack_from("<I", self._buf, 0)[0]
        magic_be = struct.unpack_from(">I", self._buf, 0)[0]
        try:
            if magic_le == PCAPNG_SHB:
                self.format = "pcapng"
                yield from self._pcapng(batches)
            elif magic_le in _PCAP_MAGICS or magic_be in _PCAP_MAGICS:
                yield from self._pcap(magic_le, batches)
            else:
                raise CaptureError(
                    f"{self.name}: not a pcap or pcapng file (magic {bytes(self._buf[:4]).hex()})",
                    offset=0,
                    record=1,
                )
        except CaptureError as exc:
            self._fault(exc)
        finally:
            self.size = self._base + self._pos

    def batches(self) -> Iterator[RecordBatch]:
        """The records as :class:`RecordBatch` es (for vectorized scans), instead of iterating.

        Faults are raised (or collected with ``keep_going``) exactly as when iterating. Which
        road forks: on the C road (``RECORD_WALK_ROAD == "c"``) the record boundaries are
        found in C in this process, whatever the file's size, and no process is forked. Only
        on the Python road (no C built, or ``RTCSCOPE_PURE=1``) does a regular pcap file in
        native byte order larger than ``PIPELINE_MIN_BYTES`` have them found by a forked
        helper process, while the caller works on the batches already found
        (:meth:`_pipelined_batches`). The batches are the same every way.
        """
        self._chunk = BATCH_BYTES
        if self._owned is not None and not self.compressed:
            fileno = self._owned.fileno()
            info = os.fstat(fileno)
            if stat.S_ISREG(info.st_mode):
                self._mapped = fileno
                if (
                    _walk_pcap is _walk_pcap_py
                    and info.st_size > max(PIPELINE_MIN_BYTES, 24)
                    and self._native_pcap()
                ):
                    yield from self._pipelined_batches()
                    return
        for item in self._start(batches=True):
            assert isinstance(item, RecordBatch)
            yield item

    # -- batches with the record walk in a helper process (the Python road only) -------

    def _native_pcap(self) -> bool:
        """A pcap file in this machine's byte order, the walk a second process can take."""
        head = self._buf
        return (
            hasattr(os, "fork")
            and len(head) >= 4
            and struct.unpack_from("=I", head, 0)[0] in _PCAP_MAGICS
        )

    def _pipelined_batches(self) -> Iterator[RecordBatch]:
        """The pcap batches, their record boundaries found by a forked copy of this reader.

        The walk from record to record is sequential Python, the scans that consume the
        batches are NumPy: on two cores, the child walks batch n+1 while the caller scans
        batch n. The child runs the in-process batch walk itself (so frames, positions, faults
        and their messages are the same by construction) and sends each batch's window (file
        offset and length) and positions; this process maps the same window. It ends with the
        walk's outcome: the record count, the bytes consumed and the fault, if any.

        The child never outlives this process: it dies of a broken pipe at its next write
        once the read end is closed (which this process's exit does), and is killed and
        reaped in ``finally`` and by :meth:`close`.
        """
        endian, linktype, frac_ns = self._pcap_header(struct.unpack_from("<I", self._buf, 0)[0])
        read_end, write_end = os.pipe()
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            # A larger pipe lets the walk run a few batches ahead (Linux; best effort: the
            # system's pipe-max-size may be lower).
            with contextlib.suppress(OSError):
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the child: walk, report, and leave without running any of our exit code
            status = 1
            try:
                os.close(read_end)
                gc.disable()  # no collection of the parent's objects (no finalizers) here
                self._walk_for_parent(write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._walker = pid
        stream = open(read_end, "rb", buffering=PIPE_BYTES)  # noqa: SIM115 - closed below
        try:
            yield from self._receive_batches(stream, endian, linktype, frac_ns)
        finally:
            stream.close()
            self._stop_walker()

    def _walk_for_parent(self, out: int) -> None:
        """In the child: the in-process batch walk, each batch and the outcome sent to ``out``."""
        self.keep_going = False  # the parent decides what a fault does
        try:
            for batch in self._start(batches=True):
                assert isinstance(batch, RecordBatch)
                positions = array.array("q", batch.positions)
                _write_all(
                    out,
                    _MESSAGE.pack(
                        _BATCH,
                        batch.base,
                        len(batch.buffer),
                        batch.first_frame,
                        len(positions),
                        batch.bias,
                    )
                    + positions.tobytes(),
                )
        except CaptureError as exc:
            text = str(exc).encode("utf-8", "surrogateescape")
            offset = -1 if exc.offset is None else exc.offset
            record = -1 if exc.record is None else exc.record
            _write_all(
                out,
                _MESSAGE.pack(_FAULT, self.records, self.size, offset, record, len(text)) + text,
            )
            return
        except Exception as exc:  # handed to the parent, which raises it
            try:
                blob = pickle.dumps(exc)
            except Exception:  # one that does not pickle
                blob = pickle.dumps(OSError(repr(exc)))
            _write_all(out, _MESSAGE.pack(_FAILED, self.records, self.size, 0, 0, len(blob)) + blob)
            return
        _write_all(out, _MESSAGE.pack(_END, self.records, self.size, 0, 0, 0))

    def _receive_batches(
        self, stream: BinaryIO, endian: str, linktype: int, frac_ns: int
    ) -> Iterator[RecordBatch]:
        fileno = self._mapped
        assert fileno is not None
        frame = 0
        while True:
            head = stream.read(_MESSAGE.size)
            if len(head) < _MESSAGE.size:
                raise self._walker_lost(frame)
            kind, a, b, c, d, e = _MESSAGE.unpack(head)
            if kind == _BATCH:
                data = stream.read(8 * d)
                if len(data) < 8 * d:
                    raise self._walker_lost(frame)
                positions = array.array("q")
                positions.frombytes(data)
                frame = c + d - 1
                yield RecordBatch(
                    mmap.mmap(fileno, b, offset=a, access=mmap.ACCESS_READ),
                    a,
                    positions,
                    "pcap",
                    endian,
                    linktype,
                    frac_ns,
                    c,
                    bias=e,
                )
                continue
            self.records, self.size = a, b
            if kind == _FAULT:
                message = stream.read(e).decode("utf-8", "surrogateescape")
                self._fault(CaptureError(message, None if c < 0 else c, None if d < 0 else d))
            elif kind == _FAILED:
                failure = pickle.loads(stream.read(e))
                assert isinstance(failure, BaseException)
                raise failure
            return

    def _walker_lost(self, frame: int) -> CaptureError:
        return CaptureError(
            f"{self.name}: the record walk process ended unexpectedly after record {frame}",
            record=frame + 1,
        )

    def _stop_walker(self) -> None:
        pid, self._walker = self._walker, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # not reaped yet, so the pid is still ours
            with contextlib.suppress(ChildProcessError):  # reaped elsewhere (SIGCHLD ignored)
                os.waitpid(pid, 0)

    # -- pcap ------------------------------------------------------------------------

    def _pcap_header(self, magic_le: int) -> tuple[str, int, int]:
        """Read the pcap file header: (struct byte-order character, link type, ns per unit)."""
        endian = "<" if magic_le in _PCAP_MAGICS else ">"
        order: Literal["little", "big"] = "little" if endian == "<" else "big"
        self.byte_order = order
        magic = struct.unpack_from(endian + "I", self._buf, 0)[0]
        nsec = magic == PCAP_MAGIC_NSEC
        self.format = "pcap-nsec" if nsec else "pcap"
        if not self._fill(24):
            raise CaptureError(
                f"pcap file header is truncated: {len(self._buf)} of 24 bytes",
                offset=0,
                record=1,
            )
        major, minor, thiszone, sigfigs, snaplen, network = struct.unpack_from(
            endian + "HHiIII", self._buf, 4
        )
        self.pcap_header = PcapHeader(
            nsec, order, major, minor, thiszone, sigfigs, snaplen, network
        )
        linktype = network & 0xFFFF
        self.interfaces.append(Interface(linktype, snaplen, 9 if nsec else 6))
        self._pos = 24
        return endian, linktype, 1 if nsec else 1000

    def _pcap(self, magic_le: int, batches: bool) -> Iterator[Record | RecordBatch]:
        endian, linktype, frac_ns = self._pcap_header(magic_le)
        unpack = struct.Struct(endian + "IIII").unpack_from
        frame = 0
        buf = self._buf
        pos = self._pos
        try:
            while True:
                if batches:
                    positions, pos, bias = _walk_pcap(buf, pos, endian)
                    if positions:
                        first_frame = frame + 1
                        frame += len(positions)
                        yield RecordBatch(
                            buf,
                            self._base,
                            positions,
                            "pcap",
                            endian,
                            linktype,
                            frac_ns,
                            first_frame,
                            bias=bias,
                        )
                else:
                    size = len(buf)
                    view = memoryview(buf)
                    while True:
                        end_hdr = pos + 16
                        if end_hdr > size:
                            break
                        ts_sec, ts_frac, incl_len, orig_len = unpack(buf, pos)
                        end = end_hdr + incl_len
                        if end > size:
                            break
                        frame += 1
                        yield Record(
                            frame,
                            ts_sec * 1_000_000_000 + ts_frac * frac_ns,
                            0,
                            linktype,
                            view[end_hdr:end],
                            orig_len,
                            self._base + pos,
                        )
                        pos = end
                # The next record is not wholly in the buffer: refill, or report why not.
                self._pos = pos
                self.records = frame
                if not self._fill(16):
                    have = len(self._buf) - self._pos
                    if have == 0:
                        return
                    raise CaptureError(
                        f"pcap record {frame + 1} at offset {self._base + self._pos} is "
                        f"truncated: header {have} of 16 bytes",
                        offset=self._base + self._pos,
                        record=frame + 1,
                    )
                incl_len = unpack(self._buf, self._pos)[2]
                if incl_len > MAX_RECORD_BYTES:
                    raise CaptureError(
                        f"pcap record {frame + 1} at offset {self._base + self._pos} is corrupt: "
                        f"captured length {incl_len} is impossible",
                        offset=self._base + self._pos,
                        record=frame + 1,
                    )
                if not self._fill(16 + incl_len):
                    have = len(self._buf) - self._pos - 16
                    raise CaptureError(
                        f"pcap record {frame + 1} at offset {self._base + self._pos} is "
                        f"truncated: {have} of {incl_len} bytes",
                        offset=self._base + self._pos,
                        record=frame + 1,
                    )
                buf = self._buf
                pos = self._pos
        finally:
            self.records = frame

    # -- pcapng ----------------------------------------------------------------------

    def _pcapng(self, batches: bool) -> Iterator[Record | RecordBatch]:
        endian = "<"
        section: list[tuple[int, Interface]] = []  # (reader-wide interface id, interface)
        frame = 0
        positions: array.array[int] = array.array("q")
        batch_records: list[Record] = []
        batch_first = 1
        try:
            while True:
                if len(self._buf) - self._pos < 12:
                    if positions or batch_records:
                        # The batch refers to this buffer: hand it over before refilling.
                        yield self._pcapng_batch(
                            positions, batch_records, endian, section, batch_first
                        )
                        positions, batch_records = array.array("q"), []
                        batch_first = frame + 1
                    self.records = frame
                    if not self._fill(12):
                        have = len(self._buf) - self._pos
                        if have == 0:
                            return
                        raise CaptureError(
                            f"pcapng block at offset {self._base + self._pos} (before record "
                            f"{frame + 1}) is truncated: header {have} of 12 bytes",
                            offset=self._base + self._pos,
                            record=frame + 1,
                        )
                buf = self._buf
                pos = self._pos
                if batches:
                    # A run of whole, well-formed Enhanced Packet Blocks (the common case) is
                    # walked in a tight loop; any other block takes the general way below.
                    known = len(positions)
                    self._pos = _walk_epbs(buf, pos, endian, len(section), positions)
                    if self._pos != pos:
                        frame += len(positions) - known
                        continue
                offset = self._base + pos
                btype = struct.unpack_from(endian + "I", buf, pos)[0]
                if btype == PCAPNG_SHB:  # the type reads the same in both byte orders
                    if positions or batch_records:
                        yield self._pcapng_batch(
                            positions, batch_records, endian, section, batch_first
                        )
                        positions, batch_records = array.array("q"), []
                        batch_first = frame + 1
                        buf = self._buf
                        pos = self._pos
                    bom = bytes(buf[pos + 8 : pos + 12])
                    if bom == struct.pack("<I", PCAPNG_BYTE_ORDER_MAGIC):
                        endian = "<"
                    elif bom == struct.pack(">I", PCAPNG_BYTE_ORDER_MAGIC):
                        endian = ">"
                    else:
                        raise CaptureError(
                            f"pcapng section header at offset {offset} has no byte-order magic "
                            f"({bom.hex()})",
                            offset=offset,
                            record=frame + 1,
                        )
                    if not self.byte_order:
                        self.byte_order = "little" if endian == "<" else "big"
                    section = []
                btype, blen = struct.unpack_from(endian + "II", buf, pos)
                kind = _BLOCK_NAMES.get(btype, f"type 0x{btype:08x}")
                if blen < 12 or blen % 4 or blen > MAX_RECORD_BYTES:
                    raise CaptureError(
                        f"pcapng {kind} block at offset {offset} (before record {frame + 1}) is "
                        f"corrupt: block length {blen}",
                        offset=offset,
                        record=frame + 1,
                    )
                if len(buf) - pos < blen:
                    if positions or batch_records:
                        # The batch refers to this buffer: hand it over before refilling.
                        yield self._pcapng_batch(
                            positions, batch_records, endian, section, batch_first
                        )
                        positions, batch_records = array.array("q"), []
                        batch_first = frame + 1
                    self.records = frame
                    if not self._fill(blen):
                        have = len(self._buf) - self._pos
                        what = (
                            f"pcapng record {frame + 1}"
                            if btype in _PACKET_BLOCKS
                            else f"pcapng {kind} block (before record {frame + 1})"
                        )
                        raise CaptureError(
                            f"{what} at offset {offset} is truncated: {have} of {blen} bytes",
                            offset=offset,
                            record=frame + 1,
                        )
                    buf = self._buf
                    pos = self._pos
                trailer = struct.unpack_from(endian + "I", buf, pos + blen - 4)[0]
                if trailer != blen:
                    raise CaptureError(
                        f"pcapng {kind} block at offset {offset} (before record {frame + 1}) is "
                        f"corrupt: trailing length {trailer} differs from {blen}",
                        offset=offset,
                        record=frame + 1,
                    )
                self._pos = pos + blen
                if btype in (PCAPNG_EPB, PCAPNG_PB):
                    if blen < 32:
                        raise CaptureError(
                            f"pcapng record {frame + 1} at offset {offset} is corrupt: block "
                            f"length {blen} is shorter than its fixed fields",
                            offset=offset,
                            record=frame + 1,
                        )
                    if btype == PCAPNG_EPB:
                        iface, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                            endian + "IIIII", buf, pos + 8
                        )
                    else:
                        iface, _drops, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                            endian + "HHIIII", buf, pos + 8
                        )
                    if 28 + caplen > blen - 4:
                        raise CaptureError(
                            f"pcapng record {frame + 1} at offset {offset} is corrupt: captured "
                            f"length {caplen} exceeds its block ({blen} bytes)",
                            offset=offset,
                            record=frame + 1,
                        )
                    if iface >= len(section):
                        self._fault(
                            CaptureError(
                                f"pcapng record {frame + 1} at offset {offset} names interface "
                                f"{iface}, but its section describes {len(section)}",
                                offset=offset,
                                record=frame + 1,
                            )
                        )
                        continue
                    frame += 1
                    if batches and btype == PCAPNG_EPB:
                        positions.append(pos)
                        continue
                    global_id, intf = section[iface]
                    record = Record(
                        frame,
                        intf.ts_ns((ts_hi << 32) | ts_lo),
                        global_id,
                        intf.linktype,
                        memoryview(buf)[pos + 28 : pos + 28 + caplen],
                        origlen,
                        offset,
                    )
                elif btype == PCAPNG_SPB:
                    if not section:
                        self._fault(
                            CaptureError(
                                f"pcapng record {frame + 1} at offset {offset} is a simple "
                                f"packet block, but its section describes no interface",
                                offset=offset,
                                record=frame + 1,
                            )
                        )
                        continue
                    global_id, intf = section[0]
                    origlen = struct.unpack_from(endian + "I", buf, pos + 8)[0]
                    caplen = min(origlen, blen - 16)
                    if intf.snaplen:
                        caplen = min(caplen, intf.snaplen)
                    frame += 1
                    # An SPB carries no timestamp; Wireshark shows time 0.
                    record = Record(
                        frame,
                        0,
                        global_id,
                        intf.linktype,
                        memoryview(buf)[pos + 12 : pos + 12 + caplen],
                        origlen,
                        offset,
                    )
                else:
                    if btype == PCAPNG_IDB:
                        self._interface_block(buf, pos, blen, endian, offset, frame, section)
                    continue
                if batches:
                    batch_records.append(record)
                else:
                    yield record
        except CaptureError:
            if positions or batch_records:
                # Every good record before the fault, batches included.
                yield self._pcapng_batch(positions, batch_records, endian, section, batch_first)
            raise
        finally:
            self.records = frame

    def _interface_block(
        self,
        buf: bytes | mmap.mmap,
        pos: int,
        blen: int,
        endian: str,
        offset: int,
        frame: int,
        section: list[tuple[int, Interface]],
    ) -> None:
        if blen < 20:
            raise CaptureError(
                f"pcapng interface block at offset {offset} is corrupt: block length {blen}",
                offset=offset,
                record=frame + 1,
            )
        linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
        intf = Interface(linktype, snaplen)
        _read_idb_options(bytes(buf[pos + 16 : pos + blen - 4]), endian, intf)
        section.append((len(self.interfaces), intf))
        self.interfaces.append(intf)

    def _pcapng_batch(
        self,
        positions: array.array[int],
        records: list[Record],
        endian: str,
        section: list[tuple[int, Interface]],
        first_frame: int,
    ) -> RecordBatch:
        return RecordBatch(
            self._buf,
            self._base,
            positions,
            "epb",
            endian,
            -1,
            0,
            first_frame,
            interfaces=list(section),
            records=records,
        )


@dataclass(slots=True)
class RecordBatch:
    """Records that lie whole in one buffer, for vectorized scans (``CaptureReader.batches``).

    ``positions`` are the offsets in ``buffer`` of each record's header (plus ``bias``, which
    the walk may add to save work): a pcap record header
    (``kind == "pcap"``: data at +16, captured length at +8, ``linktype`` and ``frac_ns``
    apply to all) or a pcapng Enhanced Packet Block (``kind == "epb"``: interface id at +8,
    timestamp at +12/+16, captured length at +20, data at +28; ``interfaces`` maps the
    section's interface ids). Simple and obsolete packet blocks, rare, come as ready
    :class:`Record` s in ``records``. ``base`` is the file offset of ``buffer[0]``.
    ``positions`` is a list or an ``array('q')`` (the C walk, pcapng, a helper process's
    walk): index it, take its length, or hand it to NumPy as it is.
    """

    buffer: bytes | mmap.mmap
    base: int
    positions: Sequence[int]
    kind: str
    endian: str
    linktype: int
    frac_ns: int
    first_frame: int
    interfaces: list[tuple[int, Interface]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    bias: int = 0  # positions hold each header's offset plus this


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_idb_options(options: bytes, endian: str, intf: Interface) -> None:
    """Apply the IDB options rtcscope needs (if_name, if_tsresol, if_tsoffset)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        value = options[pos + 4 : pos + 4 + length]
        if code == OPT_ENDOFOPT or len(value) < length:
            return
        if code == IF_TSRESOL and length >= 1:
            intf.tsresol = value[0]
        elif code == IF_TSOFFSET and length >= 8:
            intf.tsoffset_s = struct.unpack(endian + "q", value[:8])[0]
        elif code == 2:
            intf.name = value.decode("utf-8", "replace").rstrip("\0")
        pos += 4 + ((length + 3) & ~3)


def _walk_pcap_py(buf: bytes | mmap.mmap, pos: int, endian: str) -> tuple[Sequence[int], int, int]:
    """The batch walk of a pcap buffer from ``pos``: the offsets of every record that lies
    whole in ``buf`` (16-byte header, captured length at +8, the captured bytes), each plus
    the bias, until the first that does not; returns (offsets, that first record's offset,
    bias). The specification of the C road (rtcscope.capture._records.walk_pcap).

    The hot loop of `rtcscope info` on the Python road: only record boundaries, in Python;
    everything else is read from the batch with NumPy."""
    positions: list[int] = []
    append = positions.append
    size = len(buf)
    order: Literal["little", "big"] = "little" if endian == "<" else "big"
    if order != sys.byteorder:
        from_bytes = int.from_bytes
        while pos <= size - 16:
            end = pos + 16 + from_bytes(buf[pos + 8 : pos + 12], order)
            if end > size:
                break
            append(pos)
            pos = end
        return positions, pos, 0
    # Four native u32 views of the buffer, one per alignment: the length at byte b is
    # words[b & 3][b >> 2], read without making a bytes object.
    whole = memoryview(buf)
    words = [whole[r : r + (size - r) // 4 * 4].cast("I") for r in range(4)]
    # The loop follows `at`, the offset of each captured-length field (record header + 8):
    # one addition less per record. A record ends past the buffer when next_at > limit; a
    # length field past it raises IndexError: no other bound is checked per record.
    at = pos + 8
    limit = size + 8
    try:
        while True:
            next_at = at + 16 + words[at & 3][at >> 2]
            if next_at > limit:
                break
            append(at)
            at = next_at
    except IndexError:
        pass
    for view in words:
        view.release()
    whole.release()
    return positions, at - 8, 8


def _walk_pcap_c(buf: bytes | mmap.mmap, pos: int, endian: str) -> tuple[Sequence[int], int, int]:
    """:func:`_walk_pcap_py` in C (rtcscope.capture._records.walk_pcap), the offsets in an
    ``array('q')`` (bias 0)."""
    assert _c_walk_pcap is not None
    found, stop = _c_walk_pcap(buf, pos, endian == ">")
    positions = array.array("q")
    positions.frombytes(found)
    return positions, stop, 0


_EPB_FIELDS = {e: struct.Struct(e + "III8xI") for e in "<>"}  # type, length, interface,
# (timestamp), captured length


def _walk_epbs_py(
    buf: bytes | mmap.mmap, pos: int, endian: str, interfaces: int, positions: array.array[int]
) -> int:
    """Append the positions of the Enhanced Packet Blocks from ``pos`` on that lie whole in
    ``buf`` and pass every check the general walk makes (block and trailing lengths, captured
    length, a known interface); stop at the first other block. Returns where it stopped.
    The specification of the C road (rtcscope.capture._records.walk_epbs)."""
    fields = _EPB_FIELDS[endian]
    trailer = _U32[endian]
    limit = len(buf)
    while pos + 32 <= limit:
        btype, blen, iface, caplen = fields.unpack_from(buf, pos)
        if (
            btype != PCAPNG_EPB
            or blen < 32
            or blen & 3
            or blen > MAX_RECORD_BYTES
            or pos + blen > limit
            or caplen + 32 > blen
            or iface >= interfaces
            or trailer.unpack_from(buf, pos + blen - 4)[0] != blen
        ):
            break
        positions.append(pos)
        pos += blen
    return pos


def _walk_epbs_c(
    buf: bytes | mmap.mmap, pos: int, endian: str, interfaces: int, positions: array.array[int]
) -> int:
    """:func:`_walk_epbs_py` in C (rtcscope.capture._records.walk_epbs)."""
    assert _c_walk_epbs is not None
    found, stop = _c_walk_epbs(buf, pos, endian == ">", interfaces, MAX_RECORD_BYTES)
    positions.frombytes(found)
    return stop


# The batch record walks in C where rtcscope.capture._records was built (RTCSCOPE_PURE=1:
# the Python road); the C road also walks large files in this process (no helper process).
_c_walk_pcap: Callable[[bytes | mmap.mmap, int, bool], tuple[bytes, int]] | None = c_function(
    "rtcscope.capture._records", "walk_pcap"
)
_c_walk_epbs: Callable[[bytes | mmap.mmap, int, bool, int, int], tuple[bytes, int]] | None = (
    c_function("rtcscope.capture._records", "walk_epbs")
)
RECORD_WALK_ROAD = "python" if _c_walk_pcap is None or _c_walk_epbs is None else "c"
_walk_pcap = _walk_pcap_py if RECORD_WALK_ROAD == "python" else _walk_pcap_c
_walk_epbs = _walk_epbs_py if RECORD_WALK_ROAD == "python" else _walk_epbs_c


_U32 = {e: struct.Struct(e + "I") for e in "<>"}

_BLOCK_NAMES = {
    PCAPNG_SHB: "section header",
    PCAPNG_IDB: "interface",
    PCAPNG_PB: "packet",
    PCAPNG_SPB: "simple packet",
    PCAPNG_EPB: "enhanced packet",
    0x00000004: "name resolution",
    0x00000005: "interface statistics",
    0x0000000A: "decryption secrets",
}
_PACKET_BLOCKS = {PCAPNG_EPB, PCAPNG_SPB, PCAPNG_PB}


def read_spans(path: str, spans: Sequence[tuple[int, int, int, int]]) -> Iterator[bytes]:
    """The bytes from start to end of each span (``(_, _, start, end)``) of a capture file,
    in order (records read again at their offsets: capture/flowread.py); short at the end
    of a file that shrank."""
    with open(path, "rb") as raw:
        fd = raw.fileno()
        for _, _, start, end in spans:
            parts = []
            while start < end:
                got = os.pread(fd, end - start, start)
                if not got:
                    break
                parts.append(got)
                start += len(got)
            yield parts[0] if len(parts) == 1 else b"".join(parts)


def open_capture(
    source: str | os.PathLike[str] | BinaryIO, keep_going: bool = False
) -> CaptureReader:
    """Open a pcap or pcapng capture (gzip read transparently) for streaming.

    ``source`` is a path or a binary stream (not closed by the reader). Raises
    :class:`CaptureError` if the file cannot be opened; faults inside the file surface while
    iterating (or land in ``reader.warnings`` with ``keep_going``).
    """
    return CaptureReader(source, keep_going=keep_going)
