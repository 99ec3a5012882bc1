"""The diagnosis as text: findings grouped by code (with counts and example calls), every
finding with its evidence (``--details``), the requests' paths, and the catalogue."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import field
from typing import Any

from rtcscope._dataclass import dataclass
from rtcscope.sip.diagnosis.catalogue import FindingKind, kind
from rtcscope.sip.diagnosis.model import (
    SEVERITY_ORDER,
    Diagnosis,
    Finding,
    RequestPath,
    Severity,
)


def format_path(path: RequestPath) -> str:
    """One request's hops as lines: frame, from -> to, Request-URI, Route, Max-Forwards."""
    lines = [f"{path.method} (CSeq {path.cseq}) path, {path.outcome}: last hop {path.last_hop}"]
    steps = path.steps
    shown = steps if len(steps) <= 10 else [*steps[:6], *steps[-2:]]
    for i, step in enumerate(shown):
        if len(steps) > 10 and i == 6:
            lines.append(f"    ... {len(steps) - 8} more hops ...")
        routes = ", ".join(f"<{r}>" for r in step.routes) or "-"
        problems = f"  !! {'; '.join(step.problems)}" if step.problems else ""
        max_forwards = "-" if step.max_forwards is None else step.max_forwards  # none sent
        lines.append(
            f"  frame {step.frame:>5} {step.src} -> {step.dst} x{step.copies} "
            f"R-URI <{step.request_uri}> Route {routes} MF {max_forwards}{problems}"
        )
    return "\n".join(lines)


def format_details(diagnosis: Diagnosis) -> str:
    """What a findings table leaves out: each finding's rule, detail and fix (numbered as the
    table's rows), then the requests' paths and the notes."""
    out: list[str] = []
    for number, f in enumerate(diagnosis.findings, 1):
        out.append(f"#{number} [{f.severity.value}] {f.code}, call {f.call_id}")
        out += _rule_detail_fix(f)
    out += _paths_and_notes(diagnosis)
    return "\n".join(out)


def _rule_detail_fix(finding: Finding) -> list[str]:
    """The indented rule, detail and fix lines of one finding."""
    lines = [f"    rule: {finding.rfc}"] if finding.rfc else []
    lines += [f"    {line}" for line in finding.detail.splitlines()]
    if finding.fix:
        lines.append(f"    fix: {finding.fix}")
    return lines


def _paths_and_notes(diagnosis: Diagnosis) -> list[str]:
    return [format_path(path) for path in diagnosis.paths] + [f"note: {n}" for n in diagnosis.notes]


@dataclass(slots=True)
class FindingGroup:
    """Every finding of one code: how many, in which calls, and the first as an example."""

    code: str
    severity: Severity
    findings: list[Finding] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.findings)

    def as_dict(self, limit: int = 3) -> dict[str, Any]:
        row = kind(self.code)
        return {
            "code": self.code,
            "severity": self.severity.value,
            "count": self.count,
            "calls": len(self.call_ids),
            "example_calls": self.call_ids[:limit],
            "example": self.findings[0].summary,
            "explanation": row.explanation,
            "rfc": row.rule,
            "fix": row.fix,
        }


def select_findings(
    findings: Iterable[Finding],
    *,
    severity: Severity | None = None,
    codes: Collection[str] = (),
) -> list[Finding]:
    """Findings at ``severity`` or worse (error < warning < info) and of ``codes`` if given."""
    worst = SEVERITY_ORDER[severity] if severity is not None else len(SEVERITY_ORDER)
    return [
        f
        for f in findings
        if SEVERITY_ORDER[f.severity] <= worst and (not codes or f.code in codes)
    ]


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """One group per code, errors first, then the most frequent."""
    groups: dict[str, FindingGroup] = {}
    seen_calls: dict[str, set[str]] = {}
    for f in findings:
        group = groups.get(f.code)
        if group is None:
            group = groups[f.code] = FindingGroup(f.code, f.severity)
            seen_calls[f.code] = set()
        group.findings.append(f)
        if f.call_id not in seen_calls[f.code]:
            seen_calls[f.code].add(f.call_id)
            group.call_ids.append(f.call_id)
    return sorted(groups.values(), key=lambda g: (SEVERITY_ORDER[g.severity], -g.count, g.code))


def _counts_line(diagnosis: Diagnosis) -> str:
    return (
        f"{diagnosis.calls} call(s): {diagnosis.count(Severity.ERROR)} error(s), "
        f"{diagnosis.count(Severity.WARNING)} warning(s), {diagnosis.count(Severity.INFO)} info"
    )


def _finding_lines(f: Finding) -> list[str]:
    time_text = "" if f.time_s is None else f" at {f.time_s:.3f} s"
    out = [
        f"[{f.severity.value}] {f.summary}",
        f"    call {f.call_id}{time_text}; frames {', '.join(map(str, f.frames))}",
    ]
    if f.element:
        out.append(f"    element: {f.element}")
    if f.last_hop:
        out.append(f"    last hop: {f.last_hop}")
    return out + _rule_detail_fix(f)


def format_groups(groups: Sequence[FindingGroup], limit: int = 3) -> list[str]:
    """Each code once: its count, the calls it concerns, ``limit`` examples, rule and fix."""
    out: list[str] = []
    for group in groups:
        row = kind(group.code)
        calls = len(group.call_ids)
        out.append(
            f"[{group.severity.value}] {group.code} x{group.count} in {calls} call(s): "
            f"{row.explanation}"
        )
        for f in group.findings[:limit]:
            frames = ", ".join(map(str, f.frames[:6]))
            out.append(f"    e.g. call {f.call_id}: {f.summary} (frames {frames})")
        if group.count > limit:
            out.append(f"    ... {group.count - limit} more (--details, --code {group.code})")
        if row.rule:
            out.append(f"    rule: {row.rule}")
        if row.fix:
            out.append(f"    fix: {row.fix}")
    return out


def format_diagnosis(
    diagnosis: Diagnosis, *, details: bool = False, limit: int | None = None
) -> str:
    """The findings as plain text. By default grouped by code (count, calls, ``limit``
    examples, 3 unless given) and only the paths that went wrong; with ``details`` every
    finding with its evidence and every request's path (at most ``limit`` per code)."""
    if not diagnosis.calls:
        return "no INVITE call in this capture"
    out = [_counts_line(diagnosis)]
    if details:
        for group in group_findings(diagnosis.findings):
            for f in group.findings[:limit]:
                out += _finding_lines(f)
        out += _paths_and_notes(diagnosis)
        return "\n".join(out)
    out += format_groups(group_findings(diagnosis.findings), 3 if limit is None else limit)
    troubled = [p for p in diagnosis.paths if p.went_wrong()]
    shown = troubled[: 3 if limit is None else limit]
    out += [format_path(path) for path in shown]
    if len(troubled) > len(shown):
        out.append(f"... {len(troubled) - len(shown)} more paths that went wrong (--details)")
    out += [f"note: {n}" for n in diagnosis.notes]
    return "\n".join(out)


def format_catalogue(rows: Iterable[FindingKind]) -> str:
    """The catalogue as text: code, severity, rule, explanation, fix."""
    out: list[str] = []
    for row in rows:
        out.append(f"{row.code} [{row.severity.value}, {row.concern}] {row.rule}")
        out.append(f"    {row.explanation}")
        if row.fix:
            out.append(f"    fix: {row.fix}")
    return "\n".join(out)


def format_catalogue_markdown(rows: Iterable[FindingKind]) -> str:
    """The catalogue as the README's Markdown table (generated, never edited by hand)."""
    out = [
        "| code | severity | rule | meaning | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [f"`{row.code}`", row.severity.value, row.rule, row.explanation, row.fix or "-"]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)
