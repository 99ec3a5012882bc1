"""Quality of a stream and of a call: R and MOS-CQE per simulated jitter buffer.

``assess_stream`` is a pure function of one stream's per-packet arrays (see
:mod:`rtcscope.quality.buffer`), its codec and, when RTCP gave one, the round-trip time.
Delays fed to the E-model: T = Ta = one-way network delay (RTCP round trip / 2, else 0) plus
the delay the buffer adds; Tr = 2 T. A call's quality is its worst direction, compared only
between ratings on the same scale (MOS-CQE otherwise, which every scale maps to).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rtcscope.quality.buffer import BoolArray, BufferOutcome, IntArray, simulate_buffers
from rtcscope.quality.codecs import codec_impairment, unrated_reason
from rtcscope.quality.emodel import EModelInput, Scale, mos_cqe, rating


@dataclass(frozen=True, slots=True)
class BufferQuality:
    """One buffer's outcome and, when the codec is rated, its R and MOS-CQE."""

    outcome: BufferOutcome
    r: float | None
    mos: float | None
    not_rated: str = ""

    def as_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "buffer": o.spec.name,
            "expected": o.expected,
            "lost": o.lost,
            "late": o.late,
            "ppl_percent": round(o.ppl_percent, 3),
            "burst_ratio": round(o.burst_ratio, 3),
            "delay_ms": round(o.mean_delay_ms, 1),
            "r": None if self.r is None else round(self.r, 1),
            "mos": None if self.mos is None else round(self.mos, 2),
            "not_rated": self.not_rated or None,
        }


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """A stream's quality: the model used, the codec's values, one entry per buffer."""

    codec: str | None
    scale: Scale | None
    ie: float | None
    bpl: float | None
    source: str
    one_way_ms: float | None
    buffers: tuple[BufferQuality, ...] = field(default=())

    def buffer(self, name: str) -> BufferQuality | None:
        return next((b for b in self.buffers if b.outcome.spec.name == name), None)

    @property
    def rated(self) -> bool:
        return any(b.mos is not None for b in self.buffers)

    def as_dict(self) -> dict[str, Any]:
        """Stable keys: model, codec, ie, bpl, source, one_way_ms, buffers [buffer, expected,
        lost, late, ppl_percent, burst_ratio, delay_ms, r, mos, not_rated]."""
        return {
            "model": None if self.scale is None else self.scale.value,
            "codec": self.codec,
            "ie": self.ie,
            "bpl": self.bpl,
            "source": self.source,
            "one_way_ms": None if self.one_way_ms is None else round(self.one_way_ms, 1),
            "buffers": [b.as_dict() for b in self.buffers],
        }


def assess_stream(
    arrival_ns: IntArray,
    seq: IntArray,
    ts: IntArray,
    clock_hz: int,
    codec: str | None,
    *,
    timed: BoolArray | None = None,
    round_trip_ms: float | None = None,
) -> StreamQuality:
    """R and MOS-CQE per buffer for one stream (arrays in arrival order)."""
    outcomes = simulate_buffers(arrival_ns, seq, ts, clock_hz, timed)
    values = codec_impairment(codec)
    one_way = None if round_trip_ms is None else round_trip_ms / 2
    rated: list[BufferQuality] = []
    for outcome in outcomes:
        if values is None:
            rated.append(BufferQuality(outcome, None, None, unrated_reason(codec)))
            continue
        if values.bpl is None and outcome.ppl_percent > 0:
            rated.append(
                BufferQuality(outcome, None, None, f"not rated: no published Bpl for {codec}")
            )
            continue
        delay = (one_way or 0.0) + outcome.mean_delay_ms
        params = EModelInput(
            t_ms=delay,
            ta_ms=delay,
            tr_ms=2 * delay,
            ie=values.ie,
            bpl=values.bpl if values.bpl is not None else 1.0,
            ppl=outcome.ppl_percent,
            burst_r=outcome.burst_ratio,
        )
        r = rating(params, values.scale)
        rated.append(BufferQuality(outcome, r, mos_cqe(r, values.scale)))
    return StreamQuality(
        codec=codec,
        scale=None if values is None else values.scale,
        ie=None if values is None else values.ie,
        bpl=None if values is None else values.bpl,
        source="" if values is None else values.source,
        one_way_ms=one_way,
        buffers=tuple(rated),
    )


@dataclass(frozen=True, slots=True)
class WorstDirection:
    """A call's worst rated stream for one buffer."""

    buffer: str
    stream_index: int  # position in the list given to :func:`worst_direction`
    scale: Scale
    r: float
    mos: float


def worst_direction(
    qualities: Iterable[StreamQuality | None], buffer: str = "adaptive-500"
) -> WorstDirection | None:
    """The call's worst direction for ``buffer`` by MOS-CQE (every scale maps to it; R values
    of different scales are not compared)."""
    worst: WorstDirection | None = None
    for i, quality in enumerate(qualities):
        if quality is None or quality.scale is None:
            continue
        entry = quality.buffer(buffer)
        if entry is None or entry.mos is None or entry.r is None:
            continue
        if worst is None or entry.mos < worst.mos:
            worst = WorstDirection(buffer, i, quality.scale, entry.r, entry.mos)
    return worst
