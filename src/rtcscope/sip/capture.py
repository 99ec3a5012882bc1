"""The SIP messages of a capture, and the media each SDP announces.

This is what every capability above SIP reads (calls, diagnosis, stream naming, SRTP keys,
HEP sending): :func:`sip_messages` walks a capture through
:func:`rtcscope.capture.pipeline.packets` (link layers, tunnels, IP reassembly) and
:class:`rtcscope.capture.tcp.TcpReassembler`, and frames SIP out of UDP datagrams, TCP
streams, WebSocket connections (RFC 7118) and SCTP user messages (RFC 4168; fragments
reassembled by :class:`rtcscope.capture.sctp.SctpReassembler`). A message is stamped with
the frame and time of the packet that completed it, as Wireshark numbers it.

Which payloads are SIP: a UDP datagram or TCP stream that starts with a SIP start line (the
test Wireshark's SIP heuristic applies), and a TCP connection whose HTTP Upgrade asks for
``websocket`` (or whose first bytes are a WebSocket frame carrying SIP). TCP data that starts
with a TLS record on a SIP port (5061, or 443/8443 for WSS) is SIP that cannot be read: it is
listed in :attr:`SipCaptureReport.encrypted` as "encrypted, not decoded", never parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import IpProto, Packet
from rtcscope.capture.pipeline import PipelineReport
from rtcscope.capture.sctp import SctpReassembler
from rtcscope.capture.tcp import Flow, TcpData, TcpReassembler
from rtcscope.capture.tls import SIP_TLS_PORTS as TLS_SIGNALLING_PORTS
from rtcscope.capture.tls import WSS_PORTS, is_tls_record_start
from rtcscope.sip import message as message_module
from rtcscope.sip import sdp as sdp_module
from rtcscope.sip.framing import (
    NEED_DATA,
    Garbage,
    KeepAlive,
    SipStreamFramer,
    parse_datagram,
)
from rtcscope.sip.message import (
    ROAD,
    SipMessage,
    finish_built,
    looks_like_sip,
    parse_started,
)
from rtcscope.sip.sdp import NO_EXTMAPS, NO_FMTP, Codec, Crypto, Fingerprint, announced_media
from rtcscope.sip.websocket import (
    HttpHandshake,
    Opcode,
    WebSocketError,
    WebSocketFramer,
    WebSocketMessage,
    looks_like_websocket_frame,
)

if TYPE_CHECKING:
    import mmap

    from rtcscope.capture.fastscan import UdpDatagrams

Transport = Literal["udp", "tcp", "ws", "tls", "sctp"]

# Ports where TLS means SIP: 5061 is SIPS (RFC 3261 26.2), 443/8443 carry WSS (RFC 7118);
# the TLS flow finder's lists (capture/tls.py), so both name the same flows.
SIP_TLS_PORTS = TLS_SIGNALLING_PORTS | WSS_PORTS
_START_LINE_ANYWHERE = re.compile(
    rb"(?m)^(?:[A-Za-z][A-Za-z0-9.!%*_+`'~\-]*[ \t]+sips?:\S+[ \t]+SIP/2\.0|SIP/2\.0[ \t]+\d{3})"
    rb"[^\r\n]*\r?\n"
)
# The first bytes of a SIP start line or HTTP upgrade, cut before its line end (held for at
# most _CHUNKS_TO_IDENTIFY chunks: then the direction is "other").
_CUT_START_LINE = re.compile(rb"[A-Za-z][!-~]*(?: [!-~]*){0,2}")
_SIP_FIRST_BYTES = frozenset(b"\r\nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# TCP directions tracked at once; past this the oldest is forgotten (a capture of many
# connections that never close must not grow memory without bound).
MAX_TCP_DIRECTIONS = 65536
# TCP directions still unidentified after this many chunks are not SIP (stop looking).
_CHUNKS_TO_IDENTIFY = 8


@dataclass(frozen=True, slots=True)
class CapturedSip:
    """One SIP message seen in a capture."""

    frame: int  # the frame that completed the message (1-based, as Wireshark numbers it)
    ts_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    transport: Transport
    message: SipMessage

    @property
    def time(self) -> float:
        return self.ts_ns / 1e9


class _NewCapturedSip:
    """A CapturedSip made by plain slot stores, then given its class (same slots, so Python
    allows it): the frozen dataclass ``__init__`` stores each field through
    ``object.__setattr__``, three times the cost for a value made once per SIP message."""

    __slots__ = CapturedSip.__slots__

    def __init__(
        self,
        frame: int,
        ts_ns: int,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        transport: Transport,
        message: SipMessage,
    ) -> None:
        self.frame, self.ts_ns, self.src, self.sport = frame, ts_ns, src, sport
        self.dst, self.dport, self.transport, self.message = dst, dport, transport, message
        self.__class__ = CapturedSip  # type: ignore[assignment]


_captured_sip = cast("Callable[..., CapturedSip]", _NewCapturedSip)

# The C road of SipCaptureFramer.datagrams (None: the Python road, see rtcscope.sip.message.ROAD).
# Its items: a CapturedSip, or the index of a row the Python road reads.
_c_datagrams: Callable[..., tuple[list[Any], int, int]] | None = None
if ROAD == "c":
    from rtcscope.sip import _sipscan

    try:
        _sipscan.setup_captured(CapturedSip, "udp")
    except AttributeError:
        pass  # a module built from an older _sipscan.c: the Python road
    else:
        _c_datagrams = cast("Callable[..., tuple[list[Any], int, int]]", _sipscan.datagrams)


@dataclass(frozen=True, slots=True)
class EncryptedFlow:
    """One direction of a TCP connection carrying TLS on a SIP port: "encrypted, not decoded"."""

    src: str
    sport: int
    dst: str
    dport: int
    first_frame: int
    reason: str


@dataclass(slots=True)
class SipCaptureReport:
    """What :func:`sip_messages` found besides the messages (complete once iteration ends)."""

    pipeline: PipelineReport = field(default_factory=PipelineReport)
    messages: int = 0
    udp_messages: int = 0
    tcp_messages: int = 0
    ws_messages: int = 0
    sctp_messages: int = 0  # one per SCTP user message (RFC 4168), fragments reassembled
    keepalives: int = 0
    skipped_stream_bytes: int = 0  # TCP bytes that were not SIP inside SIP streams
    tcp_directions_forgotten: int = 0  # oldest directions dropped to stay within the cap
    websocket_errors: list[str] = field(default_factory=list)
    encrypted: list[EncryptedFlow] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [
            f"{self.messages} SIP messages ({self.udp_messages} UDP, {self.tcp_messages} TCP, "
            f"{self.ws_messages} WebSocket"
            + (f", {self.sctp_messages} SCTP)" if self.sctp_messages else ")")
        ]
        if self.skipped_stream_bytes:
            lines.append(f"{self.skipped_stream_bytes} bytes skipped in SIP streams (not SIP)")
        if self.tcp_directions_forgotten:
            lines.append(f"{self.tcp_directions_forgotten} TCP directions forgotten (cap)")
        lines += [f"WebSocket: {e}" for e in self.websocket_errors]
        lines += [
            f"{e.src}:{e.sport} -> {e.dst}:{e.dport} from frame {e.first_frame}: {e.reason}"
            for e in self.encrypted
        ]
        return lines


_HTTP_UPGRADE_START = re.compile(rb"(?:GET [^\r\n]* HTTP/1\.[01]|HTTP/1\.[01] 101)")


class _Direction:
    """What one direction of a TCP connection carries, and its framer."""

    __slots__ = ("chunks_seen", "held", "mode", "sip", "ws")

    def __init__(self) -> None:
        self.mode = "unknown"  # unknown, sip, ws, tls, other
        self.sip: SipStreamFramer | None = None
        self.ws: WebSocketFramer | None = None
        self.chunks_seen = 0
        self.held = b""  # the start of a first line, until its end arrives


class SipCaptureFramer:
    """Turns decoded packets into :class:`CapturedSip` (sans-IO: fed packets, yields messages).

    :func:`sip_messages` drives it from a file; a live source can feed it packets the same way.
    """

    def __init__(self, report: SipCaptureReport | None = None) -> None:
        self.report = report if report is not None else SipCaptureReport()
        self._tcp = TcpReassembler()
        self._sctp = SctpReassembler()
        self._directions: dict[Flow, _Direction] = {}
        # One object per address and port: a capture's messages come from a few hosts, and
        # each message would otherwise hold its own copies (a port above 256 is an object);
        # found once per flow.
        self._shared: dict[object, object] = {}
        self._flows: dict[Flow, Flow] = {}

    def feed(self, packet: Packet) -> list[CapturedSip]:
        if packet.is_udp:
            return self._feed_udp(packet)
        if packet.is_tcp and packet.tcp is not None:
            out: list[CapturedSip] = []
            for chunk in self._tcp.feed(packet):
                self._feed_tcp(chunk, out)
            return out
        if packet.ip_proto == IpProto.SCTP:
            return self._feed_sctp(packet)
        return []

    def flush(self) -> list[CapturedSip]:
        """End of input: deliver held TCP bytes and messages cut by the end of the capture."""
        out: list[CapturedSip] = []
        for chunk in self._tcp.flush():
            self._feed_tcp(chunk, out)
        self._sctp.flush()
        return out

    def _emit(
        self,
        out: list[CapturedSip],
        message: SipMessage,
        flow: Flow,
        frame: int,
        ts_ns: int,
        transport: Transport,
    ) -> None:
        report = self.report
        report.messages += 1
        if transport == "udp":
            report.udp_messages += 1
        elif transport == "ws":
            report.ws_messages += 1
        elif transport == "sctp":
            report.sctp_messages += 1
        else:
            report.tcp_messages += 1
        shared = self._flows.get(flow)
        if shared is None:
            shared = self._shared_flow(flow)
        src, sport, dst, dport = shared
        out.append(_captured_sip(frame, ts_ns, src, sport, dst, dport, transport, message))

    def _shared_flow(self, flow: Flow) -> Flow:
        """``flow`` with each address and port the one object every message shares."""
        if len(self._flows) >= MAX_TCP_DIRECTIONS:
            self._flows.clear()  # bounded: a scan of many hosts keeps the last ones
            self._shared.clear()
        share = self._shared.setdefault
        src, sport, dst, dport = flow
        found = cast(
            Flow, (share(src, src), share(sport, sport), share(dst, dst), share(dport, dport))
        )
        self._flows[found] = found  # its own key: the packet's copies are not kept
        return found

    def _feed_udp(self, packet: Packet) -> list[CapturedSip]:
        captured = self.datagram(packet)
        return [] if captured is None else [captured]

    def datagram(self, packet: Packet) -> CapturedSip | None:
        """The SIP message of a UDP datagram (None: none, or a keep-alive, counted): what
        :meth:`feed` gives for a UDP packet, without the list."""
        message = self._message(packet.payload)
        if message is None:
            return None
        report = self.report
        report.messages += 1
        report.udp_messages += 1
        flow = (packet.src, packet.sport, packet.dst, packet.dport)
        return self._udp(packet.frame, packet.ts_ns, flow, message)

    def datagrams(self, buffer: bytes | mmap.mmap, found: UdpDatagrams) -> list[CapturedSip]:
        """:meth:`datagram` of each UDP datagram of a batch given as columns (payloads
        ``buffer[start:stop]``, :meth:`rtcscope.capture.fastscan.BatchRows.sip_datagrams`),
        without a Packet each: the messages found, in the order given (keep-alives counted).
        The scan's SIP rows come here, a batch at a time: on the C road in one call
        (``_sipscan.datagrams``), whose specification is :meth:`_datagrams_py` (a new flow
        shared there as :meth:`_shared_flow` shares it, in the same dicts)."""
        if _c_datagrams is None:
            out = self._datagrams_py(buffer, found)
        else:
            items, keepalives, left = _c_datagrams(
                buffer,
                found.starts,
                found.stops,
                found.frames,
                found.ts_ns,
                found.srcs,
                found.sports,
                found.dsts,
                found.dports,
                self._flows,
                self._shared,
                MAX_TCP_DIRECTIONS,
                finish_built,
            )
            self.report.keepalives += keepalives
            out = items
            if left:
                # The rows C left to the Python road (a payload starting with CR or LF: a
                # keep-alive, maybe), read here in their places.
                out = []
                for item in items:
                    if type(item) is int:
                        item = self._datagram_at(buffer, found, item)
                        if item is None:
                            continue
                    out.append(item)
        report = self.report
        report.messages += len(out)
        report.udp_messages += len(out)
        return out

    def _datagrams_py(self, buffer: bytes | mmap.mmap, found: UdpDatagrams) -> list[CapturedSip]:
        """:meth:`datagrams` in Python (the specification of the C road), without counting
        the messages in the report."""
        at = self._datagram_at
        return [
            captured
            for index in range(len(found.rows))
            if (captured := at(buffer, found, index)) is not None
        ]

    def _datagram_at(
        self, buffer: bytes | mmap.mmap, found: UdpDatagrams, index: int
    ) -> CapturedSip | None:
        """The message of datagram ``index`` of ``found`` (keep-alives counted)."""
        message = self._message(buffer[int(found.starts[index]) : int(found.stops[index])])
        if message is None:
            return None
        sport, dport = int(found.sports[index]), int(found.dports[index])
        flow = (found.srcs[index], sport, found.dsts[index], dport)
        return self._udp(found.frames[index], found.ts_ns[index], flow, message)

    def _udp(self, frame: int, ts_ns: int, flow: Flow, message: SipMessage) -> CapturedSip:
        """A message over UDP, its flow's addresses and ports the objects every message of
        the flow shares."""
        shared = self._flows.get(flow)
        if shared is None:
            shared = self._shared_flow(flow)
        src, sport, dst, dport = shared
        return _captured_sip(frame, ts_ns, src, sport, dst, dport, "udp", message)

    def _message(self, payload: bytes | memoryview) -> SipMessage | None:
        """The SIP message a UDP payload holds (None: none, or a keep-alive, counted)."""
        if len(payload) < 12:
            if payload and not bytes(payload).strip(b"\r\n\x00"):
                self.report.keepalives += 1
            return None
        # Cheap rejection of RTP, STUN, DNS...: a SIP datagram starts with a letter or CR/LF.
        first = payload[0]
        if first not in _SIP_FIRST_BYTES:
            return None
        if first == 0x0D or first == 0x0A:
            result = parse_datagram(payload)  # maybe a keep-alive
            if isinstance(result, KeepAlive):
                self.report.keepalives += 1
                return None
            return result
        if looks_like_sip(payload):  # parse_datagram's test, its keep-alive one needless
            return parse_started(payload)  # the first byte is a letter
        return None

    def _feed_sctp(self, packet: Packet) -> list[CapturedSip]:
        # RFC 4168: one SIP message per SCTP user message, read as a datagram is.
        out: list[CapturedSip] = []
        for message in self._sctp.feed(packet):
            result = parse_datagram(message.data)
            if isinstance(result, KeepAlive):
                self.report.keepalives += 1
            elif result is not None:
                self._emit(out, result, message.flow, message.frame, message.ts_ns, "sctp")
        return out

    def _feed_tcp(self, chunk: TcpData, out: list[CapturedSip]) -> None:
        flow = chunk.flow
        direction = self._directions.get(flow)
        if direction is None or chunk.syn:
            direction = _Direction()
            self._directions[flow] = direction
            if len(self._directions) > MAX_TCP_DIRECTIONS:
                oldest = next(iter(self._directions))
                del self._directions[oldest]
                self.report.tcp_directions_forgotten += 1
        if chunk.gap_before:
            self._gap(direction, chunk.gap_before)
            direction.held = b""
        if chunk.data:
            if direction.mode == "unknown":
                if direction.held:
                    chunk = replace(chunk, data=direction.held + chunk.data)
                    direction.held = b""
                self._identify(direction, chunk)
                if direction.mode == "unknown" and _CUT_START_LINE.fullmatch(chunk.data):
                    direction.held = chunk.data  # a first line cut by segmentation: wait
            if direction.mode == "sip" and direction.sip is not None:
                direction.sip.receive_data(chunk.data)
                self._drain_sip(direction, chunk, out)
            elif direction.mode == "ws" and direction.ws is not None:
                direction.ws.receive_data(chunk.data)
                self._drain_ws(direction, chunk, out)
        if chunk.fin or chunk.rst:
            if direction.sip is not None:
                direction.sip.receive_eof()
                self._drain_sip(direction, chunk, out)
            del self._directions[flow]

    def _gap(self, direction: _Direction, lost: int) -> None:
        if direction.sip is not None:
            garbage = direction.sip.receive_gap(lost)
            if garbage is not None:
                self.report.skipped_stream_bytes += len(garbage.data)
        if direction.ws is not None:
            # Frame boundaries are lost: look for a frame start again.
            direction.ws.receive_gap(lost)
            direction.ws = None
            direction.mode = "unknown"
            direction.chunks_seen = 0

    def _identify(self, direction: _Direction, chunk: TcpData) -> None:
        data = chunk.data
        if not data.strip(b"\r\n"):
            self.report.keepalives += 1  # a CRLF keep-alive before any SIP (RFC 5626 4.4.1)
            return
        direction.chunks_seen += 1
        src, sport, dst, dport = chunk.flow
        if is_tls_record_start(data):
            direction.mode = "tls"
            if sport in SIP_TLS_PORTS or dport in SIP_TLS_PORTS:
                port = dport if dport in SIP_TLS_PORTS else sport
                what = (
                    "SIP over TLS"
                    if port in TLS_SIGNALLING_PORTS
                    else "possibly SIP over secure WebSocket"
                )
                self.report.encrypted.append(
                    EncryptedFlow(
                        src,
                        sport,
                        dst,
                        dport,
                        chunk.frame,
                        f"{what} (TLS on port {port}): encrypted, not decoded",
                    )
                )
            return
        if _HTTP_UPGRADE_START.match(data):
            direction.mode = "ws"
            direction.ws = WebSocketFramer()
            return
        if looks_like_sip(data):
            direction.mode = "sip"
            direction.sip = SipStreamFramer()
            return
        if looks_like_websocket_frame(data):
            direction.mode = "ws"
            direction.ws = WebSocketFramer()
            return
        # A capture that starts mid-message: SIP resumes at the next start line.
        if _START_LINE_ANYWHERE.search(data):
            direction.mode = "sip"
            direction.sip = SipStreamFramer()
            return
        if direction.chunks_seen >= _CHUNKS_TO_IDENTIFY:
            direction.mode = "other"

    def _drain_sip(self, direction: _Direction, chunk: TcpData, out: list[CapturedSip]) -> None:
        framer = direction.sip
        assert framer is not None
        while True:
            event = framer.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, SipMessage):
                self._emit(out, event, chunk.flow, chunk.frame, chunk.ts_ns, "tcp")
            elif isinstance(event, KeepAlive):
                self.report.keepalives += 1
            elif isinstance(event, Garbage):
                self.report.skipped_stream_bytes += len(event.data)

    def _drain_ws(self, direction: _Direction, chunk: TcpData, out: list[CapturedSip]) -> None:
        framer = direction.ws
        assert framer is not None
        while True:
            event = framer.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, HttpHandshake):
                if not event.is_websocket_upgrade:
                    direction.mode = "other"
                    direction.ws = None
                    return
            elif isinstance(event, WebSocketMessage):
                if event.opcode in (Opcode.TEXT, Opcode.BINARY) and looks_like_sip(event.payload):
                    message = SipMessage.parse(event.payload)
                    self._emit(out, message, chunk.flow, chunk.frame, chunk.ts_ns, "ws")
            elif isinstance(event, WebSocketError):
                src, sport, dst, dport = chunk.flow
                self.report.websocket_errors.append(
                    f"{src}:{sport} -> {dst}:{dport} frame {chunk.frame}: {event.reason}"
                )


# -- media announcements (RFC 3264 offer/answer) ---------------------------------------------


# The defaults of MediaAnnouncement's dicts: empty, shared, never changed.
_NO_RTPMAPS: dict[int, tuple[str, int, int]] = {}


class MediaAnnouncement(NamedTuple):
    """One media section of one SDP seen in a capture: where a side wants to receive media.

    RFC 3264 5/6: the address and port are where the *announcing* side receives RTP, and
    each side's ``a=crypto`` key protects what that side *sends* (RFC 4568 6.1).
    ``side`` is "offer" or "answer"; ``role`` is "caller" (the side that sent the dialog's
    first INVITE, by From tag) or "callee".

    The SIP message's fields, then :class:`rtcscope.sip.sdp.AnnouncedMedia`'s in its order
    (one immutable tuple: a capture holds one per SDP section, made without a per-field
    ``__init__``; its dicts are shared between announcements and read, never changed).
    """

    frame: int
    ts_ns: int
    call_id: str | None
    side: Literal["offer", "answer"]
    role: Literal["caller", "callee"]
    sip_summary: str  # "INVITE sip:...", "200 OK", ...
    cseq: str | None
    sip_src: str
    sip_sport: int
    sip_dst: str
    sip_dport: int
    media_index: int
    media: str  # audio, video, ...
    proto: str
    address: str | None
    port: int
    rtcp_address: str | None
    rtcp_port: int | None
    rtcp_mux: bool
    direction: str
    on_hold: bool
    codecs: dict[int, Codec]  # payload type -> codec (rtpmap, else RFC 3551 static table)
    payload_types: tuple[int, ...]
    crypto: tuple[Crypto, ...]
    fingerprints: tuple[Fingerprint, ...]
    setup: str | None
    ssrcs: tuple[int, ...]
    mid: str | None
    fmtp: dict[int, str] = NO_FMTP  # e.g. iLBC "mode=30", opus params
    ptime: float | None = None
    extmaps: dict[int, str] = NO_EXTMAPS  # RFC 8285 id -> extension URI
    # The a=rtpmap lines as written: payload type -> (encoding, clock rate, channels);
    # ``codecs`` adds the RFC 3551 static table to them.
    rtpmaps: dict[int, tuple[str, int, int]] = _NO_RTPMAPS

    @property
    def time(self) -> float:
        return self.ts_ns / 1e9

    @property
    def is_rtp(self) -> bool:
        """An RTP profile (RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVP, ...), not e.g. m=application."""
        return "RTP" in self.proto.upper()

    @property
    def encrypted(self) -> bool:
        """SRTP: a SAVP(F) profile (RFC 3711, RFC 5764), an a=crypto key or an a=fingerprint."""
        return "SAVP" in self.proto.upper() or bool(self.crypto) or bool(self.fingerprints)

    @property
    def endpoint(self) -> tuple[str | None, int]:
        return self.address, self.port


# "200 OK", "INVITE sip:...": the SIP texts an announcement holds repeat call after call;
# one object each (bounded: cleared when full).
_TEXTS: dict[str, str] = {}


def _shared_text(text: str) -> str:
    found = _TEXTS.get(text)
    if found is None:
        if len(_TEXTS) >= MAX_TCP_DIRECTIONS:
            _TEXTS.clear()
        found = _TEXTS[text] = text
    return found


# A CSeq's (number, method) -> its text ("1 INVITE", shared) and its method in upper case
# (bounded: cleared when full).
_CSEQS: dict[tuple[int, str], tuple[str, str]] = {}


def _cseq_texts(number: int, method: str) -> tuple[str, str]:
    if len(_CSEQS) >= MAX_TCP_DIRECTIONS:
        _CSEQS.clear()
    found = _CSEQS[number, method] = (_shared_text(f"{number} {method}"), method.upper())
    return found


class MediaAnnouncer:
    """Sans-IO: feed SIP messages in capture order, get what each SDP's media sections announce.

    Offer or answer follows RFC 3264 and RFC 3261 13.2.1: an SDP in a request is an offer
    (in an ACK, or a PRACK after an offer in a reliable provisional, the answer); in a response
    it is the answer to an offer in its request (same Call-ID and CSeq), else an offer. The
    caller of a dialog is the From tag of its first INVITE without a To tag. This state lives
    across messages, so one announcer serves a whole capture: :func:`media_announcements`
    reads a capture with it, and :func:`rtcscope.rtp.streams.scan_capture` feeds it the SIP
    it frames while scanning, so streams are named from their SDP's frame on.

    A message without a body (Content-Length 0) that is not an INVITE is read for nothing:
    a caller may leave it out (:meth:`reads`).
    """

    __slots__ = ("_caller_tags", "_offers_in_requests", "_response_offer_pending")

    def __init__(self) -> None:
        self._offers_in_requests: set[tuple[str | None, int, str]] = set()
        self._response_offer_pending: set[str | None] = set()
        self._caller_tags: dict[str | None, str | None] = {}

    @staticmethod
    def reads(message: SipMessage) -> bool:
        """Whether :meth:`feed` reads anything of ``message``: a body or an INVITE's tags
        (False: feeding it changes nothing and gives no announcement)."""
        return message.content_length != 0 or message.request_method == "INVITE"

    def feed(self, item: CapturedSip) -> list[MediaAnnouncement]:
        """The media sections ``item``'s SDP announces (none without an SDP): on the C road
        in one call (``_sipscan.announcer_feed``), whose specification is :meth:`_feed_py`
        (read in its order; it leaves to it what it does not read before changing more than
        the caller's tag, which _feed_py's first step then finds kept)."""
        if _c_feed is not None:
            found = _c_feed(
                item, self._caller_tags, self._offers_in_requests, self._response_offer_pending
            )
            if found is not None:
                return found
        return self._feed_py(item)

    def feed_batch(
        self, items: list[CapturedSip], ahead: dict[int, list[MediaAnnouncement]] | None = None
    ) -> tuple[list[MediaAnnouncement], list[CapturedSip]]:
        """:meth:`feed` of each of ``items`` in order, in one step: every announcement, in
        order, and (with ``ahead``) the items that announced something, each one's own list
        put in ``ahead`` under its frame (one message per frame: a batch's datagrams). On the C
        road in one call (``_sipscan.announcer_batch``: the items :meth:`reads` passes over
        skipped without a Python call), whose specification is :meth:`_feed_batch_py`."""
        if _c_batch is not None:
            return _c_batch(
                items,
                self._caller_tags,
                self._offers_in_requests,
                self._response_offer_pending,
                self._feed_py,
                ahead,
            )
        return self._feed_batch_py(items, ahead)

    def _feed_batch_py(
        self, items: list[CapturedSip], ahead: dict[int, list[MediaAnnouncement]] | None
    ) -> tuple[list[MediaAnnouncement], list[CapturedSip]]:
        """:meth:`feed_batch` in Python."""
        out: list[MediaAnnouncement] = []
        announcing: list[CapturedSip] = []
        reads, feed = self.reads, self._feed_py
        for item in items:
            if not reads(item.message):
                continue
            found = feed(item)
            if found:
                out += found
                if ahead is not None:
                    ahead[item.frame] = found
                    announcing.append(item)
        return out, announcing

    def _feed_py(self, item: CapturedSip) -> list[MediaAnnouncement]:
        """:meth:`feed` in Python."""
        message = item.message
        request_method = message.request_method  # a request's method (message.method)
        # A dialog's first INVITE: the cheap tests first, the lookup in the capture's many
        # Call-IDs last (only an INVITE without a To tag reaches it).
        if request_method == "INVITE" and message.to_tag is None:
            call_id = message.call_id
            if call_id not in self._caller_tags:
                self._caller_tags[call_id] = message.from_tag
        if message.content_length == 0:
            return []  # most messages: no body, no SDP to look for
        # The SDP's bytes, as message.sdp would hold them (the announcer reads nothing else).
        body = message.sdp_body()
        if body is None:
            return []
        call_id = message.call_id
        cseq = message.cseq
        cseq_text: str | None
        if cseq is not None:
            number, cseq_method = cseq.number, cseq.method
            texts = _CSEQS.get((number, cseq_method))
            if texts is None:
                texts = _cseq_texts(number, cseq_method)
            cseq_text, upper = texts
            key = (call_id, number, upper)
        else:
            cseq_text = None
            key = (call_id, -1, "")
        side: Literal["offer", "answer"]
        if request_method is not None:
            method = request_method.upper()  # a request's method (message.method)
            if method == "ACK" or (method == "PRACK" and call_id in self._response_offer_pending):
                side = "answer"
                self._response_offer_pending.discard(call_id)
            else:
                side = "offer"
                self._offers_in_requests.add(key)
            from_caller_role: Literal["caller", "callee"] = "caller"
            other_role: Literal["caller", "callee"] = "callee"
        else:
            if key in self._offers_in_requests:
                side = "answer"
            else:
                side = "offer"
                self._response_offer_pending.add(call_id)
            from_caller_role, other_role = "callee", "caller"
        caller_tag = self._caller_tags.get(call_id)
        summary = message.summary
        sip = (
            item.frame,
            item.ts_ns,
            call_id,
            side,
            from_caller_role
            if caller_tag is None or message.from_tag == caller_tag
            else other_role,
            _TEXTS.get(summary) or _shared_text(summary),
            cseq_text,
            item.src,
            item.sport,
            item.dst,
            item.dport,
        )
        return announced_media(body, sip, MediaAnnouncement)


# The C road of MediaAnnouncer.feed (None: the Python road, see rtcscope.sip.message.ROAD):
# set up with what it reads besides the announcer's state, when the SDP's road is C too.
_c_feed: Callable[..., list[MediaAnnouncement] | None] | None = None
# ... and of MediaAnnouncer.feed_batch.
_c_batch: Callable[..., tuple[list[MediaAnnouncement], list[CapturedSip]]] | None = None
if ROAD == "c":
    from rtcscope.sip import _sipscan

    try:
        if sdp_module._announce is not _sipscan.sdp_announce:
            raise AttributeError("the SDP's road is Python")
        _sipscan.setup_announcer(
            (
                _CSEQS,
                _TEXTS,
                _shared_text,
                message_module._MEDIA_TYPES,
                sdp_module._TEMPLATES,
                MediaAnnouncement,
                sdp_module._ADDRESSES,
                sdp_module._TEMPLATE_LIMIT,
                sdp_module._announced_untold,
            )
        )
    except AttributeError:
        pass  # a module built from an older _sipscan.c: the Python road
    else:
        _c_feed = cast("Callable[..., list[MediaAnnouncement] | None]", _sipscan.announcer_feed)
        _c_batch = cast(
            "Callable[..., tuple[list[MediaAnnouncement], list[CapturedSip]]]",
            _sipscan.announcer_batch,
        )
# Which road MediaAnnouncer.feed/feed_batch take ("c" or "python"), as the other accelerators
# name theirs (README, "Accelerators added in session 12").
ANNOUNCER_ROAD = "python" if _c_batch is None else "c"


def media_announcements(captured: Iterable[CapturedSip]) -> list[MediaAnnouncement]:
    """The media every SDP of these SIP messages announces, in capture order
    (:class:`MediaAnnouncer`)."""
    announcer = MediaAnnouncer()
    out: list[MediaAnnouncement] = []
    for item in captured:
        out.extend(announcer.feed(item))
    return out
