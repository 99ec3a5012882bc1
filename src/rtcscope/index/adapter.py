"""The one place the index asks the rest of rtcscope about a capture.

:func:`rows_for_capture` reads one file with today's library entry points, the ones behind
``rtcscope calls``, ``streams``, ``diagnose`` and ``info``, and returns plain rows for the
index's tables. The rows carry the same keys and values as those commands' JSON (the tests
compare them), plus what the index adds: absolute times, the capture's SIP frames per call,
which call each stream and finding belongs to, and per-severity finding counts.

One pass over the file (:func:`rtcscope.scan.scan`) gives counts, calls, streams and
findings; SRTP streams' packets are read once more to check their keys, as ``streams`` does.

MOS: ``streams.mos`` is the stream's E-model MOS-CQE with the adaptive jitter buffer and
``calls.mos`` the call's worst direction (``rtcscope calls --quality``), from the streams'
packets read once more; null where the codec is not rated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from rtcscope.errors import SipError


@dataclass(slots=True)
class CaptureRows:
    """One capture's rows, one list of dicts per table (columns as in ``schema.TABLES``)."""

    capture: dict[str, Any]
    calls: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


def _user_host(uri_text: str | None) -> tuple[str | None, str | None]:
    from rtcscope.sip.uri import parse_uri

    if not uri_text:
        return None, None
    try:
        uri = parse_uri(uri_text)
    except SipError:
        return None, None
    return uri.user, uri.host or None


def _abs_ns(origin_ns: int, rel_s: float | None) -> int | None:
    return None if rel_s is None else origin_ns + round(rel_s * 1e9)


def rows_for_capture(path: str | os.PathLike[str]) -> CaptureRows:
    """Read ``path`` and return its rows; raises :class:`~rtcscope.errors.RtcscopeError`
    (a :class:`~rtcscope.errors.CaptureError` for a corrupt file) like the commands do."""
    from pathlib import Path

    from rtcscope.report.data import stream_qualities
    from rtcscope.rtp.srtp import SrtpKeyring, verify_streams
    from rtcscope.rtp.streams import stream_to_dict
    from rtcscope.scan import scan
    from rtcscope.sip.diagnosis import Severity

    model = scan(path)
    if model.faults:
        raise model.faults[0]
    counted = model.info
    info = counted.as_dict()
    result = model.calls()
    assert model.rtp is not None
    rtp = model.rtp
    diagnosis = model.diagnosis()
    qualities = stream_qualities(path, rtp.streams, dedup=model.options.dedup)
    srtp = (
        verify_streams(Path(path), rtp.streams, SrtpKeyring(rtp.announcements, []))
        if any(s.encrypted for s in rtp.streams)
        else {}
    )
    sip_first_ns = result.first_ns

    call_of_id: dict[str, int] = {}
    call_of_stream: dict[tuple[str, str, str], int] = {}
    call_of_frame: dict[int, int] = {}
    calls: list[dict[str, Any]] = []
    for summary in result.calls:
        row = summary.as_dict(sip_first_ns, qualities)
        quality = row.pop("quality", None)
        for s in row["streams"]:
            s.pop("mos", None)
        for cid in summary.call_ids:
            call_of_id.setdefault(cid, summary.index)
        for s in row["streams"]:
            call_of_stream.setdefault((s["src"], s["dst"], s["ssrc_hex"]), summary.index)
        for message in summary.messages:
            call_of_frame.setdefault(message.frame, summary.index)
        from_user, from_host = _user_host(row["from"])
        to_user, to_host = _user_host(row["to"])
        counts = {s: 0 for s in Severity}
        for finding in diagnosis.findings:
            if finding.call_id in summary.call_ids:
                counts[finding.severity] += 1
        row.update(
            from_user=from_user,
            from_host=from_host,
            to_user=to_user,
            to_host=to_host,
            start_time=summary.start_ns,
            end_time=summary.end_ns,
            failed=summary.failed,
            mos=None if quality is None else quality["mos"],
            findings_error=counts[Severity.ERROR],
            findings_warning=counts[Severity.WARNING],
            findings_info=counts[Severity.INFO],
            frames=sorted({m.frame for m in summary.messages}),
        )
        calls.append(row)

    streams: list[dict[str, Any]] = []
    for position, stream in enumerate(rtp.streams):
        row = stream_to_dict(stream)
        # As `rtcscope streams` prints them by default (the scan always follows RTCP/DTMF).
        row.pop("rtcp", None)
        row.pop("dtmf", None)
        outcome = srtp.get(position)
        row["srtp"] = outcome.as_dict() if outcome is not None else None
        k = stream.key
        owner = call_of_stream.get(
            (f"{k.src}:{k.src_port}", f"{k.dst}:{k.dst_port}", row["ssrc_hex"])
        )
        adaptive = qualities[k].buffer("adaptive-500") if k in qualities else None
        mos = None if adaptive is None or adaptive.mos is None else round(adaptive.mos, 2)
        row.update(start_time=stream.start_ns, end_time=stream.end_ns, call_index=owner, mos=mos)
        streams.append(row)

    findings: list[dict[str, Any]] = []
    for finding in diagnosis.findings:
        row = finding.as_dict()
        row.update(
            time=_abs_ns(sip_first_ns, finding.time_s),
            call_index=call_of_id.get(finding.call_id),
        )
        findings.append(row)

    messages: list[dict[str, Any]] = []
    for captured in result.messages:
        sip = captured.message
        cseq = sip.cseq
        messages.append(
            {
                "frame": captured.frame,
                "time": captured.ts_ns,
                "time_s": round((captured.ts_ns - sip_first_ns) / 1e9, 6),
                "method": sip.request_method if sip.is_request else None,
                "status": sip.status_code if sip.is_response else None,
                "reason": sip.reason if sip.is_response else None,
                "cseq": cseq.number if cseq is not None else None,
                "cseq_method": cseq.method if cseq is not None else None,
                "call_id": sip.call_id,
                "call_index": call_of_frame.get(captured.frame),
                "src": captured.src,
                "sport": captured.sport,
                "dst": captured.dst,
                "dport": captured.dport,
                "transport": str(captured.transport),
            }
        )

    capture = dict(info)
    capture.update(
        calls=len(calls),
        streams=len(streams),
        findings=len(findings),
        messages=len(messages),
        first_ns=counted.counts.first_ns,
        last_ns=counted.counts.last_ns,
    )
    capture["checkpoint_frames"], capture["checkpoint_offsets"] = record_checkpoints(path)
    return CaptureRows(capture, calls, streams, findings, messages)


def record_checkpoints(path: str | os.PathLike[str]) -> tuple[list[int], list[int]]:
    """Where to start reading for a frame: (first frame, byte offset) of each batch of
    records (a few MiB apart) of an uncompressed pcap file; empty for pcapng and gzip, which
    ``--export`` reads from the start. A pcap record header at such an offset, after the
    24-byte file header, is a valid pcap stream starting at that frame."""
    from rtcscope.capture.reader import open_capture

    frames: list[int] = []
    offsets: list[int] = []
    with open_capture(path) as reader:
        for batch in reader.batches():
            if reader.compressed or batch.kind != "pcap":
                return [], []
            if len(batch.positions):
                frames.append(batch.first_frame)
                offsets.append(batch.base + batch.positions[0] - batch.bias)
    return frames, offsets
