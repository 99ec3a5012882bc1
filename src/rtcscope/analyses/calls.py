"""The calls section: the call list (as ``rtcscope calls``) and, with ``-o DIR``, one SVG
ladder per call.

Each ladder goes to ``DIR/ladders/NNN-HASH.svg``: NNN is the call's index and HASH the first
12 hex digits of SHA-256 of its Call-ID, so a file name never carries text from a packet (a
Call-ID may hold ``/``, ``..`` or control characters).
"""

from __future__ import annotations

from typing import Any

from rtcscope.analyses.files import calls_with_files
from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.capture.tls import format_tls_flows
from rtcscope.scan import CaptureModel
from rtcscope.sip.calls import CallSummary, call_ladder, calls_json, icmp_for_call
from rtcscope.sip.nodes import find_nodes
from rtcscope.timebase import relative_s


def ladder_file_name(call: CallSummary) -> str:
    """``NNN-HASH.svg``: the call's index and a hash of its Call-ID (never packet text)."""
    import hashlib  # (-o only)

    digest = hashlib.sha256(call.call_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{call.index:03d}-{digest}.svg"


def _line(call: CallSummary, first_ns: int) -> str:
    """The call's line of text (its times as its JSON row has them: ``as_dict``)."""
    final = f"{call.final_status} {call.final_reason or ''}".strip() if call.final_status else "-"
    start_s = relative_s(call.start_ns, first_ns)
    duration_s = call.duration_s
    duration = f", {duration_s:.3f} s" if duration_s is not None else ""
    bye = f", BYE from the {call.ended_by}" if call.ended_by else ""
    return (
        f"{call.index:3d} {start_s:10.3f}s {call.kind:<9} {call.from_uri or '?'} -> "
        f"{call.to_uri or '?'}: {call.state.value} ({final}){duration}{bye}; "
        f"{len(call.messages)} messages, {call.resent} resent, {len(call.streams)} RTP streams"
    )


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    result = model.calls()
    stats = result.statistics
    first_ns = result.first_ns

    def data(calls: Any) -> dict[str, Any]:
        """The section's data, its "calls" ``calls``."""
        return {
            "calls": calls,
            "statistics": stats.as_dict(),
            "tls_flows": [flow.as_dict() for flow in model.tls_flows],
        }

    section = Section(
        name="calls",
        title="SIP calls",
        # The JSON objects only when the JSON is written (text output never reads them).
        make_data=lambda: data([c.as_dict(first_ns) for c in result.calls]),
        # For analyze's JSON writer: the calls' text, written in C, not their objects.
        make_json_data=lambda: data(calls_json(result.calls, first_ns, own=False)),
        problems=sum(1 for c in result.calls if c.failed),
    )
    # Encrypted signalling is named, never silently absent (0 calls on a SIP/TLS capture).
    tls = format_tls_flows(model.tls_flows)
    if not result.calls:
        section.text = "no SIP messages" + (f"\n{tls}" if tls else "")
        return section
    lines = [_line(c, first_ns) for c in result.calls]
    lines.append(
        f"{stats.messages} SIP messages, {stats.resent} resent; setup time average "
        f"{stats.average_setup_ms} ms (min {stats.min_setup_ms}, max {stats.max_setup_ms})"
    )
    if tls:
        lines.append(tls)
    if options.out_dir is not None:
        from rtcscope.outfile import output_error, write_output  # (-o only: SVG, files)
        from rtcscope.sip.ladder import format_svg

        ladder_dir = options.out_dir / "ladders"
        try:
            ladder_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(ladder_dir, exc) from exc
        nodes = find_nodes(result.messages)
        icmp = model.icmp
        chosen, note = calls_with_files(model, options)
        if note:
            lines.append(f"ladders: {note}")
        for call in chosen:
            target = ladder_dir / ladder_file_name(call)
            ladder = call_ladder(call, nodes, icmp=icmp_for_call(call, icmp))
            write_output(target, format_svg(ladder).encode("utf-8"))
            section.files.append(target)
    else:
        lines.append("give -o DIR to write one SVG ladder per call")
    section.text = "\n".join(lines)
    return section
