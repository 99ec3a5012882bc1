"""Tables written without rich's per-cell machinery (cli/output._plain_table) are the text rich
prints for the same table: rich itself is the reference, on many generated tables and on a
call list as ``rtcscope calls`` prints it."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

from rtcscope.cli.output import _plain_table, _table_text, make_table, terminal_text

_WORDS = ["a", "200 OK", "in progress", "ACK missing", "sip:alice@10.0.0.1", "x" * 30, "", "  "]
_WORDS += [" lead", "trail ", "mid  dle", "486 Busy Here", "c1-2@10.1.0.1", "a b c d e f g"]
_words = st.sampled_from(_WORDS)
_cells = _words | st.integers(0, 10**7) | st.floats(0, 1e4) | st.none() | st.booleans()
_cells |= st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def _rich_text(
    rows: list[dict[str, Any]], columns: list[str], title: str | None, width: int, wide: bool
) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    table = make_table(rows, columns, title)
    if wide:  # print_table's --wide on a pipe
        unbounded = console.options.update_width(1 << 20)
        console.width = max(console.width, console.measure(table, options=unbounded).maximum)
    console.print(table)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def _plain_text(
    rows: list[dict[str, Any]], columns: list[str], title: str | None, width: int, wide: bool
) -> str | None:
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    return _plain_table(
        console,
        [terminal_text(c) for c in columns],
        [[_table_text(row.get(c)) for c in columns] for row in rows],
        title,
        wide,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["index", "from", "to", "state", "duration_s", "a long header"]),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    st.lists(st.lists(_cells, min_size=8, max_size=8), max_size=5),
    st.sampled_from([None, "SIP calls", "a title longer than some of the narrow tables are " * 2]),
    st.integers(8, 160),
    st.booleans(),
)
def test_plain_table_is_richs_text(
    columns: list[str], cells: list[list[Any]], title: str | None, width: int, wide: bool
) -> None:
    rows = [dict(zip(columns, row, strict=False)) for row in cells]
    plain = _plain_text(rows, columns, title, width, wide)
    # None: a column too narrow to hold a character, rich prints it (assume: were the short
    # way never taken, hypothesis would fail for want of examples instead of passing empty)
    assume(plain is not None)
    assert plain == _rich_text(rows, columns, title, width, wide)


def test_a_call_list_on_80_columns_is_written_by_hand_as_rich_would() -> None:
    """The narrow call list at 80 columns folds its URIs: the short way is taken there (not
    None) and gives rich's text, wrapped cells and all."""
    columns = ["index", "start_s", "from", "to", "state", "final", "duration_s"]
    states = ["answered", "busy", "no response", "in progress"]
    finals = ["200 OK", "486 Busy Here", "408 Request Timeout", None]
    rows = [
        {
            "index": i,
            "start_s": i * 0.005,
            "from": f"sip:alice{i}@10.1.{i >> 8}.{i & 255}",
            "to": f"sip:bob{i}@10.2.{i >> 8}.{i & 255}",
            "state": states[i % 4],
            "final": finals[i % 4],
            "duration_s": 0.2 if i % 4 == 0 else None,
        }
        for i in range(60)
    ]
    for width in (80, 200):
        plain = _plain_text(rows, columns, "SIP calls", width, False)
        assert plain is not None
        assert plain == _rich_text(rows, columns, "SIP calls", width, False)
