"""SIP header names and values: compact forms, list splitting, name-addr, Via, CSeq.

Hand-written (see :mod:`rtcscope.sip.message` for why). Values are parsed from the text as
written; each parser raises :class:`~rtcscope.errors.SipError` on a value it cannot read,
and :class:`~rtcscope.sip.message.SipMessage` turns that into a problem on the message.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.errors import SipError
from rtcscope.sip.uri import (
    Uri,
    is_digits,
    parse_uri_once,
    split_unbracketed_ipv6,
    usual_uri,
)

# RFC 3261 7.3.3 and the IANA "Header Fields" registry: compact form -> full name.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        *COMPACT_FORMS.values(),
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "Call-Info",
        "Content-Disposition",
        "Content-Language",
        "CSeq",
        "Date",
        "Error-Info",
        "Expires",
        "History-Info",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "Min-SE",
        "MIME-Version",
        "Organization",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Path",
        "Priority",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Record-Route",
        "Remote-Party-ID",
        "Replaces",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "RSeq",
        "Server",
        "Service-Route",
        "Subscription-State",
        "Timestamp",
        "Unsupported",
        "User-Agent",
        "Warning",
        "WWW-Authenticate",
    )
}

# Headers whose grammar is a comma-separated list (RFC 3261 7.3.1 allows folding such
# lists into one line and splitting them again). Everything else is never split: the
# credentials headers contain commas inside one value (RFC 3261 7.3.1 names them), and
# Date/User-Agent/Subject and unknown headers are free text.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept",
        "Accept-Contact",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Error-Info",
        "History-Info",
        "In-Reply-To",
        "P-Asserted-Identity",
        "P-Associated-URI",
        "P-Preferred-Identity",
        "Path",
        "Privacy",
        "Proxy-Require",
        "Reason",
        "Record-Route",
        "Reject-Contact",
        "Request-Disposition",
        "Require",
        "Route",
        "Security-Client",
        "Security-Server",
        "Security-Verify",
        "Service-Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
    )
)

NEVER_SPLIT = frozenset(
    ("www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization")
)


def canonical_name(name: str) -> str:
    """The full, conventionally spelled name of a header (``v`` -> ``Via``, ``CALL-ID`` ->
    ``Call-ID``); unknown names are returned stripped but otherwise as written."""
    stripped = name.strip()
    lower = stripped.lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, stripped)


def header_key(name: str) -> str:
    """The lookup key of a header name: the full name, lower case (compact forms expanded)."""
    lower = name.strip().lower()
    if len(lower) == 1 and lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower].lower()
    return lower


def _find_unquoted(text: str, targets: str, start: int = 0) -> int:
    """Index of the first character of ``targets`` at or after ``start`` (which must be outside
    a quoted string) that is outside quoted strings, or -1.

    RFC 3261 25.1: a quoted-string is ``"..."`` in which ``\\`` escapes the next character.
    The search jumps from one target or quote to the next (str.find), not character by
    character.
    """
    i = start
    while True:
        hit = -1
        for target in targets:
            found = text.find(target, i)
            if found >= 0 and (hit < 0 or found < hit):
                hit = found
        quote = text.find('"', i)
        if quote < 0 or 0 <= hit < quote:
            return hit
        # Inside the quoted string: its end is the next quote not escaped by a backslash.
        i = quote + 1
        while True:
            close = text.find('"', i)
            if close < 0:
                return -1
            escape = text.find("\\", i, close)
            if escape < 0:
                i = close + 1
                break
            i = escape + 2


def split_comma_list(value: str) -> list[str]:
    """Split a list header value at commas outside quoted strings and angle brackets.

    RFC 3261 7.3.1 / 25.1: a comma inside ``"..."`` (with ``\\`` escapes) or inside
    ``<...>`` does not separate values. Empty elements are dropped.
    """
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    out: list[str] = []
    start = 0
    i = _find_unquoted(value, ",<")
    while i >= 0:
        if value[i] == "<":
            i = _find_unquoted(value, ">", i + 1)
            if i < 0:  # an unclosed '<' holds the rest of the value
                break
        else:
            piece = value[start:i].strip()
            if piece:
                out.append(piece)
            start = i + 1
        i = _find_unquoted(value, ",<", i + 1)
    piece = value[start:].strip()
    if piece:
        out.append(piece)
    return out


def split_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split ``;name=value;flag`` header parameters, respecting quoted values."""
    if not text:
        return ()
    params: list[tuple[str, str | None]] = []
    if '"' not in text:
        pieces = text.split(";")
    else:
        pieces = []
        start = 0
        end = _find_unquoted(text, ";")
        while end >= 0:
            pieces.append(text[start:end])
            start = end + 1
            end = _find_unquoted(text, ";", start)
        pieces.append(text[start:])
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        # Parameter names repeat in every value (tag, branch, rport): one string each.
        params.append((sys.intern(name.strip()), value.strip() if eq else None))
    return tuple(params)


def _param(params: tuple[tuple[str, str | None], ...], name: str) -> str | None:
    lname = name.lower()
    for n, v in params:
        if n.lower() == lname:
            return "" if v is None else v
    return None


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        if "\\" in inner:
            out: list[str] = []
            i = 0
            while i < len(inner):
                if inner[i] == "\\" and i + 1 < len(inner):
                    i += 1
                out.append(inner[i])
                i += 1
            return "".join(out)
        return inner
    return text


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact/Route/Record-Route value (RFC 3261 20.10, 20.20, 20.30, 20.34, 20.39).

    RFC 3261 20: in the ``name-addr`` form (``"Bob" <sip:bob@b.example;transport=tcp>;tag=1``)
    the URI parameters stay inside the brackets and what follows belongs to the header; in the
    ``addr-spec`` form (``sip:bob@b.example;tag=1``) every ``;`` parameter belongs to the header,
    and the URI carries none. ``wildcard`` is the ``Contact: *`` of a REGISTER.
    """

    uri: Uri | None
    display_name: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    bracketed: bool = False
    wildcard: bool = False
    raw: str = ""

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        return parse_name_addr(text)

    def __str__(self) -> str:
        return self.raw

    def param(self, name: str) -> str | None:
        return _param(self.params, name)

    @property
    def tag(self) -> str | None:
        return self.param("tag") or None

    @property
    def expires(self) -> int | None:
        value = self.param("expires")
        return int(value) if value and is_digits(value) else None

    @property
    def q(self) -> float | None:
        value = self.param("q")
        try:
            return float(value) if value else None
        except ValueError:
            return None


def parse_name_addr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec with its header parameters (raises SipError)."""
    raw = text.strip()
    found = _usual_name_addr(raw)
    return found if found is not None else _name_addr_by_steps(raw)


def _name_addr_by_steps(raw: str) -> NameAddr:
    """:func:`parse_name_addr` of a stripped text, read step by step (the general road:
    what :func:`_usual_name_addr` builds is checked against it)."""
    if raw == "*":
        return NameAddr(uri=None, wildcard=True, raw=raw)
    # A '<' inside a quoted display name is not the URI's bracket.
    lt = _find_unquoted(raw, "<")
    if lt >= 0:
        gt = raw.find(">", lt)
        if gt < 0:
            raise SipError(f"address {raw[:80]!r} has '<' without '>'")
        display = raw[:lt].strip()
        uri = parse_uri_once(raw[lt + 1 : gt])
        rest = raw[gt + 1 :].strip()
        params = split_params(rest[1:] if rest.startswith(";") else rest)
        return NameAddr(
            uri=uri,
            display_name=_unquote(display) if display else None,
            params=params,
            bracketed=True,
            raw=raw,
        )
    uri_text, _, param_text = raw.partition(";")
    if " " in uri_text.strip() or "\t" in uri_text.strip():
        raise SipError(f"address {raw[:80]!r} has a display name but no <URI>")
    return NameAddr(uri=parse_uri_once(uri_text), params=split_params(param_text), raw=raw)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value (RFC 3261 20.42): ``SIP/2.0/UDP host:port;branch=...;rport=...``."""

    protocol: str  # "SIP/2.0"
    transport: str  # as written, e.g. "UDP", "TCP", "WS", "TLS"
    host: str  # IPv6 keeps its brackets
    port: int | None
    params: tuple[tuple[str, str | None], ...] = ()
    raw: str = ""
    unbracketed_ipv6: bool = False  # sent-by is an IPv6 address without [] (RFC 5118 4.5)

    @classmethod
    def parse(cls, text: str) -> Via:
        return parse_via(text)

    def __str__(self) -> str:
        return self.raw

    def param(self, name: str) -> str | None:
        return _param(self.params, name)

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def host_address(self) -> str:
        h = self.host
        return h[1:-1] if h.startswith("[") and h.endswith("]") else h

    @property
    def branch(self) -> str | None:
        return self.param("branch") or None

    @property
    def received(self) -> str | None:
        return self.param("received") or None

    @property
    def has_rport(self) -> bool:
        """RFC 3581: the client asked for ``rport`` (with or without a value filled in)."""
        return self.param("rport") is not None

    @property
    def rport(self) -> int | None:
        value = self.param("rport")
        return int(value) if value and is_digits(value) else None

    @property
    def maddr(self) -> str | None:
        return self.param("maddr") or None

    @property
    def ttl(self) -> int | None:
        value = self.param("ttl")
        return int(value) if value and is_digits(value) else None

    @property
    def is_rfc3261_branch(self) -> bool:
        """RFC 3261 8.1.1.7: branches starting with the magic cookie are unique per transaction."""
        b = self.branch
        return b is not None and b.startswith("z9hG4bK")


def parse_via(text: str) -> Via:
    """Parse one Via value (raises SipError). LWS is allowed around '/' (RFC 3261 25.1)."""
    raw = text.strip()
    parts = raw.split("/", 2)
    if len(parts) != 3:
        raise SipError(f"Via {raw[:80]!r} has no SIP/2.0/transport")
    name, version, rest = (p.strip() for p in parts)
    # The transport ends at the first whitespace (``rest`` is stripped already).
    words = rest.split(None, 1)
    transport = words[0] if words else ""
    sent_by_and_params = words[1].strip() if len(words) > 1 else ""
    if not transport or not sent_by_and_params:
        raise SipError(f"Via {raw[:80]!r} has no sent-by")
    # The sent-by ends at the first ';' (parameters); an IPv6 reference contains ':' only.
    sent_by, _, param_text = sent_by_and_params.partition(";")
    sent_by = sent_by.strip()
    unbracketed: tuple[str, str] | None = None
    if sent_by.startswith("["):
        end = sent_by.find("]")
        if end < 0:
            raise SipError(f"Via {raw[:80]!r} has an unclosed IPv6 reference")
        host = sent_by[: end + 1]
        port_text = sent_by[end + 1 :].strip().lstrip(":").strip()
    elif (unbracketed := split_unbracketed_ipv6(sent_by)) is not None:
        host, port_text = unbracketed
    else:
        host, _, port_text = sent_by.partition(":")
        host = host.strip()
        port_text = port_text.strip()
    if not host:
        raise SipError(f"Via {raw[:80]!r} has no host")
    port: int | None = None
    if port_text:
        if not is_digits(port_text) or int(port_text) > 65535:
            raise SipError(f"Via {raw[:80]!r} has a bad port {port_text!r}")
        port = int(port_text)
    # A capture's Vias name a few hosts and transports: one string each.
    return Via(
        protocol=sys.intern(f"{name}/{version}"),
        transport=sys.intern(transport),
        host=sys.intern(host),
        port=port,
        params=split_params(param_text),
        raw=raw,
        unbracketed_ipv6=unbracketed is not None,
    )


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (RFC 3261 20.16): a sequence number and the request's method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"

    @classmethod
    def parse(cls, text: str) -> CSeq:
        return parse_cseq(text)


def parse_cseq(text: str) -> CSeq:
    parts = text.split()
    if len(parts) != 2 or not is_digits(parts[0]):
        raise SipError(f"CSeq {text.strip()[:80]!r} is not '<number> <method>'")
    number = int(parts[0])
    if number >= 2**32:
        raise SipError(f"CSeq number {number} is not below 2**32 (RFC 3261 8.1.1.5)")
    return CSeq(number=number, method=parts[1])


# -- the keys of transactions and dialogs, cut from the text --------------------------------
#
# Matching messages to transactions and dialogs reads three things per message: the From and
# To tags and the top Via's sent-by and branch. The functions below cut them from the header
# text with str.find/split and one regex, without building NameAddr/Via/Uri objects, and give
# exactly what the full parse gives (``parse_name_addr(t).tag``, ``parse_via(t).sent_by`` and
# ``.branch``; None where that parse fails). A URI or sent-by of an unusual shape is handed to
# the full parser instead, so the shortcut never has to agree on the rare cases.

# A SIP/SIPS URI parse_uri always accepts: a host name or IPv4 (or a bracketed IPv6) with an
# optional port below 65536, no '?headers', no whitespace; or a tel URI with a number.
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_SIMPLE_SIP_URI = (
    r"[Ss][Ii][Pp][Ss]?:(?:[^@?\s<>\"\[\]]*@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::" + _PORT + r")?(?:;[^@?\s<>\"\[\]]*)?"
)
_SIMPLE_URI = re.compile(r"(?:" + _SIMPLE_SIP_URI + r"|[Tt][Ee][Ll]:[^;\s].*)", re.S)
# A sent-by parse_via reads as host and port without the IPv6 rules.
_SIMPLE_SENT_BY = re.compile(r"([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?")


def param_value(text: str, name: str) -> str | None:
    """The value of header parameter ``name`` (lower case) in ``;``-separated ``text``, as
    ``split_params`` and ``NameAddr.param``/``Via.param`` read it: the first parameter of
    that name in any case, "" when it has no value, None when there is none."""
    if '"' in text:
        return _param(split_params(text), name)
    if text.startswith(name) and text[len(name) : len(name) + 1] == "=":
        # The usual first parameter (";branch=...", ";tag=..."): its value up to the next ';'.
        return text[len(name) + 1 :].partition(";")[0].strip()
    for piece in text.split(";"):
        key, eq, value = piece.partition("=")
        if key.strip().lower() == name:
            return value.strip() if eq else ""
    return None


def _uri_parses(text: str) -> bool:
    if _SIMPLE_URI.fullmatch(text) is not None:
        return True
    try:
        parse_uri_once(text)
    except SipError:
        return False
    return True


# The usual name-addr in one match: a display name (tokens, or quoted strings without
# escapes), '<', a SIP URI _SIMPLE_URI accepts (it holds no '>': the next '>' closes it),
# '>', then either nothing but ";tag=" and a value without ';', '"' or space (group 1: what
# param_value reads of it) or the header's parameters (group 2). The '<' matched is the
# first outside quotes, as _find_unquoted finds it; what this does not match is read step
# by step.
_SIMPLE_NAME_ADDR = re.compile(
    r'[^"<\\]*(?:"[^"\\]*"[^"<\\]*)*<(?:' + _SIMPLE_SIP_URI + r')>(?:;tag=([^;"\s]+)|(.*))',
    re.S,
)


def name_addr_tag(text: str) -> str | None:
    """``parse_name_addr(text).tag`` (None when the parse fails), without building it."""
    raw = text.strip()
    match = _SIMPLE_NAME_ADDR.fullmatch(raw)
    if match is None:
        return _name_addr_tag_by_steps(raw)
    tag, rest = match.groups()
    if tag is not None:
        return tag
    rest = rest.strip()
    return param_value(rest[1:] if rest.startswith(";") else rest, "tag") or None


# The usual From, To, Contact and Route values in one match, the same objects built from
# the groups as the general road builds them: ``"Display" <sip:user@host:port;params>;tag=x``,
# ``<sip:user@host>;tag=x``, ``sip:user@host;tag=x``. The display name is a quoted string
# without escapes (group 1) or text without quotes, '<' or '\' (group 2); the URI a SIP or
# SIPS URI with an optional user part without ':' (no password), a host name, IPv4 or
# bracketed IPv6 address, a port below 65536 and, inside brackets, parameters; no '?headers',
# no whitespace, no '@' but the user's. What follows the '>' (or the addr-spec's first ';')
# is the header's parameters, read by split_params as on the general road. Anything else is
# read step by step.
_USUAL_URI = (
    r"([Ss][Ii][Pp][Ss]?):(?:([^@:;?\s<>\"\[\]]*)@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(" + _PORT + r"))?"
)
_USUAL_NAME_ADDR = re.compile(
    r'(?:"([^"\\]*)"[ \t]*|([^"<\\]*))<(' + _USUAL_URI + r'(?:;([^@?\s<>"\[\]]*))?)>(.*)', re.S
)
_USUAL_ADDR_SPEC = re.compile(r"(" + _USUAL_URI + r")(?:;(.*))?", re.S)


def _usual_match(raw: str) -> tuple[re.Match[str], bool] | None:
    """The one-match reading of a stripped text of a usual shape: (match, True) for a
    name-addr (_USUAL_NAME_ADDR), (match, False) for an addr-spec (_USUAL_ADDR_SPEC); None
    for any other text."""
    match = _USUAL_NAME_ADDR.fullmatch(raw)
    if match is not None:
        return match, True
    match = _USUAL_ADDR_SPEC.fullmatch(raw)
    # An unquoted '<' in the parameters makes the text a name-addr whose '>' is missing (the
    # step road's reading: an error), not an addr-spec.
    if match is not None and ("<" not in raw or _find_unquoted(raw, "<") < 0):
        return match, False
    return None


def _name_addr_cut() -> Callable[[str], str | None] | None:
    """rtcscope.sip._callwalk.name_addr_uri where it was built (and RTCSCOPE_PURE unset):
    the URI text the _USUAL_NAME_ADDR match cuts from a name-addr of the usual shape, or
    None where it is not sure (the match decides)."""
    if not c_wanted():
        return None
    try:
        from rtcscope.sip import _callwalk
    except ImportError:  # (not built)
        return None
    cut: Callable[[str], str | None] | None = getattr(_callwalk, "name_addr_uri", None)
    return cut  # (None: built from an older _callwalk.c)


_name_addr_uri = _name_addr_cut()
NAME_ADDR_ROAD = "python" if _name_addr_uri is None else "c"


def usual_address_uri(raw: str) -> str | None:
    """``str(parse_name_addr(raw).uri)`` for a stripped text of a usual shape, as the one
    match cuts it (no NameAddr or Uri built; the usual name-addr cut in C where it was
    built); None for any other text (parse it)."""
    if _name_addr_uri is not None:
        uri = _name_addr_uri(raw)
        if uri is not None:
            return uri
    found = _usual_match(raw)
    if found is None:
        return None
    match, bracketed = found
    return match.group(3) if bracketed else match.group(1)


def _usual_name_addr(raw: str) -> NameAddr | None:
    """:func:`parse_name_addr` of a stripped text of a usual shape (see _USUAL_NAME_ADDR);
    None for any other text."""
    found = _usual_match(raw)
    if found is None:
        return None
    match, bracketed = found
    if bracketed:
        quoted, display, uri_text, scheme, user, host, port, uri_params, rest = match.groups()
        if quoted is None:
            display = display.strip() or None
        uri = usual_uri(uri_text, scheme, user, host, port, uri_params)
        rest = rest.strip()
        return NameAddr(
            uri=uri,
            display_name=quoted if quoted is not None else display,
            params=split_params(rest[1:] if rest.startswith(";") else rest),
            bracketed=True,
            raw=raw,
        )
    uri_text, scheme, user, host, port, params = match.groups()
    uri = usual_uri(uri_text, scheme, user, host, port, None)
    return NameAddr(uri=uri, params=split_params(params or ""), raw=raw)


def _name_addr_tag_by_steps(raw: str) -> str | None:
    """:func:`name_addr_tag` of a stripped text, read step by step."""
    if raw == "*":
        return None
    lt = _find_unquoted(raw, "<")
    if lt >= 0:
        gt = raw.find(">", lt)
        if gt < 0 or not _uri_parses(raw[lt + 1 : gt]):
            return None
        rest = raw[gt + 1 :].strip()
        return param_value(rest[1:] if rest.startswith(";") else rest, "tag") or None
    uri_text, _, param_text = raw.partition(";")
    stripped = uri_text.strip()
    if " " in stripped or "\t" in stripped or not _uri_parses(uri_text):
        return None
    return param_value(param_text, "tag") or None


# The usual Via value in one match: what via_sent_by_branch's steps cut (the text after the
# second '/', its first word, the rest up to ';' stripped and read by _SIMPLE_SENT_BY), then
# either ";branch=" first with a value without ';', '"' or space and parameters without '"'
# (group 3: what param_value reads of them) or the parameters after the first ';' (group 4).
# \s is what str.split() and str.strip() take as space.
_SIMPLE_VIA = re.compile(
    r"[^/]*/[^/]*/\s*\S+\s+([A-Za-z0-9._-]+)(?::([0-9]{1,5}))?\s*"
    r'(?:;branch=([^;"\s]*)(?:;[^"]*)?|;(.*))?',
    re.S,
)


def via_sent_by_branch(text: str) -> tuple[str, str | None] | None:
    """``(via.sent_by, via.branch)`` of ``parse_via(text)`` for the usual shape (a host name
    or IPv4 sent-by); None for anything else (read it with :func:`parse_via`)."""
    match = _SIMPLE_VIA.fullmatch(text)
    if match is None:
        return _via_by_steps(text)
    host, port, branch, param_text = match.groups()
    if branch is None:
        branch = param_value(param_text or "", "branch")
    return _sent_by_branch(host, port, branch)


def _via_by_steps(text: str) -> tuple[str, str | None] | None:
    """:func:`via_sent_by_branch` read step by step."""
    found = _via_parts_by_steps(text)
    if found is None:
        return None
    host, port, param_text = found
    return _sent_by_branch(host, port, param_value(param_text, "branch"))


def _sent_by_branch(
    host: str, port: str | None, branch: str | None
) -> tuple[str, str | None] | None:
    if port is not None:
        number = int(port)
        if number > 65535:
            return None
        host = f"{host}:{number}"
    return host, branch or None


def _via_parts_by_steps(text: str) -> tuple[str, str | None, str] | None:
    """The host, port and parameters :func:`via_sent_by_branch` reads, cut step by step."""
    parts = text.split("/", 2)
    if len(parts) != 3:
        return None
    words = parts[2].split(None, 1)
    if len(words) != 2:
        return None
    sent_by, _, param_text = words[1].partition(";")
    match = _SIMPLE_SENT_BY.fullmatch(sent_by.strip())
    if match is None:
        return None
    host, port = match.groups()
    return host, port, param_text
