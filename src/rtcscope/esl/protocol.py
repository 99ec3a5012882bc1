"""FreeSWITCH Event Socket (ESL) protocol, sans-IO.

Written by hand because the framing is small and the Python ESL libraries (greenswitch,
genesis, python-ESL) each own their sockets; here the bytes are fed in and the messages come
out, so the asyncio client and the property tests share one parser (DESIGN rule 2,
modelled on h11). The tests' fake FreeSWITCH frames its messages by hand, independently.

The wire format, as mod_event_socket writes it:

* Every message is a block of ``Name: value`` header lines ended by a blank line; when the
  block has ``Content-Length: N``, N bytes of body follow. ``Content-Type`` says what it is:
  ``auth/request`` (the greeting), ``command/reply`` (``Reply-Text: +OK ...`` or
  ``-ERR ...``), ``api/response`` (the body is the API's output), ``text/event-plain``,
  ``text/event-json``, ``text/event-xml``, ``log/data``, ``text/disconnect-notice`` and
  ``text/rude-rejection`` (the inbound ACL refused the client; sent instead of the greeting).
* A ``text/event-plain`` body is itself a header block: ``Name: value`` lines whose values are
  URL-encoded (``switch_event_serialize`` with encoding on). An event that has a body of its
  own (BACKGROUND_JOB's API output, a CUSTOM event's payload) ends its headers with a second
  ``Content-Length: N``, a blank line and N bytes.
* A ``text/event-json`` body is one JSON object; header values are strings (arrays for
  multi-valued headers) and the event's own body is under ``_body``.

Usage::

    conn = EslConnection()
    conn.receive_data(chunk)           # b"" means the peer closed the connection
    while (msg := conn.next_event()) is not NEED_DATA: ...
    sock.send(conn.send(Auth("ClueCon")))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote

from rtcscope.errors import EslError, InvalidArgument


def _is_decimal(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts '¹' and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


# A header block larger than this is not ESL (FreeSWITCH's own limit for a command is 1 MiB
# in mod_event_socket's read loop; a reply header block is a few hundred bytes).
MAX_HEADER_BLOCK = 1 << 20
# Bodies beyond this are refused rather than buffered (an api response listing every
# registration of a large system is a few MiB).
MAX_BODY = 64 << 20
# FreeSWITCH's JSON events are one flat object (arrays for multi-valued headers); a body
# nested deeper is refused before json.loads, whose C scanner would recurse on it.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")

ACL_HINT = (
    "the Event Socket's inbound ACL refused this address: allow it with "
    '<param name="apply-inbound-acl" value="..."/> in '
    "autoload_configs/event_socket.conf.xml (and the matching list in acl.conf.xml), "
    "then `reload mod_event_socket`"
)


class Sentinel(Enum):
    """What ``next_event`` returns when it has no message to give."""

    NEED_DATA = "need data"
    CONNECTION_CLOSED = "connection closed"


NEED_DATA = Sentinel.NEED_DATA
CONNECTION_CLOSED = Sentinel.CONNECTION_CLOSED


class Headers:
    """Ordered, case-insensitive, multi-valued headers (FreeSWITCH compares names with
    strcasecmp: a dump may say ``Event-Date-timestamp``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``."""
        lowered = name.lower()
        for key, value in self._items:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self._items if key.lower() == lowered]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def as_dict(self) -> dict[str, str]:
        """First value of each name, in order of appearance (for JSON payloads)."""
        out: dict[str, str] = {}
        seen: set[str] = set()
        for key, value in self._items:
            if key.lower() not in seen:
                seen.add(key.lower())
                out[key] = value
        return out

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


# ---------------------------------------------------------------------------------------------
# Messages the server sends


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """``Content-Type: auth/request``: the greeting; answer with :class:`Auth` or
    :class:`UserAuth`."""

    headers: Headers


@dataclass(frozen=True, slots=True)
class CommandReply:
    """``Content-Type: command/reply``: the answer to every command but ``api``."""

    headers: Headers
    reply_text: str

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")

    @property
    def job_uuid(self) -> str | None:
        """A ``bgapi`` reply names the job whose BACKGROUND_JOB event will carry the output."""
        return self.headers.get("Job-UUID")


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """``Content-Type: api/response``: the output of an ``api`` command."""

    headers: Headers
    body: str

    @property
    def ok(self) -> bool:
        return not self.body.startswith("-ERR")


@dataclass(frozen=True, slots=True)
class EslEvent:
    """One event, from ``text/event-plain`` (values URL-decoded) or ``text/event-json``."""

    headers: Headers
    body: str | None = None
    format: str = "plain"

    @property
    def name(self) -> str | None:
        return self.headers.get("Event-Name")

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    @property
    def unique_id(self) -> str | None:
        return self.headers.get("Unique-ID")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass(frozen=True, slots=True)
class LogData:
    """``Content-Type: log/data``: a console log line (after the ``log`` command)."""

    headers: Headers
    text: str

    @property
    def level(self) -> int | None:
        value = self.headers.get("Log-Level")
        return int(value) if value is not None and _is_decimal(value) else None


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """``Content-Type: text/disconnect-notice``: the server ends the session."""

    headers: Headers
    text: str


@dataclass(frozen=True, slots=True)
class RudeRejection:
    """``Content-Type: text/rude-rejection``: the inbound ACL refused this client."""

    headers: Headers
    text: str

    @property
    def explanation(self) -> str:
        return f"{self.text.strip() or 'rejected'}: {ACL_HINT}"


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A message whose Content-Type this module does not interpret (``text/event-xml``...)."""

    headers: Headers
    content_type: str
    body: bytes


ServerMessage = (
    AuthRequest
    | CommandReply
    | ApiResponse
    | EslEvent
    | LogData
    | DisconnectNotice
    | RudeRejection
    | OtherMessage
)

# ---------------------------------------------------------------------------------------------
# Commands the client sends

EVENT_FORMATS = ("plain", "json", "xml")
_EVENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SUBCLASS = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def _one_line(what: str, value: str) -> str:
    # A newline inside a command would end it early and start another: refuse it.
    if "\n" in value or "\r" in value:
        raise InvalidArgument(what, f"ESL {what} must be one line: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Auth:
    password: str

    def encode(self) -> bytes:
        return f"auth {_one_line('password', self.password)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class UserAuth:
    """``userauth user@domain:password`` (event_socket.conf.xml ``esl-user`` accounts)."""

    user: str
    domain: str
    password: str

    def encode(self) -> bytes:
        spec = _one_line("userauth", f"{self.user}@{self.domain}:{self.password}")
        return f"userauth {spec}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Subscribe:
    """``event <plain|json|xml> NAME ... [CUSTOM subclass ...]``.

    CUSTOM events are chosen by subclass: mod_event_socket reads the words after ``CUSTOM``
    as subclass names, so named events come first and the subclasses last.
    """

    events: tuple[str, ...]
    custom_subclasses: tuple[str, ...] = ()
    format: str = "plain"

    def encode(self) -> bytes:
        if self.format not in EVENT_FORMATS:
            raise InvalidArgument(
                "format", f"ESL event format must be one of {EVENT_FORMATS}: {self.format!r}"
            )
        names = [e for e in self.events if e != "CUSTOM"]
        for name in names:
            if not _EVENT_NAME.match(name):
                raise InvalidArgument("events", f"not an ESL event name: {name!r}")
        for sub in self.custom_subclasses:
            if not _SUBCLASS.match(sub):
                raise InvalidArgument("custom_subclasses", f"not an ESL event subclass: {sub!r}")
        words = [*names]
        if self.custom_subclasses or "CUSTOM" in self.events:
            words += ["CUSTOM", *self.custom_subclasses]
        if not words:
            raise InvalidArgument("events", "ESL event subscription names no event")
        return f"event {self.format} {' '.join(words)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class NixEvent:
    """``nixevent NAME ...``: stop receiving these events."""

    events: tuple[str, ...]

    def encode(self) -> bytes:
        if not self.events:
            raise InvalidArgument("events", "nixevent names no event")
        return f"nixevent {_one_line('event list', ' '.join(self.events))}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Filter:
    """``filter HEADER VALUE``: only events whose HEADER equals VALUE (``delete`` removes)."""

    header: str
    value: str
    delete: bool = False

    def encode(self) -> bytes:
        verb = "filter delete" if self.delete else "filter"
        spec = _one_line("filter", f"{self.header} {self.value}".strip())
        return f"{verb} {spec}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Api:
    """``api COMMAND ARGS``: blocking; the answer is an ``api/response``."""

    command: str
    args: str = ""

    def encode(self) -> bytes:
        line = _one_line("api command", f"{self.command} {self.args}".strip())
        return f"api {line}\n\n".encode()


@dataclass(frozen=True, slots=True)
class BgApi:
    """``bgapi COMMAND ARGS``: answered at once with a Job-UUID; the output comes later in a
    BACKGROUND_JOB event (subscribe to it)."""

    command: str
    args: str = ""
    job_uuid: str | None = None

    def encode(self) -> bytes:
        line = _one_line("bgapi command", f"{self.command} {self.args}".strip())
        extra = f"Job-UUID: {_one_line('Job-UUID', self.job_uuid)}\n" if self.job_uuid else ""
        return f"bgapi {line}\n{extra}\n".encode()


@dataclass(frozen=True, slots=True)
class Exit:
    """``exit``: the server replies +OK bye, sends a disconnect notice and closes."""

    def encode(self) -> bytes:
        return b"exit\n\n"


Command = Auth | UserAuth | Subscribe | NixEvent | Filter | Api | BgApi | Exit

# ---------------------------------------------------------------------------------------------
# Parsing


def _header_line(line: bytes, offset: int, what: str) -> tuple[str, str]:
    text = line.decode("utf-8", errors="replace")
    if text.endswith("\r"):
        text = text[:-1]
    name, sep, value = text.partition(":")
    if not sep or not name or name != name.strip() or " " in name:
        raise EslError(f"ESL {what} line at offset {offset} is not 'Name: value': {text[:80]!r}")
    return name, value[1:] if value.startswith(" ") else value


def parse_header_block(block: bytes, base_offset: int = 0, what: str = "header") -> Headers:
    """Outer message headers (values are not URL-encoded)."""
    items: list[tuple[str, str]] = []
    pos = 0
    for line in block.split(b"\n"):
        if line.strip(b"\r"):
            items.append(_header_line(line, base_offset + pos, what))
        pos += len(line) + 1
    return Headers(items)


# In an event-plain body, a header line is "Name: value" with a name free of spaces and colons.
# Anything else continues the previous value: decoded dumps (fs_cli, test suites) carry SDP
# and other multi-line values unencoded.
_PLAIN_HEADER = re.compile(rb"^([^\s:]+):(?: (.*)|)$", re.DOTALL)


def parse_event_plain(body: bytes, base_offset: int = 0) -> EslEvent:
    """A ``text/event-plain`` body: URL-encoded header lines, then an optional inner
    ``Content-Length`` + blank line + body."""
    items: list[tuple[str, str]] = []
    pos = 0
    event_body: str | None = None
    size = len(body)
    while pos < size:
        end = body.find(b"\n", pos)
        line_end = size if end < 0 else end
        line = body[pos:line_end].rstrip(b"\r")
        next_pos = line_end + 1
        if not line:
            if items and items[-1][0].lower() == "content-length":
                length_text = items[-1][1].strip()
                if not _is_decimal(length_text):
                    raise EslError(
                        f"ESL event at offset {base_offset + pos}: inner Content-Length "
                        f"{length_text[:20]!r} is not a number"
                    )
                length = int(length_text)
                available = size - next_pos if next_pos <= size else 0
                if length > available:
                    raise EslError(
                        f"ESL event at offset {base_offset + next_pos}: its body declares "
                        f"{length} bytes, {available} present"
                    )
                event_body = body[next_pos : next_pos + length].decode("utf-8", errors="replace")
                break
            if items and body[next_pos:].strip():
                # A blank line inside a multi-line value (e.g. an SDP's final CRLF in a dump).
                name, value = items[-1]
                items[-1] = (name, value + "\n")
            pos = next_pos
            continue
        match = _PLAIN_HEADER.match(line)
        if match:
            raw_value = match.group(2) or b""
            value = unquote(raw_value.decode("utf-8", errors="replace"), errors="replace")
            items.append((match.group(1).decode("utf-8", errors="replace"), value))
        elif items:
            name, value = items[-1]
            items[-1] = (name, value + "\n" + line.decode("utf-8", errors="replace"))
        else:
            raise EslError(
                f"ESL event at offset {base_offset + pos} does not start with a header: "
                f"{line[:80]!r}"
            )
        pos = next_pos
    if not items:
        raise EslError(f"ESL event at offset {base_offset} has no headers")
    return EslEvent(Headers(items), event_body, "plain")


def json_depth(text: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped), in one pass."""
    depth = deepest = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRING.sub(b'""', text)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_event_json(body: bytes, base_offset: int = 0) -> EslEvent:
    """A ``text/event-json`` body: one object; ``_body`` is the event's own body. Nested
    deeper than MAX_JSON_DEPTH: EslError."""
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise EslError(
            f"ESL JSON event at offset {base_offset} nests {depth} deep (at most {MAX_JSON_DEPTH})"
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EslError(f"ESL JSON event at offset {base_offset} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EslError(f"ESL JSON event at offset {base_offset} is not an object")
    items: list[tuple[str, str]] = []
    event_body: str | None = None
    for key, value in data.items():
        if key == "_body":
            event_body = value if isinstance(value, str) else json.dumps(value)
        elif isinstance(value, str):
            items.append((key, value))
        elif isinstance(value, list):
            # Multi-valued headers (switch_event_add_header with SWITCH_STACK_PUSH).
            items.extend((key, v if isinstance(v, str) else json.dumps(v)) for v in value)
        else:
            items.append((key, json.dumps(value)))
    return EslEvent(Headers(items), event_body, "json")


def message_from_parts(headers: Headers, body: bytes, offset: int = 0) -> ServerMessage:
    """Interpret one framed message by its Content-Type."""
    content_type = (headers.get("Content-Type") or "").strip().lower()
    text = body.decode("utf-8", errors="replace")
    if content_type == "auth/request":
        return AuthRequest(headers)
    if content_type == "command/reply":
        return CommandReply(headers, headers.get("Reply-Text") or "")
    if content_type == "api/response":
        return ApiResponse(headers, text)
    if content_type == "text/event-plain":
        return parse_event_plain(body, offset)
    if content_type == "text/event-json":
        return parse_event_json(body, offset)
    if content_type == "log/data":
        return LogData(headers, text)
    if content_type == "text/disconnect-notice":
        return DisconnectNotice(headers, text)
    if content_type == "text/rude-rejection":
        return RudeRejection(headers, text)
    if not content_type:
        raise EslError(f"ESL message at offset {offset} has no Content-Type")
    return OtherMessage(headers, content_type, body)


@dataclass
class EslConnection:
    """The client side of one Event Socket session (inbound mode), fed bytes.

    ``next_event`` returns one :data:`ServerMessage`, or :data:`NEED_DATA`, or
    :data:`CONNECTION_CLOSED` once the peer closed and every whole message was given out.
    A partial message at close raises :class:`EslError`.
    """

    _buffer: bytearray = field(default_factory=bytearray)
    _offset: int = 0  # stream offset of _buffer[0]
    _closed: bool = False
    _pending_headers: Headers | None = None
    _pending_length: int = 0
    _header_end: int = 0
    authenticated: bool = False
    disconnected: bool = False

    def receive_data(self, data: bytes) -> None:
        """Bytes from the socket; ``b""`` means end of stream."""
        if not data:
            self._closed = True
            return
        if self._closed:
            raise EslError("ESL data after end of stream")
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received that do not make a whole message yet (0 between messages)."""
        return (
            len(self._buffer.strip(b"\r\n"))
            if self._pending_headers is None
            else (len(self._buffer))
        )

    def send(self, command: Command) -> bytes:
        """The bytes that carry ``command``."""
        return command.encode()

    def next_event(self) -> ServerMessage | Sentinel:
        if self._pending_headers is None:
            # Skip stray newlines between messages (FreeSWITCH never sends them; harmless).
            while self._buffer[:1] in (bytearray(b"\n"), bytearray(b"\r")):
                del self._buffer[:1]
                self._offset += 1
            end = self._buffer.find(b"\n\n")
            crlf_end = self._buffer.find(b"\r\n\r\n")
            sep = 2
            if crlf_end >= 0 and (end < 0 or crlf_end < end):
                end, sep = crlf_end, 4
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BLOCK:
                    raise EslError(
                        f"ESL header block at offset {self._offset} is longer than "
                        f"{MAX_HEADER_BLOCK} bytes"
                    )
                return self._end_or_need()
            headers = parse_header_block(bytes(self._buffer[:end]), self._offset)
            length_text = headers.get("Content-Length")
            length = 0
            if length_text is not None:
                length_text = length_text.strip()
                if not _is_decimal(length_text):
                    raise EslError(
                        f"ESL message at offset {self._offset}: Content-Length "
                        f"{length_text[:20]!r} is not a number"
                    )
                length = int(length_text)
                if length > MAX_BODY:
                    raise EslError(
                        f"ESL message at offset {self._offset}: Content-Length {length} "
                        f"exceeds {MAX_BODY}"
                    )
            self._pending_headers = headers
            self._pending_length = length
            self._header_end = end + sep
        if len(self._buffer) < self._header_end + self._pending_length:
            return self._end_or_need()
        headers = self._pending_headers
        start = self._header_end
        body = bytes(self._buffer[start : start + self._pending_length])
        message_offset = self._offset
        consumed = start + self._pending_length
        del self._buffer[:consumed]
        self._offset += consumed
        self._pending_headers = None
        message = message_from_parts(headers, body, message_offset + start)
        if isinstance(message, CommandReply) and message.ok and not self.authenticated:
            self.authenticated = True
        if isinstance(message, DisconnectNotice):
            self.disconnected = True
        return message

    def _end_or_need(self) -> Sentinel:
        if not self._closed:
            return NEED_DATA
        if self._buffer.strip() or self._pending_headers is not None:
            raise EslError(
                f"ESL stream ended inside a message at offset {self._offset} "
                f"({len(self._buffer)} bytes unparsed)"
            )
        return CONNECTION_CLOSED
