"""The HTML report: one self-contained page per capture (see :mod:`rtcscope.report.html`).

For ``analyze -o DIR``: ``write_report(capture, DIR / "report.html", audio_dir=DIR)`` writes
the page, linking the WAVs already in DIR (``*0x<SSRC>*.wav``) as players.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from rtcscope.errors import RtcscopeError
from rtcscope.outfile import make_output_dir, write_output
from rtcscope.report.data import ReportData, load_report_data
from rtcscope.report.html import audio_links, render_report
from rtcscope.rtp.streams import StreamKey
from rtcscope.text import terminal_text

__all__ = ["ReportData", "load_report_data", "render_report", "write_audio", "write_report"]


_SSRC_IN_NAME = re.compile(r"(?=0x([0-9A-F]{8}))")


def _existing_wavs(data: ReportData, audio_dir: Path) -> dict[StreamKey, Path]:
    """Each stream's WAV in ``audio_dir``: the first by name of ``*0x<SSRC>*.wav`` (what
    ``Path.glob`` would match), from ONE listing of the folder (a glob per stream read the
    folder once per stream: 34,000 streams beside as many WAVs is a billion names)."""
    first: dict[int, Path] = {}
    names = sorted(entry.name for entry in audio_dir.iterdir() if entry.name.endswith(".wav"))
    for name in names:
        for match in _SSRC_IN_NAME.finditer(name, 0, len(name) - 4):
            first.setdefault(int(match.group(1), 16), audio_dir / name)
    found: dict[StreamKey, Path] = {}
    for item in data.streams:
        key = item.stream.key
        if key.ssrc in first:
            found[key] = first[key.ssrc]
    return found


def write_audio(
    capture: str | os.PathLike[str], data: ReportData, audio_dir: Path
) -> dict[StreamKey, Path]:
    """One WAV per stream of an INVITE call (streams that cannot be decoded are skipped)."""
    from rtcscope.media.extract import (
        ExtractOptions,
        OutputKind,
        extract_stream,
        media_streams,
        stream_file_name,
    )
    from rtcscope.scan.files import scan_capture

    wanted = {s.key for c in data.calls.calls if c.kind == "INVITE" for s in c.streams}
    written: dict[StreamKey, Path] = {}
    if not wanted:
        return written
    make_output_dir(audio_dir)
    for media in media_streams(scan_capture(capture)):
        if media.key not in wanted:
            continue
        out = audio_dir / stream_file_name(media, OutputKind.WAV)
        try:
            extract_stream(capture, media, out, ExtractOptions(kind=OutputKind.WAV))
        except RtcscopeError:
            continue  # no decoder, encrypted without a key, ...: no player for this one
        written[media.key] = out
    return written


def write_report(
    capture: str | os.PathLike[str],
    out: Path,
    *,
    data: ReportData | None = None,
    audio_dir: Path | None = None,
    extract_audio: bool = False,
    embed_audio: bool = False,
    dedup: bool = False,
) -> Path:
    """Write the page for ``capture`` to ``out`` and return ``out``.

    Audio players: WAVs already in ``audio_dir`` (what ``analyze -o`` wrote), or, with
    ``extract_audio``, WAVs written now beside the page (``<stem>-audio/``); ``embed_audio``
    puts them inside the page as ``data:`` URLs instead of relative links (and then writes
    nothing beside it)."""
    if data is None:
        data = load_report_data(capture, dedup=dedup)
    files: dict[StreamKey, Path] = {}
    if audio_dir is not None and audio_dir.is_dir():
        files = _existing_wavs(data, audio_dir)
    if extract_audio and not files and embed_audio:
        # the WAVs go inside the page: write them where nothing is left behind
        with tempfile.TemporaryDirectory(prefix="rtcscope-report-") as tmp:
            files = write_audio(capture, data, Path(tmp))
            links = audio_links(out, files, embed=True)
    else:
        if extract_audio and not files:
            files = write_audio(capture, data, out.with_name(out.stem + "-audio"))
        links = audio_links(out, files, embed=embed_audio)
    page = render_report(data, audio=links)
    make_output_dir(out.parent)
    # packet text: controls and bytes that are not UTF-8 as rtcscope.text escapes them;
    # O_EXCL temporary + rename, OutputError on OS errors
    write_output(out, terminal_text(page, limit=None, multiline=True).encode("utf-8"))
    return out
