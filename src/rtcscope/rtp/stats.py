"""Per-stream RTP statistics: Wireshark 4.0's columns, computed its way, and our own.

The Wireshark columns (``tshark -z rtp,streams``: packets, lost, min/mean/max delta,
min/mean/max jitter, problems) follow Wireshark 4.0's RTP analysis so that a script comparing
the two sees equality, including its conventions:

- times are milliseconds since the first frame of the capture (``frame.time_relative``);
- lost = expected - received, expected = (last sequence seen + 65536 * cycles) - first + 1: the
  *last* packet's sequence number, so late or duplicate packets can make it negative;
- a packet is "in time sequence" when its timestamp is less than 2^31 after the first
  packet's (wrap included); one that is not is a timestamp error and moves nothing;
- the first packet only initialises; marker packets, comfort noise (PT 13 and 19), the packet
  after a comfort-noise packet and packets out of time sequence do not count for delta and
  jitter (they still count for the mean's divisor, as in Wireshark);
- delta is the arrival gap to the previous packet in time sequence;
- jitter (RFC 3550 6.4.1): D = |arrival - (previous arrival + (nominal - last nominal))|,
  where nominal = (timestamp - first timestamp) / (clock/1000) in ms, "last nominal" is that
  of the last packet with a known clock, clock/1000 an integer division as in Wireshark;
  J += (D - J) / 16. A telephone-event between two audio packets therefore raises the
  jitter, exactly as Wireshark shows it;
- no jitter when the clock is unknown: a dynamic payload type without rtpmap, or a
  telephone-event (RFC 4733 2.2.1: its timestamp does not advance); then -1 / 0 / 0;
- a sequence error (forward jump, a backward jump of more than 0xFF00 read as a wrap, or a
  late/duplicate packet) or a timestamp going backwards sets "Problems".

Timestamp resets (ours): a sender that restarts its RTP clock (a new media server behind an
SBC, a re-INVITE that re-creates the stream) keeps the sequence numbers going but jumps the
timestamp. Wireshark then counts every later packet as out of time sequence (hundreds of
"timestamps going backwards" for one event) or, when the jump lands less than 2^31 ahead,
shows one jitter value of hours. We report it once: a packet whose sequence number moves
forward from the previous packet's while its timestamp step, read on the stream's clock (any
clock from 8 to 90 kHz while none is known), disagrees with the arrival gap by more than
``RESET_SLACK_MS`` (silence suppression advances the timestamp by what the arrival gap shows;
a reset by anything) is a ``timestamp-reset`` event with its frame, and later packets are
judged against the new base: ``timestamp_errors`` in the summary counts packets out of time
sequence relative to the base of their epoch (Wireshark's count is ``out_of_time_packets``).
The Wireshark columns are untouched by this.

Our own metrics sit beside them under their own names, over extended sequence numbers
(each packet's number extended by the shortest step from the previous packet's, RFC 3550
A.1): loss against the highest (RFC 3550 A.3: expected = highest - lowest + 1, minus the
distinct numbers received), duplicates (a number seen before), reordered (late: below the
highest seen before, and not a duplicate), DTX periods (consecutive sequence numbers whose
timestamp step is at least twice the stream's most common step: silence suppression, not
loss), markers and payload type changes.

Three ways in, one result: :meth:`StreamStats.add` takes one packet (the reference, written
as Wireshark's C reads), :meth:`StreamStats.add_many` takes arrays of a stream's next packets
(the stream scanner's fast path: NumPy for everything that is not a recurrence, the
recurrences - jitter, means - through ``itertools.accumulate`` with the same floating-point
operations in the same order, and a Python loop only over the packets whose sequence number
does not simply follow), and :func:`add_new_streams` takes the first packets of many streams
at once (short calls: the recurrences run "k-th packet of every stream at once", with add()'s
operations in add()'s order). The tests check that all give the same numbers. Streams
whose every packet came in one go (short calls) need no :class:`StreamStats` at all:
:func:`summarize_new_streams` runs the same table for all of them at once and keeps their
summaries as columns (:class:`StreamSummaries`), a :class:`StatsSummary` made only when one
is read; a test shows it equal, field by field and bit for bit, to add() and summary().
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from itertools import accumulate
from operator import attrgetter, lt
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from rtcscope._dataclass import dataclass
from rtcscope.rtp.seqtally import SequenceTally

# Wireshark's clock table for static payload types (RFC 3551 6 plus a few it adds).
STATIC_CLOCK_HZ: dict[int, int] = {
    0: 8000,
    1: 8000,
    2: 8000,
    3: 8000,
    4: 8000,
    5: 8000,
    6: 16000,
    7: 8000,
    8: 8000,
    9: 8000,
    10: 44100,
    11: 44100,
    12: 8000,
    13: 8000,
    14: 90000,
    15: 8000,
    16: 11025,
    17: 22050,
    18: 8000,
    19: 8000,
    25: 90000,
    26: 90000,
    28: 90000,
    31: 90000,
    32: 90000,
    33: 90000,
    34: 90000,
}

# Clock rates Wireshark assumes for dynamic payload types by encoding name when the rtpmap
# gives none (IANA media subtypes); matched as a case-insensitive prefix, longest first.
DYNAMIC_CLOCK_HZ: dict[str, int] = {
    "AMR": 8000,
    "AMR-WB": 16000,
    "BMPEG": 90000,
    "BT656": 90000,
    "DV": 90000,
    "EVRC": 8000,
    "EVRC0": 8000,
    "EVRC1": 8000,
    "EVRCB": 8000,
    "EVRCB0": 8000,
    "EVRCB1": 8000,
    "EVRCWB": 16000,
    "EVRCWB0": 16000,
    "EVRCWB1": 16000,
    "EVS": 16000,
    "G7221": 16000,
    "G726-16": 8000,
    "G726-24": 8000,
    "G726-32": 8000,
    "G726-40": 8000,
    "G729D": 8000,
    "G729E": 8000,
    "GSM-EFR": 8000,
    "H263-1998": 90000,
    "H263-2000": 90000,
    "H264": 90000,
    "MP1S": 90000,
    "MP2P": 90000,
    "MP4V-ES": 90000,
    "mpa-robust": 90000,
    "opus": 48000,
    "pointer": 90000,
    "raw": 90000,
    "red": 1000,
    "SMV": 8000,
    "SMV0": 8000,
    "t140": 1000,
    "telephone-event": 8000,
}

PT_CN = 13
PT_CN_OLD = 19
FIRST_DYNAMIC_PT = 96
# add_many below this many packets goes packet by packet (cheaper than NumPy for so few).
SMALL_BATCH = 24
# Streams summarised together by summarize_new_streams, at most.
_SUMMARY_BLOCK = 2048
# A stream's summary with at most this many sequence numbers counts them without NumPy.
_SMALL_SUMMARY = 256
# Numbers added one by one that wait before they go into the stream's SequenceTally.
_FOLD = 4096
# A timestamp step farther than this from the arrival gap is a reset (see the module
# docstring): far beyond network jitter and clock drift, far below a random new base.
RESET_SLACK_MS = 10_000.0
# Before any packet with a known clock (a dynamic payload type without rtpmap), a step is a
# reset only if no clock from 8 kHz audio to 90 kHz video explains it.
RESET_CLOCK_RANGE_HZ = (8000, 90000)


def analysis_clock_hz(payload_type: int, encoding: str | None, rtpmap_rate: int) -> int:
    """The clock Wireshark's analysis uses for one packet; 0 means "no jitter".

    Static types use the fixed table whatever the SDP says; a dynamic type needs an rtpmap
    (``encoding``), and telephone-event never counts (RFC 4733 2.2.1).
    """
    if payload_type < FIRST_DYNAMIC_PT:
        return STATIC_CLOCK_HZ.get(payload_type, 0)
    if encoding is None:
        return 0
    if encoding.lower().startswith("telephone-event"):
        return 0
    if rtpmap_rate:
        return rtpmap_rate
    lowered = encoding.lower()
    for name in sorted(DYNAMIC_CLOCK_HZ, key=len, reverse=True):
        if lowered.startswith(name.lower()):
            return DYNAMIC_CLOCK_HZ[name]
    return 0


def relative_ms(rel_ns: int) -> float:
    """Milliseconds as Wireshark's nstime_to_msec computes them (seconds and nanoseconds
    converted separately, both with the sign of the whole)."""
    secs = abs(rel_ns) // 1_000_000_000
    nsecs = abs(rel_ns) - secs * 1_000_000_000
    if rel_ns < 0:
        return -secs * 1000.0 + -nsecs / 1000000.0
    return secs * 1000.0 + nsecs / 1000000.0


def _per_ms(timestamp_diff: int, ticks_per_ms: int) -> float:
    # C's double division: a clock under 1 kHz gives ticks_per_ms 0 and an infinite gap.
    if ticks_per_ms:
        return timestamp_diff / ticks_per_ms
    if timestamp_diff:
        return math.copysign(math.inf, timestamp_diff)
    return math.nan


@dataclass(frozen=True, slots=True)
class TimestampReset:
    """A sender's RTP timestamp jumped while its sequence numbers went on (one event)."""

    frame: int
    time_ms: float  # since the capture's first frame, as the Wireshark columns count
    seq: int
    from_timestamp: int  # the previous packet's
    to_timestamp: int  # the new base


@dataclass(frozen=True, slots=True)
class StatsSummary:
    """The finished numbers of one stream."""

    packets: int
    lost: int
    lost_percent: float
    expected: int
    min_delta_ms: float
    mean_delta_ms: float
    max_delta_ms: float
    min_jitter_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    max_delta_frame: int
    problems: bool
    sequence_errors: int
    timestamp_errors: int  # ours: out of time sequence against the base of the packet's epoch
    lost_vs_highest_seq: int
    duplicates: int
    reordered: int
    dtx_periods: int
    dtx_ms: float
    markers: int
    payload_type_changes: int
    first_seq: int
    last_seq: int
    highest_ext_seq: int
    clock_rate: int
    out_of_time_packets: int = 0  # Wireshark's: against the stream's first timestamp
    timestamp_resets: tuple[TimestampReset, ...] = ()


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# Packets of streams as columns: frames, times_ms, seqs, tss, pts, markers, clocks.
PacketColumns = tuple[IntArray, FloatArray, IntArray, IntArray, IntArray, BoolArray, IntArray]

_T = TypeVar("_T")


def frozen_maker(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen, slotted dataclass ``cls`` taking every field
    positionally (defaults included) that fills the slots directly: a frozen dataclass's
    ``__init__`` goes through ``object.__setattr__`` field by field, several microseconds
    for a summary, and short calls make tens of thousands. Same instance, same equality."""
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__

    def make(*values: object) -> _T:
        instance = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(instance, value)
        return instance

    return make


_make_summary = frozen_maker(StatsSummary)
# A summary's fields as a tuple, in their order (StreamSummaries.values gives the same).
summary_values: Callable[[StatsSummary], tuple[Any, ...]] = attrgetter(
    *(f.name for f in fields(StatsSummary))
)


class StreamStats:
    """Feed a stream's packets in capture order (:meth:`add` or :meth:`add_many`); then
    read :meth:`summary`."""

    __slots__ = (
        "_epoch_ts",
        "_epoch_ts_errors",
        "_ext",
        "_last_ext",
        "_markers",
        "_prev_seq",
        "_prev_time",
        "_prev_ts",
        "_pt_changes",
        "_reset_clock",
        "_resets",
        "_steps",
        "_tally",
        "clock_rate",
        "cycles",
        "delta",
        "first_timestamp",
        "jitter",
        "last_nominal",
        "max_delta",
        "max_jitter",
        "max_nr",
        "mean_delta",
        "mean_jitter",
        "min_delta",
        "min_jitter",
        "problem",
        "pt",
        "seq_num",
        "sequence_errors",
        "start_seq",
        "stop_seq",
        "time",
        "timestamp_errors",
        "total_nr",
        "under",
    )

    def __init__(self) -> None:
        self.total_nr = 0
        self.time = 0.0
        self.last_nominal = 0.0
        self.delta = 0.0
        self.jitter = 0.0
        self.max_delta = 0.0
        self.min_delta = -1.0
        self.mean_delta = 0.0
        self.max_jitter = 0.0
        self.min_jitter = -1.0
        self.mean_jitter = 0.0
        self.start_seq = self.stop_seq = self.seq_num = 0
        self.first_timestamp = 0
        self.pt = 0
        self.cycles = 0
        self.under = False
        self.max_nr = 0
        self.clock_rate = 0
        self.problem = False
        self.sequence_errors = 0
        self.timestamp_errors = 0
        self._markers = 0
        self._pt_changes = 0
        self._prev_seq = 0
        self._prev_ts = 0
        self._prev_time = 0.0
        self._epoch_ts = 0
        self._epoch_ts_errors = 0
        self._reset_clock = 0
        # Made when first needed (most streams never have a reset or a chunk).
        self._resets: Sequence[TimestampReset] = ()
        self._last_ext = 0
        # Extended sequence numbers added one by one, not yet in _tally (at most _FOLD).
        self._ext = array("q")
        self._tally: SequenceTally | None = None
        # Timestamp step of consecutive sequence numbers -> how often (a dict: a Counter
        # costs microseconds to make, and short calls make tens of thousands).
        self._steps: dict[int, int] = {}

    # -- one packet (the reference) -------------------------------------------------------

    def add(
        self, frame: int, time_ms: float, seq: int, ts: int, pt: int, marker: bool, clock_hz: int
    ) -> None:
        """One packet: capture time in ms since the capture's first frame, RTP fields, and the
        clock from :func:`analysis_clock_hz` (0: no jitter)."""
        if marker:
            self._markers += 1
        if self.total_nr == 0:
            self._first_packet(time_ms, seq, ts, pt, clock_hz)
            return
        # Ours: extended sequence number and the timestamp step of consecutive numbers.
        if pt != self.pt:
            self._pt_changes += 1
        ext = self._last_ext + ((seq - self._prev_seq + 0x8000) & 0xFFFF) - 0x8000
        if ext - self._last_ext == 1:
            step = (ts - self._prev_ts) & 0xFFFFFFFF
            if 0 < step < 0x80000000:
                self._steps[step] = self._steps.get(step, 0) + 1
        if clock_hz:
            self._reset_clock = clock_hz
        if ext > self._last_ext:
            # _is_reset, written out for the known-clock case (this runs for every packet).
            reset_clock = self._reset_clock
            ts_step = ((ts - self._prev_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            gap_ms = time_ms - self._prev_time
            if (
                abs(ts_step * 1000.0 / reset_clock - gap_ms) > RESET_SLACK_MS
                if reset_clock
                else _is_reset(ts_step, gap_ms, 0)
            ):
                self._resets = [
                    *self._resets,
                    TimestampReset(frame, time_ms, seq, self._prev_ts, ts),
                ]
                self._epoch_ts = ts
        if (ts - self._epoch_ts) & 0xFFFFFFFF >= 0x80000000:
            self._epoch_ts_errors += 1
        self._ext.append(ext)
        if len(self._ext) >= _FOLD:
            self._fold()
        self._last_ext = ext
        self._prev_seq = seq
        self._prev_ts = ts
        self._prev_time = time_ms

        # "In time sequence": within 2^31 after the first packet's timestamp, wrap included.
        first_ts = self.first_timestamp
        if first_ts <= ts:
            in_time = ts - first_ts < 0x80000000
        else:
            in_time = (0xFFFFFFFF - first_ts) + ts < 0x80000000
        wrong_seq = False
        if not in_time:
            self.timestamp_errors += 1

        # Sequence cycles and errors: Wireshark's state machine (see the module docstring).
        start = self.start_seq
        if in_time and not self.under and (seq < start or (seq == 0 and self.stop_seq == 65535)):
            self.cycles += 1
            self.under = True
        elif in_time and self.under and seq > start:
            self.under = False
        last = self.seq_num
        if in_time and (last + 1 == seq or (last == 65535 and seq == 0)):
            self.seq_num = seq
        elif in_time and (last + 1 < seq or last - seq > 0xFF00):
            self.seq_num = seq
            wrong_seq = True
        elif last + 1 > seq:
            wrong_seq = True
        if wrong_seq:
            self.sequence_errors += 1

        is_cn = pt in (PT_CN, PT_CN_OLD)
        follows_cn = self.pt in (PT_CN, PT_CN_OLD)
        self.pt = pt

        current_jitter = 0.0
        if in_time:
            # Only packets in time sequence move delta, the expected arrival and the jitter.
            self.delta = time_ms - self.time
            if clock_hz:
                self.clock_rate = clock_hz
                nominal = _per_ms((ts - first_ts) & 0xFFFFFFFF, clock_hz // 1000)
                expected = self.time + (nominal - self.last_nominal)
                current_jitter = (15 * self.jitter + abs(time_ms - expected)) / 16
                self.jitter = current_jitter
                self.last_nominal = nominal

        if not (marker or is_cn or follows_cn or not in_time):
            delta = self.delta
            if delta > self.max_delta:
                self.max_delta = delta
                self.max_nr = frame
            if self.min_delta == -1 or delta < self.min_delta:
                self.min_delta = delta
            n = self.total_nr
            self.mean_delta = (self.mean_delta * (n - 1) + delta) / n
            if clock_hz:
                if self.jitter > self.max_jitter:
                    self.max_jitter = self.jitter
                self.mean_jitter = (self.mean_jitter * (n - 1) + current_jitter) / n
                if self.min_jitter == -1 or self.jitter < self.min_jitter:
                    self.min_jitter = self.jitter
        if in_time:
            self.time = time_ms
        else:
            self.problem = True
        if wrong_seq:
            self.problem = True
        self.stop_seq = seq
        self.total_nr += 1

    def _first_packet(self, time_ms: float, seq: int, ts: int, pt: int, clock_hz: int) -> None:
        self.start_seq = self.stop_seq = self.seq_num = seq
        self.time = time_ms
        self.first_timestamp = ts
        self.last_nominal = 0.0
        self.delta = 0.0
        self.pt = pt
        self.total_nr = 1
        if clock_hz:
            self._reset_clock = clock_hz
        self._last_ext = 0x10000 + seq  # one cycle up: early reordering stays positive
        self._ext.append(self._last_ext)
        self._prev_seq = seq
        self._prev_ts = ts
        self._prev_time = time_ms
        self._epoch_ts = ts

    # -- many packets (the fast path) -----------------------------------------------------

    def add_many(
        self,
        frames: IntArray,
        times_ms: FloatArray,
        seqs: IntArray,
        tss: IntArray,
        pts: IntArray,
        markers: BoolArray,
        clocks: IntArray,
    ) -> None:
        """The stream's next packets as arrays (int64/float64/bool): the same result as
        calling :meth:`add` for each, in order."""
        count = len(seqs)
        if count == 0:
            return
        if count <= SMALL_BATCH:
            # A handful of packets (short calls: thousands of streams of a few packets each):
            # NumPy's per-call cost exceeds the work; the per-packet path gives the same result.
            for packet in zip(
                frames.tolist(),
                times_ms.tolist(),
                seqs.tolist(),
                tss.tolist(),
                pts.tolist(),
                markers.tolist(),
                clocks.tolist(),
                strict=True,
            ):
                self.add(*packet)
            return
        self._markers += int(np.count_nonzero(markers))
        if self.total_nr == 0:
            self._first_packet(
                float(times_ms[0]), int(seqs[0]), int(tss[0]), int(pts[0]), int(clocks[0])
            )
            if count == 1:
                return
            frames, times_ms, seqs, tss = frames[1:], times_ms[1:], seqs[1:], tss[1:]
            pts, markers, clocks = pts[1:], markers[1:], clocks[1:]
            count -= 1
        if np.any((clocks > 0) & (clocks < 1000)):
            # A clock under 1 kHz divides by zero in Wireshark's formula: the reference path
            # reproduces C's infinities; such streams are rare enough to take it.
            for i in range(count):
                self.add(
                    int(frames[i]),
                    float(times_ms[i]),
                    int(seqs[i]),
                    int(tss[i]),
                    int(pts[i]),
                    bool(markers[i]),
                    int(clocks[i]),
                )
            self._markers -= int(np.count_nonzero(markers))
            return

        # Ours.
        prev_seqs = np.concatenate(([self._prev_seq], seqs[:-1]))
        prev_tss = np.concatenate(([self._prev_ts], tss[:-1]))
        prev_pts = np.concatenate(([self.pt], pts[:-1]))
        self._pt_changes += int(np.count_nonzero(pts != prev_pts))
        ext_steps = ((seqs - prev_seqs + 0x8000) & 0xFFFF) - 0x8000
        ext = self._last_ext + np.cumsum(ext_steps)
        ts_steps = (tss - prev_tss) & 0xFFFFFFFF
        consecutive = (ext_steps == 1) & (ts_steps > 0) & (ts_steps < 0x80000000)
        if consecutive.any():
            values, counts = np.unique(ts_steps[consecutive], return_counts=True)
            for value, n in zip(values.tolist(), counts.tolist(), strict=True):
                self._steps[value] = self._steps.get(value, 0) + n
        # Numbers added one by one before this chunk go first: the order of arrival decides
        # what counts as reordered.
        self._fold().add(ext)
        self._epochs(frames, times_ms, seqs, tss, clocks, ext_steps, ts_steps)
        self._last_ext = int(ext[-1])
        self._prev_seq = int(seqs[-1])
        self._prev_ts = int(tss[-1])
        self._prev_time = float(times_ms[-1])

        # In time sequence (see add()).
        first_ts = self.first_timestamp
        in_time = np.where(
            tss >= first_ts,
            tss - first_ts < 0x80000000,
            (0xFFFFFFFF - first_ts) + tss < 0x80000000,
        )
        not_in_time = int(count - np.count_nonzero(in_time))
        self.timestamp_errors += not_in_time

        # Cycles: low/high events of in-time packets drive the "under" flag.
        stops = np.concatenate(([self.stop_seq], seqs[:-1]))
        start = self.start_seq
        low = in_time & ((seqs < start) | ((seqs == 0) & (stops == 65535)))
        high = in_time & (seqs > start)
        events = low | high
        if events.any():
            states = low[events]
            before = np.concatenate(([self.under], states[:-1]))
            self.cycles += int(np.count_nonzero(states & ~before))
            self.under = bool(states[-1])

        wrong = self._sequence_errors(seqs, in_time)
        errors = int(np.count_nonzero(wrong))
        self.sequence_errors += errors
        if errors or not_in_time:
            self.problem = True

        # Delta: to the last in-time packet before each packet.
        index = np.arange(count)
        last_in_time = np.maximum.accumulate(np.where(in_time, index, -1))
        before_in_time = np.concatenate(([-1], last_in_time[:-1]))
        time_before = np.where(
            before_in_time >= 0, times_ms[np.maximum(before_in_time, 0)], self.time
        )
        deltas = times_ms - time_before

        is_cn = (pts == PT_CN) | (pts == PT_CN_OLD)
        follows_cn = (prev_pts == PT_CN) | (prev_pts == PT_CN_OLD)
        regular = in_time & ~markers & ~is_cn & ~follows_cn
        ns = self.total_nr + index  # total_nr when each packet is processed

        # Jitter over in-time packets with a clock, in order.
        jit = in_time & (clocks > 0)
        jitter_after = np.full(count, np.nan)
        if jit.any():
            rows = np.flatnonzero(jit)
            nominal = ((tss[rows] - first_ts) & 0xFFFFFFFF) / (clocks[rows] // 1000)
            last_nominal = np.concatenate(([self.last_nominal], nominal[:-1]))
            expected = time_before[rows] + (nominal - last_nominal)
            series = _jitter_series(self.jitter, np.abs(times_ms[rows] - expected))
            jitter_after[rows] = series
            self.jitter = float(series[-1])
            self.last_nominal = float(nominal[-1])
            self.clock_rate = int(clocks[rows[-1]])

        if regular.any():
            rows = np.flatnonzero(regular)
            self._delta_stats(deltas[rows], ns[rows], frames[rows])
            jit_rows = rows[clocks[rows] > 0]
            if len(jit_rows):
                self._jitter_stats(jitter_after[jit_rows], ns[jit_rows])

        in_time_rows = np.flatnonzero(in_time)
        if len(in_time_rows):
            self.time = float(times_ms[in_time_rows[-1]])
            self.delta = float(deltas[in_time_rows[-1]])
        self.pt = int(pts[-1])
        self.stop_seq = int(seqs[-1])
        self.total_nr += count

    def _epochs(
        self,
        frames: IntArray,
        times_ms: FloatArray,
        seqs: IntArray,
        tss: IntArray,
        clocks: IntArray,
        ext_steps: IntArray,
        ts_steps: IntArray,
    ) -> None:
        """Timestamp resets and the epoch-relative timestamp errors of a batch (as add());
        ``ts_steps`` are the timestamp steps from each packet's predecessor, mod 2^32."""
        count = len(tss)
        known = clocks > 0
        if known.all():  # the usual case: every packet has its clock
            clock = clocks
            self._reset_clock = int(clocks[-1])
        else:
            # The clock each packet is judged on: its own, else the last known before it.
            index = np.arange(count)
            last_known = np.maximum.accumulate(np.where(known, index, -1))
            clock = np.where(last_known >= 0, clocks[np.maximum(last_known, 0)], self._reset_clock)
            self._reset_clock = int(clock[-1])
        gaps = np.diff(times_ms, prepend=self._prev_time)
        signed = np.where(ts_steps >= 0x80000000, ts_steps - 0x100000000, ts_steps)
        resets = _is_reset_many(signed, gaps, clock) & (ext_steps > 0)
        rows = np.flatnonzero(resets).tolist()
        if not rows:
            base: IntArray | int = self._epoch_ts
        else:
            self._resets = [
                *self._resets,
                *(
                    TimestampReset(
                        int(frames[row]),
                        float(times_ms[row]),
                        int(seqs[row]),
                        (int(tss[row]) - int(signed[row])) & 0xFFFFFFFF,
                        int(tss[row]),
                    )
                    for row in rows
                ),
            ]
            latest = np.maximum.accumulate(np.where(resets, np.arange(count), -1))
            base = np.where(latest >= 0, tss[np.maximum(latest, 0)], self._epoch_ts)
            self._epoch_ts = int(tss[rows[-1]])
        self._epoch_ts_errors += int(np.count_nonzero(((tss - base) & 0xFFFFFFFF) >= 0x80000000))

    def _sequence_errors(self, seqs: IntArray, in_time: BoolArray) -> BoolArray:
        """Wireshark's sequence checks; a packet that simply follows an accepted one is
        decided without the loop."""
        count = len(seqs)
        wrong = np.zeros(count, dtype=bool)
        follows = np.zeros(count, dtype=bool)
        follows[1:] = in_time[1:] & (seqs[1:] == ((seqs[:-1] + 1) & 0xFFFF))
        irregular = np.flatnonzero(~follows).tolist()
        irregular.append(count)
        seq_list = seqs.tolist()
        in_time_list = in_time.tolist()
        last = self.seq_num
        i = 0
        position = 0  # index into ``irregular`` of the next irregular packet >= i
        accepted = False
        while i < count:
            if follows[i] and accepted:
                while irregular[position] <= i:
                    position += 1
                i = irregular[position]
                last = seq_list[i - 1]
                continue
            s = seq_list[i]
            if in_time_list[i] and (last + 1 == s or (last == 65535 and s == 0)):
                last = s
                accepted = True
            elif in_time_list[i] and (last + 1 < s or last - s > 0xFF00):
                last = s
                accepted = True
                wrong[i] = True
            else:
                accepted = False
                if last + 1 > s:
                    wrong[i] = True
            i += 1
        self.seq_num = last
        return wrong

    def _delta_stats(self, deltas: FloatArray, ns: IntArray, frames: IntArray) -> None:
        top = int(np.argmax(deltas))
        if deltas[top] > self.max_delta:
            self.max_delta = float(deltas[top])
            self.max_nr = int(frames[top])
        low = float(deltas.min())
        if self.min_delta == -1 or low < self.min_delta:
            self.min_delta = low
        self.mean_delta = _running_mean(self.mean_delta, deltas, ns)

    def _jitter_stats(self, jitters: FloatArray, ns: IntArray) -> None:
        top = float(jitters.max())
        if top > self.max_jitter:
            self.max_jitter = top
        low = float(jitters.min())
        if self.min_jitter == -1 or low < self.min_jitter:
            self.min_jitter = low
        self.mean_jitter = _running_mean(self.mean_jitter, jitters, ns)

    def _fold(self) -> SequenceTally:
        """The tally, with the numbers added one by one since the last fold in it (in
        arrival order, before whatever comes next)."""
        tally = self._tally
        if tally is None:
            tally = self._tally = SequenceTally()
        if self._ext:
            tally.add(np.frombuffer(self._ext, dtype=np.int64))
            self._ext = array("q")
        return tally

    # -- results ------------------------------------------------------------------------

    def _own_summary(self) -> tuple[int, int, int, int, float, int]:
        """(lost vs highest, duplicates, reordered, DTX periods, DTX ms, highest ext)."""
        ext = self._ext
        if self._tally is None and len(ext) <= _SMALL_SUMMARY:
            if not ext:
                return 0, 0, 0, 0, 0.0, 0
            highest = ext[-1]
            if all(map(lt, ext, ext[1:])):
                # Rising numbers (the usual short stream): no duplicate, none late.
                lost, duplicates, reordered = highest - ext[0] + 1 - len(ext), 0, 0
            else:
                lost, duplicates, reordered, highest = _sequence_counts(ext)
        else:
            lost, duplicates, reordered, highest = self._fold().counts()
        dtx_periods, dtx_ms = _dtx(self._steps, self.clock_rate)
        return lost, duplicates, reordered, dtx_periods, dtx_ms, highest

    def summary(self) -> StatsSummary:
        if self.total_nr == 0:
            raise ValueError("a stream without packets has no statistics")
        expected = (self.stop_seq + self.cycles * 65536) - self.start_seq + 1
        lost = expected - self.total_nr
        percent = lost * 100.0 / expected if expected else 0.0
        lost_vs_highest, duplicates, reordered, dtx_periods, dtx_ms, highest = self._own_summary()
        # Positional, in the fields' order (thousands of short streams: see frozen_maker).
        return _make_summary(
            self.total_nr,  # packets
            lost,
            percent,  # lost_percent
            expected,
            self.min_delta,  # min_delta_ms
            self.mean_delta,
            self.max_delta,
            self.min_jitter,  # min_jitter_ms
            self.mean_jitter,
            self.max_jitter,
            self.max_nr,  # max_delta_frame
            self.problem,  # problems
            self.sequence_errors,
            self._epoch_ts_errors,  # timestamp_errors
            lost_vs_highest,  # lost_vs_highest_seq
            duplicates,
            reordered,
            dtx_periods,
            dtx_ms,
            self._markers,  # markers
            self._pt_changes,  # payload_type_changes
            self.start_seq,  # first_seq
            self.stop_seq,  # last_seq
            highest,  # highest_ext_seq
            self.clock_rate,
            self.timestamp_errors,  # out_of_time_packets
            tuple(self._resets),  # timestamp_resets
        )


class _NewTable(NamedTuple):
    """The (stream, k) table of :func:`add_new_streams`: each stream's packets as a row
    (``sizes`` of them valid), and the state add() would leave after its last one."""

    sizes: npt.NDArray[Any]
    width: int
    frame: npt.NDArray[Any]
    time: npt.NDArray[Any]
    seq: npt.NDArray[Any]
    ts: npt.NDArray[Any]
    pt: npt.NDArray[Any]
    mark: npt.NDArray[Any]
    later: npt.NDArray[Any]
    ext: npt.NDArray[Any]
    ts_steps: npt.NDArray[Any]
    consecutive: npt.NDArray[Any]
    reset_clock: npt.NDArray[Any]
    resets: npt.NDArray[Any]
    epoch: npt.NDArray[Any]
    epoch_errors: npt.NDArray[Any]
    in_time: npt.NDArray[Any]
    start_seq: npt.NDArray[Any]
    seq_num: npt.NDArray[Any]
    under: npt.NDArray[Any]
    cycles: npt.NDArray[Any]
    seq_errors: npt.NDArray[Any]
    problem: npt.NDArray[Any]
    last_time: npt.NDArray[Any]
    last_nominal: npt.NDArray[Any]
    delta: npt.NDArray[Any]
    jitter: npt.NDArray[Any]
    clock_rate: npt.NDArray[Any]
    max_delta: npt.NDArray[Any]
    max_nr: npt.NDArray[Any]
    min_delta: npt.NDArray[Any]
    mean_delta: npt.NDArray[Any]
    max_jitter: npt.NDArray[Any]
    min_jitter: npt.NDArray[Any]
    mean_jitter: npt.NDArray[Any]


def _new_table(
    bounds: list[int],
    columns: PacketColumns,
) -> _NewTable:
    """The recurrences of :meth:`StreamStats.add` for the first packets of many streams,
    "k-th packet of every stream at once" (see :func:`add_new_streams`)."""
    count = len(bounds) - 1
    starts = np.array(bounds[:-1], dtype=np.int64)
    sizes = np.diff(np.array(bounds, dtype=np.int64))
    width = int(sizes.max())
    column = np.arange(width)
    valid = column[None, :] < sizes[:, None]
    at = np.minimum(starts[:, None] + column[None, :], bounds[-1] - 1)
    frame, time, seq, ts, pt, mark, clock = (values[at] for values in columns)
    mark = mark & valid
    later = valid[:, 1:]  # every packet but the first of each stream

    # Ours: extended sequence numbers, timestamp steps of consecutive numbers, resets.
    ext_steps = ((seq[:, 1:] - seq[:, :-1] + 0x8000) & 0xFFFF) - 0x8000
    ext = np.concatenate(
        ((0x10000 + seq[:, :1]), 0x10000 + seq[:, :1] + np.cumsum(ext_steps, axis=1)), axis=1
    )
    ts_steps = (ts[:, 1:] - ts[:, :-1]) & 0xFFFFFFFF
    consecutive = later & (ext_steps == 1) & (ts_steps > 0) & (ts_steps < 0x80000000)
    known = clock > 0  # the clock a packet is judged on: its own, else the last known
    if known.all():  # (the usual case: each its own, nothing to look back for)
        reset_clock = clock
    else:
        last_known = np.maximum.accumulate(np.where(known, column[None, :], -1), axis=1)
        reset_clock = np.where(
            last_known >= 0, np.take_along_axis(clock, np.maximum(last_known, 0), axis=1), 0
        )
    signed = np.where(ts_steps >= 0x80000000, ts_steps - 0x100000000, ts_steps)
    gaps = time[:, 1:] - time[:, :-1]
    judge = reset_clock[:, 1:]
    by_clock = np.abs(signed * 1000.0 / np.maximum(judge, 1) - gaps) > RESET_SLACK_MS
    with_judge = judge > 0
    if not with_judge.all():
        by_clock = np.where(
            with_judge, by_clock, _is_reset_many(signed, gaps, np.zeros_like(judge))
        )
    resets = later & (ext_steps > 0) & by_clock
    if resets.any():
        latest = np.maximum.accumulate(np.where(resets, column[None, 1:], 0), axis=1)
        epoch = np.take_along_axis(ts, latest, axis=1)
    else:  # every packet's epoch is the stream's first timestamp
        epoch = np.repeat(ts[:, :1], width - 1, axis=1)
    epoch_errors = later & (((ts[:, 1:] - epoch) & 0xFFFFFFFF) >= 0x80000000)

    # Wireshark's: in time sequence, relative to the first packet's timestamp.
    first_ts = ts[:, :1]
    in_time = np.where(
        first_ts <= ts, ts - first_ts < 0x80000000, (0xFFFFFFFF - first_ts) + ts < 0x80000000
    )
    is_cn = (pt == PT_CN) | (pt == PT_CN_OLD)

    # The recurrences, packet k of every stream at once.
    start_seq = seq[:, 0]
    seq_num = start_seq.copy()
    under = np.zeros(count, dtype=bool)
    cycles = np.zeros(count, dtype=np.int64)
    seq_errors = np.zeros(count, dtype=np.int64)
    problem = np.zeros(count, dtype=bool)
    last_time = time[:, 0].copy()
    last_nominal = np.zeros(count)
    delta = np.zeros(count)
    jitter = np.zeros(count)
    clock_rate = np.zeros(count, dtype=np.int64)
    max_delta = np.zeros(count)
    max_nr = np.zeros(count, dtype=np.int64)
    min_delta = np.full(count, -1.0)
    mean_delta = np.zeros(count)
    max_jitter = np.zeros(count)
    min_jitter = np.full(count, -1.0)
    mean_jitter = np.zeros(count)
    # Every later packet in time sequence and one number above the one before it (no wrap:
    # the usual short stream): the state machines below leave no cycle, no error, no
    # problem and the last number, so they are not run.
    plain = bool(np.all(~later | ((seq[:, 1:] - seq[:, :-1] == 1) & in_time[:, 1:])))
    for k in range(1, width):
        act = valid[:, k]
        s, t, c, ok = seq[:, k], time[:, k], clock[:, k], in_time[:, k] & act
        if not plain:
            # Cycles (the "under" flag) and sequence errors: Wireshark's state machines.
            low = ok & ~under & ((s < start_seq) | ((s == 0) & (seq[:, k - 1] == 65535)))
            high = ok & under & (s > start_seq) & ~low
            cycles += low
            under = (under | low) & ~high
            follows = ok & ((seq_num + 1 == s) | ((seq_num == 65535) & (s == 0)))
            jumps = ok & ~follows & ((seq_num + 1 < s) | (seq_num - s > 0xFF00))
            behind = act & ~follows & ~jumps & (seq_num + 1 > s)
            wrong = jumps | behind
            seq_num = np.where(follows | jumps, s, seq_num)
            seq_errors += wrong
            problem |= wrong | (act & ~in_time[:, k])
        # Delta and jitter of packets in time sequence (RFC 3550 6.4.1).
        delta = np.where(ok, t - last_time, delta)
        with_clock = ok & (c > 0)
        clock_rate = np.where(with_clock, c, clock_rate)
        nominal = ((ts[:, k] - first_ts[:, 0]) & 0xFFFFFFFF) / np.maximum(c // 1000, 1)
        expected = last_time + (nominal - last_nominal)
        current = np.where(with_clock, (15 * jitter + np.abs(t - expected)) / 16, 0.0)
        jitter = np.where(with_clock, current, jitter)
        last_nominal = np.where(with_clock, nominal, last_nominal)
        counted = ok & ~mark[:, k] & ~is_cn[:, k] & ~is_cn[:, k - 1]
        higher = counted & (delta > max_delta)
        max_delta = np.where(higher, delta, max_delta)
        max_nr = np.where(higher, frame[:, k], max_nr)
        min_delta = np.where(counted & ((min_delta == -1) | (delta < min_delta)), delta, min_delta)
        mean_delta = np.where(counted, (mean_delta * (k - 1) + delta) / k, mean_delta)
        counted &= c > 0
        max_jitter = np.where(counted & (jitter > max_jitter), jitter, max_jitter)
        mean_jitter = np.where(counted, (mean_jitter * (k - 1) + current) / k, mean_jitter)
        min_jitter = np.where(
            counted & ((min_jitter == -1) | (jitter < min_jitter)), jitter, min_jitter
        )
        last_time = np.where(ok, t, last_time)
    if plain:
        seq_num = seq[np.arange(count), sizes - 1]

    return _NewTable(
        sizes,
        width,
        frame,
        time,
        seq,
        ts,
        pt,
        mark,
        later,
        ext,
        ts_steps,
        consecutive,
        reset_clock,
        resets,
        epoch,
        epoch_errors,
        in_time,
        start_seq,
        seq_num,
        under,
        cycles,
        seq_errors,
        problem,
        last_time,
        last_nominal,
        delta,
        jitter,
        clock_rate,
        max_delta,
        max_nr,
        min_delta,
        mean_delta,
        max_jitter,
        min_jitter,
        mean_jitter,
    )


def add_new_streams(
    streams: list[StreamStats],
    bounds: list[int],
    columns: PacketColumns,
) -> None:
    """The first packets of many streams at once: rows ``bounds[i]:bounds[i + 1]`` (at
    least one) of ``columns`` (frames, times_ms, seqs, tss, pts, markers, clocks as
    :meth:`StreamStats.add_many` takes them) are all that ``streams[i]`` (without packets
    yet) is given. The same
    result as :meth:`StreamStats.add` for each packet, in order: the recurrences run "k-th
    packet of every stream at once" over a (stream, k) table, with the same floating-point
    operations in the same order. For capture of short calls (thousands of streams of ten
    packets), where :meth:`StreamStats.add` per packet would be most of the cost. A clock
    under 1 kHz (C's division by zero, see :meth:`StreamStats.add_many`) is not taken here.
    """
    t = _new_table(bounds, columns)
    sizes, width, ext, ts, seq, time = t.sizes, t.width, t.ext, t.ts, t.seq, t.time
    count = len(streams)
    rows = np.arange(count)
    # Back into each stream's state, as add() leaves it.
    last = sizes - 1
    steps: list[dict[int, int]] = [{} for _ in streams]
    step_rows, step_columns = np.nonzero(t.consecutive)
    if len(step_rows):
        pairs, pair_counts = np.unique(
            step_rows * 0x100000000 + t.ts_steps[step_rows, step_columns], return_counts=True
        )
        for pair, n in zip(pairs.tolist(), pair_counts.tolist(), strict=True):
            steps[pair >> 32][pair & 0xFFFFFFFF] = n
    no_resets: Sequence[TimestampReset] = ()
    resets_of = [no_resets] * count
    for i, found in _resets_of(t).items():
        resets_of[i] = found
    # Each stream's extended numbers go to its array("q") as bytes (no int objects).
    ext_bytes = memoryview(ext.astype(np.int64, copy=False).tobytes())
    row_bytes = 8 * width
    values = zip(
        streams,
        sizes.tolist(),
        ext[rows, last].tolist(),
        seq[rows, last].tolist(),
        ts[rows, last].tolist(),
        t.pt[rows, last].tolist(),
        time[rows, last].tolist(),
        t.reset_clock[rows, last].tolist(),
        _epoch_ts(t).tolist(),
        t.start_seq.tolist(),
        ts[:, 0].tolist(),
        *(column.tolist() for column in _counts(t)),
        t.seq_num.tolist(),
        t.under.tolist(),
        t.cycles.tolist(),
        t.seq_errors.tolist(),
        t.problem.tolist(),
        steps,
        resets_of,
        strict=True,
    )
    floats = zip(
        t.last_time.tolist(),
        t.last_nominal.tolist(),
        t.delta.tolist(),
        t.jitter.tolist(),
        t.max_delta.tolist(),
        t.min_delta.tolist(),
        t.mean_delta.tolist(),
        t.max_jitter.tolist(),
        t.min_jitter.tolist(),
        t.mean_jitter.tolist(),
        t.max_nr.tolist(),
        t.clock_rate.tolist(),
        strict=True,
    )
    at = 0
    for (
        (
            st,
            n,
            last_ext,
            *ends,
            epoch_at,
            first_seq,
            first_ts_value,
            markers_n,
            pt_changes,
            out_of_time,
            epoch_errors_n,
            seq_num_n,
            under_n,
            cycles_n,
            errors_n,
            problem_n,
            steps_n,
            resets_n,
        ),
        (
            time_n,
            nominal_n,
            delta_n,
            jitter_n,
            max_d,
            min_d,
            mean_d,
            max_j,
            min_j,
            mean_j,
            max_nr_n,
            clock_n,
        ),
    ) in zip(values, floats, strict=True):
        last_seq, last_ts, last_pt, last_packet_time, reset_clock_n = ends
        st.total_nr = n
        st.time = time_n
        st.last_nominal = nominal_n
        st.delta = delta_n
        st.jitter = jitter_n
        st.max_delta = max_d
        st.min_delta = min_d
        st.mean_delta = mean_d
        st.max_jitter = max_j
        st.min_jitter = min_j
        st.mean_jitter = mean_j
        st.max_nr = max_nr_n
        st.clock_rate = clock_n
        st.start_seq = first_seq
        st.stop_seq = last_seq
        st.seq_num = seq_num_n
        st.first_timestamp = first_ts_value
        st.pt = last_pt
        st.cycles = cycles_n
        st.under = under_n
        st.problem = problem_n
        st.sequence_errors = errors_n
        st.timestamp_errors = out_of_time
        st._markers = markers_n
        st._pt_changes = pt_changes
        st._prev_seq = last_seq
        st._prev_ts = last_ts
        st._prev_time = last_packet_time
        st._epoch_ts = epoch_at
        st._epoch_ts_errors = epoch_errors_n
        st._reset_clock = reset_clock_n
        st._resets = resets_n
        st._last_ext = last_ext
        numbers = array("q")
        numbers.frombytes(ext_bytes[at : at + 8 * n])
        st._ext = numbers
        at += row_bytes
        st._steps = steps_n


def _resets_of(t: _NewTable) -> dict[int, list[TimestampReset]]:
    """The timestamp resets (as add() lists them) of the streams that have any."""
    found: dict[int, list[TimestampReset]] = {}
    frame, time, seq, ts = t.frame, t.time, t.seq, t.ts
    for i, j in zip(*(side.tolist() for side in np.nonzero(t.resets)), strict=True):
        found.setdefault(i, []).append(
            TimestampReset(
                int(frame[i, j + 1]),
                float(time[i, j + 1]),
                int(seq[i, j + 1]),
                int(ts[i, j]),
                int(ts[i, j + 1]),
            )
        )
    return found


def _epoch_ts(t: _NewTable) -> IntArray:
    """Each stream's epoch base after its last packet (its first timestamp: no reset)."""
    if t.width == 1:
        first: IntArray = t.ts[:, 0]
        return first
    prior = np.maximum(t.sizes - 2, 0)  # the last packet's column among the later ones
    based: IntArray = np.where(t.sizes > 1, t.epoch[np.arange(len(t.sizes)), prior], t.ts[:, 0])
    return based


def _counts(t: _NewTable) -> tuple[IntArray, ...]:
    """Per stream: markers, payload type changes, packets out of Wireshark's time sequence,
    packets behind their epoch's base (the counters add() keeps)."""
    later = t.later
    return (
        t.mark.sum(axis=1),
        (later & (t.pt[:, 1:] != t.pt[:, :-1])).sum(axis=1),
        (later & ~t.in_time[:, 1:]).sum(axis=1),
        t.epoch_errors.sum(axis=1),
    )


class StreamSummaries:
    """The finished numbers of many streams as columns (NumPy, 26 numbers a stream): a
    :class:`StatsSummary` is made only when one is read (:meth:`summary`). What
    :func:`summarize_new_streams` gives; :meth:`pending` gives the same numbers computed
    when first read (a call list reads only packets and lost: :meth:`packets_lost`)."""

    __slots__ = ("_counts", "_floats", "_ints", "_pairs", "_resets", "_rows")

    def __init__(
        self, ints: IntArray, floats: FloatArray, resets: dict[int, tuple[TimestampReset, ...]]
    ) -> None:
        self._ints = ints  # (stream, field), a stream's numbers together: see summary()
        self._floats = floats
        self._resets = resets
        self._counts: list[list[int]] | None = None
        self._pairs: IntArray | None = None  # pending(): packets and lost, a row a stream
        # pending(): the packets (bounds, columns as summarize_new_streams takes them, the
        # narrow ones narrowed) until the numbers are first read; None once they are made.
        self._rows: tuple[list[int], tuple[npt.NDArray[Any], ...]] | None = None

    @classmethod
    def pending(cls, bounds: list[int], columns: PacketColumns) -> StreamSummaries:
        """:func:`summarize_new_streams` of these streams, run when a number other than
        packets and lost is first read; those two (:meth:`packets_lost`) come now from the
        sequence numbers alone where no sequence cycle can have been counted (every later
        number at or above the first, none a 65535 to 0 wrap), from the summaries of the
        other streams (a few) otherwise."""
        frames, times, seqs, tss, pts, markers, clocks = columns
        made = cls(_NO_INTS, _NO_FLOATS, {})
        made._pairs = _packets_lost(bounds, seqs, columns)
        # Sequence numbers, timestamps and payload types kept in their own widths, frame
        # numbers and clocks in 32 bits when they fit (exact either way).
        made._rows = (
            bounds,
            (
                _narrow(frames),
                times,
                seqs.astype(np.uint16),
                tss.astype(np.uint32),
                pts.astype(np.uint8),
                markers,
                _narrow(clocks),
            ),
        )
        return made

    def _numbers(self) -> tuple[IntArray, FloatArray, dict[int, tuple[TimestampReset, ...]]]:
        """The columns of numbers, made now if they wait (:meth:`pending`)."""
        waiting = self._rows
        if waiting is not None:
            bounds, (frames, times, seqs, tss, pts, markers, clocks) = waiting
            widen = np.int64
            done = summarize_new_streams(
                bounds,
                (
                    frames.astype(widen),
                    times,
                    seqs.astype(widen),
                    tss.astype(widen),
                    pts.astype(widen),
                    markers,
                    clocks.astype(widen),
                ),
            )
            self._ints, self._floats, self._resets = done._ints, done._floats, done._resets
            self._rows = None
        return self._ints, self._floats, self._resets

    def __len__(self) -> int:
        waiting = self._rows
        if waiting is not None:
            return len(waiting[0]) - 1
        return int(self._ints.shape[0])

    def packets_lost(self, index: int) -> tuple[int, int]:
        """``summary(index)``'s packets and lost, without making the summary (a call list
        reads only these two): every stream's pair converted at the first read."""
        counts = self._counts
        if counts is None:
            pairs = self._pairs
            counts = self._counts = (self._numbers()[0] if pairs is None else pairs)[:, :2].tolist()
            self._pairs = None
        packets, lost = counts[index]
        return packets, lost

    def summary(self, index: int) -> StatsSummary:
        return _make_summary(*self.values(index))

    def columns_of(self, indexes: list[int]) -> tuple[list[list[Any]], FloatArray]:
        """:meth:`values` of many streams as columns (a field's values in a list, in
        :meth:`values`' order), and their float fields as they give them (lost percent,
        min/mean/max delta, min/mean/max jitter, DTX ms), a row each."""
        every_int, every_float, resets = self._numbers()
        ints = every_int[indexes]
        floats = every_float[indexes]
        floats[:, 7] = np.where(floats[:, 7] == 0, 0.0, floats[:, 7])  # values()'s ``or 0.0``
        i = ints.T.tolist()
        f = floats.T.tolist()
        found = [resets.get(index, ()) for index in indexes] if resets else [()] * len(indexes)
        columns = [
            *i[0:2],
            f[0],
            i[2],
            *f[1:7],
            i[3],
            (ints[:, 4] != 0).tolist(),
            *i[5:11],
            f[7],
            *i[11:18],
            found,
        ]
        return columns, floats

    def values(self, index: int) -> tuple[Any, ...]:
        """:meth:`summary`'s fields in their order (:data:`summary_values` of it), without
        the :class:`StatsSummary` (a stream's JSON row reads each once)."""
        # Rows of ``ints``: packets, lost, expected, max delta frame, problems, sequence
        # errors, timestamp errors, lost vs highest, duplicates, reordered, DTX periods,
        # markers, payload type changes, first seq, last seq, highest, clock, out of time;
        # of ``floats``: lost percent, min/mean/max delta, min/mean/max jitter, DTX ms.
        every_int, every_float, resets = self._numbers()
        i = every_int[index].tolist()
        f = every_float[index].tolist()
        return (
            *i[0:2],
            f[0],
            i[2],
            *f[1:7],
            i[3],
            bool(i[4]),
            *i[5:11],
            f[7] or 0.0,  # never negative; no DTX: the shared 0.0, as summary() gives it
            *i[11:18],
            resets.get(index, ()),
        )


_NO_INTS: IntArray = np.zeros((0, 18), dtype=np.int64)


def _narrow(values: IntArray) -> npt.NDArray[Any]:
    """``values`` in 32 bits when every one fits (as they are otherwise)."""
    if len(values) and int(values.min()) >= -(2**31) and int(values.max()) < 2**31:
        return values.astype(np.int32)
    return values


_NO_FLOATS: FloatArray = np.zeros((0, 8))


def _packets_lost(bounds: list[int], seqs: IntArray, columns: PacketColumns) -> IntArray:
    """[packets, lost] of each stream of :meth:`StreamSummaries.pending`: lost is expected
    (last number + 65536 * cycles - first + 1, tshark's) minus packets, with no cycle where
    no later number is below the first and none is 0 after 65535 (Wireshark's cycle count
    looks for nothing else); the summaries of the streams that have one give theirs."""
    edges = np.array(bounds, dtype=np.int64)
    starts = edges[:-1]
    sizes = np.diff(edges)
    before = np.empty(len(seqs), dtype=np.int64)
    before[1:] = seqs[:-1]
    odd = (seqs < np.repeat(seqs[starts], sizes)) | ((seqs == 0) & (before == 65535))
    odd[starts] = False  # a stream's first packet counts no cycle
    counts = np.stack((sizes, seqs[edges[1:] - 1] - seqs[starts] + 1 - sizes), axis=1)
    hard = np.flatnonzero(np.add.reduceat(odd, starts))
    if len(hard):
        lengths = sizes[hard]
        ends = np.cumsum(lengths)
        rows = np.repeat(starts[hard] - ends + lengths, lengths) + np.arange(ends[-1])
        frames, times, _, tss, pts, markers, clocks = columns
        done = summarize_new_streams(
            np.concatenate(([0], ends)).tolist(),
            (
                frames[rows],
                times[rows],
                seqs[rows],
                tss[rows],
                pts[rows],
                markers[rows],
                clocks[rows],
            ),
        )
        counts[hard] = done._ints[:, :2]
    return counts


def summarize_new_streams(
    bounds: list[int],
    columns: PacketColumns,
) -> StreamSummaries:
    """The summaries of streams whose every packet is given here (rows ``bounds[i]:bounds[i
    + 1]`` of ``columns``, as :func:`add_new_streams` takes them), computed for all of them
    at once: the same numbers, bit for bit, as :meth:`StreamStats.add` packet by packet and
    :meth:`StreamStats.summary`, without a :class:`StreamStats` per stream (short calls:
    tens of thousands of streams of ten packets). The table is :func:`add_new_streams`'s;
    the few streams whose sequence numbers do not simply rise, or with more than one
    timestamp step (DTX), take the summary's own Python for those numbers. Streams go in
    blocks of similar sizes: the table is as wide as a block's longest stream, and blocks
    keep NumPy's temporaries small."""
    starts = np.array(bounds[:-1], dtype=np.int64)
    sizes = np.array(bounds[1:], dtype=np.int64) - starts
    order = np.argsort(sizes, kind="stable")
    ints: list[IntArray] = []
    floats: list[FloatArray] = []
    resets: dict[int, tuple[TimestampReset, ...]] = {}
    for first in range(0, len(order), _SUMMARY_BLOCK):
        streams = order[first : first + _SUMMARY_BLOCK]
        lengths = sizes[streams]
        ends = np.cumsum(lengths)
        rows = np.repeat(starts[streams] - ends + lengths, lengths) + np.arange(ends[-1])
        block = _summarize_block(
            np.concatenate(([0], ends)).tolist(),
            (
                columns[0][rows],
                columns[1][rows],
                columns[2][rows],
                columns[3][rows],
                columns[4][rows],
                columns[5][rows],
                columns[6][rows],
            ),
        )
        ints.append(block._ints)
        floats.append(block._floats)
        at = streams.tolist()
        resets.update((at[i], found) for i, found in block._resets.items())
    back = np.argsort(order)
    return StreamSummaries(np.concatenate(ints)[back], np.concatenate(floats)[back], resets)


def _summarize_block(
    bounds: list[int],
    columns: PacketColumns,
) -> StreamSummaries:
    """:func:`summarize_new_streams` of one block of streams."""
    t = _new_table(bounds, columns)
    sizes, ext, later = t.sizes, t.ext, t.later
    count = len(sizes)
    rows = np.arange(count)
    last = sizes - 1
    last_ext = ext[rows, last]
    expected = (t.seq[rows, last] + t.cycles * 65536) - t.start_seq + 1
    lost = expected - sizes
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.where(expected != 0, lost * 100.0 / expected, 0.0)
    # Ours: rising numbers (the usual short stream) count without Python.
    rising = np.all(~later | (ext[:, 1:] > ext[:, :-1]), axis=1)
    lost_vs_highest = last_ext - ext[:, 0] + 1 - sizes
    duplicates = np.zeros(count, dtype=np.int64)
    reordered = np.zeros(count, dtype=np.int64)
    highest = last_ext.copy()
    for i in np.flatnonzero(~rising).tolist():
        lost_vs_highest[i], duplicates[i], reordered[i], highest[i] = _sequence_counts(
            ext[i, : sizes[i]].tolist()
        )
    # DTX needs two timestamp steps at least: those streams count theirs in arrival order.
    consecutive, ts_steps = t.consecutive, t.ts_steps
    dtx_periods = np.zeros(count, dtype=np.int64)
    dtx_ms = np.zeros(count)
    if consecutive.size:
        top = np.where(consecutive, ts_steps, -1).max(axis=1)
        bottom = np.where(consecutive, ts_steps, 1 << 32).min(axis=1)
        for i in np.flatnonzero(consecutive.any(axis=1) & (top != bottom)).tolist():
            steps: dict[int, int] = {}
            for step in ts_steps[i][consecutive[i]].tolist():
                steps[step] = steps.get(step, 0) + 1
            dtx_periods[i], dtx_ms[i] = _dtx(steps, int(t.clock_rate[i]))
    markers, pt_changes, out_of_time, epoch_errors = _counts(t)
    ints = np.stack(
        (
            sizes,
            lost,
            expected,
            t.max_nr,
            t.problem,
            t.seq_errors,
            epoch_errors,
            lost_vs_highest,
            duplicates,
            reordered,
            dtx_periods,
            markers,
            pt_changes,
            t.start_seq,
            t.seq[rows, last],
            highest,
            t.clock_rate,
            out_of_time,
        ),
        axis=1,
    ).astype(np.int64)
    floats = np.stack(
        (
            percent,
            t.min_delta,
            t.mean_delta,
            t.max_delta,
            t.min_jitter,
            t.mean_jitter,
            t.max_jitter,
            dtx_ms,
        ),
        axis=1,
    )
    resets = {i: tuple(found) for i, found in _resets_of(t).items()}
    return StreamSummaries(ints, floats, resets)


def _dtx(steps: dict[int, int], clock_rate: int) -> tuple[int, float]:
    """DTX periods and their milliseconds from a stream's timestamp steps of consecutive
    numbers (module docstring), in the order the steps first came."""
    dtx_periods = 0
    dtx_ms = 0.0
    if len(steps) > 1:  # one step (or none): it is the packet time, no DTX
        # The most common step (the smallest of equals): the stream's packet time.
        normal = min(steps.items(), key=lambda item: (-item[1], item[0]))[0]
        for step, n in steps.items():
            if step >= 2 * normal:
                dtx_periods += n
                if clock_rate:
                    dtx_ms += (step - normal) * n * 1000.0 / clock_rate
    return dtx_periods, dtx_ms


def _sequence_counts(ext: Iterable[int]) -> tuple[int, int, int, int]:
    """(lost vs highest, duplicates, reordered, highest) of extended sequence numbers in
    arrival order (module docstring), for a few: a set and a loop."""
    numbers = iter(ext)
    highest = next(numbers)
    seen = {highest}
    duplicates = reordered = 0
    for number in numbers:
        if number in seen:
            duplicates += 1
            continue
        if number < highest:
            reordered += 1  # late: below the highest number seen before it
        else:
            highest = number
        seen.add(number)
    return (highest - min(seen) + 1) - len(seen), duplicates, reordered, highest


def _signed32(step: int) -> int:
    return ((step + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _is_reset(ts_step: int, gap_ms: float, clock_hz: int) -> bool:
    """A timestamp step (mod 2^32) that the arrival gap cannot explain (module docstring)."""
    signed = _signed32(ts_step)
    slow, fast = (clock_hz, clock_hz) if clock_hz else RESET_CLOCK_RANGE_HZ
    told = (signed * 1000.0 / slow, signed * 1000.0 / fast)
    return gap_ms < min(told) - RESET_SLACK_MS or gap_ms > max(told) + RESET_SLACK_MS


def _is_reset_many(signed: IntArray, gaps_ms: FloatArray, clocks_hz: IntArray) -> BoolArray:
    """:func:`_is_reset` over arrays of signed timestamp steps."""
    if clocks_hz.all():
        result: BoolArray = np.abs(signed * 1000.0 / clocks_hz - gaps_ms) > RESET_SLACK_MS
        return result
    slow = np.where(clocks_hz > 0, clocks_hz, RESET_CLOCK_RANGE_HZ[0])
    fast = np.where(clocks_hz > 0, clocks_hz, RESET_CLOCK_RANGE_HZ[1])
    told_a = signed * 1000.0 / slow
    told_b = signed * 1000.0 / fast
    low = np.minimum(told_a, told_b) - RESET_SLACK_MS
    high = np.maximum(told_a, told_b) + RESET_SLACK_MS
    result = (gaps_ms < low) | (gaps_ms > high)
    return result


_JITTER_BLOCK = 64
_DECAY = 15.0 / 16.0
_DECAY_POWERS = _DECAY ** np.arange(_JITTER_BLOCK + 1)
_GROWTH = 1.0 / _DECAY_POWERS[:_JITTER_BLOCK]  # at most (16/15)^63, about 58: no overflow


def _jitter_series(jitter: float, diffs: FloatArray) -> FloatArray:
    """J after each packet, J = (15 J + D) / 16 (RFC 3550 6.4.1), from J = ``jitter``.

    Short series run the recurrence as written. Long ones go in blocks of 64: inside a block
    J_k = decay^(k+1) J_start + decay^k * sum(decay^-i D_i / 16, i <= k) (a cumulative sum),
    then the carry from block to block; equal to the recurrence to about 1e-15, relative.
    """
    count = len(diffs)
    if count < 4 * _JITTER_BLOCK:
        values = list(accumulate(diffs.tolist(), lambda j, d: (15 * j + d) / 16, initial=jitter))
        return np.array(values[1:], dtype=np.float64)
    blocks = -(-count // _JITTER_BLOCK)
    padded = np.zeros(blocks * _JITTER_BLOCK)
    padded[:count] = diffs
    scaled = padded.reshape(blocks, _JITTER_BLOCK) * (_GROWTH / 16.0)
    local = np.cumsum(scaled, axis=1) * _DECAY_POWERS[:_JITTER_BLOCK]
    carries = np.empty(blocks)
    carry = jitter
    block_decay = float(_DECAY_POWERS[_JITTER_BLOCK])
    for index, end in enumerate(local[:, -1].tolist()):
        carries[index] = carry
        carry = block_decay * carry + end
    series = local + carries[:, None] * _DECAY_POWERS[1:][None, :]
    result: FloatArray = series.reshape(-1)[:count]
    return result


def _running_mean(mean: float, values: FloatArray, ns: IntArray) -> float:
    """Wireshark's mean: mean = (mean * (n - 1) + value) / n at each counted packet, where n
    is the packet's position in the stream (so the divisor counts skipped packets too).

    Unrolled: the final mean is mean0 * prod(a) + sum(b_k * prod(a_j, j > k)) with
    a = (n - 1) / n and b = value / n; the products are suffix products (never below
    n_first / n_last, so they cannot underflow). Equal to the loop to about 1e-15, relative.
    """
    if len(values) < 64:
        result = mean
        for value, n in zip(values.tolist(), ns.tolist(), strict=True):
            result = (result * (n - 1) + value) / n
        return result
    n = ns.astype(np.float64)
    a = (n - 1.0) / n
    b = values / n
    suffix = np.ones(len(a))
    suffix[:-1] = np.cumprod(a[::-1])[::-1][1:]
    return float(mean * np.prod(a) + np.sum(b * suffix))
