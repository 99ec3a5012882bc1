"""A value in JSON data that can give its own text (rtcscope.cli.output's writer asks it)."""

from __future__ import annotations

from collections.abc import Callable
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
