"""Split the shell text of a RUN into simple commands whose words keep their positions.

Why not bashlex or plain ``shlex``: the fixes must edit the Dockerfile byte for byte, so every
word needs its offset in the source, which ``shlex`` does not give; bashlex gives offsets but
refuses ``case ... esac``, ``$((...))`` and ``[[ ... ]]``, which real Dockerfiles use around
their apt-get lines (docker-jitsi-meet's base image has a ``case``). This lexer follows POSIX
sh token recognition (XCU 2.3: quotes, backslash, ``$(...)``, ``${...}``, backquotes, operators)
without parsing the grammar: a RUN is a list of simple commands joined by operators, which is
all the checks need. The tests hold its words against ``shlex.split`` on the same text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Control operators (XCU 2.9.3 lists, 2.9.2 pipelines) and the parentheses of subshells and
# case patterns, longest first.
_CONTROL = ("&&", "||", ";;", ";", "|", "&", "(", ")", "\n")
_REDIRECT = ("<<-", "<<", ">>", ">&", "<&", "<>", ">|", "&>", "<", ">")
# Reserved words that may start a command position without being the command (XCU 2.4).
_RESERVED_PREFIX = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_RESERVED_ALONE = frozenset({"fi", "done", "esac", "}", "in"})
# Programs that run the command that follows them; ``apt-dpkg-wrap`` is docker-jitsi-meet's.
WRAPPERS = frozenset({"sudo", "env", "nice", "nohup", "time", "eatmydata", "apt-dpkg-wrap"})


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word: ``raw`` as written (quotes kept), ``text`` with quotes removed.

    ``start``/``end`` index the text that was lexed. ``literal`` is false when the word
    expands (``$``, backquote, glob) so its value is not known before the shell runs it.
    """

    raw: str
    text: str
    start: int
    end: int
    literal: bool


@dataclass(slots=True)
class Command:
    """A simple command: assignments and wrappers stripped, redirections set apart.

    ``before``/``after`` are the control operators around it ("" at the ends of the text).
    """

    words: list[Word] = field(default_factory=list)
    assignments: list[Word] = field(default_factory=list)
    redirects: list[Word] = field(default_factory=list)
    before: str = ""
    after: str = ""

    @property
    def name(self) -> str:
        return self.words[0].text if self.words else ""

    @property
    def args(self) -> list[Word]:
        return self.words[1:]


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "control", "redirect"
    word: Word


class ShellSyntaxError(ValueError):
    """The text ends inside a quote or an expansion."""


def _skip_quoted(text: str, i: int) -> int:
    """Index after the quoted or expanded part that starts at ``text[i]``."""
    c = text[i]
    n = len(text)
    if c == "\\":
        return min(i + 2, n)
    if c == "'":
        j = text.find("'", i + 1)
        if j < 0:
            raise ShellSyntaxError(f"unterminated single quote at {i}")
        return j + 1
    if c == '"':
        j = i + 1
        while j < n:
            if text[j] == "\\":
                j += 2
            elif text[j] == '"':
                return j + 1
            elif text[j] in "$`":
                j = _skip_quoted(text, j)
            else:
                j += 1
        raise ShellSyntaxError(f"unterminated double quote at {i}")
    if c == "`":
        j = i + 1
        while j < n:
            if text[j] == "\\":
                j += 2
            elif text[j] == "`":
                return j + 1
            else:
                j += 1
        raise ShellSyntaxError(f"unterminated backquote at {i}")
    if c == "$" and i + 1 < n and text[i + 1] in "({":
        close = ")" if text[i + 1] == "(" else "}"
        opening = text[i + 1]
        depth = 1
        j = i + 2
        while j < n:
            ch = text[j]
            if ch in "\\'\"`" or (ch == "$" and j + 1 < n and text[j + 1] in "({"):
                j = _skip_quoted(text, j)
                continue
            if ch == opening:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise ShellSyntaxError(f"unterminated ${opening} at {i}")
    return i + 1


def _unquote(raw: str) -> str:
    """Quote removal (XCU 2.6.7) for the value of a word."""
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            if i + 1 < n:
                out.append(raw[i + 1])
            i += 2
        elif c == "'":
            j = raw.index("'", i + 1)
            out.append(raw[i + 1 : j])
            i = j + 1
        elif c == '"':
            j = i + 1
            while raw[j] != '"':
                if raw[j] == "\\" and raw[j + 1] in '$`"\\\n':
                    out.append(raw[j + 1])
                    j += 2
                elif raw[j] in "$`":
                    k = _skip_quoted(raw, j)
                    out.append(raw[j:k])
                    j = k
                else:
                    out.append(raw[j])
                    j += 1
            i = j + 1
        elif c in "$`":
            k = _skip_quoted(raw, i)
            out.append(raw[i:k])
            i = k
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _is_literal(raw: str) -> bool:
    """No expansion outside single quotes and no unquoted glob character."""
    i = 0
    while i < len(raw):
        c = raw[i]
        if c in "'\\":
            i = _skip_quoted(raw, i)
            continue
        if c == '"':
            j = _skip_quoted(raw, i)
            if "$" in raw[i:j] or "`" in raw[i:j]:
                return False
            i = j
            continue
        if c in "$`*?[":
            return False
        i += 1
    return True


def tokenize(text: str) -> list[Token]:
    """Words, control operators and redirection operators of ``text``, with positions."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2  # a continuation inside a heredoc script
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        op = next((o for o in _CONTROL if text.startswith(o, i)), None)
        redir = next((o for o in _REDIRECT if text.startswith(o, i)), None)
        if redir is not None and (op is None or len(redir) > len(op)):
            tokens.append(Token("redirect", Word(redir, redir, i, i + len(redir), True)))
            i += len(redir)
            continue
        if op is not None:
            tokens.append(Token("control", Word(op, op, i, i + len(op), True)))
            i += len(op)
            continue
        start = i
        while i < n:
            c = text[i]
            if c in " \t\r\n;&|()<>":
                break
            i = _skip_quoted(text, i)
        raw = text[start:i]
        if i < n and text[i] in "<>" and raw.isdigit():
            continue  # an IO number (2>/dev/null): part of the redirection that follows
        tokens.append(Token("word", Word(raw, _unquote(raw), start, i, _is_literal(raw))))
    return tokens


def _is_assignment(word: Word) -> bool:
    name, eq, _ = word.raw.partition("=")
    return bool(eq) and name.isidentifier()


def split_commands(text: str) -> list[Command]:
    """The simple commands of ``text`` in order; raises ShellSyntaxError on open quotes."""
    commands: list[Command] = []
    current = Command()
    pending_redirect = False
    for token in tokenize(text):
        if token.kind == "control":
            if current.words or current.assignments or current.redirects:
                current.after = token.word.raw
                commands.append(current)
            current = Command(before=token.word.raw)
            pending_redirect = False
            continue
        if token.kind == "redirect":
            current.redirects.append(token.word)
            pending_redirect = True  # the next word is the target (or a heredoc's delimiter)
            continue
        word = token.word
        if pending_redirect:
            current.redirects.append(word)
            pending_redirect = False
            continue
        if not current.words and _is_assignment(word):
            current.assignments.append(word)
            continue
        if not current.words and word.raw in _RESERVED_PREFIX:
            continue
        current.words.append(word)
    if current.words or current.assignments or current.redirects:
        commands.append(current)
    for command in commands:
        _strip_wrappers(command)
    return [c for c in commands if c.words and c.words[0].raw not in _RESERVED_ALONE]


def _strip_wrappers(command: Command) -> None:
    """``sudo apt-get ...`` and ``env X=1 apt-get ...`` run apt-get: drop the wrapper words."""
    while command.words and command.words[0].text in WRAPPERS:
        rest = command.words[1:]
        while rest and (rest[0].raw.startswith("-") or _is_assignment(rest[0])):
            rest = rest[1:]
        if not rest:
            return
        command.words = rest


def top_level_operators(commands: Sequence[Command]) -> set[str]:
    """The control operators that join the commands (what a merged command must respect)."""
    return {c.after for c in commands if c.after}
