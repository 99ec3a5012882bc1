"""Packet-derived text made safe to print: one escaping rule for terminals, JSON and CSV.

A capture is untrusted input. A Call-ID, a User-Agent or a whole SIP message may hold
control characters (an ``ESC ] 0 ;`` sequence retitles an xterm, ``ESC [ 2 J`` clears it),
bytes that are not UTF-8 (a bit flip, or a hostile header), Unicode bidirectional
overrides that reorder what is shown, or a value of a megabyte. SIP text is decoded with
``surrogateescape`` (sip/message.py), so a byte that is not UTF-8 arrives here as a lone
surrogate U+DC80..U+DCFF; written as is, stdout would emit invalid UTF-8 (or fail).

The escaped form (documented in the README, "Output safety"):

- a byte that is not valid UTF-8 becomes ``\\xNN`` (its value: ``\\x8e``);
- a C0 control character or DEL becomes ``\\xNN`` (``\\x1b``, ``\\x07``, ``\\x7f``); tab and
  line feed are kept only where a whole multi-line message is printed;
- a C1 control (U+0080..U+009F), a line or paragraph separator, a bidirectional
  embedding/override/isolate mark or a surrogate not made by a byte becomes ``\\uXXXX``;
- a value longer than the limit is cut and ends with ``…[+N bytes]``, N being the UTF-8
  bytes left out.

A backslash already in the text is left as it is (as Python's ``backslashreplace`` does), so
``\\x1b`` in the output may also be those four characters in the packet.

JSON keeps the exact value: controls and C1/bidi characters become JSON's own ``\\uXXXX``
escapes (a JSON reader gets the character back); only what JSON cannot carry, the bytes
that are not UTF-8, takes the ``\\xNN`` form above. Every function here is pure.
"""

from __future__ import annotations

import re

__all__ = [
    "CELL_LIMIT",
    "LINE_LIMIT",
    "decode_packet_text",
    "escape_char",
    "json_safe",
    "terminal_text",
    "valid_utf8",
]

# A table cell: a Call-ID or URI of a few hundred characters still fits; a 1 MB header does
# not fold into thousands of lines.
CELL_LIMIT = 256
# One line of a printed message or report.
LINE_LIMIT = 2000

_BIDI_AND_SEPARATORS = "\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
# What a terminal must not receive as is (single-line values: tab and LF too).
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}\ud800-\udfff]")
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}\ud800-\udfff]")
# What JSON text must not carry raw: json.dumps already escapes C0 and the quote/backslash.
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI_AND_SEPARATORS}\ud800-\udfff]")


def decode_packet_text(raw: bytes | bytearray | memoryview, *, lf_lines: bool = False) -> str:
    """Packet bytes as text the way SIP is decoded (UTF-8, ``surrogateescape``): exact and
    reversible; the escaping here turns the undecodable bytes into ``\\xNN``. ``lf_lines``
    ends lines with LF instead of CRLF (a message's text in JSON, as it has always been)."""
    text = bytes(raw).decode("utf-8", "surrogateescape")
    return text.replace("\r\n", "\n") if lf_lines else text


def escape_char(char: str) -> str:
    """The printable form of one unsafe character (see the module docstring)."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _escape_match(match: re.Match[str]) -> str:
    return escape_char(match.group())


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that no byte made
        return len(text.encode("utf-8", "surrogatepass"))


def _escaped(text: str, unsafe: re.Pattern[str], limit: int | None) -> str:
    """``text`` escaped; when longer than ``limit`` once escaped, cut at a character
    boundary (never inside an escape) and marked with the UTF-8 bytes left out."""
    if limit is None:
        return unsafe.sub(_escape_match, text)
    kept = text[:limit]
    escaped = unsafe.sub(_escape_match, kept) if unsafe.search(kept) else kept
    if len(escaped) <= limit:
        if len(text) <= limit:
            return escaped
        return f"{escaped}…[+{_utf8_length(text[limit:])} bytes]"
    pieces: list[str] = []
    used = 0
    taken = 0
    for char in kept:
        piece = escape_char(char) if unsafe.match(char) else char
        if used + len(piece) > limit:
            break
        pieces.append(piece)
        used += len(piece)
        taken += 1
    return "".join(pieces) + f"…[+{_utf8_length(text[taken:])} bytes]"


def terminal_text(value: object, *, limit: int | None = CELL_LIMIT, multiline: bool = False) -> str:
    """``value`` as text a terminal shows without acting on it.

    ``multiline`` keeps line feeds and tabs (a CRLF becomes a line feed; a lone CR is
    escaped) and applies ``limit`` to each line; otherwise every control is escaped and
    ``limit`` applies to the whole value. ``limit`` counts the characters shown (escapes
    included, the cut mark not); ``None`` never cuts.
    """
    text = value if isinstance(value, str) else str(value)
    if not multiline:
        if (limit is None or len(text) <= limit) and text.isascii() and text.isprintable():
            return text  # printable ASCII (two C-level checks): nothing to escape or cut
        return _escaped(text, _UNSAFE, limit)
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(_escaped(line, _UNSAFE_MULTILINE, limit) for line in lines)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if 0xD800 <= ord(char) <= 0xDFFF:
        # JSON cannot carry a lone surrogate as valid UTF-8: the documented text form, its
        # backslash escaped for JSON (the reader gets "\x8e").
        return "\\" + escape_char(char)
    return f"\\u{ord(char):04x}"


def json_safe(json_text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) made valid UTF-8 with no raw
    DEL, C1 or bidirectional control: those characters can only sit inside strings, where
    JSON's ``\\uXXXX`` keeps them exact; bytes that were not UTF-8 become ``\\xNN`` text."""
    # Most JSON text is ASCII (a flag of the str: no scan), where DEL is the one character
    # to look for (one C-level search): the regex walks only text that has something else.
    if json_text.isascii():
        if "\x7f" not in json_text:
            return json_text
    elif _JSON_UNSAFE.search(json_text) is None:
        return json_text
    return _JSON_UNSAFE.sub(_json_escape, json_text)


def _surrogate_text(match: re.Match[str]) -> str:
    return escape_char(match.group())


def valid_utf8(text: str) -> str:
    """``text`` with the bytes that were not UTF-8 as ``\\xNN`` (other lone surrogates as
    ``\\uXXXX``), nothing else changed: for files whose format escapes the rest itself (an
    HTML page, a Parquet column)."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_surrogate_text, text)
