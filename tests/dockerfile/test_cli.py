"""``rtcscope dockerfile lint``: exit codes, the five formats, --fix/--diff, --hadolint,
hadolint-style ignores and config, and the project's own Dockerfile."""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.cli import main
from rtcscope.dockerfile.catalogue import RULES, format_rules_markdown
from rtcscope.dockerfile.config import LintConfig, load_config
from rtcscope.dockerfile.hadolint import run_hadolint
from rtcscope.dockerfile.lint import lint_text
from tests.conftest import ROOT

BAD = "FROM debian:12-slim\nRUN apt-get update\nRUN apt-get install curl\nADD app.py /app/\n"


def _lint(capsys, *args: str) -> tuple[int, str]:
    code = main(["dockerfile", "lint", *args])
    return code, capsys.readouterr().out


def test_exit_codes(tmp_path, capsys) -> None:
    good = tmp_path / "good"
    good.write_text("FROM debian:12-slim\nUSER nobody\n")
    bad = tmp_path / "bad"
    bad.write_text(BAD)
    other = tmp_path / "notes.txt"
    other.write_text("just some notes\n")
    assert _lint(capsys, str(good))[0] == 0
    assert _lint(capsys, str(bad))[0] == 1
    assert _lint(capsys, "--failure-threshold", "error", str(good))[0] == 0
    assert _lint(capsys, "--format", "xml", str(good))[0] == 2
    assert _lint(capsys, str(other))[0] == 3
    assert _lint(capsys, str(tmp_path / "missing"))[0] == 3
    assert _lint(capsys, "--enable", "DF999", str(good))[0] == 2
    assert _lint(capsys, "--diff", str(good))[0] == 2
    pinned = tmp_path / "pinned"
    pinned.write_text(
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y a=1 \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
    )
    assert _lint(capsys, "--failure-threshold", "warning", str(pinned))[0] == 0


def test_formats(tmp_path, capsys) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD)
    rows = json.loads(_lint(capsys, "-f", "json", str(bad))[1])
    codes = {r["code"] for r in rows}
    assert {"DF001", "DF002", "DF006", "DF008", "DF009", "DF014", "DF015"} <= codes
    first = rows[0]
    assert list(first) == [
        "file", "line", "column", "end_line", "code", "level", "message", "source", "rule",
        "url", "fixable", "twin",
    ]  # fmt: skip
    assert all(r["url"] == RULES[r["code"]].url for r in rows)
    sarif = json.loads(_lint(capsys, "-f", "sarif", str(bad))[1])
    assert sarif["version"] == "2.1.0"
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == codes
    root = ET.fromstring(_lint(capsys, "-f", "checkstyle", str(bad))[1])
    assert {e.get("source") for e in root.iter("error")} == {f"rtcscope.{c}" for c in codes}
    gnu = _lint(capsys, "-f", "gnu", str(bad))[1].splitlines()
    assert gnu[0].startswith(f"rtcscope:{bad}:2:1: DF001 warning: ")
    assert "see README.md#df001-apt-update-alone" in _lint(capsys, str(bad))[1]


def test_readme_rules_are_the_catalogue() -> None:
    """Every finding links to README.md#anchor: the README holds the generated rule list."""
    readme = (ROOT / "README.md").read_text()
    assert format_rules_markdown() in readme
    for rule in RULES.values():
        assert f"#### {rule.code} {rule.name}\n" in readme


def test_fix_diff_writes_nothing_and_fix_writes(tmp_path, capsys) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(BAD)
    code, out = _lint(capsys, "--fix", "--diff", str(path))
    assert code == 1  # what --fix cannot fix (ADD, the update-only RUN's lists) remains
    assert out.startswith(f"--- a/{path}") and "+RUN apt-get update && apt-get install" in out
    assert path.read_text() == BAD
    _lint(capsys, "--fix", str(path))
    assert path.read_text() != BAD
    assert not [f for f in lint_text(path.read_text()) if f.fixable]


def test_hadolint_pragmas_and_config(tmp_path) -> None:
    text = (
        "# hadolint global ignore=DL3020\n"
        "FROM debian:12-slim\n"
        "# hadolint ignore=DL3009,DF002\n"
        "RUN apt-get install -y --no-install-recommends a\n"
        "# hadolint ignore=DL3015\n"
        "\n"
        "RUN apt-get update && apt-get install -y a && rm -rf /var/lib/apt/lists/*\n"
        "ADD x /x\n"
    )
    codes = [(f.code, f.line) for f in lint_text(text)]
    # The pragma two lines above (blank line between) does not apply, as in hadolint.
    assert ("DF009", 7) in codes and ("DF002", 4) not in codes
    assert not any(c == "DF014" for c, _ in codes)
    config = tmp_path / ".hadolint.yaml"
    config.write_text("ignored: [DL3015]\noverride:\n  error: [DL3059]\nfailure-threshold: error\n")
    settings = load_config(None, cwd=tmp_path)
    assert settings.failure_threshold == "error"
    assert not any(f.code == "DF009" for f in lint_text(text, config=settings))
    two_runs = "FROM debian:12-slim\nRUN echo a\nRUN echo b\n"
    assert [f.level.name for f in lint_text(two_runs, config=settings)] == ["error"]
    assert lint_text(two_runs, config=LintConfig())[0].level.name == "info"


@pytest.mark.peer
def test_hadolint_findings_are_merged_and_marked(tmp_path, capsys) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(BAD)
    rows = json.loads(_lint(capsys, "--hadolint", "-f", "json", str(path))[1])
    sources = {(r["source"], r["code"]) for r in rows}
    assert ("hadolint", "DL3020") in sources and ("rtcscope", "DF014") in sources
    assert next(r for r in rows if r["code"] == "DL3020")["twin"] == "DF014"


@pytest.mark.peer
def test_own_dockerfile_passes_both_linters() -> None:
    dockerfile = ROOT / "Dockerfile"
    assert lint_text(dockerfile.read_text(), config=LintConfig()) == []
    assert run_hadolint(dockerfile) == []


def test_pinning_is_opt_in(tmp_path, capsys) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends \\\n"
        "    curl \\\n    sox=14.4.2+git20190427-3.5 \\\n    && rm -rf /var/lib/apt/lists/*\n"
    )
    assert _lint(capsys, str(path)) == (0, "")
    code, out = _lint(capsys, "--enable", "DF012", "-f", "json", str(path))
    assert code == 1
    assert [(r["code"], r["message"].rsplit(": ", 1)[1]) for r in json.loads(out)] == [
        ("DF012", "curl")
    ]
    (tmp_path / "cfg.yaml").write_text("enable: [DF012]\n")
    assert _lint(capsys, "--config", str(tmp_path / "cfg.yaml"), str(path))[0] == 1


@settings(max_examples=60)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: b"FROM debian:12-slim\nRUN apt-get " + b),
    )
)
def test_any_bytes_give_an_exit_code_not_a_traceback(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_bytes(data)
        assert main(["dockerfile", "lint", "-f", "json", str(path)]) in (0, 1, 3)
        assert main(["dockerfile", "lint", "--fix", "--diff", str(path)]) in (0, 1, 3)
