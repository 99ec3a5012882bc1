"""The RFC 3261 routing engine: route sets, in-dialog requests, and what each proxy must do.

- Route set (12.1.1, 12.1.2): the UAS takes the request's Record-Route as it came; the UAC
  takes the 2xx's Record-Route reversed. The remote target is the peer's Contact.
- In-dialog request (12.2.1.1): with a loose first route (``;lr``) the Request-URI is the
  remote target and Route is the route set; with a strict first route the Request-URI is that
  route and Route is the rest of the route set plus the remote target.
- Proxy (16.4): if the Request-URI is a value this proxy put in Record-Route, the previous hop
  was a strict router: the last Route value becomes the Request-URI and is removed. Then the
  proxy removes the first Route value if it is its own -- both top values after a double
  Record-Route (one per interface). 16.5: a proxy does not rewrite a Request-URI it is not
  responsible for (an in-dialog Request-URI is the remote target). 16.6 step 3: Max-Forwards
  minus one. 16.6 step 6: a next hop without ``lr`` is a strict router: its URI becomes the
  Request-URI and the old Request-URI goes to the end of Route. 16.12: the request goes to the
  first Route value, or on the Request-URI when no Route is left.

:func:`plan_route` applies these rules to a 2xx and a list of proxies (``rtcscope route``);
:func:`forward_as_proxy` is one proxy's step, which :mod:`rtcscope.sip.diagnosis` compares
with what each proxy in a capture actually did. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import field
from functools import lru_cache
from typing import Any, Literal

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.errors import InvalidArgument, SipError
from rtcscope.sip.headers import (
    NameAddr,
    parse_name_addr,
    split_comma_list,
    usual_address_uri,
)
from rtcscope.sip.message import SipMessage
from rtcscope.sip.transactions import endpoint, via_branches
from rtcscope.sip.uri import Uri, is_digits

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}


def uri_port(uri: Uri) -> int:
    """The port a URI names, or the default for its scheme/transport (RFC 3263 fallback)."""
    if uri.port is not None:
        return uri.port
    if uri.scheme.lower() == "sips" or uri.transport == "tls":
        return 5061
    return 5060


# An IPv4 address as ipaddress accepts it (four decimal octets, 0-255, no leading zero): that
# text is already its canonical form. Matched first because a capture of many UAs asks about
# thousands of distinct addresses, and ipaddress costs ~6 us each (tests/sip/test_routing.py
# checks both ways agree).
_IPV4_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"\.".join([_IPV4_OCTET] * 4) + r"\Z")


@lru_cache(maxsize=65_536)
def normal_host(host: str) -> str:
    """A host as captures print addresses: IPs in their canonical (compressed) form, names
    lower-case, no brackets; so ``fec0:0:0:0:216:d3ff:fe0d:22c`` equals ``fec0::216:...``."""
    bare = host.strip("[]")
    if _IPV4.match(bare) is not None:
        return bare
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare.lower()


def uri_endpoint(uri: Uri) -> str:
    """``host:port`` of a URI (maddr wins, 19.1.1), IPv6 in brackets."""
    return endpoint(uri_host(uri), uri_port(uri))


def uri_host(uri: Uri) -> str:
    return normal_host(uri.maddr or uri.host_address)


def same_target(a: Uri, b: Uri) -> bool:
    """Same scheme, user, host and port: where a request goes and to whom, parameters aside
    (a UA may drop ``transport=udp`` from a Contact it reuses)."""
    if a is b:  # URIs are parsed once per text: one object for the same text
        return True
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.user or "") == (b.user or "")
        and uri_host(a) == uri_host(b)
        and uri_port(a) == uri_port(b)
    )


UriKey = tuple[str, str, str, int, tuple[tuple[str, str], ...]]


def uri_key(uri: Uri) -> UriKey:
    """What :func:`same_uri` compares, as a hashable value (for sets and dicts)."""
    return (
        uri.scheme.lower(),
        uri.user or "",
        uri.host_address.lower(),
        uri_port(uri),
        tuple(sorted((n.lower(), (v or "").lower()) for n, v in uri.params)),
    )


def same_uri(a: Uri, b: Uri) -> bool:
    """URI equality for route comparison (19.1.4, simplified: parameters order-insensitive)."""
    return a is b or uri_key(a) == uri_key(b)


class UriSet:
    """URIs compared as :func:`same_uri` does, with constant-time membership: a route set of
    thousands of values is looked up once per hop, not scanned."""

    __slots__ = ("_keys",)

    def __init__(self, values: Iterable[Uri] = ()) -> None:
        self._keys: set[UriKey] = {uri_key(u) for u in values}

    def add(self, uri: Uri) -> None:
        self._keys.add(uri_key(uri))

    def __contains__(self, uri: object) -> bool:
        return isinstance(uri, Uri) and uri_key(uri) in self._keys

    def __len__(self) -> int:
        return len(self._keys)


def same_uris(a: Sequence[Uri], b: Sequence[Uri]) -> bool:
    return len(a) == len(b) and all(same_uri(x, y) for x, y in zip(a, b, strict=True))


@lru_cache(maxsize=4096)  # values that repeat (a proxy's Record-Route, a UA's Contact)
def _name_addr(value: str) -> NameAddr | None:
    try:
        return parse_name_addr(value)
    except SipError:
        return None


# Bytes that may stand around a header name and be taken away by ``str.strip`` (ASCII
# whitespace, the separators 0x1c-0x1f, any byte of a character outside ASCII): a name with
# one of them next to it is left to the message's own reading.
_BLANKISH = rb"[\t\x0b\x0c\r\x1c-\x20\x80-\xff]*"
# A Contact (or its compact form m), Route, Record-Route or Max-Forwards line, in the
# lower-cased bytes: a line end, the name with what may surround it, the colon. Every line
# of those names matches (none of them holds an "i" or a "k", the letters that characters
# outside ASCII lower-case to); so may a lookalike, which the reader turns away.
_ROUTING_LINE = re.compile(
    rb"\n(" + _BLANKISH + rb")(contact|m|route|record-route|max-forwards)(" + _BLANKISH + rb"):"
)
_ROUTING_NAMES = {
    b"contact": "Contact",
    b"m": "Contact",
    b"route": "Route",
    b"record-route": "Record-Route",
    b"max-forwards": "Max-Forwards",
}
ROUTING_HEADERS = ("Contact", "Route", "Record-Route", "Max-Forwards")


def may_hold_route(lowered: bytes) -> bool:
    """Whether a message whose bytes lower-cased are ``lowered`` may hold a Route or
    Record-Route line: not when "route" is nowhere in them. Exact: neither name has a compact
    form, a header line's name is matched by ``name.strip().lower()``, and the only characters
    outside ASCII whose lower case holds an ASCII letter are U+0130 ("i") and U+212A ("k")
    (tests/sip/test_routing.py checks this), letters neither name has."""
    return b"route" in lowered


def raw_may_hold_route_py(raw: bytes) -> bool:
    """:func:`may_hold_route` of a message's bytes as they are (``raw.lower()`` made here)."""
    return may_hold_route(raw.lower())


def usual_max_forwards_py(raw: bytes) -> int | Literal[False] | None:
    """:func:`message_max_forwards`'s first reading: None without "max-forwards" in the
    bytes lower-cased, the number of the plainly written usual line (a number between
    blanks, not folded), else False (the rest of the reading decides). The C road
    (rtcscope.sip._routescan) reads the bytes without lower-casing them."""
    lowered = raw.lower()
    at = _max_forwards_name(raw, lowered)
    if at is None or at is False:
        return at
    value = _max_forwards_value(raw, at)
    return int(value) if isinstance(value, bytes) else False


def usual_contact_text_py(raw: bytes) -> str | Literal[False] | None:
    """:func:`plain_contact_text` of a message's bytes as they are (``raw.lower()`` made
    here): the specification of the C road's read, which decides the usual Contact line
    (rtcscope.sip._routescan) and leaves any other to this one (False)."""
    return plain_contact_text(raw, raw.lower())


# The C road's reads of a message's bytes as they are (rtcscope.sip._routescan).
_UsualMaxForwards = Callable[[bytes], int | Literal[False] | None]
_UsualContactText = Callable[[bytes], str | Literal[False] | None]


def _route_scan_road() -> tuple[
    Callable[[bytes], bool], _UsualMaxForwards | None, _UsualContactText | None, str
]:
    """:func:`raw_may_hold_route_py`, or the same read in C with the C reads of the usual
    Max-Forwards and Contact lines (rtcscope.sip._routescan, where it was built) unless
    RTCSCOPE_PURE is set; and which road ("c" or "python"). The Python road has no such
    first read: :func:`message_max_forwards` and :func:`message_contact_text` read the
    message at once (:func:`usual_max_forwards_py` and :func:`usual_contact_text_py` are
    the C reads' specification, which tests/sip/test_routescan.py checks them against)."""
    if c_wanted():
        try:
            from rtcscope.sip import _routescan
        except ImportError:  # no compiler or no Python headers where it was installed
            pass
        else:
            return (
                _routescan.may_hold_route,
                _routescan.usual_max_forwards,
                _routescan.usual_contact_text,
                "c",
            )
    return raw_may_hold_route_py, None, None, "python"


# A message's bytes may hold a Route or Record-Route line (may_hold_route without the
# lowered copy); on the C road only, the usual Max-Forwards line's number and the usual
# Contact line's URI text (else None); ROUTE_SCAN_ROAD says which road.
raw_may_hold_route, _c_usual_max_forwards, _c_usual_contact_text, ROUTE_SCAN_ROAD = (
    _route_scan_road()
)


# An empty line ("\n\n" or "\n\r\n"): where the header lines end.
_EMPTY_LINE = re.compile(rb"\n\r?\n")
# After the name: blanks, the colon, blanks, digits, blanks (a CR), then the line's end
# not followed by a folded line, or the end of the bytes.
_USUAL_MAX_FORWARDS = re.compile(rb"[ \t]*:[ \t]*([0-9]+)[ \t\r]*(?:\n(?![ \t])|\Z)")


def _max_forwards_name(raw: bytes, lowered: bytes) -> int | Literal[False] | None:
    """Where the name of the first Max-Forwards line ends, when it stands plainly at a line
    start before any empty line (``lowered``: ``raw.lower()``); None without a line, False
    when not decided. Every Max-Forwards line holds "max-forwards" in the lower-cased bytes
    (the name has no "i" or "k", and no compact form): none there, no line; found first at a
    line start before any empty line, it is the first line (an earlier one would hold an
    earlier "max-forwards")."""
    at = lowered.find(b"max-forwards")
    if at < 0:
        return None
    if (
        raw[at - 1 : at] != b"\n"
        or raw[:1] in (b"\r", b"\n")
        or _EMPTY_LINE.search(lowered, 0, at) is not None
    ):
        return False
    return at + 12


def _max_forwards_value(raw: bytes, at: int) -> bytes | str | Literal[False]:
    """The value of the Max-Forwards line whose name ends at ``at`` (:func:`_max_forwards_name`)
    as ``SipMessage.header("Max-Forwards")`` reads it, where plainly written: the usual
    line, a number between blanks and not folded, as its digits (bytes: what the reading
    below finds, in one match); else the rest of the line stripped (str), or False when not
    decided."""
    usual = _USUAL_MAX_FORWARDS.match(raw, at)
    if usual is not None:
        return usual.group(1)
    colon = at
    while raw[colon : colon + 1] in (b" ", b"\t"):
        colon += 1
    if raw[colon : colon + 1] != b":":
        return False
    value = _unfolded_value(raw, colon + 1)
    return False if value is None else value


def _unfolded_value(raw: bytes, start: int) -> str | None:
    """A header line's value from ``start`` (after its colon) to the line end, stripped, as
    the message reads it; None when the next line is folded onto it (RFC 3261 7.3.1: it
    starts with a space or tab), which only the message's own reading joins."""
    stop = raw.find(b"\n", start)
    if stop < 0:
        stop = len(raw)
    elif raw[stop + 1 : stop + 2] in (b" ", b"\t"):
        return None
    return raw[start:stop].decode("utf-8", "surrogateescape").strip()


def routing_header_values(
    message: SipMessage, lowered: bytes | None = None
) -> dict[str, list[str]]:
    """``message.header_values(name)`` of Contact, Route and Record-Route, and the
    Max-Forwards lines' values (``header`` is the first), in one search of the bytes: a name
    with no value is absent (Max-Forwards: with no line). The diagnosis asks these four of
    the messages of every call, and the message reads each with a search of its own.
    ``lowered``: ``message.raw.lower()``, when the caller has it.

    As the message reads them: the header lines end at the first empty line; a line's name
    is what comes before its first colon, stripped, any case, compact form expanded; its
    value is the rest, stripped. A line whose name has anything but spaces or tabs around it
    (no line start, a line end, a separator, a character outside ASCII), a line folded onto
    the next one, or line ends before the start line are left to ``header_values``
    (tests/sip/test_routing.py checks both agree with the message on any bytes)."""
    raw = message.raw
    if raw[:1] in (b"\r", b"\n"):
        return _routing_header_values_read(message)
    if lowered is None:
        lowered = raw.lower()
    found: dict[str, list[str]] = {}
    for line in _ROUTING_LINE.finditer(lowered, 0, _header_end(lowered) + 1):
        if line.group(1) or line.group(3).strip(b" \t"):
            return _routing_header_values_read(message)
        value = _unfolded_value(raw, line.end())
        if value is None:
            return _routing_header_values_read(message)
        name = _ROUTING_NAMES[line.group(2)]
        # The list headers' values split at commas (RFC 3261 7.3.1), as header_values does;
        # Max-Forwards's line values as they are (``header`` is the first, even empty).
        values = [value] if name == "Max-Forwards" else split_comma_list(value)
        if values:
            have = found.get(name)
            if have is None:
                found[name] = values
            else:
                have += values
    return found


# A Contact line (or its compact form m) in the lower-cased bytes, as _ROUTING_LINE finds it.
_CONTACT_LINE = re.compile(rb"\n(" + _BLANKISH + rb")(contact|m)(" + _BLANKISH + rb"):")


def _header_end(lowered: bytes) -> int:
    """Where the header lines end: the first empty line (LF or CRLF after a line end)."""
    end = lowered.find(b"\n\r\n")
    bare = lowered.find(b"\n\n", 0, end if end >= 0 else len(lowered))
    if bare >= 0:
        return bare
    return len(lowered) if end < 0 else end


def plain_contact_text(raw: bytes, lowered: bytes) -> str | Literal[False] | None:
    """``str(contacts[0].uri)`` of the message (``addresses_of(header_values("Contact"))``),
    or None without a Contact value, where the bytes show it plainly (``lowered``:
    ``raw.lower()``); False when not decided (read the values and parse them).

    The first Contact line with a value, read as :func:`routing_header_values` reads it (a
    line it would turn away: False); its first value of a usual shape
    (:func:`~rtcscope.sip.headers.usual_address_uri`: the shape that always parses) holds
    the URI's text, cut without building the address. The diagnosis's direct roads ask this
    of the 2xx and the INVITE of every call (tests/sip/test_routing.py checks it against the
    message's own contacts)."""
    if raw[:1] in (b"\r", b"\n"):
        return False
    checked = 0  # no empty line ends before this (searched up to it, for the line before)
    for line in _CONTACT_LINE.finditer(lowered):
        # Before the header lines' end (_header_end): no empty line up to the line's start.
        # (A Contact line cannot start at an empty line's first line end: the search up to
        # the header end that routing_header_values makes finds the same lines.) The search
        # goes on from the last one's end, less two bytes: an empty line (two or three bytes)
        # that ran past it starts there.
        stop = line.start() + 1
        if _EMPTY_LINE.search(lowered, max(checked - 2, 0), stop) is not None:
            return None
        checked = stop
        before, _, after = line.groups()
        if before or after.strip(b" \t"):
            return False
        value = _unfolded_value(raw, line.end())
        if value is None:
            return False
        values = split_comma_list(value)  # (one value at once when there is no comma)
        if values:
            text = usual_address_uri(values[0])
            return False if text is None else text
    return None


def message_contact_text(raw: bytes, lowered: bytes | None = None) -> str | Literal[False] | None:
    """:func:`plain_contact_text` of a message's bytes (``lowered``: ``raw.lower()``, when the
    caller has it): on the C road the usual Contact line is read without lower-casing the
    bytes (rtcscope.sip._routescan.usual_contact_text), any other by
    :func:`plain_contact_text`."""
    if _c_usual_contact_text is not None:
        found = _c_usual_contact_text(raw)
        if found is not False:
            return found
    return plain_contact_text(raw, raw.lower() if lowered is None else lowered)


# A SIP or SIPS URI of the plainest shape: a user part (no password, '@', ';', '?', blank,
# '<', '>' or '"' in it) or none, a host name or IPv4 address, a port or none; no parameters
# and no headers. parse_uri reads it without fault (when the port is below 65536) into these
# parts and nothing else.
_PLAIN_SIP_URI = re.compile(r"(sips?):(?:[^@:;?\s<>\"]+@)?([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?")


@lru_cache(maxsize=4096)  # the 2xx's Contact, its ACK's and its BYE's Request-URI
def plain_sip_target_py(text: str) -> tuple[str, int] | None:
    """``(uri_host(uri), uri_port(uri))`` of ``parse_uri(text)`` where the text is of the
    plainest shape (_PLAIN_SIP_URI, which parses); None for any other text (parse it). What
    the direct roads compare a request's destination with when its Request-URI is the
    Contact's text, without building the URI (tests/sip/test_routing.py checks both agree)."""
    match = _PLAIN_SIP_URI.fullmatch(text)
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is None:
        return normal_host(host), 5061 if scheme == "sips" else 5060
    number = int(port)
    return None if number > 65535 else (normal_host(host), number)


def _plain_sip_target_road() -> Callable[[str], tuple[str, int] | None]:
    """:func:`plain_sip_target_py`, or the same read in C on the C road (ROUTE_SCAN_ROAD)."""
    if ROUTE_SCAN_ROAD == "c":
        from rtcscope.sip import _routescan

        return _routescan.plain_sip_target
    return plain_sip_target_py


# (host, port) of the plainest SIP URI's text, else None (plain_sip_target_py)
plain_sip_target = _plain_sip_target_road()


def _routing_header_values_read(message: SipMessage) -> dict[str, list[str]]:
    found = {name: message.header_values(name) for name in ROUTING_HEADERS}
    return {name: values for name, values in found.items() if values}


def addresses_of(values: Iterable[str]) -> list[NameAddr]:
    """Header values as ``SipMessage.contacts``, ``routes`` and ``record_routes`` hold them: a
    value that does not parse left out (each distinct value parsed once)."""
    return [found for value in values if (found := _name_addr(value)) is not None]


def max_forwards_of(value: str | None) -> int | None:
    """A Max-Forwards value as ``SipMessage.max_forwards`` reads it (None: not a number)."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if is_digits(value) else None


def message_max_forwards(message: SipMessage, lowered: bytes | None = None) -> int | None:
    """``message.max_forwards`` read as the diagnosis reads it: where plainly written
    (:func:`_max_forwards_name`, :func:`_max_forwards_value`; the usual line's digits
    straight to a number), else from the
    one search for the routing headers (``lowered``: ``message.raw.lower()``, when the caller
    has it)."""
    raw = message.raw
    if lowered is None:
        # The C road reads the usual line without lower-casing the bytes (the Python road
        # would lower them, and lower them again below when it does not decide).
        if _c_usual_max_forwards is not None:
            found = _c_usual_max_forwards(raw)
            if found is not False:
                return found
        lowered = raw.lower()
    at = _max_forwards_name(raw, lowered)
    if at is None:
        return None
    value = False if at is False else _max_forwards_value(raw, at)
    if isinstance(value, bytes):
        return int(value)
    if value is False:  # not plainly written: the one search decides
        values = routing_header_values(message, lowered).get("Max-Forwards")
        return max_forwards_of(values[0] if values else None)
    return max_forwards_of(value)


def header_via_branches(message: SipMessage) -> tuple[str, ...]:
    """:func:`rtcscope.sip.transactions.via_branches` (the branch of every readable Via, top
    first) without parsing a lone Via value: the parse step has read the top one already
    (``SipMessage.sent_by`` and ``branch`` are ``top_via``'s, ``sent_by`` None without a
    readable Via), so a message with one Via value has one branch, or none. The values are
    counted from the Via lines the parse step kept (``SipMessage.via_value_count``: no
    header read); a stack of several is parsed as ``vias`` does."""
    if message.via_value_count() == 1:
        return (message.branch or "",) if message.sent_by is not None else ()
    return via_branches(message)


def uris(values: Sequence[NameAddr]) -> list[Uri]:
    return [v.uri for v in values if v.uri is not None]


def format_uris(values: Sequence[Uri]) -> str:
    return ", ".join(f"<{u}>" for u in values) if values else "(none)"


def route_set_from_record_route(record_routes: Sequence[NameAddr], *, uac: bool) -> list[Uri]:
    """The dialog's route set: Record-Route reversed at the UAC (12.1.2), as is at the UAS."""
    route = uris(record_routes)
    return list(reversed(route)) if uac else route


@dataclass(frozen=True, slots=True)
class InDialogRequest:
    """Request-URI and Route of an in-dialog request as the UA must build it (12.2.1.1)."""

    request_uri: Uri
    routes: tuple[Uri, ...]
    next_hop: Uri
    strict_first_hop: bool


def in_dialog_request(route_set: Sequence[Uri], remote_target: Uri) -> InDialogRequest:
    """12.2.1.1: loose first route -> R-URI = remote target; strict -> R-URI = first route."""
    if not route_set:
        return InDialogRequest(remote_target, (), remote_target, False)
    first = route_set[0]
    if first.lr:
        return InDialogRequest(remote_target, tuple(route_set), first, False)
    return InDialogRequest(first, (*route_set[1:], remote_target), first, True)


class RouteList(Sequence[Uri]):
    """Route values as a view: dropping values from the front or the back and appending one
    (16.4, 16.6 step 6) cost nothing, so a path of n hops over n Route values stays linear
    instead of copying the list at every hop."""

    __slots__ = ("_base", "_start", "_stop", "_tail")

    def __init__(
        self,
        values: Sequence[Uri] = (),
        start: int = 0,
        stop: int | None = None,
        tail: tuple[Uri, ...] = (),
    ) -> None:
        base = values._materialize() if isinstance(values, RouteList) else tuple(values)
        self._base: tuple[Uri, ...] = base
        self._start = start
        self._stop = len(base) if stop is None else stop
        self._tail = tail

    def _materialize(self) -> tuple[Uri, ...]:
        if self._start == 0 and self._stop == len(self._base) and not self._tail:
            return self._base
        return (*self._base[self._start : self._stop], *self._tail)

    def __len__(self) -> int:
        return self._stop - self._start + len(self._tail)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._materialize()[index]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        middle = self._stop - self._start
        if index < middle:
            return self._base[self._start + index]
        return self._tail[index - middle]

    def __iter__(self) -> Iterator[Uri]:
        for i in range(self._start, self._stop):
            yield self._base[i]
        yield from self._tail

    def drop_first(self, count: int = 1) -> RouteList:
        middle = self._stop - self._start
        if count <= middle:
            return RouteList._view(self._base, self._start + count, self._stop, self._tail)
        return RouteList._view(self._base, self._stop, self._stop, self._tail[count - middle :])

    def drop_last(self) -> RouteList:
        if self._tail:
            return RouteList._view(self._base, self._start, self._stop, self._tail[:-1])
        return RouteList._view(self._base, self._start, self._stop - 1, ())

    def append(self, uri: Uri) -> RouteList:
        return RouteList._view(self._base, self._start, self._stop, (*self._tail, uri))

    @staticmethod
    def _view(base: tuple[Uri, ...], start: int, stop: int, tail: tuple[Uri, ...]) -> RouteList:
        view = RouteList.__new__(RouteList)
        view._base, view._start, view._stop, view._tail = base, start, stop, tail
        return view

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RouteList | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RouteList({list(self)!r})"


@dataclass(frozen=True, slots=True)
class ProxyStep:
    """What a proxy must send, given what it received (16.4, 16.5, 16.6)."""

    request_uri: Uri
    routes: Sequence[Uri]
    max_forwards: int | None
    next_hop: Uri
    removed: tuple[Uri, ...]
    strict_previous_hop: bool  # 16.4: the Request-URI was this proxy's Record-Route value
    acts_as_strict_router: bool  # this proxy recorded a route without lr (RFC 2543)
    strict_next_hop: bool  # 16.6 step 6
    actions: tuple[str, ...]
    retargets: bool = False  # the Request-URI names this proxy (not a Record-Route value)

    @property
    def leaves_from(self) -> Uri | None:
        """After a double Record-Route, the proxy's other interface: the last value removed."""
        return self.removed[-1] if len(self.removed) >= 2 else None


def forward_as_proxy(
    request_uri: Uri,
    routes: Sequence[Uri],
    max_forwards: int | None,
    owns: Callable[[Uri], bool],
    recorded: Sequence[Uri] | UriSet | None = None,
    *,
    strict_as_rfc2543: bool = True,
) -> ProxyStep:
    """One proxy's routing of a request that carries Route values (16.4, 16.6, 16.12).

    ``recorded`` are the Record-Route values of the dialog, when known: a Request-URI that
    names this proxy but is none of them is a URI the proxy is responsible for (it put itself
    in a Contact, or owns the domain), which it may retarget (16.5).

    A Request-URI that is this proxy's own Record-Route value *without* ``;lr`` means the
    previous hop treated it as a strict router (16.6 step 6). A true RFC 2543 strict router
    (``strict_as_rfc2543``, the default) takes the first Route value as the next Request-URI;
    an RFC 3261 proxy that merely wrote its Record-Route without ``;lr`` applies 16.4 instead:
    the last Route value (the remote target) becomes the Request-URI and it routes loosely.
    Both are correct for their element; the diagnosis accepts either.
    """
    actions: list[str] = []
    ruri = request_uri
    remaining = routes if isinstance(routes, RouteList) else RouteList(routes)
    strict_previous = False
    recorded_set = recorded if isinstance(recorded, UriSet) or recorded is None else None
    if recorded_set is None and recorded is not None:
        recorded_set = UriSet(recorded)  # type: ignore[arg-type]
    is_recorded = recorded_set is None or ruri in recorded_set
    retargets = owns(ruri) and not is_recorded
    if retargets:
        actions.append(
            f"the Request-URI <{ruri}> names this proxy but is not one of its Record-Route "
            "values: it is responsible for it and may retarget it (RFC 3261 16.5)"
        )
    elif owns(ruri) and remaining:
        if ruri.lr or not strict_as_rfc2543:
            # 16.4: we put this URI in Record-Route; the previous hop was a strict router
            # (or treated us as one, when our Record-Route lacked ;lr).
            strict_previous = True
            ruri = remaining[len(remaining) - 1]
            remaining = remaining.drop_last()
            actions.append(
                "the Request-URI is its own Record-Route value (the previous hop was a strict "
                f"router): take the last Route value <{ruri}> as Request-URI and remove it "
                "(RFC 3261 16.4)"
            )
        else:
            # A strict router (RFC 2543) addressed by the Request-URI routes on the first Route.
            ruri = remaining[0]
            remaining = remaining.drop_first()
            actions.append(
                "strict router (its Record-Route had no ;lr): the first Route value "
                f"<{ruri}> becomes the Request-URI and is removed (RFC 2543, RFC 3261 16.4)"
            )
            mf = None if max_forwards is None else max_forwards - 1
            if mf is not None:
                actions.append(f"Max-Forwards {max_forwards} -> {mf} (16.6 step 3)")
            return ProxyStep(
                request_uri=ruri,
                routes=remaining,
                max_forwards=mf,
                next_hop=ruri,
                removed=(),
                strict_previous_hop=False,
                acts_as_strict_router=True,
                strict_next_hop=False,
                actions=tuple(actions),
                retargets=False,
            )
    removed: list[Uri] = []
    while len(removed) < len(remaining) and owns(remaining[len(removed)]):
        removed.append(remaining[len(removed)])
    remaining = remaining.drop_first(len(removed))
    if removed:
        actions.append(
            f"remove its own Route value{'s' if len(removed) > 1 else ''} "
            f"{format_uris(removed)} (RFC 3261 16.4)"
        )
        if len(removed) > 1:
            actions.append(
                f"send from the interface of <{removed[-1]}> (double Record-Route, one value "
                "per interface)"
            )
    else:
        actions.append("no Route value of its own on top: remove nothing (RFC 3261 16.4)")
    strict_next = False
    if remaining:
        nxt = remaining[0]
        if nxt.lr:
            next_hop = nxt
            actions.append(
                f"leave the Request-URI alone (16.5) and send to the first Route value <{nxt}> "
                "(16.12)"
            )
        else:
            strict_next = True
            remaining = remaining.drop_first().append(ruri)
            ruri = nxt
            next_hop = nxt
            actions.append(
                f"the next hop <{nxt}> has no ;lr (a strict router): make it the Request-URI "
                "and append the old Request-URI as the last Route value (RFC 3261 16.6 step 6)"
            )
    else:
        next_hop = ruri
        actions.append(
            "no Route left: forward on the Request-URI, unchanged (RFC 3261 16.5, 16.12)"
        )
    mf = None if max_forwards is None else max_forwards - 1
    if mf is not None:
        actions.append(f"Max-Forwards {max_forwards} -> {mf} (16.6 step 3)")
    return ProxyStep(
        request_uri=ruri,
        routes=remaining,
        max_forwards=mf,
        next_hop=next_hop,
        removed=tuple(removed),
        strict_previous_hop=strict_previous,
        acts_as_strict_router=False,
        strict_next_hop=strict_next,
        actions=tuple(actions),
        retargets=retargets,
    )


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy by name and the addresses it answers on (``host`` or ``host:port``)."""

    name: str
    addresses: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Proxy:
        """``B=127.0.10.2,127.0.10.12`` (or just ``127.0.10.3``: the name is the address)."""
        name, sep, rest = text.partition("=")
        if not sep:
            rest, name = name, name
        addresses = tuple(a.strip() for a in rest.split(",") if a.strip())
        if not name.strip() or not addresses:
            raise InvalidArgument("proxy", f"{text!r}: expected NAME=ADDR[,ADDR...]")
        return cls(name.strip(), addresses)

    def owns(self, uri: Uri) -> bool:
        host = uri_host(uri)
        port = uri_port(uri)
        for address in self.addresses:
            a_host, a_port = _split_host_port(address)
            if a_host == host and (a_port is None or a_port == port):
                return True
        return False


class _ProxyIndex:
    """Proxies by the addresses they answer on: finding the owner of a URI is one lookup."""

    def __init__(self, proxies: Iterable[Proxy] = ()) -> None:
        self.proxies: list[Proxy] = []
        self._exact: dict[tuple[str, int], Proxy] = {}
        self._any_port: dict[str, Proxy] = {}
        for proxy in proxies:
            self.add(proxy)

    def add(self, proxy: Proxy) -> None:
        self.proxies.append(proxy)
        for address in proxy.addresses:
            host, port = _split_host_port(address)
            if port is None:
                self._any_port.setdefault(host, proxy)
            else:
                self._exact.setdefault((host, port), proxy)

    def replace(self, old: Proxy, new: Proxy) -> None:
        self.proxies[self.proxies.index(old)] = new
        for address in new.addresses:
            host, port = _split_host_port(address)
            if port is None:
                self._any_port[host] = new
            else:
                self._exact[(host, port)] = new

    def owner(self, uri: Uri) -> Proxy | None:
        host = uri_host(uri)
        return self._exact.get((host, uri_port(uri))) or self._any_port.get(host)


def _uris_of(proxy: Proxy) -> list[Uri]:
    out = []
    for address in proxy.addresses:
        host, port = _split_host_port(address)
        out.append(Uri(scheme="sip", host=f"[{host}]" if ":" in host else host, port=port))
    return out


def _split_host_port(text: str) -> tuple[str, int | None]:
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port) if port.isdigit() else None
    return text, None


@dataclass(frozen=True, slots=True)
class RouteHop:
    """One hop of a planned path: who sends, to where, and the request it sends."""

    index: int
    sender: str  # "UAC" or a proxy name
    to: str  # the next hop's host:port
    to_element: str  # proxy name, "UAS (remote target)" or "unknown"
    request_uri: Uri
    routes: Sequence[Uri]  # a view of the route set (RouteList): no copy per hop
    max_forwards: int | None
    sends_from: str | None  # the interface a double-Record-Routing proxy leaves from
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The path an in-dialog request must take from the UAC, hop by hop."""

    route_set: tuple[Uri, ...]
    remote_target: Uri
    hops: tuple[RouteHop, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)


def proxies_from_route_set(route_set: Sequence[Uri]) -> list[Proxy]:
    """Guess the proxies when none are given: one per address, except that consecutive values
    marked ``r2=on`` (a double Record-Route, as kamailio/OpenSIPS write it) are one proxy."""
    index = _ProxyIndex()
    previous_r2 = False
    for uri in route_set:
        address = uri_endpoint(uri)
        is_r2 = uri.param("r2") is not None
        last = index.proxies[-1] if index.proxies else None
        if is_r2 and previous_r2 and last is not None and len(last.addresses) == 1:
            index.replace(last, Proxy(last.name, (*last.addresses, address)))
            previous_r2 = False
            continue
        if index.owner(uri) is None:
            index.add(Proxy(address, (address,)))
        previous_r2 = is_r2
    return index.proxies


def plan_route(
    answer: SipMessage,
    proxies: Sequence[Proxy] = (),
    *,
    method: str = "ACK",
    max_forwards: int = 70,
    uac: bool = True,
) -> RoutePlan:
    """The path of an in-dialog request built from the message that set up the dialog.

    From the caller's side (``uac=True``, the default) ``answer`` is the 2xx: route set = its
    Record-Route reversed, remote target = its Contact (12.1.2). From the callee's side
    (``uac=False``) it is the INVITE as received: route set = its Record-Route as is, remote
    target = its Contact (12.1.1) -- the path of the callee's BYE.
    """
    if not answer.contacts or answer.contacts[0].uri is None:
        raise SipError(
            f"{answer.summary!r} has no Contact: there is no remote target (RFC 3261 12.1)"
        )
    remote_target = answer.contacts[0].uri
    route_set = route_set_from_record_route(answer.record_routes, uac=uac)
    # Proxies not named by the user are guessed from the route set (one per address, r2=on
    # pairs together), so a partial --proxy list still gives the whole path.
    known = _ProxyIndex(proxies)
    for guessed in proxies_from_route_set(route_set):
        if not any(known.owner(u) is not None for u in _uris_of(guessed)):
            known.add(guessed)
    recorded = UriSet(route_set)
    request = in_dialog_request(route_set, remote_target)
    problems: list[str] = []
    hops: list[RouteHop] = []
    ruri = request.request_uri
    routes: Sequence[Uri] = request.routes
    mf: int | None = max_forwards
    first_actions = [
        f"route set = Record-Route reversed: {format_uris(route_set)} (RFC 3261 12.1.2)"
        if uac
        else f"route set = Record-Route as received: {format_uris(route_set)} (RFC 3261 12.1.1)",
        f"remote target = Contact <{remote_target}>",
    ]
    if request.strict_first_hop:
        first_actions.append(
            "the first route has no ;lr (strict router): Request-URI = that route, Route = the "
            "rest + the remote target (12.2.1.1)"
        )
    elif route_set:
        first_actions.append("Request-URI = remote target, Route = route set (12.2.1.1)")
    else:
        first_actions.append("no route set: send straight to the remote target (12.2.1.1)")
    sender = "UAC" if uac else "UAS"
    actions: tuple[str, ...] = tuple(first_actions)
    sends_from: str | None = None
    next_hop = request.next_hop
    for index in range(1, 2 * len(route_set) + 3):
        owner = known.owner(next_hop)
        if owner is None and not routes and same_uri(next_hop, remote_target):
            element = f"{'UAS' if uac else 'UAC'} {method} target"
        elif owner is None:
            element = "unknown"
        else:
            element = owner.name
        hops.append(
            RouteHop(
                index=index,
                sender=sender,
                to=uri_endpoint(next_hop),
                to_element=element,
                request_uri=ruri,
                routes=routes,
                max_forwards=mf,
                sends_from=sends_from,
                actions=actions,
            )
        )
        if owner is None:
            if element == "unknown":
                problems.append(
                    f"hop {index}: {uri_endpoint(next_hop)} is not one of the proxies given and "
                    "not the remote target"
                )
            break
        step = forward_as_proxy(ruri, routes, mf, owner.owns, recorded)
        sender = owner.name
        actions = step.actions
        sends_from = uri_endpoint(step.leaves_from) if step.leaves_from is not None else None
        ruri, routes, mf, next_hop = step.request_uri, step.routes, step.max_forwards, step.next_hop
        if mf == 0 and routes:
            problems.append(
                f"Max-Forwards reaches 0 at hop {index + 1}: {uri_endpoint(next_hop)} answers "
                "483 Too Many Hops instead of forwarding (RFC 3261 16.3 step 3; an ACK is "
                "dropped)"
            )
        if not (
            step.removed or step.strict_previous_hop or step.acts_as_strict_router or step.retargets
        ):
            problems.append(
                f"{owner.name} receives the request but no Route value names it: it has nothing "
                "to remove (is it really on the route set?)"
            )
    else:
        problems.append("the path does not end: a route loop")
    return RoutePlan(
        route_set=tuple(route_set),
        remote_target=remote_target,
        hops=tuple(hops),
        problems=tuple(problems),
    )


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")


@lru_cache(maxsize=65_536)  # a capture asks about its UAs' few addresses again and again
def is_unroutable_address(host: str) -> str | None:
    """Why an address cannot be reached from the public Internet, or None.

    Only the ranges a NAT hides or that never leave a host are named: RFC 1918 and unique
    local (RFC 4193) addresses, carrier-grade NAT (RFC 6598), loopback and link-local.
    """
    bare = host.strip("[]")
    octets = _IPV4.match(bare)
    if octets is not None:
        a, b, c, d = map(int, octets.groups())
        return _unroutable_ipv4(a, b, c, d)
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _CGNAT:
            return "carrier-grade NAT (RFC 6598)"
        if any(ip in net for net in _RFC1918):
            return "private (RFC 1918)"
    elif ip in _ULA:
        return "unique local (RFC 4193)"
    return None


def _unroutable_ipv4(a: int, b: int, c: int, d: int) -> str | None:
    """:func:`is_unroutable_address` for the IPv4 address a.b.c.d, by its octets: the same
    ranges as ipaddress's ``is_loopback``, ``is_link_local``, ``is_unspecified``, RFC 6598
    and RFC 1918."""
    if a == 127:
        return "loopback"
    if a == 169 and b == 254:
        return "link-local"
    if a == b == c == d == 0:
        return "unspecified"
    if a == 100 and 64 <= b <= 127:
        return "carrier-grade NAT (RFC 6598)"
    if a == 10 or (a == 172 and 16 <= b <= 31) or (a == 192 and b == 168):
        return "private (RFC 1918)"
    return None
