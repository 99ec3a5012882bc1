"""The C road of slotted instances from columns (rtcscope._slots.objects) against its
specification, the pure-Python road (rtcscope.slotted.objects_py): the same instances (each
slot's value, the very object), or the same type of error for what either refuses; built and
active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import abc
import gc
import sys
from dataclasses import field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope import slotted
from rtcscope._dataclass import dataclass
from rtcscope.rtp.streams import RtcpReportView, RtpStream, StreamKey, _empty_views, _stream_keys
from rtcscope.scan.files import find_streams
from tests.conftest import DATA, IN_CI, c_module, needs_built
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
