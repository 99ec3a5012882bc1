"""IPv4 and IPv6 fragment reassembly, in capture time, with bounded buffers.

The decoder hands over a fragment as a :class:`~rtcscope.capture.packet.Packet` whose
``fragment`` is set, whose ``ip_proto`` is the protocol of the whole datagram (IPv4 protocol
field, or the IPv6 Fragment header's Next Header) and whose ``payload`` is this fragment's part
of the IP payload. :meth:`Defragmenter.feed` keeps fragments until a datagram is whole and then
returns one packet carrying the whole IP payload (``fragment`` cleared), decoded further by the
``transport`` function it was given (the decoder's UDP/TCP/ICMP step).

Written by hand because reassembly must run in capture time, never on a clock, and report
what it could not finish; no library offers that on Packet objects.

Rules followed:

- Fragments belong together by (source, destination, protocol, identification) for IPv4
  (RFC 791 section 3.2) and by (source, destination, identification) for IPv6 (RFC 8200
  section 4.5); the VLAN tags and tunnel path are part of the key too, so the same datagram
  seen through two mirrors is reassembled twice (deduplication comes after).
- Overlaps: the bytes seen first are kept (as Wireshark does); differing overlapping bytes are
  counted as conflicts. RFC 5722 tells a *host* to drop such IPv6 datagrams, but a capture
  analyser must show what was on the wire.
- An IPv6 "atomic fragment" (offset 0, M clear) is a whole datagram (RFC 6946 section 4).
- A datagram not completed within ``timeout`` of capture time after its first fragment is
  dropped: 30 s for IPv4 (Linux ``ipfrag_time``), 60 s for IPv6 (RFC 8200 section 4.5).
- Buffers are capped in datagrams and in bytes; the oldest incomplete datagram is dropped to
  make room. Every fragment dropped is counted in :class:`DefragStats`.
- A copy of a fragment arriving after its datagram was delivered (a capture holding every
  packet twice) is recognised by its bytes and counted as a duplicate, instead of starting a
  datagram that can never complete. Recently delivered datagrams are kept for that within
  ``recent_bytes`` and the timeout.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import field, replace

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet

# Largest IP payload a datagram can carry without jumbograms (IPv4 total length is 16 bits).
MAX_DATAGRAM_BYTES = 65535
IPV4_TIMEOUT_NS = 30 * 1_000_000_000
IPV6_TIMEOUT_NS = 60 * 1_000_000_000

DatagramKey = tuple[int, str, str, int, int, tuple[int, ...], tuple[str, ...]]


@dataclass(slots=True)
class DefragStats:
    """What the defragmenter saw and what it had to drop."""

    fragments: int = 0
    datagrams_reassembled: int = 0
    duplicate_fragments: int = 0  # every byte was already held, or already delivered
    overlapping_fragments: int = 0  # some bytes were already held
    overlap_conflicts: int = 0  # ... and they differed (the first seen were kept)
    invalid_fragments: int = 0  # past the size limit or past the datagram's known end
    datagrams_expired: int = 0
    fragments_expired: int = 0
    datagrams_evicted: int = 0  # dropped to keep within the caps
    fragments_evicted: int = 0
    datagrams_incomplete: int = 0  # still incomplete when the capture ended (flush)
    fragments_incomplete: int = 0
    pending_datagrams: int = 0
    pending_bytes: int = 0
    peak_pending_bytes: int = 0

    @property
    def fragments_dropped(self) -> int:
        """Fragments that never became part of a reassembled datagram."""
        return (
            self.invalid_fragments
            + self.fragments_expired
            + self.fragments_evicted
            + self.fragments_incomplete
        )


@dataclass(slots=True)
class _Datagram:
    first_ts_ns: int
    buffer: bytearray = field(default_factory=bytearray)
    covered: list[tuple[int, int]] = field(default_factory=list)  # sorted, merged [start, end)
    total: int | None = None  # known once the last fragment (M clear) arrived
    fragments: int = 0
    held_bytes: int = 0


def _uncovered(covered: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Parts of [start, end) not in ``covered``."""
    parts: list[tuple[int, int]] = []
    cursor = start
    for c_start, c_end in covered:
        if c_end <= cursor:
            continue
        if c_start >= end:
            break
        if c_start > cursor:
            parts.append((cursor, c_start))
        cursor = max(cursor, c_end)
        if cursor >= end:
            break
    if cursor < end:
        parts.append((cursor, end))
    return parts


def _merge(covered: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    placed = False
    for c_start, c_end in covered:
        if c_end < start:
            merged.append((c_start, c_end))
        elif c_start > end:
            if not placed:
                merged.append((start, end))
                placed = True
            merged.append((c_start, c_end))
        else:
            start, end = min(start, c_start), max(end, c_end)
    if not placed:
        merged.append((start, end))
    merged.sort()
    return merged


class Defragmenter:
    """Reassembles IP fragments fed in capture order; other packets pass straight through.

    ``transport`` decodes a reassembled packet's payload (UDP/TCP/ICMP header) the way the
    decoder does for unfragmented packets; without it the packet keeps the raw IP payload.
    """

    def __init__(
        self,
        *,
        transport: Callable[[Packet], Packet] | None = None,
        max_datagrams: int = 4096,
        max_pending_bytes: int = 32 * 1024 * 1024,
        ipv4_timeout_ns: int = IPV4_TIMEOUT_NS,
        ipv6_timeout_ns: int = IPV6_TIMEOUT_NS,
        recent_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        if max_datagrams < 1 or max_pending_bytes < 1:
            raise ValueError("defragmentation caps must be positive")
        self._transport = transport
        self._max_datagrams = max_datagrams
        self._max_pending_bytes = max_pending_bytes
        self._timeout_ns = {4: ipv4_timeout_ns, 6: ipv6_timeout_ns}
        self._pending: OrderedDict[DatagramKey, _Datagram] = OrderedDict()
        self._recent: OrderedDict[DatagramKey, tuple[int, bytes]] = OrderedDict()
        self._recent_budget = recent_bytes
        self._recent_held = 0
        self._now_ns = 0
        self.stats = DefragStats()

    def feed(self, packet: Packet) -> Packet | None:
        """The packet itself, the reassembled datagram it completes, or None (held/dropped)."""
        if packet.ts_ns > self._now_ns:
            self._now_ns = packet.ts_ns
            if self._pending or self._recent:
                self._expire()
        info = packet.fragment
        if info is None:
            return packet
        self.stats.fragments += 1
        data = packet.payload
        if info.offset == 0 and not info.more:
            # RFC 6946 section 4: an atomic fragment is processed in isolation.
            self.stats.datagrams_reassembled += 1
            return self._finish(packet, bytes(data))
        start, end = info.offset, info.offset + len(data)
        if end > MAX_DATAGRAM_BYTES:
            self.stats.invalid_fragments += 1
            return None
        key: DatagramKey = (
            packet.ip_version,
            packet.src,
            packet.dst,
            packet.ip_proto if packet.ip_version == 4 else -1,
            info.ident,
            packet.vlan,
            packet.tunnel,
        )
        datagram = self._pending.get(key)
        if datagram is None and self._is_late_copy(key, info.more, start, end, data):
            self.stats.duplicate_fragments += 1
            return None
        if datagram is None:
            datagram = _Datagram(first_ts_ns=packet.ts_ns)
            self._pending[key] = datagram
            self.stats.pending_datagrams += 1
        if not self._add(datagram, info.more, start, end, data):
            self._drop_if_empty(key, datagram)
            return None
        if (
            datagram.total is not None
            and len(datagram.covered) == 1
            and datagram.covered[0] == (0, datagram.total)
        ):
            del self._pending[key]
            self._release(datagram)
            self.stats.datagrams_reassembled += 1
            whole = bytes(datagram.buffer[: datagram.total])
            self._remember(key, packet.ts_ns, whole)
            return self._finish(packet, whole)
        self._enforce_caps()
        self.stats.peak_pending_bytes = max(self.stats.peak_pending_bytes, self.stats.pending_bytes)
        return None

    def flush(self) -> None:
        """End of capture: whatever is still incomplete is dropped and counted."""
        for datagram in self._pending.values():
            self.stats.datagrams_incomplete += 1
            self.stats.fragments_incomplete += datagram.fragments
            self._release(datagram)
        self._pending.clear()

    def _add(self, datagram: _Datagram, more: bool, start: int, end: int, data: memoryview) -> bool:
        """Put a fragment's new bytes in place; False if the fragment is invalid."""
        if not more:
            if datagram.total is not None and datagram.total != end:
                self.stats.invalid_fragments += 1
                return False
            if datagram.covered and datagram.covered[-1][1] > end:
                self.stats.invalid_fragments += 1
                return False
            datagram.total = end
        elif datagram.total is not None and end > datagram.total:
            self.stats.invalid_fragments += 1
            return False
        datagram.fragments += 1
        new_parts = _uncovered(datagram.covered, start, end)
        new_bytes = sum(b - a for a, b in new_parts)
        if new_bytes < end - start:
            if new_bytes == 0:
                self.stats.duplicate_fragments += 1
            else:
                self.stats.overlapping_fragments += 1
            if self._conflicts(datagram, new_parts, start, end, data):
                self.stats.overlap_conflicts += 1
        if end > len(datagram.buffer):
            datagram.buffer.extend(bytes(end - len(datagram.buffer)))
        for part_start, part_end in new_parts:
            datagram.buffer[part_start:part_end] = data[part_start - start : part_end - start]
        if start < end:
            datagram.covered = _merge(datagram.covered, start, end)
        datagram.held_bytes += new_bytes
        self.stats.pending_bytes += new_bytes
        return True

    @staticmethod
    def _conflicts(
        datagram: _Datagram,
        new_parts: list[tuple[int, int]],
        start: int,
        end: int,
        data: memoryview,
    ) -> bool:
        cursor = start
        for part_start, part_end in [*new_parts, (end, end)]:
            if part_start > cursor and (
                datagram.buffer[cursor:part_start] != data[cursor - start : part_start - start]
            ):
                return True
            cursor = part_end
        return False

    def _is_late_copy(
        self, key: DatagramKey, more: bool, start: int, end: int, data: memoryview
    ) -> bool:
        recent = self._recent.get(key)
        if recent is None:
            return False
        whole = recent[1]
        return end <= len(whole) and more == (end < len(whole)) and whole[start:end] == data

    def _remember(self, key: DatagramKey, ts_ns: int, whole: bytes) -> None:
        old = self._recent.pop(key, None)
        if old is not None:
            self._recent_held -= len(old[1])
        if len(whole) > self._recent_budget:
            return
        self._recent[key] = (ts_ns, whole)
        self._recent_held += len(whole)
        while self._recent_held > self._recent_budget:
            _, (_, dropped) = self._recent.popitem(last=False)
            self._recent_held -= len(dropped)

    def _drop_if_empty(self, key: DatagramKey, datagram: _Datagram) -> None:
        if datagram.fragments == 0:
            del self._pending[key]
            self.stats.pending_datagrams -= 1

    def _release(self, datagram: _Datagram) -> None:
        self.stats.pending_datagrams -= 1
        self.stats.pending_bytes -= datagram.held_bytes

    def _expire(self) -> None:
        while self._recent:
            key, (ts_ns, whole) = next(iter(self._recent.items()))
            if self._now_ns - ts_ns <= self._timeout_ns[key[0]]:
                break
            del self._recent[key]
            self._recent_held -= len(whole)
        # Insertion order is first-fragment order, so the oldest datagrams are at the front.
        while self._pending:
            key, datagram = next(iter(self._pending.items()))
            if self._now_ns - datagram.first_ts_ns <= self._timeout_ns[key[0]]:
                break
            del self._pending[key]
            self._release(datagram)
            self.stats.datagrams_expired += 1
            self.stats.fragments_expired += datagram.fragments

    def _enforce_caps(self) -> None:
        # The oldest incomplete datagram goes first; a single datagram larger than the byte
        # cap goes too, so the cap always holds.
        while self._pending and (
            len(self._pending) > self._max_datagrams
            or self.stats.pending_bytes > self._max_pending_bytes
        ):
            key, datagram = next(iter(self._pending.items()))
            del self._pending[key]
            self._release(datagram)
            self.stats.datagrams_evicted += 1
            self.stats.fragments_evicted += datagram.fragments

    def _finish(self, packet: Packet, payload: bytes) -> Packet:
        whole = replace(packet, payload=memoryview(payload), fragment=None)
        return self._transport(whole) if self._transport is not None else whole
