"""The one way everything above the capture layer reads a capture.

records (reader.py) -> decode (decode.py, which hands tunnels to tunnels.py) -> IP
defragmentation (defrag.py) -> duplicate removal (dedup.py, only when asked).

A reassembled datagram is decoded further like any packet (its UDP/TCP header, or a tunnel it
carries); when that tunnel's inner packet is a fragment itself it goes through reassembly
again. What the stages held back or dropped is counted in a :class:`PipelineReport` the
caller may pass in; it is complete once iteration has finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import field
from typing import BinaryIO

from rtcscope._dataclass import dataclass
from rtcscope.capture.decode import decode, decode_transport
from rtcscope.capture.dedup import DEFAULT_WINDOW_NS, Deduplicator, DedupStats
from rtcscope.capture.defrag import Defragmenter, DefragStats
from rtcscope.capture.packet import Packet
from rtcscope.capture.reader import open_capture
from rtcscope.errors import CaptureError


@dataclass(slots=True)
class PipelineReport:
    """What reading a capture through :func:`packets` kept, merged and dropped."""

    records: int = 0
    packets: int = 0  # yielded to the caller
    tunneled: int = 0  # yielded packets that came out of a tunnel
    malformed: int = 0  # yielded packets whose decoding stopped early
    defrag: DefragStats = field(default_factory=DefragStats)
    dedup: DedupStats = field(default_factory=DedupStats)

    def summary(self) -> list[str]:
        """One line per non-zero fact, for a CLI to print."""
        d = self.defrag
        lines = [f"{self.records} records, {self.packets} packets after reassembly"]
        if self.tunneled:
            lines.append(f"{self.tunneled} packets taken out of tunnels")
        if self.malformed:
            lines.append(f"{self.malformed} packets malformed (decoded as far as possible)")
        if d.fragments:
            lines.append(
                f"{d.fragments} IP fragments -> {d.datagrams_reassembled} datagrams reassembled"
            )
        dropped = [
            (d.fragments_expired, "expired (reassembly timeout)"),
            (d.fragments_evicted, "dropped to keep within the reassembly buffer caps"),
            (d.fragments_incomplete, "left incomplete at the end of the capture"),
            (d.invalid_fragments, "invalid (past the datagram end or size limit)"),
        ]
        lines += [f"{n} IP fragments {why}" for n, why in dropped if n]
        if d.overlap_conflicts:
            lines.append(f"{d.overlap_conflicts} overlapping fragments disagreed (first kept)")
        if self.dedup.duplicates:
            lines.append(f"{self.dedup.duplicates} duplicate packets dropped (--dedup)")
        return lines


def _decode_reassembled(packet: Packet) -> Packet:
    """The decoder's transport step, on a reassembled datagram's payload."""
    payload = packet.payload
    decode_transport(packet.ip_proto, payload, 0, len(payload), packet)
    return packet


def default_defragmenter() -> Defragmenter:
    """The defragmenter :func:`packets` makes when given none (for callers that walk
    records themselves, such as ``rtcscope info``'s vectorized scan)."""
    return Defragmenter(transport=_decode_reassembled)


def reassemble(defrag: Defragmenter, fragment: Packet) -> Packet | None:
    """What :func:`packets` does with a decoded fragment: the datagram it completes, or None.

    A datagram whose tunnel holds a fragment again is fed again.
    """
    packet = defrag.feed(fragment)
    while packet is not None and packet.fragment is not None:
        packet = defrag.feed(packet)
    return packet


def packets(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    defragment: bool = True,
    dedup: bool = False,
    keep_going: bool = False,
    warnings: list[CaptureError] | None = None,
    report: PipelineReport | None = None,
    dedup_window_ns: int = DEFAULT_WINDOW_NS,
    defragmenter: Defragmenter | None = None,
) -> Iterator[Packet]:
    """Decoded packets of a capture, in file order, IP fragments reassembled.

    A reassembled datagram comes out at the frame of the fragment that completed it; the
    other fragments do not come out (``defragment=False`` yields them as they are).
    ``dedup`` drops the second copy of a packet seen twice within ``dedup_window_ns``.
    ``defragmenter`` replaces the default one (other caps or timeouts).

    A truncated or corrupt file yields every good packet, then raises
    :class:`~rtcscope.errors.CaptureError`; with ``keep_going`` the fault is appended to
    ``warnings`` (when given) and iteration ends there.
    """
    if report is None:
        report = PipelineReport()
    defrag: Defragmenter | None = None
    if defragment:
        defrag = defragmenter or default_defragmenter()
        report.defrag = defrag.stats
    deduplicator: Deduplicator | None = None
    if dedup:
        deduplicator = Deduplicator(dedup_window_ns)
        report.dedup = deduplicator.stats
    # Counted in locals (the hot path) and written to the report as iteration ends or stops.
    records = kept = tunneled = malformed = 0
    try:
        with open_capture(path, keep_going=keep_going) as reader:
            for record in reader:
                records += 1
                packet = decode(record)
                if defrag is not None and packet.fragment is not None:
                    whole = reassemble(defrag, packet)
                    if whole is None:
                        continue
                    packet = whole
                if deduplicator is not None and deduplicator.is_duplicate(packet):
                    continue
                kept += 1
                if packet.tunnel:
                    tunneled += 1
                if packet.malformed:
                    malformed += 1
                yield packet
            if defrag is not None:
                defrag.flush()
            if warnings is not None:
                warnings.extend(reader.warnings)
    finally:
        report.records += records
        report.packets += kept
        report.tunneled += tunneled
        report.malformed += malformed
