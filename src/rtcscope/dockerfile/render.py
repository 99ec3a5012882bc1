"""Findings rendered as hadolint renders them: tty, json, sarif, checkstyle, gnu.

JSON keys (one object per finding, stable): ``file``, ``line``, ``column``, ``end_line``,
``code``, ``level``, ``message``, ``source`` ("rtcscope" or "hadolint"), ``rule`` (our
rule name, or null), ``url`` (the README section, or hadolint's wiki page), ``fixable``,
``twin`` (the other linter's code for the same mistake, or null).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from rtcscope.dockerfile.catalogue import RULES, Severity
from rtcscope.dockerfile.config import twin_of
from rtcscope.dockerfile.rules import Finding

FORMATS = ("tty", "json", "sarif", "checkstyle", "gnu")
HADOLINT_WIKI = "https://github.com/hadolint/hadolint/wiki/"
_SARIF_LEVEL = {
    Severity.error: "error",
    Severity.warning: "warning",
    Severity.info: "note",
    Severity.style: "note",
}

Report = Sequence[tuple[str, Sequence[Finding]]]  # (file name, its findings)


def finding_url(finding: Finding) -> str:
    rule = RULES.get(finding.code) if finding.source == "rtcscope" else None
    if rule is not None:
        return rule.url
    return HADOLINT_WIKI + finding.code


def finding_as_dict(name: str, f: Finding) -> dict[str, Any]:
    rule = RULES.get(f.code) if f.source == "rtcscope" else None
    return {
        "file": name,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line or f.line,
        "code": f.code,
        "level": f.level.name,
        "message": f.message,
        "source": f.source,
        "rule": rule.name if rule else None,
        "url": finding_url(f),
        "fixable": f.fixable,
        "twin": twin_of(f.code),
    }


def _tty(report: Report) -> str:
    lines = []
    for name, findings in report:
        for f in findings:
            tag = " (hadolint)" if f.source == "hadolint" else ""
            fix = " [fixable]" if f.fixable else ""
            lines.append(f"{name}:{f.line} {f.code} {f.level.name}: {f.message}{tag}{fix}")
            lines.append(f"    see {finding_url(f)}")
    return "".join(line + "\n" for line in lines)


def _gnu(report: Report) -> str:
    # GNU coding standards, "Formatting Error Messages": program:file:line:column: message
    return "".join(
        f"rtcscope:{name}:{f.line}:{f.column}: {f.code} {f.level.name}: {f.message}"
        + (" (hadolint)" if f.source == "hadolint" else "")
        + "\n"
        for name, findings in report
        for f in findings
    )


def _checkstyle(report: Report) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<checkstyle version="4.3">']
    for name, findings in report:
        out.append(f"  <file name={quoteattr(name)}>")
        for f in findings:
            level = "info" if f.level <= Severity.info else f.level.name
            out.append(
                f'    <error line="{f.line}" column="{f.column}" severity="{level}" '
                f"message={quoteattr(f.message)} source={quoteattr(f.source + '.' + f.code)}/>"
            )
        out.append("  </file>")
    out.append("</checkstyle>")
    return "\n".join(out) + "\n"


def _sarif(report: Report) -> dict[str, Any]:
    runs = []
    for source, tool_uri in (
        ("rtcscope", "README.md"),
        ("hadolint", "https://github.com/hadolint/hadolint"),
    ):
        results = []
        rule_ids: dict[str, dict[str, Any]] = {}
        for name, findings in report:
            for f in findings:
                if f.source != source:
                    continue
                rule_ids.setdefault(f.code, {"id": f.code, "helpUri": finding_url(f)})
                if f.code in RULES and source == "rtcscope":
                    rule_ids[f.code]["name"] = RULES[f.code].name
                    rule_ids[f.code]["shortDescription"] = {"text": RULES[f.code].message}
                results.append(
                    {
                        "ruleId": f.code,
                        "level": _SARIF_LEVEL[f.level],
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": name},
                                    "region": {
                                        "startLine": f.line,
                                        "startColumn": f.column,
                                        "endLine": f.end_line or f.line,
                                    },
                                }
                            }
                        ],
                    }
                )
        if source == "hadolint" and not results:
            continue
        runs.append(
            {
                "tool": {
                    "driver": {
                        "name": source,
                        "informationUri": tool_uri,
                        "rules": list(rule_ids.values()),
                    }
                },
                "results": results,
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": runs,
    }


def format_report(report: Report, fmt: str) -> str:
    if fmt == "json":
        rows = [finding_as_dict(name, f) for name, findings in report for f in findings]
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "checkstyle":
        return _checkstyle(report)
    if fmt == "gnu":
        return _gnu(report)
    return _tty(report)
