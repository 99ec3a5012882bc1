"""Vectorized counting for ``rtcscope info``: the same counts as decode(), a million packets/s.

Creating a Python object per packet caps a scan at a few hundred thousand packets per second.
Here the reader hands over :class:`~rtcscope.capture.reader.RecordBatch` es (a buffer and
the offsets of the records wholly inside it, found by a tight loop over record lengths) and
NumPy reads every header field for all records of a batch at once, through unaligned
big-/little-endian views of the buffer.

Only the common shapes are decoded here: Ethernet (up to two VLAN tags), Linux cooked v1/v2,
raw IP, LINKTYPE_IPV4/IPV6; IPv4 without fragmentation; IPv6 without extension headers;
UDP/TCP/ICMP/SCTP. A record of any other shape (a fragment, an extension header, a tunnel, a
truncated header, BSD loopback, ...) goes through :func:`rtcscope.capture.decode.decode`, as
do UDP payloads whose first byte is not an RTP/RTCP one (SIP, STUN, DTLS, HEP are rarer and
need more than a few bytes to recognise). With ``PacketCounts.decode_streams`` (the scan
sets it when SIP over TCP/WebSocket/SCTP and TLS flows are counted) every TCP and SCTP record
goes through decode() too: those counts need their stream, not their first bytes. The counts
are therefore exactly decode()'s; the tests check that on every capture. Memory stays at a
few batches whatever the file size.

IP reassembly (on by default) costs the bulk nothing: an unfragmented packet never reaches
the defragmenter (``pipeline.packets`` does not feed it those either), and every fragment is
one of the unusual records above, so the records decoded one by one are handed to
:meth:`PacketCounts.add_decoded <rtcscope.capture.info.PacketCounts.add_decoded>` in file
order, with their capture times, and it feeds the fragments to the pipeline's defragmenter.
"""

from __future__ import annotations

import ipaddress
import mmap
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from rtcscope._roads import c_function
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
from rtcscope.capture.info import (
    MIN_MEDIA_PORT,
    PacketCounts,
    classify_udp_payload,
    count_sip_columns,
)
from rtcscope.capture.packet import LinkType, Packet, Record
from rtcscope.capture.reader import RecordBatch

# Offsets within a batch buffer (at most a few MB) fit in 32 bits: half the memory traffic.
Int64Array = npt.NDArray[np.integer[Any]]
BoolArray = npt.NDArray[np.bool_]

_VLAN_TYPES = np.array(sorted(VLAN_ETHERTYPES), dtype=np.int64)
_TUNNEL_ETHERTYPES = np.array(sorted(TUNNEL_ETHERTYPES), dtype=np.int64)
_TUNNEL_PROTOCOLS = np.array(sorted(int(p) for p in TUNNEL_IP_PROTOCOLS), dtype=np.int64)
_TUNNEL_PORTS = np.array(sorted(TUNNEL_UDP_PORTS), dtype=np.int64)
# IPv6 next headers that decode() walks (hop-by-hop, routing, fragment, destination, AH).
_IPV6_WALKED = np.array([0, 43, 44, 51, 60], dtype=np.int64)


def _any_of(values: Int64Array, choices: Iterable[int]) -> BoolArray:
    """values == any of a few choices (cheaper than np.isin for two to five choices)."""
    found = np.zeros(len(values), dtype=bool)
    for choice in choices:
        found |= values == int(choice)
    return found


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


# An untagged Ethernet frame's header fields at fixed offsets: IPv4 with a 20-byte header
# (the common case; options go to decode()) or IPv6 without extension headers, then UDP and
# the first four payload bytes. A frame with one or two VLAN tags is read 4 or 8 bytes
# further on.
# Big-endian 16-bit fields are all at even offsets: columns of the window read as ">u2".
ETHERNET_WINDOW_BYTES = 66
_U16_AT = {
    "ethertype": 12,
    "v4_total": 16,
    "v6_payload": 18,
    "v4_fragment": 20,
    "v4_sport": 34,
    "v4_dport": 36,
    "v4_length": 38,
    "v4_word1": 44,
    "v6_sport": 54,
    "v6_dport": 56,
    "v6_length": 58,
    "v6_word1": 64,
}
_U8_AT = {
    "version_ihl": 14,
    "v6_next": 20,
    "v4_proto": 23,
    "v4_byte0": 42,
    "v4_byte1": 43,
    "v6_byte0": 62,
    "v6_byte1": 63,
}


class _Window:
    """Fixed-offset fields of gathered frame windows (one row of bytes per frame)."""

    def __init__(self, rows: npt.NDArray[np.uint8]) -> None:
        self.rows = rows
        self.words = rows.view(">u2")

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        # Column views, not copies: NumPy widens them where arithmetic mixes them with int64.
        if name in _U16_AT:
            return self.words[:, _U16_AT[name] // 2]
        return self.rows[:, _U8_AT[name]]


class Views:
    """Unaligned integer views of one buffer, indexable by byte offset."""

    def __init__(self, buffer: bytes | mmap.mmap, endian: str) -> None:
        size = len(buffer)
        self.buffer = memoryview(buffer)
        self.u8 = np.frombuffer(buffer, dtype=np.uint8)
        self.last = size - 1
        self.u16be = np.ndarray((max(size - 1, 0),), dtype=">u2", buffer=buffer, strides=(1,))
        self.u32be = np.ndarray((max(size - 3, 0),), dtype=">u4", buffer=buffer, strides=(1,))
        self.endian = endian
        self.u32 = np.ndarray((max(size - 3, 0),), dtype=endian + "u4", buffer=buffer, strides=(1,))

    def pcap_headers(self, index: Int64Array) -> npt.NDArray[np.uint32]:
        """pcap record headers at these offsets: columns seconds, fraction, caplen, length.

        Gathered as 16-byte opaque items (one copy each, fast), then read as four u32.
        """
        view = np.ndarray(
            (len(self.buffer) - 15,),
            dtype=np.dtype((np.void, 16)),
            buffer=self.buffer,
            strides=(1,),
        )
        return view[index].view(self.endian + "u4").reshape(-1, 4)

    def ethernet_rows(self, index: Int64Array) -> npt.NDArray[np.uint8]:
        """The first ``ETHERNET_WINDOW_BYTES`` bytes of frames at these offsets, a row each."""
        size = ETHERNET_WINDOW_BYTES
        view = np.ndarray(
            (len(self.buffer) - size + 1,),
            dtype=np.dtype((np.void, size)),
            buffer=self.buffer,
            strides=(1,),
        )
        rows: npt.NDArray[np.uint8] = view[index].view(np.uint8).reshape(-1, size)
        return rows

    def byte(self, index: Int64Array) -> Int64Array:
        return self.u8[np.minimum(index, self.last)].astype(np.int64)

    def be16(self, index: Int64Array) -> Int64Array:
        return self.u16be[np.minimum(index, self.last - 1)].astype(np.int64)

    def be32(self, index: Int64Array) -> Int64Array:
        return self.u32be[np.minimum(index, self.last - 3)].astype(np.int64)

    def word(self, index: Int64Array) -> Int64Array:
        return self.u32[index].astype(np.int64)


class BatchRows:
    """Where each record of a batch lies and when it was captured: enough to count it
    vectorized, or to hand any row out as a :class:`Record` for decode().

    Rows are the batch's ``positions`` (in order); ``frames[row]`` is a row's frame number.
    The ready-made records of the batch (pcapng simple and obsolete packet blocks) are not
    rows: :meth:`records` merges them in by frame number.
    """

    def __init__(self, batch: RecordBatch) -> None:
        self.batch = batch
        self.count = len(batch.positions)
        self.frames = _position_frames(batch)
        views = Views(batch.buffer, batch.endian) if self.count else None
        self.views = views
        pos = np.array(batch.positions, dtype=np.int32)
        if batch.bias:
            pos -= batch.bias
        self.pos = pos
        self.times: npt.NDArray[np.int64] | None = None
        self.local_ids: Int64Array | None = None
        self.units: npt.NDArray[np.uint64] | None = None
        # Set by count_batch: rows that are plain UDP whose payload cannot start a SIP message
        # nor be a keep-alive (RTP, STUN, DTLS...): a SIP-only pass need not decode them.
        self.not_sip: BoolArray | None = None
        # Set by count_batch when every row is Ethernet: the frame windows it read, for the
        # RTP tap to read the same rows' fields from (one gather per batch, not two).
        self.ethernet: EthernetWindows | None = None
        if views is None:
            self.data = self.end = pos
            self.linktypes = self.interface_ids = pos.astype(np.int64)
            return
        if batch.kind == "pcap":
            headers = views.pcap_headers(pos)
            caplen = headers[:, 2].astype(np.int32)
            self.data = pos + 16
            self.times = (
                headers[:, 0].astype(np.int64) * 1_000_000_000
                + headers[:, 1].astype(np.int64) * batch.frac_ns
            )
            self.linktypes = np.full(len(pos), batch.linktype, dtype=np.int64)
            self.interface_ids = np.zeros(len(pos), dtype=np.int64)
        else:
            caplen = views.word(pos + 20).astype(np.int32)
            self.data = pos + 28
            local_ids = views.word(pos + 8)
            self.local_ids = local_ids
            self.units = (views.word(pos + 12).astype(np.uint64) << np.uint64(32)) | views.word(
                pos + 16
            ).astype(np.uint64)
            self.linktypes = np.empty(len(pos), dtype=np.int64)
            self.interface_ids = np.empty(len(pos), dtype=np.int64)
            for local_id, (global_id, interface) in enumerate(batch.interfaces):
                mine = local_ids == local_id
                self.linktypes[mine] = interface.linktype
                self.interface_ids[mine] = global_id
            self.times = _epb_times(batch, local_ids, self.units)
        self.caplen = caplen
        self.end = self.data + caplen

    def ts_ns(self, rows: list[int]) -> list[int]:
        """Capture times of these rows."""
        if not rows:
            return []  # (a batch of simple packet blocks only has no rows nor times)
        if self.times is not None:
            return self.times[rows].tolist()  # type: ignore[no-any-return]
        assert self.local_ids is not None and self.units is not None
        interfaces = self.batch.interfaces
        return [interfaces[int(self.local_ids[row])][1].ts_ns(int(self.units[row])) for row in rows]

    def orig_lens(self, rows: list[int]) -> list[int]:
        """Original (on the wire) lengths of these rows."""
        views = self.views
        if views is None or not rows:
            return [0] * len(rows)
        pos = self.pos[rows]
        if self.batch.kind == "pcap":
            return views.pcap_headers(pos)[:, 3].tolist()  # type: ignore[no-any-return]
        return views.word(pos + 24).tolist()  # type: ignore[no-any-return]

    def records(self, rows: list[int], ready: bool = True) -> list[Record]:
        """These rows as records (with the batch's ready-made ones when ``ready``), in frame
        order."""
        batch = self.batch
        buffer = memoryview(batch.buffer)
        frames = self.frames
        base = batch.base
        # Each column converted once for these rows (a NumPy scalar read per field and row
        # cost more than the Record itself).
        out = [
            Record(frames[row], ts_ns, interface, linktype, buffer[start:stop], size, base + pos)
            for row, ts_ns, interface, linktype, start, stop, size, pos in zip(
                rows,
                self.ts_ns(rows),
                self.interface_ids[rows].tolist(),
                self.linktypes[rows].tolist(),
                self.data[rows].tolist(),
                self.end[rows].tolist(),
                self.orig_lens(rows),
                self.pos[rows].tolist(),
                strict=True,
            )
        ]
        if ready and batch.records:
            out += batch.records
            out.sort(key=lambda record: record.frame)
        return out

    def _plain_udp(self, rows: list[int]) -> _PlainUdp | None:
        """decode()'s one-step shape (Ethernet, IPv4 without options, whole, UDP, no tunnel
        port) among ``rows``, read from the batch's columns: None when the batch cannot be
        read so (no rows, a buffer shorter than one window)."""
        views = self.views
        room = -1 if views is None else len(views.buffer) - ETHERNET_WINDOW_BYTES
        if views is None or not rows or room < 0:
            return None
        picked = np.array(rows, dtype=np.int64)
        data = self.data[picked].astype(np.int64)
        end = self.end[picked].astype(np.int64)
        window = _Window(views.ethernet_rows(np.minimum(data, room)))
        total = window["v4_total"].astype(np.int64)
        length = window["v4_length"].astype(np.int64)
        # decode()'s one-step test, column by column (a frame near the buffer's end, whose
        # window would run past it, goes the record way).
        plain = (
            (data <= room)
            & (self.linktypes[picked] == LinkType.ETHERNET)
            & (end - data >= 42)
            & (window["ethertype"] == ETHERTYPE_IPV4)
            & (window["version_ihl"] == 0x45)
            & (window["v4_proto"] == 17)
            & (total >= 28)
            & ((window["v4_fragment"] & 0x3FFF) == 0)
            & ~_any_of(window["v4_dport"], TUNNEL_UDP_PORTS)
        )
        stop = np.minimum(end, data + 14 + total)
        stop = np.where(length >= 8, np.minimum(stop, data + 34 + length), stop)
        stop = np.maximum(stop, data + 42)  # decode(): data[42:end] is empty when end < 42
        return _PlainUdp(picked, data, end, stop, plain, window)

    def packets(
        self, rows: list[int], decode_record: Callable[[Record], Packet] = decode
    ) -> list[Packet]:
        """These rows decoded, in the order given: the packets ``decode`` gives for
        ``records(rows, ready=False)``, the common frame (Ethernet, IPv4 without options,
        whole, UDP, no tunnel port: decode()'s one-step shape) read from the batch's columns
        without a Record nor a struct read each (a SIP-heavy capture hands over a SIP
        datagram every few rows); every other row as a Record through ``decode_record``."""
        found = self._plain_udp(rows)
        if found is None or not found.plain.any():
            return [decode_record(record) for record in self.records(rows, ready=False)]
        picked, data, end, stop, plain, window = found
        head = window.rows
        at = np.flatnonzero(plain)
        u32 = np.uint32
        addresses = head[at, 26:34].copy().view(">u4").astype(u32).reshape(-1, 2)
        texts = ipv4_texts(addresses)
        assert self.views is not None
        buffer = self.views.buffer
        frames = self.frames
        kept = [rows[i] for i in at.tolist()]
        # Per row: frame, time, interface, where the frame begins and ends, length on the
        # wire, source and destination, ports, where the UDP payload ends, TTL, IP id.
        made = [
            Packet(
                frames[r],
                t,
                i,
                1,
                buffer[a:b],
                n,
                4,
                texts[s],
                texts[d],
                17,
                sp,
                dp,
                buffer[a + 42 : e],
                (),
                (),
                ttl,
                ident,
            )
            for r, t, i, a, b, n, s, d, sp, dp, e, ttl, ident in zip(
                kept,
                self.ts_ns(kept),
                self.interface_ids[picked[at]].tolist(),
                data[at].tolist(),
                end[at].tolist(),
                self.orig_lens(kept),
                addresses[:, 0].tolist(),
                addresses[:, 1].tolist(),
                window["v4_sport"][at].tolist(),
                window["v4_dport"][at].tolist(),
                stop[at].tolist(),
                head[at, 22].tolist(),
                window.words[at, 9].tolist(),
                strict=True,
            )
        ]
        if len(made) == len(rows):
            return made
        others = np.flatnonzero(~plain).tolist()
        out: list[Packet] = [None] * len(rows)  # type: ignore[list-item]
        for i, packet in zip(at.tolist(), made, strict=True):
            out[i] = packet
        for i, record in zip(
            others, self.records([rows[i] for i in others], ready=False), strict=True
        ):
            out[i] = decode_record(record)
        return out

    def sip_datagrams(self, rows: list[int]) -> UdpDatagrams | None:
        """The rows among ``rows`` that decode() reads in one step (:meth:`packets`) and whose
        UDP payload is not empty and starts with a byte a SIP message or a keep-alive starts
        with (RFC 3261 7: a method's letter, CR or LF), as columns: what a SIP framer reads
        of a datagram, without a Packet. None: no such row."""
        found = self._plain_udp(rows)
        if found is None:
            return None
        picked, data, _, stop, plain, window = found
        start = data + 42
        # The payload's first byte is the window's column 42 on every plain row.
        at = np.flatnonzero(plain & (stop > start) & _SIP_FIRST[window.rows[:, 42]])
        if not len(at):
            return None
        kept = picked[at]
        sources, destinations = address_texts(window.rows[at, 26:34].view(">u4").astype(np.uint32))
        frames = self.frames
        kept_rows = kept.tolist()
        return UdpDatagrams(
            kept_rows,
            (kept + frames.start).tolist()
            if isinstance(frames, range)
            else [frames[row] for row in kept_rows],
            self.times[kept].tolist() if self.times is not None else self.ts_ns(kept_rows),
            sources,
            window["v4_sport"][at].astype(np.int64),
            destinations,
            window["v4_dport"][at].astype(np.int64),
            start[at],
            stop[at],
        )


class _PlainUdp(NamedTuple):
    """What :meth:`BatchRows._plain_udp` read: the rows (array), where each frame's data
    begins and ends, where its UDP payload ends, which rows have the one-step shape, and
    the gathered windows."""

    picked: Int64Array
    data: Int64Array
    end: Int64Array
    stop: Int64Array
    plain: BoolArray
    window: _Window


class EthernetWindows(NamedTuple):
    """What the counts tap read of a batch whose rows are all Ethernet, one item per row:
    the first ``ETHERNET_WINDOW_BYTES`` bytes from the row's last VLAN tag on (``base``: the
    frame's start, 4 bytes further per tag), whether it holds plain IPv4 or IPv6 as
    :func:`link_layer` reads it (framed, at most two tags, no tunnel ethertype), and the
    rows whose window could not be read (it would run past the buffer's end: garbage there,
    and both flags false; :func:`link_layer` reads them)."""

    rows: npt.NDArray[np.uint8]
    base: Int64Array
    v4: BoolArray
    v6: BoolArray
    unfit: BoolArray


class UdpDatagrams(NamedTuple):
    """UDP datagrams of a batch as columns (one item per datagram, capture order): rows,
    frames, capture times (ns), addresses (decode()'s texts, shared), ports, and where each
    payload begins and ends in the batch's buffer. The ports and offsets are int64 arrays
    (read as numbers by the SIP framer's C road, no int object each), the rest lists."""

    rows: list[int]
    frames: list[int]
    ts_ns: list[int]
    srcs: list[str]
    sports: Int64Array
    dsts: list[str]
    dports: Int64Array
    starts: Int64Array
    stops: Int64Array


# Dotted quads of IPv4 addresses by their number (decode() keeps its own by their bytes),
# for the SIP rows' packets and the RTP tap's stream keys alike.
_IPV4_TEXTS: dict[int, str] = {}
_IPV4_TEXTS_MAX = 65536


def ipv4_texts(addresses: npt.NDArray[np.unsignedinteger[Any]]) -> dict[int, str]:
    """A map holding the text of each address (numbers as decode's ``format_ipv4`` writes
    them), among others."""
    return ipv4_text_map(set(addresses.ravel().tolist()))


def ipv4_text_map(values: set[int]) -> dict[int, str]:
    """:func:`ipv4_texts` for addresses given as a set of numbers."""
    return _text_map(values, _IPV4_TEXTS, _IPV4_TEXTS_MAX, dotted_quads)


def _text_map(
    values: set[int], texts: dict[int, str], limit: int, quads: Callable[[list[int]], list[str]]
) -> dict[int, str]:
    """``texts`` holding the text of each of ``values`` (at most ``limit`` texts: emptied
    first when the new ones would not fit), the missing ones written by ``quads``."""
    # A set difference against the dict (C-level, no sort): np.unique sorted every batch's
    # addresses (and loaded numpy.ma on its first call) to find the few new ones.
    missing = values.difference(texts)
    if missing:
        if len(texts) + len(missing) > limit:
            texts.clear()  # a scan of many hosts: forget the older ones
            missing = values
        new = list(missing)
        texts.update(zip(new, quads(new), strict=True))
    return texts


_OCTET_TEXTS = [str(octet) for octet in range(256)]


def _dotted_quads_py(values: list[int]) -> list[str]:
    """The dotted quad of each IPv4 address number (0 <= value < 2**32), as decode's
    ``format_ipv4`` writes it: the specification of the C road (capture/_startline.c)."""
    octet = _OCTET_TEXTS  # (a list lookup each: half the cost of formatting four ints)
    return [
        f"{octet[value >> 24]}.{octet[(value >> 16) & 255]}."
        f"{octet[(value >> 8) & 255]}.{octet[value & 255]}"
        for value in values
    ]


def _address_texts_py(
    addresses: npt.NDArray[np.uint32], texts: dict[int, str], limit: int
) -> tuple[list[str], list[str]]:
    """The texts of a SIP batch's (source, destination) address pairs (an (n, 2) array),
    each taken from ``texts`` (``ipv4_text_map``'s dict, at most ``limit`` texts: emptied
    when full) or made and kept there: the specification of the C road (capture/_startline.c,
    which empties a full dict before the address that would overflow it, not before the batch:
    the same texts either way)."""
    sources, destinations = addresses[:, 0].tolist(), addresses[:, 1].tolist()
    text = _text_map(set(sources).union(destinations), texts, limit, _dotted_quads_py).__getitem__
    return list(map(text, sources)), list(map(text, destinations))


# Which road the address texts take: "c" (rtcscope.capture._startline, where it was built)
# unless RTCSCOPE_PURE is set, else "python".
ADDRESS_TEXT_ROAD = "python"
dotted_quads: Callable[[list[int]], list[str]] = _dotted_quads_py
_address_texts: Callable[
    [npt.NDArray[np.uint32], dict[int, str], int], tuple[list[str], list[str]]
] = _address_texts_py
if (_c_dotted := c_function("rtcscope.capture._startline", "dotted_quads")) is not None and (
    _c_texts := c_function("rtcscope.capture._startline", "address_texts")
) is not None:
    ADDRESS_TEXT_ROAD = "c"
    dotted_quads = _c_dotted
    _address_texts = _c_texts


def address_texts(addresses: npt.NDArray[np.uint32]) -> tuple[list[str], list[str]]:
    """The source and destination texts of (source, destination) IPv4 address pairs (an
    (n, 2) array of numbers), shared with :func:`ipv4_text_map`'s."""
    return _address_texts(np.ascontiguousarray(addresses), _IPV4_TEXTS, _IPV4_TEXTS_MAX)


def _epb_times(
    batch: RecordBatch, local_ids: Int64Array, units: npt.NDArray[np.uint64]
) -> npt.NDArray[np.int64] | None:
    """Enhanced Packet Block times in nanoseconds, as ``Interface.ts_ns`` gives them, for the
    common resolutions (10^-n s, n <= 9) when no time can leave int64; else None (the rows'
    times are then converted one by one)."""
    times = np.empty(len(units), dtype=np.int64)
    if len(units) and int(local_ids.max()) >= len(batch.interfaces):
        return None
    for local_id, (_, interface) in enumerate(batch.interfaces):
        mine = local_ids == local_id
        if not mine.any():
            continue
        resol = interface.tsresol
        if resol & 0x80 or resol > 9:
            return None
        factor = 10 ** (9 - resol)
        offset_ns = interface.tsoffset_s * 1_000_000_000
        picked = units[mine]
        if abs(offset_ns) >= 1 << 62 or int(picked.max()) > ((1 << 62) - 1) // factor:
            return None  # beyond year 2116: Interface.ts_ns clamps, one by one
        times[mine] = picked.astype(np.int64) * factor + offset_ns
    return times


def count_batch(rows: BatchRows, counts: PacketCounts, mark_not_sip: bool = False) -> list[int]:
    """Count what can be counted of one batch without decode(); returns the rows left for
    decode() and :meth:`PacketCounts.add_decoded` (the caller decodes them, once, in file
    order with the batch's ready-made records: the defragmenter depends on both).

    Packets, bytes and times are counted here for every record, rows left over included.
    ``mark_not_sip``: also set ``rows.not_sip`` (Ethernet rows; a pass that reads SIP only).
    """
    batch = rows.batch
    for record in batch.records:
        counts.packets += 1
        counts.bytes += len(record.data)
        counts.add_time(record.ts_ns)
    if not rows.count:
        return []
    views = rows.views
    assert views is not None
    if rows.times is not None:
        counts.add_time(int(rows.times.min()))
        counts.add_time(int(rows.times.max()))
    else:
        assert rows.local_ids is not None and rows.units is not None
        for local_id, (_, interface) in enumerate(batch.interfaces):
            mine = rows.local_ids == local_id
            if not mine.any():
                continue
            counts.add_time(interface.ts_ns(int(rows.units[mine].min())))
            counts.add_time(interface.ts_ns(int(rows.units[mine].max())))
    counts.packets += rows.count
    counts.bytes += int(rows.caplen.sum())
    data, end, linktypes = rows.data, rows.end, rows.linktypes

    scalar = np.zeros(rows.count, dtype=bool)
    kinds = [batch.linktype] if batch.kind == "pcap" else np.unique(linktypes).tolist()
    for linktype in kinds:
        picked = (
            np.arange(rows.count) if batch.kind == "pcap" else np.flatnonzero(linktypes == linktype)
        )
        if not is_known_linktype(linktype):
            counts.unknown_link += len(picked)
        elif linktype not in _VECTOR_LINKTYPES:
            scalar[picked] = True
        elif linktype == LinkType.ETHERNET:
            not_sip = np.zeros(len(picked), dtype=bool) if mark_not_sip else None
            every = len(picked) == rows.count
            left_rows, windows = _count_ethernet(
                views,
                data if every else data[picked],
                end if every else end[picked],
                counts,
                not_sip,
            )
            scalar[picked] = left_rows
            if every:
                rows.ethernet = windows
            if not_sip is not None:
                if rows.not_sip is None:
                    rows.not_sip = np.zeros(rows.count, dtype=bool)
                rows.not_sip[picked] = not_sip
        else:
            scalar[picked] = _count_link(views, linktype, data[picked], end[picked], counts)
    left: list[int] = np.flatnonzero(scalar).tolist()
    return left


def _position_frames(batch: RecordBatch) -> list[int] | range:
    """Frame number of each position: the batch's frames, less those of its ready records."""
    first = batch.first_frame
    if not batch.records:
        return range(first, first + len(batch.positions))
    taken = {record.frame for record in batch.records}
    every = range(first, first + len(batch.positions) + len(batch.records))
    return [frame for frame in every if frame not in taken]


# Bytes a SIP message (or the CR/LF before it) can start with, as a lookup table.
_SIP_FIRST = np.zeros(256, dtype=bool)
_SIP_FIRST[list(b"\r\nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")] = True


def _count_ethernet(
    views: Views,
    data: Int64Array,
    end: Int64Array,
    counts: PacketCounts,
    not_sip: BoolArray | None = None,
) -> tuple[BoolArray, EthernetWindows | None]:
    """Ethernet rows through one structured gather; returns the rows left for decode() and
    the windows read (None: a buffer shorter than one window, every row left).
    ``not_sip`` (optional, one per row) is set where a row is plain UDP of 12 bytes or more
    whose first byte cannot start a SIP message (RFC 3261 7: a method's letter, or CR/LF)."""
    count = len(data)
    caplen = end - data
    room_in_buffer = len(views.buffer) - ETHERNET_WINDOW_BYTES
    if room_in_buffer < 0:
        return np.ones(count, dtype=bool), None
    framed = caplen >= 14
    scalar = ~framed
    scalar |= data > room_in_buffer  # the last frames of a buffer: decode() reads them
    frame_rows = views.ethernet_rows(np.minimum(data, room_in_buffer))
    base = data
    for _ in range(2):
        # An 802.1Q/802.1ad tag (or two: QinQ): the same fields, 4 bytes further on.
        tagged = framed & ~scalar & _any_of(_Window(frame_rows)["ethertype"], VLAN_ETHERTYPES)
        if not tagged.any():
            break
        scalar |= tagged & (end - base < 18)
        base = np.where(tagged, base + 4, base)
        scalar |= base > room_in_buffer
        frame_rows[tagged] = views.ethernet_rows(np.minimum(base[tagged], room_in_buffer))
    window = _Window(frame_rows)
    # The fields read more than once, taken in native order once (each reading of a
    # window's big-endian word column converts it again).
    ethertype = window["ethertype"].astype(np.int32)
    scalar |= _any_of(ethertype, VLAN_ETHERTYPES) | _any_of(ethertype, TUNNEL_ETHERTYPES)
    l3 = base + 14
    room = end - l3
    version_ihl = window["version_ihl"]

    is_v4 = ~scalar & (ethertype == ETHERTYPE_IPV4)
    total_length = window["v4_total"].astype(np.int32)
    plain_v4 = (
        (room >= 20)
        & (version_ihl == 0x45)
        & ((total_length == 0) | (total_length >= 20))
        & ((window["v4_fragment"] & 0x3FFF) == 0)
    )
    scalar |= is_v4 & ~plain_v4
    v4 = is_v4 & plain_v4

    is_v6 = ~scalar & (ethertype == ETHERTYPE_IPV6)
    read = EthernetWindows(frame_rows, base, is_v4, is_v6, base > room_in_buffer)
    next_header = window["v6_next"]
    plain_v6 = (room >= 40) & (version_ihl >> 4 == 6) & ~_any_of(next_header, _IPV6_WALKED)
    scalar |= is_v6 & ~plain_v6
    v6 = is_v6 & plain_v6

    proto = np.where(v4, window["v4_proto"], next_header)
    tunnel = (v4 | v6) & _any_of(proto, TUNNEL_IP_PROTOCOLS)
    scalar |= tunnel
    v4 &= ~tunnel
    v6 &= ~tunnel
    payload_length = window["v6_payload"].astype(np.int32)
    ip_end = np.where(
        v4,
        np.where(total_length == 0, end, np.minimum(end, l3 + total_length)),
        np.where(payload_length == 0, end, np.minimum(end, l3 + 40 + payload_length)),
    )
    l4 = np.where(v4, l3 + 20, l3 + 40)
    ip = v4 | v6
    if counts.decode_streams:
        # TCP and SCTP go the per-packet way: SIP over them and TLS flows are counted there.
        streams = ip & ((proto == 6) | (proto == 132))
        scalar |= streams
        ip &= ~streams
    udp = ip & (proto == 17)
    any_v6 = bool(v6.any())  # (an IPv4-only batch reads each field at one place)
    sport = np.where(v4, window["v4_sport"], window["v6_sport"]) if any_v6 else window["v4_sport"]
    dport = np.where(v4, window["v4_dport"], window["v6_dport"]) if any_v6 else window["v4_dport"]
    to_decode = udp & ((ip_end - l4 < 8) | _any_of(dport, TUNNEL_UDP_PORTS))
    scalar |= to_decode
    ip &= ~to_decode
    udp &= ~to_decode

    counts.ipv4 += int(np.count_nonzero(v4 & ip))
    counts.ipv6 += int(np.count_nonzero(v6 & ip))
    counts.udp += int(np.count_nonzero(udp))
    counts.tcp += int(np.count_nonzero(ip & (proto == 6)))
    counts.icmp += int(np.count_nonzero(ip & ((proto == 1) | (proto == 58))))
    counts.sctp += int(np.count_nonzero(ip & (proto == 132)))

    rows = np.flatnonzero(udp)
    if len(rows):
        row_v4 = v4[rows]

        def column(v4_name: str, v6_name: str) -> npt.NDArray[Any]:
            """A field of the UDP rows, read at its IPv4 or its IPv6 place."""
            picked = window[v4_name][rows]
            return np.where(row_v4, picked, window[v6_name][rows]) if any_v6 else picked

        length = column("v4_length", "v6_length").astype(np.int64)
        row_l4 = l4[rows]
        start = row_l4 + 8
        row_end = ip_end[rows]
        stop = np.where(length >= 8, np.minimum(row_end, row_l4 + length), row_end)
        size = stop - start
        first = np.where(size >= 1, column("v4_byte0", "v6_byte0"), -1)
        second = np.where(size >= 2, column("v4_byte1", "v6_byte1"), -1)
        words = column("v4_word1", "v6_word1").astype(np.int64)
        _classify_rows(
            views,
            first,
            second,
            words,
            size,
            start,
            stop,
            sport[rows],
            dport[rows],
            counts,
            _status_lines(window.rows, rows, row_v4 & (size >= 11) & (first == 0x53)),
        )
        if not_sip is not None:
            not_sip[rows] = (size >= 12) & ~_SIP_FIRST[np.maximum(first, 0)] & (first >= 0)
    # A frame shorter than the Ethernet header holds no IP: decode() would count nothing in
    # it, so it is not left for decode() (a flood of empty records must not cost a decode each).
    return scalar & framed, read


_STATUS_PREFIX = int.from_bytes(b"SIP/2.0 ", "little")


def _status_lines(
    frame_rows: npt.NDArray[np.uint8], rows: Int64Array, long: BoolArray
) -> BoolArray:
    """Which of these IPv4 UDP rows (``rows`` of the gathered Ethernet windows, ``long``:
    an "S" first and 11 bytes of payload or more) start with a SIP status line,
    ``SIP/2.0 NNN`` (RFC 3261 7.2): what count_sip_columns' match takes for a response,
    decided on the window's byte columns (the payload's first 11 bytes)."""
    found = np.zeros(len(rows), dtype=bool)
    at = np.flatnonzero(long)
    if len(at):
        picked = rows[at]
        # Column gathers (a row-and-slice gather copies each row's few bytes one by one).
        found[at] = frame_rows[:, 42:50].view("<u8")[picked, 0] == _STATUS_PREFIX
        for column in (50, 51, 52):
            found[at] &= (frame_rows[picked, column] - 48) <= 9
    return found


def _classify_rows(
    views: Views,
    first: Int64Array,
    second: Int64Array,
    rtcp_words: Int64Array,
    size: Int64Array,
    start: Int64Array,
    stop: Int64Array,
    sport: Int64Array,
    dport: Int64Array,
    counts: PacketCounts,
    status_lines: BoolArray | None = None,
) -> None:
    """RTP/RTCP and HEP by the first bytes, SIP by its start line; every other candidate
    through classify_udp_payload. ``status_lines`` (optional): the rows already known to
    start with a SIP status line (:func:`_status_lines`), counted without a per-row test."""
    media_ports = (sport >= MIN_MEDIA_PORT) & (dport >= MIN_MEDIA_PORT)
    rtp_range = (first >= 128) & (first <= 191) & media_ports
    rtcp_type = rtp_range & (second >= 192) & (second <= 223)
    rtcp = rtcp_type & (size >= 8) & ((rtcp_words + 1) * 4 <= size)
    rtp = rtp_range & ~rtcp_type & (size >= 12 + 4 * (first & 0x0F))
    counts.udp_classes["rtcp"] += int(np.count_nonzero(rtcp))
    counts.udp_classes["rtp"] += int(np.count_nonzero(rtp))
    # A capital letter first: HEP3/EEP3 (HEP's magic, read from the first four bytes), else
    # SIP when its start line says so (RFC 3261 7.1) - classify_udp_payload's tests, with
    # the start line matched in place on the buffer.
    letter = (first >= 65) & (first <= 90)
    hep = letter & (size >= 4) & ((first == 0x48) | (first == 0x45)) & (second == 0x45)
    hep &= rtcp_words == 0x5033
    counts.udp_classes["hep"] += int(np.count_nonzero(hep))
    candidates = letter & ~hep
    if status_lines is not None:
        counts.udp_classes["sip"] += int(np.count_nonzero(status_lines))
        candidates &= ~status_lines
    maybe_sip = np.flatnonzero(candidates)
    if len(maybe_sip):
        starts = start[maybe_sip]
        stops = stop[maybe_sip]
        counts.udp_classes["sip"] += count_sip_columns(
            views.buffer,
            starts.tolist(),
            stops.tolist(),
            np.minimum(stops, starts + 1024).tolist(),
        )
    others = np.flatnonzero((size >= 1) & (first <= 63))
    if len(others):
        buffer = views.buffer
        for begin, finish, source, destination in zip(
            start[others].tolist(),
            stop[others].tolist(),
            sport[others].tolist(),
            dport[others].tolist(),
            strict=True,
        ):
            kind = classify_udp_payload(buffer[begin:finish], source, destination)
            if kind:
                counts.udp_classes[kind] += 1


# Link header lengths before any VLAN tag.
LINK_HEADER_BYTES: dict[int, int] = {
    LinkType.ETHERNET: 14,
    LinkType.LINUX_SLL: 16,
    LinkType.LINUX_SLL2: 20,
}


def link_layer(
    views: Views, linktype: int, data: Int64Array, end: Int64Array
) -> tuple[Int64Array, BoolArray, BoolArray, BoolArray]:
    """The link layer of rows of one link type (Ethernet, Linux cooked v1/v2 with up to two
    VLAN tags, LINKTYPE_IPV4/IPV6, raw IP): where each row's IP header starts, whether it is
    IPv4 or IPv6, and the rows decode() must read (a truncated link header, more tags, a
    tunnel ethertype)."""
    count = len(data)
    scalar = np.zeros(count, dtype=bool)
    caplen = end - data
    if linktype in (LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2):
        header = LINK_HEADER_BYTES[linktype]
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

    return l3, is_v4, is_v6, scalar


def _count_link(
    views: Views, linktype: int, data: Int64Array, end: Int64Array, counts: PacketCounts
) -> BoolArray:
    """Count rows of one link type; returns the rows left for decode()."""
    l3, is_v4, is_v6, scalar = link_layer(views, linktype, data, end)

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
    if counts.decode_streams:
        streams = ip & ((proto == 6) | (proto == 132))  # as in _count_ethernet
        scalar |= streams
        ip &= ~streams
        v4 &= ~streams
        v6 &= ~streams
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
    counts.sctp += int(np.count_nonzero(ip & (proto == 132)))

    # UDP payload classes: RTP/RTCP here, the rest through classify_udp_payload.
    rows = np.flatnonzero(udp)
    if len(rows):
        length = views.be16(l4[rows] + 4)
        start = l4[rows] + 8
        stop = np.where(length >= 8, np.minimum(ip_end[rows], l4[rows] + length), ip_end[rows])
        size = stop - start
        first = np.where(size >= 1, views.byte(start), -1)
        second = np.where(size >= 2, views.byte(start + 1), -1)
        _classify_rows(
            views,
            first,
            second,
            views.be16(start + 2),
            size,
            start,
            stop,
            views.be16(l4[rows]),
            udp_port[rows],
            counts,
        )
    return scalar


_FLOW_MIX = np.uint64(0x9E3779B97F4A7C15)


def flow_mix(src: Int64Array, dst: Int64Array, sport: Int64Array, dport: Int64Array) -> Any:
    """One 64-bit number per IPv4 flow (equal flows, equal numbers; a collision only costs
    a decode)."""
    u64 = np.uint64
    return ((src.astype(u64) << u64(32)) | dst.astype(u64)) * _FLOW_MIX ^ (
        (sport.astype(u64) << u64(16)) | dport.astype(u64)
    )


# What flow_classes says of a row: it can deliver nothing of a UDP flow (plain IPv4, not
# UDP), it must be decoded to know (anything but plain IPv4: fragments, tunnels, IPv6...),
# or it is plain IPv4 UDP of the flow whose flow_mix is in the keys.
NOT_UDP, DECODE, UDP_FLOW = 0, 1, 2


def flow_classes(rows: BatchRows) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.uint64]]:
    """For each row of a batch: its class (NOT_UDP, DECODE or UDP_FLOW) and, for UDP_FLOW,
    its flow's ``flow_mix`` (plain IPv4: one 20-byte header, no fragment, no tunnel)."""
    classes = np.full(rows.count, DECODE, dtype=np.int8)
    keys = np.zeros(rows.count, dtype=np.uint64)
    views = rows.views
    if views is None:
        return classes, keys
    data = rows.data.astype(np.int64)
    end = rows.end.astype(np.int64)
    for linktype in np.unique(rows.linktypes).tolist():
        if linktype not in _VECTOR_LINKTYPES:
            continue
        mine = np.flatnonzero(rows.linktypes == linktype)
        l3, is_v4, _, odd = link_layer(views, linktype, data[mine], end[mine])
        l3 = l3.astype(np.int64)
        plain = (
            is_v4
            & ~odd
            & (end[mine] - l3 >= 28)
            & (views.byte(l3) == 0x45)
            & ((views.be16(l3 + 6) & 0x3FFF) == 0)
        )
        proto = views.byte(l3 + 9)
        plain &= ~np.isin(proto, _TUNNEL_PROTOCOLS)
        udp = plain & (proto == 17)
        sport, dport = views.be16(l3 + 20), views.be16(l3 + 22)
        plain &= ~(udp & np.isin(dport, _TUNNEL_PORTS))
        udp &= plain
        classes[mine] = np.where(udp, UDP_FLOW, np.where(plain, NOT_UDP, DECODE))
        keys[mine] = np.where(
            udp, flow_mix(views.be32(l3 + 12), views.be32(l3 + 16), sport, dport), 0
        )
    return classes, keys


def flows_wanted(
    classes: npt.NDArray[np.int8], keys: npt.NDArray[np.uint64], wanted: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    """The rows that may deliver a packet of the wanted flows (``flow_mix`` keys): every row
    but the plain IPv4 ones of other flows."""
    chosen: npt.NDArray[np.bool_] = (classes == DECODE) | (
        (classes == UDP_FLOW) & np.isin(keys, wanted)
    )
    return chosen


def wanted_flow_keys(flows: Iterable[tuple[str, int, str, int]]) -> npt.NDArray[np.uint64]:
    """The ``flow_mix`` keys of these IPv4 flows (source, source port, destination,
    destination port; IPv6 flows are always decoded, they need no key)."""
    v4 = [f for f in flows if ":" not in f[0] and ":" not in f[2]]
    return np.unique(
        flow_mix(
            np.array([int(ipaddress.IPv4Address(f[0])) for f in v4], dtype=np.int64),
            np.array([int(ipaddress.IPv4Address(f[2])) for f in v4], dtype=np.int64),
            np.array([f[1] for f in v4], dtype=np.int64),
            np.array([f[3] for f in v4], dtype=np.int64),
        )
    )
