"""The diagnosis as text: findings grouped by code (with counts and example calls), every
finding with its evidence (``--details``), the requests' paths, and the catalogue."""

from __future__ import annotations

from rtcscope.sip.diagnosis.model import Diagnosis, Finding, RequestPath, Severity


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
        lines.append(
            f"  frame {step.frame:>5} {step.src} -> {step.dst} x{step.copies} "
            f"R-URI <{step.request_uri}> Route {routes} MF {step.max_forwards}{problems}"
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


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """The findings as plain text: one block per finding, then the requests' paths."""
    if not diagnosis.calls:
        return "no INVITE call in this capture"
    out = [
        f"{diagnosis.calls} call(s): {diagnosis.count(Severity.ERROR)} error(s), "
        f"{diagnosis.count(Severity.WARNING)} warning(s), {diagnosis.count(Severity.INFO)} info"
    ]
    for f in diagnosis.findings:
        time_text = "" if f.time_s is None else f" at {f.time_s:.3f} s"
        out.append(f"[{f.severity.value}] {f.summary}")
        out.append(f"    call {f.call_id}{time_text}; frames {', '.join(map(str, f.frames))}")
        if f.element:
            out.append(f"    element: {f.element}")
        if f.last_hop:
            out.append(f"    last hop: {f.last_hop}")
        out += _rule_detail_fix(f)
    out += _paths_and_notes(diagnosis)
    return "\n".join(out)
