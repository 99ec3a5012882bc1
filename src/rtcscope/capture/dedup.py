"""Dropping the second copy of a packet captured twice (``--dedup``).

A capture taken on two interfaces, or on the ingress and egress ports of a mirror, holds
every packet twice, microseconds apart. :class:`Deduplicator` drops a packet when one with
the same bytes was kept less than ``window_ns`` of capture time before it (or after it, as
merged captures are not always in time order).

"The same bytes" is compared above the link layer, because the two copies differ there (MAC
addresses, VLAN tags, an encapsulation on one side) and a router between the two capture
points lowers the TTL and rewrites the IPv4 checksum: the key is the IP addresses, protocol,
identification, ports, the TCP sequence, acknowledgement, flags and window, the fragment
position and the whole transport payload. Packets without IP are compared whole.

The window must stay short: a SIP retransmission (RFC 3261 section 17.1.1.2, T1 = 500 ms) has
the same bytes as its original and must not be dropped; the default, 5 ms, is a hundred times
shorter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet

DEFAULT_WINDOW_NS = 5_000_000


@dataclass(slots=True)
class DedupStats:
    """How many packets were looked at and how many were dropped as copies."""

    packets: int = 0
    duplicates: int = 0


def packet_key(packet: Packet) -> Hashable:
    """What two copies of one packet have in common (see the module docstring)."""
    if packet.ip_version == 0:
        return bytes(packet.data)
    tcp = packet.tcp
    fragment = packet.fragment
    return (
        packet.src,
        packet.dst,
        packet.ip_proto,
        packet.ip_id,
        packet.sport,
        packet.dport,
        (tcp.seq, tcp.ack, tcp.flags, tcp.window) if tcp is not None else None,
        (fragment.ident, fragment.offset, fragment.more) if fragment is not None else None,
        bytes(packet.payload),
    )


class Deduplicator:
    """Tells whether a packet is a copy of one kept within the window (capture time)."""

    def __init__(self, window_ns: int = DEFAULT_WINDOW_NS) -> None:
        if window_ns < 0:
            raise ValueError("the deduplication window cannot be negative")
        self._window_ns = window_ns
        self._kept: dict[Hashable, int] = {}
        self._order: deque[tuple[int, Hashable]] = deque()
        self._newest_ns = 0
        self.stats = DedupStats()

    def is_duplicate(self, packet: Packet) -> bool:
        """True if the same bytes were kept within the window; otherwise remember them."""
        self.stats.packets += 1
        ts_ns = packet.ts_ns
        if ts_ns > self._newest_ns:
            self._newest_ns = ts_ns
            horizon = ts_ns - self._window_ns
            order = self._order
            while order and order[0][0] < horizon:
                old_ts, old_key = order.popleft()
                if self._kept.get(old_key) == old_ts:
                    del self._kept[old_key]
        key = packet_key(packet)
        seen = self._kept.get(key)
        if seen is not None and abs(ts_ns - seen) <= self._window_ns:
            self.stats.duplicates += 1
            return True
        self._kept[key] = ts_ns
        self._order.append((ts_ns, key))
        return False

    @property
    def held(self) -> int:
        """Packets remembered right now (bounded by the traffic of one window)."""
        return len(self._kept)
