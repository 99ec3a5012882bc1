"""From a capture source to results: the one package that reads a capture for the analyses.

``scan(source, options) -> CaptureModel`` reads the capture once (rtcscope.scan.onepass);
the analyses (rtcscope.analyses) and the commands read the model. Protocol packages below
(capture, rtp, sip, media, hep) never import this package.
"""

from __future__ import annotations

from rtcscope.scan.model import CaptureModel
from rtcscope.scan.onepass import scan
from rtcscope.scan.options import ALL_TAPS, ScanOptions, Tap

__all__ = ["ALL_TAPS", "CaptureModel", "ScanOptions", "Tap", "scan"]
