"""A Dockerfile as BuildKit reads it, with the source text kept for byte-exact fixes.

The instructions come from the ``dockerfile`` package, which wraps BuildKit's own parser
(line continuations, comments inside continued lines, heredocs, exec and shell form, the
``escape`` directive). It drops comment lines from a continued instruction and does not
keep offsets, so the shell text of a RUN is rebuilt here from the source lines it spans,
with a map from each character back to its offset in the file: the fixes edit the file
through that map and leave every other byte alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as _bk
from rtcscope.dockerfile.shell import Command, ShellSyntaxError, split_commands
from rtcscope.errors import InputError

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*([A-Za-z]+)[ \t]*=[ \t]*(\S*)[ \t]*$")
_HEREDOC_ONLY = re.compile(r"^<<(-?)[ \t]*(['\"]?)([A-Za-z0-9_.-]+)\2[ \t]*$")


class DockerfileError(InputError):
    """The file is not a Dockerfile BuildKit would accept (exit code 3)."""


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: ``kind`` upper-case, lines 1-based and inclusive, ``stage`` the index
    of the FROM it belongs to (-1 for ARGs before the first FROM)."""

    kind: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool
    original: str
    heredocs: tuple[tuple[str, str], ...]
    stage: int


@dataclass(frozen=True, slots=True)
class Stage:
    """A FROM: ``base`` as written, ``image`` with the global ARGs substituted."""

    index: int
    base: str
    name: str | None
    line: int
    parent: int | None  # index of the stage this one is built FROM, if any
    image: str = ""


@dataclass(slots=True)
class Script:
    """The shell text a RUN hands to ``/bin/sh -c`` (or its heredoc script).

    ``offsets[i]`` is the offset in the file of ``text[i]``; ``offsets[len(text)]`` is the
    offset just after the last character. ``continuation`` is the character that continues
    a line inside this text (the Dockerfile's escape, or ``\\`` inside a heredoc).
    """

    text: str
    offsets: list[int]
    commands: list[Command]
    heredoc: bool
    continuation: str
    exact: bool  # the text matches BuildKit's parse: safe to edit through ``offsets``


@dataclass(slots=True)
class Dockerfile:
    text: str
    instructions: list[Instruction]
    stages: list[Stage]
    escape: str = "\\"
    line_starts: list[int] = field(default_factory=list)

    @property
    def newline(self) -> str:
        """The file's line end, for the lines a fix adds (CRLF files stay CRLF)."""
        return "\r\n" if "\r\n" in self.text else "\n"

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line end."""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        if m.end() < len(text):
            starts.append(m.end())
    return starts


def _escape_directive(text: str) -> str:
    """The ``# escape=`` parser directive (must come before any other line)."""
    for line in text.splitlines():
        m = _DIRECTIVE.match(line)
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            return m.group(2)
    return "\\"


def parse_dockerfile(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse ``text``; raises DockerfileError if BuildKit would refuse it or it has no FROM."""
    if "\x00" in text:
        raise DockerfileError(f"{name}: not a Dockerfile (binary content)")
    try:
        commands = _bk.parse_string(text)
    except _bk.GoParseError as exc:
        raise DockerfileError(f"{name}: not a Dockerfile: {exc}") from None
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    env: dict[str, str] = {}
    for cmd in commands:
        if not cmd.cmd:
            raise DockerfileError(
                f"{name}: not a Dockerfile: empty instruction at line {cmd.start_line}"
            )
        kind = cmd.cmd.upper()
        if kind not in KNOWN_INSTRUCTIONS:
            raise DockerfileError(
                f"{name}: not a Dockerfile: unknown instruction {cmd.cmd!r}"
                f" at line {cmd.start_line}"
            )
        if kind == "FROM":
            env = _global_args(instructions) if not stages else env
            stages.append(_stage(len(stages), cmd.value, cmd.start_line, stages, env))
        elif not stages and kind != "ARG":
            raise DockerfileError(
                f"{name}: not a Dockerfile: {kind} at line {cmd.start_line} comes before any FROM"
            )
        instructions.append(
            Instruction(
                kind=kind,
                start_line=cmd.start_line,
                end_line=cmd.end_line,
                flags=tuple(cmd.flags),
                args=tuple(cmd.value),
                json=cmd.json,
                original=cmd.original,
                heredocs=tuple((h.name, h.content) for h in cmd.heredocs),
                stage=len(stages) - 1,
            )
        )
    if not stages:
        raise DockerfileError(f"{name}: not a Dockerfile: no FROM instruction")
    return Dockerfile(text, instructions, stages, _escape_directive(text), _line_starts(text))


_VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")


def substitute(text: str, env: dict[str, str]) -> str:
    """BuildKit's variable forms: ``$V``, ``${V}``, ``${V:-word}``, ``${V-word}``,
    ``${V:+word}``, ``${V+word}`` (an unset variable without default is empty)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        value = env.get(name)
        if op == ":-":
            return value if value else word
        if op == "-":
            return value if value is not None else word
        if op == ":+":
            return word if value else ""
        if op == "+":
            return word if value is not None else ""
        return value or ""

    return _VARIABLE.sub(one, text)


def _global_args(instructions: list[Instruction]) -> dict[str, str]:
    """The ARGs before the first FROM: the only variables FROM can use."""
    env: dict[str, str] = {}
    for ins in instructions:
        for arg in ins.args:
            name, eq, value = arg.partition("=")
            if eq:
                env[name] = substitute(value.strip("\"'"), env)
    return env


def _stage(
    index: int, value: tuple[str, ...], line: int, earlier: list[Stage], env: dict[str, str]
) -> Stage:
    base = value[0] if value else ""
    alias = value[2] if len(value) >= 3 and value[1].upper() == "AS" else None
    image = substitute(base, env)
    names = {s.name.lower(): s.index for s in earlier if s.name}
    return Stage(index, base, alias, line, names.get(image.lower()), image)


def _logical_lines(df: Dockerfile, ins: Instruction) -> tuple[str, list[int]]:
    """The instruction's text with continuations joined and comment lines dropped, as
    BuildKit joins them, and the file offset of every character."""
    chars: list[str] = []
    offsets: list[int] = []
    last = ins.start_line if ins.heredocs else ins.end_line
    cont = re.compile(re.escape(df.escape) + r"[ \t]*$")
    end_offset = 0
    for line in range(ins.start_line, last + 1):
        content = df.line_text(line)
        start = df.line_starts[line - 1]
        stripped = content.strip()
        if line > ins.start_line and (not stripped or stripped.startswith("#")):
            continue
        m = cont.search(content) if line < last else None
        if m:
            content = content[: m.start()]
        chars.append(content)
        offsets.extend(range(start, start + len(content)))
        end_offset = start + len(content)
    offsets.append(end_offset)
    return "".join(chars), offsets


def run_script(df: Dockerfile, ins: Instruction) -> Script | None:
    """The shell script of a RUN in shell form (None for exec form or unreadable shell)."""
    if ins.kind != "RUN" or ins.json:
        return None
    text, offsets = _logical_lines(df, ins)
    m = re.match(r"[ \t]*RUN[ \t]+", text, re.I)
    pos = m.end() if m else 0
    while text.startswith("--", pos):
        flag = re.match(r"--\S+[ \t]*", text[pos:])
        pos += flag.end() if flag else 2
    command, offsets = text[pos:], offsets[pos:]
    expected = ins.args[0] if ins.args else ""
    exact = " ".join(command.split()) == " ".join(expected.split())
    heredoc = _HEREDOC_ONLY.match(command.strip())
    if heredoc and ins.heredocs:
        body = ins.heredocs[0][1]
        start = df.line_starts[ins.start_line] if ins.start_line < len(df.line_starts) else 0
        exact = heredoc.group(1) == "" and df.text[start : start + len(body)] == body
        command = body
        offsets = list(range(start, start + len(body) + 1))
        cont = "\\"
    else:
        cont = df.escape
    try:
        commands = split_commands(command)
    except ShellSyntaxError:
        return None
    return Script(command, offsets, commands, bool(heredoc and ins.heredocs), cont, exact)
