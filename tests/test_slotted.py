"""The C road of slotted instances from columns (rtcscope._slots.objects) against its
specification, the pure-Python road (rtcscope.slotted.objects_py): the same instances (each
slot's value, the very object), or the same type of error for what either refuses; likewise
the columns of tuples (rtcscope._slots.items against rtcscope.slotted.items_py); built and
active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import abc
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import field
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope import slotted
from rtcscope._dataclass import dataclass
from rtcscope.rtp import streams as streams_module
from rtcscope.rtp.streams import (
    RtcpReportView,
    RtpStream,
    StreamKey,
    _empty_views,
    _stream_keys,
    stream_to_dict,
)
from rtcscope.scan.files import find_streams, scan_capture
from tests.conftest import DATA, IN_CI, c_module, needs_built, shared_captures
from tests.peers import fresh_python

_slots = c_module("rtcscope._slots")

needs_c = needs_built(_slots)


class _Three:
    __slots__ = ("a", "b", "c")


class _More(_Three):
    __slots__ = ("d",)


@dataclass(slots=True, frozen=True)
class _Frozen:
    x: int
    y: list[int] = field(default_factory=list)


class _NoSlots:
    pass


class _OwnNew(_Three):
    __slots__ = ()

    def __new__(cls) -> _OwnNew:
        return super().__new__(cls)


class _Abstract(_Three, abc.ABC):
    """Slotted, but abstract: object.__new__ refuses to make it."""

    __slots__ = ()

    @abc.abstractmethod
    def run(self) -> None: ...


class _Reversed(list[Any]):
    """A list that iterates its own way (its storage is not what it gives)."""

    def __iter__(self) -> Any:
        return iter(list(reversed(list(super().__iter__()))))

    def __len__(self) -> int:
        return super().__len__()


class _TupleOfOwn(tuple[Any, ...]):
    pass


_SLOT = {name: vars(_Three)[name] for name in ("a", "b", "c")} | {"d": vars(_More)["d"]}
_FIELDS = [*_SLOT.values(), vars(_Frozen)["x"], vars(_Frozen)["y"], "a", 1, None]
_CLASSES = [_Three, _More, _Frozen, _NoSlots, _OwnNew, int, StreamKey, _Abstract]
_VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)


def _outcome(road: Any, cls: Any, fields: Any, columns: Any) -> Any:
    try:
        made = road(cls, fields, columns)
    except (TypeError, ValueError) as exc:  # the roads must refuse alike
        return type(exc)
    names = [name for name in ("a", "b", "c", "d", "x", "y") if hasattr(cls, name)]
    # the values, by identity (the column's own objects), and unset slots as unset
    return [
        (type(one), [id(getattr(one, name)) if hasattr(one, name) else None for name in names])
        for one in made
    ]


@needs_c
@given(
    st.integers(min_value=0, max_value=len(_CLASSES) - 1),
    st.lists(st.integers(min_value=0, max_value=len(_FIELDS) - 1), max_size=5),
    st.integers(min_value=0, max_value=4),
    st.data(),
)
def test_the_c_road_is_the_python_road(
    class_at: int, field_at: list[int], count: int, data: Any
) -> None:
    # (classes and descriptors by position: hypothesis draws from lists of them slowly)
    cls = _CLASSES[class_at]
    fields = tuple(_FIELDS[at] for at in field_at)
    columns = tuple(
        data.draw(
            st.lists(_VALUES, min_size=count, max_size=count)
            | st.lists(_VALUES, max_size=5).map(tuple)
            | st.lists(_VALUES, min_size=count, max_size=count).map(_Reversed)
            | st.lists(_VALUES, min_size=count, max_size=count).map(_TupleOfOwn)
        )
        for _ in fields
    )
    if data.draw(st.booleans()):  # a column more or less, or not a tuple
        which = data.draw(st.integers(min_value=0, max_value=2))
        columns = [columns[:-1], (*columns, [1] * count), list(columns)][which]
    assert _slots is not None
    assert _outcome(_slots.objects, cls, fields, columns) == _outcome(
        slotted.objects_py, cls, fields, columns
    )


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
def test_an_abstract_class_or_a_subclassed_column_is_refused(road: str) -> None:
    """object.__new__ refuses an abstract class, and a list subclass may iterate its own
    way: both roads refuse both (the C road made the instances, and read the storage)."""
    objects = _slots.objects if road == "c" else slotted.objects_py
    with pytest.raises(TypeError):
        objects(_Abstract, (_SLOT["a"],), ([1, 2],))
    with pytest.raises(TypeError):
        objects(_Abstract, (), ())
    for column in (_Reversed([1, 2, 3]), _TupleOfOwn((1, 2, 3))):
        with pytest.raises(TypeError):
            objects(_Three, (_SLOT["a"],), (column,))


def _outcome_by_name(road: Any, cls: Any, fields: Any, columns: Any, names: Any) -> Any:
    try:
        made = road(cls, fields, columns)
    except Exception as exc:  # the roads must refuse alike
        return type(exc)
    return [[getattr(one, name) for name in names] for one in made]


@needs_c
def test_a_c_types_members_are_set_by_their_descriptors() -> None:
    """A member that is no writable object slot (an int: only a C type has one) is set by
    its descriptor on both roads: the value taken or refused alike (the C road refused
    every such member before)."""
    testcapi = pytest.importorskip("_testcapi")
    cases = [
        (testcapi.HeapGcCType, "value", [[1, 2, -3], ["x"], [2**70]]),
        (testcapi.HeapCTypeSubclass, "value2", [[4, 5], [None]]),
    ]
    for cls, name, columns in cases:
        assert type(vars(cls)[name]) is slotted._MEMBER_DESCRIPTOR
        for column in columns:
            args = (cls, (vars(cls)[name],), (column,))
            made = _outcome_by_name(_slots.objects, *args, [name])
            assert made == _outcome_by_name(slotted.objects_py, *args, [name])


@needs_c
def test_no_reference_is_lost_or_kept() -> None:
    """Each value gains the one reference its instance holds, and loses it with it."""
    assert _slots is not None
    values = [object() for _ in range(50)]
    before = [sys.getrefcount(value) for value in values]
    made = _slots.objects(_Three, (_SLOT["a"], _SLOT["c"]), (values, values[::-1]))
    assert [sys.getrefcount(value) for value in values] == [count + 2 for count in before]
    del made
    gc.collect()
    assert [sys.getrefcount(value) for value in values] == before


class _Pair(NamedTuple):
    a: Any
    b: Any


class _OwnGetItem(tuple[Any, ...]):
    """A tuple whose own __getitem__ is not its storage's: both roads read the storage."""

    def __getitem__(self, at: Any) -> Any:
        return "not stored"


def _items_outcome(road: Any, rows: Any, positions: Any, defaults: Any, width: Any) -> Any:
    try:
        columns = road(rows, positions, defaults, width)
    except (TypeError, ValueError, IndexError) as exc:  # the roads must refuse alike
        return type(exc)
    assert type(columns) is tuple and all(type(column) is list for column in columns)
    # the values, by identity (the rows' own objects or the defaults)
    return [[id(value) for value in column] for column in columns]


_ROW_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=2))
_ROWS = st.one_of(
    st.none(),
    st.lists(_ROW_VALUES, max_size=4).map(tuple),
    st.tuples(_ROW_VALUES, _ROW_VALUES).map(lambda pair: _Pair(*pair)),
    st.lists(_ROW_VALUES, max_size=3).map(_OwnGetItem),
    st.integers(),  # neither a tuple nor None
    st.lists(_ROW_VALUES, max_size=2),  # a list: no row
)
_POSITIONS = st.one_of(
    st.integers(min_value=-2, max_value=5),
    st.sampled_from([2**70, -(2**70), 2**63, True, "0"]),
)


@needs_c
@given(
    st.lists(_ROWS, max_size=6),
    st.lists(_POSITIONS, max_size=4),
    st.data(),
)
def test_the_c_items_are_the_python_items(rows: list[Any], positions: list[Any], data: Any) -> None:
    width = len(positions)
    defaults = tuple(data.draw(st.lists(_ROW_VALUES, min_size=width, max_size=width)))
    shape = data.draw(st.integers(min_value=0, max_value=5))
    row_width = data.draw(st.one_of(st.integers(min_value=-1, max_value=5), st.just(2**70)))
    # mostly well formed; else a default more, rows not a list, positions not a tuple...
    args: tuple[Any, Any, Any, Any] = (rows, tuple(positions), defaults, row_width)
    if shape == 1:
        args = (rows, tuple(positions), (*defaults, 0), row_width)
    elif shape == 2:
        args = (tuple(rows), tuple(positions), defaults, row_width)
    elif shape == 3:
        args = (rows, list(positions), defaults, row_width)
    elif shape == 4:
        args = (rows, _TupleOfOwn(positions), _TupleOfOwn(defaults), row_width)
    elif shape == 5:
        args = (rows, tuple(positions), defaults, float(row_width))
    assert _slots is not None
    assert _items_outcome(_slots.items, *args) == _items_outcome(slotted.items_py, *args)


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
def test_items_reads_named_tuples_and_defaults(road: str) -> None:
    items = _slots.items if road == "c" else slotted.items_py
    rows: list[Any] = [_Pair(1, "x"), None, (3, 4), _OwnGetItem((6, 7))]
    assert items(rows, (1, 0), ("b", "a"), 2) == (["x", "b", 4, 7], [1, "a", 3, 6])
    assert items([], (0,), (None,), 1) == ([],)
    assert items(rows, (), (), 2) == ()
    with pytest.raises(ValueError):
        items(rows, (2,), (None,), 2)  # beyond the width
    with pytest.raises(ValueError):
        items(rows, (-1,), (None,), 2)
    with pytest.raises(TypeError):
        items(rows, (True,), (None,), 2)


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
def test_items_refuses_a_row_of_another_width(road: str) -> None:
    """Each row has the width given, as zip(*rows, strict=True) checked it: a row wider
    or narrower than the others is refused, even where the positions read lie in it."""
    items = _slots.items if road == "c" else slotted.items_py
    with pytest.raises(ValueError):
        items([(1, 2), (3, 4, 5)], (0, 1), (None, None), 2)
    with pytest.raises(ValueError):
        items([(1, 2), (3,)], (0,), (None,), 2)
    with pytest.raises(ValueError):
        items([(1, 2, 3), None], (0, 1), (None, None), 2)
    assert items([(1, 2, 3), None], (0, 1), (None, None), 3) == ([1, None], [2, None])
    assert items([None], (2**63,), (0,), 2**70) == ([0],)  # (no tuple is as wide)
    with pytest.raises(ValueError):
        items([None, ()], (2**63,), (0,), 2**70)


@needs_c
def test_items_lose_or_keep_no_reference() -> None:
    """Each value gains one reference per column it is in, and loses them with them."""
    assert _slots is not None
    values = [object() for _ in range(40)]
    default = object()
    rows: list[Any] = [(values[i], values[i + 1]) for i in range(0, 40, 2)] + [None, None]
    before = [sys.getrefcount(value) for value in values]
    default_before = sys.getrefcount(default)
    columns = _slots.items(rows, (0, 1, 0), (default, default, default), 2)
    assert [sys.getrefcount(value) for value in values] == [
        count + (2 if at % 2 == 0 else 1) for at, count in enumerate(before)
    ]
    assert sys.getrefcount(default) == default_before + 6
    del columns
    gc.collect()
    assert [sys.getrefcount(value) for value in values] == before
    assert sys.getrefcount(default) == default_before
    for _ in range(3):  # a refused call keeps nothing either
        with pytest.raises(TypeError):
            _slots.items([*rows, 1], (0,), (default,), 2)
    assert [sys.getrefcount(value) for value in values] == before
    assert sys.getrefcount(default) == default_before


@needs_c
@pytest.mark.parametrize(
    "path", [*shared_captures(), *sorted(DATA.glob("*.pcap*"))], ids=lambda p: p.name
)
def test_the_streams_finish_makes_are_the_same_on_both_roads(
    path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finish reads the streams' keys and announcements through items: every capture's
    streams (each field, the statistics and RTCP) are the same on the C and Python roads."""

    def found() -> list[Any]:
        result = scan_capture(path, with_rtcp=True, with_dtmf=True)
        return [(stream_to_dict(s), repr(s)) for s in result.streams]

    monkeypatch.setattr(streams_module, "items", _slots.items)
    by_c = found()
    monkeypatch.setattr(streams_module, "items", slotted.items_py)
    assert found() == by_c


def test_the_stream_objects_are_the_dataclasses_own() -> None:
    """What finish and attach_rtcp make from columns equals what __init__ makes of the
    same values: every slot set, the defaults finish does not know yet the dataclass's,
    nothing a __post_init__ would change."""
    keys = [("10.0.0.1", 4000, "10.0.0.2", 5000, 7), ("::1", 1, "::2", 2, 2**32 - 1)]
    assert _stream_keys(keys) == [StreamKey(*key) for key in keys]
    views = _empty_views(3)
    assert views == [RtcpReportView()] * 3
    assert views[0].xr_blocks is not views[1].xr_blocks
    assert views[0].implausible is not views[1].implausible
    names, _ = slotted.dataclass_slots(RtpStream)
    seen = 0
    for capture in ("sip-rtp-opus.pcap", "rtp-events.pcap", "srtcp-call.pcap"):
        for stream in find_streams(DATA / capture, with_rtcp=True, with_dtmf=True):
            values = {name: getattr(stream, name) for name in names}  # (an unset slot raises)
            again = RtpStream(**values)
            assert again == stream
            assert repr(again) == repr(stream)
            assert [getattr(again, name) for name in names] == list(values.values())
            seen += 1
    assert seen >= 3
    # a stream's fields as finish gives them before RTCP and numbering: the defaults
    finished = find_streams(DATA / "sip-rtp-opus.pcap")
    for stream in finished:
        assert (stream.ssrc_changes, stream.rtcp, stream.restart_of_ssrc) == (0, None, None)


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _slots is not None
    assert slotted.ROAD == "c"


def _road_with(pure: str | None) -> str:
    """rtcscope.slotted.ROAD in a fresh interpreter with RTCSCOPE_PURE so."""
    probe = "import rtcscope.slotted as s; print(s.ROAD)"
    return fresh_python(probe, pure)


def test_rtcscope_pure_selects_the_python_road() -> None:
    built = "c" if _slots is not None else "python"
    assert _road_with("1") == "python"
    assert _road_with("0") == built
    assert _road_with(None) == built


@contextmanager
def _collecting(callback: Callable[[str, dict[str, Any]], None]) -> Iterator[None]:
    """``callback`` is a gc callback, and a collection runs at almost every allocation of
    a container (threshold 1), for the time of the block."""
    old = gc.get_threshold()
    gc.collect()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(callback)


def _young_list_reader(length: int) -> tuple[list[int], Callable[[str, dict[str, Any]], None]]:
    """A gc callback that reads every young list of ``length`` a collection can hand out
    (a NULL item, in a list still in the making, would crash the reading), and the
    collections it saw."""
    collections: list[int] = []

    def look(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(1)
            for made in gc.get_objects(0):
                if type(made) is list and len(made) == length:
                    assert all(map(id, made))

    return collections, look


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
def test_a_collection_during_objects_finds_no_list_in_the_making(road: str) -> None:
    """A gc callback run by the instances' allocations reads every list it can find: the
    list of instances being made is not among them until full."""
    objects = _slots.objects if road == "c" else slotted.objects_py
    count = 3001
    column = list(range(count))
    collections, look = _young_list_reader(count)

    with _collecting(look):
        made = objects(_Three, (_SLOT["a"],), (column,))
    assert [instance.a for instance in made] == column
    assert collections  # (collections ran while the instances were made)


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
def test_a_collection_during_items_finds_no_column_in_the_making(road: str) -> None:
    """A gc callback run by the columns' allocations reads every list it can find: a
    column being made is not among them until full."""
    items = _slots.items if road == "c" else slotted.items_py
    count = 7777
    rows = [(at, -at) for at in range(count)]
    collections, look = _young_list_reader(count)

    with _collecting(look):
        for threshold in (1, 2, 3):  # (collections at other allocations)
            gc.set_threshold(threshold)
            columns = items(rows, (0, 1, 0, 1), (None,) * 4, 2)
    assert columns == ([*range(count)], [-at for at in range(count)]) * 2
    assert collections


@needs_c
@pytest.mark.parametrize("road", ["c", "python"])
@pytest.mark.parametrize("change", ["shorten", "lengthen"])
def test_items_reads_the_rows_as_a_collection_leaves_them(road: str, change: str) -> None:
    """A gc callback run as the columns are made changes the rows: both roads read the rows
    as the callback left them (the Python road makes its columns before reading)."""
    items = _slots.items if road == "c" else slotted.items_py
    rows: list[Any] = [(at, -at) for at in range(50)]
    fired: list[int] = []

    def change_rows(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and not fired:
            fired.append(1)
            if change == "shorten":
                del rows[10:]
            else:
                rows.extend([None] * 5)

    with _collecting(change_rows):
        columns = items(rows, (0, 1), (None, None), 2)
    assert fired
    expected = 10 if change == "shorten" else 55
    assert columns == ([row and row[0] for row in rows], [row and row[1] for row in rows])
    assert len(columns[0]) == expected
