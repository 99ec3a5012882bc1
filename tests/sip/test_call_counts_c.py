"""The capture-wide counts of a call list in C (rtcscope.sip._callwalk.count_calls, what
SipStatistics.add_calls adds up) against their specification, calls._count_calls_py: the
same numbers, dicts in the same order, the same setup times, on calls of every shape
(hypothesis: counts and marks a capture gives and others, which the C road hands to the
Python road by returning None) and on the calls of the captures in tests/data and
../shared/captures; built and used under CI=true; RTCSCOPE_PURE=1 selects the Python road."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope.sip import calls as calls_module
from rtcscope.sip.calls import CallState, CallSummary, MessageMarks, SipStatistics
from tests.conftest import DATA, IN_CI, SHARED_CAPTURES, shared_captures
from tests.sip.test_calls_walk_c import _callwalk, needs_c, road_of_copy


def _c_counts(calls: list[Any]) -> Any:
    assert _callwalk is not None
    calls_module._c_counts_setup(_callwalk)  # (under RTCSCOPE_PURE=1 calls.py did not)
    return _callwalk.count_calls(calls)


def _outcome(counted: Any) -> Any:
    """The counts with their dicts' orders and every value's type."""
    messages, resent, statuses, methods, setups = counted
    return (
        (type(messages), messages),
        (type(resent), resent),
        [(type(k), k, type(v), v) for k, v in statuses.items()],
        [(type(k), k, type(v), v) for k, v in methods.items()],
        [(type(v), v) for v in setups],
    )


def _python(calls: list[Any]) -> Any:
    try:
        return _outcome(calls_module._count_calls_py(calls))
    except Exception as exc:  # the exception is what is compared
        return ("raised", type(exc), str(exc))


def _call(messages: Any, resent: Any, statuses: Any, methods: Any, marks: Any) -> CallSummary:
    """A CallSummary with these counts (the fields count_calls reads) and nothing else."""
    return CallSummary(
        1, [], "INVITE", None, None, None, None, None, 0, None, None, None, 0, None, None,
        CallState.ANSWERED, None, None, None, messages, methods, statuses, resent, marks,
    )  # fmt: skip


class _OwnItems(Counter[Any]):
    """Counts whose items() is not dict's: read through it on the Python road only."""

    def items(self) -> Any:
        return [(k, 2 * v) for k, v in super().items()]


_ints = st.integers(0, 9) | st.integers(-(2**70), 2**70) | st.sampled_from([2**40, 2**63])
_odd = st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=3)
_codes = st.integers(100, 699)
_usual_statuses = st.dictionaries(_codes, st.integers(1, 9), max_size=5).map(Counter)
_statuses = (
    _usual_statuses
    | st.dictionaries(_codes | _odd, _ints | _odd, max_size=4)
    | st.dictionaries(_codes, st.integers(1, 5), max_size=3).map(_OwnItems)
)
_names = st.sampled_from(["INVITE", "ACK", "BYE", "INFO"])
_usual_methods = st.dictionaries(_names, st.integers(1, 9), max_size=4).map(Counter)
_methods = _usual_methods | st.dictionaries(_names | _odd | _codes, _ints | _odd, max_size=3)
_setups = st.none() | st.integers(0, 900) | st.integers(-(2**40), 2**70)
_usual_marks = st.dictionaries(
    st.integers(1, 99), st.builds(MessageMarks, st.integers(0, 9), _setups), max_size=3
)
_marks = (
    _usual_marks
    | st.dictionaries(st.integers(1, 9), st.tuples(_ints, _setups | _odd), max_size=2)
    | st.dictionaries(st.integers(1, 9), st.tuples(_ints) | st.lists(_ints) | _odd, max_size=2)
)
_usual_calls = st.builds(
    _call,
    st.lists(st.none(), max_size=9),
    st.integers(0, 9),
    _usual_statuses,
    _usual_methods,
    _usual_marks,
)
_calls = (
    st.builds(
        _call,
        st.lists(st.none(), max_size=9) | st.tuples(st.none()) | _odd,
        _ints | _odd,
        _statuses,
        _methods,
        _marks,
    )
    | _usual_calls
    | _odd
)


@needs_c
@example([_call([None] * 3, 2**40 + 1, Counter({200: 1}), Counter(), {})])  # resent too large
@example([_call([None], 0, {100: 1}, {"ACK": 1}, {1: MessageMarks(0, 2**40)})])
@given(st.lists(_calls, max_size=5))
def test_c_counts_are_the_python_road(calls: list[Any]) -> None:
    made = _c_counts(calls)
    if made is None:
        return  # (the Python road counts them: compared with itself)
    assert _outcome(made) == _python(calls)


@needs_c
@given(st.lists(_usual_calls, max_size=8))
def test_c_counts_usual_calls_itself(calls: list[CallSummary]) -> None:
    """The counts of calls as a capture gives them are made in C (not handed back)."""
    made = _c_counts(calls)
    assert made is not None
    assert _outcome(made) == _python(calls)


@needs_c
def test_c_counts_read_a_changed_class_again() -> None:
    """CallSummary changed after count_calls learned its slots (resent a property): read
    by getattr (the Python road), and at its slots again once it is restored."""
    calls = [_call([None] * 2, 1, Counter({200: 1}), Counter({"INVITE": 1}), {})]
    assert _c_counts(calls) is not None
    slot = vars(CallSummary)["resent"]
    CallSummary.resent = property(lambda self: 5)  # type: ignore[assignment,method-assign]
    try:
        assert _callwalk is not None
        assert _callwalk.count_calls(calls) is None  # (set up above, with the slot)
        assert _python(calls)[1] == (int, 5)
    finally:
        CallSummary.resent = slot  # type: ignore[method-assign]
    made = _c_counts(calls)
    assert made is not None
    assert _outcome(made) == _python(calls)


def _captures() -> list[Path]:
    found = sorted(p for p in DATA.iterdir() if p.name.endswith((".pcap", ".pcapng", ".gz")))
    return found + shared_captures()


@needs_c
def test_c_counts_on_every_capture() -> None:
    """The calls of every capture here (and of ../shared/captures where present), counted
    in C, whole: the same as the Python road's; SipStatistics the same either way."""
    from rtcscope.errors import RtcscopeError
    from rtcscope.scan import ScanOptions, Tap, scan

    if IN_CI and not SHARED_CAPTURES.is_dir():
        pytest.fail(f"{SHARED_CAPTURES} is missing (CI needs ../shared/captures)")
    seen = 0
    for path in _captures():
        try:
            calls = scan(path, ScanOptions(taps=frozenset({Tap.SIP}), keep_going=True)).calls()
        except RtcscopeError:
            continue  # (not a capture this reads; the scan's own tests cover it)
        made = _c_counts(calls.calls)
        assert made is not None
        assert _outcome(made) == _python(calls.calls)
        on_python, on_c = SipStatistics(), SipStatistics()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(calls_module, "_count_calls", None)
            on_python.add_calls(calls.calls)
        on_c.add_calls(calls.calls)
        assert on_c.as_dict() == on_python.as_dict()
        seen += len(calls.calls)
    assert seen >= (50 if shared_captures() else 10)


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert road_of_copy(monkeypatch, calls_module, "1", "COUNTS_ROAD") == "python"
    built = "c" if _callwalk is not None else "python"
    assert road_of_copy(monkeypatch, calls_module, None, "COUNTS_ROAD") == built


def test_the_c_counts_are_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert calls_module.COUNTS_ROAD == "c"
