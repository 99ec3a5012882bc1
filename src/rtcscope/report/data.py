"""The one adapter between the report (and ``streams --series``) and the capture readers.

:func:`load_report_data` (and :func:`stream_arrays`, which it and ``streams --series``
use for the per-packet arrays) are the only functions here that read a capture: they call
the one-pass scan (:func:`rtcscope.scan.scan`; :func:`report_data` takes a model already
read, as ``analyze`` has one) and read the streams' packets once more for their per-packet
arrays (``rtp.streams.stream_packets``), and return plain results (:class:`ReportData`).
Everything the page shows is
computed from what they return, through the same functions the CLI uses
(``stream_to_dict``, ``CallSummary.as_dict``, the quality and series modules): nothing is
computed a second way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtcscope.quality import StreamQuality, assess_stream
from rtcscope.rtp import rtcp as rtcp_mod
from rtcscope.rtp.columns import columns_of
from rtcscope.rtp.series import RtcpSample, SeriesRow, StreamPackets, stream_series
from rtcscope.rtp.streams import RtcpPacketRecord, RtpStream, StreamKey
from rtcscope.scan import CaptureModel
from rtcscope.sip.calls import CallsResult, CallSummary, IcmpEvent
from rtcscope.sip.diagnosis import Diagnosis, Finding


@dataclass(slots=True)
class StreamData:
    """One stream with everything the page and ``--series`` show about it."""

    stream: RtpStream
    packets: StreamPackets
    rtcp: list[RtcpSample]
    quality: StreamQuality
    series: list[SeriesRow]


@dataclass(slots=True)
class ReportData:
    """What one capture gives the report."""

    path: Path
    calls: CallsResult
    icmp: list[IcmpEvent]
    streams: list[StreamData]
    rtcp_records: list[RtcpPacketRecord]
    diagnosis: Diagnosis
    first_ns: int
    packets_read: int
    _by_key: dict[StreamKey, StreamData] = field(init=False, repr=False)
    _findings: dict[str | None, list[Finding]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {s.stream.key: s for s in self.streams}
        self._findings = {}
        for finding in self.diagnosis.findings:  # once: the page asks per call
            self._findings.setdefault(finding.call_id, []).append(finding)

    def call_dict(self, call: CallSummary) -> dict[str, Any]:
        """The call's JSON object as ``calls`` documents it, with its quality keys."""
        mine = {s.key: self._by_key[s.key].quality for s in call.streams if s.key in self._by_key}
        return call.as_dict(self.first_ns, mine)

    def findings_of(self, call: CallSummary) -> list[Finding]:
        """The findings about any leg of the call, in the diagnosis' order."""
        if len(call.call_ids) == 1:
            return self._findings.get(call.call_ids[0], [])
        ids = set(call.call_ids)
        return [f for f in self.diagnosis.findings if f.call_id in ids]

    def streams_of(self, call: CallSummary) -> list[StreamData]:
        return [self._by_key[s.key] for s in call.streams if s.key in self._by_key]


def stream_arrays(
    path: str | os.PathLike[str],
    streams: Sequence[RtpStream],
    *,
    dedup: bool = False,
    known: Mapping[StreamKey, StreamPackets] | None = None,
) -> dict[StreamKey, StreamPackets]:
    """Per-packet arrays of the given streams (one more read of the capture, of the streams
    not in ``known``: arrays an earlier read of the same packets gave; ``dedup`` as the scan
    that found them)."""
    from rtcscope.rtp.streams import stream_packets

    known = known or {}
    missing = [s for s in streams if s.key not in known]
    out = {s.key: known[s.key] for s in streams if s.key in known}
    if missing:
        out.update(columns_of(missing, stream_packets(path, missing, dedup=dedup)).arrays())
    return {s.key: out[s.key] for s in streams}


def rtcp_samples(
    records: Iterable[RtcpPacketRecord], clocks: Mapping[int, int | None]
) -> dict[int, list[RtcpSample]]:
    """The RTCP report blocks about each SSRC of ``clocks`` (SSRC -> the stream's clock, to
    give jitter in ms; RFC 3550 6.4), in capture order."""
    samples: dict[int, list[RtcpSample]] = {ssrc: [] for ssrc in clocks}
    for record in records:
        packet = record.packet
        if not isinstance(packet, rtcp_mod.SenderReport | rtcp_mod.ReceiverReport):
            continue
        for position, block in enumerate(packet.reports):
            if block.ssrc not in samples:
                continue
            clock_hz = clocks[block.ssrc]
            samples[block.ssrc].append(
                RtcpSample(
                    ts_ns=record.ts_ns,
                    fraction_lost_percent=block.fraction_lost_percent,
                    cumulative_lost=block.cumulative_lost,
                    jitter_ms=block.jitter * 1000.0 / clock_hz if clock_hz else None,
                    round_trip_ms=record.round_trip_ms(position),
                )
            )
    return samples


def stream_quality(stream: RtpStream, packets: StreamPackets) -> StreamQuality:
    """The stream's quality from its packets (audio on the stream's main clock is timed)."""
    timed = (packets.clock_hz > 0) & (packets.pt == stream.payload_type)
    rtt = stream.rtcp.round_trip_ms if stream.rtcp is not None else None
    return assess_stream(
        packets.arrival_ns,
        packets.seq,
        packets.ts,
        stream.clock_rate or 0,
        stream.codec,
        timed=timed,
        round_trip_ms=rtt,
    )


def stream_qualities(
    path: str | os.PathLike[str], streams: Sequence[RtpStream], *, dedup: bool = False
) -> dict[StreamKey, StreamQuality]:
    """Every stream's quality (one more read of the capture, of those streams' packets)."""
    if not streams:
        return {}
    arrays = stream_arrays(path, streams, dedup=dedup)
    return {s.key: stream_quality(s, arrays[s.key]) for s in streams}


def build_stream_data(
    path: str | os.PathLike[str],
    streams: Sequence[RtpStream],
    rtcp_records: Sequence[RtcpPacketRecord],
    first_ns: int,
    *,
    interval_s: float = 1.0,
    per_packets: int | None = None,
    dedup: bool = False,
    known: Mapping[StreamKey, StreamPackets] | None = None,
) -> list[StreamData]:
    """Quality and time series of every stream (the arrays come from one more read, but for
    the streams in ``known``, see :func:`stream_arrays`)."""
    arrays = stream_arrays(path, streams, dedup=dedup, known=known)
    by_ssrc = rtcp_samples(rtcp_records, {s.key.ssrc: s.clock_rate for s in streams})
    out: list[StreamData] = []
    for stream in streams:
        packets = arrays[stream.key]
        samples = by_ssrc[stream.key.ssrc]
        quality = stream_quality(stream, packets)
        adaptive = quality.buffer("adaptive-500")
        series = stream_series(
            packets,
            first_ns,
            interval_s=interval_s,
            per_packets=per_packets,
            rtcp=samples,
            discarded=adaptive.outcome.discarded if adaptive is not None else None,
        )
        out.append(StreamData(stream, packets, samples, quality, series))
    return out


def load_report_data(path: str | os.PathLike[str], *, dedup: bool = False) -> ReportData:
    """Read a capture once (:func:`rtcscope.scan.scan`) and gather the report's data (the
    streams' packets read again by their records' offsets, not by reading the file again)."""
    from rtcscope.scan import ScanOptions, scan

    model = scan(path, ScanOptions(dedup=dedup, offsets=True))
    if model.faults:
        raise model.faults[0]
    payloads = model.payload_source
    return report_data(model, payloads if payloads is not None else Path(os.fspath(path)))


def report_data(model: CaptureModel, payloads: str | os.PathLike[str]) -> ReportData:
    """The report's data from a capture model; ``payloads`` is where the streams' packets are
    read again for their per-packet arrays (the file, or a piped capture's spool)."""
    calls = model.calls()
    icmp = model.icmp
    diagnosis = model.diagnosis()
    scan = model.rtp
    assert scan is not None
    first_ns = scan.first_ns if scan.first_ns is not None else calls.first_ns
    if calls.messages:
        first_ns = min(first_ns, calls.first_ns)
    streams = build_stream_data(
        payloads,
        scan.streams,
        scan.rtcp_packets,
        first_ns,
        dedup=model.options.dedup,
        known=model.stream_arrays,
    )
    return ReportData(
        path=Path(model.source),
        calls=calls,
        icmp=icmp,
        streams=streams,
        rtcp_records=scan.rtcp_packets,
        diagnosis=diagnosis,
        first_ns=first_ns,
        packets_read=model.info.counts.packets,  # the capture's records, as capinfos counts
    )
