"""What a receiver plays: loss, late packets through a simulated jitter buffer, burst ratio.

Pure functions of one stream's per-packet arrays, in arrival order: arrival time (ns),
sequence number (16 bit), RTP timestamp (32 bit), and whether the packet is timed audio
(telephone-events and comfort noise share the sequence space but are not played on the
audio clock). The buffers follow what VoIPmonitor reports (fixed 50 ms, fixed 200 ms, and
adaptive up to 500 ms):

- **fixed B ms**: the first packet is played B ms after it arrived; every later packet at
  its timestamp's offset from the first. A packet arriving after its play time is late and
  discarded, which the listener hears as a loss. A packet more than 1 s off the timeline
  (the sender's timestamps jumped) restarts it.
- **adaptive up to M ms**: the delay starts at 40 ms (the margin Asterisk's adaptive
  buffer keeps over the jitter it measures, ``jbtargetextra``); a late packet (discarded)
  makes the delay grow at once to what it needed plus that margin (at most M ms); while
  packets come in time the delay shrinks towards what the last packet needed plus the
  margin, by 1/500 of the difference per packet. Delays are measured from the fastest
  transit seen so far.
- **none** (``network``): only what the network lost.

Loss is counted over the sequence numbers from the lowest to the highest received (RFC 3550
A.3): a number never received or received late is lost; duplicates count once.
Ppl is the percentage lost; BurstR (G.107 7.4) = the mean length of the observed loss bursts
divided by the mean burst length random loss of the same Ppl gives, 1 / (1 - Ppl).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# A packet more than this off the buffer's timeline means the sender's timestamps jumped (a
# new source behind the same SSRC, a restarted clock): buffers resynchronise instead of
# discarding everything after it (Asterisk's jitter buffers resync at 1000 ms by default).
RESYNC_MS = 1000.0
ADAPTIVE_MARGIN_MS = 40.0


@dataclass(frozen=True, slots=True)
class BufferSpec:
    name: str  # "network", "fixed-50", "fixed-200", "adaptive-500"
    kind: str  # "none", "fixed", "adaptive"
    size_ms: float


BUFFERS: tuple[BufferSpec, ...] = (
    BufferSpec("network", "none", 0.0),
    BufferSpec("fixed-50", "fixed", 50.0),
    BufferSpec("fixed-200", "fixed", 200.0),
    BufferSpec("adaptive-500", "adaptive", 500.0),
)


@dataclass(frozen=True, slots=True)
class BufferOutcome:
    """What one buffer let through."""

    spec: BufferSpec
    expected: int
    lost: int  # never arrived
    late: int  # arrived after its play time
    ppl_percent: float
    burst_ratio: float
    mean_delay_ms: float  # delay the buffer added (mean over played packets)
    # which of the given packets (in the order given) the buffer discarded as late
    discarded: BoolArray = field(
        default_factory=lambda: np.zeros(0, dtype=np.bool_), compare=False, repr=False
    )


def _extend(values: IntArray, bits: int) -> IntArray:
    """Counters of ``bits`` bits extended across wraps (RFC 3550 A.1): each value moves from
    the previous one by the shortest step."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return values
    modulus, half = 1 << bits, 1 << (bits - 1)
    steps = (np.diff(values) + half) % modulus - half
    return np.concatenate(([values[0]], values[0] + np.cumsum(steps)))


def extend_sequence(seq: IntArray) -> IntArray:
    """16-bit sequence numbers extended across wraps."""
    return _extend(seq, 16)


def extend_timestamp(ts: IntArray) -> IntArray:
    """32-bit RTP timestamps extended across wraps."""
    return _extend(ts, 32)


def burst_ratio(lost: BoolArray) -> float:
    """G.107's BurstR of a loss pattern (True = lost), 1.0 without loss (or all lost)."""
    n = lost.size
    count = int(lost.sum())
    if n == 0 or count == 0 or count == n:
        return 1.0
    padded = np.concatenate(([False], lost, [False])).astype(np.int8)
    starts = int((np.diff(padded) == 1).sum())
    mean_burst = count / starts
    return float(mean_burst * (1 - count / n))


def _late_fixed(transit_ms: npt.NDArray[np.float64], size_ms: float) -> BoolArray:
    late = np.zeros(transit_ms.size, dtype=np.bool_)
    reference = float(transit_ms[0]) if transit_ms.size else 0.0
    for i, transit in enumerate(transit_ms.tolist()):
        if abs(transit - reference) > RESYNC_MS:
            reference = transit  # the sender's timeline jumped: start over from this packet
        elif transit - reference > size_ms:
            late[i] = True
    return late


def _late_adaptive(transit_ms: npt.NDArray[np.float64], max_ms: float) -> tuple[BoolArray, float]:
    late = np.zeros(transit_ms.size, dtype=np.bool_)
    delay = min(ADAPTIVE_MARGIN_MS, max_ms)
    fastest = float(transit_ms[0]) if transit_ms.size else 0.0
    total = 0.0
    for i, transit in enumerate(transit_ms.tolist()):
        if abs(transit - fastest) > RESYNC_MS:
            fastest = transit
        fastest = min(fastest, transit)
        needed = transit - fastest
        if needed > delay:
            late[i] = True
            delay = min(max_ms, needed + ADAPTIVE_MARGIN_MS)
        else:
            delay -= (delay - min(max_ms, needed + ADAPTIVE_MARGIN_MS)) / 500.0
        total += delay
    return late, (total / transit_ms.size if transit_ms.size else 0.0)


def simulate_buffers(
    arrival_ns: IntArray,
    seq: IntArray,
    ts: IntArray,
    clock_hz: int,
    timed: BoolArray | None = None,
    buffers: tuple[BufferSpec, ...] = BUFFERS,
) -> list[BufferOutcome]:
    """Each buffer's outcome for one stream (arrays in arrival order, see the docstring)."""
    arrival_ns = np.asarray(arrival_ns, dtype=np.int64)
    n = arrival_ns.size
    if n == 0:
        return [BufferOutcome(b, 0, 0, 0, 0.0, 1.0, 0.0) for b in buffers]
    seq_ext = extend_sequence(np.asarray(seq, dtype=np.int64))
    ts_ext = extend_timestamp(np.asarray(ts, dtype=np.int64))
    timed_mask = np.ones(n, dtype=np.bool_) if timed is None else np.asarray(timed, dtype=bool)
    # the first copy of each sequence number is the one a receiver keeps
    _, first_index = np.unique(seq_ext, return_index=True)
    keep = np.zeros(n, dtype=np.bool_)
    keep[first_index] = True
    low, high = int(seq_ext.min()), int(seq_ext.max())
    expected = high - low + 1
    received = np.zeros(expected, dtype=np.bool_)
    received[seq_ext[keep] - low] = True
    network_lost = int(expected - received.sum())
    rate = clock_hz if clock_hz > 0 else 8000
    idx = np.flatnonzero(keep & timed_mask)
    transit_ms = (
        (arrival_ns[idx] - arrival_ns[idx[0]]) / 1e6
        - (ts_ext[idx] - ts_ext[idx[0]]) * (1000.0 / rate)
        if idx.size
        else np.zeros(0)
    )
    out: list[BufferOutcome] = []
    for spec in buffers:
        played = received.copy()
        delay_ms = 0.0
        late_count = 0
        discarded = np.zeros(n, dtype=np.bool_)
        if spec.kind != "none" and idx.size:
            if spec.kind == "fixed":
                late = _late_fixed(transit_ms, spec.size_ms)
                delay_ms = spec.size_ms
            else:
                late, delay_ms = _late_adaptive(transit_ms, spec.size_ms)
            late_count = int(late.sum())
            played[seq_ext[idx[late]] - low] = False
            discarded[idx[late]] = True
        lost_mask = ~played
        out.append(
            BufferOutcome(
                spec=spec,
                expected=expected,
                lost=network_lost,
                late=late_count,
                ppl_percent=100.0 * float(lost_mask.sum()) / expected,
                burst_ratio=burst_ratio(lost_mask),
                mean_delay_ms=delay_ms,
                discarded=discarded,
            )
        )
    return out
