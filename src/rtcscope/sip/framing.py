"""Framing SIP over UDP and stream transports (RFC 3261 18.3, RFC 5626 4.4.1).

Sans-IO in the style of h11 (DESIGN rule 2): a :class:`SipStreamFramer` is fed bytes with
:meth:`~SipStreamFramer.receive_data` and hands out events with
:meth:`~SipStreamFramer.next_event` until it returns :data:`NEED_DATA`. It never reads a
socket or a clock, so the same code frames a live TCP connection and a capture's reassembled
TCP stream.

Over a stream, RFC 3261 18.3 makes Content-Length mandatory: the message ends
Content-Length bytes after the blank line that ends the headers (``l:`` is the same header).
Between messages a peer may send CRLF keep-alives (RFC 5626 4.4.1: CRLFCRLF ping, CRLF pong).
Bytes that do not start a SIP message (a capture that begins mid-message, data after a gap)
are skipped up to the next line that looks like a SIP start line and reported as
:class:`Garbage`, so one bad message never stalls the stream.

Over UDP each datagram is one message (RFC 3261 18.3); :func:`parse_datagram` also
recognises keep-alives and says when a payload is not SIP at all.
"""

from __future__ import annotations

import re
from enum import Enum

from rtcscope._dataclass import dataclass
from rtcscope.sip.message import SipMessage, looks_like_sip


class NeedData(Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData.NEED_DATA
"""``next_event()`` returns this when the buffered bytes do not complete an event."""


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A CRLF keep-alive between messages (RFC 5626 4.4.1): ``ping`` is CRLFCRLF, a pong CRLF."""

    data: bytes

    @property
    def is_ping(self) -> bool:
        return self.data == b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes skipped because they do not start a SIP message (``reason`` says why)."""

    data: bytes
    reason: str


StreamEvent = SipMessage | KeepAlive | Garbage

# A start line at the beginning of the buffer.
_START_LINE = re.compile(
    rb"(?:[A-Za-z][A-Za-z0-9.!%*_+`'~\-]*[ \t]+\S+[ \t]+SIP/\d+\.\d+|SIP/\d+\.\d+[ \t]+\d{3})"
    rb"[^\r\n]*\r?\n"
)
# What resynchronisation looks for anywhere in skipped bytes: after a gap the next message
# may start right after the end of a cut body, not at a line start.
_RESYNC_START = re.compile(
    rb"(?:[A-Z]{3,16}[ \t]+(?:sips?|tel):[^\s]+[ \t]+SIP/2\.0|SIP/2\.0[ \t]+\d{3}[ \t])"
    rb"[^\r\n]*\r?\n"
)
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$")
_HEADER_END = re.compile(rb"\r?\n\r?\n")

MAX_HEADER_BYTES = 65536
"""A header block larger than this without a blank line is not SIP (resynchronise)."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A Content-Length above this is not waited for: the headers come out flagged, the framer
resynchronises (a corrupt length must not make it buffer the rest of the stream)."""


def find_header_end(data: bytes | bytearray) -> int:
    """Offset just past the blank line ending the headers, or -1 if not buffered yet."""
    m = _HEADER_END.search(data)
    return m.end() if m else -1


def declared_content_length(headers: bytes | bytearray) -> int | None:
    """The first Content-Length (or ``l``) value in a header block, None if absent."""
    m = _CONTENT_LENGTH.search(headers)
    return int(m.group(1)) if m else None


class SipStreamFramer:
    """Frames SIP messages out of one direction of a stream (TCP, TLS plaintext, SCTP).

    Feed bytes with :meth:`receive_data` (:meth:`receive_eof` when the stream ends), call
    :meth:`next_event` until it returns :data:`NEED_DATA`. Call :meth:`receive_gap` when
    bytes were lost (a capture's TCP gap): the partial message is dropped and the framer
    resynchronises on the next start line.
    """

    def __init__(
        self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._buffer = bytearray()
        self._closed = False
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        self.messages = 0
        self.skipped_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def receive_eof(self) -> None:
        """The stream ended: what is buffered comes out (a cut message, with its problem)."""
        self._closed = True

    def receive_gap(self, lost: int) -> Garbage | None:
        """``lost`` bytes are missing before the next data: drop what cannot be completed."""
        if not self._buffer:
            return None
        dropped = bytes(self._buffer)
        self._buffer.clear()
        self.skipped_bytes += len(dropped)
        return Garbage(dropped, f"{lost} bytes lost after this partial message")

    def send(self, message: SipMessage) -> bytes:
        """Bytes to put on the stream for ``message`` (its raw form)."""
        return bytes(message)

    def next_event(self) -> StreamEvent | NeedData:
        buf = self._buffer
        if not buf:
            return NEED_DATA
        # Keep-alives: CR/LF runs between messages (RFC 5626 4.4.1, RFC 3261 7.5).
        if buf[0] in (0x0D, 0x0A):
            run = 0
            while run < len(buf) and buf[run] in (0x0D, 0x0A):
                run += 1
            if buf.startswith(b"\r\n\r\n"):
                return self._take_keepalive(4)
            if run < len(buf) or self._closed:
                return self._take_keepalive(run)
            return NEED_DATA
        first_nl = buf.find(b"\n")
        if first_nl < 0:
            if len(buf) > self._max_header_bytes or self._closed:
                return self._skip(len(buf), "no line end: not a SIP start line")
            return NEED_DATA
        if not _START_LINE.match(buf, 0, first_nl + 1):
            return self._resync()
        end = find_header_end(buf)
        if end < 0:
            if len(buf) > self._max_header_bytes:
                return self._resync(start=first_nl + 1, reason="headers never end")
            if self._closed:
                return self._take_message(len(buf))
            return NEED_DATA
        length = declared_content_length(buf[:end])
        if length is not None and length > self._max_body_bytes:
            message = self._take_message(end)
            message.problems.append(
                f"Content-Length {length} is above the framer's limit of "
                f"{self._max_body_bytes} bytes: body not read"
            )
            return message
        total = end + (length or 0)
        if len(buf) < total:
            if self._closed:
                return self._take_message(len(buf))
            return NEED_DATA
        return self._take_message(total)

    def _take_keepalive(self, size: int) -> KeepAlive:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return KeepAlive(data)

    def _take_message(self, size: int) -> SipMessage:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.messages += 1
        message = SipMessage.parse(data)
        if message.content_length is None and message.header("Content-Length") is None:
            message.problems.append("no Content-Length over a stream transport (RFC 3261 18.3)")
        return message

    def _skip(self, size: int, reason: str) -> Garbage:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.skipped_bytes += size
        return Garbage(data, reason)

    def _resync(
        self, start: int = 0, reason: str = "not a SIP start line"
    ) -> StreamEvent | NeedData:
        buf = self._buffer
        m = _RESYNC_START.search(buf, start)
        if m is not None:
            return self._skip(m.start(), reason)
        # Keep the last, incomplete line: it may become a start line with more data.
        if self._closed:
            return self._skip(len(buf), reason)
        last_nl = buf.rfind(b"\n")
        if last_nl >= 0:
            return self._skip(last_nl + 1, reason)
        if len(buf) > self._max_header_bytes:
            # No line end at all (binary data): keep only what could begin a start line.
            return self._skip(len(buf) - 64, reason)
        return NEED_DATA


def parse_datagram(data: bytes | bytearray | memoryview) -> SipMessage | KeepAlive | None:
    """One UDP datagram: a SIP message, a CRLF keep-alive, or None when it is not SIP.

    RFC 3261 18.3: a datagram carries one message; bytes after Content-Length are kept in
    ``message.trailing`` and listed in ``problems``.
    """
    if data[:1] in (b"\r", b"\n") and not bytes(data).strip(b"\r\n"):
        return KeepAlive(bytes(data))
    if not looks_like_sip(data):
        return None
    return SipMessage.parse(data)
