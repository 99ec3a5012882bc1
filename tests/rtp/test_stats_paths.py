"""StreamStats.add_many (the fast path) gives what add (the reference) gives: integers
exactly, floats to 1e-12 relative (the running means are summed in another order; tshark
prints three decimals)."""

from __future__ import annotations

import random
from dataclasses import asdict, fields

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.rtp import stats as stats_mod
from rtcscope.rtp.stats import (
    StreamStats,
    StreamSummaries,
    add_new_streams,
    summarize_new_streams,
)


def packets(seed: int, count: int) -> list[tuple[int, float, int, int, int, bool, int]]:
    rng = random.Random(seed)
    seq = rng.choice([rng.randrange(65536), 65535 - rng.randrange(10)])
    ts = rng.choice([rng.randrange(2**32), 2**32 - 160 * rng.randrange(1, 10)])
    t = rng.uniform(0, 1000)
    out = []
    for frame in range(1, count + 1):
        r = rng.random()
        seq_step, ts_step = 1, 160
        if r < 0.1:
            seq_step = rng.randrange(2, 5)
        elif r < 0.15:
            seq_step = rng.choice([0, -1, -2, -300, -40000, 30000])
        elif r < 0.2:
            ts_step = rng.choice([0, -160, 160 * 20, -(2**31) - 5, 2**31 + 7])
        seq = (seq + seq_step) & 0xFFFF
        ts = (ts + ts_step) & 0xFFFFFFFF
        pt = rng.choice([8, 8, 8, 8, 13, 101, 0])
        clock = {8: 8000, 0: 8000, 13: 8000, 101: 0}[pt]
        t += rng.uniform(-2, 25)
        out.append((frame, t, seq, ts, pt, rng.random() < 0.05, clock))
    return out


def one_by_one(rows: list[tuple[int, float, int, int, int, bool, int]]) -> StreamStats:
    """The reference: add() packet by packet."""
    stats = StreamStats()
    for row in rows:
        stats.add(*row)
    return stats


Columns = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
]


def arrays(rows: list[tuple[int, float, int, int, int, bool, int]]) -> Columns:
    """Packets (as add() takes them) as the columns add_many() takes."""
    columns = list(zip(*rows, strict=True))
    return (
        np.array(columns[0], dtype=np.int64),
        np.array(columns[1], dtype=np.float64),
        np.array(columns[2], dtype=np.int64),
        np.array(columns[3], dtype=np.int64),
        np.array(columns[4], dtype=np.int64),
        np.array(columns[5], dtype=bool),
        np.array(columns[6], dtype=np.int64),
    )


@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 1200), cut=st.integers(0, 1200))
def test_add_many_equals_add(seed: int, count: int, cut: int) -> None:
    rows = packets(seed, count)
    reference = StreamStats()
    for row in rows:
        reference.add(*row)
    fast = StreamStats()
    for part in (rows[:cut], rows[cut:]):  # two chunks: state carried between them
        if not part:
            continue
        fast.add_many(*arrays(part))
    ours, theirs = asdict(fast.summary()), asdict(reference.summary())
    for name, value in theirs.items():
        if isinstance(value, float):
            assert ours[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
        else:
            assert ours[name] == value, name


@given(
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12),
    counts=st.lists(st.integers(1, 24), min_size=12, max_size=12),
    more=st.integers(0, 30),
)
def test_new_streams_at_once_equal_add(seeds: list[int], counts: list[int], more: int) -> None:
    """add_new_streams (the first packets of many streams in one go) leaves each stream as
    add() packet by packet does: equal summaries, also after more packets added one by one
    (the state it leaves is the state add() leaves)."""
    streams = [packets(seed, count + more) for seed, count in zip(seeds, counts, strict=False)]
    firsts = [rows[: len(rows) - more] for rows in streams]
    references = [StreamStats() for _ in streams]
    for reference, rows in zip(references, streams, strict=True):
        for row in rows:
            reference.add(*row)
    fast = [StreamStats() for _ in streams]
    flat = [row for rows in firsts for row in rows]
    add_new_streams(fast, np.cumsum([0] + [len(rows) for rows in firsts]).tolist(), arrays(flat))
    for stats, rows in zip(fast, streams, strict=True):
        for row in rows[len(rows) - more :]:
            stats.add(*row)
    for stats, reference in zip(fast, references, strict=True):
        assert asdict(stats.summary()) == asdict(reference.summary())


@given(
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12),
    counts=st.lists(st.integers(1, 24), min_size=12, max_size=12),
    block=st.sampled_from([1, 3, 2048]),
)
def test_bulk_summaries_equal_add(seeds: list[int], counts: list[int], block: int) -> None:
    """summarize_new_streams (short streams summarised in bulk, no StreamStats) gives each
    stream the summary add() packet by packet gives, field by field and bit for bit (the
    generator makes gaps, late and duplicate packets, sequence and timestamp wraps, markers,
    comfort noise, payload type changes, DTX steps and timestamp resets)."""
    streams = [packets(seed, count) for seed, count in zip(seeds, counts, strict=False)]
    references = [one_by_one(rows).summary() for rows in streams]
    flat = [row for rows in streams for row in rows]
    with pytest.MonkeyPatch.context() as patch:
        # Blocks of a few streams: sorted by size, summarised apart, put back in order.
        patch.setattr(stats_mod, "_SUMMARY_BLOCK", block)
        bulk = summarize_new_streams(
            np.cumsum([0] + [len(rows) for rows in streams]).tolist(), arrays(flat)
        )
    assert len(bulk) == len(streams)
    for index, reference in enumerate(references):
        ours = bulk.summary(index)
        for name in (field.name for field in fields(reference)):
            mine, value = getattr(ours, name), getattr(reference, name)
            assert type(mine) is type(value), name
            assert mine == value, name
        assert ours == reference
        # what the call list reads without making the summary
        assert bulk.packets_lost(index) == (reference.packets, reference.lost)
    # The same numbers made when first read: packets and lost before (from the sequence
    # numbers, or the summaries of the streams with a cycle), everything after.
    bounds = np.cumsum([0] + [len(rows) for rows in streams]).tolist()
    pending = StreamSummaries.pending(bounds, arrays(flat))
    assert len(pending) == len(streams)
    for index, reference in enumerate(references):
        assert pending.packets_lost(index) == (reference.packets, reference.lost)
    assert pending._rows is not None  # nothing else made yet
    for index, reference in enumerate(references):
        assert pending.summary(index) == reference
        assert pending.values(index) == bulk.values(index)
    assert pending._rows is None


def test_bulk_summaries_cover_what_they_claim() -> None:
    """The generator does make the cases the bulk road treats apart (else the property test
    above could pass on rising, single-step streams only)."""
    summaries = [one_by_one(packets(seed, 24)).summary() for seed in range(200)]
    assert any(s.duplicates for s in summaries)
    assert any(s.reordered for s in summaries)
    assert any(s.dtx_periods for s in summaries)
    assert any(s.timestamp_resets for s in summaries)
    assert any(s.payload_type_changes for s in summaries)
    assert any(s.markers for s in summaries)
    assert any(s.last_seq < s.first_seq for s in summaries)  # a sequence wrap


def plain_packets(
    seed: int, count: int, clock: int
) -> list[tuple[int, float, int, int, int, bool, int]]:
    """A well-behaved stream (what short calls send): numbers one apart without a wrap,
    timestamps forward by one step, a marker on the first packet at most; ``clock`` 0: a
    payload type whose clock is unknown."""
    rng = random.Random(seed)
    seq = rng.randrange(65536 - count)
    ts = rng.randrange(2**32)
    t = rng.uniform(0, 1000)
    step = rng.choice([160, 320, 960])
    pt = 8 if clock else 101
    out = []
    for k in range(count):
        t += rng.uniform(15, 25)
        out.append((k + 1, t, seq + k, (ts + k * step) & 0xFFFFFFFF, pt, k == 0, clock))
    return out


@given(
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12),
    counts=st.lists(st.integers(1, 24), min_size=12, max_size=12),
    clocks=st.lists(st.sampled_from([8000, 8000, 0]), min_size=12, max_size=12),
    odd=st.integers(0, 2**32 - 1) | st.none(),
)
def test_plain_blocks_equal_add(
    seeds: list[int], counts: list[int], clocks: list[int], odd: int | None
) -> None:
    """Blocks of well-behaved streams take shortcuts in the bulk table (no sequence state
    machine, no look-back for a clock, no reset epochs): the same summaries as add(), with
    or without one stream of the other generator among them (no shortcut then)."""
    streams = [
        plain_packets(seed, count, clock)
        for seed, count, clock in zip(seeds, counts, clocks, strict=False)
    ]
    if odd is not None:
        streams.append(packets(odd, 24))
    references = [one_by_one(rows).summary() for rows in streams]
    flat = [row for rows in streams for row in rows]
    bulk = summarize_new_streams(
        np.cumsum([0] + [len(rows) for rows in streams]).tolist(), arrays(flat)
    )
    for index, reference in enumerate(references):
        assert bulk.summary(index) == reference
    fast = [StreamStats() for _ in streams]
    add_new_streams(fast, np.cumsum([0] + [len(rows) for rows in streams]).tolist(), arrays(flat))
    for stats, reference in zip(fast, references, strict=True):
        assert stats.summary() == reference
