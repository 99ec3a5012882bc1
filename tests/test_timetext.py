"""The C road of a call list's time texts (rtcscope._timetext.instants) against its
specification, the pure-Python road (rtcscope.timebase.instants_py): the same dict, the same
values and types, the same exception, for stamps in and out of the range it converts itself
(the others go to the Python road's one-stamp function); built and active under CI=true;
RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope import timebase
from tests.conftest import IN_CI, c_module, needs_built
from tests.peers import fresh_python

_timetext = c_module("rtcscope._timetext")

needs_c = needs_built(_timetext)

BASE = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20 UTC

# Stamps near a capture's (whole microseconds: what a pcap holds), anywhere an int may be
# (nanoseconds, negative, past 2**63, past year 9999), and at the edges of the C range.
_near = st.integers(min_value=-(10**12), max_value=10**12).map(lambda us: BASE + us * 1000)
_any = st.integers(min_value=-(2**70), max_value=2**70)
_edges = st.sampled_from(
    [
        *(0, 1, 999, 1000, 10**9 - 1000, 2**53, 2**63 - 1000, 2**63 - 1, 2**63, -1, -1000),
        *(253402300799999999000, 253402300800000000000, BASE + 2**53, BASE - 2**53 + 1000),
    ]
)
_stamps = st.lists(st.none() | _near | _any | _edges, max_size=12)
_firsts = st.sampled_from([0, BASE, BASE + 1, -5, 2**63, 2**63 - 1]) | _near | _any


def _outcome(road: Any, stamps: list[int | None], first_ns: int) -> Any:
    try:
        made = road(stamps, first_ns)
    except Exception as exc:  # the roads must fail alike
        return type(exc)
    # the values, the order of the keys, and each value's type (a float, not an int)
    return [(key, value, tuple(map(type, value))) for key, value in made.items()]


@needs_c
@given(_stamps, _firsts)
@example([BASE, BASE + 1000, None, BASE], BASE)
@example([0, 86_399_999_999_000, 86_400_000_000_000], 0)  # the last microsecond of a day
@example([951_782_400_000_000_000, 951_868_800_000_000_000], 0)  # 2000-02-29, 2000-03-01
@example([4_107_542_400_000_000_000], 10**18)  # 2100-03-01 (2100 is not a leap year)
@example([BASE + 1, BASE + 1500, BASE - 2**53], BASE)  # round()'s stamps
@example([True, 1, 1.0], 0)  # not an int: the Python road's (an equal key is known)
@example([2**64, 253402300800 * 10**9], 0)  # past 2**63 and past year 9999
def test_the_c_road_is_the_python_road(stamps: list[int | None], first_ns: int) -> None:
    c_road = timebase._instants_road()
    assert _outcome(c_road, stamps, first_ns) == _outcome(timebase.instants_py, stamps, first_ns)


@needs_c
@given(st.integers(min_value=0, max_value=(2**63 - 1) // 86_400_000_000_000))
def test_every_day_of_the_c_range_has_its_date(day: int) -> None:
    """The C road's calendar: each day 1970..2262 at its first and last microsecond."""
    stamps = [day * 86_400_000_000_000, day * 86_400_000_000_000 + 86_399_999_999_000]
    stamps = [ts for ts in stamps if ts < 2**63]
    c_road = timebase._instants_road()
    assert _outcome(c_road, stamps, 0) == _outcome(timebase.instants_py, stamps, 0)


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _timetext is not None
    assert timebase.ROAD == "c"


def _road_with(pure: str | None, *, stand_in: bool = False) -> str:
    """rtcscope.timebase.ROAD in a fresh interpreter with RTCSCOPE_PURE so; ``stand_in``:
    with an empty module in place of the built accelerator (one from another _timetext.c)."""
    lead = "import sys, types; sys.modules['rtcscope._timetext'] = types.ModuleType('x'); "
    probe = (lead if stand_in else "") + "import rtcscope.timebase as t; print(t.ROAD)"
    return fresh_python(probe, pure)


def test_rtcscope_pure_selects_the_python_road() -> None:
    built = "c" if _timetext is not None else "python"
    assert _road_with("1") == "python"
    assert _road_with("0") == built
    assert _road_with(None) == built


def test_an_older_accelerator_is_not_used() -> None:
    """A module without ``instants`` (built from another _timetext.c): the Python road."""
    assert _road_with(None, stand_in=True) == "python"
