"""Calls by Call-ID in C (rtcscope.sip._callwalk.find_calls) against its specification, the
pure-Python road (dialogs._find_calls_py with the Python grouping): the same calls (Call-IDs,
the same captured messages in each, in order), each made as Call(call_id) makes it, with the
same transactions, on generated messages (no Call-ID, odd values, other classes read by name)
and on real captures; built and active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import dialogs as dialogs_module
from rtcscope.sip import transactions as transactions_module
from rtcscope.sip.calls import _summarize
from rtcscope.sip.dialogs import Call, _find_calls_py
from rtcscope.sip.transactions import _group_transactions_py
from tests.conftest import DATA, IN_CI
from tests.sip.test_calls_summary_c import _c_summary
from tests.sip.test_calls_walk_c import _callwalk, needs_c, road_of_copy
from tests.sip.test_transactions_group_c import _shape, captured_messages


def _c_calls(messages: Any) -> list[Call]:
    assert _callwalk is not None
    # (set up as transactions.py and dialogs.py set it up: under RTCSCOPE_PURE=1 they did not.)
    transactions_module._c_group_setup(_callwalk)
    dialogs_module._c_calls_setup(_callwalk)
    calls: list[Call] = _callwalk.find_calls(messages)
    return calls


def _calls_shape(calls: list[Call]) -> list[tuple[Any, ...]]:
    return [
        (
            type(call),
            call.call_id,
            [id(m) for m in call.messages],
            _shape(call.transactions),
            (call._dialogs, call._caller_tag),
            _initial_places(call),
        )
        for call in calls
    ]


def _initial_places(call: Call) -> list[int]:
    """Where the call's initial INVITEs are among its transactions, as the property finds
    them afresh; the C road keeps them found (for its transaction list, as the property
    keeps them) where it could read every transaction it made, else nothing."""
    kept = call._initial
    call._initial = None
    try:
        fresh = call.initial_invites
    except AttributeError:  # (an odd generated message: the property fails on it)
        fresh = None
    if kept is not None:
        assert kept[0] is call.transactions and kept[1] == len(call.transactions)
        assert fresh is not None and [id(t) for t in kept[2]] == [id(t) for t in fresh]
    if fresh is None:
        return [-1]
    return [i for i, t in enumerate(call.transactions) if any(t is f for f in fresh)]


def _kept_initial(calls: list[Call]) -> int:
    return sum(call._initial is not None for call in calls)


def _python_calls(messages: Any) -> list[Call]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transactions_module, "_group", _group_transactions_py)
        return _find_calls_py(messages)


@needs_c
@settings(max_examples=300)
@given(st.lists(captured_messages(), max_size=16))
def test_c_calls_as_the_python_road(messages: list[Any]) -> None:
    expected = _calls_shape(_python_calls(messages))
    assert _calls_shape(_c_calls(messages)) == expected
    assert _calls_shape(_c_calls(tuple(messages))) == expected
    assert _calls_shape(_c_calls(iter(messages))) == expected


@needs_c
@pytest.mark.parametrize("capture", sorted(DATA.glob("*.pcap*")), ids=lambda p: p.name)
def test_c_calls_of_real_captures(capture: Path) -> None:
    messages = list(sip_messages(capture))
    made = _c_calls(messages)
    # Captured messages as the scan makes them: every call keeps its initial INVITEs.
    assert _kept_initial(made) == len(made)
    assert _calls_shape(made) == _calls_shape(_python_calls(messages))
    # What the Call's properties find from them is the same too.
    for mine, theirs in zip(made, _python_calls(messages), strict=True):
        assert mine == theirs
        assert [d.id for d in mine.dialogs] == [d.id for d in theirs.dialogs]
        assert mine.caller_tag == theirs.caller_tag


@needs_c
def test_c_calls_refuse_what_is_not_a_message() -> None:
    with pytest.raises(AttributeError):
        _c_calls([object()])
    with pytest.raises(TypeError):
        _c_calls(5)
    assert _callwalk is not None
    with pytest.raises((TypeError, AttributeError)):  # (c_accelerator's refusals)
        _callwalk.setup_calls(int)


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert road_of_copy(monkeypatch, dialogs_module, "1", "CALLS_ROAD") == "python"
    # (the copy asks the real transactions module's GROUP_ROAD, python when this run has
    # RTCSCOPE_PURE=1)
    built = "c" if _callwalk is not None and transactions_module.GROUP_ROAD == "c" else "python"
    assert road_of_copy(monkeypatch, dialogs_module, None, "CALLS_ROAD") == built


def test_the_c_calls_road_is_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert dialogs_module.CALLS_ROAD == "c"


def _fresh_initial(call: Call) -> list[int]:
    kept = call._initial
    call._initial = None
    try:
        return [id(t) for t in call.initial_invites]
    finally:
        call._initial = kept


@needs_c
@pytest.mark.parametrize("change", ["remove", "append", "replace"])
def test_initial_invites_after_the_transactions_changed(change: str) -> None:
    """The initial INVITEs the C road kept as it grouped a call (the Python road finds them
    when first asked) are found again once the call's transaction list is shortened or grown
    in place, or replaced: both roads give the property's fresh answer."""
    messages = list(sip_messages(DATA / "testbed-good.pcap"))
    answers = []
    for calls in (_c_calls(messages), _python_calls(messages)):
        call = calls[0]
        invite = next(t for t in call.transactions if t.method == "INVITE")
        if change == "remove":
            call.transactions.remove(invite)
        elif change == "append":
            call.transactions.append(call.transactions[0])
        else:
            call.transactions = [invite]
        answers.append([id(t) for t in call.initial_invites])
        assert answers[-1] == _fresh_initial(call)
        assert _c_summary_reads_fresh(call)
    assert len(answers[0]) == len(answers[1])


def _c_summary_reads_fresh(call: Call) -> bool:
    """The C summary of the changed call is the Python road's (it reads the kept list only
    where it is still the call's)."""
    mine = _c_summary(1, [call], [], {})
    return mine is None or mine == _summarize(1, [call], None, [], {})
