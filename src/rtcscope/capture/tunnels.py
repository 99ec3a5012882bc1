"""Encapsulations of traffic mirrors and carrier networks, removed to reach the inner packet.

:func:`decode_tunnel` is called by ``capture/decode.py`` at its one dispatch point
(``hand_to_tunnels``) and decodes the inner packet into the same
:class:`~rtcscope.capture.packet.Packet`, appending the outer layers it removed to
``Packet.tunnel`` (outermost first), e.g. ``("ipv4 10.0.0.1>10.0.0.2", "gre", "erspan-2 span
7")``. When the inner packet is not IP (ARP in VXLAN, an unknown GRE payload) or its header is
broken, the packet is left as the outer packet and False is returned.

Written by hand: it is part of the capture fast path and works on the decoder's memoryviews.

Formats:

- IP in IP: IPv4 in IPv4 (RFC 2003), IPv6 in IPv4 ("6in4", RFC 4213 section 3.5), IPv4 or
  IPv6 in IPv6 (RFC 2473).
- GRE (RFC 2784 with the key and sequence fields of RFC 2890): IPv4, IPv6, transparent
  Ethernet bridging (0x6558), MPLS (RFC 4023), and ERSPAN: type II (0x88BE with the S bit,
  an 8-byte header), type III (0x22EB, a 12-byte header plus an optional 8-byte platform
  subheader, frame type Ethernet or IP) and type I (0x88BE without S: Ethernet right after the
  GRE header); the ERSPAN headers follow draft-foschiano-erspan-03 sections 4.1-4.3.
- VXLAN (RFC 7348 section 5): UDP destination port 4789, an 8-byte header with the I flag,
  then an Ethernet frame.
- MPLS label stacks (RFC 3032 section 2.1), from the link layer (0x8847/0x8848), MPLS-in-IP
  (protocol 137, RFC 4023) or GRE: entries until the bottom-of-stack bit, then IPv4/IPv6 by
  the version nibble, or an Ethernet pseudowire (RFC 4448) after its control word (first
  nibble 0, RFC 4385 section 3).
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable
from dataclasses import fields
from typing import NamedTuple

from rtcscope.capture.packet import IpProto, Packet

GRE_IPV4 = 0x0800
GRE_IPV6 = 0x86DD
GRE_TRANSPARENT_ETHERNET = 0x6558
GRE_ERSPAN_1_2 = 0x88BE
GRE_ERSPAN_3 = 0x22EB
GRE_MPLS = 0x8847
GRE_MPLS_MULTICAST = 0x8848

VXLAN_PORT = 4789

# Encapsulations nest (GRE in IP-in-IP in VXLAN...), each one a few decoding calls deep: a
# crafted packet of thousands of nested headers must not exhaust the stack. The limit counts
# the parts of Packet.tunnel (one to three per encapsulation); real mirrors need under ten.
MAX_TUNNEL_LAYERS = 16

_GRE_CHECKSUM = 0x8000
_GRE_ROUTING = 0x4000
_GRE_KEY = 0x2000
_GRE_SEQUENCE = 0x1000
_GRE_VERSION = 0x0007

_U16_PAIR = struct.Struct("!HH")
_U32 = struct.Struct("!I")

_ETHERNET_HEADER = 14

# decode(ip_or_frame_bytes, offset, end, packet): how the inner packet of a tunnel is decoded.
InnerDecode = Callable[[memoryview, int, int, Packet], None]


class InnerDecoders(NamedTuple):
    """capture/decode.py's IP and Ethernet decoders, handed in by its dispatch point (so this
    module needs no import of it: the recursion runs through arguments, not a module cycle)."""

    ip: InnerDecode
    ethernet: InnerDecode


def decode_tunnel(
    layer: str,
    number: int,
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    inner: InnerDecoders,
) -> bool:
    """Decode the inner packet of an encapsulation into ``packet`` (see the module docstring).

    ``layer``/``number`` say what announced the encapsulation: ``"ip"`` and an IP protocol,
    ``"udp"`` and a destination port, or ``"ethertype"`` and an ethertype; ``offset``..``end``
    is the encapsulated part of ``buf``.
    """
    if len(packet.tunnel) >= MAX_TUNNEL_LAYERS:
        packet.malformed = f"{MAX_TUNNEL_LAYERS} tunnel layers already: decoding stops here"
        return False
    saved = copy.copy(packet)
    outer_version = packet.ip_version
    outer = _outer_label(packet) if layer != "ethertype" else packet.tunnel
    packet.ip_version = 0
    packet.malformed = ""
    if layer == "ip":
        path = _ip_payload(number, buf, offset, end, packet, outer, outer_version, inner)
    elif layer == "udp" and number == VXLAN_PORT:
        path = _vxlan(buf, offset, end, packet, outer, inner)
    elif layer == "ethertype" and number in (GRE_MPLS, GRE_MPLS_MULTICAST):
        path = _mpls(buf, offset, end, packet, outer, inner)
    else:
        path = None
    if path is None or packet.ip_version == 0:
        problem = packet.malformed
        _restore(packet, saved)
        if path is not None and problem:
            packet.malformed = f"inside {' '.join(path)}: {problem}"
        return False
    return True


def _ip_payload(
    proto: int,
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    outer: tuple[str, ...],
    outer_version: int,
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    if proto == IpProto.IPIP or proto == IpProto.IPV6:
        if offset >= end:
            return None
        inner_version = buf[offset] >> 4
        expected = 4 if proto == IpProto.IPIP else 6
        if inner_version != expected:
            return None
        path = (*outer, f"{inner_version}in{outer_version}")
        packet.tunnel = path
        inner.ip(buf, offset, end, packet)
        return path
    if proto == IpProto.GRE:
        return _gre(buf, offset, end, packet, outer, inner)
    if proto == IpProto.MPLS_IN_IP:
        return _mpls(buf, offset, end, packet, outer, inner)
    return None


def _gre(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    outer: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    if end - offset < 4:
        return None
    flags, protocol = _U16_PAIR.unpack_from(buf, offset)
    if flags & (_GRE_ROUTING | _GRE_VERSION):
        return None  # RFC 1701 source routing or PPTP's enhanced GRE: not a mirror tunnel
    position = offset + 4
    if flags & _GRE_CHECKSUM:
        position += 4
    label = "gre"
    if flags & _GRE_KEY:
        if end - position < 4:
            return None
        label = f"gre key {_U32.unpack_from(buf, position)[0]}"
        position += 4
    if flags & _GRE_SEQUENCE:
        position += 4
    if position > end:
        return None
    path = (*outer, label)
    if protocol in (GRE_IPV4, GRE_IPV6):
        packet.tunnel = path
        inner.ip(buf, position, end, packet)
        return path
    if protocol == GRE_TRANSPARENT_ETHERNET:
        return _ethernet(buf, position, end, packet, path, inner)
    if protocol == GRE_ERSPAN_1_2:
        if not flags & _GRE_SEQUENCE:
            return _ethernet(buf, position, end, packet, (*path, "erspan-1"), inner)
        return _erspan_2(buf, position, end, packet, path, inner)
    if protocol == GRE_ERSPAN_3:
        return _erspan_3(buf, position, end, packet, path, inner)
    if protocol in (GRE_MPLS, GRE_MPLS_MULTICAST):
        return _mpls(buf, position, end, packet, path, inner)
    return None


def _erspan_2(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    path: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    # Ver(4) VLAN(12) | COS(3) En(2) T(1) Session ID(10) | Reserved(12) Index(20)
    if end - offset < 8:
        return None
    version_vlan, session = _U16_PAIR.unpack_from(buf, offset)
    if version_vlan >> 12 != 1:
        return None
    span = session & 0x03FF
    return _ethernet(buf, offset + 8, end, packet, (*path, f"erspan-2 span {span}"), inner)


def _erspan_3(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    path: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    # Ver(4) VLAN(12) | COS(3) BSO(2) T(1) Session ID(10) | Timestamp(32) | SGT(16) |
    # P(1) FT(5) Hw ID(6) D(1) Gra(2) O(1); O set: an 8-byte platform-specific subheader.
    if end - offset < 12:
        return None
    version_vlan, session = _U16_PAIR.unpack_from(buf, offset)
    if version_vlan >> 12 != 2:
        return None
    span = session & 0x03FF
    last = _U16_PAIR.unpack_from(buf, offset + 8)[1]
    frame_type = (last >> 10) & 0x1F
    position = offset + 12 + (8 if last & 0x0001 else 0)
    if position > end:
        return None
    label = (*path, f"erspan-3 span {span}")
    if frame_type == 0:
        return _ethernet(buf, position, end, packet, label, inner)
    if frame_type == 2:
        packet.tunnel = label
        inner.ip(buf, position, end, packet)
        return label
    return None


def _vxlan(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    outer: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    # Flags(8, I = 0x08) | Reserved(24) | VNI(24) | Reserved(8)
    if end - offset < 8 or not buf[offset] & 0x08:
        return None
    vni = _U32.unpack_from(buf, offset + 4)[0] >> 8
    return _ethernet(buf, offset + 8, end, packet, (*outer, f"vxlan vni {vni}"), inner)


def _mpls(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    outer: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    labels: list[str] = []
    position = offset
    while True:
        if end - position < 4:
            return None
        entry = _U32.unpack_from(buf, position)[0]
        labels.append(str(entry >> 12))
        position += 4
        if entry & 0x100:  # bottom of stack
            break
    path = (*outer, "mpls " + "/".join(labels))
    if position >= end:
        return None
    first_nibble = buf[position] >> 4
    if first_nibble in (4, 6):
        packet.tunnel = path
        inner.ip(buf, position, end, packet)
        return path
    if first_nibble == 0:
        # RFC 4385 section 3: a pseudowire control word, then (RFC 4448) an Ethernet frame.
        return _ethernet(buf, position + 4, end, packet, (*path, "pw-ethernet"), inner)
    return None


def _ethernet(
    buf: memoryview,
    offset: int,
    end: int,
    packet: Packet,
    path: tuple[str, ...],
    inner: InnerDecoders,
) -> tuple[str, ...] | None:
    if end - offset < _ETHERNET_HEADER:
        return None
    packet.tunnel = path
    inner.ethernet(buf, offset, end, packet)
    return path


def _outer_label(packet: Packet) -> tuple[str, ...]:
    """The outer IP layer as it is recorded in ``Packet.tunnel``."""
    return (*packet.tunnel, f"ipv{packet.ip_version} {packet.src}>{packet.dst}")


# Every field of the packet: decoding an encapsulation that turns out not to hold an IP packet
# puts the outer packet back as it was (a field added to Packet is covered without a change).
_PACKET_FIELDS = tuple(f.name for f in fields(Packet))


def _restore(packet: Packet, saved: Packet) -> None:
    for name in _PACKET_FIELDS:
        setattr(packet, name, getattr(saved, name))
