"""Many instances of a class with ``__slots__`` made from columns of field values: the stream
scanner's :meth:`~rtcscope.rtp.streams.StreamScanner.finish` makes a StreamKey and an
RtpStream (and ``attach_rtcp`` an RtcpReportView) for each of thousands of short streams,
where ``__init__``'s call per instance costs several times the stores.

:func:`objects_py` is the specification; :func:`objects` is it, or the same made in C
(rtcscope._slots, where it was built) unless RTCSCOPE_PURE is set. Likewise
:func:`items_py` and :func:`items`: the other way, a few fields of many tuples as columns
(finish reads the streams' keys and their SDP announcements so).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeAlias, TypeVar

from rtcscope._roads import c_wanted

T = TypeVar("T")


def objects_py(
    cls: type[T], fields: tuple[Any, ...], columns: tuple[Sequence[Any], ...]
) -> list[T]:
    """``len(columns[0])`` new instances of ``cls`` made by ``object.__new__`` (no
    ``__init__``: every field the instances need must be among ``fields``), instance i's
    field k set to ``columns[k][i]`` by ``fields[k].__set__``. ``fields``: member
    descriptors of ``cls``'s slots (``vars(cls)[name]``, or a base's); ``columns``: lists
    or tuples (not subclasses), one per field, all of one length (else ValueError, as a
    field given twice); anything else, or an abstract class, is a TypeError."""
    if cls.__new__ is not object.__new__:
        raise TypeError("objects: cls must be made by object.__new__")
    if cls.__flags__ & _TPFLAGS_IS_ABSTRACT:  # (abc: object.__new__ refuses it)
        raise TypeError("objects: cls is abstract")
    if not isinstance(fields, tuple) or not isinstance(columns, tuple):
        raise TypeError("objects: fields and columns must be tuples")
    if len(columns) != len(fields):
        raise ValueError("objects: a column per field")
    count = 0
    seen: set[Any] = set()
    for at, (field, column) in enumerate(zip(fields, columns, strict=True)):
        # (each field's checks in turn, in the C road's order: the same error first)
        if type(field) is not _MEMBER_DESCRIPTOR or not issubclass(cls, field.__objclass__):
            raise TypeError("objects: a field is no writable object slot of cls")
        if type(column) not in (list, tuple):  # (a subclass may iterate its own way)
            raise TypeError("objects: each column must be a list or a tuple")
        if at == 0:
            count = len(column)
        elif len(column) != count:
            raise ValueError("objects: the columns differ in length")
        if field in seen:
            raise ValueError("objects: a field given twice")
        seen.add(field)
    made: list[T] = list(map(object.__new__, repeat(cls, count)))
    for field, values in zip(fields, columns, strict=True):
        deque(map(field.__set__, made, values), 0)
    return made


def items_py(
    rows: list[tuple[Any, ...] | None],
    positions: tuple[int, ...],
    defaults: tuple[Any, ...],
    width: int,
) -> tuple[list[Any], ...]:
    """The columns of ``rows`` (a list of tuples of ``width`` items, or None for a row of
    ``defaults``) at ``positions``: column k is ``[row[positions[k]] if row is not None
    else defaults[k] for row in rows]``. ``rows`` not an exact list, positions or defaults
    not exact tuples, a position or the width not an int, a row neither a tuple nor None:
    TypeError; a position not within the width, defaults of another length, a row of
    another width: ValueError. Every row is checked before any is read; the columns are
    made before the rows are read."""
    if type(rows) is not list or type(positions) is not tuple:
        raise TypeError("items: rows must be a list, positions and defaults tuples")
    if type(defaults) is not tuple:
        raise TypeError("items: rows must be a list, positions and defaults tuples")
    if type(width) is not int:
        raise TypeError("items: the width must be an int")
    if len(defaults) != len(positions):
        raise ValueError("items: a default per position")
    for position in positions:
        if type(position) is not int:
            raise TypeError("items: each position must be an int")
        if not 0 <= position < width:
            raise ValueError("items: a position must be within the width")
    columns: tuple[list[Any], ...] = tuple([] for _ in positions)
    rows = rows[:]  # (as read now: a collection run below changes no row read)
    for row in rows:
        if row is not None:
            if not isinstance(row, tuple):
                raise TypeError("items: each row must be a tuple or None")
            if len(row) != width:
                raise ValueError("items: a row of another width")
    for row in rows:
        if row is None:
            deque(map(list.append, columns, defaults), 0)
        else:
            deque(map(list.append, columns, map(tuple.__getitem__, repeat(row), positions)), 0)
    return columns


class _Slotted:
    __slots__ = ("one",)


_MEMBER_DESCRIPTOR = type(vars(_Slotted)["one"])
_TPFLAGS_IS_ABSTRACT = 1 << 20  # Py_TPFLAGS_IS_ABSTRACT (Include/object.h)


def _roads() -> tuple[Callable[..., list[Any]], Callable[..., tuple[list[Any], ...]]]:
    if c_wanted():
        try:
            from rtcscope._slots import items as items_c
            from rtcscope._slots import objects as objects_c
        except ImportError:  # no compiler or no Python headers where it was installed
            pass
        else:
            return objects_c, items_c
    return objects_py, items_py


_ROADS = _roads()
# Which road :func:`objects` and :func:`items` take: "c" or "python".
objects: Callable[[type[T], tuple[Any, ...], tuple[Sequence[Any], ...]], list[T]] = _ROADS[0]
_Items: TypeAlias = Callable[
    [list[Any], tuple[int, ...], tuple[Any, ...], int], tuple[list[Any], ...]
]
items: _Items = _ROADS[1]
ROAD = "python" if objects is objects_py else "c"


Slots: TypeAlias = tuple[tuple[str, ...], tuple[Any, ...]]


def dataclass_slots(cls: type) -> Slots:
    """A slotted dataclass's field names, in order, and their member descriptors."""
    names = tuple(item.name for item in dataclasses.fields(cls))
    return names, tuple(vars(cls)[name] for name in names)


def dataclass_objects(cls: type[T], slots: Slots, columns: Mapping[str, Sequence[Any]]) -> list[T]:
    """:func:`objects` of a slotted dataclass (``slots``: :func:`dataclass_slots` of it),
    ``columns`` by field name: every field given (no default is applied), none other."""
    names, fields = slots
    if len(columns) != len(names) or not all(name in columns for name in names):
        raise ValueError(f"{cls.__name__}: every field's column, and no other")
    return objects(cls, fields, tuple(columns[name] for name in names))


# A dataclass field's default: its name, and the value or the factory that makes one.
Defaults: TypeAlias = tuple[tuple[str, Any, Callable[[], Any] | None], ...]


def dataclass_defaults(cls: type, names: Sequence[str] | None = None) -> Defaults:
    """The defaults of a dataclass's fields (``names``, or every field), read once so that
    :func:`default_columns` restates none of them; a field without one is a ValueError."""
    found = {item.name: item for item in dataclasses.fields(cls)}
    out: list[tuple[str, Any, Callable[[], Any] | None]] = []
    for name in found if names is None else names:
        item = found[name]
        if item.default is not dataclasses.MISSING:
            out.append((name, item.default, None))
        elif item.default_factory is not dataclasses.MISSING:
            out.append((name, None, item.default_factory))
        else:
            raise ValueError(f"{cls.__name__}.{name} has no default")
    return tuple(out)


def default_columns(defaults: Defaults, count: int) -> dict[str, list[Any]]:
    """``count`` of each default of ``defaults`` (:func:`dataclass_defaults`) as columns by
    field name: the one value repeated, or a new value of its factory each."""
    columns: dict[str, list[Any]] = {}
    for name, value, factory in defaults:
        if factory is None:
            columns[name] = [value] * count
        elif factory is list:  # (a literal: a call of list() each costs more)
            columns[name] = [[] for _ in range(count)]
        else:
            columns[name] = [factory() for _ in range(count)]
    return columns
