"""The diagnosis section: what ``rtcscope diagnose`` finds, from the same model."""

from __future__ import annotations

from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.scan import CaptureModel
from rtcscope.sip.diagnosis import Severity, format_diagnosis


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    result = model.diagnosis()
    return Section(
        name="diagnosis",
        title="Diagnosis (SIP routing, ACK/BYE paths, failures)",
        make_text=lambda: format_diagnosis(result),  # analyze prints the text or the data
        make_data=result.as_dict,
        make_json_data=result.json_data,  # (its paths written as text by analyze's writer)
        problems=result.count(Severity.ERROR),
    )
