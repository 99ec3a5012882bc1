"""Reading some UDP flows of a capture again: audio, the report's plots, SRTP checks, split.

:func:`udp_flow_packets` gives what :func:`rtcscope.capture.pipeline.packets` yields (decoded,
reassembled, in file order), less the plain IPv4 records of other flows. Two ways:

- with a :class:`RecordIndex` (``IndexedCapture``: the one pass noted where every record lies,
  because a later step would read packets again), only the records that may hold a packet of
  the wanted flows are read, at their offsets, a window of neighbouring records at a time
  (records more than 64 KB apart are not read together: other flows' bytes are skipped);
- without one (a compressed file, a pass that met a fault, a file changed since, ``--dedup``,
  a library caller with a path), the file is read again in batches and the other flows'
  records skipped by one array test per batch (:func:`~rtcscope.capture.fastscan.flow_classes`).

Both decode exactly the same records (the tests compare them on every capture). The index
costs 36 bytes per record while the model lives (2,000,000 records: 72 MB), and is built only
when the command will read some flows again (``ScanOptions.offsets``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from rtcscope.capture.decode import decode
from rtcscope.capture.defrag import Defragmenter
from rtcscope.capture.fastscan import BatchRows, flow_classes, flows_wanted, wanted_flow_keys
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.pipeline import default_defragmenter, packets, reassemble
from rtcscope.capture.reader import open_capture, read_spans
from rtcscope.errors import CaptureError

# How a record is laid out, by its block kind and byte order: (where its captured length is,
# where its data starts, the struct of captured + original length).
_LAYOUTS = {
    ("pcap", "<"): (8, 16, struct.Struct("<II")),
    ("pcap", ">"): (8, 16, struct.Struct(">II")),
    ("epb", "<"): (20, 28, struct.Struct("<II")),
    ("epb", ">"): (20, 28, struct.Struct(">II")),
}
_LAYOUT_CODES = {kind: code for code, kind in enumerate(_LAYOUTS)}
_LAYOUT_LIST = list(_LAYOUTS.values())
# Reads by offsets take the chosen records a window at a time: one read for records closer
# than _GAP_BYTES to each other, at most _WINDOW_BYTES (memory: one window and the records
# a consumer still holds; no map of the whole file, whose pages would count in the RSS).
_GAP_BYTES = 64 * 1024
_WINDOW_BYTES = 4 << 20
# Simple/obsolete packet blocks (no offset-read layout here) are kept whole, up to this many.
_READY_LIMIT = 10_000


class RecordIndex:
    """Where each record of one pass lies and what fastscan.flow_classes says of it."""

    def __init__(self) -> None:
        self._parts: list[tuple[npt.NDArray[np.generic], ...]] = []
        self._ready: list[Record] = []  # simple/obsolete packet blocks: kept whole (rare)
        self.usable = True  # False: read the file again instead (module docstring)
        self._stat: tuple[int, int] | None = None
        self.columns: tuple[npt.NDArray[np.generic], ...] = ()

    def add(self, rows: BatchRows) -> None:
        """One batch of the pass, in file order."""
        batch = rows.batch
        if len(self._ready) + len(batch.records) > _READY_LIMIT:
            self.abandon()  # a capture of simple packet blocks: read it again instead
        if not self.usable:
            return
        # Their own bytes: not a view that would keep the batch's whole buffer.
        self._ready += [replace(r, data=memoryview(bytes(r.data))) for r in batch.records]
        if not rows.count:
            return
        code = _LAYOUT_CODES.get((batch.kind, batch.endian))
        if code is None or rows.views is None:
            self.abandon()
            return
        classes, keys = flow_classes(rows)
        times = rows.times
        if times is None:
            times = np.array(rows.ts_ns(list(range(rows.count))), dtype=np.int64)
        self._parts.append(
            (
                np.asarray(rows.pos, dtype=np.int64) + batch.base,
                np.asarray(rows.frames, dtype=np.uint32),
                times.astype(np.int64),
                rows.interface_ids.astype(np.int32),
                rows.linktypes.astype(np.uint16),
                classes,
                keys,
                np.full(rows.count, code, dtype=np.int8),
            )
        )

    def finish(self, path: str) -> None:
        """The pass is over: ``path`` is the file the offsets point into."""
        if not self.usable:
            self._parts = []
            return
        if self._parts:
            self.columns = tuple(
                np.concatenate(column) for column in zip(*self._parts, strict=True)
            )
        self._parts = []
        self._stat = _stat(path)

    def abandon(self) -> None:
        """The offsets cannot serve (a compressed file, a fault): read the file again."""
        self.usable = False
        self._parts, self.columns, self._ready = [], (), []

    def serves(self, path: str) -> bool:
        """Whether the offsets still point into ``path`` as the pass read it."""
        return self.usable and self._stat is not None and _stat(path) == self._stat

    def records(self, path: str, wanted: npt.NDArray[np.uint64]) -> Iterator[Record]:
        """The records that may hold a packet of the wanted flows (``flow_mix`` keys), read
        at their offsets, in file order."""
        ready = iter(self._ready)
        pending = next(ready, None)
        if not self.columns:
            if pending is not None:
                yield pending
            yield from ready
            return
        offsets, frames, times, interfaces, linktypes, classes, keys, codes = self.columns
        assert self._stat is not None
        chosen = np.flatnonzero(flows_wanted(classes, keys, wanted))  # type: ignore[arg-type]
        # Each record lies between its offset and the next record's (or the file's end).
        ends = np.append(offsets[1:], self._stat[0])
        for start in range(0, len(chosen), 65536):
            part = chosen[start : start + 65536]
            firsts, lasts = offsets[part].tolist(), ends[part].tolist()
            columns = zip(
                frames[part].tolist(),
                times[part].tolist(),
                interfaces[part].tolist(),
                linktypes[part].tolist(),
                codes[part].tolist(),
                strict=True,
            )
            spans = _windows(firsts, lasts)
            for (first, count, _, _), window in zip(spans, read_spans(path, spans), strict=True):
                # The records' data are views of the window: it goes with the last of them.
                view = memoryview(window)
                for offset in firsts[first : first + count]:
                    frame, ts_ns, interface, linktype, code = next(columns)
                    while pending is not None and pending.frame < frame:
                        yield pending
                        pending = next(ready, None)
                    at, data_at, lengths = _LAYOUT_LIST[code]
                    here = offset - firsts[first]
                    begin = here + data_at
                    if begin > len(window):
                        raise CaptureError(f"{path}: the capture changed while it was read")
                    caplen, orig_len = lengths.unpack_from(window, here + at)
                    data = view[begin : begin + caplen]
                    yield Record(frame, ts_ns, interface, linktype, data, orig_len, offset)
        while pending is not None:
            yield pending
            pending = next(ready, None)


def _windows(firsts: list[int], lasts: list[int]) -> list[tuple[int, int, int, int]]:
    """The chosen records (start and end offsets, in file order) in windows read at once:
    (first record, record count, start, end). A window ends before a gap of more than
    ``_GAP_BYTES`` (records of other flows not read) or past ``_WINDOW_BYTES``."""
    windows = []
    first = 0
    for k in range(1, len(firsts) + 1):
        if (
            k == len(firsts)
            or firsts[k] - lasts[k - 1] > _GAP_BYTES
            or lasts[k] - firsts[first] > _WINDOW_BYTES
        ):
            windows.append((first, k - first, firsts[first], lasts[k - 1]))
            first = k
    return windows


def _stat(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


class IndexedCapture(os.PathLike[str]):
    """A capture file with the record index of the pass that read it (a path wherever a path
    is taken; :func:`udp_flow_packets` reads by offsets through it)."""

    def __init__(self, path: str, index: RecordIndex) -> None:
        self.path, self.index = path, index

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"IndexedCapture({self.path!r})"


def udp_flow_packets(
    path: str | os.PathLike[str] | BinaryIO,
    flows: Iterable[tuple[str, int, str, int]],
    *,
    dedup: bool = False,
) -> Iterator[Packet]:
    """What :func:`rtcscope.capture.pipeline.packets` yields (decoded, reassembled, in file
    order, a fault raised after the good packets), less the plain IPv4 packets (one 20-byte
    header, not a fragment, not a tunnel) that are not UDP of ``flows`` (source, source
    port, destination, destination port): by offsets through an :class:`IndexedCapture`, else
    by reading the file again (module docstring). ``dedup`` compares each packet with the
    ones before it: then every packet is decoded (``pipeline.packets`` with ``dedup``)."""
    if dedup:
        yield from packets(
            os.fspath(path) if isinstance(path, IndexedCapture) else path, dedup=True
        )
        return
    wanted = wanted_flow_keys(flows)
    defrag = default_defragmenter()
    if isinstance(path, IndexedCapture) and path.index.serves(path.path):
        yield from reassembled(defrag, path.index.records(path.path, wanted))
        return
    with open_capture(os.fspath(path) if isinstance(path, IndexedCapture) else path) as reader:
        for batch in reader.batches():
            rows = BatchRows(batch)
            chosen = np.flatnonzero(flows_wanted(*flow_classes(rows), wanted)).tolist()
            yield from reassembled(defrag, rows.records(chosen))


def reassembled(defrag: Defragmenter, records: Iterable[Record]) -> Iterator[Packet]:
    """Each record decoded, fragments reassembled (what pipeline.packets does to them)."""
    for record in records:
        packet = decode(record)
        if packet.fragment is not None:
            whole = reassemble(defrag, packet)
            if whole is None:
                continue
            packet = whole
        yield packet
