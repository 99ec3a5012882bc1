"""The streams section: every RTP stream with RTCP and DTMF, as ``rtcscope streams``."""

from __future__ import annotations

from typing import Any

from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.rtp.streams import stream_dicts
from rtcscope.scan import CaptureModel
from rtcscope.timebase import with_streams_iso


def _line(row: dict[str, Any]) -> str:
    flags = []
    if row["encrypted"]:
        flags.append("SRTP")
    if row["problems"]:
        flags.append("problems: " + ", ".join(row["problems"]))
    return (
        f"#{row['index']} {row['src']}:{row['src_port']} -> {row['dst']}:{row['dst_port']} "
        f"SSRC {row['ssrc_hex']} {row['codec'] or 'PT' + str(row['payload_type'])} "
        f"{row['packets']} pkts, lost {row['lost']} ({row['lost_percent']:.1f}%), "
        f"jitter max {row['max_jitter_ms']:.3f} ms, delta max {row['max_delta_ms']:.3f} ms"
        + (f" [{'; '.join(flags)}]" if flags else "")
    )


def _text(rows: list[dict[str, Any]]) -> str:
    lines = [_line(r) for r in rows] or ["no RTP stream found"]
    for row in rows:
        for digit in row.get("dtmf", []):
            lines.append(
                f"  {'DTMF' if digit['kind'] == 'digit' else digit['kind']} {digit['name']} "
                f"at {digit['start_s']:.3f} s on stream #{row['index']}"
            )
    return "\n".join(lines)


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    streams = model.streams
    rows = stream_dicts(streams)
    problems = sum(1 for r in rows if r["problems"] or r["lost_vs_highest_seq"] > 0)
    return Section(
        name="streams",
        title=f"RTP streams ({len(rows)})",
        # The text only when it is printed, the absolute times only when the JSON is
        # (the text gives relative ones).
        make_text=lambda: _text(rows),
        make_data=lambda: with_streams_iso(rows, streams),
        problems=problems,
    )
