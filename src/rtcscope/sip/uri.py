"""SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), parsed tolerantly.

Hand-written because no maintained Python library parses the URIs seen in real traffic
(IPv6 references, escaped user parts, ``?headers``, parameters without values) while keeping
the text as written. Parts are kept as written (escapes included); ``user_unescaped`` and
:func:`unescape` give the decoded form RFC 3261 19.1.4 compares. Other schemes
(``urn:``, ``mailto:``, ...) are kept whole in ``opaque``.

:func:`parse_uri` raises :class:`~rtcscope.errors.SipError` on text that is not a URI;
the message parser catches it and records a problem instead.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote

from rtcscope._dataclass import dataclass
from rtcscope.errors import SipError

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_KNOWN_SCHEMES = frozenset(("sip", "sips", "tel"))


def is_digits(text: str) -> bool:
    """ASCII decimal digits only (``str.isdigit`` also accepts "²" and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes (RFC 3261 19.1.2), leaving malformed escapes as they are."""
    return unquote(text, errors="surrogateescape") if "%" in text else text


@dataclass(frozen=True, slots=True)
class Uri:
    """A URI as written in a SIP message.

    ``host`` keeps the brackets of an IPv6 reference (``[2001:db8::1]``); ``host_address``
    drops them. ``params`` and ``headers`` keep order and spelling; a parameter without a
    value (``lr``) has the value ``None``. For ``tel:`` the number is in ``user`` and
    ``host`` is empty.
    """

    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    opaque: str = ""  # the part after "scheme:" for schemes other than sip/sips/tel
    raw: str = ""
    unbracketed_ipv6: bool = False  # an IPv6 host written without [] (RFC 5118 4.5 forbids)

    @classmethod
    def parse(cls, text: str) -> Uri:
        return parse_uri(text)

    def __str__(self) -> str:
        return self.raw or self.format()

    def format(self) -> str:
        """The URI rebuilt from its parts (equal to ``raw`` for a URI that was parsed)."""
        if self.scheme.lower() not in ("sip", "sips", "tel"):
            return f"{self.scheme}:{self.opaque}"
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            if self.scheme.lower() != "tel":
                out.append("@")
        out.append(self.host)
        if self.port is not None:
            out += [":", str(self.port)]
        for name, value in self.params:
            out += [";", name] if value is None else [";", name, "=", value]
        if self.headers:
            out.append("?" + "&".join(f"{n}={v}" for n, v in self.headers))
        return "".join(out)

    @property
    def is_sip(self) -> bool:
        return self.scheme.lower() in ("sip", "sips")

    @property
    def host_address(self) -> str:
        """The host without IPv6 brackets."""
        h = self.host
        return h[1:-1] if h.startswith("[") and h.endswith("]") else h

    @property
    def user_unescaped(self) -> str | None:
        return None if self.user is None else unescape(self.user)

    def param(self, name: str) -> str | None:
        """The value of a parameter (case-insensitive name); ``""`` for a flag, None if absent."""
        lname = name.lower()
        for n, v in self.params:
            if n.lower() == lname:
                return "" if v is None else v
        return None

    def has_param(self, name: str) -> bool:
        return self.param(name) is not None

    @property
    def lr(self) -> bool:
        """RFC 3261 19.1.1: ``lr`` marks a loose router."""
        return self.has_param("lr")

    @property
    def transport(self) -> str | None:
        value = self.param("transport")
        return value.lower() if value else None

    @property
    def maddr(self) -> str | None:
        return self.param("maddr") or None

    @property
    def user_param(self) -> str | None:
        return self.param("user") or None


def _split_params(text: str) -> tuple[tuple[str, str | None], ...]:
    if not text:
        return ()
    params: list[tuple[str, str | None]] = []
    for piece in text.split(";"):
        piece = piece.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        params.append((sys.intern(name.strip()), value.strip() if eq else None))
    return tuple(params)


def _split_headers(text: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for piece in text.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            out.append((name, value))
    return tuple(out)


def _parse_port(text: str, uri: str) -> int | None:
    if text == "":
        return None
    if not is_digits(text) or int(text) > 65535:
        raise SipError(f"SIP URI {uri!r} has a bad port {text!r}")
    return int(text)


def split_unbracketed_ipv6(hostport: str) -> tuple[str, str] | None:
    """``(host, port text)`` when ``hostport`` is an IPv6 address written without brackets.

    RFC 3261 25.1 and RFC 5118 4.5 require brackets, but some agents omit them
    (``fe80:0:0:0:21a:a0ff:fe07:32e0:5060``). The whole text is tried as an address first,
    then the text before the last colon with the rest as the port.
    """
    if hostport.count(":") < 2:
        return None
    try:
        ipaddress.IPv6Address(hostport)
        return hostport, ""
    except ValueError:
        pass
    head, _, tail = hostport.rpartition(":")
    if is_digits(tail):
        try:
            ipaddress.IPv6Address(head)
            return head, tail
        except ValueError:
            return None
    return None


# A capture repeats the same values message after message (every message of a dialog
# carries its From, To and Call-ID): parsing each distinct text once and sharing the frozen
# result makes a message cost a few dict lookups instead of a parse per header. The caches
# (here and in rtcscope.sip.message) are bounded: cleared when full.
CACHE_LIMIT = 1 << 16
_Parsed = TypeVar("_Parsed")
_URIS: dict[str, Uri | SipError] = {}


def parsed_once(
    cache: dict[str, _Parsed | SipError], parse: Callable[[str], _Parsed], text: str
) -> _Parsed | SipError:
    """``parse(text)`` or its SipError, once per distinct text."""
    found = cache.get(text)
    if found is None:
        try:
            found = parse(text)
        except SipError as exc:
            found = exc
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = found
    return found


def parse_cached(
    cache: dict[str, _Parsed | SipError], parse: Callable[[str], _Parsed], text: str
) -> _Parsed:
    """``parse(text)``, once per distinct text (the SipError too: raised again each time)."""
    found = parsed_once(cache, parse, text)
    if isinstance(found, SipError):
        raise SipError(str(found), found.offset)
    return found


def parse_uri_once(text: str) -> Uri:
    """:func:`parse_uri`, once per distinct text (the To of a dialog with and without its
    tag, the Request-URIs of its requests name the same URIs)."""
    found = _URIS.get(text)
    if isinstance(found, Uri):
        return found  # parsed before: one look-up
    return parse_cached(_URIS, parse_uri, text)


def usual_uri(
    text: str, scheme: str, user: str | None, host: str, port: str | None, params: str | None
) -> Uri:
    """:func:`parse_uri_once` of a SIP or SIPS URI ``text`` whose parts a caller's match has
    cut already: ``scheme``, ``user`` (None without a user part; no password), ``host`` (a
    name, IPv4 or bracketed IPv6 address), ``port`` (digits of a number below 65536, or
    None), ``params`` (the text after the first ';', or None); no ``?headers``, no
    whitespace. The URI kept for the same text, else built from the parts and kept."""
    found = _URIS.get(text)
    if isinstance(found, Uri):
        return found
    uri = Uri(
        scheme=sys.intern(scheme),
        user=user,
        host=sys.intern(host),
        port=int(port) if port else None,
        params=_split_params(params or ""),
        raw=text,
    )
    if len(_URIS) >= CACHE_LIMIT:
        _URIS.clear()
    _URIS[text] = uri
    return uri


def parse_uri(text: str) -> Uri:
    """Parse a SIP, SIPS or tel URI (or keep any other scheme opaque).

    Raises :class:`SipError` when the text has no scheme or a SIP URI has no host.
    """
    raw = text.strip()
    scheme, colon, rest = raw.partition(":")
    lscheme = scheme.lower()
    # The usual schemes need no check of their characters; anything else is read by the
    # scheme grammar (RFC 3986 3.1), which ends at the first colon too.
    if not colon or lscheme not in _KNOWN_SCHEMES:
        m = _SCHEME.match(raw)
        if m is None:
            raise SipError(f"not a URI (no scheme): {raw[:80]!r}")
        scheme = m.group(1)
        rest = raw[m.end() :]
        lscheme = scheme.lower()
    if lscheme == "tel":
        return _parse_tel(scheme, rest, raw)
    if lscheme not in ("sip", "sips"):
        return Uri(scheme=scheme, opaque=rest, raw=raw)

    user: str | None = None
    password: str | None = None
    # RFC 3261 19.1.1: the user part may hold ';' and '?' (user-unreserved), so the
    # userinfo ends at the first '@'; but an '@' inside ?headers (after '?...=') is not one.
    at = rest.find("@")
    if at >= 0:
        q = rest.find("?")
        if q >= 0 and q < at and "=" in rest[q:at]:
            at = -1
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None

    headers: tuple[tuple[str, str], ...] = ()
    q = rest.find("?")
    if q >= 0:
        headers = _split_headers(rest[q + 1 :])
        rest = rest[:q]
    hostport, _, param_text = rest.partition(";")
    params = _split_params(param_text)

    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipError(f"SIP URI {raw[:80]!r} has an unclosed IPv6 reference")
        host = hostport[: end + 1]
        after = hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise SipError(f"SIP URI {raw[:80]!r} has text after its IPv6 reference")
        port = _parse_port(after[1:], raw)
        unbracketed = False
    else:
        # Only a text with two colons can be an IPv6 address (RFC 4291 2.2).
        unbracketed_parts = (
            split_unbracketed_ipv6(hostport.strip()) if hostport.count(":") >= 2 else None
        )
        unbracketed = unbracketed_parts is not None
        if unbracketed_parts is not None:
            host, port_text = unbracketed_parts
        else:
            host, _, port_text = hostport.partition(":")
        port = _parse_port(port_text.strip(), raw)
        host = host.strip()
    if not host:
        raise SipError(f"SIP URI {raw[:80]!r} has no host")
    # A capture's URIs name a few hosts: one string each (and each scheme).
    return Uri(
        scheme=sys.intern(scheme),
        user=user,
        password=password,
        host=sys.intern(host),
        port=port,
        params=params,
        headers=headers,
        raw=raw,
        unbracketed_ipv6=unbracketed,
    )


def _parse_tel(scheme: str, rest: str, raw: str) -> Uri:
    """RFC 3966: ``tel:+1-201-555-0123;phone-context=example.com``."""
    number, _, param_text = rest.partition(";")
    if not number:
        raise SipError(f"tel URI {raw[:80]!r} has no number")
    return Uri(scheme=scheme, user=number, params=_split_params(param_text), raw=raw)
