"""The ``audio`` analysis of ``rtcscope analyze``: each RTP stream's audio as a WAV in DIR.

Streams that cannot be decoded (SRTP, a codec without a decoder, no rtpmap for a dynamic
payload type) are listed with the reason instead; the other sections go on regardless.
"""

from __future__ import annotations

from rtcscope.analyze import AnalysisContext, Section, register
from rtcscope.errors import RtcscopeError
from rtcscope.media.extract import (
    ExtractOptions,
    OutputKind,
    collect_packets,
    discover_streams,
    extract_stream,
    stream_file_name,
)


@register("audio", 40)
def audio_section(ctx: AnalysisContext) -> Section:
    streams = discover_streams(ctx.path, dedup=bool(ctx.options.get("dedup", False)))
    section = Section(name="audio", title="Audio", text="", data=[])
    if not streams:
        section.text = "no RTP streams"
        return section
    lines: list[str] = []
    if ctx.out_dir is None:
        section.text = f"{len(streams)} RTP stream(s); give -o DIR to write their audio as WAV"
        return section
    collected = collect_packets(ctx.path, streams)
    options = ExtractOptions(kind=OutputKind.WAV)
    for stream in streams:
        target = ctx.out_dir / stream_file_name(stream, OutputKind.WAV)
        entry: dict[str, object] = {"index": stream.index, "ssrc": stream.key.ssrc}
        try:
            result = extract_stream(
                ctx.path, stream, target, options, collected.get(stream.key, [])
            )
        except RtcscopeError as exc:
            entry["error"] = str(exc)
            lines.append(f"stream {stream.index} 0x{stream.key.ssrc:08X}: not written: {exc}")
            section.problems += 1
        else:
            report = result.reports[0]
            entry.update(result.as_dict())
            section.files.append(target)
            lines.append(
                f"stream {stream.index} 0x{stream.key.ssrc:08X} {result.codec}: "
                f"{result.duration_s:.3f} s at {result.sample_rate} Hz, "
                f"{result.channels} channel(s), lost {report.lost}, gaps {len(report.gaps)}"
                f" -> {target.name}"
            )
        assert isinstance(section.data, list)
        section.data.append(entry)
    section.text = "\n".join(lines)
    return section
