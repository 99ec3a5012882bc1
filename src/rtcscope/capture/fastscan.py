"""Vectorized counting for ``rtcscope info``: the same counts as decode(), a million packets/s.

Creating a Python object per packet caps a scan at a few hundred thousand packets per second.
Here the reader hands over :class:`~rtcscope.capture.reader.RecordBatch` es (a buffer and
the offsets of the records wholly inside it, found by a tight loop over record lengths) and
NumPy reads every header field for all records of a batch at once, through unaligned
big-/little-endian views of the buffer.

Only the common shapes are decoded here: Ethernet (up to two VLAN tags), Linux cooked v1/v2,
raw IP, LINKTYPE_IPV4/IPV6; IPv4 without fragmentation; IPv6 without extension headers;
UDP/TCP/ICMP. A record of any other shape (a fragment, an extension header, a tunnel, a
truncated header, BSD loopback, ...) goes through :func:`rtcscope.capture.decode.decode`, as
do UDP payloads whose first byte is not an RTP/RTCP one (SIP, STUN, DTLS, HEP are rarer and
need more than a few bytes to recognise). The counts are therefore exactly decode()'s; the
tests check that on every capture. Memory stays at a few batches whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from rtcscope.capture.decode import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    TUNNEL_ETHERTYPES,
    TUNNEL_IP_PROTOCOLS,
    TUNNEL_UDP_PORTS,
    VLAN_ETHERTYPES,
    decode,
    is_known_linktype,
)
from rtcscope.capture.info import MIN_MEDIA_PORT, PacketCounts, classify_udp_payload
from rtcscope.capture.packet import LinkType, Record
from rtcscope.capture.reader import RecordBatch

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_VLAN_TYPES = np.array(sorted(VLAN_ETHERTYPES), dtype=np.int64)
_TUNNEL_ETHERTYPES = np.array(sorted(TUNNEL_ETHERTYPES), dtype=np.int64)
_TUNNEL_PROTOCOLS = np.array(sorted(int(p) for p in TUNNEL_IP_PROTOCOLS), dtype=np.int64)
_TUNNEL_PORTS = np.array(sorted(TUNNEL_UDP_PORTS), dtype=np.int64)
# IPv6 next headers that decode() walks (hop-by-hop, routing, fragment, destination, AH).
_IPV6_WALKED = np.array([0, 43, 44, 51, 60], dtype=np.int64)
_RAW_LINKTYPES = (LinkType.RAW, LinkType.RAW_LEGACY_12, LinkType.RAW_LEGACY_14)
_VECTOR_LINKTYPES = frozenset(
    {
        LinkType.ETHERNET,
        LinkType.LINUX_SLL,
        LinkType.LINUX_SLL2,
        LinkType.IPV4,
        LinkType.IPV6,
        *_RAW_LINKTYPES,
    }
)


class _Views:
    """Unaligned integer views of one buffer, indexable by byte offset."""

    def __init__(self, buffer: bytes, endian: str) -> None:
        size = len(buffer)
        self.buffer = memoryview(buffer)
        self.u8 = np.frombuffer(buffer, dtype=np.uint8)
        self.last = size - 1
        self.u16be = np.ndarray((max(size - 1, 0),), dtype=">u2", buffer=buffer, strides=(1,))
        self.u32 = np.ndarray((max(size - 3, 0),), dtype=endian + "u4", buffer=buffer, strides=(1,))

    def byte(self, index: Int64Array) -> Int64Array:
        return self.u8[np.minimum(index, self.last)].astype(np.int64)

    def be16(self, index: Int64Array) -> Int64Array:
        return self.u16be[np.minimum(index, self.last - 1)].astype(np.int64)

    def word(self, index: Int64Array) -> Int64Array:
        return self.u32[index].astype(np.int64)


def count_batches(batches: Iterable[RecordBatch]) -> PacketCounts:
    """Counts over every record of every batch (see capture/info.py for what is counted)."""
    counts = PacketCounts()
    for batch in batches:
        _count_batch(batch, counts)
    return counts


def _count_batch(batch: RecordBatch, counts: PacketCounts) -> None:
    for record in batch.records:
        counts.add_packet(decode(record))
    if not batch.positions:
        return
    views = _Views(batch.buffer, batch.endian)
    pos = np.array(batch.positions, dtype=np.int64)
    if batch.kind == "pcap":
        caplen = views.word(pos + 8)
        data = pos + 16
        times = views.word(pos) * 1_000_000_000 + views.word(pos + 4) * batch.frac_ns
        counts.add_time(int(times.min()))
        counts.add_time(int(times.max()))
        linktypes = np.full(len(pos), batch.linktype, dtype=np.int64)
        interface_ids = np.zeros(len(pos), dtype=np.int64)
    else:
        caplen = views.word(pos + 20)
        data = pos + 28
        local_ids = views.word(pos + 8)
        units = (views.word(pos + 12).astype(np.uint64) << np.uint64(32)) | views.word(
            pos + 16
        ).astype(np.uint64)
        linktypes = np.empty(len(pos), dtype=np.int64)
        interface_ids = np.empty(len(pos), dtype=np.int64)
        for local_id, (global_id, interface) in enumerate(batch.interfaces):
            mine = local_ids == local_id
            if not mine.any():
                continue
            linktypes[mine] = interface.linktype
            interface_ids[mine] = global_id
            counts.add_time(interface.ts_ns(int(units[mine].min())))
            counts.add_time(interface.ts_ns(int(units[mine].max())))
    counts.packets += len(pos)
    counts.bytes += int(caplen.sum())
    end = data + caplen

    scalar = np.zeros(len(pos), dtype=bool)
    for linktype in np.unique(linktypes).tolist():
        rows = np.flatnonzero(linktypes == linktype)
        if not is_known_linktype(linktype):
            counts.unknown_link += len(rows)
        elif linktype not in _VECTOR_LINKTYPES:
            scalar[rows] = True
        else:
            scalar[rows] = _count_link(views, linktype, data[rows], end[rows], counts)

    for row in np.flatnonzero(scalar).tolist():
        start = int(data[row])
        record = Record(
            batch.first_frame + row,
            0,
            int(interface_ids[row]),
            int(linktypes[row]),
            memoryview(batch.buffer)[start : int(end[row])],
            0,
            batch.base + int(pos[row]),
        )
        counts.add_decoded(decode(record))


def _count_link(
    views: _Views, linktype: int, data: Int64Array, end: Int64Array, counts: PacketCounts
) -> BoolArray:
    """Count rows of one link type; returns the rows left for decode()."""
    count = len(data)
    scalar = np.zeros(count, dtype=bool)
    caplen = end - data
    if linktype in (LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2):
        header = {LinkType.ETHERNET: 14, LinkType.LINUX_SLL: 16, LinkType.LINUX_SLL2: 20}[
            LinkType(linktype)
        ]
        type_at = {LinkType.ETHERNET: 12, LinkType.LINUX_SLL: 14, LinkType.LINUX_SLL2: 0}[
            LinkType(linktype)
        ]
        framed = caplen >= header
        scalar |= ~framed
        ethertype = np.where(framed, views.be16(data + type_at), -1)
        l3 = data + header
        for _ in range(2):
            tagged = np.isin(ethertype, _VLAN_TYPES) & (end - l3 >= 4)
            ethertype = np.where(tagged, views.be16(l3 + 2), ethertype)
            l3 = np.where(tagged, l3 + 4, l3)
        scalar |= np.isin(ethertype, _VLAN_TYPES) | np.isin(ethertype, _TUNNEL_ETHERTYPES)
        is_v4 = ~scalar & (ethertype == ETHERTYPE_IPV4)
        is_v6 = ~scalar & (ethertype == ETHERTYPE_IPV6)
    elif linktype == LinkType.IPV4:
        l3 = data
        is_v4 = np.ones(count, dtype=bool)
        is_v6 = ~is_v4
    elif linktype == LinkType.IPV6:
        l3 = data
        is_v6 = np.ones(count, dtype=bool)
        is_v4 = ~is_v6
    else:  # raw IP: the version nibble decides; an empty record or another version is no IP
        l3 = data
        version = np.where(caplen > 0, views.byte(data) >> 4, 0)
        is_v4 = version == 4
        is_v6 = version == 6

    # IPv4 (RFC 791): anything but a plain, whole, unfragmented header goes to decode().
    room = end - l3
    v4 = is_v4 & (room >= 20)
    scalar |= is_v4 & ~v4
    version_ihl = views.byte(l3)
    header_length = (version_ihl & 0x0F) * 4
    total_length = views.be16(l3 + 2)
    flags_fragment = views.be16(l3 + 6)
    bad_v4 = (
        (version_ihl >> 4 != 4)
        | (header_length < 20)
        | (header_length > room)
        | ((total_length != 0) & (total_length < header_length))
        | ((flags_fragment & 0x3FFF) != 0)
    )
    scalar |= v4 & bad_v4
    v4 &= ~bad_v4
    # IPv6 (RFC 8200): extension headers are decode()'s.
    v6 = is_v6 & (room >= 40)
    scalar |= is_v6 & ~v6
    next_header = views.byte(l3 + 6)
    bad_v6 = (version_ihl >> 4 != 6) | np.isin(next_header, _IPV6_WALKED)
    scalar |= v6 & bad_v6
    v6 &= ~bad_v6

    proto = np.where(v4, views.byte(l3 + 9), np.where(v6, next_header, -1))
    tunnel = np.isin(proto, _TUNNEL_PROTOCOLS)
    scalar |= tunnel
    v4 &= ~tunnel
    v6 &= ~tunnel
    payload_length = views.be16(l3 + 4)
    ip_end = np.where(
        v4,
        np.where(total_length == 0, end, np.minimum(end, l3 + total_length)),
        np.where(payload_length == 0, end, np.minimum(end, l3 + 40 + payload_length)),
    )
    l4 = np.where(v4, l3 + header_length, l3 + 40)

    ip = v4 | v6
    udp = ip & (proto == 17)
    short_udp = udp & (ip_end - l4 < 8)
    udp_port = views.be16(l4 + 2)
    udp_tunnel = udp & np.isin(udp_port, _TUNNEL_PORTS)
    to_decode = short_udp | udp_tunnel
    scalar |= to_decode
    ip &= ~to_decode
    udp &= ~to_decode
    v4 &= ~to_decode
    v6 &= ~to_decode

    counts.ipv4 += int(np.count_nonzero(v4))
    counts.ipv6 += int(np.count_nonzero(v6))
    counts.udp += int(np.count_nonzero(udp))
    counts.tcp += int(np.count_nonzero(ip & (proto == 6)))
    counts.icmp += int(np.count_nonzero(ip & ((proto == 1) | (proto == 58))))

    # UDP payload classes: RTP/RTCP here, the rest through classify_udp_payload.
    rows = np.flatnonzero(udp)
    if len(rows):
        length = views.be16(l4[rows] + 4)
        start = l4[rows] + 8
        stop = np.where(length >= 8, np.minimum(ip_end[rows], l4[rows] + length), ip_end[rows])
        size = stop - start
        first = np.where(size >= 1, views.byte(start), -1)
        second = np.where(size >= 2, views.byte(start + 1), -1)
        media_ports = (views.be16(l4[rows]) >= MIN_MEDIA_PORT) & (udp_port[rows] >= MIN_MEDIA_PORT)
        rtp_range = (first >= 128) & (first <= 191) & media_ports
        rtcp_type = rtp_range & (second >= 192) & (second <= 223)
        rtcp_words = views.be16(start + 2)
        rtcp = rtcp_type & (size >= 8) & ((rtcp_words + 1) * 4 <= size)
        rtp = rtp_range & ~rtcp_type & (size >= 12 + 4 * (first & 0x0F))
        counts.udp_classes["rtcp"] += int(np.count_nonzero(rtcp))
        counts.udp_classes["rtp"] += int(np.count_nonzero(rtp))
        others = np.flatnonzero(
            (size >= 1) & ((first <= 63) | ((first >= 65) & (first <= 90)))
        ).tolist()
        if others:
            buffer = views.buffer
            ports = np.stack([views.be16(l4[rows]), udp_port[rows]], axis=1)[others].tolist()
            for index, (sport, dport) in zip(others, ports, strict=True):
                kind = classify_udp_payload(
                    buffer[int(start[index]) : int(stop[index])], sport, dport
                )
                if kind:
                    counts.udp_classes[kind] += 1
    return scalar
