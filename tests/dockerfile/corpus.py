"""The corpus of real Dockerfiles (tests/data/dockerfiles, sources in SOURCES.json) and an
independent reading of what each stage installs: dockerfile-parse for the instructions,
``shlex`` for the words, so the --fix checks do not lean on our own parser."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

from dockerfile_parse import DockerfileParser

from tests.conftest import DATA

CORPUS = DATA / "dockerfiles"
SOURCES = json.loads((CORPUS / "SOURCES.json").read_text())
FILES = [CORPUS / s["file"] for s in SOURCES]
_VALUE_OPTIONS = {"-o", "-c", "-t", "-a", "--option", "--target-release", "--default-release"}
_OPERATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")"}


def structure(text: str) -> list[dict[str, object]]:
    """dockerfile-parse's instructions (comments dropped)."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    return [s for s in parser.structure if s["instruction"] != "COMMENT"]


def installed_per_stage(text: str) -> list[set[str]]:
    """Per FROM, the package words that follow `apt-get install` / `apt install`."""
    stages: list[set[str]] = []
    for ins in structure(text):
        if ins["instruction"] == "FROM":
            stages.append(set())
        elif ins["instruction"] == "RUN" and stages:
            lexer = shlex.shlex(str(ins["value"]), posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            try:
                words = list(lexer)
            except ValueError:
                continue
            stages[-1] |= _install_words(words)
    return stages


def _install_words(words: list[str]) -> set[str]:
    found: set[str] = set()
    for i, word in enumerate(words):
        if word not in ("apt-get", "apt"):
            continue
        rest = words[i + 1 :]
        if "install" not in rest:
            continue
        j = rest.index("install") + 1
        skip = False
        for w in rest[j:]:
            if w in _OPERATORS:
                break
            if skip:
                skip = False
            elif w.startswith("-"):
                skip = w in _VALUE_OPTIONS
            else:
                found.add(w)
    return found


def corpus_ids() -> list[str]:
    return [Path(f).name for f in FILES]
