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
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.errors import SipError
from rtcscope.sip.headers import (
    COMPACT_FORMS,
    LIST_HEADERS,
    NEVER_SPLIT,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    header_key,
    name_addr_tag,
    parse_cseq,
    parse_name_addr,
    parse_via,
    split_comma_list,
    usual_address_uri,
    via_sent_by_branch,
)
from rtcscope.sip.uri import (
    CACHE_LIMIT,
    Uri,
    is_digits,
    parse_cached,
    parse_uri_once,
    parsed_once,
)

if TYPE_CHECKING:
    from rtcscope.sip.sdp import SessionDescription

# A request or status line after optional CRLFs (one match, no copy of the payload).
_START_LINE = re.compile(
    rb"[\r\n]*(?:[A-Za-z][A-Za-z0-9.!%*_+`'~\-]*[ \t]+\S+[ \t]+SIP/\d+\.\d+[ \t]*"
    rb"|SIP/\d+\.\d+[ \t]+\d{3}(?:[ \t][^\r\n]*)?)\r?\n"
)


def _looks_like_sip_py(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` starts (after optional CRLFs) with a SIP request or status line
    ending within its first 2048 bytes.

    This is the test a capture applies before calling a payload SIP, as Wireshark's SIP
    heuristic does: a full start line ending in a line break.
    """
    return _START_LINE.match(data, 0, 2048) is not None


# _looks_like_sip_py, or the same test in C (see ROAD below).
looks_like_sip: Callable[[bytes | bytearray | memoryview], bool] = _looks_like_sip_py


# Header names, addresses, Via values and CSeqs parsed once per distinct text, the frozen
# results shared (see rtcscope.sip.uri.parsed_once; bounded: cleared when full).
_KEYS: dict[str, str] = {}
_NAME_ADDRS: dict[str, NameAddr | SipError] = {}
_VIAS: dict[str, Via | SipError] = {}
_CSEQS: dict[str, CSeq | SipError] = {}
_VIA_STACKS: dict[str, tuple[Via, ...]] = {}
# What the parse step reads, kept by the header line it comes from ("From: <sip:a@b>;tag=1"
# as written, or ":" and the value where the general parser read it; a header line never
# starts with ':'), so a line seen before costs one lookup: From/To lines -> (the line, its
# tag), Via lines joined by CRLF -> (the same text, (sent-by, branch) of the top Via; None:
# read it from the parsed stack), CSeq, Content-Type and Content-Length lines -> what they
# give. The message keeps the From, To and Via lines, one kept copy for every message that
# holds them, and parses their values on first use (bounded: cleared when full).
_TAGS: dict[str, tuple[str, str | None]] = {}
_TOPS: dict[str, tuple[str, tuple[str, str | None] | None]] = {}
_CSEQ_LINES: dict[str, CSeq | SipError] = {}
_TYPE_LINES: dict[str, str] = {}
_LENGTH_LINES: dict[str, int] = {}

_Read = TypeVar("_Read")


def _value_of(line: str) -> str:
    """The value of a header line as the parse step keeps it (see _TAGS)."""
    return line.partition(":")[2].strip()


def _read_line(cache: dict[str, _Read], line: str, read: Callable[[str], _Read]) -> _Read:
    """``read(line)`` for a line not in ``cache``: kept there."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    found = cache[line] = read(line)
    return found


def _key_of(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        if len(_KEYS) >= CACHE_LIMIT:
            _KEYS.clear()
        key = _KEYS[name] = header_key(name)
    return key


# The header names of lines as written -> lookup key, "" for what is not a plain header
# line's name: a folded line's (it starts with whitespace) or a blank one.
_PLAIN_KEYS: dict[str, str] = {}


def _plain_key(name: str) -> str:
    if len(_PLAIN_KEYS) >= CACHE_LIMIT:
        _PLAIN_KEYS.clear()
    key = _PLAIN_KEYS[name] = "" if name[:1] in (" ", "\t", "") else _key_of(name)
    return key


_Parsed = TypeVar("_Parsed")


def _parsed_or_none(
    cache: dict[str, _Parsed | SipError], parse: Callable[[str], _Parsed], text: str
) -> _Parsed | None:
    """``parse(text)``, None where it fails (the parse step: faults are read by _finish)."""
    found = cache.get(text)
    if found is None:
        found = parsed_once(cache, parse, text)
    return None if isinstance(found, SipError) else found


def _name_addr_of(line: str) -> NameAddr | None:
    """The From/To header line kept by the parse, its value parsed (None when unreadable)."""
    return _parsed_or_none(_NAME_ADDRS, parse_name_addr, _value_of(line))


def _address_uri_text(kept: NameAddr | str | None) -> str | None:
    """The URI text of a From/To slot: the header line the parse kept (cut by one match when
    usual, else parsed) or the NameAddr already parsed."""
    if isinstance(kept, str):
        uri = usual_address_uri(_value_of(kept))
        if uri is not None:
            return uri
        kept = _name_addr_of(kept)
    return str(kept.uri) if kept is not None and kept.uri is not None else None


def _via_stack(lines: list[str]) -> tuple[Via, ...]:
    """The readable Via values of these Via lines, top first (RFC 3261 7.3.1: one line may
    carry several, comma-separated)."""
    vias: list[Via] = []
    for line in lines:
        for value in split_comma_list(line):
            via = _parsed_or_none(_VIAS, parse_via, value)
            if via is not None:
                vias.append(via)
    return tuple(vias)


def _tag_pair(line: str) -> tuple[str, str | None]:
    return line, name_addr_tag(_value_of(line))


def _cseq_or_error(line: str) -> CSeq | SipError:
    try:
        return parse_cseq(_value_of(line))
    except SipError as exc:
        return exc


def _type_of(line: str) -> str:
    return _shared(_value_of(line))


def _via_values(key: str) -> list[str]:
    """The values of Via lines joined by CRLF (see _TOPS)."""
    return [_value_of(line) for line in key.split("\r\n")]


def _top_of(key: str) -> tuple[str, tuple[str, str | None] | None]:
    """(key, (sent-by, branch) of the top Via) for Via lines joined by CRLF (see _TOPS),
    when the first value of the first line has the usual shape (see
    headers.via_sent_by_branch), else (key, None); for a key not in _TOPS, kept there for the
    next message."""
    line = _value_of(key.partition("\r\n")[0])
    first = split_comma_list(line)[:1] if "," in line else [line]
    top = via_sent_by_branch(first[0]) if first and first[0] else None
    if len(_TOPS) >= CACHE_LIMIT:
        _TOPS.clear()
    found = _TOPS[key] = (key, top)
    return found


# What bytes.strip() takes off (ASCII whitespace).


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
    found = _MEDIA_TYPES.get(value)
    if found is None:
        if len(_MEDIA_TYPES) >= CACHE_LIMIT:
            _MEDIA_TYPES.clear()
        found = _MEDIA_TYPES[value] = value.split(";", 1)[0].strip().lower()
    return found


# Content-Type values -> their media type (a capture holds few).
_MEDIA_TYPES: dict[str, str] = {}


def _content_type_param(value: str, name: str) -> str | None:
    for piece in value.split(";")[1:]:
        key, _, val = piece.partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return None


class _Finished:
    """What :meth:`SipMessage._finish` reads on first use: one object, made only then."""

    __slots__ = ("contacts", "max_forwards", "record_routes", "routes")

    def __init__(self) -> None:
        self.contacts: list[NameAddr] = []
        self.routes: list[NameAddr] = []
        self.record_routes: list[NameAddr] = []
        self.max_forwards: int | None = None


# Short texts that repeat message after message (SIP/2.0, INVITE, OK, application/sdp):
# one string each instead of a copy per message.
_SHARED: dict[str, str] = {}
# Call-IDs: every message of a call holds the same one.
_CALL_IDS: dict[str, str] = {}
# Status lines without a fault -> (SIP version, status code, reason): read once each.
_STATUS_LINES: dict[str, tuple[str, int, str]] = {}


def _shared(text: str, cache: dict[str, str] = _SHARED, max_length: int = 64) -> str:
    """One string for every copy of ``text`` up to ``max_length`` characters (a bounded
    cache: cleared when full)."""
    found = cache.get(text)
    if found is None:
        if len(text) > max_length:
            return text
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        found = cache[text] = text
    return found


# What the parse step reads of the headers (the rest is read from ``raw`` on first use): the
# first value of each key in _FIRST_KEYS, every Via line.
_FIRST_KEYS = ("call-id", "cseq", "from", "to", "content-type", "content-length")


class _Shape:
    """The header names of a plain header block, in order, and where the parse step's
    values are in its lines: read once per distinct sequence of names (a UA sends the same
    few shapes message after message), then recognised by the names alone.

    ``prefixes`` holds each line's name as written with its colon ("" for the start line):
    a block whose every line starts with its prefix has exactly these names (a prefix holds
    one colon, at its end), so what was read of the names holds for it.
    """

    __slots__ = ("firsts", "groups", "keys", "prefixes", "vias")

    def __init__(self, prefixes: tuple[str, ...], keys: tuple[tuple[str, int], ...]) -> None:
        self.prefixes = prefixes
        # (lookup key, where the value starts) of each line, the start line's key "".
        self.keys = keys
        # The line of the first header of each of _FIRST_KEYS (-1: none) and of every Via.
        at = {key: i for i, (key, _) in reversed(list(enumerate(keys)))}
        self.firsts = tuple(at.get(key, -1) for key in _FIRST_KEYS)
        self.vias = tuple(i for i, (key, _) in enumerate(keys) if key == "via")
        # Every header's lines: lookup key -> ((line, where the value starts), ...) in order.
        self.groups = _groups(keys)


def _groups(keys: Iterable[tuple[str, int]]) -> dict[str, tuple[tuple[int, int], ...]]:
    """(lookup key, where the value starts) of each line -> the lines of each key, in order
    (the start line's key "" left out)."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for i, (key, offset) in enumerate(keys):
        if key:
            groups.setdefault(key, []).append((i, offset))
    return {key: tuple(at) for key, at in groups.items()}


class _Block:
    """A message's header values by lookup key, as ``header`` and ``header_values`` read
    them: its header lines (as text) and where each key's values are in them (shared by
    every message of the same shape), each value cut from its line on each read."""

    __slots__ = ("groups", "lines")

    def __init__(self, lines: list[str], groups: dict[str, tuple[tuple[int, int], ...]]) -> None:
        self.lines = lines
        self.groups = groups

    def get(self, key: str) -> list[str] | None:
        """The values of ``key``'s lines in order (a new list), or None without one."""
        found = self.groups.get(key)
        if found is None:
            return None
        lines = self.lines
        return [lines[i][offset:].strip() for i, offset in found]


def _read_shape(lines: list[str]) -> _Shape | None:
    """The shape of CRLF-split header lines read line by line (see :func:`_shape_of`)."""
    prefixes = [""]
    keys = [("", 0)]
    for text in lines[1:]:
        name, colon, _ = text.partition(":")
        if not colon:
            return None
        key = _PLAIN_KEYS.get(name)  # the name as written, spaces before the colon too
        if key is None:
            key = _plain_key(name)
        if not key:
            return None
        prefixes.append(name + ":")
        keys.append((key, len(name) + 1))
    return _Shape(tuple(prefixes), tuple(keys))


# Shapes by number of lines, the newest first (bounded: at most _SHAPES_PER_COUNT each).
_SHAPES: dict[int, list[_Shape]] = {}
_SHAPES_PER_COUNT = 16


def _shape_of(lines: list[str]) -> _Shape | None:
    """The shape of CRLF-split header lines (the first is the start line); None when a line
    is folded (RFC 3261 7.3.1: it starts with whitespace) or has no colon or no name."""
    count = len(lines)
    candidates = _SHAPES.get(count)
    if candidates is not None:
        for shape in candidates:
            if all(map(str.startswith, lines, shape.prefixes)):
                return shape
    found = _read_shape(lines)
    if found is None:
        return None
    if candidates is None:
        if len(_SHAPES) >= CACHE_LIMIT:
            _SHAPES.clear()
        candidates = _SHAPES[count] = []
    candidates.insert(0, found)
    del candidates[_SHAPES_PER_COUNT:]
    return found


def _plain_block(raw: bytes, pos: int) -> tuple[int, list[str]] | None:
    """The common shape: CRLF line ends, no folded lines, a colon on every header line.
    The end of the header block and its lines as text; None for anything else."""
    end = raw.find(b"\r\n\r\n", pos)
    if end < 0:
        return None
    text = raw[pos:end].decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    # Decoding keeps every CR and LF byte as it is: one more line than CRLFs means no
    # bare LF. Folded lines are turned away by _shape_of (their names start blank).
    if text.count("\n") != len(lines) - 1:
        return None
    return end, lines


# What the parse step reads of a header block of the common shape: where its blank line
# starts, the start line, the first Content-Type, Content-Length, Call-ID, CSeq, From and To
# lines as written (None: no such line) and every Via line joined by CRLF (None: none).
PlainFields = tuple[
    int, str, str | None, str | None, str | None, str | None, str | None, str | None, str | None
]


def _plain_fields_py(raw: bytes, pos: int) -> PlainFields | None:
    """The common shape's fields of the header block starting at ``pos`` (see PlainFields),
    None for any other shape: the pure-Python road, and the specification of the C one
    (rtcscope.sip._sipscan.plain_fields)."""
    found = _plain_block(raw, pos)
    if found is None:
        return None
    end, lines = found
    shape = _shape_of(lines)
    if shape is None:
        return None
    call_id, cseq, from_, to, ctype, length = (
        lines[at] if at >= 0 else None for at in shape.firsts
    )
    vias = shape.vias
    via_key = None
    if vias:
        via_key = lines[vias[0]] if len(vias) == 1 else "\r\n".join([lines[i] for i in vias])
    return end, lines[0], ctype, length, call_id, cseq, from_, to, via_key


# Which road the parse step takes: "c" (the accelerator, built by `make install` where a
# compiler and Python's headers are found) or "python" (no accelerator, or RTCSCOPE_PURE=1
# in the environment at import). Both give the same messages (tests/sip run on both).
# The parse step's scan and its fill: the common shape's fields of a message's header block
# (PlainFields, None for another shape), with, on the C road, the values the caches below
# already hold for those lines stored on the message and None in their lines' places (C only
# reads those caches: every value in them is put there by the Python code). The C road returns
# False where it leaves the decision to the Python road (a header name with a byte >= 0x80).
PlainFill = tuple[
    int,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
]


def _fill_py(message: SipMessage, raw: bytes, pos: int) -> PlainFill | None:
    return _plain_fields_py(raw, pos)


_fill: Callable[[SipMessage, bytes, int], PlainFill | Literal[False] | None] = _fill_py
# The C road's message maker (_sipscan.build: a new message filled as _fill fills it, for bytes
# starting with the start line); None on the Python road.
_build: Callable[[bytes, int], _Built] | None = None
ROAD = "python"


# The header values by lookup key of the messages read by name lately (``header``,
# ``header_values``, ``header_lines``, ``contacts``, ``routes``, ``record_routes``,
# ``max_forwards``, ``problems``), kept by the message's bytes: the first read splits the
# header block (~10 us), every later read of the same message is one lookup. A message does
# not keep its own map (a capture of 100,000 messages would hold 100,000 dictionaries):
# the maps live here, at most VALUE_MAPS_LIMIT of them, cleared when full; who reads by name
# goes call by call, so the messages of one call are read close together. A map holds the
# message's header lines as text (the names' positions are shared by every message of the
# same shape): ~1 KB for a message of capture (b) (measured with tracemalloc, 4,032 maps
# 3.9 MB), and keeps the message's bytes alive (~0.4 KB there): ~6 MB when full. A map is
# never changed after it is built (reads copy the values out).
VALUE_MAPS_LIMIT = 4096
_VALUE_MAPS: dict[bytes, _Block] = {}

_LINE_PROBES: dict[str, re.Pattern[bytes]] = {}

# What ``str.strip()`` takes off a header name, as the bytes of the name's UTF-8 text: every
# character for which ``str.isspace()`` holds but LF, which ends the line (ASCII: TAB, VT,
# FF, CR, FS, GS, RS, US, space; then U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
# U+2029, U+202F, U+205F, U+3000). A name is read as written, stripped (``Via\x0b :`` is
# a Via line): a probe that allowed only spaces and tabs there missed such a line, so
# ``header`` found nothing until the message's header map was built
# (tests/sip/test_message_header_map.py checks this list against ``str.isspace``).
_NAME_BLANK = (
    rb"(?:[\t\x0b-\r\x1c-\x20]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
    rb"|\xe2\x81\x9f|\xe3\x80\x80)*+"
)
# The first bytes of those blanks, of a line end and of the Kelvin sign, as a class's body.
_BLANK_FIRSTS = rb"\t-\r\x1c-\x20\xc2\xe1\xe2\xe3"
# The one character outside ASCII that lower-cases to an ASCII letter (U+212A KELVIN SIGN ->
# "k"; U+0130 lower-cases to two characters), as UTF-8: a name's "k" may be written so.
_KELVIN = b"(?:k|\xe2\x84\xaa)"


def _line_probe(key: str) -> re.Pattern[bytes]:
    """A search that finds every header line of ``key`` (full or compact name, any case,
    blanks around the name) in a message's bytes, from the line end before it to the colon
    after the name, and every blank line (a line end, then CRLF or LF: the match ends with
    a line feed); it may also find lookalikes (a folded line, the body's lines), never miss
    one (a header line follows a line end: the start line comes first)."""
    probe = _LINE_PROBES.get(key)
    if probe is None:
        names = [key] + [c for c, full in COMPACT_FORMS.items() if full.lower() == key]
        encoded = [n.encode("utf-8", "surrogateescape") for n in names]
        alternatives = b"|".join(re.escape(n).replace(b"k", _KELVIN) for n in encoded)
        # What a line of interest starts with (a blank, a line end, a name's first letter,
        # any case): every other line is passed over at its first byte.
        firsts = b"".join(re.escape(n[:1]) for n in encoded)
        probe = re.compile(
            rb"(?i)\n(?=["
            + _BLANK_FIRSTS
            + firsts
            + rb"])(?:\r?\n|"
            + (_NAME_BLANK + rb"(?:" + alternatives + rb")" + _NAME_BLANK + rb":)")
        )
        if len(_LINE_PROBES) < CACHE_LIMIT:
            _LINE_PROBES[key] = probe
    return probe


def _probed_values(raw: bytes, pos: int, key: str) -> list[str] | Literal[False] | None:
    """The values of ``key``'s lines in the header block starting at ``pos`` (the start
    line), read from the lines the probe finds alone (no header map: ~1-2 us instead of
    ~5 us), None without one; False where the probe's lines may not be exactly the
    header's (a found line starts with a space or tab, i.e. is folded into the one
    before, or is followed by a folded line): the header map decides then.

    Exact otherwise: the probe misses no line of ``key`` and no blank line (the first one
    ends the header block, as both parsers read it), and what it finds before that is a
    header line of ``key`` (it follows a line end, its name is one of the key's, any case,
    between blanks, and its colon is the line's first); its value is the rest of the line
    stripped, as both parsers read it. A key outside ASCII (``bytes`` patterns fold ASCII
    letters alone: ``ÉTÉ`` is a line of ``été``), with a colon or a line feed in it (no line
    has such a name), or empty, is left to the map."""
    if not key or not key.isascii() or ":" in key or "\n" in key:
        return False
    values: list[str] | None = None
    for found in _line_probe(key).finditer(raw, pos):
        after = found.end()
        if raw[after - 1] == 0x0A:  # the blank line: the body follows
            break
        start = found.start() + 1
        if raw[start] in (0x20, 0x09):
            return False
        end = raw.find(b"\n", after)
        if end < 0:
            end = len(raw)
        elif raw[end + 1 : end + 2] in (b" ", b"\t"):
            return False
        value = raw[after:end].decode("utf-8", "surrogateescape").strip()
        if values is None:
            values = [value]
        else:
            values.append(value)
    return values


def _values_of(headers: Iterable[Header]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for h in headers:
        key = _key_of(h.name)
        found = values.get(key)
        if found is None:
            values[key] = [h.value]
        else:
            found.append(h.value)
    return values


def _first(values: _Block, key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _list_values(key: str, lines: list[str] | None) -> list[str]:
    """The values of a header's lines: for list headers (RFC 3261 7.3.1) each comma-separated
    element; credentials headers and free-text headers are never split."""
    if not lines:
        return []
    if key in NEVER_SPLIT or key not in LIST_HEADERS:
        return list(lines)
    out: list[str] = []
    for value in lines:
        out += split_comma_list(value)
    return out


class SipMessage:
    """A SIP request or response. Build one with :meth:`parse`.

    For a request ``method`` and ``request_uri`` are set and ``status_code`` is None; for a
    response ``status_code`` and ``reason`` are set and ``method`` is the CSeq method (what
    the response answers), as tools usually show it.

    Parsing is in two steps so a capture of many messages pays only for what is used: the
    start line, the header values by name, the body, Call-ID, CSeq, From, To and Via are read
    by :meth:`parse`; the header lines as objects (``headers``), Contact, Route,
    Record-Route, Max-Forwards and the list of ``problems`` on first use (each access
    gives the same answer as a full parse would).
    """

    __slots__ = (
        "_content_type_value",
        "_finished",
        "_from",
        "_headers",
        "_problems",
        "_request_uri",
        "_to",
        "_uri_problem_at",
        "_vias",
        "branch",
        "call_id",
        "content_length",
        "cseq",
        "from_tag",
        "header_length",
        "is_response",
        "raw",
        "reason",
        "request_method",
        "request_uri_text",
        "sent_by",
        "sip_version",
        "status_code",
        "to_tag",
    )

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.is_response = False
        self.request_method: str | None = None
        self.request_uri_text: str | None = None
        self._request_uri: Uri | None = None
        self._uri_problem_at = -1  # where a Request-URI fault goes in ``problems``
        self.sip_version = ""
        self.status_code: int | None = None
        self.reason: str | None = None
        # Bytes up to and including the blank line: the body follows (``body``, ``trailing``).
        self.header_length = 0
        self.call_id: str | None = None
        self.cseq: CSeq | None = None
        # From, To and the Via stack are parsed on first use: until then each slot holds the
        # header line as written (the Via lines joined by CRLF; see _TAGS), one per header.
        self._from: NameAddr | str | None = None
        self._to: NameAddr | str | None = None
        self._vias: tuple[Via, ...] | str = ()
        # What transactions and dialogs match on, as plain strings cut at parse (the same
        # values as from_.tag, to.tag, top_via.branch and top_via.sent_by; None without).
        self.from_tag: str | None = None
        self.to_tag: str | None = None
        self.branch: str | None = None
        self.sent_by: str | None = None
        self.content_length: int | None = None
        # Header lines as objects, in order (None: not built yet; rebuilt from raw on use).
        self._headers: list[Header] | None = None
        self._content_type_value: str | None = None
        # Problems of the start line, header lines and body (None: none yet); the known
        # headers' problems are added by _finish() on first use of ``problems``.
        self._problems: list[str] | None = None
        # Contact, Route, Record-Route, Max-Forwards: set by _finish() (None: not yet; the
        # properties call it first).
        self._finished: _Finished | None = None

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> SipMessage:
        """Parse one SIP message. Never raises: faults are listed in ``problems``."""
        raw = bytes(data)
        if _build is not None and cls is SipMessage and raw[:1] not in b"\r\n":
            return parse_started(raw)
        message = cls(raw)
        message._guarded(message._parse)
        return message

    def _guarded(self, step: Callable[..., None], *args: object) -> None:
        """Run a parse step: a parser bug must not stop a capture being read."""
        try:
            step(*args)
        except Exception as exc:
            self._problem(f"internal parser fault: {type(exc).__name__}: {exc}")
            self._close()

    def _problem(self, text: str) -> None:
        if self._problems is None:
            self._problems = [text]
        else:
            self._problems.append(text)

    def __bytes__(self) -> bytes:
        return self.raw

    def encode(self) -> bytes:
        return self.raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipMessage):
            return NotImplemented
        return self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"SipMessage({self.summary!r}, call_id={self.call_id!r}, {len(self.raw)} bytes)"

    # -- what is read on first use -----------------------------------------------------

    @property
    def headers(self) -> list[Header]:
        """Every header line in order, names as written (``v``, ``VIA``, ``Via``)."""
        if self._headers is None:
            self._headers = self._header_objects()
        return self._headers

    @property
    def problems(self) -> list[str]:
        """What does not follow the grammar (each an English sentence), in message order."""
        if self._finished is None:
            self._finish()
        if self._problems is None:
            self._problems = []
        return self._problems

    @property
    def is_request(self) -> bool:
        return self.request_method is not None

    @property
    def start_line(self) -> str:
        """The first line as written (without its line end); "" for an empty message."""
        raw = self.raw
        pos = self._start()
        end = raw.find(b"\n", pos)
        if end < 0:
            end = len(raw)
        if end > pos and raw[end - 1] == 0x0D:
            end -= 1
        return _text(raw[pos:end])

    @property
    def body(self) -> bytes:
        """The body: Content-Length bytes after the headers (fewer when cut), or the rest of
        the bytes without a readable Content-Length (RFC 3261 18.3: a datagram's end)."""
        start = self.header_length
        if self.content_length is None:
            return self.raw[start:]
        return self.raw[start : start + self.content_length]

    @property
    def trailing(self) -> bytes:
        """Bytes after the Content-Length body (a UDP datagram's padding or junk)."""
        if self.content_length is None:
            return b""
        return self.raw[self.header_length + self.content_length :]

    @property
    def request_uri(self) -> Uri | None:
        """The Request-URI parsed (None for a response or an unreadable URI)."""
        if self._request_uri is None and self._uri_problem_at >= 0:
            self._read_request_uri()
        return self._request_uri

    def _read_request_uri(self) -> str | None:
        """Parse the Request-URI once; the fault, if any (also on every later call)."""
        assert self.request_uri_text is not None
        try:
            self._request_uri = parse_uri_once(self.request_uri_text)
        except SipError as exc:
            return f"Request-URI: {exc}"
        return None

    @property
    def contacts(self) -> list[NameAddr]:
        finished = self._finished if self._finished is not None else self._finish()
        return finished.contacts

    @property
    def routes(self) -> list[NameAddr]:
        finished = self._finished if self._finished is not None else self._finish()
        return finished.routes

    @property
    def record_routes(self) -> list[NameAddr]:
        finished = self._finished if self._finished is not None else self._finish()
        return finished.record_routes

    @property
    def max_forwards(self) -> int | None:
        finished = self._finished if self._finished is not None else self._finish()
        return finished.max_forwards

    # -- parsing -----------------------------------------------------------------------

    def _start(self) -> int:
        """Where the start line begins: RFC 3261 7.5, CRLFs before it are ignored
        (keep-alives, padding)."""
        raw = self.raw
        pos = 0
        while pos < len(raw) and raw[pos] in b"\r\n":
            pos += 1
        return pos

    def _parse(self) -> None:
        raw = self.raw
        pos = self._start() if raw[:1] in b"\r\n" else 0
        if pos >= len(raw):
            self._problem("empty message")
            self._close()
            return
        # Only what the parse step reads: the values by name are read again from ``raw``
        # when asked for (a few microseconds), a capture's messages would otherwise hold a
        # dictionary each.
        self._parse_scanned(_fill(self, raw, pos), pos)

    def _parse_scanned(self, found: PlainFill | Literal[False] | None, pos: int) -> None:
        """The parse step after the fill (``found``: what it returned for the block at
        ``pos``): the values it left, or the whole message read another way."""
        if found is False:
            found = _plain_fields_py(self.raw, pos)
        if found is not None:
            # The common shape: the values straight from the lines the scan found (those
            # the C road filled in are None here).
            end, start_line, ctype, length, call_id, cseq, from_, to, via_key = found
            self.header_length = end + 4
            if start_line is not None:
                self._parse_start_line(start_line)
            self._parse_known(ctype, length, call_id, cseq, from_, to, via_key)
            return
        self._parse_general(pos)
        values = _values_of(self._headers or ())
        # The same values as lines ":" + value: the first of each of _FIRST_KEYS, every Via.
        firsts = [":" + have[0] if have else None for have in map(values.get, _FIRST_KEYS)]
        vias = values.get("via")
        via_key = "\r\n".join([":" + value for value in vias]) if vias else None
        call_id, cseq, from_, to, ctype, length = firsts
        self._parse_known(ctype, length, call_id, cseq, from_, to, via_key)

    def _lines_for(self, key: str) -> list[str] | None:
        """The values of ``key``'s lines, or None: from the message's map in _VALUE_MAPS
        when it is there; else, when a quick search of the bytes finds a line of ``key``,
        from the header block split into that map (kept for the next read)."""
        raw = self.raw
        values = _VALUE_MAPS.get(raw)
        if values is None:
            found = _probed_values(raw, self._start() if raw[:1] in b"\r\n" else 0, key)
            if found is not False:
                return found
            values = self._kept_value_map()
        return values.get(key)

    def _kept_value_map(self) -> _Block:
        """The message's header values by lookup key, from _VALUE_MAPS or read now from
        ``raw`` and kept there."""
        raw = self.raw
        values = _VALUE_MAPS.get(raw)
        if values is None:
            values = self._value_map()
            if len(_VALUE_MAPS) >= VALUE_MAPS_LIMIT:
                _VALUE_MAPS.clear()
            _VALUE_MAPS[raw] = values
        return values

    def _value_map(self) -> _Block:
        """Header values by lookup key, in order, read from ``raw``: the plain block's lines
        and its shape, or the general parser's values."""
        found = _plain_block(self.raw, self._start())
        shape = _shape_of(found[1]) if found is not None else None
        if found is not None and shape is not None:
            return _Block(found[1], shape.groups)
        values = _values_of(self.headers)
        lines = [value for have in values.values() for value in have]
        return _Block(lines, _groups((key, 0) for key, have in values.items() for _ in have))

    def _header_objects(self) -> list[Header]:
        """The header lines as :class:`Header` objects (read again from ``raw``)."""
        raw = self.raw
        pos = self._start()
        found = _plain_block(raw, pos)
        if found is None or _shape_of(found[1]) is None:
            probe = SipMessage(raw)
            probe._parse_general(pos)
            return probe._headers or []
        end, lines = found
        byte_lines = raw[pos:end].split(b"\r\n")
        headers: list[Header] = []
        for text, line in zip(lines[1:], byte_lines[1:], strict=True):
            name, _, value = text.partition(":")
            headers.append(Header(name=name.strip(), value=value.strip(), raw=line))
        return headers

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
        if not lines:
            return  # nothing but line ends: no header lines (``headers`` of an empty message)
        if body_start < 0:
            body_start = n
            if raw[lines[0][0] : lines[0][1]].strip():
                self._problem("no blank line ends the headers (the message is cut or not SIP)")
        self.header_length = body_start
        self._parse_start_line(_text(raw[lines[0][0] : lines[0][1]]))
        self._headers = []
        self._parse_header_lines(lines[1:])

    def _parse_start_line(self, line: str) -> None:
        stripped = line.strip()
        # Upper case maps character by character: the first four decide (no copy of all).
        if stripped[:4].upper().startswith("SIP/"):
            self.is_response = True
            found = _STATUS_LINES.get(stripped)
            if found is not None:
                self.sip_version, self.status_code, self.reason = found
                return
            parts = stripped.split(None, 2)
            self.sip_version = _shared(parts[0])
            if len(parts) < 2 or not is_digits(parts[1]) or len(parts[1]) != 3:
                self._problem(f"status line {stripped[:80]!r} has no 3-digit status code")
                return
            self.status_code = int(parts[1])
            self.reason = _shared(parts[2]) if len(parts) > 2 else ""
            self._check_version()
            if not 100 <= self.status_code <= 699:
                self._problem(f"status code {self.status_code} is outside 100-699")
            elif self.sip_version == "SIP/2.0":  # no fault: the next one reads it here
                if len(_STATUS_LINES) >= CACHE_LIMIT:
                    _STATUS_LINES.clear()
                _STATUS_LINES[stripped] = (self.sip_version, self.status_code, self.reason)
            return
        parts = stripped.split()
        if len(parts) == 3 and parts[2][:4].upper().startswith("SIP/"):
            method, self.request_uri_text, version = parts
            self.request_method = _SHARED.get(method) or _shared(method)
            self.sip_version = _SHARED.get(version) or _shared(version)
            if version != "SIP/2.0":
                self._check_version()
            # Parsed on first use; its fault goes after the problems found so far.
            self._uri_problem_at = len(self._problems) if self._problems else 0
            return
        self._problem(f"start line {stripped[:80]!r} is neither a request nor a status")

    def _check_version(self) -> None:
        version = self.sip_version
        if version != "SIP/2.0" and version.upper() != "SIP/2.0":
            self._problem(f"SIP version {self.sip_version!r} is not SIP/2.0 (RFC 3261 7.1)")

    def _parse_header_lines(self, lines: list[tuple[int, int]]) -> None:
        raw = self.raw
        headers = self._headers if self._headers is not None else []
        self._headers = headers
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
                    self._problem(f"continuation line at offset {start} follows no header")
                continue
            flush()
            current = None
            colon = raw.find(b":", start, end)
            if colon < 0:
                self._problem(
                    f"header line at offset {start} has no colon: {_text(raw[start:end])[:60]!r}"
                )
                continue
            # RFC 3261 7.3.1 / 25.1: HCOLON allows whitespace before the colon ("Via : ...").
            name = _text(raw[start:colon]).strip()
            if not name:
                self._problem(f"header line at offset {start} has no name")
                continue
            current = (start, end, name, [_text(raw[colon + 1 : end]).strip()])
        flush()

    def _parse_body(self, value: str | None) -> None:
        """Content-Length (the first one's ``value``, None without one): where the body ends
        (``body`` and ``trailing`` slice ``raw`` on use) and what is wrong with it."""
        if value is None:
            return  # RFC 3261 18.3: over UDP the body is the rest of the datagram.
        text = value.strip()
        if not is_digits(text):
            self._problem(f"Content-Length {text[:40]!r} is not a number")
            return
        length = int(text)
        self.content_length = length
        rest = len(self.raw) - self.header_length
        if rest < length:
            self._problem(f"body is cut: {rest} of {length} bytes (Content-Length)")
            return
        if rest > length:
            trailing = self.raw[self.header_length + length :]
            if trailing.strip(b"\r\n\x00 \t"):
                self._problem(f"{len(trailing)} bytes after the body's Content-Length of {length}")

    def _parse_known(
        self,
        type_line: str | None,
        length_line: str | None,
        call_id_line: str | None,
        cseq_line: str | None,
        from_line: str | None,
        to_line: str | None,
        via_key: str | None,
    ) -> None:
        """What the parse step reads from the header lines (each the first line of its
        header as written, None without one; ``via_key`` every Via line joined by CRLF).
        Call-ID, CSeq, From, To and Via are what matching transactions and dialogs needs
        (faults are left for :meth:`_finish`, which reads them again in message order);
        Content-Type and Content-Length where the body is. A line seen before is one lookup
        (see _TAGS)."""
        if type_line is not None:
            self._content_type_value = _TYPE_LINES.get(type_line) or _read_line(
                _TYPE_LINES, type_line, _type_of
            )
        if length_line is not None:
            length = _LENGTH_LINES.get(length_line)
            if length is None:
                text = _value_of(length_line)
                if is_digits(text):
                    length = _read_line(_LENGTH_LINES, length_line, lambda _: int(text))
                else:
                    self._parse_body(text)
            if length is not None:
                if len(self.raw) - self.header_length == length:  # the usual: body, no more
                    self.content_length = length
                else:
                    self._parse_body(str(length))
        if call_id_line is not None:
            text = call_id_line.partition(":")[2].strip()  # _value_of, inline
            self.call_id = _CALL_IDS.get(text) or _shared(text, _CALL_IDS, 1024)
        if cseq_line is not None:
            cseq = _CSEQ_LINES.get(cseq_line) or _read_line(_CSEQ_LINES, cseq_line, _cseq_or_error)
            self.cseq = cseq if isinstance(cseq, CSeq) else None
        if from_line is not None:
            self._from, self.from_tag = _TAGS.get(from_line) or _read_line(
                _TAGS, from_line, _tag_pair
            )
        if to_line is not None:
            self._to, self.to_tag = _TAGS.get(to_line) or _read_line(_TAGS, to_line, _tag_pair)
        if via_key is not None:
            # The messages of a transaction carry the same Via lines: one key for all.
            self._vias, top = _TOPS.get(via_key) or _top_of(via_key)
            if top is None:  # an unusual top Via: read from the parsed stack
                via = self.top_via
                if via is not None:
                    self.sent_by, self.branch = via.sent_by, via.branch
            else:
                self.sent_by, self.branch = top

    @property
    def from_(self) -> NameAddr | None:
        """The From header parsed (None without one or when unreadable)."""
        found = self._from
        if isinstance(found, str):
            found = self._from = _name_addr_of(found)
        return found

    @property
    def to(self) -> NameAddr | None:
        """The To header parsed (None without one or when unreadable)."""
        found = self._to
        if isinstance(found, str):
            found = self._to = _name_addr_of(found)
        return found

    @property
    def from_uri_text(self) -> str | None:
        """``str(self.from_.uri)`` (None when unreadable), without building and keeping the
        NameAddr and Uri when the header has a usual shape (headers.usual_address_uri)."""
        return _address_uri_text(self._from)

    @property
    def to_uri_text(self) -> str | None:
        """``str(self.to.uri)`` (None when unreadable), as :attr:`from_uri_text`."""
        return _address_uri_text(self._to)

    @property
    def vias(self) -> tuple[Via, ...]:
        """The readable Via values, top first."""
        key = self._vias
        if isinstance(key, str):
            # The messages of a transaction carry the same Via lines: one stack for all
            # (a header value holds no CRLF: the key splits back into the lines).
            vias = _VIA_STACKS.get(key)
            if vias is None:
                vias = _via_stack(_via_values(key))
                if len(_VIA_STACKS) >= CACHE_LIMIT:
                    _VIA_STACKS.clear()
                _VIA_STACKS[key] = vias
            self._vias = vias
            return vias
        return key

    def _close(self) -> None:
        """Nothing more to read (an empty or unreadable message): no _finish() later."""
        self._finished = _Finished()
        self.header_length = len(self.raw)  # no body
        self.content_length = None

    def _finish(self) -> _Finished:
        """The rest of the known headers and every fault, in the order of a full parse."""
        finished = self._finished = _Finished()
        problems = self._problems if self._problems is not None else []
        self._problems = problems
        values = self._kept_value_map()  # every header below read from one map
        if self._uri_problem_at >= 0:
            fault = self._read_request_uri()
            if fault is not None:
                problems.insert(self._uri_problem_at, fault)
        if self.call_id is None:
            problems.append("no Call-ID header")
        cseq = _first(values, "cseq")
        if cseq is None:
            problems.append("no CSeq header")
        else:
            try:
                parse_cached(_CSEQS, parse_cseq, cseq)
            except SipError as exc:
                problems.append(str(exc))

        for name in ("From", "To"):
            value = _first(values, name.lower())
            if value is None:
                problems.append(f"no {name} header")
                continue
            try:
                parse_cached(_NAME_ADDRS, parse_name_addr, value)
            except SipError as exc:
                problems.append(f"{name}: {exc}")

        for value in _list_values("via", values.get("via")):
            try:
                parse_cached(_VIAS, parse_via, value)
            except SipError as exc:
                problems.append(str(exc))
        if not self.vias and (self.is_request or self.is_response):
            problems.append("no Via header")

        for target, name in (
            (finished.contacts, "Contact"),
            (finished.routes, "Route"),
            (finished.record_routes, "Record-Route"),
        ):
            for value in _list_values(name.lower(), values.get(name.lower())):
                try:
                    target.append(parse_cached(_NAME_ADDRS, parse_name_addr, value))
                except SipError as exc:
                    problems.append(f"{name}: {exc}")

        unbracketed = [v.sent_by for v in self.vias if v.unbracketed_ipv6]
        if self.request_uri is not None and self.request_uri.unbracketed_ipv6:
            unbracketed.append(self.request_uri.raw)
        if unbracketed:
            problems.append(
                f"IPv6 address without brackets (RFC 5118 4.5): {', '.join(unbracketed)[:120]}"
            )

        mf = _first(values, "max-forwards")
        if mf is not None:
            if is_digits(mf.strip()):
                finished.max_forwards = int(mf.strip())
            else:
                problems.append(f"Max-Forwards {mf[:40]!r} is not a number")
        return finished

    # -- header access -----------------------------------------------------------------

    def header_lines(self, name: str) -> list[Header]:
        """Every header line with this name (any case, compact or full form), in order."""
        key = _key_of(name)
        if self._lines_for(key) is None:
            return []
        return [h for h in self.headers if _key_of(h.name) == key]

    def header(self, name: str) -> str | None:
        """The value of the first header line with this name, or None."""
        found = self._lines_for(_key_of(name))
        return found[0] if found else None

    def header_values(self, name: str) -> list[str]:
        """All values of a header: every line, and for list headers (RFC 3261 7.3.1) each
        comma-separated element. Credentials headers and free-text headers are never split."""
        key = _key_of(name)
        return _list_values(key, self._lines_for(key))

    def via_value_count(self) -> int:
        """``len(self.header_values("Via"))``, counted from the Via lines the parse step
        kept (no header read) while they are not parsed yet and hold no comma (one value
        per line then, none for a blank one); else read by ``header_values``."""
        key = self._vias
        if isinstance(key, str) and "," not in key:
            if "\r\n" not in key:
                return 1 if _value_of(key) else 0
            return sum(1 for line in key.split("\r\n") if _value_of(line))
        return len(self.header_values("Via"))

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
    def content_type(self) -> str:
        """Lower-case media type of the body without parameters ("" when absent)."""
        return _media_type(self._content_type_value)

    @property
    def summary(self) -> str:
        """``INVITE sip:bob@b.example`` or ``200 OK`` (as a call flow shows it)."""
        method = self.request_method
        if method is not None:  # a request (is_request)
            return f"{method} {self.request_uri_text}"
        if self.status_code is not None:
            return f"{self.status_code} {self.reason or ''}".rstrip()
        return self.start_line[:60]

    def body_parts(self) -> list[BodyPart]:
        """The body split into parts: one part, or each part of a multipart body (RFC 2046)."""
        if not self.body:
            return []
        ctype_value = self._content_type_value or ""
        ctype = _media_type(ctype_value)
        if not ctype.startswith("multipart/"):
            return [BodyPart(content_type=ctype, headers=(), body=self.body)]
        boundary = _content_type_param(ctype_value, "boundary")
        if not boundary:
            return [BodyPart(content_type=ctype, headers=(), body=self.body)]
        return _split_multipart(self.body, boundary.encode("utf-8", "surrogateescape"))

    def sdp_body(self) -> bytes | None:
        """The SDP body's bytes (``application/sdp``, also inside multipart), None without a
        non-empty one: what :attr:`sdp` parses."""
        if self.content_length == 0:
            return None  # the common case without a body: nothing to split
        if _media_type(self._content_type_value) == "application/sdp":
            body = self.body
            return body if body and not body.isspace() else None  # (isspace: no copy)
        for part in self.body_parts():
            if part.content_type == "application/sdp" and part.body and not part.body.isspace():
                return part.body
        return None

    @property
    def has_sdp(self) -> bool:
        """Whether the body (or a part of a multipart body) is a non-empty SDP."""
        return self.sdp_body() is not None

    @property
    def sdp(self) -> SessionDescription | None:
        """The SDP body (``application/sdp``, also inside multipart), parsed; else None.

        Parsed on each access (the message does not keep it: a capture of many calls would
        hold every SDP twice): keep the result where it is used more than once.
        """
        body = self.sdp_body()
        if body is None:
            return None
        from rtcscope.sip.sdp import SessionDescription

        return SessionDescription.parse(body)


def parse_started(data: bytes | bytearray | memoryview) -> SipMessage:
    """:meth:`SipMessage.parse` of bytes whose first byte is not CR or LF (a UDP framer's
    datagram that passed :func:`looks_like_sip`): on the C road one call makes the message,
    sets its slots and stores the common shape's values (_sipscan.build); what is left is read
    as ``_parse`` reads it. The Python road: ``SipMessage.parse``."""
    build = _build
    if build is None:
        return SipMessage.parse(data)
    found = build(bytes(data), 0)
    if not isinstance(found, tuple):
        return found
    return finish_built(found)


def finish_built(found: tuple[SipMessage, PlainFill | Literal[False] | None]) -> SipMessage:
    """The message of a C build that left more to read (``(message, fill's result)``), read
    as ``_parse`` reads it."""
    message, scanned = found
    message._guarded(message._parse_scanned, scanned, 0)
    return message


# What _build returns: the message alone when nothing is left to read, else with the fill's
# result for the Python road.
_Built = SipMessage | tuple[SipMessage, PlainFill | Literal[False] | None]


def _c_setup(sipscan: ModuleType) -> None:
    """Give the C fill the caches it reads, in its order, and the classes of what it stores
    (the dicts are cleared when full, never replaced)."""
    sipscan.setup(
        (
            _TYPE_LINES,
            _LENGTH_LINES,
            _CALL_IDS,
            _CSEQ_LINES,
            _TAGS,
            _TOPS,
            _STATUS_LINES,
            _SHARED,
            CSeq,
            SipMessage,
        )
    )
    sipscan.setup_build(SipMessage(b""), CACHE_LIMIT)


if c_wanted():
    try:
        from rtcscope.sip import _sipscan
    except ImportError:
        pass
    else:
        try:
            _c_setup(_sipscan)
        except (AttributeError, TypeError):
            pass  # a module built from an older _sipscan.c (its build failed since): not used
        else:
            ROAD = "c"
            looks_like_sip = _sipscan.looks_like_sip
            _fill = _sipscan.fill
            _build = cast("Callable[[bytes, int], _Built]", _sipscan.build)


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
