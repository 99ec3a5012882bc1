"""The report section: with ``-o DIR``, DIR/report.html, the index of what the other
sections wrote (one page with every call, ladder, finding, stream, quality and player; it
links the WAVs the audio section put in DIR). Computed from the same model."""

from __future__ import annotations

from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.scan import CaptureModel


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    section = Section(name="report", title="Report", text="")
    if options.out_dir is None:
        section.text = "give -o DIR to write DIR/report.html"
        return section
    payloads = model.payload_source
    if payloads is None or model.rtp is None:
        section.text = "report not written: the capture's packets cannot be read again"
        return section
    from rtcscope.report import write_report
    from rtcscope.report.data import report_data

    written = write_report(
        payloads,
        options.out_dir / "report.html",
        data=report_data(model, payloads),
        audio_dir=options.out_dir,
    )
    section.files.append(written)
    section.text = f"one page with every call, ladder, finding, stream and player: {written.name}"
    return section
