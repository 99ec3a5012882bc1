"""SequenceTally against the per-packet road's definitions (stats._sequence_counts: a set and
a loop over the numbers in arrival order), fed in chunks of any size: the same counts."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.rtp.seqtally import SequenceTally
from rtcscope.rtp.stats import _sequence_counts


def _tally(numbers: list[int], cuts: list[int]) -> tuple[int, int, int, int]:
    tally = SequenceTally()
    edges = sorted({0, len(numbers), *(c % (len(numbers) + 1) for c in cuts)})
    for a, b in pairwise(edges):
        tally.add(np.array(numbers[a:b], dtype=np.int64))
    return tally.counts()


# A stream's numbers: mostly +1 steps, with losses, duplicates, late packets and big jumps.
_steps = st.lists(
    st.one_of(
        st.just(1),
        st.just(1),
        st.integers(-5, 5),
        st.integers(2, 40),
        st.integers(-300, 300),
        st.integers(-40_000, 40_000),
    ),
    min_size=1,
    max_size=400,
)


@given(st.integers(0, 1 << 20), _steps, st.lists(st.integers(0, 500), max_size=6))
def test_counts_are_the_plain_definitions(start: int, steps: list[int], cuts: list[int]) -> None:
    numbers = [start]
    for step in steps:
        numbers.append(numbers[-1] + step)
    assert _tally(numbers, cuts) == _sequence_counts(numbers)


def test_a_long_stream_keeps_a_byte_per_number_not_its_numbers() -> None:
    numbers = np.arange(65_536 + 5, 65_536 + 2_000_005, dtype=np.int64)
    numbers[1000:1010] = numbers[990:1000]  # ten duplicates (ten numbers lost)
    tally = SequenceTally()
    for a in range(0, len(numbers), 8192):
        tally.add(numbers[a : a + 8192])
    assert tally.counts() == (10, 10, 0, 65_536 + 2_000_004)
    assert tally._runs is None
    assert tally._seen.nbytes < 4_000_000  # the numbers were 16 MB


def test_numbers_all_over_the_place_switch_to_the_distinct_numbers() -> None:
    rng = np.random.default_rng(7)
    numbers = rng.integers(0, 1 << 40, size=5000).astype(np.int64)
    numbers = np.concatenate((numbers, rng.permutation(numbers)[:700], numbers[:50] + 1))
    tally = SequenceTally()
    for a in range(0, len(numbers), 512):
        tally.add(numbers[a : a + 512])
    assert tally._runs is not None
    assert tally.counts() == _sequence_counts(numbers.tolist())


def test_nothing_added() -> None:
    assert SequenceTally().counts() == (0, 0, 0, 0)


def test_a_streams_statistics_keep_no_number_per_packet() -> None:
    """StreamStats folds its numbers into a SequenceTally: after 300,000 packets (half one
    by one, half in chunks) it holds about a byte per packet, not the 8 of each number."""
    from rtcscope.rtp.stats import StreamStats

    stats = StreamStats()
    seq = ts = 0
    frame = 1
    for _ in range(150_000):
        stats.add(frame, frame * 20.0, seq & 0xFFFF, ts & 0xFFFFFFFF, 8, False, 8000)
        frame, seq, ts = frame + 1, seq + 1, ts + 160
    for _ in range(30):
        n = np.arange(5000)
        stats.add_many(
            frame + n,
            (frame + n) * 20.0,
            (seq + n) & 0xFFFF,
            (ts + 160 * n) & 0xFFFFFFFF,
            np.full(5000, 8),
            np.zeros(5000, dtype=bool),
            np.full(5000, 8000),
        )
        frame, seq, ts = frame + 5000, seq + 5000, ts + 160 * 5000
    summary = stats.summary()
    assert (summary.packets, summary.lost_vs_highest_seq, summary.duplicates) == (300_000, 0, 0)
    assert len(stats._ext) == 0
    assert stats._tally is not None and stats._tally._seen.nbytes < 2 * 300_000
