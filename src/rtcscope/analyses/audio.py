"""The audio section: with ``-o DIR``, each RTP stream's audio as a WAV in DIR.

Streams that cannot be decoded (SRTP without a key, a codec without a decoder, no rtpmap for
a dynamic payload type) are listed with the reason; the other sections go on regardless.
Writing audio is the one step that reads the capture again: only the packets of the streams,
from the file (or the spool of a piped capture, ``model.payload_path``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.errors import RtcscopeError
from rtcscope.scan import CaptureModel

if TYPE_CHECKING:  # the media package (codecs) is imported only when -o writes audio
    from rtcscope.media.extract import ExtractOptions, MediaStream
    from rtcscope.media.timeline import TimelinePacket

# RTP packets held at once while writing audio (~0.4 KB each with their payloads): a
# capture of 2,000,000 packets held all of them (0.9 GB) in one read.
READ_BUDGET = 250_000


def _read_groups(streams: list[MediaStream]) -> Iterator[list[MediaStream]]:
    """The streams, in order, in groups of at most READ_BUDGET packets (a longer stream
    alone)."""
    group: list[MediaStream] = []
    held = 0
    for stream in streams:
        packets = stream.origin.stats.packets if stream.origin is not None else 0
        if group and held + packets > READ_BUDGET:
            yield group
            group, held = [], 0
        group.append(stream)
        held += packets
    if group:
        yield group


def _write(
    source: str | os.PathLike[str],
    stream: MediaStream,
    packets: list[TimelinePacket],
    out_dir: Path,
    extract_options: ExtractOptions,
    section: Section,
    lines: list[str],
) -> dict[str, object]:
    """One stream's WAV in ``out_dir``; its JSON entry (a line and a problem on failure)."""
    from rtcscope.media.extract import OutputKind, extract_stream, stream_file_name

    target = out_dir / stream_file_name(stream, OutputKind.WAV)
    entry: dict[str, object] = {"index": stream.index, "ssrc": stream.key.ssrc}
    try:
        result = extract_stream(source, stream, target, extract_options, packets)
    except RtcscopeError as exc:
        entry["error"] = str(exc)
        lines.append(f"stream {stream.index} 0x{stream.key.ssrc:08X}: not written: {exc}")
        section.problems += 1
        return entry
    report = result.reports[0]
    entry.update(result.as_dict())
    section.files.append(target)
    lines.append(
        f"stream {stream.index} 0x{stream.key.ssrc:08X} {result.codec}: "
        f"{result.duration_s:.3f} s at {result.sample_rate} Hz, "
        f"{result.channels} channel(s), lost {report.lost}, gaps {len(report.gaps)}"
        f" -> {target.name}"
    )
    return entry


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    section = Section(name="audio", title="Audio", text="", data=[])
    if model.rtp is None or not model.streams:
        section.text = "no RTP streams"
        return section
    if options.out_dir is None:
        count = len(model.streams)
        section.text = f"{count} RTP stream(s); give -o DIR to write their audio as WAV"
        return section
    from rtcscope.analyses.files import calls_with_files
    from rtcscope.media.extract import ExtractOptions, OutputKind, collect_packets, media_streams
    from rtcscope.rtp.columns import StreamColumns
    from rtcscope.rtp.streams import RtpStream

    streams = media_streams(model.rtp)
    source = model.payload_source
    if source is None:
        section.text = "audio not written: the capture was read from a pipe without a spool"
        return section
    lines: list[str] = []
    if not options.all_files:
        chosen, note = calls_with_files(model, options)
        keys = {s.key for call in chosen for s in call.streams}
        left = [s for s in streams if s.key not in keys]
        if left:
            lines.append(
                f"{len(left)} stream(s) of calls without files not written"
                + (f" ({note})" if note else " (not part of an INVITE call; --all-files)")
            )
        streams = [s for s in streams if s.key in keys]
    extract_options = ExtractOptions(kind=OutputKind.WAV)
    assert isinstance(section.data, list)
    for group in _read_groups(streams):
        # The packets of a group of streams, up to READ_BUDGET of them (one more read of the
        # capture, other flows' records skipped): memory stays bounded whatever the
        # capture's size, at the cost of a read per group.
        # The report's per-packet arrays of these streams come from the same read.
        columns = (
            StreamColumns(s.origin for s in group if isinstance(s.origin, RtpStream))
            if options.report_follows
            else None
        )
        collected = collect_packets(source, group, dedup=model.options.dedup, columns=columns)
        if columns is not None:
            model.stream_arrays.update(columns.arrays())
        for stream in group:
            entry = _write(
                source,
                stream,
                collected.pop(stream.key, []),
                options.out_dir,
                extract_options,
                section,
                lines,
            )
            section.data.append(entry)
    section.text = "\n".join(lines)
    return section
