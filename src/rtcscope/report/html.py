"""One self-contained HTML page per capture: summary, calls table, and per call its ladder,
findings, messages, streams with plots and quality, and audio players.

Offline by construction: inline CSS and SVG only, no script needed (a click on a ladder arrow
follows an in-page link, and CSS ``:target`` shows that message), no URL other than in-page
anchors, relative audio files or ``data:`` URLs. Every text from the capture is escaped.

Large captures: the calls table lists INVITE calls up to ``max_calls`` (failed and flagged
ones first when there are more), other exchanges are counted by method and state; call
sections (ladder, messages, plots) are written for at most ``max_sections`` calls, failed or
flagged ones first.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtcscope.report.data import ReportData, StreamData
from rtcscope.report.plots import svg_plot
from rtcscope.rtp.streams import StreamKey, stream_to_dict
from rtcscope.sip.calls import CallSummary, call_ladder, icmp_for_call
from rtcscope.sip.ladder import (
    LADDER_CSS,
    MESSAGE_CSS,
    LadderRow,
    collapse_loops,
    format_messages_html,
    format_svg_html,
    message_text,
    messages_by_frame,
)
from rtcscope.sip.nodes import find_nodes

MAX_CALLS = 1000
MAX_SECTIONS = 200
MAX_MESSAGE_CHARS = 20000
_SEVERITY_CLASS = {"error": "bad", "warning": "warn"}

_CSS = """
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;border-top:2px solid #ccd;padding-top:.6em;margin-top:2em}
table{border-collapse:collapse;font-size:13px;margin:.4em 0}
td,th{border:1px solid #ccd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7;position:sticky;top:0}
.bad{color:#b3261e;font-weight:bold}.ok{color:#1b7a2e}.warn{color:#a86b00}
.plots svg{margin:2px;border:1px solid #e3e6ea}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """Cells are HTML already (escape before)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _mos_cell(mos: float | None, scale: str | None, has_media: bool = True) -> str:
    if not has_media:
        return "no media"
    if mos is None:
        return "not rated"
    cls = "ok" if mos >= 4.0 else "warn" if mos >= 3.6 else "bad"
    return f'<span class="{cls}">{mos:.2f}</span> <small>{_e(scale)}</small>'


def _worst(data: ReportData, call: CallSummary) -> tuple[float | None, str | None]:
    quality = data.call_dict(call).get("quality")
    if quality is None:
        return None, None
    return quality["mos"], quality["model"]


def _message_id(call: CallSummary, frame: int) -> str:
    return f"m{call.index}-{frame}"


def _audio_tag(key: StreamKey, audio: Mapping[StreamKey, str]) -> str:
    src = audio.get(key)
    if src is None:
        return ""
    return f'<audio controls preload="auto" src="{_e(src)}"></audio>'


def _stream_block(item: StreamData, audio: Mapping[StreamKey, str]) -> str:
    s = item.stream
    row = stream_to_dict(s, item.quality)
    title = (
        f"{_e(row['src'])}:{row['src_port']} &rarr; {_e(row['dst'])}:{row['dst_port']} "
        f"{row['ssrc_hex']} {_e(', '.join(row['payload_names']))}"
    )
    stats = _table(
        ["packets", "lost", "max delta ms", "mean jitter ms", "max jitter ms", "problems"],
        [
            [
                str(row["packets"]),
                f"{row['lost']} ({row['lost_percent']:.1f}%)",
                f"{row['max_delta_ms']:.3f}",
                f"{row['mean_jitter_ms']:.3f}",
                f"{row['max_jitter_ms']:.3f}",
                _e(", ".join(row["problems"])) or "-",
            ]
        ],
    )
    q = row["quality"]
    quality_rows = [
        [
            _e(b["buffer"]),
            str(b["lost"]),
            str(b["late"]),
            f"{b['ppl_percent']:.2f}",
            f"{b['burst_ratio']:.2f}",
            f"{b['delay_ms']:.0f}",
            "-" if b["r"] is None else f"{b['r']:.1f}",
            _mos_cell(b["mos"], q["model"]) if b["mos"] is not None else _e(b["not_rated"]),
        ]
        for b in q["buffers"]
    ]
    model = (
        f"{_e(q['model'])}, Ie {q['ie']}, Bpl {q['bpl'] if q['bpl'] is not None else '-'} "
        f"({_e(q['source'])})"
        if q["model"]
        else "no E-model values for this codec"
    )
    times = [r.start_s for r in item.series]
    plots = "".join(
        [
            svg_plot("max jitter", "ms", times, [r.max_jitter_ms for r in item.series]),
            svg_plot("max delta", "ms", times, [r.max_delta_ms for r in item.series]),
            svg_plot(
                "lost packets",
                "count",
                times,
                [r.lost for r in item.series],
                bars=True,
                colour="#b3261e",
            ),
        ]
    )
    if any(r.jb_discarded for r in item.series):
        plots += svg_plot(
            "discarded late (adaptive buffer)",
            "count",
            times,
            [r.jb_discarded for r in item.series],
            bars=True,
            colour="#a86b00",
        )
    rtcp_values = [r.rtcp_round_trip_ms for r in item.series]
    if any(v is not None for v in rtcp_values):
        plots += svg_plot("RTCP round trip", "ms", times, rtcp_values, colour="#4a6d8c")
    return (
        f'<div class="stream" id="s{s.index}"><h3>Stream {s.index}: {title}</h3>{stats}'
        f"<p>Quality: {model}</p>"
        + _table(
            ["buffer", "lost", "late", "Ppl %", "BurstR", "delay ms", "R", "MOS-CQE"],
            quality_rows,
        )
        + f'<div class="plots">{plots}</div>{_audio_tag(s.key, audio)}</div>'
    )


def _call_section(
    data: ReportData, call: CallSummary, nodes: Any, audio: Mapping[StreamKey, str]
) -> str:
    streams = data.streams_of(call)
    ladder = call_ladder(call, nodes, rtp=True, icmp=icmp_for_call(call, data.icmp))
    frames = {m.frame for m in call.messages}

    def href(row: LadderRow) -> str | None:
        return f"#{_message_id(call, row.frame)}" if row.kind == "sip" else None

    svg = format_svg_html(collapse_loops(ladder), href)
    facts = data.call_dict(call)
    dl = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(facts[k])}</dd>"
        for k in (
            "call_id",
            "state",
            "from",
            "to",
            "caller",
            "callee",
            "start_s",
            "duration_s",
            "setup_ms",
            "final_status",
            "final_reason",
            "ended_by",
        )
    )
    worst = facts.get("quality")
    if worst is not None:
        dl += (
            f"<dt>quality (worst direction)</dt><dd>MOS-CQE {worst['mos']:.2f}, R {worst['r']} "
            f"({_e(worst['model'])}, {_e(worst['buffer'])} buffer, stream "
            f"{_e(worst['stream'])})</dd>"
        )
    findings = data.findings_of(call)
    finding_rows = [
        [
            f'<span class="{_SEVERITY_CLASS.get(f.severity.value, "")}">'
            f"{_e(f.severity.value)}</span>",
            _e(f.code),
            _e(f.summary),
            " ".join(
                f'<a href="#{_message_id(call, fr)}">{fr}</a>' if fr in frames else str(fr)
                for fr in f.frames
            ),
            _e(f.fix),
        ]
        for f in findings
    ]
    messages = format_messages_html(
        ladder,
        messages_by_frame(
            [(m.frame, message_text(m.message.raw, MAX_MESSAGE_CHARS)) for m in call.messages]
        ),
        lambda frame: _message_id(call, frame),
    )
    return (
        f'<section class="call" id="call-{call.index}" '
        f'data-call-ids="{_e(" ".join(call.call_ids))}"><h2>Call {call.index}: '
        f"{_e(call.from_uri)} &rarr; {_e(call.to_uri)}</h2><dl>{dl}</dl>"
        f"<h3>Ladder</h3>{svg}"
        + (
            "<h3>Findings</h3>"
            + _table(["severity", "code", "summary", "frames", "fix"], finding_rows)
            if finding_rows
            else "<p>No findings.</p>"
        )
        + "<h3>Messages</h3><p><small>Click a message (or an arrow of the ladder) to show "
        f"it.</small></p>{messages}"
        + "".join(_stream_block(s, audio) for s in streams)
        + "</section>"
    )


def render_report(
    data: ReportData,
    *,
    audio: Mapping[StreamKey, str] | None = None,
    max_calls: int = MAX_CALLS,
    max_sections: int = MAX_SECTIONS,
) -> str:
    """The page as a string. ``audio`` maps a stream to its player's URL (a path relative to
    the page, or a ``data:`` URL)."""
    audio = audio or {}
    all_calls = data.calls.calls
    invites = [c for c in all_calls if c.kind == "INVITE"]
    others = [c for c in all_calls if c.kind != "INVITE"]
    findings_by_call = {c.index: data.findings_of(c) for c in invites}
    flagged = [c for c in invites if c.failed or findings_by_call[c.index]]
    flagged_ids = {c.index for c in flagged}
    rest = [c for c in invites if c.index not in flagged_ids]
    ordered = invites if len(invites) <= max_calls else flagged + rest
    listed = ordered[:max_calls]
    with_section = invites if len(invites) <= max_sections else (flagged + rest)[:max_sections]
    section_ids = {c.index for c in with_section}
    rows = []
    for call in listed:
        call_streams = data.streams_of(call)
        mos, scale = _worst(data, call)
        state_cls = "bad" if call.failed else "ok"
        name = (
            f'<a href="#call-{call.index}">{call.index}</a>'
            if call.index in section_ids
            else str(call.index)
        )
        rows.append(
            [
                name,
                f'<span class="{state_cls}">{_e(call.state.value)}</span>',
                _e(call.from_uri),
                _e(call.to_uri),
                f"{(call.start_ns - data.first_ns) / 1e9:.3f}",
                "-" if call.duration_s is None else f"{call.duration_s:.1f}",
                "-" if call.setup_ms is None else str(call.setup_ms),
                _mos_cell(mos, scale, bool(call_streams)),
                str(len(findings_by_call[call.index])),
            ]
        )
    errors = sum(1 for f in data.diagnosis.findings if f.severity.value == "error")
    warnings = sum(1 for f in data.diagnosis.findings if f.severity.value == "warning")
    last_ns = max(
        [m.ts_ns for m in data.calls.messages[-1:]] + [s.stream.end_ns for s in data.streams],
        default=data.first_ns,
    )
    start = datetime.fromtimestamp(data.first_ns / 1e9, tz=UTC) if data.first_ns else None
    summary = {
        "capture": data.path.name,
        "starts (UTC)": start.isoformat(timespec="milliseconds") if start else "-",
        "SIP and RTP span": f"{(last_ns - data.first_ns) / 1e9:.3f} s",
        "packets read": data.packets_read,
        "SIP messages": len(data.calls.messages),
        "calls (INVITE)": len(invites),
        "failed calls": sum(1 for c in invites if c.failed),
        "other exchanges": len(others),
        "RTP streams": len(data.streams),
        "findings": f"{errors} errors, {warnings} warnings",
    }
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:; media-src 'self' data: file:\">",
        f"<title>rtcscope report: {_e(data.path.name)}</title>",
        f"<style>{_CSS}{LADDER_CSS}{MESSAGE_CSS}</style></head><body>",
        f"<h1>rtcscope report: {_e(data.path.name)}</h1>",
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in summary.items()) + "</dl>",
        "<h2 id='calls'>Calls</h2>",
    ]
    if len(invites) > len(listed):
        parts.append(
            f"<p>{len(invites)} calls: the {len(listed)} listed put failed and flagged ones "
            "first.</p>"
        )
    if len(invites) > len(with_section):
        parts.append(
            f"<p>Sections below for {len(with_section)} of {len(invites)} calls (failed and "
            "flagged first).</p>"
        )
    parts.append(
        _table(
            [
                "#",
                "state",
                "from",
                "to",
                "start s",
                "duration s",
                "setup ms",
                "MOS (worst)",
                "findings",
            ],
            rows,
            "calls",
        )
        if rows
        else "<p>No INVITE calls.</p>"
    )
    if others:
        counts = Counter((c.kind, c.state.value) for c in others)
        parts.append("<h3>Other SIP exchanges</h3>")
        parts.append(
            _table(
                ["method", "state", "count"],
                [[_e(k), _e(st), str(n)] for (k, st), n in sorted(counts.items())],
            )
        )
    nodes = find_nodes(data.calls.messages, [])
    for call in invites:
        if call.index in section_ids:
            parts.append(_call_section(data, call, nodes, audio))
    owned = {s.key for c in all_calls for s in c.streams}
    loose = [s for s in data.streams if s.stream.key not in owned]
    if loose:
        parts.append("<h2 id='other-streams'>Streams outside the calls</h2>")
        parts += [_stream_block(s, audio) for s in loose]
    parts.append("</body></html>\n")
    return "".join(parts)


def audio_links(out: Path, files: Mapping[StreamKey, Path], *, embed: bool) -> dict[StreamKey, str]:
    """Player URLs: paths relative to the page's folder, or ``data:`` URLs with ``embed``."""
    links: dict[StreamKey, str] = {}
    for key, path in files.items():
        if embed:
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            links[key] = f"data:audio/wav;base64,{encoded}"
        else:
            try:
                links[key] = path.resolve().relative_to(out.parent.resolve()).as_posix()
            except ValueError:
                links[key] = path.resolve().as_uri()
    return links
