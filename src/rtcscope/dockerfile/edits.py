"""The safe fixes, as edits of the file's text: (start offset, end offset, replacement).

An edit is offered only when the RUN's shell text was rebuilt exactly (``Script.exact``),
so every offset points at the byte the shell would read; what lies outside an edit is not
touched. Fixes never reorder commands, never change what a failing command does to the
build, and never move a package from one stage or RUN to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rtcscope.dockerfile.parse import Dockerfile, Script
from rtcscope.dockerfile.shell import Word, top_level_operators

if TYPE_CHECKING:
    from rtcscope.dockerfile.rules import AptCall, RunFacts

CLEANUP = "rm -rf /var/lib/apt/lists/*"
# Joining an update to the next RUN with `&&` keeps its failure fatal only when the RUN's
# commands are already joined by `&&` (or piped): `update && a || b` would run b.
_MERGE_SAFE_OPERATORS = frozenset({"&&", "|"})


@dataclass(frozen=True, slots=True)
class Edit:
    start: int
    end: int
    text: str

    def conflicts(self, other: Edit) -> bool:
        if max(self.start, other.start) < min(self.end, other.end):
            return True
        for a, b in ((self, other), (other, self)):
            if a.start == a.end and b.start < a.start < b.end:
                return True
        return False


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply the edits that do not conflict with an earlier one; insertions at one offset
    land in the order given."""
    accepted: list[Edit] = []
    for edit in edits:
        if edit in accepted or any(edit.conflicts(a) for a in accepted):
            continue
        accepted.append(edit)
    order = sorted(enumerate(accepted), key=lambda t: (t[1].start, t[0]), reverse=True)
    for _, edit in order:
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _source_end(script: Script, index: int) -> int:
    """File offset just after ``script.text[index - 1]``."""
    return script.offsets[index - 1] + 1


def _indent_of(df: Dockerfile, line: int) -> str:
    content = df.line_text(line)
    return content[: len(content) - len(content.lstrip())]


def insert_after_subcommand(script: Script, call: AptCall, option: str) -> tuple[Edit, ...]:
    word = call.subcommand_word
    if not script.exact or word is None:
        return ()
    at = _source_end(script, word.end)
    return (Edit(at, at, " " + option),)


def append_cleanup(df: Dockerfile, script: Script | None) -> tuple[Edit, ...]:
    """``&& rm -rf /var/lib/apt/lists/*`` after the RUN's last command."""
    if script is None or not script.exact or not script.commands:
        return ()
    if script.heredoc:
        at = script.offsets[len(script.text)]
        return (Edit(at, at, CLEANUP + df.newline),)
    body = script.text.rstrip()
    if body.endswith(("&", "|", "\\")):
        return ()
    at = _source_end(script, len(body))
    if body.endswith(";"):
        return (Edit(at, at, " " + CLEANUP),)
    first_line = df.line_of(script.offsets[0])
    if df.line_of(at - 1) == first_line:
        return (Edit(at, at, " && " + CLEANUP),)
    # A RUN on several lines gets the clean-up on a line of its own, indented like the
    # line where its last command starts (or by four when that is the RUN line itself).
    last = script.commands[-1]
    head = min(w.start for w in [*last.assignments, *last.words, *last.redirects])
    head_line = df.line_of(script.offsets[head])
    indent = _indent_of(df, head_line) if head_line != first_line else "    "
    return (Edit(at, at, f" {script.continuation}{df.newline}{indent}&& {CLEANUP}"),)


def merge_update_into_next(
    df: Dockerfile, runs: dict[int, RunFacts], index: int
) -> tuple[Edit, ...]:
    """Delete an update-only RUN and start the next RUN (which installs) with its update."""
    facts, following = runs.get(index), runs.get(index + 1)
    if facts is None or following is None or not facts.update_only:
        return ()
    here, there = facts.ins, following.ins
    script, target = facts.script, following.script
    if script is None or target is None or not target.exact or target.heredoc:
        return ()
    if there.stage != here.stage or there.flags != here.flags or not following.installs:
        return ()
    if following.updates or not top_level_operators(target.commands) <= _MERGE_SAFE_OPERATORS:
        return ()
    delete_from = df.line_starts[here.start_line - 1]
    delete_to = (
        df.line_starts[here.end_line] if here.end_line < len(df.line_starts) else len(df.text)
    )
    lead = target.commands[0]
    at = target.offsets[min(w.start for w in [*lead.assignments, *lead.words, *lead.redirects])]
    update = " ".join(script.text.split())
    return (Edit(delete_from, delete_to, ""), Edit(at, at, update + " && "))


def sort_key(word: Word) -> tuple[str, str]:
    """How packages are ordered: by their text, then as written."""
    return (word.text, word.raw)


def package_span_edit(df: Dockerfile, script: Script, call: AptCall) -> tuple[Edit, ...]:
    """Replace the package words by the same packages sorted, deduplicated, one per line."""
    packages = call.packages
    if not script.exact or not packages:
        return ()
    args = call.command.args
    first, last = args.index(packages[0]), args.index(packages[-1])
    if args[first : last + 1] != packages:
        return ()  # an option sits between two packages
    start = script.offsets[packages[0].start]
    end = _source_end(script, packages[-1].end)
    for p in packages:
        if df.text[script.offsets[p.start] : _source_end(script, p.end)] != p.raw:
            return ()
    first_line, last_line = df.line_of(start), df.line_of(end - 1)
    if any(df.line_text(n).lstrip().startswith("#") for n in range(first_line, last_line + 1)):
        return ()  # a comment between packages belongs to one of them: sorting would orphan it
    unique: list[str] = []
    for p in sorted(packages, key=sort_key):
        if p.raw not in unique:
            unique.append(p.raw)
    line_start = df.line_starts[first_line - 1]
    before = df.text[line_start:start]
    if before.strip() == "":
        indent, lead = before, ""
    else:
        word = call.subcommand_word or call.command.words[0]
        indent = _indent_of(df, df.line_of(script.offsets[word.start])) + "    "
        lead = f"{script.continuation}{df.newline}{indent}" if len(unique) > 1 else ""
    replacement = lead + f" {script.continuation}{df.newline}{indent}".join(unique)
    if replacement == df.text[start:end]:
        return ()
    return (Edit(start, end, replacement),)
