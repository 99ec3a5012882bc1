"""Our findings on the rules with a hadolint twin against hadolint 2.15's JSON, on the corpus.

Every disagreement must be one of the written reasons below (also in the README):

* ``wrapper``: the apt-get line runs through a wrapper (``sudo``, ``apt-dpkg-wrap``); we see
  the apt-get behind it, hadolint reads only the first word as the command.
* ``apt``: the line uses ``apt``, not ``apt-get``; hadolint's DL3014/DL3015 look only at
  ``apt-get`` (DL3027 flags ``apt`` itself), ours treat both alike.
* ``shellcheck-count``: egress's test image line 81: hadolint counts no commands in the RUN
  before it (line 74, six simple commands behind two ``--mount`` flags) and flags DL3059.
"""

from __future__ import annotations

from collections import Counter

import pytest

from rtcscope.dockerfile.catalogue import BY_HADOLINT
from rtcscope.dockerfile.config import LintConfig
from rtcscope.dockerfile.hadolint import run_hadolint
from rtcscope.dockerfile.lint import lint_text
from rtcscope.dockerfile.parse import parse_dockerfile
from tests.dockerfile.corpus import FILES

OURS_TO_HADOLINT = {rule.code: code for code, rule in BY_HADOLINT.items()}
KNOWN = {("egress__build__test__Dockerfile", "DL3059", 81): "shellcheck-count"}


def _reason(name: str, text: str, code: str, line: int) -> str | None:
    if (name, code, line) in KNOWN:
        return KNOWN[(name, code, line)]
    df = parse_dockerfile(text, name)
    ins = next(i for i in df.instructions if i.start_line <= line <= i.end_line)
    body = " ".join(ins.args)
    if "sudo apt-get" in body or "apt-dpkg-wrap apt-get" in body:
        return "wrapper"
    if code in ("DL3014", "DL3015") and "apt install" in body:
        return "apt"
    return None


# The counts written in tests/data/dockerfiles/README.md and the README (hadolint 2.15.1).
AGREED = 221
DIFFERENCES = {"wrapper": 32, "apt": 52, "shellcheck-count": 1}


@pytest.mark.peer
def test_findings_agree_with_hadolint_on_the_corpus() -> None:
    agreed = 0
    reasons: Counter[str] = Counter()
    unexplained = []
    for path in FILES:
        text = path.read_text()
        ours = {
            (OURS_TO_HADOLINT[f.code], f.line)
            for f in lint_text(text, path.name, LintConfig(enabled={"DF012"}))
            if f.code in OURS_TO_HADOLINT
        }
        theirs = {(f.code, f.line) for f in run_hadolint(path) if f.code in BY_HADOLINT}
        agreed += len(ours & theirs)
        for code, line in ours ^ theirs:
            reason = _reason(path.name, text, code, line)
            if reason is None:
                side = "ours only" if (code, line) in ours else "hadolint only"
                unexplained.append((path.name, code, line, side))
            else:
                reasons[reason] += 1
    assert not unexplained
    assert agreed == AGREED and dict(reasons) == DIFFERENCES


@pytest.mark.peer
def test_hadolint_cannot_parse_a_heredoc_followed_by_an_instruction(tmp_path) -> None:
    """The issue's example: hadolint 2.15 stops at DL1000; we read the heredoc and lint it."""
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM debian:12-slim\nRUN <<EOF\napt-get update\napt-get install curl\nEOF\nUSER nobody\n"
    )
    assert [f.code for f in run_hadolint(path)] == ["DL1000"]
    ours = {f.code for f in lint_text(path.read_text())}
    assert {"DF006", "DF008", "DF009"} <= ours


D = "FROM debian:12-slim\n"
B = "FROM debian:12-slim AS build\n"
HAND = [
    D + "RUN apt-get update && apt-get install curl\n",
    D + "RUN apt-get update && apt-get -qq install curl=7.88 && rm -rf /var/lib/apt/lists/*\n",
    D + "RUN apt-get update && apt-get install -o APT::Install-Recommends=false -y a\n",
    D + "RUN apt-get update && apt-get install --yes ./local.deb\n",
    D + "ENV PIP_NO_CACHE_DIR=1\nRUN pip install requests\n",
    D + "RUN pip3 install requests && python3 -m pip install --no-cache-dir x\n",
    D + "RUN --mount=type=cache,target=/root/.cache/pip pip install y\n",
    D + "ADD app.py /app/\nADD https://example.org/x.tgz /x\nADD a.tar.gz b /c/\n",
    D + "ADD rootfs.tar.xz /\n",
    B + "RUN apt-get update\nFROM build\n"
    "RUN apt update && apt install -y --no-install-recommends x\n",
    B + "RUN apt-get update && apt-get install -y a\nFROM scratch\nCOPY --from=build /a /a\n",
    D + "RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y a\n",
    D + "RUN echo a\n# comment\nRUN echo b\nRUN --mount=type=tmpfs,target=/t echo c\n"
    "RUN echo d && echo e\n",
]


@pytest.mark.peer
@pytest.mark.parametrize("text", HAND)
def test_hand_written_cases_agree_with_hadolint(tmp_path, text: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ours = {
        (OURS_TO_HADOLINT[f.code], f.line)
        for f in lint_text(text, config=LintConfig(enabled={"DF012"}))
        if f.code in OURS_TO_HADOLINT
    }
    theirs = {(f.code, f.line) for f in run_hadolint(path) if f.code in BY_HADOLINT}
    assert ours == theirs
