"""``rtcscope query ... --export DIR``: one pcap per call, read back from the capture.

For each call the index knows its SIP frames (``calls.frames``) and its RTP streams
(``streams`` rows with the call's ``call_index``: flow, SSRC, first and last frame). The
records needed lie between the call's first and last frame, so only that stretch of the
capture is read: for an uncompressed pcap file the index kept where each batch of records
starts (``captures.checkpoint_frames`` / ``checkpoint_offsets``), and reading starts at the
last checkpoint before the call's first frame (the file's 24-byte header followed by the
records from there is a valid pcap stream, read by the project's reader). pcapng and gzip
files are read from the start. Reading stops after the call's last frame. The pcap is
written by the project's writer with the original file's header (pcap) or as Ethernet
(pcapng).

What a call's pcap holds: the frames that completed each of its SIP messages and every RTP
packet of its streams. A SIP message carried in several TCP segments or IP fragments is
exported as the frame that completed it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from rtcscope.capture.decode import decode
from rtcscope.capture.packet import LinkType, Record
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter, ethernet_frame
from rtcscope.errors import InputError, InvalidArgument
from rtcscope.index.query import connect
from rtcscope.outfile import make_output_dir

PCAP_HEADER_BYTES = 24


@dataclass(slots=True)
class CallSelection:
    """What to copy for one call."""

    capture: str
    call_index: int
    call_id: str
    sip_frames: set[int]
    streams: list[tuple[str, int, str, int, int, int, int]]  # flow, ssrc, first, last frame
    checkpoints: list[tuple[int, int]] = field(default_factory=list)  # (frame, offset)

    @property
    def first_frame(self) -> int:
        return min([*self.sip_frames, *(s[5] for s in self.streams)], default=1)

    @property
    def last_frame(self) -> int:
        return max([*self.sip_frames, *(s[6] for s in self.streams)], default=0)


@dataclass(slots=True)
class ExportedCall:
    capture: str
    call_index: int
    call_id: str
    path: Path
    packets: int


def _selections(index: str | Path, calls: Sequence[tuple[str, int]]) -> list[CallSelection]:
    con = connect(index)
    try:
        wanted = sorted(set(calls))
        out: list[CallSelection] = []
        for capture, call_index in wanted:
            row = con.execute(
                "SELECT call_id, frames FROM calls WHERE capture = ? AND call_index = ?",
                [capture, call_index],
            ).fetchone()
            if row is None:
                raise InvalidArgument("calls", f"no call {call_index} of {capture} in the index")
            streams = con.execute(
                "SELECT src, src_port, dst, dst_port, ssrc, first_frame, last_frame "
                "FROM streams WHERE capture = ? AND call_index = ?",
                [capture, call_index],
            ).fetchall()
            marks = con.execute(
                "SELECT checkpoint_frames, checkpoint_offsets FROM captures WHERE capture = ?",
                [capture],
            ).fetchone()
            checkpoints = list(zip(*marks, strict=True)) if marks and marks[0] else []
            out.append(
                CallSelection(
                    capture,
                    call_index,
                    row[0] or "",
                    set(row[1] or ()),
                    [tuple(s) for s in streams],
                    checkpoints,
                )
            )
        return out
    finally:
        con.close()


class _FromOffset:
    """The file's pcap header, then its bytes from ``offset``: a pcap stream whose first
    record is the one at ``offset`` (read-only, forward only)."""

    def __init__(self, raw: BinaryIO, offset: int) -> None:
        self._head = raw.read(PCAP_HEADER_BYTES)
        raw.seek(offset)
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._raw.read(size)


def _wanted(selection: CallSelection, record: Record) -> bool:
    if record.frame in selection.sip_frames:
        return True
    candidates = [s for s in selection.streams if s[5] <= record.frame <= s[6]]
    if not candidates:
        return False
    packet = decode(record)
    payload = packet.payload
    if packet.ip_proto != 17 or len(payload) < 12:
        return False
    key = (packet.src, packet.sport, packet.dst, packet.dport, int.from_bytes(payload[8:12]))
    return any(s[:5] == key for s in candidates)


def _records(selection: CallSelection) -> tuple[list[Record], Any]:
    """The call's records (copies) and the pcap header to write them under (None: pcapng)."""
    first, last = selection.first_frame, selection.last_frame
    start = bisect.bisect_right([f for f, _ in selection.checkpoints], first) - 1
    kept: list[Record] = []
    try:
        if start >= 0:
            frame0, offset = selection.checkpoints[start]
            with (
                open(selection.capture, "rb") as raw,
                open_capture(cast(BinaryIO, _FromOffset(raw, offset))) as r,
            ):
                for record in r:
                    record.frame += frame0 - 1
                    if record.frame > last:
                        break
                    if _wanted(selection, record):
                        kept.append(_copy(record))
                return kept, r.pcap_header
        with open_capture(selection.capture) as reader:
            for record in reader:
                if record.frame > last:
                    break
                if record.frame >= first and _wanted(selection, record):
                    kept.append(_copy(record))
            return kept, reader.pcap_header
    except OSError as exc:
        raise InputError(f"cannot read {selection.capture}: {exc.strerror}") from exc


def _copy(record: Record) -> Record:
    return Record(
        record.frame,
        record.ts_ns,
        record.interface,
        record.linktype,
        memoryview(bytes(record.data)),
        record.orig_len,
        record.offset,
    )


def _file_name(selection: CallSelection) -> str:
    stem = Path(selection.capture).name
    for suffix in (".gz", ".pcapng", ".pcap", ".cap"):
        stem = stem.removesuffix(suffix)
    call_id = re.sub(r"[^A-Za-z0-9._-]+", "_", selection.call_id)[:60]
    return f"{stem}-call{selection.call_index}-{call_id}.pcap"


def export_calls(
    index: str | Path, calls: Sequence[tuple[str, int]], out_dir: str | Path
) -> list[ExportedCall]:
    """Write one pcap per (capture, call_index) into ``out_dir``."""
    target = Path(out_dir)
    make_output_dir(target)
    written: list[ExportedCall] = []
    for selection in _selections(index, calls):
        records, header = _records(selection)
        path = target / _file_name(selection)
        if header is not None:
            with PcapWriter(path, header=header) as writer:
                for record in records:
                    writer.write_record(record)
        else:
            with PcapWriter(path, LinkType.ETHERNET) as writer:
                for record in records:
                    frame = ethernet_frame(record.linktype, record.data)
                    if frame is not None:
                        grown = len(frame) - len(record.data)
                        writer.write(frame, record.ts_ns, record.orig_len + grown)
        written.append(
            ExportedCall(
                selection.capture, selection.call_index, selection.call_id, path, len(records)
            )
        )
    return written
