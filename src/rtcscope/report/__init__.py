"""The HTML report: one self-contained page per capture (see :mod:`rtcscope.report.html`).

For ``analyze -o DIR``: ``write_report(capture, DIR / "report.html", audio_dir=DIR)`` writes
the page, linking the WAVs already in DIR (``*0x<SSRC>*.wav``) as players.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from rtcscope.errors import RtcscopeError
from rtcscope.report.data import ReportData, load_report_data
from rtcscope.report.html import audio_links, render_report
from rtcscope.rtp.streams import StreamKey

__all__ = ["ReportData", "load_report_data", "render_report", "write_audio", "write_report"]


def _existing_wavs(data: ReportData, audio_dir: Path) -> dict[StreamKey, Path]:
    found: dict[StreamKey, Path] = {}
    for item in data.streams:
        key = item.stream.key
        matches = sorted(audio_dir.glob(f"*0x{key.ssrc:08X}*.wav"))
        if matches:
            found[key] = matches[0]
    return found


def write_audio(capture: Path, data: ReportData, audio_dir: Path) -> dict[StreamKey, Path]:
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
    audio_dir.mkdir(parents=True, exist_ok=True)
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
    capture: Path,
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
    out.parent.mkdir(parents=True, exist_ok=True)
    # packet text keeps undecodable bytes as surrogates (surrogateescape): the page shows
    # them as \xNN, and stays valid UTF-8
    with contextlib.suppress(UnicodeEncodeError):
        page = page.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    out.write_text(page, encoding="utf-8", errors="backslashreplace")
    return out
