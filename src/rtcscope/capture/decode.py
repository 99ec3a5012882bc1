"""Decode a capture record down to its transport payload: link layer, IP, UDP/TCP/ICMP.

Pure: bytes in, :class:`~rtcscope.capture.packet.Packet` out. :func:`decode` never raises on
packet contents: a header that is cut short or inconsistent stops the decoding at the last
good layer and says why in ``Packet.malformed`` (Wireshark likewise shows a malformed packet
rather than refusing the file). Payloads are memoryviews into the record: nothing is copied.

Layers (RFC numbers where they define the wire format):

- link: Ethernet II with any number of 802.1Q / 802.1ad (QinQ) tags, Linux cooked capture v1
  (SLL, 16 bytes) and v2 (SLL2, 20 bytes), raw IP (LINKTYPE_RAW 101 and the legacy 12/14),
  LINKTYPE_IPV4/IPV6 (228/229), BSD null (family in the capturing host's byte order) and loop
  (family in network order). Other link types give a packet with ``ip_version == 0``;
  :func:`is_known_linktype` tells them apart so callers can count them.
- IPv4 (RFC 791) with options skipped by IHL; the end of the datagram is the total length, so
  Ethernet padding never reaches the payload.
- IPv6 (RFC 8200 section 4): hop-by-hop (0), routing (43), destination options (60) and AH
  (51, RFC 4302) headers are walked; the fragment header (44) is recognised.
- A fragment (IPv4 MF or offset, or an IPv6 fragment header) sets ``Packet.fragment``; its
  ``payload`` is the fragment data for the reassembler (capture/defrag.py). The first fragment
  still gets its ports read from the transport header it carries; later ones have none.
- UDP (RFC 768), TCP (RFC 9293: sequence, ack, flags, window into ``Packet.tcp``), ICMP errors
  (RFC 792) and ICMPv6 errors (RFC 4443) with the quoted datagram's addresses and ports in
  ``Packet.icmp``.
- SCTP (RFC 9260 section 3.1): the common header's ports; ``payload`` is the chunks after the
  12-byte common header, for :class:`rtcscope.capture.sctp.SctpReassembler`.

Tunnels: IP protocols 4 (IPv4-in-IP), 41 (IPv6-in-IP), 47 (GRE, carrying ERSPAN or
transparent Ethernet), 137 (MPLS-in-IP), UDP destination port 4789 (VXLAN) and the MPLS
ethertypes 0x8847/0x8848 are all handed to :func:`hand_to_tunnels`, the one dispatch point
where ``rtcscope.capture.tunnels`` takes over and calls back (through the decoders it is
handed, so neither module imports the other in a cycle) into :func:`decode_ethernet` /
:func:`decode_ip` for the inner packet.
"""

from __future__ import annotations

import ipaddress
import struct

from rtcscope.capture.packet import (
    FragmentInfo,
    IcmpError,
    IpProto,
    LinkType,
    Packet,
    Record,
    TcpSegment,
)
from rtcscope.capture.sctp import COMMON_HEADER_BYTES as SCTP_COMMON_HEADER_BYTES
from rtcscope.capture.tunnels import InnerDecoders, decode_tunnel

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100  # 802.1Q
ETHERTYPE_QINQ = 0x88A8  # 802.1ad service tag
ETHERTYPE_QINQ_OLD = 0x9100  # pre-standard QinQ, still seen on switches
ETHERTYPE_MPLS = 0x8847
ETHERTYPE_MPLS_MULTICAST = 0x8848
VLAN_ETHERTYPES = frozenset({ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD})

# What the tunnel code takes: IP protocol numbers, UDP destination ports and ethertypes.
TUNNEL_IP_PROTOCOLS = frozenset({IpProto.IPIP, IpProto.IPV6, IpProto.GRE, IpProto.MPLS_IN_IP})
TUNNEL_UDP_PORTS = frozenset({4789})  # VXLAN, RFC 7348 section 5
TUNNEL_ETHERTYPES = frozenset({ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST})

KNOWN_LINKTYPES = frozenset(int(t) for t in LinkType)

# BSD null/loop address families: AF_INET is 2 everywhere; AF_INET6 differs per OS
# (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS), tcpdump.org/linktypes.html.
BSD_AF_INET = 2
BSD_AF_INET6 = frozenset({24, 28, 30})

_IPV6_EXTENSION_HEADERS = frozenset({IpProto.HOPOPT, IpProto.IPV6_ROUTE, IpProto.IPV6_OPTS})
_IPPROTO_AH = 51

_U16 = struct.Struct("!H")
_U16_PAIR = struct.Struct("!HH")
_UDP = struct.Struct("!HHH")
_TCP = struct.Struct("!HHIIBBH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
# Ethernet's ethertype, then IPv4 (type of service and checksum skipped): decode()'s one read.
_PLAIN_UDP = struct.Struct("!HBxHHHBB2x4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_FRAG6 = struct.Struct("!BBHI")


def is_known_linktype(linktype: int) -> bool:
    """True if :func:`decode` understands this link type."""
    return linktype in KNOWN_LINKTYPES


# -- addresses ---------------------------------------------------------------------------

_ADDRESS_CACHE: dict[bytes, str] = {}
_ADDRESS_CACHE_MAX = 65536


def format_ipv4(raw: bytes) -> str:
    """Dotted quad, as tshark prints ``ip.src``."""
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def format_ipv6(raw: bytes) -> str:
    """RFC 5952 text, as tshark prints ``ipv6.src`` (IPv4-mapped as ``::ffff:a.b.c.d``)."""
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return "::ffff:" + format_ipv4(raw[12:])
    return ipaddress.IPv6Address(raw).compressed


def _address(raw: bytes) -> str:
    text = _ADDRESS_CACHE.get(raw)
    if text is None:
        text = format_ipv4(raw) if len(raw) == 4 else format_ipv6(raw)
        if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[raw] = text
    return text


# -- tunnel dispatch ------------------------------------------------------------------------


def hand_to_tunnels(
    layer: str, number: int, buf: memoryview, offset: int, end: int, packet: Packet
) -> bool:
    """The one place where decoding hands an encapsulation to ``capture/tunnels.py``.

    ``layer`` says what ``number`` is: ``"ip"`` (an IP protocol number from
    ``TUNNEL_IP_PROTOCOLS``; ``offset`` is the start of the IP payload), ``"udp"`` (a UDP
    destination port from ``TUNNEL_UDP_PORTS``; ``offset`` is the start of the UDP payload)
    or ``"ethertype"`` (one of ``TUNNEL_ETHERTYPES``; ``offset`` is the start of the frame
    payload). ``end`` is where that payload ends. The tunnel module's
    ``decode_tunnel(layer, number, buf, offset, end, packet) -> bool`` decodes the inner
    packet into ``packet`` (recording the outer layer in ``packet.tunnel``) and returns True;
    False leaves ``packet`` as the outer packet.
    """
    return decode_tunnel(layer, number, buf, offset, end, packet, _INNER)


# -- entry point ---------------------------------------------------------------------------


def decode(record: Record) -> Packet:
    """Decode one record to its transport payload (never raises on packet contents)."""
    data = record.data
    if record.linktype == LinkType.ETHERNET and len(data) >= 42:
        # The common frame in one read: Ethernet II, IPv4 without options, whole (no
        # fragment), UDP, no tunnel port; the same Packet as the layer by layer road below.
        (ethertype, version_ihl, total_length, ident, flags_fragment, ttl, proto, src, dst) = (
            _PLAIN_UDP.unpack_from(data, 12)
        )
        if (
            ethertype == ETHERTYPE_IPV4
            and version_ihl == 0x45
            and proto == IpProto.UDP
            and total_length >= 28
            and not flags_fragment & 0x3FFF
        ):
            sport, dport, length = _UDP.unpack_from(data, 34)
            if dport not in TUNNEL_UDP_PORTS:
                end = min(len(data), 14 + total_length)
                if length >= 8:
                    end = min(end, 34 + length)
                return Packet(
                    record.frame,
                    record.ts_ns,
                    record.interface,
                    record.linktype,
                    data,
                    record.orig_len,
                    4,
                    _address(src),
                    _address(dst),
                    proto,
                    sport,
                    dport,
                    data[42:end],
                    (),
                    (),
                    ttl,
                    ident,
                )
    return decode_by_layers(record)


def decode_by_layers(record: Record) -> Packet:
    """:func:`decode` layer by layer (every frame its shortcut does not take)."""
    data = record.data
    packet = Packet(
        record.frame,
        record.ts_ns,
        record.interface,
        record.linktype,
        data,
        record.orig_len,
    )
    decode_link(record.linktype, data, packet)
    return packet


def decode_link(linktype: int, buf: memoryview, packet: Packet) -> None:
    """Decode ``buf`` (a whole frame of ``linktype``) into ``packet``."""
    end = len(buf)
    if linktype == LinkType.ETHERNET:
        decode_ethernet(buf, 0, end, packet)
    elif linktype == LinkType.LINUX_SLL:
        # SLL v1: packet type, ARPHRD, address length, 8 address bytes, protocol (ethertype).
        if end < 16:
            packet.malformed = f"linux cooked header is truncated: {end} of 16 bytes"
            return
        decode_ethertype(_U16.unpack_from(buf, 14)[0], buf, 16, end, packet)
    elif linktype == LinkType.LINUX_SLL2:
        # SLL2: protocol first, then reserved, ifindex, ARPHRD, packet type, address.
        if end < 20:
            packet.malformed = f"linux cooked v2 header is truncated: {end} of 20 bytes"
            return
        decode_ethertype(_U16.unpack_from(buf, 0)[0], buf, 20, end, packet)
    elif linktype in (LinkType.RAW, LinkType.RAW_LEGACY_12, LinkType.RAW_LEGACY_14):
        decode_ip(buf, 0, end, packet)
    elif linktype == LinkType.IPV4:
        decode_ipv4(buf, 0, end, packet)
    elif linktype == LinkType.IPV6:
        decode_ipv6(buf, 0, end, packet)
    elif linktype in (LinkType.NULL, LinkType.LOOP):
        if end < 4:
            packet.malformed = f"loopback header is truncated: {end} of 4 bytes"
            return
        family = loopback_family(linktype, buf)
        if family == BSD_AF_INET:
            decode_ipv4(buf, 4, end, packet)
        elif family in BSD_AF_INET6:
            decode_ipv6(buf, 4, end, packet)


def loopback_family(linktype: int, buf: bytes | memoryview) -> int:
    """The address family in the 4-byte header of a NULL or LOOP frame (at least 4 bytes)."""
    family: int = struct.unpack_from("!I", buf, 0)[0]
    if linktype == LinkType.NULL and family > 0xFFFF:
        # NULL stores the family in the capturing host's byte order: little-endian here.
        family = struct.unpack_from("<I", buf, 0)[0]
    return family


def decode_ethernet(buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """Ethernet II from ``offset``: MACs, then ethertype (802.3 length frames carry no IP)."""
    if end - offset < 14:
        packet.malformed = f"ethernet header is truncated: {end - offset} of 14 bytes"
        return
    decode_ethertype(_U16.unpack_from(buf, offset + 12)[0], buf, offset + 14, end, packet)


def decode_ethertype(
    ethertype: int, buf: memoryview, offset: int, end: int, packet: Packet
) -> None:
    """Whatever ``ethertype`` announces at ``offset``: VLAN tags, IPv4, IPv6 or a tunnel."""
    vlans: list[int] = []
    while ethertype in VLAN_ETHERTYPES:
        if end - offset < 4:
            packet.malformed = f"802.1Q tag is truncated: {end - offset} of 4 bytes"
            break
        tci, ethertype = _U16_PAIR.unpack_from(buf, offset)
        vlans.append(tci & 0x0FFF)
        offset += 4
    if vlans:
        packet.vlan = packet.vlan + tuple(vlans)
    if ethertype == ETHERTYPE_IPV4:
        decode_ipv4(buf, offset, end, packet)
    elif ethertype == ETHERTYPE_IPV6:
        decode_ipv6(buf, offset, end, packet)
    elif ethertype in TUNNEL_ETHERTYPES:
        hand_to_tunnels("ethertype", ethertype, buf, offset, end, packet)


def decode_ip(buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """IPv4 or IPv6 by the version nibble at ``offset``."""
    if offset >= end:
        packet.malformed = "IP header is missing"
        return
    version = buf[offset] >> 4
    if version == 4:
        decode_ipv4(buf, offset, end, packet)
    elif version == 6:
        decode_ipv6(buf, offset, end, packet)
    else:
        packet.malformed = f"IP version {version} at byte {offset}"


def decode_ipv4(buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """IPv4 header (RFC 791 section 3.1), then the transport layer."""
    if end - offset < 20:
        packet.malformed = f"IPv4 header is truncated: {end - offset} of 20 bytes"
        return
    (
        version_ihl,
        _tos,
        total_length,
        ident,
        flags_fragment,
        ttl,
        proto,
        _checksum,
        src,
        dst,
    ) = _IPV4.unpack_from(buf, offset)
    header_length = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_length < 20:
        packet.malformed = f"IPv4 header is corrupt: version/IHL byte 0x{version_ihl:02x}"
        return
    if header_length > end - offset:
        packet.malformed = f"IPv4 header is truncated: {end - offset} of {header_length} bytes"
        return
    if total_length:
        if total_length < header_length:
            packet.malformed = f"IPv4 total length {total_length} is shorter than its header"
            return
        end = min(end, offset + total_length)
    # total length 0: TCP segmentation offload on the capturing host; the frame is the datagram.
    packet.ip_version = 4
    packet.src = _address(src)
    packet.dst = _address(dst)
    packet.ip_proto = proto
    packet.ttl = ttl
    packet.ip_id = ident
    packet.sport = packet.dport = 0
    packet.tcp = packet.icmp = None
    fragment_offset = (flags_fragment & 0x1FFF) * 8
    more_fragments = bool(flags_fragment & 0x2000)
    payload_start = offset + header_length
    if fragment_offset or more_fragments:
        packet.fragment = FragmentInfo(ident, fragment_offset, more_fragments)
        packet.payload = buf[payload_start:end]
        if fragment_offset == 0:
            _transport_ports(proto, buf, payload_start, end, packet)
        return
    packet.fragment = None
    decode_transport(proto, buf, payload_start, end, packet)


def decode_ipv6(buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """IPv6 header and extension headers (RFC 8200 section 4), then the transport layer."""
    if end - offset < 40:
        packet.malformed = f"IPv6 header is truncated: {end - offset} of 40 bytes"
        return
    version_class_flow, payload_length, next_header, hop_limit, src, dst = _IPV6.unpack_from(
        buf, offset
    )
    if version_class_flow >> 28 != 6:
        packet.malformed = f"IPv6 header is corrupt: version {version_class_flow >> 28}"
        return
    if payload_length:
        end = min(end, offset + 40 + payload_length)
    # payload length 0: a jumbogram (RFC 2675) or segmentation offload: the frame decides.
    packet.ip_version = 6
    packet.src = _address(src)
    packet.dst = _address(dst)
    packet.ttl = hop_limit
    packet.ip_id = 0
    packet.sport = packet.dport = 0
    packet.tcp = packet.icmp = None
    packet.fragment = None
    position = offset + 40
    proto, position, fragment, problem = walk_ipv6_extensions(next_header, buf, position, end)
    packet.ip_proto = proto
    if problem:
        packet.malformed = problem
        packet.payload = buf[min(position, end) : end]
        return
    if fragment is not None:
        packet.fragment = fragment
        packet.ip_id = fragment.ident
        packet.payload = buf[position:end]
        if fragment.offset == 0:
            _transport_ports(proto, buf, position, end, packet)
        return
    decode_transport(proto, buf, position, end, packet)


def walk_ipv6_extensions(
    next_header: int, buf: memoryview, position: int, end: int
) -> tuple[int, int, FragmentInfo | None, str]:
    """Skip IPv6 extension headers: (upper protocol, its offset, fragment header, problem).

    Walking stops at a fragment header whose offset is not zero (what follows is the middle
    of the datagram) and at the first header that is not an extension header.
    """
    fragment: FragmentInfo | None = None
    while True:
        if next_header in _IPV6_EXTENSION_HEADERS or next_header == _IPPROTO_AH:
            if end - position < 8:
                return next_header, position, fragment, "IPv6 extension header is truncated"
            if next_header == _IPPROTO_AH:
                length = (buf[position + 1] + 2) * 4  # RFC 4302 2.2: in 32-bit words
            else:
                length = (buf[position + 1] + 1) * 8  # RFC 8200 4.3: in 8-octet units
            if end - position < length:
                return (
                    next_header,
                    position,
                    fragment,
                    f"IPv6 extension header is truncated: {end - position} of {length} bytes",
                )
            next_header = buf[position]
            position += length
        elif next_header == IpProto.IPV6_FRAG:
            if end - position < 8:
                return next_header, position, fragment, "IPv6 fragment header is truncated"
            following, _reserved, offset_flags, ident = _FRAG6.unpack_from(buf, position)
            fragment = FragmentInfo(ident, offset_flags & 0xFFF8, bool(offset_flags & 1))
            next_header = following
            position += 8
            if fragment.offset:
                return next_header, position, fragment, ""
        else:
            return next_header, position, fragment, ""


def decode_transport(proto: int, buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """UDP, TCP, ICMP/ICMPv6 errors; tunnels; anything else becomes the payload as is."""
    if proto == IpProto.UDP:
        if end - offset < 8:
            packet.malformed = f"UDP header is truncated: {end - offset} of 8 bytes"
            packet.payload = buf[offset:end]
            return
        sport, dport, length = _UDP.unpack_from(buf, offset)
        packet.sport = sport
        packet.dport = dport
        if length >= 8:
            end = min(end, offset + length)
        packet.payload = buf[offset + 8 : end]
        if dport in TUNNEL_UDP_PORTS:
            hand_to_tunnels("udp", dport, buf, offset + 8, end, packet)
    elif proto == IpProto.TCP:
        if end - offset < 20:
            packet.malformed = f"TCP header is truncated: {end - offset} of 20 bytes"
            packet.payload = buf[offset:end]
            return
        sport, dport, seq, ack, data_offset, flags, window = _TCP.unpack_from(buf, offset)
        header_length = (data_offset >> 4) * 4
        packet.sport = sport
        packet.dport = dport
        packet.tcp = TcpSegment(seq, ack, flags | ((data_offset & 1) << 8), window)
        if header_length < 20 or header_length > end - offset:
            packet.malformed = f"TCP header length {header_length} is impossible here"
            packet.payload = buf[end:end]
            return
        packet.payload = buf[offset + header_length : end]
    elif proto == IpProto.SCTP:
        if end - offset < SCTP_COMMON_HEADER_BYTES:
            packet.malformed = f"SCTP common header is truncated: {end - offset} of 12 bytes"
            packet.payload = buf[offset:end]
            return
        packet.sport, packet.dport = _U16_PAIR.unpack_from(buf, offset)
        packet.payload = buf[offset + SCTP_COMMON_HEADER_BYTES : end]
    elif proto == IpProto.ICMP or proto == IpProto.ICMPV6:
        packet.payload = buf[offset + 8 : end] if end - offset >= 8 else buf[end:end]
        if end - offset >= 8:
            packet.icmp = _icmp_error(proto, buf, offset, end)
    elif proto in TUNNEL_IP_PROTOCOLS:
        packet.payload = buf[offset:end]
        hand_to_tunnels("ip", proto, buf, offset, end, packet)
    else:
        packet.payload = buf[offset:end]


def _transport_ports(proto: int, buf: memoryview, offset: int, end: int, packet: Packet) -> None:
    """Ports of the transport header a first fragment carries (the payload stays as is)."""
    if proto in (IpProto.UDP, IpProto.TCP, IpProto.SCTP) and end - offset >= 4:
        packet.sport, packet.dport = _U16_PAIR.unpack_from(buf, offset)


# -- ICMP ---------------------------------------------------------------------------------

# RFC 792 (with RFC 1812 5.2.7.1 codes) and RFC 4443 section 3: error type -> code -> text.
_ICMPV4_ERRORS: dict[int, tuple[str, dict[int, str]]] = {
    3: (
        "destination unreachable",
        {
            0: "network unreachable",
            1: "host unreachable",
            2: "protocol unreachable",
            3: "port unreachable",
            4: "fragmentation needed",
            5: "source route failed",
            6: "destination network unknown",
            7: "destination host unknown",
            9: "network administratively prohibited",
            10: "host administratively prohibited",
            13: "communication administratively prohibited",
        },
    ),
    4: ("source quench", {}),
    5: ("redirect", {}),
    11: ("time exceeded", {0: "time to live exceeded", 1: "fragment reassembly time exceeded"}),
    12: ("parameter problem", {}),
}
_ICMPV6_ERRORS: dict[int, tuple[str, dict[int, str]]] = {
    1: (
        "destination unreachable",
        {
            0: "no route to destination",
            1: "communication administratively prohibited",
            2: "beyond scope of source address",
            3: "address unreachable",
            4: "port unreachable",
            5: "source address failed ingress/egress policy",
            6: "reject route to destination",
        },
    ),
    2: ("packet too big", {}),
    3: ("time exceeded", {0: "hop limit exceeded", 1: "fragment reassembly time exceeded"}),
    4: ("parameter problem", {}),
}


def _icmp_error(proto: int, buf: memoryview, offset: int, end: int) -> IcmpError | None:
    """An ICMP/ICMPv6 error with the quoted datagram's header, or None for other messages."""
    icmp_type, code = buf[offset], buf[offset + 1]
    table = _ICMPV4_ERRORS if proto == IpProto.ICMP else _ICMPV6_ERRORS
    known = table.get(icmp_type)
    if known is None:
        return None
    name, codes = known
    description = codes.get(code, name if not codes else f"{name} (code {code})")
    quoted = Packet(0, 0, 0, 0, buf, 0)
    start = offset + 8
    if proto == IpProto.ICMP:
        _quoted_ipv4(buf, start, end, quoted)
    else:
        _quoted_ipv6(buf, start, end, quoted)
    return IcmpError(
        icmp_type,
        code,
        description,
        quoted.src,
        quoted.dst,
        quoted.ip_proto,
        quoted.sport,
        quoted.dport,
    )


def _quoted_ipv4(buf: memoryview, offset: int, end: int, quoted: Packet) -> None:
    """The IPv4 header an ICMP error quotes, plus the first 8 bytes of its payload."""
    if end - offset < 20 or buf[offset] >> 4 != 4:
        return
    header_length = (buf[offset] & 0x0F) * 4
    _, _, _, _, flags_fragment, _, proto, _, src, dst = _IPV4.unpack_from(buf, offset)
    quoted.src, quoted.dst, quoted.ip_proto = _address(src), _address(dst), proto
    if flags_fragment & 0x1FFF == 0 and header_length >= 20:
        _transport_ports(proto, buf, offset + header_length, end, quoted)


def _quoted_ipv6(buf: memoryview, offset: int, end: int, quoted: Packet) -> None:
    """The IPv6 header an ICMPv6 error quotes, extension headers walked."""
    if end - offset < 40 or buf[offset] >> 4 != 6:
        return
    _, _, next_header, _, src, dst = _IPV6.unpack_from(buf, offset)
    quoted.src, quoted.dst = _address(src), _address(dst)
    proto, position, fragment, _problem = walk_ipv6_extensions(next_header, buf, offset + 40, end)
    quoted.ip_proto = proto
    if fragment is None or fragment.offset == 0:
        _transport_ports(proto, buf, position, end, quoted)


# What capture/tunnels.py decodes a tunnel's inner packet with (defined last: both are above).
_INNER = InnerDecoders(ip=decode_ip, ethernet=decode_ethernet)
