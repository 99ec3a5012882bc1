"""print_text on a pipe or file writes the escaped text itself; rich (what it used before, and
still uses on a colour terminal) must print exactly the same bytes there."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from rtcscope.cli import output
from rtcscope.cli.output import FINDING_STYLES, print_text
from rtcscope.text import LINE_LIMIT, terminal_text


def _by_rich(text: str) -> str:
    """What rich printed for print_text's Text on a console without colour."""
    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, color_system=None, width=80)
    safe = terminal_text(text, limit=LINE_LIMIT, multiline=True)
    shown = Text()
    for number, line in enumerate(safe.split("\n")):
        if number:
            shown.append("\n")
        style = "bold red" if line.lstrip().startswith("[error]") else None
        shown.append(line, style=style)
    console.print(shown, soft_wrap=True)
    return buffer.getvalue()


_lines = st.lists(
    st.text(
        alphabet=st.sampled_from(list("ab [error]:\t  é中😀\x1b\r\x00\x7f\u200b\u0301─")),
        max_size=120,
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(_lines)
def test_plain_text_is_what_rich_printed(lines: list[str]) -> None:
    text = "\n".join(lines)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # the plain road is what is tested (FORCE_COLOR in the environment would make both
        # sides rich's)
        assert output.stdout_console().color_system is None
        print_text(text, line_styles=FINDING_STYLES)
    assert out.getvalue() == _by_rich(text)


def test_a_colour_terminal_still_gets_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(
        output,
        "stdout_console",
        lambda: Console(file=buffer, highlight=False, color_system="standard", force_terminal=True),
    )
    print_text("[error] the ACK never arrived", line_styles=FINDING_STYLES)
    assert "\x1b[1;31m[error] the ACK never arrived" in buffer.getvalue()
