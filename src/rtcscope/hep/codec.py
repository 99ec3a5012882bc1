"""HEP (Homer Encapsulation Protocol) v1, v2 and v3: one dataclass, ``decode`` and ``encode``.

Written by hand because HEP is a small binary format and no maintained Python library
implements all of it (chunks 18-41, vendor chunks, compressed payloads, v1/v2).

Use::

    from rtcscope.hep.codec import HepPacket, ProtocolType, decode, encode

    packet = HepPacket(
        ip_family=2, ip_proto=17, src="10.0.0.1", dst="10.0.0.2", sport=5060, dport=5060,
        ts_sec=1313440459, ts_usec=120000, proto_type=ProtocolType.SIP, capture_id=2001,
        payload=b"INVITE sip:bob@example.com SIP/2.0\\r\\n...",
    )
    wire = encode(packet)          # bytes of one HEP3 packet (also ``bytes(packet)``)
    again = decode(wire)           # HepPacket; raises HepError (a ParseError) on bad bytes

Every chunk field is optional: ``None`` means the chunk is absent, and ``encode`` writes only
the chunks that are set, so ``encode(decode(b)) == b`` for a packet whose chunks come in the
canonical order (generic chunks by ascending type, then vendor/unknown chunks as received,
then the payload last): the specification's example and what Kamailio, sngrep and heplify send.

HEPv3 (HEP3 Network Protocol Specification rev 37): ``HEP3`` (or ``EEP3``) + u16 total
length, then chunks: u16 vendor id, u16 chunk type, u16 chunk length (including these 6
bytes), value; network byte order throughout. Vendor chunks (vendor id != 0) and generic chunk
types the specification does not define are kept opaque in ``extra_chunks``.

HEPv1/v2 (the older fixed header, SIP only): u8 version, u8 header length (8 + both
addresses; written so, not checked on input: sngrep 1.6 leaves it unset), u8 family, u8
protocol, u16 source and destination ports (network order), the two addresses; v2 then adds
u32 seconds, u32 microseconds and a u16 capture id written in *host* order by Kamailio and
sngrep (little-endian on the x86 machines everybody runs), padded to 12 bytes as the C struct
is (the two pad bytes are whatever was in memory: ignored). The payload follows.

Validation is strict: the total length must equal the datagram, chunk lengths must fit, the
fixed-size chunks must have their size, a generic chunk may appear once, the IP family is 2 or
10. Every fault raises :class:`HepError` with the byte offset.
"""

from __future__ import annotations

import gzip
import ipaddress
import struct
import zlib
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from rtcscope.errors import HepError

HEP3_MAGIC = b"HEP3"
EEP3_MAGIC = b"EEP3"
AF_INET = 2  # the family numbers HEP uses are Linux's AF_INET / AF_INET6
AF_INET6 = 10

# A compressed payload may expand; a HEP packet is at most 65,535 bytes, and no real payload
# (a SIP message, a JSON report) comes near this bound. ``decode`` allows this much; the
# collector passes its own, smaller limit (64 KiB by default) so that a compression bomb
# costs it at most that per packet.
MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024


class ChunkType(IntEnum):
    """Generic chunk types (vendor id 0) of the HEP3 specification."""

    IP_FAMILY = 0x01
    IP_PROTO = 0x02
    IPV4_SRC = 0x03
    IPV4_DST = 0x04
    IPV6_SRC = 0x05
    IPV6_DST = 0x06
    SRC_PORT = 0x07
    DST_PORT = 0x08
    TIMESTAMP_SEC = 0x09
    TIMESTAMP_USEC = 0x0A
    PROTOCOL_TYPE = 0x0B
    CAPTURE_ID = 0x0C
    KEEP_ALIVE = 0x0D
    AUTH_KEY = 0x0E
    PAYLOAD = 0x0F
    COMPRESSED_PAYLOAD = 0x10
    CORRELATION_ID = 0x11
    VLAN_ID = 0x12
    NODE_NAME = 0x13
    SRC_MAC = 0x14
    DST_MAC = 0x15
    ETHERNET_TYPE = 0x16
    TCP_FLAGS = 0x17
    IP_TOS = 0x18
    MOS = 0x20
    R_FACTOR = 0x21
    GEO_LOCATION = 0x22
    JITTER = 0x23
    TRANSACTION_TYPE = 0x24
    PAYLOAD_JSON_KEYS = 0x25
    TAGS = 0x26
    TAG_TYPE = 0x27
    EVENT_TYPE = 0x28
    GROUP_ID = 0x29


class ProtocolType(IntEnum):
    """What the payload is (chunk 11). 100 (LOG) is a Homer convention, not in the spec."""

    RESERVED = 0x00
    SIP = 0x01
    XMPP = 0x02
    SDP = 0x03
    RTP = 0x04
    RTCP_JSON = 0x05
    MGCP = 0x06
    MEGACO = 0x07
    M2UA = 0x08
    M3UA = 0x09
    IAX = 0x0A
    H3222 = 0x0B
    H321 = 0x0C
    M2PA = 0x0D
    MOS_FULL_REPORT_JSON = 0x22
    MOS_SHORT_REPORT = 0x23
    SIP_JSON = 0x32
    DNS_JSON = 0x35
    M3UA_ISUP_JSON = 0x36
    RTSP = 0x37
    DIAMETER = 0x38
    GSM_MAP = 0x39
    LOG = 0x64


def protocol_name(proto_type: int | None) -> str:
    """``"SIP"``, ``"RTCP_JSON"``, ... or the number for a type this codec does not name."""
    if proto_type is None:
        return ""
    try:
        return ProtocolType(proto_type).name
    except ValueError:
        return str(proto_type)


@dataclass(frozen=True, slots=True)
class RawChunk:
    """A chunk kept opaque: a vendor chunk, or a generic type the spec does not define."""

    vendor_id: int
    chunk_type: int
    value: bytes


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One HEP packet. ``None`` = chunk absent (v3) or field not carried (v1/v2).

    Text chunks (auth key, correlation id, node name, ...) are ``str`` decoded as UTF-8 with
    ``surrogateescape``, so any bytes survive a round trip. ``payload`` is always the
    uncompressed payload; ``compressed_payload`` holds chunk 16 as received (or as made by
    :func:`compress`) and, when set, is what ``encode`` writes instead of chunk 15.
    """

    version: int = 3
    magic: bytes = HEP3_MAGIC
    ip_family: int | None = None
    ip_proto: int | None = None
    src: str | None = None
    dst: str | None = None
    sport: int | None = None
    dport: int | None = None
    ts_sec: int | None = None
    ts_usec: int | None = None
    proto_type: int | None = None
    capture_id: int | None = None
    keep_alive_s: int | None = None
    auth_key: str | None = None
    payload: bytes = b""
    compressed_payload: bytes | None = None
    correlation_id: str | None = None
    vlan_id: int | None = None
    node_name: str | None = None
    src_mac: bytes | None = None
    dst_mac: bytes | None = None
    ethernet_type: int | None = None
    tcp_flags: int | None = None
    ip_tos: int | None = None
    mos: int | None = None
    r_factor: int | None = None
    geo_location: str | None = None
    jitter: int | None = None
    transaction_type: str | None = None
    payload_json_keys: str | None = None
    tags: str | None = None
    tag_type: int | None = None
    event_type: int | None = None
    group_id: str | None = None
    extra_chunks: tuple[RawChunk, ...] = field(default=())

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> HepPacket:
        return decode(data)

    def encode(self) -> bytes:
        return encode(self)

    def __bytes__(self) -> bytes:
        return encode(self)

    @property
    def time_ns(self) -> int | None:
        """Capture time in integer nanoseconds since the epoch (None without seconds)."""
        if self.ts_sec is None:
            return None
        return self.ts_sec * 1_000_000_000 + (self.ts_usec or 0) * 1000

    @property
    def protocol(self) -> str:
        return protocol_name(self.proto_type)


def compress(packet: HepPacket, method: str = "gzip") -> HepPacket:
    """The packet with its payload also in chunk 16, compressed with ``gzip`` or ``deflate``."""
    if method == "gzip":
        # mtime=0 keeps the output a function of the input.
        blob = gzip.compress(packet.payload, mtime=0)
    elif method == "deflate":
        blob = zlib.compress(packet.payload)
    else:
        raise HepError(f"HEP compression must be gzip or deflate, not {method!r}")
    return replace(packet, compressed_payload=blob)


class PayloadTooLarge(HepError):
    """A compressed payload inflates past the limit the caller set (a compression bomb)."""


def decompress(blob: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Chunk 16's value: gzip (RFC 1952) or zlib/deflate (RFC 1950/1951), found by its header.

    At most ``limit`` bytes are ever inflated: past that, :class:`PayloadTooLarge`."""
    if blob[:2] == b"\x1f\x8b":
        wbits = 16 + zlib.MAX_WBITS
    elif len(blob) >= 2 and (blob[0] & 0x0F) == 8 and (blob[0] << 8 | blob[1]) % 31 == 0:
        wbits = zlib.MAX_WBITS
    else:
        wbits = -zlib.MAX_WBITS  # raw deflate
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(blob, limit)
    except zlib.error as exc:
        raise HepError(f"HEP compressed payload does not inflate: {exc}") from None
    if inflater.unconsumed_tail or (len(out) == limit and not inflater.eof):
        raise PayloadTooLarge(f"HEP compressed payload inflates past {limit} bytes: refused")
    if not inflater.eof:
        raise HepError("HEP compressed payload is truncated")
    return out


# --- HEPv3 chunk tables -----------------------------------------------------------------

# field name, chunk type, value kind
_U8, _U16, _U32, _IP4, _IP6, _TEXT, _MAC = "u8", "u16", "u32", "ip4", "ip6", "text", "mac"

_FIELD_CHUNKS: tuple[tuple[str, ChunkType, str], ...] = (
    ("ip_family", ChunkType.IP_FAMILY, _U8),
    ("ip_proto", ChunkType.IP_PROTO, _U8),
    # addresses are written as chunk 3/4 or 5/6 by their version (see _encode_v3)
    ("sport", ChunkType.SRC_PORT, _U16),
    ("dport", ChunkType.DST_PORT, _U16),
    ("ts_sec", ChunkType.TIMESTAMP_SEC, _U32),
    ("ts_usec", ChunkType.TIMESTAMP_USEC, _U32),
    ("proto_type", ChunkType.PROTOCOL_TYPE, _U8),
    ("capture_id", ChunkType.CAPTURE_ID, _U32),
    ("keep_alive_s", ChunkType.KEEP_ALIVE, _U16),
    ("auth_key", ChunkType.AUTH_KEY, _TEXT),
    ("correlation_id", ChunkType.CORRELATION_ID, _TEXT),
    ("vlan_id", ChunkType.VLAN_ID, _U16),
    ("node_name", ChunkType.NODE_NAME, _TEXT),
    ("src_mac", ChunkType.SRC_MAC, _MAC),
    ("dst_mac", ChunkType.DST_MAC, _MAC),
    ("ethernet_type", ChunkType.ETHERNET_TYPE, _U16),
    ("tcp_flags", ChunkType.TCP_FLAGS, _U8),
    ("ip_tos", ChunkType.IP_TOS, _U8),
    ("mos", ChunkType.MOS, _U16),
    ("r_factor", ChunkType.R_FACTOR, _U16),
    ("geo_location", ChunkType.GEO_LOCATION, _TEXT),
    ("jitter", ChunkType.JITTER, _U32),
    ("transaction_type", ChunkType.TRANSACTION_TYPE, _TEXT),
    ("payload_json_keys", ChunkType.PAYLOAD_JSON_KEYS, _TEXT),
    ("tags", ChunkType.TAGS, _TEXT),
    ("tag_type", ChunkType.TAG_TYPE, _U16),
    ("event_type", ChunkType.EVENT_TYPE, _U16),
    ("group_id", ChunkType.GROUP_ID, _TEXT),
)

_FIXED_SIZE = {_U8: 1, _U16: 2, _U32: 4, _IP4: 4, _IP6: 16}
_UNPACK = {_U8: struct.Struct("!B"), _U16: struct.Struct("!H"), _U32: struct.Struct("!I")}
_CHUNK_HEADER = struct.Struct("!HHH")
_MAX_UINT = {_U8: 0xFF, _U16: 0xFFFF, _U32: 0xFFFFFFFF}


def _text_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def format_ipv4(value: bytes) -> str:
    return "%d.%d.%d.%d" % (value[0], value[1], value[2], value[3])  # noqa: UP031 - hot path


def format_ipv6(value: bytes) -> str:
    return str(ipaddress.IPv6Address(bytes(value)))


# chunk type -> (field name, value code, value size or -1 when variable)
_C_U8, _C_U16, _C_U32, _C_IP4, _C_IP6, _C_TEXT, _C_MAC, _C_PAYLOAD, _C_COMPRESSED = range(9)
_CODE_OF_KIND = {_U8: _C_U8, _U16: _C_U16, _U32: _C_U32, _TEXT: _C_TEXT, _MAC: _C_MAC}
_SPEC: dict[int, tuple[str, int, int]] = {
    t: (name, _CODE_OF_KIND[kind], _FIXED_SIZE.get(kind, -1)) for name, t, kind in _FIELD_CHUNKS
}
_U32_STRUCT = struct.Struct("!I")
_SPEC[ChunkType.IPV4_SRC] = ("src", _C_IP4, 4)
_SPEC[ChunkType.IPV4_DST] = ("dst", _C_IP4, 4)
_SPEC[ChunkType.IPV6_SRC] = ("src", _C_IP6, 16)
_SPEC[ChunkType.IPV6_DST] = ("dst", _C_IP6, 16)
_SPEC[ChunkType.PAYLOAD] = ("payload", _C_PAYLOAD, -1)
_SPEC[ChunkType.COMPRESSED_PAYLOAD] = ("compressed_payload", _C_COMPRESSED, -1)
# The chunks most agents (Kamailio, sngrep, heplify, this codec) write first, in this order,
# for IPv4: family, protocol, addresses, ports, seconds, microseconds, protocol type,
# capture id. Each chunk is one 12-byte (vendor, type, length) struct field group + value.
_COMMON_PREFIX = struct.Struct("!6sB6sB6s4s6s4s6sH6sH6sI6sI6sB6sI")
_COMMON_PREFIX_HEADERS = tuple(
    struct.pack("!HHH", 0, ctype, 6 + size)
    for ctype, size in (
        (ChunkType.IP_FAMILY, 1),
        (ChunkType.IP_PROTO, 1),
        (ChunkType.IPV4_SRC, 4),
        (ChunkType.IPV4_DST, 4),
        (ChunkType.SRC_PORT, 2),
        (ChunkType.DST_PORT, 2),
        (ChunkType.TIMESTAMP_SEC, 4),
        (ChunkType.TIMESTAMP_USEC, 4),
        (ChunkType.PROTOCOL_TYPE, 1),
        (ChunkType.CAPTURE_ID, 4),
    )
)
_COMMON_PREFIX_START = _COMMON_PREFIX_HEADERS[0]
# the same as a list indexed by chunk type: the hot loop's lookup
_SPEC_TABLE_SIZE = max(_SPEC) + 1
_SPEC_TABLE: list[tuple[str, int, int] | None] = [_SPEC.get(t) for t in range(_SPEC_TABLE_SIZE)]


def decode(data: bytes | bytearray | memoryview) -> HepPacket:
    """Decode one HEP packet (v1, v2 or v3); raises :class:`HepError` on any fault."""
    fields = decode_fields(data)
    return HepPacket(**fields)


def decode_fields(
    data: bytes | bytearray | memoryview, max_payload_bytes: int = MAX_DECOMPRESSED_BYTES
) -> dict[str, Any]:
    """The validation of :func:`decode`, returning the fields as a dict (HepPacket's names).

    Only the chunks present appear (plus ``version``, ``magic``, ``payload`` always, and
    ``extra_chunks`` when there are any). This is the collector's hot path: it skips building
    a frozen dataclass, which costs more than the decoding itself. A compressed payload
    inflating past ``max_payload_bytes`` raises :class:`PayloadTooLarge`.
    """
    view = data if type(data) is bytes else bytes(data)
    if len(view) < 4:
        raise HepError(f"HEP packet is truncated: {len(view)} bytes", offset=0)
    magic = view[:4]
    if magic in (HEP3_MAGIC, EEP3_MAGIC):
        return _decode_v3(view, max_payload_bytes)
    if view[0] in (1, 2):
        return _decode_v12(view)
    raise HepError(f"not a HEP packet: starts with {view[:4].hex()}", offset=0)


def _decode_v3(view: bytes, max_payload_bytes: int) -> dict[str, Any]:
    size = len(view)
    if size < 6:
        raise HepError(f"HEP3 header is truncated: {size} of 6 bytes", offset=0)
    total = view[4] << 8 | view[5]
    if total != size:
        raise HepError(f"HEP3 total length says {total} bytes but the packet has {size}", offset=4)
    fields: dict[str, Any] = {"version": 3, "magic": view[:4]}
    extra: list[RawChunk] = []
    offset = 6
    if size >= 6 + _COMMON_PREFIX.size and view[6:12] == _COMMON_PREFIX_START:
        values = _COMMON_PREFIX.unpack_from(view, 6)
        if values[::2] == _COMMON_PREFIX_HEADERS:
            # the usual first ten chunks in the usual order: their headers are checked in one
            # comparison (same sizes as the loop below requires), their values read at once
            (
                fields["ip_family"],
                fields["ip_proto"],
                src,
                dst,
                fields["sport"],
                fields["dport"],
                fields["ts_sec"],
                fields["ts_usec"],
                fields["proto_type"],
                fields["capture_id"],
            ) = values[1::2]
            fields["src"] = "%d.%d.%d.%d" % tuple(src)  # noqa: UP031 - the hot path
            fields["dst"] = "%d.%d.%d.%d" % tuple(dst)  # noqa: UP031
            offset = 6 + _COMMON_PREFIX.size
    unpack_header = _CHUNK_HEADER.unpack_from
    unpack_u32 = _U32_STRUCT.unpack_from
    table = _SPEC_TABLE
    while offset < size:
        if size - offset < 6:
            raise HepError(
                f"HEP3 chunk header at offset {offset} is truncated: {size - offset} of 6 bytes",
                offset=offset,
            )
        vendor, ctype, clen = unpack_header(view, offset)
        end = offset + clen
        if clen < 6 or end > size:
            raise HepError(
                f"HEP3 chunk {vendor}:{ctype} at offset {offset} has length {clen}: "
                f"{size - offset} bytes remain",
                offset=offset,
            )
        spec = table[ctype] if vendor == 0 and ctype < _SPEC_TABLE_SIZE else None
        if spec is None:
            extra.append(RawChunk(vendor, ctype, view[offset + 6 : end]))
            offset = end
            continue
        name, code, want = spec
        if name in fields:
            raise HepError(
                f"HEP3 chunk {ctype} at offset {offset} gives {name} twice", offset=offset
            )
        start = offset + 6
        if want >= 0 and clen - 6 != want:
            raise HepError(
                f"HEP3 chunk {ChunkType(ctype).name} at offset {offset} has {clen - 6} value "
                f"bytes, not {want}",
                offset=offset,
            )
        # literal codes (see _C_*): comparing with module globals costs a lookup each
        if code == 2:  # _C_U32
            fields[name] = unpack_u32(view, start)[0]
        elif code == 0:  # _C_U8
            fields[name] = view[start]
        elif code == 1:  # _C_U16
            fields[name] = view[start] << 8 | view[start + 1]
        elif code == 3:  # _C_IP4
            fields[name] = "%d.%d.%d.%d" % (  # noqa: UP031 - the hot path
                view[start],
                view[start + 1],
                view[start + 2],
                view[start + 3],
            )
        elif code == 5:  # _C_TEXT
            fields[name] = view[start:end].decode("utf-8", "surrogateescape")
        elif code == 7:  # _C_PAYLOAD
            fields["payload"] = view[start:end]
        elif code == 4:  # _C_IP6
            fields[name] = format_ipv6(view[start:end])
        elif code == 6:  # _C_MAC
            # The spec types MACs as uint64; agents also send the 6 octets of the address.
            if clen - 6 not in (6, 8):
                raise HepError(
                    f"HEP3 chunk {ChunkType(ctype).name} at offset {offset} has {clen - 6} "
                    "value bytes, not 6 or 8",
                    offset=offset,
                )
            fields[name] = view[start:end]
        else:  # compressed payload
            fields["compressed_payload"] = view[start:end]
        offset = end
    family = fields.get("ip_family")
    if family is not None and family not in (AF_INET, AF_INET6):
        raise HepError(f"HEP3 IP family is {family}: expected 2 (IPv4) or 10 (IPv6)", offset=6)
    blob = fields.get("compressed_payload")
    if blob is not None:
        if "payload" in fields:
            raise HepError("HEP3 packet has both a payload and a compressed payload chunk")
        assert isinstance(blob, bytes)
        fields["payload"] = decompress(blob, max_payload_bytes)
    elif "payload" not in fields:
        fields["payload"] = b""
    if extra:
        fields["extra_chunks"] = tuple(extra)
    return fields


_V12_HEADER = struct.Struct("!BBBBHH")
_V2_TIME = struct.Struct("<IIH2x")  # host (x86) order, padded to 12 bytes like the C struct


def _decode_v12(view: bytes) -> dict[str, Any]:
    size = len(view)
    if size < 8:
        raise HepError(f"HEPv{view[0]} header is truncated: {size} of 8 bytes", offset=0)
    version, _header_len, family, proto, sport, dport = _V12_HEADER.unpack_from(view, 0)
    if family == AF_INET:
        addr_len = 4
    elif family == AF_INET6:
        addr_len = 16
    else:
        raise HepError(
            f"HEPv{version} IP family is {family}: expected 2 (IPv4) or 10 (IPv6)", offset=2
        )
    # The header length byte is not checked: sngrep 1.6 leaves it unset (seen 1, 2, ...
    # counting up) and Kamailio's receiver ignores it too; the family fixes the layout.
    header_len = 8 + 2 * addr_len
    need = header_len + (_V2_TIME.size if version == 2 else 0)
    if size < need:
        raise HepError(f"HEPv{version} header is truncated: {size} of {need} bytes", offset=0)
    raw_src = view[8 : 8 + addr_len]
    raw_dst = view[8 + addr_len : 8 + 2 * addr_len]
    if addr_len == 4:
        src, dst = format_ipv4(raw_src), format_ipv4(raw_dst)
    else:
        src, dst = format_ipv6(raw_src), format_ipv6(raw_dst)
    ts_sec = ts_usec = capture_id = None
    if version == 2:
        ts_sec, ts_usec, capture_id = _V2_TIME.unpack_from(view, header_len)
    return {
        "version": version,
        "magic": b"",
        "ip_family": family,
        "ip_proto": proto,
        "src": src,
        "dst": dst,
        "sport": sport,
        "dport": dport,
        "ts_sec": ts_sec,
        "ts_usec": ts_usec,
        "proto_type": 1,  # SIP; a plain int like every decoded value (the store marshals them)
        "capture_id": capture_id,
        "payload": view[need:],
    }


# --- encoding -------------------------------------------------------------------------------


def _chunk(ctype: int, value: bytes, vendor: int = 0) -> bytes:
    length = 6 + len(value)
    if length > 0xFFFF:
        raise HepError(f"HEP3 chunk {ctype} value of {len(value)} bytes does not fit in a chunk")
    return _CHUNK_HEADER.pack(vendor, ctype, length) + value


def pack_address(value: str, what: str = "") -> bytes:
    """4 or 16 bytes for an IPv4 or IPv6 address string; HepError if it is neither."""
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        octets = [int(p) for p in parts]
        if max(octets) <= 255:
            return bytes(octets)
    try:
        return ipaddress.IPv6Address(value).packed
    except ValueError:
        raise HepError(f"HEP {what} address {value!r} is not an IP address".strip()) from None


def _encode_value(name: str, kind: str, value: object) -> bytes:
    if kind in _UNPACK:
        assert isinstance(value, int)
        if not 0 <= value <= _MAX_UINT[kind]:
            raise HepError(f"HEP {name} = {value} does not fit in {kind}")
        return _UNPACK[kind].pack(value)
    if kind == _TEXT:
        assert isinstance(value, str)
        return _text_bytes(value)
    assert isinstance(value, bytes | bytearray | memoryview)
    if kind == _MAC and len(value) not in (6, 8):
        raise HepError(f"HEP {name} must be 6 or 8 bytes, not {len(value)}")
    return bytes(value)


def encode(packet: HepPacket) -> bytes:
    """The wire bytes of ``packet`` in its ``version`` (3, or 1/2 for the old header)."""
    if packet.version == 3:
        return _encode_v3(packet)
    if packet.version in (1, 2):
        return _encode_v12(packet)
    raise HepError(f"HEP version must be 1, 2 or 3, not {packet.version}")


def _encode_v3(packet: HepPacket) -> bytes:
    if packet.magic not in (HEP3_MAGIC, EEP3_MAGIC):
        raise HepError(f"HEP3 magic must be HEP3 or EEP3, not {packet.magic!r}")
    parts: list[bytes] = []
    ordered: list[tuple[int, bytes]] = []
    if packet.src is not None:
        packed = pack_address(packet.src, "source")
        ordered.append((ChunkType.IPV4_SRC if len(packed) == 4 else ChunkType.IPV6_SRC, packed))
    if packet.dst is not None:
        packed = pack_address(packet.dst, "destination")
        ordered.append((ChunkType.IPV4_DST if len(packed) == 4 else ChunkType.IPV6_DST, packed))
    for name, ctype, kind in _FIELD_CHUNKS:
        value = getattr(packet, name)
        if value is not None:
            ordered.append((ctype, _encode_value(name, kind, value)))
    ordered.sort(key=lambda item: item[0])
    for chunk_type, chunk_value in ordered:
        parts.append(_chunk(chunk_type, chunk_value))
    for raw in packet.extra_chunks:
        parts.append(_chunk(raw.chunk_type, raw.value, raw.vendor_id))
    if packet.compressed_payload is not None:
        parts.append(_chunk(ChunkType.COMPRESSED_PAYLOAD, packet.compressed_payload))
    elif packet.payload:
        parts.append(_chunk(ChunkType.PAYLOAD, packet.payload))
    body = b"".join(parts)
    total = 6 + len(body)
    if total > 0xFFFF:
        raise HepError(f"HEP3 packet of {total} bytes exceeds 65535")
    return packet.magic + struct.pack("!H", total) + body


def _encode_v12(packet: HepPacket) -> bytes:
    version = packet.version
    if packet.src is None or packet.dst is None:
        raise HepError(f"HEPv{version} needs source and destination addresses")
    src = pack_address(packet.src, "source")
    dst = pack_address(packet.dst, "destination")
    if len(src) != len(dst):
        raise HepError(f"HEPv{version} addresses must be of one IP version")
    family = AF_INET if len(src) == 4 else AF_INET6
    header_len = 8 + 2 * len(src)
    for name in ("ip_proto", "sport", "dport"):
        value = getattr(packet, name)
        limit = 0xFF if name == "ip_proto" else 0xFFFF
        if value is not None and not 0 <= value <= limit:
            raise HepError(f"HEPv{version} {name} = {value} is out of range")
    out = _V12_HEADER.pack(
        version,
        header_len,
        family,
        packet.ip_proto if packet.ip_proto is not None else 17,
        packet.sport or 0,
        packet.dport or 0,
    )
    out += src + dst
    if version == 2:
        capture_id = packet.capture_id or 0
        if capture_id > 0xFFFF:
            raise HepError(f"HEPv2 capture id is 16 bits: {capture_id} does not fit")
        ts_sec, ts_usec = packet.ts_sec or 0, packet.ts_usec or 0
        if not (0 <= ts_sec <= 0xFFFFFFFF and 0 <= ts_usec <= 0xFFFFFFFF):
            raise HepError("HEPv2 timestamp is out of range")
        out += _V2_TIME.pack(ts_sec, ts_usec, capture_id)
    return out + packet.payload
