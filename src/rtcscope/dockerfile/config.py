"""Ignores and settings, read the way hadolint reads them so one project can run both.

* ``# hadolint ignore=DL3008,DF004`` on the line right above an instruction (not two lines
  above: hadolint 2.15 drops the pragma when a blank line separates them);
* ``# hadolint global ignore=...`` anywhere: the whole file;
* ``.hadolint.yaml``: ``ignored`` (list), ``override`` (``error``/``warning``/``info``/
  ``style`` -> list of codes), ``failure-threshold``. An ``enable`` list (ours only, hadolint
  ignores keys it does not know) turns on opt-in rules such as DF012.

A hadolint code names our rule of the same meaning too (``DL3009`` also ignores DF006).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from rtcscope.dockerfile.catalogue import BY_HADOLINT, RULES, Severity
from rtcscope.dockerfile.parse import Dockerfile
from rtcscope.dockerfile.rules import Finding
from rtcscope.errors import ConfigError

CONFIG_NAMES = (".hadolint.yaml", ".hadolint.yml")
_PRAGMA = re.compile(r"^[ \t]*#[ \t]*hadolint[ \t]+(global[ \t]+)?ignore[ \t]*=[ \t]*([\w, \t]+)")
THRESHOLDS = ("error", "warning", "info", "style", "ignore", "none")


@dataclass(slots=True)
class LintConfig:
    ignored: set[str] = field(default_factory=set)
    overrides: dict[str, Severity] = field(default_factory=dict)
    enabled: set[str] = field(default_factory=set)
    failure_threshold: str = "info"
    path: Path | None = None


def _codes(value: object, where: str) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of rule codes")
    return {v.strip() for v in value}


def load_config(path: Path | None, cwd: Path | None = None) -> LintConfig:
    """Read ``path``, or ``.hadolint.yaml`` in ``cwd`` when there is one, else defaults."""
    if path is None:
        base = cwd or Path.cwd()
        path = next((base / n for n in CONFIG_NAMES if (base / n).is_file()), None)
        if path is None:
            return LintConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration is not a mapping")
    config = LintConfig(path=path)
    config.ignored = _codes(data.get("ignored"), f"{path}: ignored")
    config.enabled = _codes(data.get("enable"), f"{path}: enable")
    override = data.get("override") or {}
    if not isinstance(override, dict):
        raise ConfigError(f"{path}: override must map a level to a list of codes")
    for level, codes in override.items():
        if level not in Severity.__members__:
            raise ConfigError(f"{path}: override level {level!r} is not error/warning/info/style")
        for code in _codes(codes, f"{path}: override.{level}"):
            config.overrides[code] = Severity[level]
    threshold = data.get("failure-threshold")
    if threshold is not None:
        if threshold not in THRESHOLDS:
            raise ConfigError(f"{path}: failure-threshold must be one of {', '.join(THRESHOLDS)}")
        config.failure_threshold = threshold
    return config


def pragma_ignores(df: Dockerfile) -> tuple[set[str], dict[int, set[str]]]:
    """(codes ignored in the whole file, codes ignored per instruction start line)."""
    global_codes: set[str] = set()
    per_line: dict[int, set[str]] = {}
    for number in range(1, len(df.line_starts) + 1):
        m = _PRAGMA.match(df.line_text(number))
        if not m:
            continue
        codes = {c.strip() for c in re.split(r"[,\s]+", m.group(2)) if c.strip()}
        if m.group(1):
            global_codes |= codes
        else:
            per_line.setdefault(number + 1, set()).update(codes)
    return global_codes, per_line


def _names(code: str) -> set[str]:
    rule = RULES.get(code)
    return {code, rule.hadolint} if rule and rule.hadolint else {code}


def apply_config(df: Dockerfile, findings: list[Finding], config: LintConfig) -> list[Finding]:
    """Drop ignored and not-enabled findings, apply severity overrides."""
    global_codes, per_line = pragma_ignores(df)
    starts = [(ins.start_line, ins.end_line) for ins in df.instructions]
    kept: list[Finding] = []
    for finding in findings:
        names = _names(finding.code)
        rule = RULES.get(finding.code)
        if rule and not rule.default and not (names & config.enabled):
            continue
        if names & (config.ignored | global_codes):
            continue
        start = next((s for s, e in starts if s <= finding.line <= e), finding.line)
        if names & per_line.get(start, set()):
            continue
        level = next((config.overrides[n] for n in sorted(names) if n in config.overrides), None)
        kept.append(replace(finding, level=level) if level is not None else finding)
    return kept


def twin_of(code: str) -> str | None:
    """Our code for a hadolint code, or hadolint's for ours."""
    if code in BY_HADOLINT:
        return BY_HADOLINT[code].code
    rule = RULES.get(code)
    return rule.hadolint if rule else None
