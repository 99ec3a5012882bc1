"""The C road of the calls' JSON text (rtcscope._timetext.calls_text) against its
specification, rtcscope.sip.calls._calls_text_py with every part on its Python road: the
text of the calls the C road writes is the specification's, byte for byte (orjson's text of
each call's object at the writer's indentation), and the C road never writes a call whose
object orjson refuses or whose reading raises (it stops there: that call is written from its
object). On calls of every shape (hypothesis: values a capture gives and others: odd floats,
ints beyond 64 bits, non-ASCII, controls and lone surrogates in texts, None fields, empty
lists), on the calls of every capture in tests/data and ../shared/captures, and on the
writer's output. RTCSCOPE_PURE=1 selects the Python road; under CI=true the C road must be
built and taken (CALLS_TEXT_ROAD: tests/sip/test_call_dict_c.py)."""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope import timebase
from rtcscope.cli import main, output
from rtcscope.lazyjson import LazyJsonList
from rtcscope.sip import calls
from rtcscope.sip.calls import CallSummary, InfoDtmf, calls_json
from tests.conftest import DATA, c_module, needs_built, shared_captures
from tests.sip.test_call_dict_c import (
    _CALL_FIELDS,
    _calls,
    _Leg,
    _Request,
    _Transaction,
    _usual_call,
    _usual_calls,
    captures_calls,
)
from tests.sip.test_call_entries_c import BASE, _SlotKey, _SlotStream

_timetext = c_module("rtcscope._timetext")

needs_c = needs_built(_timetext)

_LEVELS = st.sampled_from([0, 1, 2, 4])
FIRST = BASE - 10**9  # (a capture that starts a second before the calls)


def _text_call() -> CallSummary:
    """tests.sip.test_call_dict_c's usual call, its times milliseconds apart (orjson writes
    seconds under 10 microseconds with an exponent: such a call is not written in C)."""
    call = _usual_call()
    call.ring_ns, call.answer_ns, call.end_ns = BASE + 2 * 10**6, BASE + 5 * 10**6, BASE + 10**7
    call.dtmf = [InfoDtmf(3, BASE + 3 * 10**6, "5", 160, "caller", "10.0.0.1:5060")]
    return call


def _spec(chosen: list[Any], first_ns: Any, level: int) -> tuple[bytes, int]:
    """The specification, every part of the calls' objects on its Python road."""
    with mock.patch.multiple(
        calls,
        _call_dict=calls._call_dict_py,
        instants=timebase.instants_py,
        _sdp_entries=calls._sdp_entries_py,
        _stream_entries=calls._stream_entries_py,
    ):
        return calls._calls_text_py(first_ns, chosen, level)


def _c_text(chosen: list[Any], first_ns: Any, level: int) -> tuple[bytes, int]:
    assert _timetext is not None
    made: tuple[bytes, int] = _timetext.calls_text((CallSummary, InfoDtmf), first_ns, chosen, level)
    return made


def _check(chosen: list[Any], first_ns: Any, level: int) -> int:
    """The C road's text is the specification's for the calls it writes; how many."""
    text, count = _c_text(chosen, first_ns, level)
    assert 0 <= count <= len(chosen)
    assert _spec(chosen[:count], first_ns, level) == (text, count)
    return count


@needs_c
@pytest.mark.parametrize("level", [0, 1, 2, 3, 7])
def test_the_c_road_writes_a_usual_call_itself(level: int) -> None:
    chosen = [_text_call(), _text_call(), _text_call()]
    assert _check(chosen, FIRST, level) == 3
    assert _check([], FIRST, level) == 0


@needs_c
def test_a_level_beyond_orjson_nesting_or_an_odd_first_stamp_writes_no_call() -> None:
    for level, first in ((300, BASE), (-1, BASE), (2, -5), (2, 2**64), (2, "x")):
        assert _c_text([_text_call()], first, level) == (b"", 0)


# Texts as a capture may hold them: controls, quotes, DEL, non-ASCII, lone surrogates.
_odd_texts = st.text(st.characters(blacklist_categories=()), max_size=6) | st.sampled_from(
    ["\ud800", 'a\x00\x1f"\\\x7f\u2028\u00e9', "\U0001f600", "\x08\x0c\n\r\t"]
)
_odd_calls = st.builds(
    CallSummary,
    **{
        **_CALL_FIELDS,
        "legs": st.lists(
            st.builds(
                _Leg,
                call_id=_odd_texts,
                initial_invites=st.lists(
                    st.builds(
                        _Transaction,
                        requests=st.lists(
                            st.builds(
                                _Request,
                                src=_odd_texts,
                                sport=st.integers(0, 65_535),
                                dst=_odd_texts,
                                dport=st.integers(0, 2**64),
                                transport=_odd_texts | st.none() | st.floats(),
                            ),
                            max_size=2,
                        ),
                    ),
                    max_size=2,
                ),
            ),
            min_size=1,
            max_size=2,
        ),
        "kind": _odd_texts,
        "from_uri": _odd_texts | st.none(),
        "final_reason": _odd_texts | st.none() | st.floats() | st.integers(2**63, 2**70),
        "methods": st.dictionaries(_odd_texts, st.integers(1, 5) | st.floats(), max_size=3).map(
            Counter
        ),
    },
)


@needs_c
@given(st.lists(_calls, max_size=4), st.sampled_from([BASE, 0, BASE - 5, 2**63 - 1]), _LEVELS)
def test_calls_text_c_road_is_the_specification(
    chosen: list[Any], first_ns: int, level: int
) -> None:
    _check(chosen, first_ns, level)


@needs_c
@given(st.lists(_usual_calls, max_size=4), st.sampled_from([BASE, BASE - 1000, 0]), _LEVELS)
def test_usual_calls_text_c_road_is_the_specification(
    chosen: list[Any], first_ns: int, level: int
) -> None:
    _check(chosen, first_ns, level)


@needs_c
@given(st.lists(_odd_calls, max_size=3), _LEVELS)
def test_odd_texts_and_values_c_road_is_the_specification(chosen: list[Any], level: int) -> None:
    _check(chosen, BASE, level)


# One field of the usual call changed (_text_call: every other field one the C road writes),
# and whether the C road must write the call: a text of the call's object (a Call-ID, a
# method's name, a DTMF entry's texts) that is valid UTF-8 or None, escaped by the C road.
_TEXT_FIELDS = (
    "kind", "from_uri", "to_uri", "caller", "callee", "final_reason", "ended_by", "uas",
    "bye_source",
)  # fmt: skip


def _utf8(text: Any) -> bool:
    """Whether ``text`` is a str of valid UTF-8 (no lone surrogate)."""
    if type(text) is not str:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _with(name: str, value: Any) -> tuple[CallSummary, bool | None]:
    """The usual call with ``name`` set to ``value``; whether the C road must write it (None:
    the specification's to say)."""
    call = _text_call()
    if name == "call_id":
        call.legs = [_Leg(value, call.legs[0].initial_invites), *call.legs[1:]]
        return call, _utf8(value)
    if name == "dtmf_texts":
        call.dtmf = [InfoDtmf(3, BASE + 3 * 10**6, value, 160, value, value)]
        return call, _utf8(value)
    if name == "method":
        call.methods = Counter({value: 2, "ACK": 1})
        return call, _utf8(value)
    setattr(call, name, value)
    return call, (value is None or _utf8(value)) if name in _TEXT_FIELDS else None


_ALL_TEXTS = (*_TEXT_FIELDS, "call_id", "dtmf_texts", "method")
_changes = (
    st.tuples(st.sampled_from(_ALL_TEXTS), _odd_texts)
    | st.tuples(st.sampled_from(_TEXT_FIELDS), st.none())
    | st.sampled_from(sorted(_CALL_FIELDS)).flatmap(
        lambda name: st.tuples(st.just(name), _CALL_FIELDS[name])
    )
)


@needs_c
@given(st.lists(_changes.map(lambda change: _with(*change)), min_size=1, max_size=3), _LEVELS)
def test_one_field_changed_c_road_is_the_specification(
    varied: list[tuple[CallSummary, bool | None]], level: int
) -> None:
    """The usual call with one field changed: the specification's text, and every call before
    the first the C road may decline written in C (texts escaped here, not declined)."""
    chosen = [call for call, _ in varied]
    count = _check(chosen, FIRST, level)
    must = 0
    while must < len(varied) and varied[must][1]:
        must += 1
    assert count >= must


@needs_c
def test_odd_texts_are_escaped_in_c() -> None:
    """Controls, quotes, backslashes, DEL, U+2028 and non-ASCII in each text of the call's
    object: written in C, the specification's text; a lone surrogate: declined."""
    for text in ['a\x00\x1f"\\\x7f\u2028\u00e9', "\U0001f600", "\x08\x0c\n\r\t", "", "\ud800"]:
        for name in _ALL_TEXTS:
            call, written = _with(name, text)
            assert _check([call, _text_call()], FIRST, 2) == (2 if written else 0), (name, text)


def _timed_call(us: int) -> CallSummary:
    """The usual call, its stamps ``us`` microseconds from BASE (not answered)."""
    call = _text_call()
    stamp = BASE + 1000 * us
    call.start_ns = call.ring_ns = stamp
    call.answer_ns = call.end_ns = None
    call.sdp = [s._replace(ts_ns=stamp) for s in call.sdp]
    call.streams = [
        _SlotStream(_SlotKey("10.0.0.1", 4000, "10.0.0.2", 4002, 7), "PCMU", (1, 0), stamp, stamp)
    ]  # type: ignore[list-item]
    call.dtmf = []
    return call


_micros = (
    st.integers(-30, 30)
    | st.integers(-(10**9), 10**9)
    | st.integers(-(2**52) // 1000, 2**52 // 1000)
    | st.sampled_from([10, 99, 100, 999_999, 1_000_000, 10**7, 9_007_199_254_740])
)


@needs_c
@example(9, 0)
@example(10, 0)
@example(-10, 0)
@example(0, 5)
@example(9_007_199_254_740, -1)
@given(_micros, st.integers(-10, 10) | st.sampled_from([0, 10**6]))
def test_seconds_are_orjson_text(us: int, first_us: int) -> None:
    """Seconds of every size, before and after the first stamp: orjson's float text (with
    an exponent under 10 microseconds: those calls are the specification's to write)."""
    if BASE + 1000 * min(us, first_us) < 0:
        return
    count = _check([_timed_call(us)], BASE + 1000 * first_us, 2)
    # (2**53 ns and more from the first stamp: the Python road's seconds, not converted here)
    written = not 0 < abs(us - first_us) < 10 and abs(us - first_us) * 1000 < 2**53
    assert count == written


@needs_c
def test_calls_text_c_road_on_every_capture() -> None:
    """Every call of every capture here (and of ../shared/captures where present), at the
    levels the writers use: the specification's text; nearly every call written in C."""
    seen = written = 0
    for result in captures_calls():
        for level in (2, 4):
            rest = result.calls
            while rest:
                count = _check(rest, result.first_ns, level)
                written += count
                rest = rest[count + 1 :]
            seen += len(result.calls)
    assert seen >= (100 if shared_captures() else 20)
    assert written >= 0.9 * seen


@needs_c
def test_the_c_road_keeps_no_reference() -> None:
    """A usual call's parts are held no more after its text than before (no leak)."""
    call = _text_call()
    parts = [call, call.legs, call.sdp, call.streams, call.dtmf, call.sdp[0], call.streams[0]]
    parts += [call.legs[0].call_id, call.streams[0].key, call.methods, call.statuses]
    before = [sys.getrefcount(part) for part in parts]
    for _ in range(2000):
        assert _c_text([call, call], FIRST, 2)[1] == 2
        assert _c_text([call, CallSummary, call], FIRST, 2)[1] == 1  # (a declined item)
    assert [sys.getrefcount(part) for part in parts] == before


class _Raising:
    """A leg whose Call-ID read raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.initial_invites: list[Any] = []

    @property
    def call_id(self) -> str:
        raise self.error


@needs_c
def test_an_exception_stops_the_text_and_ctrl_c_goes_on_up() -> None:
    call = _text_call()
    call.legs = [_Raising(ValueError("odd"))]  # type: ignore[list-item]
    text, count = _c_text([_text_call(), call, _text_call()], FIRST, 2)
    assert count == 1 and text == _spec([_text_call()], FIRST, 2)[0]
    call.legs = [_Raising(KeyboardInterrupt())]  # type: ignore[list-item]
    with pytest.raises(KeyboardInterrupt):
        _c_text([_text_call(), call], FIRST, 2)


# ---- the JSON writer on a LazyJsonList (both roads: this process's) ----------------------


def _written(fields: dict[str, Any]) -> str:
    out = io.StringIO()
    with mock.patch.object(sys, "stdout", out):
        output.write_json_object(fields)
    return out.getvalue()


def _odd_call() -> CallSummary:
    """A call whose text the C road does not write (a Call-ID with a lone surrogate: orjson
    refuses its object, which the standard library's road writes)."""
    call = _text_call()
    call.legs = [_Leg("\udcff@x", [])]  # type: ignore[list-item]
    return call


@contextmanager
def _counting_objects() -> Iterator[Counter[str]]:
    """Counts the calls' objects made (CallSummary.as_dict) inside the block."""
    made: Counter[str] = Counter()
    as_dict = CallSummary.as_dict

    def counting(self: CallSummary, *args: Any, **kwargs: Any) -> dict[str, Any]:
        made["calls"] += 1
        return as_dict(self, *args, **kwargs)

    with mock.patch.object(CallSummary, "as_dict", counting):
        yield made


def test_rtcscope_calls_json_makes_no_call_object(capsys: pytest.CaptureFixture[str]) -> None:
    """``rtcscope calls --format json``: the calls' text written in C, no call's object made
    (the Python road: each call's); what is written is each call's object."""
    capture = DATA / "SIP_DTMF2.pcap"
    with _counting_objects() as made:
        assert main(["calls", str(capture), "--format", "json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)["calls"]
    assert len(listed) > 1
    assert made["calls"] == (0 if calls.CALLS_TEXT_ROAD == "c" else len(listed))


@pytest.mark.parametrize("tls", [[], [{"client": "\udcff"}]])  # (a refused document)
@pytest.mark.parametrize("count", [0, 1, 31, 32, 33, 70])
@pytest.mark.parametrize("odd", [False, True])
def test_the_writer_writes_the_calls_text_as_their_objects(
    count: int, tls: list[Any], odd: bool
) -> None:
    """The calls' text (calls_json) is what the writer writes for their objects: as a
    generator's members (``rtcscope calls`` before it: each a document of its own), and as
    a list in a document (``analyze`` before it: the whole document the standard library's
    where orjson refuses one call); runs of 32, calls declined here and there (written from
    their objects), a document orjson refuses."""
    chosen = [
        _odd_call() if odd and i % 13 == 5 else _timed_call(i * 7919 - 10**6) for i in range(count)
    ]
    chosen[count // 2 : count // 2 + 1] = [_timed_call(3)] if count else []  # (1e-6: declined)
    # The objects made: on the C road only the declined calls' (but in a document orjson
    # refuses, where the standard library writes every call's object; a list's call that
    # orjson refuses: the whole document), not one more (C wrote the others' text).
    declined = sum(1 for c in chosen if c.legs[0].call_id.startswith("\udcff")) + (count > 0)
    objects = bool(tls) or calls.CALLS_TEXT_ROAD != "c"

    def made_right(made: int, refused: bool) -> bool:
        return made >= count if refused else made == declined

    # (1e-05: the standard library's text differs from orjson's, 0.00001)
    with _counting_objects() as made:
        new = _written({"calls": calls_json(chosen, BASE), "tls": tls, "n": 1e-05})
    assert made_right(made["calls"], objects), made
    old = _written({"calls": (c.as_dict(BASE) for c in chosen), "tls": tls, "n": 1e-05})
    assert new == old
    with _counting_objects() as made:
        new = _written({"calls": calls_json(chosen, BASE, own=False), "tls": tls, "n": 1e-05})
    assert made_right(made["calls"], objects or odd), made
    old = _written({"calls": [c.as_dict(BASE) for c in chosen], "tls": tls, "n": 1e-05})
    assert new == old
    assert output.format_json({"calls": calls_json(chosen, BASE)}) == output.format_json(
        {"calls": [c.as_dict(BASE) for c in chosen]}
    )


@pytest.mark.parametrize("odd", [False, True])
def test_analyze_sections_write_the_calls_text_as_their_objects(odd: bool) -> None:
    """analyze's writer (sections from an iterator, four levels down): the calls' text
    where the list was, each section a document of its own."""
    chosen = [_odd_call() if odd and i == 40 else _timed_call(i * 1000) for i in range(75)]

    def written(calls_data: Any) -> str:
        sections = (
            {"name": name, "data": {"calls": data, "n": 1e-05}}
            for name, data in (("a", [1e-05]), ("calls", calls_data), ("z", []))
        )
        out = io.StringIO()
        with mock.patch.object(sys, "stdout", out):
            output.write_json(sections, depth=4)
        return out.getvalue()

    assert written(calls_json(chosen, BASE, own=False)) == written(
        [c.as_dict(BASE) for c in chosen]
    )


def test_a_lazy_list_is_its_values_for_orjson_and_the_standard_library() -> None:
    lazy = LazyJsonList([1, 2], lambda n: {"n": n}, lambda run, level: (b"", 0))
    assert orjson.loads(output.format_json([lazy])) == [[{"n": 1}, {"n": 2}]]
    assert '"n": 2' in output.format_json({"x": "\udcff", "l": lazy})


def test_a_count_equal_to_another_is_written_as_it_is() -> None:
    """True == 1 == 1.0 (and as a key): a call's statuses are written as they are, whichever
    call came first, on the Python road too (its kept "statuses" objects: exact ints only)."""
    first, second, third = _text_call(), _text_call(), _text_call()
    first.statuses = Counter({200: True})
    second.statuses = Counter({200: 1})
    third.statuses = Counter({True: 1})
    chosen = [first, second, third]
    with mock.patch.object(calls, "_call_dict", calls._call_dict_py):
        assert [c.as_dict(FIRST)["statuses"] for c in chosen] == [
            {"200": True},
            {"200": 1},
            {"True": 1},
        ]
        assert type(second.as_dict(FIRST)["statuses"]["200"]) is int
    text = _spec(chosen, FIRST, 0)[0]
    assert [line.strip() for line in text.split(b"\n") if b'"200"' in line or b"True" in line] == [
        b'"200": true',
        b'"200": 1',
        b'"True": 1',
    ]
    if _timetext is not None:
        assert _check(chosen, FIRST, 0) >= 2  # (C declines a bool key)
