"""--fix on every corpus file, checked without our parser where it matters: the result parses,
has no fixable finding left, a second fix changes nothing, each stage installs the same
package names (read by dockerfile-parse + shlex), and only RUN lines changed."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.dockerfile.lint import fix_text, lint_text
from rtcscope.dockerfile.parse import parse_dockerfile
from tests.dockerfile.corpus import FILES, corpus_ids, installed_per_stage, structure


def _run_lines(text: str) -> set[int]:
    lines: set[int] = set()
    for s in structure(text):
        if s["instruction"] == "RUN":
            lines.update(range(int(s["startline"]), int(s["endline"]) + 1))
    return lines


@pytest.mark.parametrize("path", FILES, ids=corpus_ids())
def test_fix_is_safe_and_idempotent(path) -> None:
    text = path.read_text()
    fixed = fix_text(text, path.name)
    parse_dockerfile(fixed, path.name)
    assert [f.code for f in lint_text(fixed, path.name) if f.fixable] == []
    assert fix_text(fixed, path.name) == fixed
    assert installed_per_stage(fixed) == installed_per_stage(text)
    run_lines = _run_lines(text)
    matcher = difflib.SequenceMatcher(a=text.splitlines(), b=fixed.splitlines(), autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            assert set(range(i1, i2)) <= run_lines, (path.name, i1, i2)


def test_fix_changes_the_corpus() -> None:
    """Guard against a fixer that does nothing: most files have something to fix."""
    changed = sum(fix_text(p.read_text(), p.name) != p.read_text() for p in FILES)
    assert changed >= 25


MERGE = """FROM debian:12-slim
# keep this comment
RUN apt-get update
# and this one
RUN apt-get install curl ca-certificates curl
"""


def test_merge_sort_dedupe_flags_and_cleanup_by_hand() -> None:
    assert fix_text(MERGE) == (
        "FROM debian:12-slim\n"
        "# keep this comment\n"
        "# and this one\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "    ca-certificates \\\n"
        "    curl \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
    )


def test_no_merge_when_or_would_swallow_the_update_failure() -> None:
    text = (
        "FROM debian:12-slim\nRUN apt-get update\n"
        "RUN apt-get install -y --no-install-recommends a || true\n"
    )
    codes = {f.code: f.fixable for f in lint_text(text)}
    assert codes["DF001"] is False
    assert "RUN apt-get update\n" in fix_text(text)


def test_comment_between_packages_is_left_alone() -> None:
    text = (
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "    zlib1g \\\n    # for TLS\n    libssl3 \\\n    && rm -rf /var/lib/apt/lists/*\n"
    )
    findings = {f.code: f.fixable for f in lint_text(text)}
    assert findings == {"DF004": False}
    assert fix_text(text) == text


def test_ignored_findings_are_not_fixed() -> None:
    text = (
        "FROM debian:12-slim\n# hadolint ignore=DL3015,DF004\n"
        "RUN apt-get update && apt-get install -y b a && rm -rf /var/lib/apt/lists/*\n"
    )
    assert {f.code for f in lint_text(text)} == {"DF003"}
    assert "--no-install-recommends" not in fix_text(text)


def test_crlf_file_stays_crlf() -> None:
    text = MERGE.replace("\n", "\r\n")
    fixed = fix_text(text)
    assert fixed == fix_text(MERGE).replace("\n", "\r\n")


PACKAGES = st.lists(st.sampled_from(["curl", "tshark", "sox", "sip-tester", "b", "a"]), min_size=1)
STEP = st.one_of(
    st.just("apt-get update"),
    st.builds(
        lambda flags, pkgs: f"apt-get install {flags}{' '.join(pkgs)}",
        st.sampled_from(
            ["", "-y ", "-qq ", "--no-install-recommends ", "-y --no-install-recommends "]
        ),
        PACKAGES,
    ),
    st.just("rm -rf /var/lib/apt/lists/*"),
    st.just("echo done"),
)
JOIN = st.sampled_from([" && ", " \\\n    && ", " && \\\n    # why\n    ", "; "])


def _run_text(steps: list[str], joins: list[str]) -> str:
    out = steps[0]
    for step, join in zip(steps[1:], joins, strict=False):
        out += join + step
    return out


@given(
    st.lists(
        st.tuples(st.lists(STEP, min_size=1, max_size=4), st.lists(JOIN, min_size=3, max_size=3)),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_fix_invariants_on_generated_dockerfiles(runs, two_stages: bool) -> None:
    lines = ["FROM debian:12-slim AS base"]
    for i, (steps, joins) in enumerate(runs):
        if two_stages and i == len(runs) // 2:
            lines.append("FROM base")
        lines.append("RUN " + _run_text(steps, joins))
    text = "\n".join(lines) + "\n"
    fixed = fix_text(text)
    parse_dockerfile(fixed)
    assert [f.code for f in lint_text(fixed) if f.fixable] == []
    assert fix_text(fixed) == fixed
    assert installed_per_stage(fixed) == installed_per_stage(text)


def test_fix_inside_a_heredoc_and_with_the_backquote_escape() -> None:
    heredoc = "FROM debian:12-slim\nRUN <<EOF\nset -e\napt-get update\napt-get install b a\nEOF\n"
    assert fix_text(heredoc) == (
        "FROM debian:12-slim\nRUN <<EOF\nset -e\napt-get update\n"
        "apt-get install -y --no-install-recommends \\\n    a \\\n    b\n"
        "rm -rf /var/lib/apt/lists/*\nEOF\n"
    )
    backquote = "# escape=`\nFROM debian:12-slim\nRUN apt-get update `\n  && apt-get install b a\n"
    assert fix_text(backquote) == (
        "# escape=`\nFROM debian:12-slim\nRUN apt-get update `\n"
        "  && apt-get install -y --no-install-recommends `\n      a `\n      b `\n"
        "  && rm -rf /var/lib/apt/lists/*\n"
    )
