"""``dataclass`` as the standard library makes it, except that each method it writes is
compiled when first used instead of when the class is defined.

The standard ``dataclasses.dataclass`` compiles every method it writes from source text
(``dataclasses._create_fn``, one ``exec`` each): ``__init__``, ``__repr__``, ``__eq__``, and
for a frozen class ``__hash__``, ``__setattr__``, ``__delattr__`` (and the order methods with
``order=True``). A command reaches its capture's first packet through ~120 dataclasses, and
compiling their methods was a third of its start-up (issue 14: ~80 ms of ~250 ms CPU for
``rtcscope calls`` on a small capture, measured), while most classes are never shown,
compared or hashed, and many never make an instance in a given command.

Here the standard library still decides everything (which methods, their text, hashing,
slots, frozen-ness); only the compiling of each method waits until its first call, which
compiles it as the standard library would have and puts it on the class in its place, so
later calls go straight to it. ``__init__`` also compiles when its signature is asked for
(``inspect.signature`` of the class: its default docstring, hypothesis's ``builds``).

This leans on a private API of the standard library: ``dataclasses._create_fn``, which
Python 3.11 and 3.12 call once per method; while a class is decorated here the module's
``_create_fn`` is swapped for one that makes the stand-ins, and put back after. On a Python
whose ``dataclasses`` has no ``_create_fn`` (3.13 builds all methods of a class in one
``exec``), this is ``dataclasses.dataclass`` itself. mypy sees the standard one.

The swap is process-wide: a lock makes the decorations made here one at a time (each puts
back what it found), but a class given the standard ``dataclasses.dataclass`` in another
thread during a swap gets stand-ins too (the same methods, compiled at first use).
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    _create_fn = getattr(dataclasses, "_create_fn", None)
    # One swap of dataclasses._create_fn at a time (re-entrant: a class decorated while
    # another is, in the same thread, would not wait on itself).
    _swapping = threading.RLock()

    def _put_in_place(owner_of: type, name: str, stand_in: object, made: Any) -> None:
        """Put the compiled method on the class whose namespace holds its stand-in (a class
        in ``owner_of``'s MRO), where the standard library would have put it."""
        for owner in owner_of.__mro__:
            if owner.__dict__.get(name) is stand_in:
                made.__qualname__ = f"{owner.__qualname__}.{name}"
                setattr(owner, name, made)
                return

    def _compiled_on_first_call(name: str, args: Any, body: Any, options: dict[str, Any]) -> Any:
        """A stand-in for method ``name`` (not ``__init__``) that compiles it on its first
        call."""
        made = None

        def method(self: Any, *rest: Any) -> Any:
            nonlocal made
            if made is None:
                made = _create_fn(name, args, body, **options)
                made.__qualname__ = method.__qualname__  # (a __repr__ stays wrapped)
                _put_in_place(type(self), name, method, made)
            return made(self, *rest)

        method.__name__ = method.__qualname__ = name
        method.__module__ = options.get("globals", {}).get("__name__")
        return method

    class _InitOnFirstCall:
        """The stand-in for ``__init__``: a method (a descriptor) that compiles the real one on
        its first call, or when ``inspect.signature`` asks for its ``__signature__``."""

        def __init__(self, args: Any, body: Any, options: dict[str, Any]) -> None:
            self._source = (args, body, options)
            self._made: Any = None

        def _compiled(self) -> Any:
            if self._made is None:
                args, body, options = self._source
                self._made = _create_fn("__init__", args, body, **options)
            return self._made

        @property
        def __signature__(self) -> inspect.Signature:
            return inspect.signature(self._compiled())

        def __get__(self, instance: Any, owner: type | None = None) -> Any:
            return self if instance is None else types.MethodType(self, instance)

        def __call__(self, instance: Any, *args: Any, **kwargs: Any) -> None:
            made = self._compiled()
            _put_in_place(type(instance), "__init__", self, made)
            made(instance, *args, **kwargs)

    def _create_fn_later(name: str, args: Any, body: Any, **options: Any) -> Any:
        if name == "__init__":
            return _InitOnFirstCall(args, body, options)
        return _compiled_on_first_call(name, args, body, options)

    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        """``dataclasses.dataclass(cls, **options)``, its methods compiled on first use
        (module docstring)."""
        if cls is None:
            return lambda cls: dataclass(cls, **options)
        if _create_fn is None:
            return dataclasses.dataclass(cls, **options)
        with _swapping:
            dataclasses._create_fn = _create_fn_later
            try:
                return dataclasses.dataclass(cls, **options)
            finally:
                dataclasses._create_fn = _create_fn
