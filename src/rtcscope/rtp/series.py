"""Per-interval time series of one RTP stream: jitter, delta, loss, late packets, bitrate, and
what RTCP reported (loss, jitter, round trip), per second (or per N packets).

Pure: :func:`stream_series` takes a stream's packets as arrays in capture order and returns
rows. Jitter and delta are Wireshark's (:class:`rtcscope.rtp.stats.StreamStats`, fed packet
by packet): an interval's ``max_jitter_ms`` is the largest jitter of the packets that count
for tshark's Max Jitter (not the first packet, markers, comfort noise and the packet after it,
timestamps going backwards, packets without a known clock), so the largest interval maximum
is tshark's Max Jitter. ``lost`` telescopes to tshark's Lost: an interval's loss is the
advance of the last extended sequence number seen minus the packets received in it (negative
when late packets arrive), so the intervals add up to expected - received over the stream.
``late`` counts packets arriving after a higher sequence number (reordered or duplicated);
``jb_discarded`` the packets a jitter buffer discarded as late (given by the caller: the
report and ``--series`` pass the adaptive 500 ms buffer of :mod:`rtcscope.quality`).
``bitrate_kbps`` is the RTP bytes (header included) per second of the interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rtcscope.quality.buffer import extend_sequence
from rtcscope.rtp.stats import PT_CN, PT_CN_OLD, StreamStats, relative_ms

IntArray = npt.NDArray[np.int64]

MAX_DENSE_ROWS = 100_000  # a row for every interval up to this many (28 hours of seconds)

SERIES_COLUMNS: tuple[str, ...] = (
    "stream",
    "ssrc_hex",
    "interval",
    "start_s",
    "end_s",
    "packets",
    "lost",
    "late",
    "jb_discarded",
    "max_jitter_ms",
    "mean_jitter_ms",
    "max_delta_ms",
    "mean_delta_ms",
    "bitrate_kbps",
    "rtcp_fraction_lost_percent",
    "rtcp_cumulative_lost",
    "rtcp_jitter_ms",
    "rtcp_round_trip_ms",
)


@dataclass(frozen=True, slots=True)
class RtcpSample:
    """One RTCP report block about the stream (RFC 3550 6.4.1), at the time it was captured."""

    ts_ns: int
    fraction_lost_percent: float
    cumulative_lost: int
    jitter_ms: float | None
    round_trip_ms: float | None


@dataclass(frozen=True, slots=True)
class StreamPackets:
    """One stream's packets as arrays, in capture order (``clock_hz`` per packet: Wireshark's
    analysis clock, 0 where there is none, see :func:`rtcscope.rtp.stats.analysis_clock_hz`)."""

    frame: IntArray
    arrival_ns: IntArray
    seq: IntArray
    ts: IntArray
    pt: IntArray
    marker: npt.NDArray[np.bool_]
    size: IntArray  # RTP packet bytes (header, payload, padding)
    clock_hz: IntArray


@dataclass(slots=True)
class SeriesRow:
    interval: int
    start_s: float
    end_s: float
    packets: int = 0
    lost: int = 0
    late: int = 0
    jb_discarded: int = 0
    max_jitter_ms: float | None = None
    mean_jitter_ms: float | None = None
    max_delta_ms: float | None = None
    mean_delta_ms: float | None = None
    bitrate_kbps: float = 0.0
    rtcp_fraction_lost_percent: float | None = None
    rtcp_cumulative_lost: int | None = None
    rtcp_jitter_ms: float | None = None
    rtcp_round_trip_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        def r3(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {
            "interval": self.interval,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "packets": self.packets,
            "lost": self.lost,
            "late": self.late,
            "jb_discarded": self.jb_discarded,
            "max_jitter_ms": r3(self.max_jitter_ms),
            "mean_jitter_ms": r3(self.mean_jitter_ms),
            "max_delta_ms": r3(self.max_delta_ms),
            "mean_delta_ms": r3(self.mean_delta_ms),
            "bitrate_kbps": round(self.bitrate_kbps, 3),
            "rtcp_fraction_lost_percent": r3(self.rtcp_fraction_lost_percent),
            "rtcp_cumulative_lost": self.rtcp_cumulative_lost,
            "rtcp_jitter_ms": r3(self.rtcp_jitter_ms),
            "rtcp_round_trip_ms": r3(self.rtcp_round_trip_ms),
        }


def stream_series(
    packets: StreamPackets,
    capture_start_ns: int,
    *,
    interval_s: float = 1.0,
    per_packets: int | None = None,
    rtcp: Sequence[RtcpSample] = (),
    discarded: npt.NDArray[np.bool_] | None = None,
) -> list[SeriesRow]:
    """The stream's rows, one per interval from its first packet to its last (intervals are
    aligned on the capture's start; with ``per_packets`` each row holds N packets instead)."""
    n = int(packets.arrival_ns.size)
    if n == 0:
        return []
    rel_ns = packets.arrival_ns - capture_start_ns
    if per_packets:
        bucket = np.arange(n, dtype=np.int64) // per_packets
    else:
        step_ns = max(1, round(interval_s * 1e9))
        bucket = rel_ns // step_ns
    first_bucket, last_bucket = int(bucket[0]), int(bucket[-1])
    if not per_packets:
        first_bucket = int(bucket.min())
        last_bucket = int(bucket.max())
    rows: dict[int, SeriesRow] = {}
    dense = per_packets or last_bucket - first_bucket < MAX_DENSE_ROWS
    # a corrupt timestamp years away would ask for billions of empty rows: then rows only
    # for the intervals that have packets
    for b in range(first_bucket, last_bucket + 1) if dense else np.unique(bucket).tolist():
        if per_packets:
            sel = np.flatnonzero(bucket == b)
            start = rel_ns[sel[0]] / 1e9
            end = rel_ns[sel[-1]] / 1e9
        else:
            start = b * interval_s
            end = (b + 1) * interval_s
        rows[b] = SeriesRow(b - first_bucket, start, end)

    ext = extend_sequence(packets.seq)
    stats = StreamStats()
    jitter_sum: dict[int, float] = {}
    jitter_n: dict[int, int] = {}
    delta_sum: dict[int, float] = {}
    delta_n: dict[int, int] = {}
    bytes_in: dict[int, int] = {}
    highest = int(ext[0]) - 1
    last_by_bucket: dict[int, int] = {}
    for i in range(n):
        b = int(bucket[i])
        row = rows[b]
        row.packets += 1
        pt = int(packets.pt[i])
        marker = bool(packets.marker[i])
        clock = int(packets.clock_hz[i])
        first = stats.total_nr == 0
        prev_pt = stats.pt
        ts_errors = stats.timestamp_errors
        stats.add(
            int(packets.frame[i]),
            relative_ms(int(rel_ns[i])),
            int(packets.seq[i]),
            int(packets.ts[i]),
            pt,
            marker,
            clock,
        )
        counted = (
            not first
            and not marker
            and pt not in (PT_CN, PT_CN_OLD)
            and prev_pt not in (PT_CN, PT_CN_OLD)
            and stats.timestamp_errors == ts_errors
        )
        if counted:
            delta = stats.delta
            row.max_delta_ms = delta if row.max_delta_ms is None else max(row.max_delta_ms, delta)
            delta_sum[b] = delta_sum.get(b, 0.0) + delta
            delta_n[b] = delta_n.get(b, 0) + 1
            if clock:
                jitter = stats.jitter
                row.max_jitter_ms = (
                    jitter if row.max_jitter_ms is None else max(row.max_jitter_ms, jitter)
                )
                jitter_sum[b] = jitter_sum.get(b, 0.0) + jitter
                jitter_n[b] = jitter_n.get(b, 0) + 1
        seq_ext = int(ext[i])
        if seq_ext <= highest:
            row.late += 1
        if discarded is not None and discarded[i]:
            row.jb_discarded += 1
        highest = max(highest, seq_ext)
        last_by_bucket[b] = seq_ext
        bytes_in[b] = bytes_in.get(b, 0) + int(packets.size[i])

    previous_last = int(ext[0]) - 1
    for b, row in rows.items():
        if b in last_by_bucket:
            row.lost = last_by_bucket[b] - previous_last - row.packets
            previous_last = last_by_bucket[b]
        if b in jitter_n:
            row.mean_jitter_ms = jitter_sum[b] / jitter_n[b]
        if b in delta_n:
            row.mean_delta_ms = delta_sum[b] / delta_n[b]
        span = row.end_s - row.start_s
        if span > 0:
            row.bitrate_kbps = bytes_in.get(b, 0) * 8 / span / 1000
    _place_rtcp(rows, rtcp, capture_start_ns, interval_s, per_packets)
    return list(rows.values())


def _place_rtcp(
    rows: dict[int, SeriesRow],
    samples: Iterable[RtcpSample],
    capture_start_ns: int,
    interval_s: float,
    per_packets: int | None,
) -> None:
    """Each report goes to the row whose time span holds it (the latest report wins)."""
    ordered = list(rows.values())
    for sample in sorted(samples, key=lambda s: s.ts_ns):
        t = (sample.ts_ns - capture_start_ns) / 1e9
        if per_packets:
            row = next((r for r in ordered if r.start_s <= t <= r.end_s), None)
        else:
            row = rows.get(int(t // interval_s)) if interval_s > 0 else None
        if row is None:
            continue
        row.rtcp_fraction_lost_percent = sample.fraction_lost_percent
        row.rtcp_cumulative_lost = sample.cumulative_lost
        if sample.jitter_ms is not None:
            row.rtcp_jitter_ms = sample.jitter_ms
        if sample.round_trip_ms is not None:
            row.rtcp_round_trip_ms = sample.round_trip_ms
