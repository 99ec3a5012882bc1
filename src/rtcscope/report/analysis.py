"""The ``report`` analysis of ``rtcscope analyze -o DIR``: DIR/report.html, the index of
what the other analyses wrote (it links the WAVs the ``audio`` analysis put in DIR).

Registered at order 90, after ``audio`` (40), when this module is imported: listing
``"rtcscope.report.analysis"`` in ``rtcscope.analyze.ANALYSIS_MODULES`` turns it on.
"""

from __future__ import annotations

from rtcscope.analyze import AnalysisContext, Section, register


@register("report", 90)
def report_section(ctx: AnalysisContext) -> Section:
    section = Section(name="report", title="Report", text="")
    if ctx.out_dir is None:
        section.text = "give -o DIR to write DIR/report.html"
        return section
    from rtcscope.report import write_report

    written = write_report(
        ctx.path,
        ctx.out_dir / "report.html",
        audio_dir=ctx.out_dir,
        dedup=bool(ctx.options.get("dedup", False)),
    )
    section.files.append(written)
    section.text = f"one page with every call, ladder, finding, stream and player: {written.name}"
    return section
