"""The C road of a call's "sdp" and "streams" JSON objects (rtcscope._timetext.sdp_entries
and stream_entries) against their specification, the pure-Python roads
(rtcscope.sip.calls._sdp_entries_py and _stream_entries_py): the same objects, keys in the
same order, the same values and types, or the same exception, for the values a capture
gives and for others (the C road hands an item it does not read itself to the Python
road's one-item function); RTCSCOPE_PURE=1 selects the Python roads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope.sip import calls
from rtcscope.sip.calls import SdpExchange
from tests.conftest import IN_CI, c_module

_timetext = c_module("rtcscope._timetext")

BASE = 1_700_000_000_000_000_000

_ints = st.integers(-(2**70), 2**70) | st.integers(0, 70_000) | st.sampled_from([-1, 0, 2**63])
_stamps = st.sampled_from([BASE, BASE + 1000, BASE + 2_000_000, 5, None]) | _ints
_texts = st.text(max_size=6) | st.sampled_from(["10.0.0.1", "fd17::1", "audio", "PCMU/8000"])
_values = st.none() | st.booleans() | _ints | _texts | st.floats(allow_nan=False)
# An instant as instants() makes it, or another value (a list, a short tuple).
_instants = st.tuples(st.floats(allow_nan=False) | st.none(), _texts | st.none()) | st.one_of(
    st.lists(_values, min_size=2, max_size=2), st.tuples(_values), _values
)
_at = st.dictionaries(_stamps, _instants, max_size=6)


def _outcome(road: Any, items: Any, at: Any) -> Any:
    try:
        made = road(items, at)
    except Exception as exc:  # the exception is what is compared
        return ("raised", type(exc), str(exc))
    return [(list(entry.items()), [type(v) for v in entry.values()]) for entry in made]


needs_c = pytest.mark.skipif(_timetext is None, reason="the C accelerator is not built here")


def _roads() -> tuple[Any, Any]:
    """The C roads as calls._entries_roads() makes them, called directly (not through
    ENTRIES_ROAD, which is the Python road under RTCSCOPE_PURE=1: Python against Python)."""
    assert _timetext is not None
    return (
        partial(_timetext.sdp_entries, calls._sdp_entry),
        partial(_timetext.stream_entries, calls._stream_entry),
    )


def test_the_c_road_makes_the_usual_objects_itself() -> None:
    """A capture's exchanges and streams are read in C, not handed back one by one."""
    if _timetext is None:
        pytest.skip("the C accelerator is not built here")

    def refuse(item: Any, at: Any) -> Any:
        raise AssertionError(f"handed to the Python road: {item!r}")

    sdps = [_OFFER, _OFFER._replace(ts_ns=BASE + 1000)]
    assert _timetext.sdp_entries(refuse, sdps, _AT) == calls._sdp_entries_py(sdps, _AT)
    streams = [_STREAM, _Stream(_Key("fd17::1", 1, "b", 2, 3), None, (1, 2), BASE + 1000, BASE)]
    assert _timetext.stream_entries(refuse, streams, _AT) == calls._stream_entries_py(streams, _AT)


_sdp = st.builds(
    SdpExchange,
    frame=_ints,
    ts_ns=_stamps,
    side=_texts,
    role=_texts,
    sip=_texts,
    media=_texts,
    address=_texts | st.none(),
    port=_ints,
    direction=_texts,
    codecs=st.tuples(_texts) | st.lists(_texts, max_size=3) | st.just(5),
    on_hold=st.booleans() | _values,
)
# Items that are not an exchange: plain tuples of 11 (read as one), shorter ones, values.
_other_sdp = st.tuples(*[_values] * 11) | st.tuples(_values, _stamps) | _values


_AT = {BASE: (0.0, "2023-11-14T22:13:20.000000+00:00"), BASE + 1000: (1e-06, "x")}
_OFFER = SdpExchange(
    7, BASE, "offer", "caller", "INVITE sip:b@x", "audio", "10.0.0.1", 4000, "sendrecv",
    ("PCMU/8000", "telephone-event/8000"), False,
)  # fmt: skip


@needs_c
@example([_OFFER, _OFFER._replace(ts_ns=BASE + 1000, side="answer", on_hold=True)], _AT)
@example([_OFFER._replace(ts_ns=BASE + 5)], _AT)  # an instant not converted: KeyError
@example([_OFFER], {BASE: [1.0, "a"]})  # another value where the pair was
@given(st.lists(_sdp | _other_sdp, max_size=4), _at | st.just([]))
def test_sdp_objects_c_road_is_the_python_road(sdps: list[Any], at: Any) -> None:
    c_road = _roads()[0]
    assert _outcome(c_road, sdps, at) == _outcome(calls._sdp_entries_py, sdps, at)


@dataclass(frozen=True)
class _Key:
    src: Any
    src_port: Any
    dst: Any
    dst_port: Any
    ssrc: Any


@dataclass(frozen=True)
class _Stream:
    key: Any
    codec: Any
    packets_lost: Any
    start_ns: Any
    end_ns: Any


@dataclass(frozen=True, slots=True)
class _SlotKey:
    """A key whose values are slots (as StreamKey's): the C road reads them at their offsets."""

    src: Any
    src_port: Any
    dst: Any
    dst_port: Any
    ssrc: Any


@dataclass(frozen=True, slots=True)
class _SlotStream:
    """A stream whose values but packets_lost are slots (as RtpStream's)."""

    key: Any
    codec: Any
    packets_lost: Any
    start_ns: Any
    end_ns: Any


_STREAM_FIELDS = ("key", "codec", "packets_lost", "start_ns", "end_ns")


class _EmptySlot(_SlotStream):
    """A slotted stream whose codec slot was never set (AttributeError on both roads)."""

    __slots__ = ()

    def __init__(self, key: Any) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "packets_lost", (1, 0))
        object.__setattr__(self, "start_ns", BASE)
        object.__setattr__(self, "end_ns", BASE)


class _OwnCodec(_SlotStream):
    """A slotted stream whose codec is a property of a subclass (not read at the slot)."""

    __slots__ = ()

    def __init__(self, key: Any, codec: Any, packets_lost: Any, start_ns: Any, end_ns: Any):
        values = (key, codec, packets_lost, start_ns, end_ns)
        for name, value in zip(_STREAM_FIELDS, values, strict=True):
            vars(_SlotStream)[name].__set__(self, value)  # (the slots, under the property)

    @property  # type: ignore[misc]
    def codec(self) -> Any:
        return "own"


class _Bare:
    """A stream without the attributes (AttributeError, as the Python road raises)."""


_ports = st.integers(0, 65_535) | _ints | st.booleans() | st.none()
_keys = st.builds(
    _Key,
    src=_texts | st.sampled_from(["10.0.0.1", "2001:db8::7", "\u0661.2"]) | _values,
    src_port=_ports,
    dst=_texts,
    dst_port=_ports,
    ssrc=st.integers(0, 2**32 - 1) | _ints | st.booleans(),
)
_keys = _keys | _keys.map(lambda k: _SlotKey(k.src, k.src_port, k.dst, k.dst_port, k.ssrc))
_streams = st.sampled_from([_Stream, _SlotStream, _OwnCodec]).flatmap(
    lambda cls: st.builds(
        cls,
        key=_keys | st.just(_Bare()),
        codec=_texts | st.none(),
        packets_lost=st.tuples(_ints, _ints) | st.lists(_ints, min_size=2, max_size=2) | _values,
        start_ns=_stamps,
        end_ns=_stamps,
    )
) | st.builds(_EmptySlot, _keys)


_STREAM = _Stream(_Key("10.0.0.1", 4000, "fd17::1", 5004, 0xDEADBEEF), "PCMU", (50, 1), BASE, BASE)


@needs_c
@example(
    [_STREAM, _Stream(_Key("10.0.0.2", 0, "10.0.0.3", 9, 1), None, (0, 0), BASE, BASE + 1000)], _AT
)
@example([_Stream(_Key("10.0.0.2", True, "10.0.0.3", 9, 2**64), None, (0, 0), BASE, BASE)], _AT)
@example(  # the widest numbers written in C: 19 digits, 16 hex digits, a 9th hex digit
    [
        _Stream(_Key("a", 2**63 - 1, "b", 10**18, 2**63 - 1), 0, (0, 0), BASE, BASE),
        _Stream(_Key("a", 10, "b", 99, 2**32), 0, (0, 0), BASE, BASE),
    ],
    _AT,
)
@example([_Stream(_Key("\u0661.2", 1, "x", 9, -1), None, (0, 0), BASE, BASE + 5)], _AT)
@given(st.lists(_streams | st.just(_Bare()), max_size=4), _at | st.just([]))
def test_stream_objects_c_road_is_the_python_road(streams: list[Any], at: Any) -> None:
    c_road = _roads()[1]
    assert _outcome(c_road, streams, at) == _outcome(calls._stream_entries_py, streams, at)


@dataclass(slots=True)
class _Big:
    key: Any
    codec: Any
    start_ns: Any
    end_ns: Any


class _Foreign:
    """A class holding another class's slot descriptors (_Big's), not its own:
    PyObject_GetAttr raises TypeError; the C road reads no object at _Big's offsets."""

    __slots__ = ("a", "b", "c", "d")
    packets_lost = (1, 0)
    key = vars(_Big)["key"]
    codec = vars(_Big)["codec"]
    start_ns = vars(_Big)["start_ns"]
    end_ns = vars(_Big)["end_ns"]


class _ForeignTiny:
    """As _Foreign, its objects smaller than _Big's (_Big's offsets lie past their end)."""

    __slots__ = ("a",)
    packets_lost = (1, 0)
    key = vars(_Big)["key"]
    codec = vars(_Big)["codec"]
    start_ns = vars(_Big)["start_ns"]
    end_ns = vars(_Big)["end_ns"]


@needs_c
def test_another_class_slots_are_not_read_at_their_offsets() -> None:
    c_road = _roads()[1]
    foreign = _Foreign()
    foreign.a, foreign.b = "PCMU", BASE  # type: ignore[attr-defined]
    foreign.c = _SlotKey("10.0.0.1", 4000, "10.0.0.2", 5004, 7)  # type: ignore[attr-defined]
    foreign.d = BASE  # type: ignore[attr-defined]
    tiny = []
    for i in range(500):
        one = _ForeignTiny()
        one.a = "x"  # type: ignore[attr-defined]
        tiny += [one, ("pad", i)]  # (whatever lies next to them)
    for stream in [foreign, *tiny[::2]]:
        made = _outcome(c_road, [stream], _AT)
        assert made == _outcome(calls._stream_entries_py, [stream], _AT)
        assert made[:2] == ("raised", TypeError)


@needs_c
def test_a_changed_class_is_read_again() -> None:
    """A slotted class changed after the C road learned it (codec made a property)."""

    @dataclass(slots=True)
    class Changed:
        key: Any
        codec: Any
        packets_lost: Any
        start_ns: Any
        end_ns: Any

    stream = Changed(_SlotKey("10.0.0.1", 4000, "10.0.0.2", 5004, 7), "PCMU", (1, 0), BASE, BASE)
    c_road = _roads()[1]
    assert _outcome(c_road, [stream], _AT) == _outcome(calls._stream_entries_py, [stream], _AT)
    Changed.codec = property(lambda self: "OPUS")  # type: ignore[assignment,method-assign]
    made = _outcome(c_road, [stream], _AT)
    assert made == _outcome(calls._stream_entries_py, [stream], _AT)
    assert ("codec", "OPUS") in made[0][0]


def test_the_entries_accelerator_is_built_and_active_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _timetext is not None
    assert calls.ENTRIES_ROAD == "c"


def test_rtcscope_pure_selects_the_python_roads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCSCOPE_PURE", "1")
    assert calls._entries_roads() == (calls._sdp_entries_py, calls._stream_entries_py)
    monkeypatch.setenv("RTCSCOPE_PURE", "0")
    expected = "python" if _timetext is None else "c"
    sdp_road = calls._entries_roads()[0]
    assert ("python" if sdp_road is calls._sdp_entries_py else "c") == expected
