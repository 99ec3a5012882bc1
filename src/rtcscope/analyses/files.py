"""Which calls get files (ladder, audio) from ``analyze -o DIR``.

A busy capture has thousands of dialogs, most of them REGISTER or OPTIONS: by default only
INVITE calls get a ladder and audio, and beyond ``max_call_files`` of them only the ones an
engineer looks at first: failed calls and calls with an error or warning finding.
``--all-files`` writes them for every call and stream. ``report.html`` lists every call.
"""

from __future__ import annotations

from rtcscope.analyses.section import AnalyzeOptions
from rtcscope.scan import CaptureModel
from rtcscope.sip.calls import CallSummary
from rtcscope.sip.diagnosis import Severity


def calls_with_files(model: CaptureModel, options: AnalyzeOptions) -> tuple[list[CallSummary], str]:
    """The calls that get files, and a line saying what was left out ("" when nothing)."""
    calls = model.calls().calls
    if options.all_files:
        return list(calls), ""
    invites = [c for c in calls if c.kind == "INVITE"]
    note = ""
    if len(invites) < len(calls):
        note = f"{len(calls) - len(invites)} non-INVITE dialog(s) without files"
    if len(invites) <= options.max_call_files:
        return invites, note
    flagged = {
        f.call_id
        for f in model.diagnosis().findings
        if f.severity in (Severity.ERROR, Severity.WARNING)
    }
    chosen = [c for c in invites if c.failed or any(cid in flagged for cid in c.call_ids)]
    left = len(invites) - len(chosen)
    note = (
        f"{len(invites)} INVITE calls: files for the {len(chosen)} failed or flagged ones, "
        f"{left} left out" + (f"; {note}" if note else "")
    )
    return chosen, note + " (--all-files writes them all)"
