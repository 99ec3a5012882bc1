"""Call quality: the E-model (G.107, G.107.1, G.107.2) fed by simulated jitter buffers.

Pure: every function takes per-packet arrays and numbers and returns values.
"""

from __future__ import annotations

from rtcscope.quality.assess import (
    BufferQuality,
    StreamQuality,
    WorstDirection,
    assess_stream,
    worst_direction,
)
from rtcscope.quality.buffer import BUFFERS, BufferOutcome, burst_ratio, simulate_buffers
from rtcscope.quality.codecs import CODEC_IMPAIRMENTS, codec_impairment
from rtcscope.quality.emodel import EModelInput, Scale, mos_cqe, rating

__all__ = [
    "BUFFERS",
    "CODEC_IMPAIRMENTS",
    "BufferOutcome",
    "BufferQuality",
    "EModelInput",
    "Scale",
    "StreamQuality",
    "WorstDirection",
    "assess_stream",
    "burst_ratio",
    "codec_impairment",
    "mos_cqe",
    "rating",
    "simulate_buffers",
    "worst_direction",
]
