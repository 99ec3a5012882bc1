"""Rendering shared by every command: a list of rows as a rich table, JSON or CSV.

Commands build plain data (lists of dicts with documented keys) and hand it here; nothing
here knows a protocol. Everything printed passes rtcscope.text's one escaping rule: table
cells and report text as terminal text (controls, invalid UTF-8 and bidi marks escaped,
long values cut, never read as rich markup), JSON with its exact values and valid UTF-8.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum, StrEnum
from functools import partial
from operator import le
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, NamedTuple, TextIO

import orjson
import typer

from rtcscope.errors import UsageError
from rtcscope.jsontext import dumps as _dumps
from rtcscope.jsontext import jsonable as _jsonable
from rtcscope.lazyjson import LazyJson, LazyJsonList
from rtcscope.text import LINE_LIMIT, json_safe, terminal_text

if TYPE_CHECKING:  # rich is imported where a table or text is printed (JSON and CSV: never)
    from rich.console import Console
    from rich.table import Table


def _has_divide_line() -> bool:
    """rich's own line division is there (private: a rich without it prints every table)."""
    try:
        from rich._wrap import divide_line  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed rich
        return False
    return True


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    """--format of the commands that print a report, not rows (analyze, extract, show):
    CSV is not offered where it could not be written."""

    table = "table"
    json = "json"


def format_json(data: Any) -> str:
    """Stable JSON: keys in the order given, two-space indent, UTF-8 kept; always valid
    UTF-8 with no raw control character (rtcscope.text.json_safe).

    orjson writes it (the standard library's encoder runs in Python when indenting: seconds
    for the 45 MB of a 20,000-call ``calls --format json``); what orjson refuses (an integer
    beyond 64 bits, a string holding bytes that were not UTF-8) goes through the standard
    library.
    """
    try:
        text = _dumps(data).decode("utf-8")
    except TypeError:
        return _refused_text(data)
    return json_safe(text)


def _refused_text(data: Any) -> str:
    """:func:`format_json`'s text of data orjson refuses: the standard library's, which
    writes some numbers otherwise (1e-05, not orjson's 0.00001; NaN, not null), so a
    document is written by one of the two, never pieces of both (:class:`_JsonWriter`)."""
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable))


def write_json_object(fields: dict[str, Any]) -> None:
    """Write ``fields`` as :func:`format_json` would, byte for byte, to standard output; a
    value that is an iterator (not a list) is written element by element as it is produced,
    so a long list need not be held as objects and text at once."""
    write_json(fields, depth=1)
    sys.stdout.write("\n")


def write_json(value: Any, *, depth: int = 3, level: int = 0) -> None:
    """Write ``value`` as :func:`format_json` would, byte for byte, to standard output,
    piece by piece: along the first ``depth`` levels, a container that holds a long list
    (or an iterator, at any level) is written member by member, everything else whole (one
    orjson call for a few call or stream objects, not one per field; the members of a long
    list are written whole but for iterators). Neither the whole text
    nor (with iterators) the whole data is held at once: ``analyze --format json`` on 20,000
    calls held ~0.5 GB of text in its three copies (orjson's bytes, the str, the escaped
    str)."""
    _JsonWriter(sys.stdout).document(value, depth, level)


# Members of a list written by one orjson call (a few KB of text each). Measured on
# analyze's sections of capture (b), 20,000 calls and 33,954 streams, writing to the byte
# buffer: one by one 0.48 s, 8 at a time 0.29 s, 32 0.26 s, 256 0.26 s.
_RUN = 32

# Encodings a text stream writes ASCII in unchanged (as orjson's bytes), and whether it
# writes a line feed unchanged (a text stream translates it to os.linesep).
_ASCII_AS_IS = frozenset({"utf-8", "UTF-8", "utf8", "ascii", "us-ascii", "ANSI_X3.4-1968"})
_LINES_AS_IS = os.linesep == "\n"


class _JsonWriter:
    """:func:`write_json` on one output. Under a text stream that writes ASCII and line
    feeds as they are (standard output), everything goes to its byte buffer: orjson's ASCII
    bytes as they are (no decoding to a str and encoding back), other text encoded as the
    stream encodes it; the stream is flushed once, first (not before each piece)."""

    __slots__ = ("_encoding", "_errors", "_lazy", "_raw", "_refused", "_text")

    def __init__(self, out: TextIO) -> None:
        self._text = out
        self._raw: BinaryIO | None = None
        self._encoding = getattr(out, "encoding", None) or "utf-8"
        self._errors = getattr(out, "errors", None) or "strict"
        buffer = getattr(out, "buffer", None)
        if buffer is not None and _LINES_AS_IS and self._encoding in _ASCII_AS_IS:
            out.flush()  # the text written before ours is in the buffer first
            self._raw = buffer
        # The document holds what orjson refuses: every piece is written by the standard
        # library (_refused_text), as format_json writes the whole document.
        self._refused = False
        # What the check found of each LazyJson (by id): its text at level 0, or its value.
        self._lazy: dict[int, Any] = {}

    def document(self, value: Any, depth: int, level: int) -> None:
        """``value`` as :func:`format_json` writes the whole of it: orjson's text, or where
        orjson refuses anything in it, the standard library's (their numbers differ:
        _refused_text). A document written in pieces is checked first, piece by piece
        (:meth:`_refuses`); an iterator's members, which cannot be looked at before they are
        made, are each a document of their own."""
        if _worth_streaming(value, depth):
            self._refused = self._refuses(value, depth, level)
        self.value(value, depth, level)

    def _refuses(self, value: Any, depth: int, level: int) -> bool:
        """Whether orjson refuses anything in ``value`` (at ``level``) but in its iterators:
        checked piece by piece along the levels the writer goes down (``depth``; a long
        list's members a run at a time), so no more text is made at once than writing makes
        (one orjson call on the whole of a 34,000-stream document held ~35 MB more at its
        peak). The members' text of a :class:`LazyJsonList` that is part of the document is
        made here and kept for writing (:meth:`_list_refuses`)."""
        lazy = self._lazy

        def probe(item: Any) -> Any:
            if type(item) is LazyJson:
                text = item.text(0)
                found = item.make() if text is None else text
                lazy[id(item)] = found
                return None if text is not None else found
            if isinstance(item, Iterator) or (type(item) is LazyJsonList and item.own):
                return None  # its members: documents of their own (_items, _texts)
            return _jsonable(item)

        def refused(piece: Any, down: int) -> bool:
            # (inside as many lists as the levels walked down: orjson's nesting limit counts
            # them as in the whole document)
            for _ in range(down):
                piece = [piece]
            try:
                orjson.dumps(piece, default=probe, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:
                return True
            return False

        def walk(piece: Any, depth: int, down: int) -> bool:
            kind = type(piece)
            if kind is LazyJsonList and not piece.own:
                return self._list_refuses(piece, level + down, partial(refused, down=down + 1))
            if depth > 0 and kind is dict:
                return refused(dict.fromkeys(piece), down) or any(
                    walk(m, depth - 1, down + 1) for m in piece.values()
                )
            if depth > 0 and (kind is list or kind is tuple):
                if len(piece) > _LONG_LIST:
                    return any(
                        refused(piece[i : i + _RUN], down) for i in range(0, len(piece), _RUN)
                    )
                return any(walk(m, depth - 1, down + 1) for m in piece)
            return refused(piece, down)

        return walk(value, depth, 0)

    def _list_refuses(
        self, value: LazyJsonList, level: int, refused: Callable[[Any], bool]
    ) -> bool:
        """Whether orjson refuses a member of ``value`` (at ``level``, part of the document):
        its members' texts, made a run at a time, are kept for writing (:meth:`_texts`; a
        member it gives no text for: its value, which ``refused`` checks)."""
        pieces: list[bytes | _Made] = []
        for piece in _pieces(value, level, texts=True):
            if type(piece) is _Made and refused(piece.value):
                return True
            pieces.append(piece)
        self._lazy[id(value)] = (level, pieces)
        return False

    def _write(self, text: str) -> None:
        if self._raw is None:
            self._text.write(text)
        else:
            self._raw.write(text.encode(self._encoding, self._errors))

    def _write_dumped(self, data: bytes, start: int, end: int) -> None:
        """orjson's text ``data[start:end]``, made safe (json_safe) where it needs it."""
        if self._raw is not None and data.isascii() and b"\x7f" not in data:
            self._raw.write(memoryview(data)[start:end])
        else:
            self._write(json_safe(data[start:end].decode("utf-8")))

    def value(self, value: Any, depth: int, level: int) -> None:
        if type(value) is LazyJson:
            # Its text at level 0 or its value, found by the check (or not: a refused
            # document stops orjson's check where it is refused).
            found = self._lazy.pop(id(value), None)
            if found is None and not self._refused:
                found = value.text(0)
            if type(found) is bytes and not self._refused:
                text = found.replace(b"\n", b"\n" + b"  " * level) if level else found
                self._write_dumped(text, 0, len(text))
                return
            value = value.make() if found is None or type(found) is bytes else found
        if type(value) is LazyJsonList:
            self._texts(value, level)
            return
        if not _worth_streaming(value, depth):
            if not self._whole("", [value], level):  # what orjson refuses: format_json's road
                self._write(_refused_text(value).replace("\n", "\n" + "  " * level))
        elif isinstance(value, dict):
            self._members(value, depth, level)
        else:
            self._items(value, depth, level)

    def _members(self, value: dict[str, Any], depth: int, level: int) -> None:
        inner = "\n" + "  " * (level + 1)
        opened = False
        for key, member in value.items():
            self._write(("," if opened else "{") + inner + format_json(key) + ": ")
            self.value(member, depth - 1, level + 1)
            opened = True
        self._write("\n" + "  " * level + "}" if opened else "{}")

    def _items(self, value: Any, depth: int, level: int) -> None:
        """A list or iterator, member by member. Members written whole go to orjson a run
        at a time (one C call for _RUN members, not one each). The members of a long list
        are written whole (one call or stream object each: its text is small), so nobody
        looks into each of 34,000 streams; in a short list or an iterator (analyze's
        sections), a member that holds a long list within ``depth - 1`` levels is written
        member by member. Iterators, which orjson refuses, are found when it refuses a
        run. An iterator's member written member by member is a document of its own
        (:meth:`document`: checked first), as is one written whole (:meth:`_run`)."""
        inner = "\n" + "  " * (level + 1)
        below = depth - 1
        look = below > 0 and not (isinstance(value, list | tuple) and len(value) > _LONG_LIST)
        own = not self._refused and not isinstance(value, list | tuple)  # members: documents
        opened = False
        run: list[Any] = []
        for item in value:
            if look and _holds_long_list(item, below):
                if run:
                    opened = self._run(opened, inner, run, below, level)
                    run = []
                self._write(("," if opened else "[") + inner)
                if own:
                    self.document(item, below, level + 1)
                    self._refused = False
                else:
                    self.value(item, below, level + 1)
                opened = True
                continue
            run.append(item)
            if len(run) == _RUN:
                opened = self._run(opened, inner, run, below, level)
                run = []
        if run:
            opened = self._run(opened, inner, run, below, level)
        self._write("\n" + "  " * level + "]" if opened else "[]")

    def _texts(self, value: LazyJsonList, level: int) -> None:
        """A :class:`LazyJsonList`: its members' text a run at a time (``texts``: one call and
        one write for _RUN members), or the texts the check kept (:meth:`_list_refuses`: a
        list that is part of the document). A member it gives no text for, and every member
        in a document orjson refuses, is written from its value, as an iterator's member is
        (:meth:`_items`: a document of its own, its text orjson's or the standard
        library's) or a list's (orjson's text: the document's check found none refused)."""
        inner = "\n" + "  " * (level + 1)
        kept = self._lazy.pop(id(value), None)  # (the check's texts)
        if kept is not None and kept[0] == level and not self._refused:
            pieces = _let_go(kept[1])
            del kept
        else:
            pieces = _pieces(value, level, texts=not self._refused)
        opened = False
        for piece in pieces:
            self._write(("," if opened else "[") + inner)
            if isinstance(piece, bytes):
                self._write_dumped(piece, 0, len(piece))
            else:
                self.value(piece.value, 0, level + 1)
            opened = True
        self._write("\n" + "  " * level + "]" if opened else "[]")

    def _run(self, opened: bool, inner: str, run: list[Any], depth: int, level: int) -> bool:
        """``run`` (members of a list at ``level``) after the list's text so far."""
        if self._whole(("," if opened else "[") + inner, run, level + 1):
            return True
        for item in run:  # orjson refused one: an iterator in it, or what format_json takes
            self._write(("," if opened else "[") + inner)
            self.value(item, depth, level + 1)
            opened = True
        return True

    def _whole(self, lead: str, members: list[Any], level: int) -> bool:
        """``lead``, then ``members`` as each one's :func:`format_json` text indented to
        ``level``, a comma and a line feed between them, no indent before the first; False
        (nothing written) where orjson refuses one of them.

        orjson indents them itself: ``members`` inside ``level - 1`` one-element lists puts
        them at ``level``; the text between the brackets is theirs."""
        if self._refused:
            return False
        wrapped: Any = members
        for _ in range(level - 1):
            wrapped = [wrapped]
        try:
            data = _dumps(members[0] if level == 0 else wrapped)  # level 0: one member
        except TypeError:
            return False
        # "[\n  [\n    A,\n    B\n  ]\n]" at level 2: the brackets' lines cut off both ends.
        head = level * (level + 1) + 2 * level
        tail = level * (level - 1) + 2 * level
        self._write(lead)
        self._write_dumped(data, head, len(data) - tail)
        return True


class _Made(NamedTuple):
    """A member of a :class:`LazyJsonList` its ``texts`` gave no text for: its value."""

    value: Any


def _pieces(value: LazyJsonList, level: int, *, texts: bool) -> Iterator[bytes | _Made]:
    """The members of ``value`` (a list at ``level``) a run at a time: the text ``texts``
    gives for the first members of a run, then the value of the member it gave no text for
    (with ``texts`` false: every member's value)."""
    items = value.items
    start = 0
    while start < len(items):
        run = items[start : start + _RUN]
        count = 0
        if texts:
            text, count = value.texts(run, level + 1)
            if count:
                yield text
        if count < len(run):
            yield _Made(value.make(run[count]))
            count += 1
        start += count


def _let_go(pieces: list[Any]) -> Iterator[bytes | _Made]:
    """``pieces``' members in order, each let go by the list as it is handed on."""
    for i, piece in enumerate(pieces):
        pieces[i] = None
        yield piece


_LONG_LIST = 32  # members: a longer list is written member by member

_SCALARS = frozenset({str, int, float, bool, type(None)})


def _worth_streaming(value: Any, depth: int) -> bool:
    """An iterator; or, within ``depth`` levels, a list longer than _LONG_LIST or a
    container with such a member (dicts with text keys only, as format_json's keys)."""
    kind = type(value)
    if kind in _SCALARS:
        return False
    if kind is LazyJson or kind is LazyJsonList:
        return True
    if kind is not list and kind is not tuple and kind is not dict and isinstance(value, Iterator):
        return True
    if depth <= 0:
        return False
    if isinstance(value, list | tuple):
        return len(value) > _LONG_LIST or any(_worth_streaming(v, depth - 1) for v in value)
    if isinstance(value, dict):
        return any(_worth_streaming(v, depth - 1) for v in value.values()) and all(
            isinstance(k, str) for k in value
        )
    return False


def _holds_long_list(value: Any, depth: int) -> bool:
    """:func:`_worth_streaming` for a value holding no iterator (type tests only)."""
    if type(value) is LazyJson or type(value) is LazyJsonList:
        return True
    if depth <= 0:
        return False
    if isinstance(value, list | tuple):
        return len(value) > _LONG_LIST or (
            depth > 1 and any(_holds_long_list(v, depth - 1) for v in value)
        )
    if isinstance(value, dict):
        return (
            depth > 1
            and any(_holds_long_list(v, depth - 1) for v in value.values())
            and all(isinstance(k, str) for k in value)
        )
    return False


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return " ".join(_cell(v) for v in value)
    if isinstance(value, dict):  # e.g. packets per source: "127.0.0.1: 36, ::1: 2"
        return ", ".join(f"{_cell(k)}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _table_text(value: Any) -> str:
    """A cell as a person reads it: yes/no, not Python's True/False; escaped packet text."""
    kind = type(value)  # the usual cells first: text and whole numbers, as they are
    if kind is str:
        shown = value
    elif kind is int:
        shown = str(value)
    elif kind is bool:
        shown = "yes" if value else "no"
    else:
        shown = _cell(value)
    return terminal_text(shown)


def format_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV with a header row; lists are joined by spaces, floats keep full precision.

    CSV has no escapes of its own: text cells take the terminal form (rtcscope.text), not cut.
    """
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([terminal_text(c, limit=None) for c in columns])
    for row in rows:
        writer.writerow(
            [
                repr(row.get(c))
                if isinstance(row.get(c), float)
                else terminal_text(_cell(row.get(c)), limit=None)
                for c in columns
            ]
        )
    return buf.getvalue()


# Tables show the columns that fit an 80-column terminal unless --wide is given.
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide", help="every column (default: the ones that fit 80 columns); whole lines in a pipe"
    ),
]

# How a row is styled in a table (e.g. "red" for a failed call), or None for plain.
RowStyle = Callable[[dict[str, Any]], str | None]


def make_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
    row_style: RowStyle | None = None,
) -> Table:
    """A rich table of ``rows``; every cell is a Text (never markup: "[fd17::1]" stays)."""
    from rich.text import Text

    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    table = _table(title)
    for col in columns:
        table.add_column(Text(terminal_text(col)), overflow="fold")
    for row in rows:
        table.add_row(
            *[Text(_table_text(row.get(c))) for c in columns],
            style=row_style(row) if row_style is not None else None,
        )
    return table


def _table(title: str | None) -> Table:
    """An empty table with the house style: no vertical rules and no outer edge (two spaces
    between columns leave the most of 80 columns to the values, and lines stay easy to cut
    and grep)."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )


_WHITESPACE_END = re.compile(r"\s+$")


def _cell_lines(text: str, width: int) -> list[str]:
    """``text`` wrapped into lines of ``width`` characters, each padded to it, as rich wraps
    a left-justified cell with overflow "fold" (rich's own line division: words kept whole
    where they fit, a longer word folded; whitespace past the width dropped)."""
    if len(text) <= width:
        return [text.ljust(width)]
    if " " not in text:  # one word (ASCII: no other whitespace): folded every width
        return [text[i : i + width].ljust(width) for i in range(0, len(text), width)]
    from rich._wrap import divide_line

    offsets = divide_line(text, width, fold=True)
    lines = []
    for start, end in zip([0, *offsets], [*offsets, len(text)], strict=True):
        line = text[start:end]
        if len(line) > width:
            found = _WHITESPACE_END.search(line)
            if found is not None:
                line = line[: len(line) - min(len(found.group()), len(line) - width)]
        lines.append(line[:width].ljust(width))
    return lines


def _measure(text: str) -> tuple[int, int]:
    """What rich measures of a plain one-line cell: the longest word (the whole text when it
    holds no word) and the whole text."""
    if " " not in text:  # one word (ASCII: no other whitespace)
        return len(text), len(text)
    words = text.split()
    return (max(map(len, words)) if words else len(text)), len(text)


def _plain_table(
    console: Console,
    headers: list[str],
    rows: list[list[str]],
    title: str | None,
    wide: bool,
) -> str | None:
    """The text rich prints for :func:`make_table`'s table on a console without colour, or
    None where that takes rich itself (text that is not ASCII, a line feed in a cell).

    Why by hand: rich lays out and renders each cell through several objects (~0.4 ms a
    row): 20,000 calls took seconds to print, ten times their JSON. The layout is rich's
    own: the column widths come from a stand-in table of one row per column extreme (rich
    measures a column by its widest word and widest cell only), cells are wrapped by rich's
    line division; tests compare the text with rich's on many tables.
    """
    from rich.text import Text

    ncols = len(headers)
    if not ncols or not _has_divide_line():
        return None  # no column (rich's own way of printing nothing), or no divide_line
    longest_word = [0] * ncols
    longest = [0] * ncols
    for row in rows:
        for j, text in enumerate(row):
            if len(text) > longest[j]:
                longest[j] = len(text)
            low, _ = _measure(text)
            if low > longest_word[j]:
                longest_word[j] = low
    everything = "".join(headers) + "".join(["".join(row) for row in rows]) + (title or "")
    if not everything.isascii() or any(c in everything for c in "\n\r\t"):
        return None
    proxy = _table(title)
    for header in headers:
        proxy.add_column(Text(header), overflow="fold")
    if rows:
        # One cell per column with the same extremes: a word as long as the longest word,
        # then one-letter words up to the longest cell's length.
        cells = []
        for j in range(ncols):
            low, high = longest_word[j], longest[j]
            rest = high - low
            cells.append(Text("x" * low + " x" * (rest // 2) + " " * (rest % 2)))
        proxy.add_row(*cells)
    try:
        options = console.options
        if wide:
            unbounded = options.update_width(1 << 20)
            width = max(console.width, console.measure(proxy, options=unbounded).maximum)
            options = options.update_width(width)
        extra = len(headers) - 1  # one space between columns, no edge
        widths = proxy._calculate_column_widths(
            console, options.update_width(options.max_width - extra)
        )
    except Exception:  # rich changed inside: let it print the table itself
        return None
    pads = [1] * (ncols - 1) + [0]  # right padding of each column but the last
    out: list[str] = []
    table_width = sum(widths) + extra
    if title:
        for line in _cell_lines(title, table_width):
            text = line.rstrip()
            left = (table_width - len(text)) // 2
            out.append(" " * left + text + " " * (table_width - len(text) - left))
    inner = [w - p for w, p in zip(widths, pads, strict=True)]
    if min(inner) < 1:
        return None  # a console too narrow for a column: rich's own corner cases

    def emit(cells: list[str], bottom: bool = False) -> None:
        """One row's lines: cells of fewer lines filled with blanks below (the header row:
        above, as rich aligns a header to the bottom)."""
        if all(map(le, map(len, cells), inner)):
            # Every cell fits its column (most rows): one line, each cell padded to its
            # width, two spaces between (the right padding and the column gap).
            out.append("  ".join(map(str.ljust, cells, inner)))
            return
        wrapped = [_cell_lines(text, inner[j]) for j, text in enumerate(cells)]
        height = max(map(len, wrapped))
        for k in range(height):
            line = []
            for j, lines in enumerate(wrapped):
                at = k - (height - len(lines)) if bottom else k
                line.append((lines[at] if 0 <= at < len(lines) else " " * inner[j]) + " " * pads[j])
            out.append(" ".join(line))

    emit(headers, bottom=True)
    out.append("─" * table_width)
    for row in rows:
        emit(row)
    return "\n".join(out) + "\n"


def stdout_console() -> Console:
    """A console for stdout. Rich decides width and colour: the terminal's width (or
    $COLUMNS, 80 when piped), colour only on a terminal that has it and without NO_COLOR.
    Packet text is never highlighted (numbers in a Call-ID are not a style)."""
    from rich.console import Console

    return Console(highlight=False)


def print_table(table: Table, wide: bool = False) -> None:
    """Print a table; ``wide`` on a pipe or file prints it at its natural width (whole
    lines for grep and less -S), on a terminal at the terminal's width."""
    console = stdout_console()
    if wide and not console.is_terminal:
        unbounded = console.options.update_width(1 << 20)
        console.width = max(console.width, console.measure(table, options=unbounded).maximum)
    console.print(table)


# Finding lines of diagnose/analyze text, coloured where the terminal has colour.
FINDING_STYLES = {"[error]": "bold red", "[warning]": "yellow"}


def print_text(
    text: str, style: str | None = None, line_styles: Mapping[str, str] | None = None
) -> None:
    """Print report text (many lines, packet values inside) through the one escaping rule;
    lines are never re-wrapped. ``line_styles`` styles the lines that start with a key."""
    safe = terminal_text(text, limit=LINE_LIMIT, multiline=True)
    console = stdout_console()
    if console.color_system is None and "\t" not in safe:
        # No colour (a pipe, a file, NO_COLOR): the styles show nothing, and rich would only
        # copy the text out line by line (5% of `analyze` on 5,000 calls): the same bytes
        # (tests/test_print_text.py), but for tabs, which rich expands by terminal cells.
        sys.stdout.write(safe + "\n")
        return
    from rich.text import Text

    shown = Text(style=style or "")
    for number, line in enumerate(safe.split("\n")):
        if number:
            shown.append("\n")
        lead = line.lstrip()
        line_style = next(
            (s for prefix, s in (line_styles or {}).items() if lead.startswith(prefix)), None
        )
        shown.append(line, style=line_style)
    console.print(shown, soft_wrap=True)


def print_rows(
    rows: Sequence[dict[str, Any]],
    fmt: OutputFormat | str,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    json_data: Any = None,
    row_style: RowStyle | None = None,
    wide: bool = False,
) -> None:
    """Print rows as table, JSON (``json_data`` if given, else the rows) or CSV."""
    fmt = OutputFormat(fmt) if not isinstance(fmt, OutputFormat) else fmt
    if fmt is OutputFormat.json:
        write_json(list(rows) if json_data is None else json_data)  # piece by piece
        sys.stdout.write("\n")
    elif fmt is OutputFormat.csv:
        sys.stdout.write(format_csv(rows, columns))
    elif fmt is OutputFormat.table:
        console = stdout_console()
        if console.color_system is None:  # no style to show: the same text, written faster
            names = list(rows[0].keys()) if columns is None and rows else list(columns or [])
            text = _plain_table(
                console,
                [terminal_text(c) for c in names],
                [[_table_text(row.get(c)) for c in names] for row in rows],
                title,
                wide and not console.is_terminal,
            )
            if text is not None:
                sys.stdout.write(text)
                return
        print_table(make_table(rows, columns, title, row_style), wide)
    else:  # pragma: no cover - the enum is closed
        raise UsageError(f"unknown format {fmt}")
