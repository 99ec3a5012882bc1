"""The positional shell splitter against ``shlex`` (POSIX mode) on the same text."""

from __future__ import annotations

import shlex

from hypothesis import given
from hypothesis import strategies as st

from rtcscope.dockerfile.shell import ShellSyntaxError, split_commands, tokenize

WORDS = st.text(alphabet=st.sampled_from(list("abc-=./_ '\"\\")), min_size=1, max_size=12)


@given(st.lists(WORDS, min_size=1, max_size=8))
def test_words_match_shlex(parts: list[str]) -> None:
    text = " ".join(parts)
    try:
        expected = shlex.split(text, posix=True)
    except ValueError:
        expected = None
    try:
        tokens = tokenize(text)
    except ShellSyntaxError:
        assert expected is None
        return
    if expected is None:
        return  # shlex refuses a trailing backslash that sh takes literally
    assert [t.word.text for t in tokens] == expected
    for t in tokens:
        assert text[t.word.start : t.word.end] == t.word.raw


def test_commands_operators_wrappers_and_redirections() -> None:
    text = (
        'set -eux; case "$(dpkg --print-architecture)" in amd64) A=1 ;; esac && '
        "DEBIAN_FRONTEND=noninteractive sudo apt-get install -y curl 2>/dev/null "
        "| tee log || true; x=$((1+2)) [[ -f a ]]"
    )
    commands = split_commands(text)
    names = [c.name for c in commands]
    assert names == ["set", "case", "apt-get", "tee", "true", "[["]  # "in amd64" ends case
    apt = commands[2]
    assert [w.text for w in apt.words] == ["apt-get", "install", "-y", "curl"]
    assert [w.text for w in apt.assignments] == ["DEBIAN_FRONTEND=noninteractive"]
    assert [w.text for w in apt.redirects] == [">", "/dev/null"]
    assert apt.before == "&&" and apt.after == "|"
