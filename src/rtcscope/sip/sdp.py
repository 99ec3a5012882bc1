"""SDP session descriptions (RFC 8866) as offered and answered in SIP (RFC 3264).

Hand-written because the media attributes rtcscope relies on (``a=rtcp`` of RFC 3605,
``a=crypto`` of RFC 4568 with key, salt, lifetime and MKI, ``a=ssrc``, BUNDLE groups)
are not covered together by a maintained Python library, and captures need a parser that
reads what it can and lists what is wrong instead of raising.

Session-level values that media sections inherit (RFC 8866 5.7, 6.7: connection address,
direction, fingerprint, setup) are resolved into each :class:`MediaDescription`, so a
consumer reads ``media.connection`` and ``media.direction`` without looking up.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import field, fields
from typing import Any, TypeVar, cast

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.sip.uri import is_digits

# RFC 3551 table 4 and 5: static payload types (encoding name, clock rate, channels).
# G722's clock is 8000 although it samples at 16 kHz (RFC 3551 4.5.2).


@dataclass(frozen=True, slots=True)
class Codec:
    """What a payload type carries: encoding name as written, clock rate, channels."""

    name: str
    clock_rate: int
    channels: int = 1

    def __str__(self) -> str:
        base = f"{self.name}/{self.clock_rate}"
        return base if self.channels == 1 else f"{base}/{self.channels}"


STATIC_PAYLOAD_TYPES: dict[int, Codec] = {
    0: Codec("PCMU", 8000),
    3: Codec("GSM", 8000),
    4: Codec("G723", 8000),
    5: Codec("DVI4", 8000),
    6: Codec("DVI4", 16000),
    7: Codec("LPC", 8000),
    8: Codec("PCMA", 8000),
    9: Codec("G722", 8000),
    10: Codec("L16", 44100, 2),
    11: Codec("L16", 44100, 1),
    12: Codec("QCELP", 8000),
    13: Codec("CN", 8000),
    14: Codec("MPA", 90000),
    15: Codec("G728", 8000),
    16: Codec("DVI4", 11025),
    17: Codec("DVI4", 22050),
    18: Codec("G729", 8000),
    25: Codec("CelB", 90000),
    26: Codec("JPEG", 90000),
    28: Codec("nv", 90000),
    31: Codec("H261", 90000),
    32: Codec("MPV", 90000),
    33: Codec("MP2T", 90000),
    34: Codec("H263", 90000),
}

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# RFC 3264 8.4: a stream is on hold when its address is 0.0.0.0 (the old way) or its direction
# does not let the peer send.
HOLD_ADDRESSES = ("0.0.0.0", "::")
HOLD_DIRECTIONS = ("sendonly", "inactive")


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: ``a=name:value`` or the flag ``a=name`` (value None)."""

    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=`` (RFC 8866 5.2)."""

    username: str
    session_id: str
    session_version: str
    nettype: str
    addrtype: str
    address: str


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=`` (RFC 8866 5.7); ``ttl``/``count`` from ``addr/ttl/count`` multicast forms."""

    nettype: str
    addrtype: str
    address: str
    ttl: int | None = None
    count: int | None = None

    @property
    def is_hold(self) -> bool:
        """RFC 3264 8.4: the old way to put a stream on hold is the address 0.0.0.0."""
        return self.address in HOLD_ADDRESSES


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`` (RFC 8866 6.6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    @property
    def codec(self) -> Codec:
        key = (self.encoding, self.clock_rate, self.channels)
        found = _CODECS.get(key)
        if found is None:
            if len(_CODECS) >= 4096:
                _CODECS.clear()
            found = _CODECS[key] = Codec(*key)
        return found


# The Codec of each rtpmap (frozen: shared by every announcement that names it).
_CODECS: dict[tuple[str, int, int], Codec] = {}


@dataclass(frozen=True, slots=True)
class KeyParams:
    """One ``inline:`` key of an ``a=crypto`` line (RFC 4568 6.1).

    ``key_salt`` is the base64 text as written; ``key_salt_bytes`` is it decoded (None when
    it is not base64). ``lifetime`` is the number of packets (``2^20`` read as 1048576).
    """

    method: str
    key_salt: str
    key_salt_bytes: bytes | None
    lifetime: int | None = None
    lifetime_text: str | None = None
    mki_value: int | None = None
    mki_length: int | None = None

    def split(self, key_length: int) -> tuple[bytes, bytes] | None:
        """``(master key, master salt)`` for a suite whose key is ``key_length`` bytes."""
        if self.key_salt_bytes is None:
            return None
        return self.key_salt_bytes[:key_length], self.key_salt_bytes[key_length:]


# Master key and salt lengths in bytes of the suites of RFC 4568 6.2, RFC 6188, RFC 7714.
SUITE_KEY_SALT_LENGTHS: dict[str, tuple[int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
    "F8_128_HMAC_SHA1_80": (16, 14),
    "AES_192_CM_HMAC_SHA1_80": (24, 14),
    "AES_192_CM_HMAC_SHA1_32": (24, 14),
    "AES_256_CM_HMAC_SHA1_80": (32, 14),
    "AES_256_CM_HMAC_SHA1_32": (32, 14),
    "AEAD_AES_128_GCM": (16, 12),
    "AEAD_AES_256_GCM": (32, 12),
}


@dataclass(frozen=True, slots=True)
class Crypto:
    """``a=crypto:<tag> <suite> <key-params> [<session-params>]`` (RFC 4568 9.1)."""

    tag: int
    suite: str
    keys: tuple[KeyParams, ...]
    session_params: tuple[str, ...] = ()
    raw: str = ""

    @property
    def key(self) -> KeyParams | None:
        return self.keys[0] if self.keys else None

    def master_key_salt(self) -> tuple[bytes, bytes] | None:
        """Master key and salt of the first key, split by the suite's lengths."""
        lengths = SUITE_KEY_SALT_LENGTHS.get(self.suite.upper())
        first = self.key
        if lengths is None or first is None or first.key_salt_bytes is None:
            return None
        if len(first.key_salt_bytes) != lengths[0] + lengths[1]:
            return None
        return first.split(lengths[0])


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint:<hash> <hex:pairs>`` (RFC 8122 5)."""

    hash_function: str
    value: str


@dataclass(frozen=True, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 2.1)."""

    port: int
    address: str | None = None


@dataclass(frozen=True, slots=True)
class SsrcAttribute:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` (RFC 5576 4.1)."""

    ssrc: int
    attribute: str
    value: str | None


@dataclass(slots=True)
class MediaDescription:
    """One ``m=`` section with its lines, session-level defaults resolved."""

    media: str
    port: int
    port_count: int
    proto: str
    formats: list[str]
    connection: Connection | None = None  # the section's own c=, else the session's
    own_connection: bool = False
    bandwidths: list[tuple[str, int]] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    direction: str = "sendrecv"  # own attribute, else the session's, else sendrecv
    rtpmaps: dict[int, RtpMap] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    crypto: list[Crypto] = field(default_factory=list)
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None
    rtcp: Rtcp | None = None
    rtcp_mux: bool = False
    ssrcs: list[SsrcAttribute] = field(default_factory=list)
    mid: str | None = None
    ptime: float | None = None
    maxptime: float | None = None
    extmaps: dict[int, str] = field(default_factory=dict)  # RFC 8285 id -> extension URI

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name`` of this section ("" for a flag), else None."""
        lname = name.lower()
        for a in self.attributes:
            if a.name.lower() == lname:
                return "" if a.value is None else a.value
        return None

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types (for RTP profiles; non-numbers skipped)."""
        return [int(f) for f in self.formats if is_digits(f) and int(f) < 128]

    @property
    def is_rtp(self) -> bool:
        return "RTP" in self.proto.upper()

    @property
    def is_srtp(self) -> bool:
        """RTP/SAVP(F) or UDP/TLS/RTP/SAVP(F) (RFC 3711, RFC 5764)."""
        return "SAVP" in self.proto.upper()

    @property
    def is_rejected(self) -> bool:
        """RFC 3264 6: port 0 in an answer (or offer) rejects or removes the stream."""
        return self.port == 0

    @property
    def address(self) -> str | None:
        return self.connection.address if self.connection is not None else None

    @property
    def is_hold(self) -> bool:
        """On hold: c=0.0.0.0, or a direction that does not let the peer send (RFC 3264 8.4)."""
        return section_on_hold(self.address, self.direction)

    @property
    def rtcp_port(self) -> int | None:
        """Where RTCP goes: the same port with rtcp-mux (RFC 5761), a=rtcp (RFC 3605), else
        the next higher port (RFC 3550 11). None for a rejected stream."""
        return section_rtcp_port(self.port, self.rtcp_mux, self.rtcp)

    def codec(self, payload_type: int) -> Codec | None:
        """The codec of a payload type: its rtpmap, else the RFC 3551 static table."""
        rtpmap = self.rtpmaps.get(payload_type)
        if rtpmap is not None:
            return rtpmap.codec
        return STATIC_PAYLOAD_TYPES.get(payload_type)

    def codecs(self, payload_types: list[int] | None = None) -> dict[int, Codec]:
        """Every announced payload type that has a known codec, in offer order
        (``payload_types``: this section's, when the caller has them already)."""
        out: dict[int, Codec] = {}
        for pt in self.payload_types if payload_types is None else payload_types:
            codec = self.codec(pt)
            if codec is not None:
                out[pt] = codec
        return out


def section_on_hold(address: str | None, direction: str) -> bool:
    """RFC 3264 8.4: c=0.0.0.0, or a direction that does not let the peer send."""
    return address in HOLD_ADDRESSES or direction in HOLD_DIRECTIONS


def section_rtcp_port(port: int, rtcp_mux: bool, rtcp: Rtcp | None) -> int | None:
    """Where a section's RTCP goes (see :attr:`MediaDescription.rtcp_port`)."""
    if port == 0:
        return None
    if rtcp_mux:
        return port
    if rtcp is not None:
        return rtcp.port
    return port + 1


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if is_digits(text) else None


def _parse_lifetime(text: str) -> int | None:
    text = text.strip()
    if text.startswith("2^"):
        exp = _int(text[2:])
        return 2**exp if exp is not None and exp < 64 else None
    return _int(text)


def _b64(text: str) -> bytes | None:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_crypto(value: str) -> Crypto:
    """Parse the value of an ``a=crypto`` line (raises ValueError)."""
    parts = value.split()
    if len(parts) < 3 or not is_digits(parts[0]):
        raise ValueError(f"a=crypto {value[:80]!r} is not '<tag> <suite> <key-params>'")
    keys: list[KeyParams] = []
    # RFC 4568 9.1: key-params = key-param *(";" key-param)
    for key_param in parts[2].split(";"):
        method, colon, info = key_param.partition(":")
        if not colon:
            raise ValueError(f"a=crypto key-params {key_param[:60]!r} has no method")
        fields = info.split("|")
        key_salt = fields[0]
        lifetime: int | None = None
        lifetime_text: str | None = None
        mki_value: int | None = None
        mki_length: int | None = None
        for extra in fields[1:]:
            if ":" in extra:
                mki, _, length = extra.partition(":")
                mki_value, mki_length = _int(mki), _int(length)
            else:
                lifetime_text = extra
                lifetime = _parse_lifetime(extra)
        keys.append(
            KeyParams(
                method=method,
                key_salt=key_salt,
                key_salt_bytes=_b64(key_salt) if method.lower() == "inline" else None,
                lifetime=lifetime,
                lifetime_text=lifetime_text,
                mki_value=mki_value,
                mki_length=mki_length,
            )
        )
    return Crypto(
        tag=int(parts[0]),
        suite=parts[1],
        keys=tuple(keys),
        session_params=tuple(parts[3:]),
        raw=value,
    )


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise ValueError(f"c={value[:80]!r} is not '<nettype> <addrtype> <address>'")
    address, *extra = parts[2].split("/")
    ttl: int | None = None
    count: int | None = None
    # RFC 8866 5.7: IP4 multicast is addr/ttl[/count]; IP6 multicast is addr[/count].
    if parts[1].upper() == "IP4" and extra:
        ttl = _int(extra[0])
        count = _int(extra[1]) if len(extra) > 1 else None
    elif extra:
        count = _int(extra[0])
    return Connection(parts[0], parts[1], address, ttl, count)


@dataclass(slots=True)
class SessionDescription:
    """A parsed SDP body. Build one with :meth:`parse` (never raises; see ``problems``)."""

    raw: bytes
    version: int | None = None
    origin: Origin | None = None
    session_name: str | None = None
    connection: Connection | None = None
    bandwidths: list[tuple[str, int]] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __bytes__(self) -> bytes:
        return self.raw

    def attribute(self, name: str) -> str | None:
        """Value of the first session-level ``a=name`` ("" for a flag), else None."""
        lname = name.lower()
        for a in self.attributes:
            if a.name.lower() == lname:
                return "" if a.value is None else a.value
        return None

    @property
    def direction(self) -> str:
        for a in self.attributes:
            if a.name.lower() in DIRECTIONS:
                return a.name.lower()
        return "sendrecv"

    @property
    def groups(self) -> list[tuple[str, list[str]]]:
        """``a=group:<semantics> <mid>...`` (RFC 5888), e.g. ``("BUNDLE", ["0", "1"])``."""
        out: list[tuple[str, list[str]]] = []
        for a in self.attributes:
            if a.name.lower() == "group" and a.value:
                semantics, *mids = a.value.split()
                out.append((semantics, mids))
        return out

    @property
    def bundle_mids(self) -> list[str]:
        for semantics, mids in self.groups:
            if semantics.upper() == "BUNDLE":
                return mids
        return []

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview | str) -> SessionDescription:
        """The SDP in ``data``, read on first use of a field: a capture's SIP messages hand
        out their SDP (``SipMessage.sdp``) to readers that often need ``raw`` only (the
        media announcer reads it through :func:`announced_media`'s cache)."""
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
        sdp = cls.__new__(cls)
        sdp.raw = raw  # the other fields stay unset until __getattr__ reads them
        return sdp

    def __getattr__(self, name: str) -> object:
        # Reached only for an unset slot: the fields of a lazily parsed SDP (see parse).
        if name not in _PARSED_FIELDS:
            raise AttributeError(f"'SessionDescription' object has no attribute {name!r}")
        self.version = self.origin = self.session_name = self.connection = None
        self.bandwidths, self.times, self.attributes, self.media = [], [], [], []
        self.problems = []
        try:
            self._parse()
        except Exception as exc:  # a parser bug must not stop a capture being read
            self.problems.append(f"internal SDP parser fault: {type(exc).__name__}: {exc}")
        return object.__getattribute__(self, name)

    def _parse(self) -> None:
        text = self.raw.decode("utf-8", "surrogateescape")
        current: MediaDescription | None = None
        session_fingerprints: list[Fingerprint] = []
        session_setup: str | None = None
        session_extmaps: dict[int, str] = {}
        # Each media section's first own direction attribute (RFC 8866 6.7), in order.
        own_directions: list[str | None] = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            if len(line) < 2 or line[1] != "=":
                # Tolerate "a = x" spacing; anything else is not an SDP line.
                kind, eq, value = line.partition("=")
                if not eq or len(kind.strip()) != 1:
                    self.problems.append(
                        f"SDP line {number} is not '<type>=<value>': {line[:60]!r}"
                    )
                    continue
                kind, value = kind.strip(), value.strip()
            else:
                kind, value = line[0], line[2:]
            try:
                if kind == "a" and current is not None:  # most lines of an SDP
                    attribute, name, meaning = _read_attribute(value)
                    current.attributes.append(attribute)
                    if meaning is not None:
                        _apply_media_attribute(current, name, meaning)
                    elif name in DIRECTIONS and own_directions[-1] is None:
                        own_directions[-1] = name
                elif kind == "m":
                    current = self._parse_media(value)
                    self.media.append(current)
                    own_directions.append(None)
                elif current is None:
                    self._parse_session_line(kind, value)
                else:
                    self._parse_media_line(current, kind, value)
            except ValueError as exc:
                self.problems.append(f"SDP line {number}: {exc}")
        # RFC 8866 5: v=, o=, s= and t= are required.
        if self.version is None:
            self.problems.append("SDP has no v= line")
        if self.origin is None:
            self.problems.append("SDP has no o= line (RFC 8866 5.2)")
        if self.session_name is None:
            self.problems.append("SDP has no s= line (RFC 8866 5.3)")
        if not self.times:
            self.problems.append("SDP has no t= line (RFC 8866 5.9)")
        for a in self.attributes:
            lname = a.name.lower()
            if lname == "fingerprint" and a.value:
                hash_function, _, fp = a.value.partition(" ")
                session_fingerprints.append(Fingerprint(hash_function, fp.strip()))
            elif lname == "setup" and a.value:
                session_setup = a.value.strip()
            elif lname == "extmap" and a.value:
                extmap = _parse_extmap(a.value)
                if extmap is not None:
                    session_extmaps[extmap[0]] = extmap[1]
        session_direction = self.direction
        for m, own in zip(self.media, own_directions, strict=True):
            if m.connection is None:
                m.connection = self.connection
            m.direction = own or session_direction
            if not m.fingerprints:
                m.fingerprints = list(session_fingerprints)
            if m.setup is None:
                m.setup = session_setup
            for ident, uri in session_extmaps.items():
                m.extmaps.setdefault(ident, uri)
            if m.connection is None and m.port != 0:
                self.problems.append(f"m={m.media} {m.port} has no c= line (RFC 8866 5.7)")

    def _parse_session_line(self, kind: str, value: str) -> None:
        if kind == "v":
            version = _int(value)
            if version is None:
                raise ValueError(f"v={value[:20]!r} is not a number")
            self.version = version
        elif kind == "o":
            parts = value.split()
            if len(parts) != 6:
                raise ValueError(f"o={value[:80]!r} does not have 6 fields")
            self.origin = Origin(*parts)
        elif kind == "s":
            self.session_name = value
        elif kind == "c":
            self.connection = _parse_connection(value)
        elif kind == "b":
            self.bandwidths.append(_parse_bandwidth(value))
        elif kind == "t":
            parts = value.split()
            if len(parts) != 2 or not all(is_digits(p) for p in parts):
                raise ValueError(f"t={value[:40]!r} is not '<start> <stop>'")
            self.times.append((int(parts[0]), int(parts[1])))
        elif kind == "a":
            self.attributes.append(_read_attribute(value)[0])

    def _parse_media(self, value: str) -> MediaDescription:
        parts = value.split()
        if len(parts) < 3:
            raise ValueError(f"m={value[:80]!r} is not '<media> <port> <proto> <fmt>...'")
        port_text, _, count_text = parts[1].partition("/")
        port = _int(port_text)
        if port is None or port > 65535:
            raise ValueError(f"m= port {parts[1]!r} is not a port")
        count = _int(count_text) if count_text else 1
        return MediaDescription(
            media=parts[0],
            port=port,
            port_count=count or 1,
            proto=parts[2],
            formats=parts[3:],
        )

    def _parse_media_line(self, m: MediaDescription, kind: str, value: str) -> None:
        if kind == "c":
            m.connection = _parse_connection(value)
            m.own_connection = True
        elif kind == "b":
            m.bandwidths.append(_parse_bandwidth(value))


# The fields a lazily parsed SessionDescription fills on first use (all but ``raw``).
_PARSED_FIELDS = frozenset(f.name for f in fields(SessionDescription)) - {"raw"}


def _parse_bandwidth(value: str) -> tuple[str, int]:
    bwtype, _, amount = value.partition(":")
    number = _int(amount)
    if number is None:
        raise ValueError(f"b={value[:40]!r} is not '<type>:<kbps>'")
    return bwtype.strip(), number


def _parse_attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    return Attribute(name.strip(), rest.strip() if colon else None)


def _parse_extmap(value: str) -> tuple[int, str] | None:
    """``a=extmap:<id>[/<direction>] <URI> [<attributes>]`` (RFC 8285 5)."""
    parts = value.split()
    if len(parts) < 2:
        return None
    ident = _int(parts[0].split("/", 1)[0])
    return (ident, parts[1]) if ident is not None else None


_AttributeMeaning = (
    RtpMap
    | tuple[int, str]
    | Crypto
    | Fingerprint
    | Rtcp
    | SsrcAttribute
    | float
    | bool
    | str
    | ValueError
    | None
)

# Attribute lines repeat call after call (a=rtpmap:8 PCMA/8000, a=ptime:20,
# a=sendrecv): each distinct line is read once, its frozen values shared. Bounded: cleared
# when full.
_ATTRIBUTES: dict[str, tuple[Attribute, str, _AttributeMeaning]] = {}
_CACHE_LIMIT = 1 << 14


def _read_attribute(value: str) -> tuple[Attribute, str, _AttributeMeaning]:
    """The ``a=`` line's attribute, its name in lower case and what it means in a media
    section (a ValueError for a value that does not follow its grammar, None for nothing),
    once per distinct text."""
    found = _ATTRIBUTES.get(value)
    if found is None:
        attribute = _parse_attribute(value)
        name = attribute.name.lower()
        try:
            meaning = _media_attribute_meaning(name, attribute.value or "")
        except ValueError as exc:
            meaning = exc
        if len(_ATTRIBUTES) >= _CACHE_LIMIT:
            _ATTRIBUTES.clear()
        found = _ATTRIBUTES[value] = (attribute, name, meaning)
    return found


def _media_attribute_meaning(name: str, value: str) -> _AttributeMeaning:
    """The parsed value of the media attributes :class:`MediaDescription` resolves (raises
    ValueError); None for the others."""
    if name == "rtpmap":
        pt_text, _, encoding = value.partition(" ")
        pt = _int(pt_text)
        enc_parts = encoding.strip().split("/")
        rate = _int(enc_parts[1]) if len(enc_parts) > 1 else None
        if pt is None or rate is None or not enc_parts[0]:
            raise ValueError(f"a=rtpmap:{value[:60]!r} is not '<pt> <name>/<clock>[/<ch>]'")
        channels = _int(enc_parts[2]) if len(enc_parts) > 2 else None
        return RtpMap(pt, enc_parts[0], rate, channels or 1)
    if name == "fmtp":
        pt_text, _, params = value.partition(" ")
        pt = _int(pt_text)
        return (pt, params.strip()) if pt is not None else None
    if name == "crypto":
        return parse_crypto(value)
    if name == "fingerprint":
        hash_function, _, fp = value.partition(" ")
        return Fingerprint(hash_function, fp.strip())
    if name in ("setup", "mid"):
        return value.strip()
    if name == "rtcp-mux":
        return True
    if name == "rtcp":
        # RFC 3605 2.1: a=rtcp:<port> [<nettype> <addrtype> <connection-address>]
        parts = value.split()
        port = _int(parts[0]) if parts else None
        if port is None:
            raise ValueError(f"a=rtcp:{value[:40]!r} has no port")
        return Rtcp(port, parts[3] if len(parts) >= 4 else None)
    if name == "ssrc":
        ssrc_text, _, attr = value.partition(" ")
        ssrc = _int(ssrc_text)
        if ssrc is None:
            raise ValueError(f"a=ssrc:{value[:40]!r} has no SSRC")
        attr_name, colon, attr_value = attr.partition(":")
        return SsrcAttribute(ssrc, attr_name.strip(), attr_value if colon else None)
    if name == "extmap":
        return _parse_extmap(value)
    if name in ("ptime", "maxptime"):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"a={name}:{value[:20]!r} is not a number") from None
    return None


def _apply_media_attribute(m: MediaDescription, name: str, meaning: _AttributeMeaning) -> None:
    """Put what the attribute ``name`` means into its media section (raises its ValueError)."""
    if isinstance(meaning, ValueError):
        raise ValueError(str(meaning))
    if isinstance(meaning, RtpMap):
        m.rtpmaps[meaning.payload_type] = meaning
    elif isinstance(meaning, Crypto):
        m.crypto.append(meaning)
    elif isinstance(meaning, Fingerprint):
        m.fingerprints.append(meaning)
    elif isinstance(meaning, Rtcp):
        m.rtcp = meaning
    elif isinstance(meaning, SsrcAttribute):
        m.ssrcs.append(meaning)
    elif isinstance(meaning, tuple):  # fmtp or extmap: payload type or id -> text
        (m.fmtp if name == "fmtp" else m.extmaps)[meaning[0]] = meaning[1]
    elif meaning is not None:  # rtcp-mux (flag), setup, mid (text), ptime, maxptime
        setattr(m, name.replace("-", "_"), meaning)


# -- what each media section announces, cached by the SDP's unchanging text -----------------


# What one media section announces (RFC 3264 5/6), session defaults resolved: where its
# side receives RTP and RTCP, and how. The fields of rtcscope.sip.capture.MediaAnnouncement
# from ``media_index`` on, in its order (named there, once): index, media, proto, address,
# port, rtcp_address, rtcp_port, rtcp_mux, direction, on_hold, codecs .. rtpmaps. A value:
# shared, never changed.
AnnouncedMedia = tuple[
    int, str, str, str | None, int, str | None, int | None, bool, str, bool,
    dict[int, Codec], tuple[int, ...], tuple[Crypto, ...], tuple[Fingerprint, ...],
    str | None, tuple[int, ...], str | None, dict[int, str], float | None, dict[int, str],
    dict[int, tuple[str, int, int]],
]  # fmt: skip


_SectionCodecs = tuple[dict[int, Codec], dict[int, tuple[str, int, int]]]
# The empty fmtp and extmap maps every announcement without them shares (read-only).
NO_FMTP: dict[int, str] = {}
NO_EXTMAPS: dict[int, str] = {}
# The media sections of a capture's calls announce the same codecs call after call (their
# RtpMap values are shared by _read_attribute): one pair of dicts for every section of the
# same formats and rtpmaps. Announcements are values: their dicts are read, not changed.
_SECTION_CODECS: dict[tuple[tuple[int, ...], tuple[RtpMap, ...]], _SectionCodecs] = {}


def _section_codecs(m: MediaDescription, payload_types: tuple[int, ...]) -> _SectionCodecs:
    """``m``'s codecs by payload type and its rtpmaps as tuples, shared (see above)."""
    key = (payload_types, tuple(m.rtpmaps.values()))
    found = _SECTION_CODECS.get(key)
    if found is None:
        rtpmaps = {pt: (r.encoding, r.clock_rate, r.channels) for pt, r in m.rtpmaps.items()}
        if len(_SECTION_CODECS) >= 4096:
            _SECTION_CODECS.clear()
        found = _SECTION_CODECS[key] = (m.codecs(list(payload_types)), rtpmaps)
    return found


class _Section:
    """What a media section announces but its address and port, which :meth:`announce`
    takes: RTCP and hold are derived from them as :class:`MediaDescription` derives them."""

    __slots__ = ("held", "lead", "middle", "rest", "rtcp", "rtcp_address", "rtcp_mux")

    def __init__(self, index: int, m: MediaDescription) -> None:
        payload_types = tuple(m.payload_types)
        codecs, rtpmaps = _section_codecs(m, payload_types)
        self.lead = (index, m.media, m.proto)
        rtcp, direction = m.rtcp, m.direction
        self.rtcp, self.rtcp_mux = rtcp, m.rtcp_mux
        # What announce() derives from the address and port, done once where it can be: the
        # a=rtcp address (else the section's own), a hold by direction (section_on_hold).
        self.rtcp_address = rtcp.address if rtcp is not None and rtcp.address else None
        self.held = section_on_hold(None, direction)
        self.middle = (m.rtcp_mux, direction)
        self.rest = (
            codecs,
            payload_types,
            tuple(m.crypto),
            tuple(m.fingerprints),
            m.setup,
            tuple(dict.fromkeys(s.ssrc for s in m.ssrcs)),
            m.mid,
            m.fmtp or NO_FMTP,
            m.ptime,
            m.extmaps or NO_EXTMAPS,
            rtpmaps,
        )

    def announce(
        self, address: str | None, port: int, head: tuple[object, ...] = ()
    ) -> tuple[object, ...]:
        """``head``'s values, then the section's (:data:`AnnouncedMedia`'s, in its order; see
        :func:`announced_media`)."""
        return (
            *head,
            *self.lead,
            address,
            port,
            self.rtcp_address or address,
            section_rtcp_port(port, self.rtcp_mux, self.rtcp),
            *self.middle,
            self.held or address in HOLD_ADDRESSES,
            *self.rest,
        )

    def entry(self, address_from: int | str | None, port_from: int) -> _Entry:
        """The section as a template holds it (:data:`_Entry`), its address and port taken
        from the SDP's changing values ``address_from`` (or as written) and ``port_from``."""
        rtcp = self.rtcp
        # section_rtcp_port for a port other than 0, as a code: the same port (rtcp-mux),
        # the port after it, else a=rtcp's.
        rtcp_code = _RTCP_SAME if self.rtcp_mux else _RTCP_NEXT if rtcp is None else rtcp.port
        index, media, proto = self.lead
        rtcp_mux, direction = self.middle
        return (
            address_from,
            port_from,
            index,
            media,
            proto,
            self.rtcp_address,
            rtcp_code,
            rtcp_mux,
            direction,
            self.held,
            self.rest,
        )


# A template's media section, as _announce_py and the C road (_sipscan.sdp_announce) read it:
# where its address comes from (the index of a changing value, else the address as written),
# the index of its port's value, its index, media and proto, its a=rtcp address (None: its
# own), its RTCP port's code (_RTCP_SAME, _RTCP_NEXT, else a=rtcp's port), rtcp-mux, direction,
# whether its direction holds it, and the values after on_hold (_Section.rest).
_Entry = tuple[
    int | str | None, int, int, str, str, str | None, int, bool, str, bool, tuple[object, ...]
]
_RTCP_SAME = -2
_RTCP_NEXT = -1


# The lines that change from call to call in SDPs that are otherwise the same text: the o=
# line (session id and version), a c= address and an m= port. Each is matched with the line
# break before it (so the SDP parser sees a line start there too) and only in forms whose
# reading cannot depend on the value: printable ASCII that cannot hold a line break (the
# parser's str.splitlines also breaks at \x0b, \x1c, \x85, ...), a c= address without "/"
# and spaces up to the line end, an m= port followed by an optional /count and a proto.
_CHANGING_VALUE = re.compile(
    rb"\n(o=|c=IN IP[46] |m=[a-z]+ )"
    rb"((?<=o=)[ -~]*(?=\r?\n)"
    rb"|(?<=IP[46] )[!-.0-~]+(?=[ \t]*\r?\n)"
    rb"|(?<=[a-z] )[0-9]{1,5}(?=(?:/[0-9]+)? [!-~]))"
)


def _holes_py(raw: bytes) -> tuple[_TemplateKey, list[bytes]]:
    """``raw`` split by _CHANGING_VALUE: its text without the changing values (the key of its
    template), and the values."""
    parts = _CHANGING_VALUE.split(raw)
    values = parts[2::3]
    del parts[2::3]
    return tuple(parts), values


def _holes_road() -> Callable[[bytes], tuple[_TemplateKey, list[bytes]]]:
    """_holes_py, or in C (rtcscope.sip._sipscan.sdp_holes: the same values, the same parts
    as one bytes key) unless RTCSCOPE_PURE is set or the accelerator is not built (the test
    rtcscope.sip.message makes: sdp may not import message, which imports sdp)."""
    if c_wanted():
        try:
            from rtcscope.sip._sipscan import sdp_holes
        except ImportError:  # a module built from an older _sipscan.c
            pass
        else:
            return sdp_holes
    return _holes_py


# Stand-ins for c= addresses while a template is parsed: a NUL cannot come from a capture's
# address in a template (an SDP with a NUL is not templated), so a stand-in is never taken
# for a written address.
_STAND_IN = "\x00"
# A template: its media sections (None: this SDP text is not templated).
_Template = tuple[_Entry, ...]
# SDP text without its changing values -> its template (None: this text is not templated).
_TemplateKey = tuple[bytes, ...] | bytes
_TEMPLATES: dict[_TemplateKey, _Template | None] = {}
_TEMPLATE_LIMIT = 1024
_UNSEEN = cast(_Template, object())  # a text not in _TEMPLATES yet (compared by identity)
_ADDRESSES: dict[bytes, str] = {}
_holes = _holes_road()

_Made = TypeVar("_Made", bound=tuple[Any, ...])


def announced_media(
    raw: bytes,
    head: tuple[object, ...] = (),
    make: type[_Made] = tuple,  # type: ignore[assignment]
) -> list[_Made]:
    """What each media section of the SDP ``raw`` announces, as :class:`SessionDescription`
    reads it: per section, a ``make`` (a tuple, or a class of tuples such as
    :class:`rtcscope.sip.capture.MediaAnnouncement`) of the values of ``head`` (the
    announcer's SIP fields), then the section's (:data:`AnnouncedMedia`), each announcement
    put together once.

    A capture's SDPs repeat the same text with a new session id, address and port call after
    call: the SDP is parsed once per such text (with stand-ins for its addresses, to learn
    which c= line each section's address comes from) and the values of each later SDP put
    into that template, so a call's SDP costs a split and a look-up, not a parse: in one call
    to :func:`_announce` (in C unless RTCSCOPE_PURE is set); a new text, one not templated
    and a port the parser rejects are read here.
    """
    found = _announce(raw, _TEMPLATES, head, make, _ADDRESSES, _TEMPLATE_LIMIT)
    if found is not None:
        return found
    return _announced_untold(raw, head, make)


def _announced_untold(raw: bytes, head: tuple[object, ...], make: type[_Made]) -> list[_Made]:
    """:func:`announced_media` of an SDP :func:`_announce` could not tell (it gave None): a
    new text gets its template and is read by it, one not templated and a port the parser
    rejects are parsed. (The C announcer calls this after its own _announce step.)"""
    key, values = _holes(raw)
    template = _TEMPLATES.get(key, _UNSEEN)
    if template is _UNSEEN:
        parts = _CHANGING_VALUE.split(raw)  # a new text (C gives its key as one bytes)
        del parts[2::3]
        template = _template(parts, values, raw)
        if len(_TEMPLATES) >= _TEMPLATE_LIMIT:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
        found = _announce(raw, _TEMPLATES, head, make, _ADDRESSES, _TEMPLATE_LIMIT)
        if found is not None:
            return found
    media = SessionDescription.parse(raw).media
    new = tuple.__new__
    return [
        new(make, _Section(index, m).announce(m.address, m.port, head))
        for index, m in enumerate(media)
    ]


def _announce_py(
    raw: bytes,
    templates: dict[_TemplateKey, _Template | None],
    head: tuple[object, ...],
    make: type[_Made],
    addresses: dict[bytes, str],
    limit: int,
) -> list[_Made] | None:
    """The announcements of an SDP whose text has a template in ``templates`` (see
    :func:`announced_media`), each a ``make`` of ``head``'s values then the section's; None
    where the template cannot tell (a text without a template, one not templated, a port
    the parser rejects). ``addresses``: a c= address's text -> its str, shared (cleared when
    ``limit`` long). The specification of the C road, _sipscan.sdp_announce."""
    key, values = _holes(raw)
    template = templates.get(key)
    if template is None:
        return None
    out: list[_Made] = []
    new = tuple.__new__
    for (
        address_from,
        port_from,
        index,
        media,
        proto,
        rtcp_address,
        rtcp_code,
        rtcp_mux,
        direction,
        held,
        rest,
    ) in template:
        port = int(values[port_from])
        if port > 65535:
            return None  # the parser rejects this m= line: read it as it does
        address: str | None
        if isinstance(address_from, int):
            text = values[address_from]
            address = addresses.get(text)
            if address is None:
                if len(addresses) >= limit:
                    addresses.clear()
                address = addresses[text] = text.decode("ascii")
        else:
            address = address_from
        if port == 0:
            rtcp_port: int | None = None
        elif rtcp_code == _RTCP_NEXT:
            rtcp_port = port + 1
        elif rtcp_code == _RTCP_SAME:
            rtcp_port = port
        else:
            rtcp_port = rtcp_code
        out.append(
            new(
                make,
                (
                    *head,
                    index,
                    media,
                    proto,
                    address,
                    port,
                    rtcp_address or address,
                    rtcp_port,
                    rtcp_mux,
                    direction,
                    held or address in HOLD_ADDRESSES,
                    *rest,
                ),
            )
        )
    return out


def _announce_road() -> Callable[..., list[Any] | None]:
    """_announce_py, or in C (rtcscope.sip._sipscan.sdp_announce) on the road of _holes."""
    if _holes is not _holes_py:
        try:
            from rtcscope.sip._sipscan import sdp_announce
        except ImportError:  # a module built from an older _sipscan.c
            pass
        else:
            return cast("Callable[..., list[Any] | None]", sdp_announce)
    return _announce_py


_announce = _announce_road()


def _template(parts: list[bytes], values: list[bytes], raw: bytes) -> _Template | None:
    """The template of an SDP split by _CHANGING_VALUE (see announced_media), or None."""
    if b"\x00" in raw:
        return None
    stand_ins: list[bytes] = []
    ports: list[int] = []
    for number, (prefix, value) in enumerate(zip(parts[1::2], values, strict=True)):
        if prefix.startswith(b"c="):
            stand_ins.append(f"{_STAND_IN}{number}".encode())
        elif prefix.startswith(b"m="):
            # A valid port, so the parser reads every matched m= line as a section (this
            # SDP's own may be above 65535: a section the parser drops).
            stand_ins.append(b"1")
            ports.append(number)
        else:
            stand_ins.append(value)
    pieces = [parts[0]]
    for prefix, value, literal in zip(parts[1::2], stand_ins, parts[2::2], strict=True):
        pieces += (b"\n", prefix, value, literal)
    media = SessionDescription.parse(b"".join(pieces)).media
    # Every matched m= line is a section; the same count means no other line is (one the
    # parser reads as m= after a break the pattern does not match, e.g. a lone CR).
    if len(media) != len(ports):
        return None
    template: list[_Entry] = []
    for index, (m, port_from) in enumerate(zip(media, ports, strict=True)):
        address = m.address
        address_from: int | str | None = address
        if address is not None and address.startswith(_STAND_IN):
            address_from = int(address[1:])
        template.append(_Section(index, m).entry(address_from, port_from))
    return tuple(template)
