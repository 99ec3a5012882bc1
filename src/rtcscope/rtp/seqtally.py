"""Our own sequence metrics of one stream, fed its extended sequence numbers in arrival order
chunk by chunk (rtp/stats.py's module docstring defines them): loss against the highest
(RFC 3550 A.3: highest - lowest + 1 minus the distinct numbers received), duplicates (a
number seen before), reordered (late: below the highest seen before it, not a duplicate).

The numbers themselves are not kept: a stream of 2,000,000 packets held 16 MB of them until
its summary. What is kept is which numbers were seen: one byte per number of the range the
stream covered (a range about as long as the stream, lost numbers included). A stream whose
numbers jump around so much that the range would dwarf the packets received (a sender that
reuses an SSRC with random sequence numbers, traffic misread as RTP) is tracked by its
distinct numbers instead (8 bytes each, as before), in sorted runs whose lengths at least
double from one run to the next (each number is found by a binary search per run, and is
merged O(log n) times: n log n in all, not a sort of everything per chunk). Same counts either
way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# The covered range may be this many times the distinct numbers (plus _RANGE_SLACK) before
# the tally keeps the distinct numbers themselves.
_RANGE_PER_NUMBER = 16
_RANGE_SLACK = 1 << 16


class SequenceTally:
    """Extended sequence numbers in arrival order, chunk by chunk (:meth:`add`)."""

    __slots__ = (
        "_base",
        "_runs",
        "_seen",
        "distinct",
        "duplicates",
        "highest",
        "lowest",
        "reordered",
    )

    def __init__(self) -> None:
        self._base = 0  # the number _seen[0] stands for
        self._seen: BoolArray = np.zeros(0, dtype=np.bool_)
        self._runs: list[IntArray] | None = None  # sorted distinct numbers (instead of _seen)
        self.distinct = 0
        self.duplicates = 0
        self.reordered = 0
        self.highest: int | None = None
        self.lowest: int | None = None

    def add(self, ext: IntArray) -> None:
        """The next numbers, in arrival order."""
        count = len(ext)
        if not count:
            return
        values, first_at, inverse = np.unique(ext, return_index=True, return_inverse=True)
        low, high = int(values[0]), int(values[-1])
        before = self._seen_before(values, low, high)
        # A duplicate: seen in an earlier chunk, or earlier in this one.
        duplicate = np.ones(count, dtype=np.bool_)
        duplicate[first_at] = False
        duplicate |= before[inverse]
        self.duplicates += int(np.count_nonzero(duplicate))
        # Late: below the highest number that arrived before it.
        start = self.highest if self.highest is not None else int(ext[0])
        highest_before = np.maximum.accumulate(np.concatenate(([start], ext[:-1])))
        self.reordered += int(np.count_nonzero((ext < highest_before) & ~duplicate))
        fresh = values[~before]
        self.distinct += len(fresh)
        self._mark(fresh)
        self.highest = high if self.highest is None else max(self.highest, high)
        self.lowest = low if self.lowest is None else min(self.lowest, low)

    def counts(self) -> tuple[int, int, int, int]:
        """(lost vs highest, duplicates, reordered, highest); all 0 before any number."""
        if self.highest is None or self.lowest is None:
            return 0, 0, 0, 0
        lost = (self.highest - self.lowest + 1) - self.distinct
        return lost, self.duplicates, self.reordered, self.highest

    # -- which numbers were seen ------------------------------------------------------------

    def _seen_before(self, values: IntArray, low: int, high: int) -> BoolArray:
        """Which of ``values`` (sorted, distinct) earlier chunks had; makes room for them."""
        if self._runs is None:
            self._cover(low, high, len(values))
        if self._runs is not None:
            found = np.zeros(len(values), dtype=np.bool_)
            for run in self._runs:
                at = np.minimum(np.searchsorted(run, values), len(run) - 1)
                found |= run[at] == values
            return found
        seen: BoolArray = self._seen[values - self._base]
        return seen

    def _cover(self, low: int, high: int, incoming: int) -> None:
        """Room in _seen for every number from ``low`` to ``high`` (``incoming`` distinct
        numbers on their way), or the switch to sorted numbers when the range would be too
        wide for the numbers received."""
        have = len(self._seen)
        end = self._base + have
        if have:
            if self._base <= low and high < end:
                return
            low, high = min(low, self._base), max(high, end - 1)
        cap = _RANGE_PER_NUMBER * (self.distinct + incoming) + _RANGE_SLACK
        span = high - low + 1
        if span > cap:
            held = np.flatnonzero(self._seen).astype(np.int64) + self._base
            self._runs = [held] if len(held) else []
            self._seen = np.zeros(0, dtype=np.bool_)
            return
        # Half as much again as needed, on the side it grew (fewer copies on a long stream).
        pad = min(span // 2, cap - span)
        if have and low < self._base:
            low -= pad
        else:
            high += pad
        grown = np.zeros(high - low + 1, dtype=np.bool_)
        if have:
            grown[self._base - low : end - low] = self._seen
        self._base, self._seen = low, grown

    def _mark(self, fresh: IntArray) -> None:
        if not len(fresh):
            return
        runs = self._runs
        if runs is not None:
            # fresh is sorted and none of it is in a run: a new run, merged with the one
            # before it while that one is not at least twice as long.
            runs.append(fresh)
            while len(runs) > 1 and len(runs[-2]) < 2 * len(runs[-1]):
                last = runs.pop()
                runs[-1] = np.sort(np.concatenate((runs[-1], last)), kind="mergesort")
            return
        self._seen[fresh - self._base] = True
