"""Path-taking conveniences over :func:`rtcscope.scan.scan`, for the library's users and the
tests: each reads the capture once and returns one part of the model.

They keep the signatures the library had before the one-pass model (``scan_capture``,
``find_streams``, ``sip_messages``, ``calls_from_capture``, ``diagnose_capture``,
``capture_info``); commands
that need several parts call :func:`~rtcscope.scan.scan` once instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rtcscope.capture.info import CaptureInfo
from rtcscope.errors import CaptureError
from rtcscope.rtp.streams import RtpStream, ScanResult
from rtcscope.scan.model import CaptureModel
from rtcscope.scan.onepass import Source, scan
from rtcscope.scan.options import ScanOptions, Tap
from rtcscope.sip.capture import CapturedSip, SipCaptureReport

if TYPE_CHECKING:
    from rtcscope.sip.calls import CallsResult, IcmpEvent
    from rtcscope.sip.diagnosis import Diagnosis


def _raise_fault(model: CaptureModel, keep_going: bool) -> None:
    if model.faults and not keep_going:
        raise model.faults[0]


def scan_capture(
    path: Source,
    *,
    rtp_ports: Iterable[int] = (),
    heuristic: bool = True,
    use_sdp: bool = True,
    with_rtcp: bool = False,
    with_dtmf: bool = False,
    keep_going: bool = False,
    fast: bool = True,
    dedup: bool = False,
) -> ScanResult:
    """The RTP streams of a capture (one pass). ``with_rtcp``/``with_dtmf``: keep the
    streams' RTCP views and DTMF digits (the pass always follows them); ``fast=False`` takes
    the per-packet path (the same result: the tests compare both). A fault in the capture is
    raised after the pass unless ``keep_going``."""
    options = ScanOptions(
        dedup=dedup,
        keep_going=keep_going,
        rtp_ports=tuple(rtp_ports),
        heuristic=heuristic,
        use_sdp=use_sdp,
        vectorized=fast,
        taps=frozenset({Tap.RTP}),
    )
    model = scan(path, options)
    _raise_fault(model, keep_going)
    assert model.rtp is not None
    result = model.rtp
    if not with_rtcp:
        for stream in result.streams:
            stream.rtcp = None
        result.rtcp_packets = []
    if not with_dtmf:
        for stream in result.streams:
            stream.dtmf = []
    return result


def find_streams(
    path: Source,
    *,
    rtp_ports: Iterable[int] = (),
    heuristic: bool = True,
    use_sdp: bool = True,
    with_rtcp: bool = False,
    with_dtmf: bool = False,
    dedup: bool = False,
) -> list[RtpStream]:
    """Every RTP stream of a capture, in order of first packet."""
    return scan_capture(
        path,
        rtp_ports=rtp_ports,
        heuristic=heuristic,
        use_sdp=use_sdp,
        with_rtcp=with_rtcp,
        with_dtmf=with_dtmf,
        dedup=dedup,
    ).streams


def sip_messages(
    path: Source,
    *,
    report: SipCaptureReport | None = None,
    keep_going: bool = False,
    dedup: bool = False,
) -> Iterator[CapturedSip]:
    """Every SIP message of a capture, in the order their last packet was captured.

    ``report`` (optional) receives counts, skipped bytes and encrypted SIP flows. A truncated
    capture yields what it holds, then raises :class:`~rtcscope.errors.CaptureError` unless
    ``keep_going``.
    """
    model = scan(path, ScanOptions(dedup=dedup, taps=frozenset({Tap.SIP})))
    if report is not None:
        for name in SipCaptureReport.__dataclass_fields__:
            setattr(report, name, getattr(model.sip_report, name))
    yield from model.messages
    if model.faults and not keep_going:
        fault: CaptureError = model.faults[0]
        raise fault


def calls_from_capture(
    path: Source,
    *,
    with_streams: bool = True,
    with_icmp: bool = False,
    dedup: bool = False,
) -> tuple[CallsResult, list[IcmpEvent]]:
    """Calls (with their RTP streams unless ``with_streams`` is False) and ICMP errors."""
    taps = {Tap.SIP} | ({Tap.RTP} if with_streams else set()) | ({Tap.ICMP} if with_icmp else set())
    model = scan(path, ScanOptions(dedup=dedup, taps=frozenset(taps)))
    _raise_fault(model, False)
    return model.calls(), model.icmp


def diagnose_capture(path: Source, *, call_id: str | None = None, dedup: bool = False) -> Diagnosis:
    """Read a capture (one pass) and diagnose it; ``dedup`` drops packets captured twice so
    that copies are not taken for retransmissions."""
    model = scan(path, ScanOptions(dedup=dedup))
    _raise_fault(model, False)
    return model.diagnosis(call_id)


def capture_info(
    source: Source,
    keep_going: bool = False,
    fast: bool = True,
    *,
    reassemble: bool = True,
    dedup: bool = False,
) -> CaptureInfo:
    """Read a whole capture and summarise it (``rtcscope info``; ``fast``: vectorized,
    ``fast=False`` the per-packet reference path, the same result). ``reassemble``: IP
    fragments through the pipeline's defragmenter; ``dedup``: drop the second copy of a
    packet captured twice. A fault in the file is raised unless ``keep_going`` (then it is
    in ``warnings``)."""
    options = ScanOptions(
        dedup=dedup,
        reassemble=reassemble,
        keep_going=keep_going,
        vectorized=fast,
        taps=frozenset({Tap.COUNTS}),
    )
    model = scan(source, options)
    _raise_fault(model, keep_going)
    return model.info
