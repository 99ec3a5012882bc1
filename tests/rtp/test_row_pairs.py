"""The (stream, payload type) pairs of a batch's rows (StreamScanner.add_row_groups) are
NumPy's ``unique`` of them, whether the rows come sorted (the road without a sort: each
stream's rows of one type, or of rising types) or not."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.rtp.streams import _pairs

_rows = st.lists(st.integers(0, 40), max_size=60)


def _check(pair_of_row: list[int]) -> None:
    values = np.array(pair_of_row, dtype=np.int64)
    present, at, counts = _pairs(values)
    want_present, want_at, want_counts = np.unique(values, return_inverse=True, return_counts=True)
    assert present.tolist() == want_present.tolist()
    assert at.tolist() == want_at.reshape(-1).tolist()
    assert counts.tolist() == want_counts.tolist()
    assert (present[at] == values).all()


@given(_rows)
def test_pairs_of_sorted_rows(pair_of_row: list[int]) -> None:
    _check(sorted(pair_of_row))


@given(_rows)
def test_pairs_of_any_rows(pair_of_row: list[int]) -> None:
    _check(pair_of_row)
