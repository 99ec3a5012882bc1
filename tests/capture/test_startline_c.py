"""The C road of the counts tap's SIP start line match (rtcscope.capture._startline) against
its specification, the pure-Python road (rtcscope.capture.info.count_sip_columns_py, one
regular expression match per payload): the same payloads missed and the same count, on
start lines near the usual shape, arbitrary bytes and any start and limit (negative, past
the buffer, crossed); built and active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope.capture import info
from tests.capture.test_info_sip import _pieces as _whole_test_pieces
from tests.conftest import IN_CI, c_module, needs_built
from tests.peers import fresh_python

_startline = c_module("rtcscope.capture._startline")

needs_c = needs_built(_startline)

# The whole test's pieces (tests/capture/test_info_sip.py), and the usual line's ends.
_pieces = _whole_test_pieces | st.sampled_from([b" SIP/2.0\r\n", b"A", b"Z", b"9", b"@", b"["])
_payloads = st.lists(_pieces, max_size=10).map(b"".join) | st.binary(max_size=40)
_positions = st.integers(min_value=-5, max_value=400)


def _expected_misses(buffer: bytes, starts: list[int], limits: list[int]) -> list[int]:
    """The Python road's test of each payload: the pattern's match at start, ending by limit."""
    match = info._USUAL_START_LINE.match
    return [
        at
        for at, (start, limit) in enumerate(zip(starts, limits, strict=True))
        if match(buffer, start, limit) is None
    ]


@needs_c
@settings(max_examples=1500, deadline=None)
@given(
    st.lists(_payloads, min_size=1, max_size=8),
    st.lists(st.tuples(_positions, _positions), max_size=6),
)
@example([b"INVITE sip:a@b SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n"], [])
@example([b"INVITE sip:a@b SIP/2.0\r\n"], [(0, 23), (0, 24), (-3, 24), (1, 24), (30, 2)])
def test_the_c_road_misses_what_the_match_misses(
    payloads: list[bytes], more: list[tuple[int, int]]
) -> None:
    buffer = b"".join(payloads)
    ends = [len(b"".join(payloads[: at + 1])) for at in range(len(payloads))]
    starts = [end - len(payload) for end, payload in zip(ends, payloads, strict=True)]
    limits = list(ends)
    # Any start and limit, as well as the payloads' own (cut short, crossed, outside).
    starts += [start for start, _ in more]
    limits += [limit for _, limit in more]
    for view in (buffer, memoryview(buffer)):
        assert _startline.unusual(view, starts, limits) == _expected_misses(buffer, starts, limits)
    stops = [max(limit, 0) for limit in limits]
    # (info binds _startline on the C road only: under RTCSCOPE_PURE=1 it is given here)
    with mock.patch.object(info, "_startline", _startline, create=True):
        counted = info._count_sip_columns_c(buffer, starts, stops, limits)
    assert counted == info.count_sip_columns_py(buffer, starts, stops, limits)


@needs_c
def test_bad_arguments_give_a_typed_error() -> None:
    with pytest.raises(TypeError):
        _startline.unusual(b"x", (0,), [1])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _startline.unusual(b"x", [0, 1], [1])
    with pytest.raises(TypeError):
        _startline.unusual(b"x", ["0"], [1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _startline.unusual("text", [0], [1])  # type: ignore[arg-type]


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _startline is not None
    assert info.START_LINE_ROAD == "c"


def test_rtcscope_pure_selects_the_python_road() -> None:
    built = "c" if _startline is not None else "python"
    probe = "import rtcscope.capture.info as i; print(i.START_LINE_ROAD)"
    assert fresh_python(probe, "1") == "python"
    assert fresh_python(probe, "0") == built
    assert fresh_python(probe, None) == built
