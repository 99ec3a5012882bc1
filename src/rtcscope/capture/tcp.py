"""TCP reassembly: each direction of each connection as an ordered byte stream.

Feed every decoded packet in capture order to :meth:`TcpReassembler.feed`; it returns
:class:`TcpData` chunks, each the next bytes of one direction (``flow`` = source address and
port, destination address and port), stamped with the capture time and frame of the segment
that completed them. Consumers (the SIP, WebSocket and HEP framers) keep one framer per
``flow`` and feed it ``data``; ``gap_before`` says how many bytes are missing before this chunk
(0 when contiguous) so a framer resynchronises instead of gluing unrelated bytes together.

Written by hand: it works on the capture's Packet objects in capture time and must report
gaps and drops, which no reassembly library offers sans-IO.

How segments are handled (RFC 9293 section 3.4 sequence space, modulo 2**32):

- SYN sets the stream's start (its sequence number + 1) and yields an empty chunk with
  ``syn`` set; a SYN with another ISN on a known 4-tuple starts a new connection (port
  reuse). Without a SYN the stream starts at the peer's latest acknowledgement if one was
  seen (so segments captured out of order at the start still line up), else at the first
  segment seen; ``midstream`` is set on its first chunk (a framer should look for a message
  start).
- Out-of-order segments wait until the bytes before them arrive. Retransmitted bytes and the
  overlapping parts of segments are dropped: the bytes seen first are kept (counted).
- A hole becomes a gap when the receiver acknowledges data past it (the capture missed those
  bytes; they will not be sent again), when a buffer cap is hit, on RST, or at :meth:`flush`.
  Bytes of a hole that turn up after it was declared a gap are counted as late and dropped.
- FIN yields ``fin`` once every byte before it is delivered; RST yields ``rst`` at once.
- Memory is bounded per direction (``max_pending_bytes_per_flow``), in total
  (``max_pending_bytes``) and in the number of directions tracked (``max_flows``, least
  recently used first out). What those caps cost is counted in :class:`TcpStats`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import field

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet, TcpSegment

Flow = tuple[str, int, str, int]

_SEQ_MOD = 1 << 32
_HALF = 1 << 31
# A pending segment costs its bytes plus bookkeeping; counting the overhead keeps a flood
# of tiny segments within the byte caps too.
_SEGMENT_OVERHEAD = 64
# Holes remembered per direction, to tell late bytes from retransmissions.
_LOST_RANGES_KEPT = 16


@dataclass(frozen=True, slots=True)
class TcpData:
    """The next bytes of one direction of a TCP connection."""

    flow: Flow  # (src, sport, dst, dport)
    data: bytes
    ts_ns: int  # capture time of the segment that completed these bytes
    frame: int  # ... and its frame number
    gap_before: int = 0  # bytes missing between the previous chunk and this one
    syn: bool = False
    fin: bool = False
    rst: bool = False
    midstream: bool = False  # first bytes of a direction whose SYN was not captured


@dataclass(slots=True)
class TcpStats:
    """What TCP reassembly saw, and what it could not deliver in order."""

    segments: int = 0
    bytes_delivered: int = 0
    out_of_order_segments: int = 0
    retransmitted_segments: int = 0  # every byte already delivered or held
    retransmitted_bytes: int = 0
    overlap_bytes: int = 0  # parts of new segments that were already held or delivered
    gaps: int = 0
    gap_bytes: int = 0
    late_bytes: int = 0  # bytes of a hole that arrived after it was declared a gap
    cap_releases: int = 0  # holes declared gaps because a memory cap was reached
    connections: int = 0  # SYNs starting a stream
    midstream_starts: int = 0
    resets: int = 0
    flows_evicted: int = 0
    pending_bytes: int = 0
    peak_pending_bytes: int = 0


@dataclass(slots=True)
class _Segment:
    data: bytes
    ts_ns: int
    frame: int


@dataclass(slots=True)
class _Direction:
    flow: Flow
    base: int  # sequence number of stream offset 0
    next_abs: int = 0  # stream offset of the next byte to deliver
    pending: dict[int, _Segment] = field(default_factory=dict)
    pending_cost: int = 0
    fin_abs: int | None = None
    closed: bool = False
    midstream: bool = False  # the next chunk is the first of a stream without SYN
    gap: int = 0  # hole skipped, to report on the next chunk
    lost: list[tuple[int, int]] = field(default_factory=list)  # recent holes given up on
    last_ts_ns: int = 0  # the latest segment seen in this direction
    last_frame: int = 0
    ack_seen: int | None = None  # the latest acknowledgement this side sent its peer

    def offset(self, seq: int) -> int:
        """Stream offset of ``seq``, unwrapped around the next expected byte."""
        delta = (seq - self.base - self.next_abs) % _SEQ_MOD
        if delta >= _HALF:
            delta -= _SEQ_MOD
        return self.next_abs + delta


class TcpReassembler:
    """Per-direction TCP reassembly fed with decoded packets (see the module docstring)."""

    def __init__(
        self,
        *,
        max_pending_bytes_per_flow: int = 1024 * 1024,
        max_pending_bytes: int = 64 * 1024 * 1024,
        max_flows: int = 65536,
    ) -> None:
        if min(max_pending_bytes_per_flow, max_pending_bytes, max_flows) < 1:
            raise ValueError("TCP reassembly caps must be positive")
        self._max_flow_bytes = max_pending_bytes_per_flow
        self._max_total_bytes = max_pending_bytes
        self._max_flows = max_flows
        self._flows: OrderedDict[Flow, _Direction] = OrderedDict()
        self.stats = TcpStats()

    def feed(self, packet: Packet) -> list[TcpData]:
        """The chunks this packet completes (often none or one); non-TCP packets give none."""
        segment = packet.tcp
        if segment is None:
            return []
        self.stats.segments += 1
        flow: Flow = (packet.src, packet.sport, packet.dst, packet.dport)
        out: list[TcpData] = []
        flags = segment.flags
        if flags & TcpSegment.ACK:
            reverse = self._flows.get((packet.dst, packet.dport, packet.src, packet.sport))
            if reverse is not None and (
                reverse.pending or (reverse.fin_abs is not None and not reverse.closed)
            ):
                self._release_acknowledged(reverse, segment.ack, out)
        direction = self._direction(flow, segment, packet, out)
        if direction is None:
            return out
        if flags & TcpSegment.ACK:
            direction.ack_seen = segment.ack
        if flags & TcpSegment.RST:
            self.stats.resets += 1
            self._accept(direction, segment, packet, out)
            self._release_all(direction, out)
            direction.closed = True
            out.append(TcpData(flow, b"", packet.ts_ns, packet.frame, direction.gap, rst=True))
            direction.gap = 0
            return out
        self._accept(direction, segment, packet, out)
        if direction.pending_cost > self._max_flow_bytes:
            self.stats.cap_releases += 1
            self._release_all(direction, out)
        if self.stats.pending_bytes > self._max_total_bytes:
            self._release_largest(out)
        if self.stats.pending_bytes > self.stats.peak_pending_bytes:
            self.stats.peak_pending_bytes = self.stats.pending_bytes
        return out

    def flush(self) -> list[TcpData]:
        """End of capture: every held segment is delivered, holes reported as gaps."""
        out: list[TcpData] = []
        for direction in self._flows.values():
            if direction.pending or (direction.fin_abs is not None and not direction.closed):
                self._release_all(direction, out)
        return out

    # -- connection tracking ---------------------------------------------------------------

    def _direction(
        self, flow: Flow, segment: TcpSegment, packet: Packet, out: list[TcpData]
    ) -> _Direction | None:
        flags = segment.flags
        direction = self._flows.get(flow)
        if flags & TcpSegment.SYN:
            start = (segment.seq + 1) % _SEQ_MOD
            if direction is not None and direction.base == start:
                self._flows.move_to_end(flow)
                return direction  # a retransmitted SYN (or SYN-ACK)
            direction = self._new_direction(flow, start, out)
            self.stats.connections += 1
            out.append(TcpData(flow, b"", packet.ts_ns, packet.frame, syn=True))
            return direction
        if direction is None:
            if flags & TcpSegment.RST and not packet.payload:
                return None  # a reset of a connection never seen: nothing to deliver
            return self._start_midstream(flow, segment.seq, out)
        self._flows.move_to_end(flow)
        if direction.closed and packet.payload:
            start = direction.offset(segment.seq)
            if start > direction.next_abs:
                # Data past the end of a closed stream: the 4-tuple was reused unseen.
                return self._start_midstream(flow, segment.seq, out)
        return direction

    def _start_midstream(self, flow: Flow, seq: int, out: list[TcpData]) -> _Direction:
        self.stats.midstream_starts += 1
        # The peer's acknowledgement says where this side's unacknowledged bytes begin: start
        # there, so that segments captured out of order at the start are not lost.
        base = seq
        reverse = self._flows.get((flow[2], flow[3], flow[0], flow[1]))
        if reverse is not None and reverse.ack_seen is not None:
            ahead = (seq - reverse.ack_seen) % _SEQ_MOD
            if 0 < ahead <= self._max_flow_bytes:
                base = reverse.ack_seen
        direction = self._new_direction(flow, base, out)
        direction.midstream = True
        return direction

    def _new_direction(self, flow: Flow, base: int, out: list[TcpData]) -> _Direction:
        # A direction replaced or evicted first delivers what it holds, its holes as gaps:
        # nothing captured is dropped silently.
        old = self._flows.pop(flow, None)
        if old is not None and old.pending:
            self._release_all(old, out)
        direction = _Direction(flow=flow, base=base)
        self._flows[flow] = direction
        if len(self._flows) > self._max_flows:
            _, evicted = self._flows.popitem(last=False)
            self.stats.flows_evicted += 1
            if evicted.pending:
                self._release_all(evicted, out)
        return direction

    # -- segments --------------------------------------------------------------------------

    def _accept(
        self, direction: _Direction, segment: TcpSegment, packet: Packet, out: list[TcpData]
    ) -> None:
        payload = packet.payload
        size = len(payload)
        direction.last_ts_ns, direction.last_frame = packet.ts_ns, packet.frame
        start = direction.offset(segment.seq)
        if segment.flags & TcpSegment.SYN:
            start += 1  # the SYN occupies one sequence number before the data
        end = start + size
        if segment.flags & TcpSegment.FIN and direction.fin_abs is None and not direction.closed:
            direction.fin_abs = end
        if size:
            if end <= direction.next_abs:
                old = end - start - self._count_late(direction, start, end)
                if old:
                    self.stats.retransmitted_segments += 1
                    self.stats.retransmitted_bytes += old
                self._finish(direction, packet.ts_ns, packet.frame, out, [])
                return
            if start <= direction.next_abs:
                if start < direction.next_abs:
                    old = direction.next_abs - start
                    self.stats.overlap_bytes += old - self._count_late(
                        direction, start, direction.next_abs
                    )
                data = bytes(payload[direction.next_abs - start :])
                direction.next_abs = end
                chunks = [_Segment(data, packet.ts_ns, packet.frame)]
                if direction.pending:
                    self._drain(direction, chunks)
                self._finish(direction, packet.ts_ns, packet.frame, out, chunks)
                return
            self._hold(direction, start, bytes(payload), packet)
        self._finish(direction, packet.ts_ns, packet.frame, out, [])

    def _count_late(self, direction: _Direction, start: int, end: int) -> int:
        """Bytes of [start, end) that fall in holes already reported as gaps."""
        late = 0
        for lost_start, lost_end in direction.lost:
            late += max(0, min(end, lost_end) - max(start, lost_start))
        self.stats.late_bytes += late
        return late

    def _hold(self, direction: _Direction, start: int, data: bytes, packet: Packet) -> None:
        self.stats.out_of_order_segments += 1
        held = direction.pending.get(start)
        if held is not None:
            if len(held.data) >= len(data):
                self.stats.retransmitted_segments += 1
                self.stats.retransmitted_bytes += len(data)
                return
            self._uncount(direction, held)
        direction.pending[start] = _Segment(data, packet.ts_ns, packet.frame)
        cost = len(data) + _SEGMENT_OVERHEAD
        direction.pending_cost += cost
        self.stats.pending_bytes += cost

    def _uncount(self, direction: _Direction, held: _Segment) -> None:
        cost = len(held.data) + _SEGMENT_OVERHEAD
        direction.pending_cost -= cost
        self.stats.pending_bytes -= cost

    def _drain(self, direction: _Direction, chunks: list[_Segment]) -> None:
        """Move held segments that now continue the stream into ``chunks``."""
        # One sorted pass: the held segments are visited in stream order.
        for start in sorted(direction.pending):
            if start > direction.next_abs:
                return
            self._take(direction, start, chunks)

    def _take(self, direction: _Direction, start: int, chunks: list[_Segment]) -> None:
        """Move the held segment at ``start`` (not after the next byte) into ``chunks``."""
        held = direction.pending.pop(start)
        self._uncount(direction, held)
        end = start + len(held.data)
        if end <= direction.next_abs:
            self.stats.overlap_bytes += len(held.data)
            return
        self.stats.overlap_bytes += direction.next_abs - start
        chunks.append(_Segment(held.data[direction.next_abs - start :], held.ts_ns, held.frame))
        direction.next_abs = end

    def _finish(
        self,
        direction: _Direction,
        ts_ns: int,
        frame: int,
        out: list[TcpData],
        chunks: list[_Segment],
    ) -> None:
        """Emit ``chunks`` as one TcpData, with the FIN if the stream reached it.

        ``ts_ns``/``frame`` (the segment being handled) stamp a FIN; data alone is stamped with
        the latest segment among ``chunks``.
        """
        fin = (
            direction.fin_abs is not None
            and not direction.closed
            and direction.next_abs >= direction.fin_abs
        )
        if not chunks and not fin:
            return
        if not chunks:
            data = b""
        else:
            data = chunks[0].data if len(chunks) == 1 else b"".join(c.data for c in chunks)
        if fin:
            direction.closed = True
            direction.next_abs += 1  # FIN occupies one sequence number
        else:
            latest = max(chunks, key=lambda c: c.frame)
            ts_ns, frame = latest.ts_ns, latest.frame
        self.stats.bytes_delivered += len(data)
        out.append(
            TcpData(
                direction.flow,
                data,
                ts_ns,
                frame,
                direction.gap,
                fin=fin,
                midstream=direction.midstream,
            )
        )
        direction.gap = 0
        direction.midstream = False

    # -- giving up on holes ----------------------------------------------------------------

    def _release_acknowledged(self, direction: _Direction, ack: int, out: list[TcpData]) -> None:
        """The receiver acknowledged bytes the capture never had: what follows them goes."""
        acked = direction.offset(ack)
        if acked <= direction.next_abs or acked - direction.next_abs >= _HALF:
            return
        held_below = direction.pending and min(direction.pending) < acked
        fin_below = direction.fin_abs is not None and direction.fin_abs < acked
        if held_below or fin_below:
            self._release_until(direction, acked, out)

    def _release_all(self, direction: _Direction, out: list[TcpData]) -> None:
        self._release_until(direction, None, out)

    def _skip_to(self, direction: _Direction, offset: int) -> None:
        hole = offset - direction.next_abs
        self.stats.gaps += 1
        self.stats.gap_bytes += hole
        direction.gap += hole
        direction.lost.append((direction.next_abs, offset))
        del direction.lost[:-_LOST_RANGES_KEPT]
        direction.next_abs = offset

    def _release_until(self, direction: _Direction, limit: int | None, out: list[TcpData]) -> None:
        """Skip the holes before held segments (and a FIN) below ``limit`` (None: all)."""
        chunks: list[_Segment] = []
        for start in sorted(direction.pending):  # one pass in stream order
            if start > direction.next_abs:
                if limit is not None and start >= limit:
                    break
                if chunks:
                    self._emit_held(direction, out, chunks)
                    chunks = []
                self._skip_to(direction, start)
            self._take(direction, start, chunks)
        if chunks:
            self._emit_held(direction, out, chunks)
        fin_abs = direction.fin_abs
        if (
            fin_abs is not None
            and not direction.closed
            and (limit is None or fin_abs < limit)
            and direction.next_abs < fin_abs
        ):
            self._skip_to(direction, fin_abs)
            self._finish(direction, direction.last_ts_ns, direction.last_frame, out, [])

    def _emit_held(self, direction: _Direction, out: list[TcpData], chunks: list[_Segment]) -> None:
        last = chunks[-1]
        self._finish(direction, last.ts_ns, last.frame, out, chunks)

    def _release_largest(self, out: list[TcpData]) -> None:
        # Down to three quarters of the cap, largest holders first, so that a flood does not
        # pay a scan of every direction on each segment.
        low_water = self._max_total_bytes * 3 // 4
        holders = sorted(
            (d for d in self._flows.values() if d.pending), key=lambda d: -d.pending_cost
        )
        for direction in holders:
            if self.stats.pending_bytes <= low_water:
                return
            self.stats.cap_releases += 1
            self._release_all(direction, out)


def reassemble(
    packets: Iterable[Packet], reassembler: TcpReassembler | None = None
) -> Iterator[TcpData]:
    """Every chunk of every TCP direction in ``packets``, in capture order, then what
    :meth:`TcpReassembler.flush` releases at the end (pass ``reassembler`` to read its stats).

    A framer keyed by ``chunk.flow`` is all a consumer needs::

        for chunk in reassemble(pipeline.packets(path)):
            framers.setdefault(chunk.flow, SipStreamFramer()).receive_data(chunk.data)
    """
    if reassembler is None:
        reassembler = TcpReassembler()
    for packet in packets:
        if packet.tcp is not None:
            yield from reassembler.feed(packet)
    yield from reassembler.flush()
