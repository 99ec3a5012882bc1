"""Our instructions against dockerfile-parse on the corpus, and hand-written parses for what
the corpus lacks (heredocs, the escape directive, comments inside continuations)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.dockerfile.parse import DockerfileError, parse_dockerfile, run_script
from tests.dockerfile.corpus import FILES, corpus_ids, structure


@pytest.mark.parametrize("path", FILES, ids=corpus_ids())
def test_instructions_agree_with_dockerfile_parse(path) -> None:
    text = path.read_text()
    ours = parse_dockerfile(text, path.name).instructions
    theirs = structure(text)
    assert [(i.kind, i.start_line, i.end_line) for i in ours] == [
        (str(s["instruction"]), int(s["startline"]) + 1, int(s["endline"]) + 1) for s in theirs
    ]
    for mine, other in zip(ours, theirs, strict=True):
        value = str(other["value"])
        if mine.kind == "RUN" and not mine.json:
            # dockerfile-parse keeps the flags in the value; both drop continuations.
            assert " ".join(value.split()).endswith(" ".join(mine.args[0].split()))
        elif mine.kind in ("COPY", "ADD") and not mine.json:
            assert value.split()[-len(mine.args) :] == list(mine.args)


def test_every_shell_run_of_the_corpus_is_rebuilt_exactly() -> None:
    """The offset map behind --fix reproduces BuildKit's text for every shell-form RUN."""
    total = exact = 0
    for path in FILES:
        df = parse_dockerfile(path.read_text(), path.name)
        for ins in df.instructions:
            if ins.kind == "RUN" and not ins.json:
                script = run_script(df, ins)
                assert script is not None, (path.name, ins.start_line)
                total += 1
                exact += script.exact
                for i, ch in enumerate(script.text):
                    assert df.text[script.offsets[i]] == ch
    assert total > 250 and exact == total


HEREDOC = """# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=debian:12-slim
FROM ${BASE:-debian:12-slim} AS build
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN apt-get update \\
  # a comment line inside the continuation
  && apt-get install -y \\
     wget
COPY --from=build ["/a b", "/c"]
CMD ["rtcscope", "--help"]
"""


def test_hand_parse_heredoc_comments_exec_form() -> None:
    df = parse_dockerfile(HEREDOC)
    got = [(i.kind, i.start_line, i.end_line, i.json) for i in df.instructions]
    assert got == [
        ("ARG", 3, 3, False),
        ("FROM", 4, 4, False),
        ("RUN", 5, 8, False),
        ("RUN", 9, 12, False),
        ("COPY", 13, 13, True),
        ("CMD", 14, 14, True),
    ]
    assert df.stages[0].base == "${BASE:-debian:12-slim}" and df.stages[0].name == "build"
    heredoc = run_script(df, df.instructions[2])
    assert heredoc is not None and heredoc.heredoc and heredoc.exact
    assert [c.name for c in heredoc.commands] == ["apt-get", "apt-get"]
    cont = run_script(df, df.instructions[3])
    assert cont is not None and cont.exact
    assert cont.text == "apt-get update   && apt-get install -y      wget"
    assert [[w.text for w in c.words] for c in cont.commands] == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wget"],
    ]


def test_escape_directive_backquote() -> None:
    text = "# escape=`\nFROM debian:12-slim\nRUN apt-get update `\n  && apt-get install -y b a\n"
    df = parse_dockerfile(text)
    assert df.escape == "`"
    script = run_script(df, df.instructions[1])
    assert script is not None and script.exact and script.continuation == "`"
    assert [w.text for w in script.commands[1].words][-2:] == ["b", "a"]


@pytest.mark.parametrize(
    "text",
    ["", "hello world\n", "RUN echo before any FROM\n", "FROM a\nBOGUS x\n", "\x00\x01FROM"],
)
def test_not_a_dockerfile(text: str) -> None:
    with pytest.raises(DockerfileError):
        parse_dockerfile(text)


ALPHABET = st.sampled_from(list("FROMRUN apt-get\\\n#<>&|;'\"$(){}=-xy`"))


@given(st.text(alphabet=ALPHABET, max_size=200))
def test_any_text_parses_or_gives_a_typed_error(text: str) -> None:
    try:
        df = parse_dockerfile("FROM x\n" + text)
    except DockerfileError:
        return
    for ins in df.instructions:
        run_script(df, ins)


def test_from_substitutes_the_global_args() -> None:
    text = (
        "ARG BASE=debian:12-slim\nARG STAGE\nARG TAG=${BASE}\n"
        "FROM ${BASE:-ubuntu} AS build\nFROM ${STAGE:-build} AS runtime\n"
        "FROM $TAG\nFROM ${STAGE:+never}${UNSET-runtime}\n"
    )
    stages = parse_dockerfile(text).stages
    assert [(s.image, s.parent) for s in stages] == [
        ("debian:12-slim", None),
        ("build", 0),
        ("debian:12-slim", None),
        ("runtime", 1),
    ]
