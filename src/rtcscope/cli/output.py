"""Rendering shared by every command: a list of rows as a rich table, JSON or CSV.

Commands build plain data (lists of dicts with documented keys) and hand it here; nothing
here knows a protocol.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from enum import Enum, StrEnum
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from rtcscope.errors import UsageError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def format_json(data: Any) -> str:
    """Stable JSON: keys in the order given, two-space indent, UTF-8 kept.

    orjson writes it (the standard library's encoder runs in Python when indenting: seconds
    for the 45 MB of a 20,000-call ``calls --format json``); what orjson refuses (an integer
    beyond 64 bits, a string that is not UTF-8) goes through the standard library.
    """
    try:
        return orjson.dumps(
            data, default=_jsonable, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        ).decode("utf-8")
    except TypeError:
        return json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return " ".join(_cell(v) for v in value)
    return str(value)


def format_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV with a header row; lists are joined by spaces, floats keep full precision."""
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                repr(row.get(c)) if isinstance(row.get(c), float) else _cell(row.get(c))
                for c in columns
            ]
        )
    return buf.getvalue()


def make_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> Table:
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    return table


def stdout_console() -> Console:
    """A console for stdout; wide when not a terminal so pipes and files get whole lines."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True, highlight=False, soft_wrap=False)


def print_rows(
    rows: Sequence[dict[str, Any]],
    fmt: OutputFormat | str,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    json_data: Any = None,
) -> None:
    """Print rows as table, JSON (``json_data`` if given, else the rows) or CSV."""
    fmt = OutputFormat(fmt) if not isinstance(fmt, OutputFormat) else fmt
    if fmt is OutputFormat.json:
        sys.stdout.write(format_json(list(rows) if json_data is None else json_data) + "\n")
    elif fmt is OutputFormat.csv:
        sys.stdout.write(format_csv(rows, columns))
    elif fmt is OutputFormat.table:
        stdout_console().print(make_table(rows, columns, title))
    else:  # pragma: no cover - the enum is closed
        raise UsageError(f"unknown format {fmt}")
