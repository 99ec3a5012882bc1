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

Our own metrics sit beside them under their own names: loss against the highest extended
sequence number (RFC 3550 A.3), duplicates, reordered (late) packets, DTX periods (a
timestamp jump without a sequence gap is silence suppression, not loss), markers and payload
type changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    timestamp_errors: int
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


class StreamStats:
    """Feed a stream's packets in capture order with :meth:`add`; read :meth:`summary`."""

    __slots__ = (
        "_dtx_ms",
        "_dtx_periods",
        "_duplicates",
        "_first_ext_seq",
        "_highest",
        "_last_ts_step",
        "_markers",
        "_prev_seq",
        "_prev_ts",
        "_pt_changes",
        "_reordered",
        "_seen",
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
        self._first_ext_seq = self._highest = 0
        self._prev_seq = self._prev_ts = self._last_ts_step = 0
        self.clock_rate = 0
        self.problem = False
        self.sequence_errors = 0
        self.timestamp_errors = 0
        self._markers = 0
        self._pt_changes = 0
        self._duplicates = 0
        self._reordered = 0
        self._dtx_periods = 0
        self._dtx_ms = 0.0
        self._seen = bytearray(65536)

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
        self._own_metrics(seq, ts, pt, clock_hz)
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
        self.cycles = 0
        self.under = False
        self.jitter = 0.0
        self.max_delta = 0.0
        self.min_delta = -1.0
        self.mean_delta = 0.0
        self.max_jitter = 0.0
        self.min_jitter = -1.0
        self.mean_jitter = 0.0
        self.max_nr = 0
        self.total_nr = 1
        # Ours: RFC 3550 A.1 extended sequence numbers, starting one cycle up so that early
        # reordering around 0 stays positive.
        self._first_ext_seq = self._highest = 0x10000 + seq
        self._seen[seq] = ((self._first_ext_seq >> 16) & 0x7F) | 0x80
        self._prev_seq = seq
        self._prev_ts = ts
        self._last_ts_step = 0

    def _own_metrics(self, seq: int, ts: int, pt: int, clock_hz: int) -> None:
        if pt != self.pt:
            self._pt_changes += 1
        highest = self._highest
        forward = (seq - highest) & 0xFFFF
        ext = highest + forward if forward < 0x8000 else highest - (0x10000 - forward)
        cycle_tag = ((ext >> 16) & 0x7F) | 0x80
        if ext > highest:
            # Clear the marks of sequence numbers skipped over, so a later arrival of one of
            # them is "reordered", not "duplicate".
            for skipped in range(highest + 1, min(ext, highest + 0x8000)):
                self._seen[skipped & 0xFFFF] = 0
            self._highest = ext
            self._seen[seq] = cycle_tag
        elif self._seen[seq] == cycle_tag:
            self._duplicates += 1
        else:
            self._reordered += 1
            self._seen[seq] = cycle_tag
        if seq == (self._prev_seq + 1) & 0xFFFF:
            step = (ts - self._prev_ts) & 0xFFFFFFFF
            if step < 0x80000000:
                normal = self._last_ts_step
                if normal and step >= 2 * normal:
                    # RFC 3551 4.1 / RFC 3389: silence suppression leaves a timestamp gap
                    # with consecutive sequence numbers.
                    self._dtx_periods += 1
                    if clock_hz:
                        self._dtx_ms += (step - normal) * 1000.0 / clock_hz
                elif step:
                    self._last_ts_step = step
        self._prev_seq = seq
        self._prev_ts = ts

    def summary(self) -> StatsSummary:
        if self.total_nr == 0:
            raise ValueError("a stream without packets has no statistics")
        expected = (self.stop_seq + self.cycles * 65536) - self.start_seq + 1
        lost = expected - self.total_nr
        percent = lost * 100.0 / expected if expected else 0.0
        unique = self.total_nr - self._duplicates
        lost_vs_highest = (self._highest - self._first_ext_seq + 1) - unique
        return StatsSummary(
            packets=self.total_nr,
            lost=lost,
            lost_percent=percent,
            expected=expected,
            min_delta_ms=self.min_delta,
            mean_delta_ms=self.mean_delta,
            max_delta_ms=self.max_delta,
            min_jitter_ms=self.min_jitter,
            mean_jitter_ms=self.mean_jitter,
            max_jitter_ms=self.max_jitter,
            max_delta_frame=self.max_nr,
            problems=self.problem,
            sequence_errors=self.sequence_errors,
            timestamp_errors=self.timestamp_errors,
            lost_vs_highest_seq=lost_vs_highest,
            duplicates=self._duplicates,
            reordered=self._reordered,
            dtx_periods=self._dtx_periods,
            dtx_ms=self._dtx_ms,
            markers=self._markers,
            payload_type_changes=self._pt_changes,
            first_seq=self.start_seq,
            last_seq=self.stop_seq,
            highest_ext_seq=self._highest,
            clock_rate=self.clock_rate,
        )
