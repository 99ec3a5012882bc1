"""Rendering shared by every command: a list of rows as a rich table, JSON or CSV.

Commands build plain data (lists of dicts with documented keys) and hand it here; nothing
here knows a protocol. Everything printed passes rtcscope.text's one escaping rule: table
cells and report text as terminal text (controls, invalid UTF-8 and bidi marks escaped,
long values cut, never read as rich markup), JSON with its exact values and valid UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from enum import Enum, StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rtcscope.errors import UsageError
from rtcscope.text import LINE_LIMIT, json_safe, terminal_text


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
    """Stable JSON: keys in the order given, two-space indent, UTF-8 kept; always valid
    UTF-8 with no raw control character (rtcscope.text.json_safe)."""
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return " ".join(_cell(v) for v in value)
    return str(value)


def format_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV with a header row; lists are joined by spaces, floats keep full precision.

    CSV has no escapes of its own: text cells take the terminal form (rtcscope.text), not cut.
    """
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
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


# How a row is styled in a table (e.g. "red" for a failed call), or None for plain.
RowStyle = Callable[[dict[str, Any]], str | None]


def make_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
    row_style: RowStyle | None = None,
) -> Table:
    """A rich table of ``rows``; every cell is a Text (never markup: "[fd17::1]" stays)."""
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(Text(terminal_text(col)), overflow="fold")
    for row in rows:
        table.add_row(
            *[Text(terminal_text(_cell(row.get(c)))) for c in columns],
            style=row_style(row) if row_style is not None else None,
        )
    return table


def stdout_console() -> Console:
    """A console for stdout. Rich decides width and colour: the terminal's width (or
    $COLUMNS, 80 when piped), colour only on a terminal that has it and without NO_COLOR.
    Packet text is never highlighted (numbers in a Call-ID are not a style)."""
    return Console(highlight=False)


def print_table(table: Table, wide: bool = False) -> None:
    """Print a table; ``wide`` on a pipe or file prints it at its natural width (whole
    lines for grep and less -S), on a terminal at the terminal's width."""
    console = stdout_console()
    if wide and not console.is_terminal:
        console.width = max(console.width, console.measure(table).maximum)
    console.print(table)


def print_text(text: str, style: str | None = None) -> None:
    """Print report text (many lines, packet values inside) through the one escaping rule;
    lines are never re-wrapped."""
    safe = terminal_text(text, limit=LINE_LIMIT, multiline=True)
    stdout_console().print(Text(safe, style=style or ""), soft_wrap=True)


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
        sys.stdout.write(format_json(list(rows) if json_data is None else json_data) + "\n")
    elif fmt is OutputFormat.csv:
        sys.stdout.write(format_csv(rows, columns))
    elif fmt is OutputFormat.table:
        print_table(make_table(rows, columns, title, row_style), wide)
    else:  # pragma: no cover - the enum is closed
        raise UsageError(f"unknown format {fmt}")
