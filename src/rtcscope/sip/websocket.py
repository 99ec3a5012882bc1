"""WebSocket framing (RFC 6455) for SIP over WebSocket (RFC 7118), sans-IO.

Hand-written because the WebSocket libraries (wsproto, websockets) drive a live connection
from one side and refuse what a capture shows from the middle (a stream that starts after
the handshake, both masked and unmasked directions, a permessage-deflate context). This
framer only decodes: it is fed the bytes of one direction, recognises the HTTP Upgrade
handshake (RFC 6455 4), then frames (5.2), unmasks (5.3), joins fragments (5.4), separates
control frames (5.5) and inflates ``permessage-deflate`` messages (RFC 7692 7.2.2).

RFC 7118 5: each text or binary message carries exactly one SIP message.
"""

from __future__ import annotations

import re
import struct
import zlib
from enum import IntEnum

from rtcscope._dataclass import dataclass
from rtcscope.errors import SipError
from rtcscope.sip.framing import NEED_DATA, NeedData, find_header_end
from rtcscope.sip.uri import is_digits


class Opcode(IntEnum):
    """RFC 6455 11.8 opcodes."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


@dataclass(frozen=True, slots=True)
class HttpHandshake:
    """The HTTP Upgrade request (``GET ... Upgrade: websocket``) or its 101 response."""

    start_line: str
    headers: tuple[tuple[str, str], ...]
    raw: bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for n, v in self.headers:
            if n.lower() == lname:
                return v
        return None

    @property
    def is_request(self) -> bool:
        return not self.start_line.upper().startswith("HTTP/")

    @property
    def status_code(self) -> int | None:
        parts = self.start_line.split()
        if not self.is_request and len(parts) >= 2 and is_digits(parts[1]):
            return int(parts[1])
        return None

    @property
    def is_websocket_upgrade(self) -> bool:
        upgrade = (self.header("Upgrade") or "").lower()
        return "websocket" in upgrade and (self.is_request or self.status_code == 101)

    @property
    def subprotocols(self) -> list[str]:
        value = self.header("Sec-WebSocket-Protocol") or ""
        return [p.strip() for p in value.split(",") if p.strip()]

    @property
    def permessage_deflate(self) -> bool:
        return "permessage-deflate" in (self.header("Sec-WebSocket-Extensions") or "").lower()


@dataclass(frozen=True, slots=True)
class WebSocketMessage:
    """A complete data message (text or binary), fragments joined, unmasked, inflated."""

    opcode: Opcode
    payload: bytes
    frames: int = 1
    compressed: bool = False


@dataclass(frozen=True, slots=True)
class WebSocketControl:
    """A close, ping or pong frame (RFC 6455 5.5)."""

    opcode: Opcode
    payload: bytes


@dataclass(frozen=True, slots=True)
class WebSocketError:
    """A frame the framer could not decode; the stream cannot be framed past it."""

    reason: str
    data: bytes


WebSocketEvent = HttpHandshake | WebSocketMessage | WebSocketControl | WebSocketError

_HTTP_START = re.compile(rb"(?:GET [^\r\n]* HTTP/1\.[01]|HTTP/1\.[01] \d{3})")


def unmask(payload: bytes | bytearray | memoryview, mask_key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking key (RFC 6455 5.3)."""
    n = len(payload)
    if n == 0:
        return b""
    key = (mask_key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    mask_key: bytes | None = None,
    rsv1: bool = False,
) -> bytes:
    """One frame as RFC 6455 5.2 lays it out (a client masks, a server does not)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (opcode & 0x0F)
    mask_bit = 0x80 if mask_key is not None else 0
    n = len(payload)
    if n < 126:
        header = bytes([first, mask_bit | n])
    elif n < 65536:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", n)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", n)
    if mask_key is None:
        return header + payload
    if len(mask_key) != 4:
        raise SipError("a WebSocket masking key is 4 bytes (RFC 6455 5.3)")
    return header + mask_key + unmask(payload, mask_key)


def looks_like_websocket_frame(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` starts with an uncompressed text/binary frame carrying a SIP start.

    Used for a capture that starts after the handshake: FIN set, RSV bits zero, a text or
    binary opcode, and a payload (unmasked) that begins with a SIP request or status line.
    """
    head = bytes(data[:80])
    if len(head) < 2:
        return False
    b0, b1 = head[0], head[1]
    if b0 & 0x70 or (b0 & 0x0F) not in (Opcode.TEXT, Opcode.BINARY):
        return False
    offset = 2
    length = b1 & 0x7F
    if length == 126:
        offset = 4
    elif length == 127:
        offset = 10
    mask_key = b""
    if b1 & 0x80:
        mask_key = head[offset : offset + 4]
        offset += 4
    body = head[offset : offset + 32]
    if len(body) < 12 or len(mask_key) not in (0, 4):
        return False
    if mask_key:
        body = unmask(body, mask_key)
    return _SIP_START.match(body) is not None


_SIP_START = re.compile(rb"SIP/2\.0 \d{3} |[A-Z]{3,12} sips?:")


class WebSocketFramer:
    """Decodes one direction of a WebSocket connection.

    It starts in the handshake state when the first bytes are an HTTP request/response,
    else directly in frames (a capture that missed the handshake). ``permessage_deflate``
    is switched on by a handshake that negotiated it, or by the caller.
    """

    def __init__(self, max_message_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._state = "start"  # "start", "http", "frames", "broken"
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._fragment_compressed = False
        self._inflater: zlib._Decompress | None = None
        self._max_message_bytes = max_message_bytes
        self.permessage_deflate = False
        self.handshake: HttpHandshake | None = None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def receive_gap(self, lost: int) -> None:
        """Bytes were lost: frame boundaries are gone, so decoding stops for this direction."""
        self._buffer.clear()
        self._state = "broken"

    @property
    def broken(self) -> bool:
        return self._state == "broken"

    def next_event(self) -> WebSocketEvent | NeedData:
        while True:
            if self._state == "broken" or not self._buffer:
                if self._state == "broken":
                    self._buffer.clear()
                return NEED_DATA
            if self._state == "start":
                if len(self._buffer) < 16 and b"\n" not in self._buffer:
                    prefix = bytes(self._buffer)
                    if b"GET ".startswith(prefix[:4]) or b"HTTP/".startswith(prefix[:5]):
                        return NEED_DATA
                self._state = "http" if _HTTP_START.match(self._buffer) else "frames"
                continue
            if self._state == "http":
                return self._next_handshake()
            event = self._next_frame()
            if event is None:
                continue
            return event

    def _next_handshake(self) -> HttpHandshake | NeedData:
        end = find_header_end(self._buffer)
        if end < 0:
            return NEED_DATA
        raw = bytes(self._buffer[:end])
        del self._buffer[:end]
        text = raw.decode("latin-1")
        lines = text.splitlines()
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers.append((name.strip(), value.strip()))
        handshake = HttpHandshake(
            start_line=lines[0] if lines else "", headers=tuple(headers), raw=raw
        )
        if handshake.permessage_deflate and not handshake.is_request:
            self.permessage_deflate = True
        self.handshake = handshake
        self._state = "frames"
        return handshake

    def _next_frame(self) -> WebSocketEvent | NeedData | None:
        buf = self._buffer
        if len(buf) < 2:
            return NEED_DATA
        b0, b1 = buf[0], buf[1]
        fin = bool(b0 & 0x80)
        rsv1 = bool(b0 & 0x40)
        opcode_value = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        offset = 2
        if length == 126:
            if len(buf) < 4:
                return NEED_DATA
            length = struct.unpack_from("!H", buf, 2)[0]
            offset = 4
        elif length == 127:
            if len(buf) < 10:
                return NEED_DATA
            length = struct.unpack_from("!Q", buf, 2)[0]
            offset = 10
        if b0 & 0x30 or opcode_value not in Opcode._value2member_map_:
            return self._break(f"frame with reserved bits or opcode 0x{b0:02x}")
        if length > self._max_message_bytes:
            return self._break(f"frame of {length} bytes is larger than the limit")
        mask_key = b""
        if masked:
            if len(buf) < offset + 4:
                return NEED_DATA
            mask_key = bytes(buf[offset : offset + 4])
            offset += 4
        if len(buf) < offset + length:
            return NEED_DATA
        payload = bytes(buf[offset : offset + length])
        del buf[: offset + length]
        if masked:
            payload = unmask(payload, mask_key)
        opcode = Opcode(opcode_value)
        if opcode >= Opcode.CLOSE:
            if not fin or length > 125:
                return self._break("control frame fragmented or longer than 125 bytes (5.5)")
            return WebSocketControl(opcode, payload)
        if opcode == Opcode.CONTINUATION:
            if self._fragment_opcode is None:
                return self._break("continuation frame without a first fragment (5.4)")
        else:
            if self._fragment_opcode is not None:
                return self._break("new data frame inside a fragmented message (5.4)")
            self._fragment_opcode = opcode
            self._fragment_compressed = rsv1
        self._fragments.append(payload)
        if not fin:
            return None
        data = b"".join(self._fragments)
        frames = len(self._fragments)
        first_opcode = self._fragment_opcode
        compressed = self._fragment_compressed
        self._fragments = []
        self._fragment_opcode = None
        self._fragment_compressed = False
        if compressed:
            try:
                data = self._inflate(data)
            except zlib.error as exc:
                return self._break(f"permessage-deflate data does not inflate: {exc}")
        return WebSocketMessage(first_opcode, data, frames, compressed)

    def _inflate(self, data: bytes) -> bytes:
        # RFC 7692 7.2.2: append 00 00 ff ff, inflate with the context of earlier messages.
        if self._inflater is None:
            self._inflater = zlib.decompressobj(-15)
        return self._inflater.decompress(data + b"\x00\x00\xff\xff", self._max_message_bytes)

    def _break(self, reason: str) -> WebSocketError:
        data = bytes(self._buffer)
        self._buffer.clear()
        self._state = "broken"
        return WebSocketError(reason, data)
