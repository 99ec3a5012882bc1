"""``dataclass`` as the standard library makes it, except that the methods a command may never
call are compiled when first called instead of when the class is defined.

The standard ``dataclasses.dataclass`` compiles every method it writes from source text
(``dataclasses._create_fn``, one ``exec`` each): ``__init__``, ``__repr__``, ``__eq__``, and
for a frozen class ``__hash__``, ``__setattr__``, ``__delattr__`` (and the order methods with
``order=True``). A command reaches its capture's first packet through ~120 dataclasses, and
compiling their methods was a third of its start-up (issue 14: ~80 ms of ~240 ms CPU for
``rtcscope calls`` on a small capture, measured), while most instances are never shown,
compared, hashed or assigned to.

Here the standard library still decides everything (which methods, their text, hashing,
slots, frozen-ness); only the compiling of each method but ``__init__`` waits until its
first call, which compiles it as the standard library would have and puts it on the class in
its place, so later calls go straight to it. ``__init__`` is compiled at once: every class
that is used makes instances, and ``inspect.signature`` (which the class's default docstring
and hypothesis's ``builds`` read) must see its parameters.

On a Python whose ``dataclasses`` has no ``_create_fn`` (3.13 builds all methods of a class
in one ``exec``), this is ``dataclasses.dataclass`` itself. mypy sees the standard one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    _create_fn = getattr(dataclasses, "_create_fn", None)

    def _compiled_on_first_call(name: str, args: Any, body: Any, options: dict[str, Any]) -> Any:
        """A stand-in for method ``name`` that compiles it on its first call and puts it on
        the class (the one whose namespace holds the stand-in) in its place."""
        made = None

        def method(self: Any, *rest: Any) -> Any:
            nonlocal made
            if made is None:
                made = _create_fn(name, args, body, **options)
                made.__qualname__ = method.__qualname__
                for owner in type(self).__mro__:
                    if owner.__dict__.get(name) is method:
                        setattr(owner, name, made)
                        break
            return made(self, *rest)

        method.__name__ = method.__qualname__ = name
        method.__module__ = options.get("globals", {}).get("__name__")
        return method

    def _create_fn_later(name: str, args: Any, body: Any, **options: Any) -> Any:
        if name == "__init__":
            return _create_fn(name, args, body, **options)
        return _compiled_on_first_call(name, args, body, options)

    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        """``dataclasses.dataclass(cls, **options)``, its methods but ``__init__`` compiled
        on first call (module docstring)."""
        if cls is None:
            return lambda cls: dataclass(cls, **options)
        if _create_fn is None:
            return dataclasses.dataclass(cls, **options)
        dataclasses._create_fn = _create_fn_later
        try:
            return dataclasses.dataclass(cls, **options)
        finally:
            dataclasses._create_fn = _create_fn
