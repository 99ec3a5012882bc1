"""CaptureModel: what one pass over a capture found, and what the analyses derive from it.

The pass (:func:`rtcscope.scan.scan`) fills the raw facts: counts, SIP messages, what their
SDP announced, RTP streams with RTCP and DTMF, ICMP errors, faults. Calls and the diagnosis
are computed from those on first use and kept, so ``analyze``'s sections and the commands
that share a model compute each thing once. Nothing here reads the capture again.

Memory: each SIP message keeps its raw bytes, start line, Call-ID, CSeq, From, To and Via
(about 1 KB a message besides its bytes: the other headers are read again from the bytes
when asked for, see :class:`rtcscope.sip.message.SipMessage`);
each stream keeps its statistics (a few KB) and, with RTCP, its reports; a packet of a
followed RTP stream costs nothing once counted.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import field
from typing import TYPE_CHECKING

from rtcscope._dataclass import dataclass
from rtcscope.capture.flowread import IndexedCapture, RecordIndex
from rtcscope.capture.info import CaptureInfo
from rtcscope.capture.tls import TlsFlow
from rtcscope.errors import CaptureError
from rtcscope.rtp.streams import RtpStream, ScanResult, StreamKey
from rtcscope.scan.options import ScanOptions
from rtcscope.sip.calls import IcmpEvent
from rtcscope.sip.capture import CapturedSip, MediaAnnouncement, SipCaptureReport

if TYPE_CHECKING:
    from rtcscope.rtp.series import StreamPackets  # imports the quality model: not at start
    from rtcscope.sip.calls import CallsResult
    from rtcscope.sip.diagnosis import Diagnosis
    from rtcscope.sip.dialogs import Call


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for a while (restored as it was).

    The pass and the analyses build hundreds of thousands of long-lived objects (messages,
    headers, transactions, calls) with few reference cycles: each automatic collection would
    walk all of them again, most of the time on a capture of 20,000 calls. Reference counting
    still frees everything as usual; cycles made meanwhile wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class CaptureModel:
    """One capture, read once (module docstring)."""

    source: str
    options: ScanOptions
    info: CaptureInfo
    messages: list[CapturedSip] = field(default_factory=list)
    sip_report: SipCaptureReport = field(default_factory=SipCaptureReport)
    announcements: list[MediaAnnouncement] = field(default_factory=list)
    rtp: ScanResult | None = None
    icmp: list[IcmpEvent] = field(default_factory=list)
    tls_flows: list[TlsFlow] = field(default_factory=list)  # TLS connections: not decoded
    faults: list[CaptureError] = field(default_factory=list)
    # Where packets can be read again (the file, or the spool of a piped source), or None.
    payload_path: str | None = None
    spooled: bool = False  # payload_path is a temporary copy: close() removes it
    # Where each record lies, when a later step reads packets again (capture/flowread.py).
    record_index: RecordIndex | None = None
    # Streams' per-packet arrays a read after the pass gave (``analyze -o``: the audio
    # section's read), so the report does not read those packets again.
    stream_arrays: dict[StreamKey, StreamPackets] = field(default_factory=dict)
    _dialogs: list[Call] | None = None
    _calls: CallsResult | None = None
    _diagnosis: Diagnosis | None = None

    @property
    def streams(self) -> list[RtpStream]:
        return self.rtp.streams if self.rtp is not None else []

    @property
    def payload_source(self) -> IndexedCapture | str | None:
        """Where packets can be read again: the file with the pass's record index (read by
        offsets), or the file alone, or None (a pipe without a spool)."""
        if self.payload_path is None:
            return None
        index = self.record_index
        if index is not None and index.usable:
            return IndexedCapture(self.payload_path, index)
        return self.payload_path

    @property
    def truncated(self) -> bool:
        """Whether the pass stopped at a fault (what came before it is all here)."""
        return bool(self.faults)

    def close(self) -> None:
        """Remove the spool of a piped source, if any."""
        if self.spooled and self.payload_path is not None:
            import os

            with contextlib.suppress(OSError):
                os.unlink(self.payload_path)
            self.payload_path = None
            self.spooled = False

    def dialogs(self) -> list[Call]:
        """The SIP calls by Call-ID with their transactions and dialogs (found once; the
        call list and the diagnosis both start from them)."""
        if self._dialogs is None:
            from rtcscope.sip.dialogs import find_calls

            with collector_paused():
                self._dialogs = find_calls(self.messages)
        return self._dialogs

    def calls(self) -> CallsResult:
        """Calls (legs linked), SIP statistics and message marks; RTP streams attached."""
        if self._calls is None:
            from rtcscope.sip.calls import attach_streams, summarize_calls

            with collector_paused():
                result = summarize_calls(
                    self.messages, self.announcements, self.dialogs(), self.info.counts.first_ns
                )
                attach_streams(result.calls, self.streams)
            self._calls = result
        return self._calls

    def diagnosis(self, call_id: str | None = None) -> Diagnosis:
        """Findings for every INVITE call (or one Call-ID), media checks included."""
        from rtcscope.sip.diagnosis import diagnose, icmp_reports

        if call_id is None and self._diagnosis is not None:
            return self._diagnosis
        with collector_paused():
            result = diagnose(
                self.messages,
                icmp_reports(self.icmp),
                call_id=call_id,
                announcements=self.announcements,
                streams=self.streams,
                calls=self.dialogs(),
                first_ns=self.info.counts.first_ns,
            )
        if call_id is None:
            self._diagnosis = result
        return result
