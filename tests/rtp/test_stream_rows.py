"""Streams' JSON objects made in bulk (``stream_dicts``) are ``stream_to_dict``'s, byte for byte.

Python's ``round`` is the reference for :func:`round_like_python` (floats anywhere, ties and
their neighbours, -0.0, inf, NaN); ``stream_to_dict`` (checked against tshark by
test_tshark_streams.py and test_short_streams.py, which run the CLI's bulk road) is the
reference for ``stream_dicts`` on every capture, compared as JSON text (-0.0 and 0.0, 1 and
1.0 differ there, not as Python values).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.rtp.streams as streams_module
from rtcscope.rtp.streams import round_like_python, stream_dicts, stream_to_dict
from rtcscope.scan import ScanOptions, Tap, scan
from tests.capture.plain_frames import every_capture
from tests.rtp.test_short_streams import write_capture


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def _python(values: list[float], digits: int) -> list[float]:
    return [round(v, digits) for v in values]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40), st.sampled_from([3, 6])
)
def test_round_like_python_on_any_float(values: list[float], digits: int) -> None:
    got = round_like_python(np.array(values, dtype=np.float64), digits)
    assert _bits(got) == _bits(_python(values, digits))


@settings(max_examples=400, deadline=None)
@given(
    st.integers(-(10**9), 10**9),
    st.integers(-6, 6),
    st.sampled_from([3, 6]),
    st.sampled_from([0.0, 0.5, 0.4999, 0.5001, 0.25]),
)
def test_round_like_python_near_halves(whole: int, ulps: int, digits: int, part: float) -> None:
    """Values a few units in the last place around k + 0.5 (and others) at the scale: the
    product's rounding could cross the half there."""
    value = (whole + part) / 10**digits
    for _ in range(abs(ulps)):
        value = math.nextafter(value, math.inf if ulps > 0 else -math.inf)
    values = [value, -value, value * 10, value / 10]
    got = round_like_python(np.array(values), digits)
    assert _bits(got) == _bits(_python(values, digits))


def test_round_like_python_exact_ties_and_zeros() -> None:
    values = [0.0625, 0.1875, -0.0625, 2.5e-3, 0.0005, -0.0005, -0.0, 0.0, 1e-300, -1e-300]
    values += [2.0**52, -(2.0**53) + 1, 1e300, math.inf, -math.inf, math.nan, 5e-324]
    for digits in (3, 6):
        assert _bits(round_like_python(np.array(values), digits)) == _bits(_python(values, digits))


@pytest.mark.parametrize("path", every_capture(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stream_dicts_are_stream_to_dicts(path: Path) -> None:
    model = scan(path, ScanOptions(taps=frozenset({Tap.RTP})))
    streams = model.streams
    one_by_one = json.dumps([stream_to_dict(s) for s in streams])
    assert json.dumps(stream_dicts(streams)) == one_by_one
    # And again once the statistics were read one by one (StatsSummary made and kept).
    for stream in streams:
        stream.stats  # noqa: B018 - makes and keeps its StatsSummary
    assert not any(isinstance(s._stats, tuple) for s in streams)
    assert json.dumps(stream_dicts(streams)) == one_by_one


@pytest.mark.parametrize("block", [2048, 7])
def test_stream_dicts_on_many_short_streams(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,200 short calls (loss, late packets, duplicates, wraps, markers, events): most
    streams' statistics wait as bulk columns, the road stream_dicts reads in bulk (in one
    block, and in blocks of 7)."""
    monkeypatch.setattr(streams_module, "_DICTS_BLOCK", block)
    path = tmp_path / "short.pcap"
    write_capture(path)
    streams = scan(path, ScanOptions(taps=frozenset({Tap.RTP}))).streams
    bulk = sum(isinstance(s._stats, tuple) for s in streams)
    assert bulk > 1000 and bulk < len(streams)  # both roads in one call
    one_by_one = json.dumps([stream_to_dict(s) for s in streams])
    assert json.dumps(stream_dicts(streams)) == one_by_one
