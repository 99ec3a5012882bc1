"""The main job: the analyses of one capture, each a function of the capture model.

``rtcscope analyze FILE [-o DIR]`` reads the capture ONCE (:func:`rtcscope.scan.scan`), then
runs the sections listed in :data:`SECTIONS`, in that order; each takes the model and the
options and returns a :class:`Section` (text, JSON-able data, files written). Only the audio
and report sections read the capture again, and only when ``-o`` asks for files: the packets
of the streams they write or plot (:func:`rtcscope.rtp.streams.stream_packets`).
:func:`iter_sections` makes the sections one at a time, so the CLI writes each and lets it
go before the next is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from rtcscope.analyses import audio, calls, diagnosis, info, report, streams
from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.errors import InvalidArgument
from rtcscope.scan import CaptureModel, ScanOptions, scan

SectionFunc = Callable[[CaptureModel, AnalyzeOptions], Section]


def _sections() -> list[tuple[str, SectionFunc]]:
    return [
        ("info", info.section),
        ("calls", calls.section),
        ("streams", streams.section),
        ("audio", audio.section),
        ("diagnosis", diagnosis.section),
        ("report", report.section),
    ]


__all__ = [
    "SECTION_NAMES",
    "AnalyzeOptions",
    "Section",
    "analyze_capture",
    "iter_sections",
    "run_sections",
]

SECTION_NAMES: tuple[str, ...] = ("info", "calls", "streams", "audio", "diagnosis", "report")


def run_sections(
    model: CaptureModel, options: AnalyzeOptions, only: list[str] | None = None
) -> list[Section]:
    """Every section (or those named in ``only``), in order, on one model."""
    return list(iter_sections(model, options, only))


def iter_sections(
    model: CaptureModel, options: AnalyzeOptions, only: list[str] | None = None
) -> Iterator[Section]:
    """:func:`run_sections` one section at a time, each made when asked for (the CLI writes
    it and lets it go before the next); ``only`` and ``-o``'s folder are checked at once."""
    unknown = sorted(set(only or ()) - set(SECTION_NAMES))
    if unknown:
        raise InvalidArgument(
            "only",
            f"{', '.join(unknown)}: no such section (choose from {', '.join(SECTION_NAMES)})",
        )
    if options.out_dir is not None:
        from rtcscope.outfile import output_error

        try:
            options.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(options.out_dir, exc) from exc
    options = replace(options, report_follows=only is None or "report" in only)
    return (func(model, options) for name, func in _sections() if only is None or name in only)


def analyze_capture(
    source: str | Path,
    out_dir: Path | None = None,
    *,
    only: list[str] | None = None,
    scan_options: ScanOptions | None = None,
    all_files: bool = False,
) -> list[Section]:
    """Read a capture once and run the sections on it (the library form of ``analyze``)."""
    spool = out_dir is not None and (only is None or bool({"audio", "report"} & set(only)))
    options = replace(scan_options or ScanOptions(), spool=spool)
    model = scan(source, options)
    try:
        return run_sections(model, AnalyzeOptions(out_dir, all_files=all_files), only=only)
    finally:
        model.close()
