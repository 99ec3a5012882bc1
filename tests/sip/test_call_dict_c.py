"""The C road of a call's JSON object (rtcscope._timetext.call_dict) against its
specification, the pure-Python road (rtcscope.sip.calls._call_dict_py with the Python roads
of its parts): the same object, keys in the same order, the same values and types at every
depth, or the same exception; on calls of every shape (hypothesis: values a capture gives
and others, which the C road hands to the Python road) and on the calls of the captures in
tests/data and ../shared/captures. RTCSCOPE_PURE=1 selects the Python road; under CI=true
the C road must be built and taken."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope import timebase
from rtcscope.sip import calls
from rtcscope.sip.calls import CallsResult, CallState, CallSummary, InfoDtmf, MessageMarks
from tests.conftest import DATA, IN_CI, SHARED_CAPTURES, c_module, needs_built, shared_captures
from tests.peers import fresh_python
from tests.sip.test_call_entries_c import (
    _OFFER,
    _STREAM,
    BASE,
    _ints,
    _sdp,
    _SlotKey,
    _SlotStream,
    _stamps,
    _Stream,
    _streams,
    _texts,
    _values,
)

_timetext = c_module("rtcscope._timetext")

needs_c = needs_built(_timetext)


def _shape(value: Any) -> Any:
    """``value`` with its type at every depth (1 == 1.0 == True would hide a difference)."""
    if isinstance(value, dict):
        return ("dict", [(key, _shape(member)) for key, member in value.items()])
    if isinstance(value, list | tuple):
        return (type(value), [_shape(member) for member in value])
    return (type(value), value)


def _outcome(road: Any, call: Any, first_ns: Any, detail: bool) -> Any:
    try:
        made = road(call, first_ns, detail)
    except Exception as exc:  # the exception is what is compared
        return ("raised", type(exc), str(exc))
    return _shape(made)


def _python_road(call: Any, first_ns: Any, detail: bool) -> dict[str, Any]:
    """The specification: _call_dict_py with every part on its Python road."""
    with mock.patch.multiple(
        calls,
        instants=timebase.instants_py,
        _sdp_entries=calls._sdp_entries_py,
        _stream_entries=calls._stream_entries_py,
    ):
        return calls._call_dict_py(call, first_ns, detail)


def _c_road() -> Any:
    """The C road as calls._call_dict_road() makes it, called directly (CALL_DICT_ROAD is
    the Python road under RTCSCOPE_PURE=1)."""
    assert _timetext is not None
    roads = (
        calls._call_dict_py,
        calls._sdp_entry,
        calls._stream_entry,
        calls._dtmf_entries,
        CallSummary,
    )
    return partial(_timetext.call_dict, roads)


class _OwnTimes(CallSummary):
    """A CallSummary that works out duration_s and setup_ms its own way (the C road reads
    them from the fields, so it must hand such a call to the Python road)."""

    __slots__ = ()

    @property
    def duration_s(self) -> float | None:
        return 42.0

    @property
    def setup_ms(self) -> int | None:
        return 7


@dataclass
class _Request:
    src: Any
    sport: Any
    dst: Any
    dport: Any
    transport: Any


@dataclass(slots=True)
class _SlotRequest:
    """A request whose values are slots (as CapturedSip's): read at their offsets in C."""

    src: Any
    sport: Any
    dst: Any
    dport: Any
    transport: Any


@dataclass
class _Transaction:
    requests: Any


@dataclass
class _Leg:
    """A Call as the call's object reads it: its Call-ID and initial INVITEs."""

    call_id: Any
    initial_invites: Any


_addresses = _texts | st.sampled_from(["10.0.0.1", "2001:db8::7", "\u0661.2", "h\u00e9"]) | _values
_ports = st.integers(0, 65_535) | _ints | st.booleans() | st.none()
_requests = st.builds(
    _Request,
    src=_addresses,
    sport=_ports,
    dst=_addresses,
    dport=_ports,
    transport=st.sampled_from(["udp", "tcp"]) | _values,
)
_transactions = st.builds(_Transaction, requests=st.lists(_requests, max_size=2) | _values)
_legs = st.builds(
    _Leg,
    call_id=_texts | _values,
    initial_invites=st.lists(_transactions, max_size=3) | st.tuples(_transactions),
)
_counts = st.integers(0, 5) | _values
_statuses = st.dictionaries(
    st.integers(100, 699) | _ints | st.booleans(), _counts, max_size=18
).map(Counter) | st.dictionaries(st.integers(100, 699), _counts, max_size=3)
_marks = st.dictionaries(
    st.integers(1, 99),
    st.builds(MessageMarks, st.integers(0, 9), st.none() | st.integers(0, 900) | _values),
    max_size=3,
) | st.dictionaries(st.integers(), _values, max_size=2)
_dtmf = st.builds(
    InfoDtmf,
    frame=_ints,
    ts_ns=_stamps,
    signal=_texts,
    duration_ms=st.none() | _ints,
    sender=_texts,
    src=_texts,
)
_maybe_texts = _texts | st.none()
_CALL_FIELDS: dict[str, Any] = dict(
    index=_ints,
    legs=st.lists(_legs, min_size=1, max_size=3) | st.lists(_legs, max_size=0) | st.tuples(_legs),
    kind=_maybe_texts,
    from_uri=_maybe_texts,
    to_uri=_maybe_texts,
    from_tag=_maybe_texts,
    caller=_maybe_texts,
    callee=_maybe_texts,
    start_ns=_stamps,
    ring_ns=_stamps,
    answer_ns=_stamps,
    end_ns=_stamps,
    last_ns=_stamps,
    final_status=st.none() | _ints,
    final_reason=_maybe_texts,
    state=st.sampled_from(CallState),
    ended_by=_maybe_texts,
    uas=_maybe_texts,
    bye_source=_maybe_texts,
    messages=st.lists(st.none(), max_size=9),
    methods=st.dictionaries(_texts, _counts, max_size=4).map(Counter),
    statuses=_statuses,
    resent=_ints,
    marks=_marks,
    sdp=st.lists(_sdp, max_size=3),
    media_endpoints=st.just({}),
    dtmf=st.lists(_dtmf, max_size=2),
    streams=st.lists(_streams, max_size=3),
)
_calls = st.builds(CallSummary, **_CALL_FIELDS) | st.builds(_OwnTimes, **_CALL_FIELDS)
# Calls as captures give them (read in C, but for a status list longer than 16 and a
# duration of a fraction of a microsecond): the odd values above are rare in these.
_whole_us = st.integers(0, 10**9).map(lambda us: BASE + 1000 * us)
_usual_stamps = _whole_us | st.none()
_usual_requests = st.sampled_from([_Request, _SlotRequest]).flatmap(
    lambda cls: st.builds(
        cls,
        src=st.sampled_from(["10.0.0.1", "2001:db8::7", "\u0661.2"]),
        sport=st.integers(0, 65_535),
        dst=st.sampled_from(["10.0.0.2", "fd17::1"]),
        dport=st.integers(0, 65_535),
        transport=st.sampled_from(["udp", "tcp"]),
    )
)
_usual_legs = st.builds(
    _Leg,
    call_id=_texts,
    initial_invites=st.lists(
        st.builds(_Transaction, requests=st.lists(_usual_requests, max_size=2)), max_size=2
    ),
)
_usual_calls = st.sampled_from([CallSummary, _OwnTimes]).flatmap(
    lambda cls: st.builds(
        cls,
        **{
            **_CALL_FIELDS,
            "index": st.integers(1, 10**6),
            "legs": st.lists(_usual_legs, min_size=1, max_size=3),
            "start_ns": _whole_us,
            "ring_ns": _usual_stamps,
            "answer_ns": _usual_stamps,
            "end_ns": _usual_stamps,
            "final_status": st.none() | st.integers(100, 699),
            "methods": st.dictionaries(_texts, st.integers(1, 5), max_size=4).map(Counter),
            "statuses": st.dictionaries(st.integers(0, 1200), st.integers(1, 5), max_size=17).map(
                Counter
            ),
            "resent": st.integers(0, 9),
            "marks": st.dictionaries(
                st.integers(1, 99),
                st.builds(MessageMarks, st.integers(0, 9), st.none() | st.integers(0, 900)),
                max_size=3,
            ),
            "sdp": st.lists(
                _sdp.map(lambda sdp: sdp._replace(ts_ns=BASE + 1000 * sdp.frame % 10**9)),
                max_size=3,
            ),
            "dtmf": st.lists(
                _dtmf.map(lambda d: InfoDtmf(d.frame, BASE, d.signal, 1, "caller", "x")), max_size=2
            ),
            "streams": st.lists(
                st.builds(
                    _SlotStream,  # (slotted, as RtpStream: read at the slots' offsets in C)
                    key=st.builds(_SlotKey, _addresses, _ports, _addresses, _ports, _ints),
                    codec=_maybe_texts,
                    packets_lost=st.tuples(_ints, _ints),
                    start_ns=_whole_us,
                    end_ns=_whole_us,
                ),
                max_size=3,
            ),
        },
    )
)
_firsts = st.sampled_from([BASE, 0, BASE - 5, BASE + 1000]) | _ints


# (_STREAM's values, slotted)
_SLOT_STREAM = _SlotStream(
    _SlotKey("10.0.0.1", 4000, "fd17::1", 5004, 0xDEADBEEF), "PCMU", (50, 1), BASE, BASE
)


def _usual_call() -> CallSummary:
    """A call as a capture gives it (all of it read in C; its stream and key slotted, as
    RtpStream and StreamKey: read at their slots' offsets)."""
    invite = _Transaction([_Request("10.0.0.1", 5060, "fd17::1", 5062, "udp")])
    return CallSummary(
        1, [_Leg("a@x", [invite]), _Leg("b@y", [_Transaction([])])],  # type: ignore[list-item]
        "INVITE", "sip:a@x", "sip:b@y", "t1", "10.0.0.1:5060", "[fd17::1]:5062",
        BASE, BASE + 2000, BASE + 5000, BASE + 9000, BASE + 9000, 200, "OK",
        CallState.ANSWERED, "caller", "[fd17::1]:5062", "10.0.0.1:5060", [None] * 7,
        Counter({"INVITE": 1, "ACK": 1, "BYE": 1}), Counter({200: 2, 100: 1, 180: 1}), 0,
        {1: MessageMarks(0, None), 4: MessageMarks(0, 5)}, [_OFFER], {},
        [InfoDtmf(3, BASE + 3000, "5", 160, "caller", "10.0.0.1:5060")],
        [_SLOT_STREAM],  # type: ignore[list-item]
    )  # fmt: skip


@needs_c
def test_the_c_road_makes_a_usual_call_itself() -> None:
    """A capture's call is read in C, not handed to the Python road."""

    def refuse(*args: Any) -> Any:
        raise AssertionError(f"handed to the Python road: {args!r}")

    roads = (refuse, refuse, refuse, calls._dtmf_entries, CallSummary)
    call = _usual_call()
    for detail in (True, False):
        made = _timetext.call_dict(roads, call, BASE, detail)
        assert _shape(made) == _shape(_python_road(call, BASE, detail))
    assert made["statuses"] == {"100": 1, "180": 1, "200": 2}
    assert "hops" not in made


class _Drifting:
    """A stream whose start_ns is a property giving a new stamp at each read: the
    specification reads it twice (the call's instants, the stream's entry) and raises
    KeyError; the C road reads an unslotted stream as the specification does."""

    key = _SLOT_STREAM.key
    codec = "PCMU"
    packets_lost = (1, 0)
    end_ns = BASE

    def __init__(self) -> None:
        self.reads = 0

    @property
    def start_ns(self) -> int:
        self.reads += 1
        return BASE + 10_000 * self.reads  # (none of the call's other stamps)


@needs_c
def test_an_unslotted_stream_is_read_as_the_python_road_reads_it() -> None:
    made = []
    for road in (_c_road(), _python_road):
        call = _usual_call()
        call.streams = [_Drifting()]  # type: ignore[list-item]
        made.append(_outcome(road, call, BASE, True))
    assert made[0][:2] == made[1][:2] == ("raised", KeyError)


@needs_c
@example(_usual_call(), BASE, True)
@example(_usual_call(), BASE + 1, True)  # not whole microseconds: the Python road
@example(_usual_call(), -1, False)
@given(_calls, _firsts, st.booleans())
def test_call_object_c_road_is_the_python_road(call: Any, first_ns: Any, detail: bool) -> None:
    assert _outcome(_c_road(), call, first_ns, detail) == _outcome(
        _python_road, call, first_ns, detail
    )


@needs_c
@given(_usual_calls, st.sampled_from([BASE, BASE - 1000, 0]), st.booleans())
def test_usual_call_object_c_road_is_the_python_road(
    call: Any, first_ns: Any, detail: bool
) -> None:
    assert _outcome(_c_road(), call, first_ns, detail) == _outcome(
        _python_road, call, first_ns, detail
    )


def captures_calls() -> Iterator[CallsResult]:
    """The calls of every capture here (and of ../shared/captures where present, which CI
    needs), with and without RTP streams."""
    from rtcscope.errors import RtcscopeError
    from rtcscope.scan import ScanOptions, Tap, scan

    if IN_CI and not SHARED_CAPTURES.is_dir():
        pytest.fail(f"{SHARED_CAPTURES} is missing (CI needs ../shared/captures)")
    found = sorted(p for p in DATA.iterdir() if p.name.endswith((".pcap", ".pcapng", ".gz")))
    for path in found + shared_captures():
        try:
            model = scan(path, ScanOptions(taps=frozenset({Tap.SIP, Tap.RTP}), keep_going=True))
            result = model.calls()
        except RtcscopeError:
            continue  # (not a capture this reads; the scan's own tests cover it)
        yield result


@needs_c
def test_call_object_c_road_on_every_capture() -> None:
    """Every call of every capture here (and of ../shared/captures where present): the
    same object on both roads, with and without the lists."""
    road = _c_road()
    seen = 0
    for result in captures_calls():
        for call in result.calls:
            for detail in (True, False):
                made = road(call, result.first_ns, detail)
                assert _shape(made) == _shape(_python_road(call, result.first_ns, detail))
            seen += 1
    assert seen >= (50 if shared_captures() else 10)


def test_the_call_object_accelerator_is_built_and_active_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _timetext is not None
    assert calls.CALL_DICT_ROAD == calls.CALLS_TEXT_ROAD == "c"


@pytest.mark.parametrize("pure", ["1", "0", None])
def test_rtcscope_pure_selects_the_python_road(pure: str | None) -> None:
    """CALL_DICT_ROAD and CALLS_TEXT_ROAD (the calls' text: tests/sip/test_calls_text_c.py)
    in a fresh interpreter (the roads are chosen at import)."""
    out = fresh_python(
        "import rtcscope.sip.calls as c; print(c.CALL_DICT_ROAD, c.CALLS_TEXT_ROAD)", pure
    )
    expected = "python" if pure == "1" or _timetext is None else "c"
    assert out == f"{expected} {expected}"


def _own_times_call() -> _OwnTimes:
    usual = _usual_call()
    return _OwnTimes(*(getattr(usual, name) for name in calls.CallSummary.__dataclass_fields__))


@needs_c
@example(_own_times_call(), BASE, True)
@given(_calls, _firsts, st.booleans())
def test_a_call_summary_subclass_takes_the_python_road(
    call: Any, first_ns: Any, detail: bool
) -> None:
    """A subclass may compute duration_s and setup_ms its own way: the C road hands any call
    that is not exactly a CallSummary to the Python road."""
    made = _outcome(_c_road(), call, first_ns, detail)
    assert made == _outcome(_python_road, call, first_ns, detail)
    if type(call) is _OwnTimes and made[0] == "dict":
        assert ("duration_s", (float, 42.0)) in made[1]
        assert ("setup_ms", (int, 7)) in made[1]


class _Changing:
    """A stamp equal to ``value`` (a stamp the call has already: the C road finds it
    known and reads on) whose __hash__ and __eq__ run ``change`` first: Python code the C
    road runs while it reads a call's lists."""

    def __init__(self, change: Any, value: Any) -> None:
        self.change = change
        self.value = value

    def __hash__(self) -> int:
        self.change()
        return hash(self.value)

    def __eq__(self, other: object) -> bool:
        self.change()
        return bool(other == self.value)


class _ClearingLeg:
    """A leg whose call_id and initial_invites clear the call's legs when read."""

    def __init__(self, legs: list[Any], call_id: str, invites: list[Any]) -> None:
        self.legs = legs
        self._call_id = call_id
        self._invites = invites

    @property
    def call_id(self) -> str:
        self.legs.clear()
        return self._call_id

    @property
    def initial_invites(self) -> list[Any]:
        self.legs.clear()
        return self._invites


@needs_c
@pytest.mark.parametrize("part", ["legs", "sdp", "streams", "dtmf"])
def test_a_list_changed_while_it_is_read_is_no_crash(part: str) -> None:
    """Properties and __hash__ the C road calls may shrink the call's own lists: it reads
    copies (a crash, SIGSEGV, before), and makes the call's object."""
    for detail in (True, False):
        call = _usual_call()
        invite = _Transaction([_Request("10.0.0.1", 5060, "fd17::1", 5062, "udp")])
        if part == "legs":
            call.legs = []
            call.legs += [_ClearingLeg(call.legs, f"{n}@x", [invite] * 3) for n in range(40)]
        elif part == "sdp":
            call.sdp = [_OFFER] * 40
            call.sdp.append(_OFFER._replace(ts_ns=_Changing(call.sdp.clear, BASE)))
            call.sdp += [_OFFER] * 40
        elif part == "streams":
            call.streams = [_STREAM] * 40  # type: ignore[list-item]
            changing = _Stream(_STREAM.key, None, (0, 0), _Changing(call.streams.clear, BASE), BASE)
            call.streams += [changing] + [_STREAM] * 40  # type: ignore[list-item]
        else:
            dtmf = InfoDtmf(3, BASE, "5", 160, "caller", "x")
            call.dtmf = [dtmf] * 40
            call.dtmf.append(InfoDtmf(3, _Changing(call.dtmf.clear, BASE), "5", 160, "caller", "x"))  # type: ignore[arg-type]
        assert isinstance(_c_road()(call, BASE, detail), dict)


@needs_c
def test_keyboard_interrupt_in_a_property_goes_on_up() -> None:
    """Only an Exception hands the call to the Python road: Ctrl-C raised in a property the
    C road reads is raised, not cleared."""

    class _Interrupting:
        initial_invites: tuple[Any, ...] = ()

        @property
        def call_id(self) -> str:
            raise KeyboardInterrupt

    def refuse(*args: Any) -> Any:
        raise AssertionError("handed to the Python road")

    call = _usual_call()
    call.legs = [_Interrupting()]  # type: ignore[list-item]
    roads = (refuse, refuse, refuse, refuse, CallSummary)
    with pytest.raises(KeyboardInterrupt):
        _timetext.call_dict(roads, call, BASE, True)
