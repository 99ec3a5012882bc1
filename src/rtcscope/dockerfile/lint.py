"""Lint and fix Dockerfile text: the library entry points the CLI calls."""

from __future__ import annotations

from collections.abc import Iterable

from rtcscope.dockerfile.catalogue import RULES, Severity
from rtcscope.dockerfile.config import LintConfig, apply_config
from rtcscope.dockerfile.edits import Edit, apply_edits
from rtcscope.dockerfile.parse import parse_dockerfile
from rtcscope.dockerfile.rules import Finding, check

# Fixes that restructure (merging a RUN) go first; the others are re-computed next round.
_FIX_ORDER = {code: i for i, code in enumerate(sorted(RULES))}
MAX_FIX_ROUNDS = 8


def lint_text(
    text: str, name: str = "Dockerfile", config: LintConfig | None = None
) -> list[Finding]:
    """Findings for one Dockerfile; raises DockerfileError if it is not one."""
    df = parse_dockerfile(text, name)
    return apply_config(df, check(df), config or LintConfig())


def fix_text(text: str, name: str = "Dockerfile", config: LintConfig | None = None) -> str:
    """``text`` with every safe fix applied, repeated until nothing more changes."""
    for _ in range(MAX_FIX_ROUNDS):
        findings = lint_text(text, name, config)
        ordered = sorted(
            (f for f in findings if f.fixable), key=lambda f: (_FIX_ORDER[f.code], f.line)
        )
        edits: list[Edit] = [e for f in ordered for e in f.edits]
        if not edits:
            break
        fixed = apply_edits(text, edits)
        if fixed == text:
            break
        parse_dockerfile(fixed, name)  # a fix must leave a Dockerfile BuildKit reads
        text = fixed
    return text


def fails(findings: Iterable[Finding], threshold: str) -> bool:
    """hadolint's ``--failure-threshold``: any finding at or above it fails the run."""
    if threshold == "none":
        return False
    if threshold == "ignore":  # hadolint's level below style: everything fails
        return any(True for _ in findings)
    limit = Severity[threshold]
    return any(f.level >= limit for f in findings)
