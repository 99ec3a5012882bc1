"""A value in JSON data that can give its own text (rtcscope.cli.output's writer asks it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class LazyJson:
    """A value in JSON data that can give its own text: where the JSON writer
    (rtcscope.cli.output.write_json) meets it, ``text(level)`` gives the bytes
    ``format_json`` would write for ``make()`` at that indentation level (every line after
    the first indented by ``level`` levels), or None, and then ``make()`` is written;
    anywhere else (``format_json``) it is ``make()``. For a long list whose objects cost
    more to make than their text to write (the diagnosis's request paths). (The writer
    asks ``text(0)`` when it checks a document before writing it, and indents that text
    itself; a document orjson refuses is written from ``make()``.)"""

    __slots__ = ("make", "text")

    def __init__(self, make: Callable[[], Any], text: Callable[[int], bytes | None]) -> None:
        self.make = make
        self.text = text


class LazyJsonList:
    """A list in JSON data whose members can give their own text, a run at a time: where
    the JSON writer (rtcscope.cli.output.write_json) meets it, ``texts(run, level)`` gives
    ``(text, count)`` for a run of ``items`` (a slice): the bytes ``format_json`` writes
    for the first ``count`` members' values at that indentation level, each as a list's
    member ("," and a line feed between them, every line after the first indented by
    ``level`` levels); where ``count`` falls short of the run, the next member is written
    from ``make(item)``. With ``own``, each member is a document of its own, as an
    iterator's member (what orjson refuses in one is written by the standard library's
    road, that member only); without, the list is part of the document, as a list (one
    member orjson refuses: the whole document the standard library's; the writer's check
    makes the members' texts and keeps them for writing). Anywhere else (``format_json``)
    it is ``[make(item) for item in items]``. For a long list of objects that cost more to
    make than their text to write (the calls' objects of ``rtcscope calls`` and
    ``analyze``)."""

    __slots__ = ("items", "make", "own", "texts")

    def __init__(
        self,
        items: Sequence[Any],
        make: Callable[[Any], Any],
        texts: Callable[[Sequence[Any], int], tuple[bytes, int]],
        *,
        own: bool = True,
    ) -> None:
        self.items = items
        self.make = make
        self.texts = texts
        self.own = own

    def values(self) -> list[Any]:
        """The members' values (what ``format_json`` writes)."""
        return [self.make(item) for item in self.items]
