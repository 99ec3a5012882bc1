"""rtcscope._dataclass.dataclass makes the same classes as dataclasses.dataclass: each class
shape below is made by both, and their instances must compare, hash, show, order, refuse
assignment and copy alike (the methods compiled on first call, then put on the class)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope._dataclass import dataclass as lazy_dataclass

SHAPES: dict[str, dict[str, Any]] = {
    "plain": {},
    "frozen": {"frozen": True},
    "slots": {"slots": True},
    "frozen slots": {"frozen": True, "slots": True},
    "order": {"order": True},
    "frozen slots order": {"frozen": True, "slots": True, "order": True},
    "no eq": {"eq": False},
    "no repr": {"repr": False, "frozen": True},
    "unsafe hash": {"unsafe_hash": True},
    "kw only": {"kw_only": True, "slots": True},
}


def _make(decorator: Any, options: dict[str, Any]) -> type:
    class Point:
        """A point (a docstring of its own)."""

        x: int
        label: str = "p"
        tags: list[int] = dataclasses.field(default_factory=list, compare=False)

    Point.__module__ = __name__
    return decorator(**options)(Point)  # type: ignore[no-any-return]


def _undocumented(decorator: Any) -> type:
    class Bare:
        x: int
        y: str = "b"

    Bare.__module__ = __name__
    return decorator(frozen=True)(Bare)  # type: ignore[no-any-return]


def _outcome(action: Any) -> tuple[str, Any]:
    try:
        return ("value", action())
    except Exception as exc:
        return ("error", (type(exc).__name__, str(exc)))


def _behaviour(cls: type, a: tuple[int, str], b: tuple[int, str]) -> list[Any]:
    first, second = cls(x=a[0], label=a[1]), cls(x=b[0], label=b[1])
    twin = cls(x=a[0], label=a[1], tags=[1])
    seen = [
        repr(first),
        first == second,
        first == twin,
        first != second,
        first == "other",
        _outcome(lambda: hash(first) == hash(twin)),
        _outcome(lambda: first < second),
        _outcome(lambda: first >= second),
        _outcome(lambda: setattr(first, "x", 7)),
        _outcome(lambda: delattr(first, "label")),
        _outcome(lambda: setattr(first, "unknown", 1)),
        repr(copy.copy(second)),
        repr(dataclasses.replace(second, x=3)),
        [f.name for f in dataclasses.fields(cls)],
        str(inspect.signature(cls)),
        cls.__doc__,
        getattr(cls, "__match_args__", None),
        hasattr(cls, "__slots__"),
        cls.__hash__ is None,
    ]
    return [re.sub(" at 0x[0-9a-f]+", "", str(item)) for item in seen]  # object's own repr


@pytest.mark.parametrize("shape", sorted(SHAPES))
@given(
    a=st.tuples(st.integers(-5, 5), st.sampled_from(["p", "q", ""])),
    b=st.tuples(st.integers(-5, 5), st.sampled_from(["p", "q", ""])),
)
def test_the_same_class_as_the_standard_library(
    shape: str, a: tuple[int, str], b: tuple[int, str]
) -> None:
    options = SHAPES[shape]
    ours, theirs = _make(lazy_dataclass, options), _make(dataclasses.dataclass, options)
    assert _behaviour(ours, a, b) == _behaviour(theirs, a, b)
    # a second round goes through the methods put on the class by the first
    assert _behaviour(ours, b, a) == _behaviour(theirs, b, a)


def test_methods_are_compiled_on_first_call_and_replace_themselves() -> None:
    cls = _make(lazy_dataclass, {"frozen": True, "slots": True})
    stand_in = cls.__dict__["__eq__"]
    assert cls.__eq__.__qualname__ == "_make.<locals>.Point.__eq__"
    assert cls(1) == cls(1)
    made = cls.__dict__["__eq__"]
    assert made is not stand_in
    assert made.__qualname__ == stand_in.__qualname__
    assert cls(1) != cls(2)
    assert cls.__dict__["__eq__"] is made


def test_init_is_compiled_on_first_call_or_when_its_signature_is_asked_for() -> None:
    options = {"frozen": True, "slots": True, "kw_only": True}
    theirs, ours = _make(dataclasses.dataclass, options), _make(lazy_dataclass, options)
    assert not inspect.isfunction(ours.__dict__["__init__"])
    assert inspect.signature(ours) == inspect.signature(theirs)  # before any instance
    ours = _make(lazy_dataclass, options)
    assert repr(ours(x=1)) == repr(theirs(x=1))
    made = ours.__dict__["__init__"]
    assert inspect.isfunction(made)
    assert made.__qualname__ == theirs.__init__.__qualname__
    assert ours(x=2, label="q").label == "q"


def test_a_plain_subclass_reaches_the_stand_in_through_super() -> None:
    base = _make(lazy_dataclass, {"slots": True})

    class Child(base):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__(5, label="c")

    assert (Child().x, Child().label) == (5, "c")
    assert inspect.isfunction(base.__dict__["__init__"])
    assert base(5, "c") == base(x=5, label="c")


def test_a_subclass_calls_the_stand_in_of_its_base() -> None:
    base = _make(lazy_dataclass, {"frozen": True})
    child = type("Child", (base,), {})
    assert hash(child(1)) == hash(child(1))  # the stand-in found on base, replaced there
    assert "__hash__" not in child.__dict__
    assert base.__dict__["__hash__"](base(1)) == hash(base(1))


def test_a_class_without_docstring_is_described_by_its_fields() -> None:
    assert _undocumented(lazy_dataclass).__doc__ == _undocumented(dataclasses.dataclass).__doc__


def test_the_standard_library_is_left_as_it_was() -> None:
    create_fn = dataclasses._create_fn  # type: ignore[attr-defined]
    _make(lazy_dataclass, {"frozen": True})
    assert dataclasses._create_fn is create_fn  # type: ignore[attr-defined]
    theirs = _make(dataclasses.dataclass, {"frozen": True})
    assert "method" not in theirs.__dict__["__eq__"].__code__.co_name


@lazy_dataclass(frozen=True, slots=True)
class _Pickled:
    x: int
    label: str = "p"


def test_instances_pickle() -> None:
    assert pickle.loads(pickle.dumps(_Pickled(2, "z"))) == _Pickled(2, "z")
