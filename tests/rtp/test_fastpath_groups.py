"""The RTP tap's grouping of a batch's rows by stream (rtp/fastpath.py ``_group_streams``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.rtp.fastpath import _group_streams

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _keys(columns: list[np.ndarray]) -> list[tuple[int, ...]]:
    return list(zip(*(column.tolist() for column in columns), strict=True))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=300),
    st.integers(0, 1 << 20),
)
def test_groups_are_the_streams_in_capture_order(pairs: list[tuple[int, int]], gap: int) -> None:
    """Each group holds one key's rows, in capture order; the groups come in the order of
    the key words' 64-bit mix (a stable sort of it), whatever the row numbers."""
    words = [np.array([a * 0x1000_0001 for a, _ in pairs], dtype=np.uint64)]
    words.append(np.array([b << 40 | b for _, b in pairs], dtype=np.uint64))
    rows = np.arange(len(pairs), dtype=np.int64) * 3 + gap
    sorted_rows, bounds, group_of_sorted, keys = _group_streams(rows, words, _keys)
    mixed = (words[0] * _MIX) ^ words[1]
    order = np.argsort(mixed, kind="stable")
    assert sorted_rows.tolist() == rows[order].tolist()
    expected_keys = list(dict.fromkeys(_keys([column[order] for column in words])))
    assert keys == expected_keys
    assert bounds[0] == 0 and bounds[-1] == len(rows)
    for group, key in enumerate(keys):
        members = sorted_rows[bounds[group] : bounds[group + 1]].tolist()
        assert members == [int(r) for r, k in zip(rows, _keys(words), strict=True) if k == key]
        assert (group_of_sorted[bounds[group] : bounds[group + 1]] == group).all()


def test_a_mix_collision_regroups_on_the_words() -> None:
    """Two keys whose mixes share their high bits (the low bits hold row positions) are
    told apart by the check on the words."""
    # Equal mixes: (a * MIX) ^ b with a = 0 gives b itself; two b differing in bit 0 only.
    words = [np.zeros(4, dtype=np.uint64), np.array([2, 3, 2, 3], dtype=np.uint64)]
    rows = np.array([10, 11, 12, 13], dtype=np.int64)
    sorted_rows, bounds, _, keys = _group_streams(rows, words, _keys)
    assert keys == [(0, 2), (0, 3)]
    assert sorted_rows.tolist() == [10, 12, 11, 13]
    assert bounds.tolist() == [0, 2, 4]
