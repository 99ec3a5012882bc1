"""SIP messages (RFC 3261 sections 7, 20 and 25), parsed tolerantly from captured bytes.

Hand-written because the Python SIP parsers we checked reject what real traffic contains:
sipmessage refuses folded headers, LF-only line ends, ``Via : ...`` and URIs with
``?headers``; dpkt does not expand compact forms. Captures must be read as they are, so
:meth:`SipMessage.parse` never raises: what does not follow the grammar is listed in
``problems`` and everything readable is still offered.

The message keeps its raw bytes (``bytes(message) == data``), and its headers in order with
the names spelled as written; lookups expand compact forms (RFC 3261 7.3.3) and ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from rtcscope.errors import SipError
from rtcscope.sip.headers import (
    LIST_HEADERS,
    NEVER_SPLIT,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    header_key,
    parse_cseq,
    parse_name_addr,
    parse_via,
    split_comma_list,
)
from rtcscope.sip.uri import Uri, is_digits, parse_uri

if TYPE_CHECKING:
    from rtcscope.sip.sdp import SessionDescription

_REQUEST_LINE = re.compile(
    rb"[A-Za-z][A-Za-z0-9.!%*_+`'~\-]*[ \t]+\S+[ \t]+SIP/\d+\.\d+[ \t]*\r?\n"
)
_STATUS_LINE = re.compile(rb"SIP/\d+\.\d+[ \t]+\d{3}(?:[ \t][^\r\n]*)?\r?\n")


def looks_like_sip(data: bytes | memoryview) -> bool:
    """Whether ``data`` starts (after optional CRLFs) with a SIP request or status line.

    This is the test a capture applies before calling a payload SIP, as Wireshark's SIP
    heuristic does: a full start line ending in a line break.
    """
    head = bytes(data[:2048])
    head = head.lstrip(b"\r\n")
    return bool(_REQUEST_LINE.match(head) or _STATUS_LINE.match(head))


# A capture repeats the same header names, addresses and Via values message after message
# (every message of a dialog carries its From, To and Call-ID): parsing each distinct text
# once and sharing the frozen result makes a message cost a few dict lookups instead of a
# parse per header. The caches are bounded: cleared when full.
_CACHE_LIMIT = 1 << 16
_KEYS: dict[str, str] = {}
_NAME_ADDRS: dict[str, NameAddr | SipError] = {}
_VIAS: dict[str, Via | SipError] = {}
_CSEQS: dict[str, CSeq | SipError] = {}
_URIS: dict[str, Uri | SipError] = {}


def _key_of(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        if len(_KEYS) >= _CACHE_LIMIT:
            _KEYS.clear()
        key = _KEYS[name] = header_key(name)
    return key


_Parsed = TypeVar("_Parsed")


def _parse_cached(
    cache: dict[str, _Parsed | SipError], parse: Callable[[str], _Parsed], text: str
) -> _Parsed:
    """``parse(text)``, once per distinct text (the SipError too: raised again each time)."""
    found = cache.get(text)
    if found is None:
        try:
            found = parse(text)
        except SipError as exc:
            found = exc
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = found
    if isinstance(found, SipError):
        raise SipError(str(found), found.offset)
    return found


def _text(raw: bytes) -> str:
    # surrogateescape keeps undecodable bytes reversible: value.encode(...) gives them back.
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Header:
    """One header line as received.

    ``name`` is spelled as written (``v``, ``VIA``, ``Via``); ``value`` is the value with
    folded continuation lines joined by one space (RFC 3261 7.3.1) and outer whitespace
    removed; ``raw`` is the exact bytes of the line(s), without the final line end.
    """

    name: str
    value: str
    raw: bytes

    @property
    def key(self) -> str:
        """Lower-case full name: compact forms expanded (RFC 3261 7.3.3)."""
        return _key_of(self.name)

    @property
    def canonical_name(self) -> str:
        return canonical_name(self.name)


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One part of a multipart body (RFC 2046 5.1), or the whole body when not multipart."""

    content_type: str  # lower-case media type without parameters, "" if none
    headers: tuple[Header, ...]
    body: bytes


def _media_type(value: str | None) -> str:
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


def _content_type_param(value: str, name: str) -> str | None:
    for piece in value.split(";")[1:]:
        key, _, val = piece.partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return None


@dataclass(slots=True)
class SipMessage:
    """A SIP request or response. Build one with :meth:`parse`.

    For a request ``method`` and ``request_uri`` are set and ``status_code`` is None; for a
    response ``status_code`` and ``reason`` are set and ``method`` is the CSeq method (what
    the response answers), as tools usually show it.
    """

    raw: bytes
    start_line: str = ""
    is_request: bool = False
    is_response: bool = False
    request_method: str | None = None
    request_uri_text: str | None = None
    request_uri: Uri | None = None
    sip_version: str = ""
    status_code: int | None = None
    reason: str | None = None
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    trailing: bytes = b""  # bytes after Content-Length (a UDP datagram's padding or junk)
    header_length: int = 0  # bytes up to and including the blank line
    problems: list[str] = field(default_factory=list)
    call_id: str | None = None
    cseq: CSeq | None = None
    from_: NameAddr | None = None
    to: NameAddr | None = None
    vias: list[Via] = field(default_factory=list)
    contacts: list[NameAddr] = field(default_factory=list)
    routes: list[NameAddr] = field(default_factory=list)
    record_routes: list[NameAddr] = field(default_factory=list)
    max_forwards: int | None = None
    content_length: int | None = None
    _sdp_cache: tuple[SessionDescription | None] | None = None
    # Header lines by lookup key (lower-case full name), in order: built once by parse().
    _by_key: dict[str, list[Header]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> SipMessage:
        """Parse one SIP message. Never raises: faults are listed in ``problems``."""
        raw = bytes(data)
        message = cls(raw=raw)
        try:
            message._parse()
        except Exception as exc:  # a parser bug must not stop a capture being read
            message.problems.append(f"internal parser fault: {type(exc).__name__}: {exc}")
        return message

    def __bytes__(self) -> bytes:
        return self.raw

    def encode(self) -> bytes:
        return self.raw

    # -- parsing -----------------------------------------------------------------------

    def _parse(self) -> None:
        raw = self.raw
        n = len(raw)
        pos = 0
        # RFC 3261 7.5: CRLFs before the start line are ignored (keep-alives, padding).
        while pos < n and raw[pos] in b"\r\n":
            pos += 1
        if pos >= n:
            self.problems.append("empty message")
            return
        if not self._parse_plain(pos):
            self._parse_general(pos)
        by_key = self._by_key
        for h in self.headers:
            key = _key_of(h.name)
            found = by_key.get(key)
            if found is None:
                by_key[key] = [h]
            else:
                found.append(h)
        if self.start_line or self.headers:
            self._parse_body(self.header_length)
            self._parse_known_headers()

    def _parse_plain(self, pos: int) -> bool:
        """The common shape in one sweep: CRLF line ends, no folded lines, a colon on every
        header line. False (nothing set) for anything else: the general parser handles it."""
        raw = self.raw
        end = raw.find(b"\r\n\r\n", pos)
        if end < 0:
            return False
        block = raw[pos:end]
        if block.count(b"\n") != block.count(b"\r\n") or b"\n " in block or b"\n\t" in block:
            return False
        byte_lines = block.split(b"\r\n")
        text_lines = block.decode("utf-8", "surrogateescape").split("\r\n")
        headers: list[Header] = []
        for text, line in zip(text_lines[1:], byte_lines[1:], strict=True):
            name, colon, value = text.partition(":")
            name = name.strip()
            if not colon or not name:
                return False
            headers.append(Header(name=name, value=value.strip(), raw=line))
        self.header_length = end + 4
        self._parse_start_line(text_lines[0])
        self.headers = headers
        return True

    def _parse_general(self, pos: int) -> None:
        raw = self.raw
        n = len(raw)
        lines: list[tuple[int, int]] = []  # (start, end without line end) of header lines
        body_start = -1
        while pos < n:
            nl = raw.find(b"\n", pos)
            if nl < 0:
                end = n
                next_pos = n
            else:
                end = nl
                next_pos = nl + 1
            line_end = end - 1 if end > pos and raw[end - 1] == 0x0D else end
            if line_end == pos and lines:
                body_start = next_pos
                break
            lines.append((pos, line_end))
            pos = next_pos
        if body_start < 0:
            body_start = n
            if lines and raw[lines[0][0] : lines[0][1]].strip():
                self.problems.append(
                    "no blank line ends the headers (the message is cut or not SIP)"
                )
        self.header_length = body_start
        if not lines:
            self.problems.append("no start line")
            return
        self._parse_start_line(_text(raw[lines[0][0] : lines[0][1]]))
        self._parse_header_lines(lines[1:])

    def _parse_start_line(self, line: str) -> None:
        self.start_line = line
        stripped = line.strip()
        if stripped.upper().startswith("SIP/"):
            parts = stripped.split(None, 2)
            self.is_response = True
            self.sip_version = parts[0]
            if len(parts) < 2 or not is_digits(parts[1]) or len(parts[1]) != 3:
                self.problems.append(f"status line {stripped[:80]!r} has no 3-digit status code")
                return
            self.status_code = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self._check_version()
            if not 100 <= self.status_code <= 699:
                self.problems.append(f"status code {self.status_code} is outside 100-699")
            return
        parts = stripped.split()
        if len(parts) == 3 and parts[2].upper().startswith("SIP/"):
            self.is_request = True
            self.request_method = parts[0]
            self.request_uri_text = parts[1]
            self.sip_version = parts[2]
            self._check_version()
            try:
                self.request_uri = _parse_cached(_URIS, parse_uri, parts[1])
            except SipError as exc:
                self.problems.append(f"Request-URI: {exc}")
            return
        self.problems.append(f"start line {stripped[:80]!r} is neither a request nor a status")

    def _check_version(self) -> None:
        if self.sip_version.upper() != "SIP/2.0":
            self.problems.append(f"SIP version {self.sip_version!r} is not SIP/2.0 (RFC 3261 7.1)")

    def _parse_header_lines(self, lines: list[tuple[int, int]]) -> None:
        raw = self.raw
        headers = self.headers
        current: tuple[int, int, str, list[str]] | None = None  # start, end, name, pieces

        def flush() -> None:
            if current is not None:
                start, end, name, pieces = current
                value = " ".join(p for p in pieces if p)
                headers.append(Header(name=name, value=value, raw=raw[start:end]))

        for start, end in lines:
            first = raw[start]
            if first in (0x20, 0x09):
                # RFC 3261 7.3.1: a line starting with whitespace continues the header.
                if current is not None:
                    current = (current[0], end, current[2], current[3])
                    current[3].append(_text(raw[start:end]).strip())
                else:
                    self.problems.append(f"continuation line at offset {start} follows no header")
                continue
            flush()
            current = None
            colon = raw.find(b":", start, end)
            if colon < 0:
                self.problems.append(
                    f"header line at offset {start} has no colon: {_text(raw[start:end])[:60]!r}"
                )
                continue
            # RFC 3261 7.3.1 / 25.1: HCOLON allows whitespace before the colon ("Via : ...").
            name = _text(raw[start:colon]).strip()
            if not name:
                self.problems.append(f"header line at offset {start} has no name")
                continue
            current = (start, end, name, [_text(raw[colon + 1 : end]).strip()])
        flush()

    def _parse_body(self, body_start: int) -> None:
        raw = self.raw
        rest = raw[body_start:]
        value = self.header("Content-Length")
        if value is None:
            # RFC 3261 18.3: over UDP the body is the rest of the datagram.
            self.body = rest
            return
        text = value.strip()
        if not is_digits(text):
            self.problems.append(f"Content-Length {text[:40]!r} is not a number")
            self.body = rest
            return
        length = int(text)
        self.content_length = length
        if len(rest) < length:
            self.problems.append(f"body is cut: {len(rest)} of {length} bytes (Content-Length)")
            self.body = rest
            return
        self.body = rest[:length]
        self.trailing = rest[length:]
        if self.trailing.strip(b"\r\n\x00 \t"):
            self.problems.append(
                f"{len(self.trailing)} bytes after the body's Content-Length of {length}"
            )

    def _parse_known_headers(self) -> None:
        call_ids = self.header_lines("Call-ID")
        if call_ids:
            self.call_id = call_ids[0].value
        else:
            self.problems.append("no Call-ID header")

        cseq = self.header("CSeq")
        if cseq is None:
            self.problems.append("no CSeq header")
        else:
            try:
                self.cseq = _parse_cached(_CSEQS, parse_cseq, cseq)
            except SipError as exc:
                self.problems.append(str(exc))

        for attr, name in (("from_", "From"), ("to", "To")):
            value = self.header(name)
            if value is None:
                self.problems.append(f"no {name} header")
                continue
            try:
                setattr(self, attr, _parse_cached(_NAME_ADDRS, parse_name_addr, value))
            except SipError as exc:
                self.problems.append(f"{name}: {exc}")

        for value in self.header_values("Via"):
            try:
                self.vias.append(_parse_cached(_VIAS, parse_via, value))
            except SipError as exc:
                self.problems.append(str(exc))
        if not self.vias and (self.is_request or self.is_response):
            self.problems.append("no Via header")

        for target, name in (
            (self.contacts, "Contact"),
            (self.routes, "Route"),
            (self.record_routes, "Record-Route"),
        ):
            for value in self.header_values(name):
                try:
                    target.append(_parse_cached(_NAME_ADDRS, parse_name_addr, value))
                except SipError as exc:
                    self.problems.append(f"{name}: {exc}")

        unbracketed = [v.sent_by for v in self.vias if v.unbracketed_ipv6]
        if self.request_uri is not None and self.request_uri.unbracketed_ipv6:
            unbracketed.append(self.request_uri.raw)
        if unbracketed:
            self.problems.append(
                f"IPv6 address without brackets (RFC 5118 4.5): {', '.join(unbracketed)[:120]}"
            )

        mf = self.header("Max-Forwards")
        if mf is not None:
            if is_digits(mf.strip()):
                self.max_forwards = int(mf.strip())
            else:
                self.problems.append(f"Max-Forwards {mf[:40]!r} is not a number")

    # -- header access -----------------------------------------------------------------

    def _lines_of(self, name: str) -> list[Header]:
        return self._by_key.get(_key_of(name)) or []

    def header_lines(self, name: str) -> list[Header]:
        """Every header line with this name (any case, compact or full form), in order."""
        return list(self._lines_of(name))

    def header(self, name: str) -> str | None:
        """The value of the first header line with this name, or None."""
        found = self._lines_of(name)
        return found[0].value if found else None

    def header_values(self, name: str) -> list[str]:
        """All values of a header: every line, and for list headers (RFC 3261 7.3.1) each
        comma-separated element. Credentials headers and free-text headers are never split."""
        key = _key_of(name)
        lines = [h.value for h in self._lines_of(name)]
        if key in NEVER_SPLIT or key not in LIST_HEADERS:
            return lines
        out: list[str] = []
        for value in lines:
            out += split_comma_list(value)
        return out

    # -- derived values ----------------------------------------------------------------

    @property
    def method(self) -> str | None:
        """The request method; for a response, the CSeq method it answers."""
        if self.is_request:
            return self.request_method
        return self.cseq.method if self.cseq is not None else None

    @property
    def top_via(self) -> Via | None:
        return self.vias[0] if self.vias else None

    @property
    def branch(self) -> str | None:
        via = self.top_via
        return via.branch if via is not None else None

    @property
    def from_tag(self) -> str | None:
        return self.from_.tag if self.from_ is not None else None

    @property
    def to_tag(self) -> str | None:
        return self.to.tag if self.to is not None else None

    @property
    def content_type(self) -> str:
        """Lower-case media type of the body without parameters ("" when absent)."""
        return _media_type(self.header("Content-Type"))

    @property
    def summary(self) -> str:
        """``INVITE sip:bob@b.example`` or ``200 OK`` (as a call flow shows it)."""
        if self.is_request:
            return f"{self.request_method} {self.request_uri_text}"
        if self.status_code is not None:
            return f"{self.status_code} {self.reason or ''}".rstrip()
        return self.start_line[:60]

    def body_parts(self) -> list[BodyPart]:
        """The body split into parts: one part, or each part of a multipart body (RFC 2046)."""
        ctype_value = self.header("Content-Type") or ""
        ctype = _media_type(ctype_value)
        if not self.body:
            return []
        if not ctype.startswith("multipart/"):
            return [BodyPart(content_type=ctype, headers=(), body=self.body)]
        boundary = _content_type_param(ctype_value, "boundary")
        if not boundary:
            return [BodyPart(content_type=ctype, headers=(), body=self.body)]
        return _split_multipart(self.body, boundary.encode("utf-8", "surrogateescape"))

    @property
    def sdp(self) -> SessionDescription | None:
        """The SDP body (``application/sdp``, also inside multipart), parsed; else None."""
        if self._sdp_cache is None:
            from rtcscope.sip.sdp import SessionDescription

            found: SessionDescription | None = None
            for part in self.body_parts():
                if part.content_type == "application/sdp" and part.body.strip():
                    found = SessionDescription.parse(part.body)
                    break
            self._sdp_cache = (found,)
        return self._sdp_cache[0]


def _split_multipart(body: bytes, boundary: bytes) -> list[BodyPart]:
    """RFC 2046 5.1.1: parts are separated by ``--boundary`` lines, closed by ``--boundary--``."""
    delimiter = b"--" + boundary
    parts: list[BodyPart] = []
    chunks = body.split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        # Drop the line end after the delimiter and the one before the next delimiter.
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        sep = chunk.find(b"\r\n\r\n")
        sep_len = 4
        lf = chunk.find(b"\n\n")
        if lf >= 0 and (sep < 0 or lf < sep):
            sep, sep_len = lf, 2
        if chunk.startswith((b"\r\n", b"\n")):
            header_block, content = b"", chunk.lstrip(b"\r").lstrip(b"\n")
        elif sep >= 0:
            header_block, content = chunk[:sep], chunk[sep + sep_len :]
        else:
            header_block, content = chunk, b""
        headers: list[Header] = []
        for line in header_block.splitlines():
            name, colon, value = line.partition(b":")
            if colon:
                headers.append(
                    Header(name=_text(name).strip(), value=_text(value).strip(), raw=line)
                )
        ctype = ""
        for h in headers:
            if h.key == "content-type":
                ctype = _media_type(h.value)
                break
        parts.append(BodyPart(content_type=ctype, headers=tuple(headers), body=content))
    return parts
