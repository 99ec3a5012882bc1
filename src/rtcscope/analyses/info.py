"""The capture summary section: what ``rtcscope info`` prints for the same options."""

from __future__ import annotations

import os

from rtcscope.analyses.section import AnalyzeOptions, Section
from rtcscope.capture.info import format_info
from rtcscope.capture.tls import format_tls_flows
from rtcscope.scan import CaptureModel


def section(model: CaptureModel, options: AnalyzeOptions) -> Section:
    info = model.info
    tls = format_tls_flows(model.tls_flows)
    return Section(
        name="info",
        title=f"Capture {os.path.basename(info.file)}",
        text=format_info(info) + (f"\n{tls}" if tls else ""),
        data=info.as_dict(),
        problems=len(info.warnings),
    )
