"""The stream scanner's fast path: RTP rows of a capture read with NumPy, a batch at a time.

A Python object per packet caps a scan at a few hundred thousand packets per second, and most
packets of a VoIP capture are RTP of streams already found. So, for a pcap or pcapng (Enhanced
Packet Blocks) batch of Ethernet (up to two VLAN tags), Linux cooked (v1, v2) or raw IP frames,
each :class:`~rtcscope.capture.fastscan.BatchRows` (a batch whose record positions, lengths and
times the counts tap read already) is read column-wise: one sliding-window gather takes 40
bytes of every frame (from a 20-byte IPv4 header on, or from 20 bytes into a 40-byte IPv6
header, so that UDP and the fixed RTP header sit at the same columns for both; the link layer
as the counts tap reads it, :func:`rtcscope.capture.fastscan.link_layer`), fields come from its
columns (UDP length as :mod:`rtcscope.capture.decode` reads it), then the RTP header checks of
:func:`rtcscope.rtp.streams.quick_rtp_header`. IPv6 addresses come from a second gather of the
IPv6 rows only, and become the text decode() gives (RFC 5952, IPv4-mapped as
``::ffff:a.b.c.d``), once per address. RTP rows are grouped by stream once per batch. Rows of
streams the scanner already follows go to it as arrays: the streams with a handful of rows in
the batch all in one call (:meth:`StreamScanner.add_row_groups`: short calls make thousands of
such streams), the others buffered per stream until there are enough for NumPy to pay
(:meth:`StreamScanner.add_rows`). The batch's other packets (below) go to the scanner
first, then the rows of streams not followed yet: the ones SDP or a forced port starts at
their first row are started together (:meth:`StreamScanner.start_streams`), the others'
rows go to :meth:`StreamScanner.feed_unfollowed` as the values read here, in capture order;
once a flow is a stream, the rest of its rows in the batch join the array rows.
Announcements carry their frames, and the scanner holds one back from rows before the frame
that delivered it, so this order gives capture order's result; where it could not (an RTP
datagram of such a flow among the other packets, the heuristic's bound on candidates:
:meth:`StreamScanner.may_feed_first`) everything goes in capture order. Every other
row - SIP, RTCP, STUN, TCP, IPv4 with options, IPv6 with an extension header (a jumbogram's
hop-by-hop header among them), a fragment, a tunnel - becomes a
:class:`~rtcscope.capture.packet.Record`, goes through :func:`rtcscope.capture.decode.decode`
and IP reassembly (the stages of :func:`rtcscope.capture.pipeline.packets`) and is fed one by
one in capture order; a stream's buffered rows are handed over before any of its packets goes
that way. Announcements and confirmations carry frame numbers, so the result is the per-packet
path's (the tests compare both on every capture). One case is not ordered exactly: a followed
stream whose packets change encapsulation (plain IPv4 and, say, IPv4 with options) within one 4
MB batch.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from itertools import compress
from operator import not_
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from rtcscope.capture.decode import TUNNEL_UDP_PORTS, format_ipv6
from rtcscope.capture.fastscan import LINK_HEADER_BYTES, BatchRows, Views, ipv4_text_map, link_layer
from rtcscope.capture.packet import LinkType, Packet
from rtcscope.rtp.stats import SMALL_BATCH

if TYPE_CHECKING:
    from rtcscope.rtp.streams import StreamScanner
    from rtcscope.sip.capture import CapturedSip

IntArray = npt.NDArray[np.int64]
# A packet, or a SIP message framed from a batch's columns (no Packet made for it: its
# datagram starts with a letter, CR or LF, which the stream scanner leaves alone).
Delivered: TypeAlias = "Packet | CapturedSip"
PacketSink = Callable[[Delivered], None]
# Rows of a batch -> the packets they deliver (decoded once, reassembled), in capture order.
RowDecoder = Callable[[list[int]], Iterable[Delivered]]

_RAW_IP = frozenset(
    {LinkType.RAW, LinkType.RAW_LEGACY_12, LinkType.RAW_LEGACY_14, LinkType.IPV4, LinkType.IPV6}
)
_TUNNEL_PORT_LIST = sorted(TUNNEL_UDP_PORTS)


_FLUSH_ROWS = 8192  # rows buffered per stream before StreamStats.add_many runs on them
_LIST_ROWS = SMALL_BATCH + 1  # fewer rows of a stream in a batch go to it as lists
_KEY_CACHE_LIMIT = 1 << 14  # stream keys remembered by their numbers, at most
Key = tuple[str, int, str, int, int]
# What StreamScanner.feed_unfollowed takes: frame, time (ns), marker+PT byte, sequence,
# timestamp, payload length, the datagram (when small and DTMF is looked for) or b"".
Entry = tuple[int, int, int, int, int, int, bytes]
_COLUMNS = (
    "frames",
    "ts_ns",
    "times_ms",
    "marker_pt",
    "seqs",
    "tss",
    "payload_len",
    "first_words",
)


class _RowBuffers:
    """Rows of followed streams, held per stream until there are enough for NumPy to pay."""

    def __init__(self, scanner: StreamScanner) -> None:
        self.scanner = scanner
        self.parts: dict[Key, list[tuple[npt.NDArray[np.generic], ...]]] = {}
        self.rows: dict[Key, int] = {}

    def add(self, key: Key, columns: tuple[npt.NDArray[np.generic], ...]) -> None:
        self.parts.setdefault(key, []).append(columns)
        self.rows[key] = self.rows.get(key, 0) + len(columns[0])
        if self.rows[key] >= _FLUSH_ROWS:
            self.flush(key)

    def flush(self, key: Key) -> None:
        parts = self.parts.pop(key, None)
        self.rows.pop(key, None)
        if not parts:
            return
        columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
        self.scanner.add_rows(key, **dict(zip(_COLUMNS, columns, strict=True)))

    def flush_all(self) -> None:
        for key in list(self.parts):
            self.flush(key)

    def flush_packet(self, packet: Delivered) -> None:
        """Before a packet goes the per-packet way: flush its stream if rows of it wait (a
        SIP message framed from the columns: the stream of its datagram's flow and bytes)."""
        if not self.parts:
            return
        if not isinstance(packet, Packet):
            payload: bytes | memoryview = packet.message.raw  # its whole UDP payload
        elif packet.ip_proto == 17:
            payload = packet.payload
        else:
            return
        if len(payload) >= 12:
            ssrc = int.from_bytes(payload[8:12], "big")
            key = (packet.src, packet.sport, packet.dst, packet.dport, ssrc)
            if key in self.parts:
                self.flush(key)


class _KeyMaker:
    """Stream keys from the numbers of a group's first row, with the address texts decode()
    gives (IPv6 as RFC 5952 text, :func:`rtcscope.capture.decode.format_ipv6`), each text
    made once per address: thousands of short streams share a few addresses (and their keys
    share the strings)."""

    def __init__(self) -> None:
        self.ipv6_texts: dict[int, str] = {}  # (IPv4: capture.fastscan.ipv4_text_map)

    def ipv4_keys(
        self, addresses: npt.NDArray[np.uint64], rest: npt.NDArray[np.uint64]
    ) -> list[Key]:
        """The keys of groups of IPv4 rows, from their first rows' words (source << 32 |
        destination; ports and SSRC): the numbers split by NumPy, each address's text
        looked up once, the tuples made by ``zip`` (a batch of short calls starts thousands
        of streams)."""
        u64 = np.uint64
        source_numbers = addresses >> u64(32)
        destination_numbers = addresses & u64(0xFFFFFFFF)
        sources, destinations = source_numbers.tolist(), destination_numbers.tolist()
        texts = ipv4_text_map(set(sources).union(destinations))
        return list(
            zip(
                map(texts.__getitem__, sources),
                ((rest >> u64(48)) & u64(0xFFFF)).tolist(),
                map(texts.__getitem__, destinations),
                ((rest >> u64(32)) & u64(0xFFFF)).tolist(),
                (rest & u64(0xFFFFFFFF)).tolist(),
                strict=True,
            )
        )

    def ipv6(self, values: tuple[int, ...]) -> Key:
        """(source high, low, destination high, low 64 bits, ports and SSRC) -> key."""
        src_high, src_low, dst_high, dst_low, rest = values
        return (
            self._ipv6_text(src_high << 64 | src_low),
            (rest >> 48) & 0xFFFF,
            self._ipv6_text(dst_high << 64 | dst_low),
            (rest >> 32) & 0xFFFF,
            rest & 0xFFFFFFFF,
        )

    def _ipv6_text(self, value: int) -> str:
        text = self.ipv6_texts.get(value)
        if text is None:
            text = self.ipv6_texts[value] = format_ipv6(value.to_bytes(16, "big"))
        return text

    def trim(self) -> None:
        """Forget the texts when there are many (a scan of many hosts)."""
        if len(self.ipv6_texts) > _KEY_CACHE_LIMIT:
            self.ipv6_texts.clear()


def _group_streams(
    rows: IntArray,
    columns: list[npt.NDArray[Any]],
    make_keys: Callable[[list[npt.NDArray[Any]]], list[Key]],
) -> tuple[IntArray, IntArray, IntArray, list[Key]]:
    """RTP rows grouped by stream, the stream given by ``columns`` (64-bit words of the
    key): the rows of each stream together in capture order, where each group begins (and
    the end), each sorted row's group, and each group's key (``make_keys`` of the columns
    at each group's first row)."""
    # A 64-bit mix of the key words, its low bits replaced by each row's position, sorts
    # fast (the values themselves, all distinct: no stable argsort) into groups in capture
    # order; the groups are then checked whole, and a collision (two keys in one group)
    # regroups on the words themselves.
    u64 = np.uint64
    mixed = columns[0]
    for column in columns[1:]:
        mixed = (mixed * u64(0x9E3779B97F4A7C15)) ^ column
    bits = u64(max(len(rows) - 1, 1).bit_length())
    position_bits = (u64(1) << bits) - u64(1)
    tagged = (mixed & ~position_bits) | np.arange(len(rows), dtype=u64)
    tagged.sort()
    order = (tagged & position_bits).astype(np.int64)
    ordered = tagged >> bits
    change = np.empty(len(order), dtype=bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    bounds = np.append(starts, len(order))
    first_rows = order[starts]
    group_of_sorted = np.repeat(np.arange(len(starts)), np.diff(bounds))
    if not all(_constant_within(column[order], change) for column in columns):
        order = np.lexsort((np.arange(len(rows)), *reversed(columns)))
        change = np.zeros(len(order), dtype=bool)
        change[0] = True
        for column in columns:
            in_order = column[order]
            change[1:] |= in_order[1:] != in_order[:-1]
        starts = np.flatnonzero(change)
        bounds = np.append(starts, len(order))
        first_rows = order[starts]
        group_of_sorted = np.repeat(np.arange(len(starts)), np.diff(bounds))
    return (
        rows[order],
        bounds,
        group_of_sorted,
        make_keys([column[first_rows] for column in columns]),
    )


def _constant_within(values: npt.NDArray[Any], starts: npt.NDArray[np.bool_]) -> bool:
    """Whether ``values`` change only where a group starts (``starts``, one per value)."""
    return bool((starts[1:] | (values[1:] == values[:-1])).all())


def _cached_keys(
    key_cache: dict[tuple[int, ...], Key], make_key: Callable[[tuple[int, ...]], Key]
) -> Callable[[list[npt.NDArray[Any]]], list[Key]]:
    """Keys made one by one from each group's numbers, remembered by them (IPv6: each
    address's text is RFC 5952's, made by ``ipaddress``)."""

    def make_keys(columns: list[npt.NDArray[Any]]) -> list[Key]:
        keys: list[Key] = []
        for values in zip(*(column.tolist() for column in columns), strict=True):
            key = key_cache.get(values)
            if key is None:
                key = key_cache[values] = make_key(values)
            keys.append(key)
        return keys

    return make_keys


def _supported_linktype(linktype: int) -> bool:
    return linktype in LINK_HEADER_BYTES or linktype in _RAW_IP


def batch_linktype(rows: BatchRows) -> int | None:
    """The link type whose rows the tap reads as arrays, or None: the whole batch goes the
    per-packet way (a pcapng batch with simple/obsolete packet blocks, times that need exact
    conversion one by one, or no link type the tap reads). A pcapng batch mixing interfaces
    of several link types: the rows of the most common supported one (the others go per
    packet)."""
    batch = rows.batch
    if batch.records or rows.times is None or not rows.count:
        return None
    if batch.kind == "pcap":
        return batch.linktype if _supported_linktype(batch.linktype) else None
    kinds, counts = np.unique(rows.linktypes, return_counts=True)
    best: int | None = None
    best_count = 0
    for linktype, count in zip(kinds.tolist(), counts.tolist(), strict=True):
        if _supported_linktype(linktype) and count > best_count:
            best, best_count = linktype, count
    return best


class FastRtpTap:
    """The stream scanner's batch tap: RTP rows of followed streams go to the scanner as
    arrays; every other row is asked of ``decode_rows`` (the scan decodes it, once, and
    returns what it delivers after reassembly) and goes to ``feed_other`` in capture order.

    A stream's buffered rows reach the scanner before any packet of it goes the per-packet
    way, and announcements and confirmations carry frame numbers, so the result is the
    per-packet path's (the tests compare both on every capture).
    """

    def __init__(self, scanner: StreamScanner, feed_other: PacketSink) -> None:
        self.scanner = scanner
        self.feed_other = feed_other
        self.buffers = _RowBuffers(scanner)
        self.key_cache: dict[tuple[int, ...], Key] = {}
        self.make_keys = _KeyMaker()

    def feed_packet(self, packet: Delivered) -> None:
        """A packet that went the per-packet way (its stream's waiting rows first)."""
        self.buffers.flush_packet(packet)
        self.feed_other(packet)

    def feed_batch(self, rows: BatchRows, linktype: int, decode_rows: RowDecoder) -> None:
        """One batch whose ``linktype`` rows :func:`batch_linktype` chose (rows of any other
        link type go the per-packet way)."""
        _scan_batch(
            rows,
            linktype,
            self.scanner,
            self.buffers,
            # Rows are buffered only after the batch's packets are fed: with none waiting
            # now, no packet of this batch has rows to flush first.
            self.feed_packet if self.buffers.parts else self.feed_other,
            decode_rows,
            self.key_cache,
            self.make_keys,
        )
        if len(self.key_cache) > _KEY_CACHE_LIMIT:
            # Short calls make a stream key per call: a key met again (long streams, the next
            # batch) is most likely recent, and the cache must not hold one per stream.
            self.key_cache.clear()
        self.make_keys.trim()

    def finish(self) -> None:
        self.buffers.flush_all()


def _scan_batch(
    batch_rows: BatchRows,
    linktype: int,
    scanner: StreamScanner,
    buffers: _RowBuffers,
    feed_other: PacketSink,
    decode_rows: RowDecoder,
    key_cache: dict[tuple[int, ...], Key],
    make_keys: _KeyMaker,
) -> None:
    batch = batch_rows.batch
    count = batch_rows.count
    if count == 0:
        return
    v = batch_rows.views
    assert v is not None
    # Where each record's data lies and when it was captured: BatchRows read them (pcap
    # record headers or pcapng Enhanced Packet Blocks) for the counts tap already.
    assert batch_rows.times is not None
    data = batch_rows.data.astype(np.int64)
    caplen = batch_rows.caplen.astype(np.int64)
    end = data + caplen
    ts_ns = batch_rows.times
    if scanner.first_ns is None:
        scanner.first_ns = int(ts_ns[0])

    # Where each frame's IP header starts (the link header and up to two VLAN tags, read as
    # the counts tap reads them), then one gather of 40 bytes of every frame and each field
    # from its columns: for IPv4 from the IP header on (a 20-byte header, UDP, the fixed RTP
    # header), for IPv6 from 20 bytes into its 40-byte header on, so that UDP and RTP sit at
    # the same columns (the addresses and the IPv6 checks come from a second gather of the
    # IPv6 rows only). IPv4 with options, IPv6 with an extension header or a zero payload
    # length (a jumbogram), or anything unusual goes the per-packet way.
    shared = batch_rows.ethernet if linktype == LinkType.ETHERNET else None
    if shared is None:
        found = link_layer(v, linktype, data, end)
        l3, is_v4 = found[0].astype(np.int64), found[1] & ~found[3]
        v6_rows = np.flatnonzero(found[2] & ~found[3])
        unfit = v6_rows[:0]
    else:
        # The counts tap read these Ethernet frames' windows already: their link layer and
        # the 40 bytes from the IPv4 header on are there (the rows whose window it could
        # not read are read here).
        l3 = shared.base.astype(np.int64) + 14
        is_v4 = shared.v4
        is_v6 = shared.v6
        unfit = np.flatnonzero(shared.unfit)
        if len(unfit):
            found = link_layer(v, linktype, data[unfit], end[unfit])
            is_v4, is_v6 = is_v4.copy(), is_v6.copy()
            l3[unfit] = found[0]
            is_v4[unfit] = found[1] & ~found[3]
            is_v6[unfit] = found[2] & ~found[3]
        v6_rows = np.flatnonzero(is_v6)
    header = LINK_HEADER_BYTES.get(linktype, 0)
    width = 40
    if len(v.u8) < width:
        # A buffer shorter than one frame's headers (a tiny file): every row per packet.
        for packet in decode_rows(list(range(count))):
            feed_other(packet)
        return
    windows = np.lib.stride_tricks.sliding_window_view(v.u8, width)
    base = l3
    if len(v6_rows):
        base = l3.copy()
        base[v6_rows] += 20
    fits = base < len(windows)  # a short last frame near the buffer end: per packet
    if shared is None:
        cols = windows[np.where(fits, base, 0)]
    else:
        frames = shared.rows
        again = np.union1d(unfit, v6_rows) if len(v6_rows) else unfit
        if len(again):
            frames = frames.copy()
            frames[again, 14 : 14 + width] = windows[np.where(fits[again], base[again], 0)]
        cols = frames[:, 14 : 14 + width]
    # Big-endian 16-bit fields sit at even columns.
    words = cols.view(">u2")

    def be(at: int, size: int) -> IntArray:
        value: IntArray = words[:, at // 2].astype(np.int64)
        if size == 4:
            value = (value << 16) | words[:, at // 2 + 1]
        return value

    ok = fits & (end - base >= 28)  # the frame holds the headers up to the UDP header
    if batch.kind != "pcap":
        ok &= batch_rows.linktypes == linktype
    plain = is_v4 & (cols[:, 0] == 0x45) & ((be(6, 2) & 0x3FFF) == 0)
    plain &= cols[:, 9] == 17
    total = be(2, 2)
    plain &= (total == 0) | (total >= 20)
    ip_end = np.where(total == 0, end, np.minimum(end, l3 + total))
    v6_header = np.zeros((0, width), dtype=np.uint8)
    if len(v6_rows):
        v6_rows = v6_rows[fits[v6_rows]]
        v6_header = windows[l3[v6_rows]]  # the whole IPv6 header of each IPv6 row
        payload_length = (v6_header[:, 4].astype(np.int64) << 8) | v6_header[:, 5]
        plain[v6_rows] = ((v6_header[:, 0] >> 4) == 6) & (v6_header[:, 6] == 17)
        # A zero payload length before a UDP header (segmentation offload): the frame decides,
        # as decode does (and as a zero IPv4 total length does above).
        ip_end[v6_rows] = np.where(
            payload_length == 0,
            end[v6_rows],
            np.minimum(end[v6_rows], l3[v6_rows] + 40 + payload_length),
        )
    ok &= plain  # now: a plain IPv4 or IPv6 UDP row
    l4 = base + 20
    ok &= ip_end - l4 >= 8
    sport = be(20, 2)
    dport = be(22, 2)
    for port in _TUNNEL_PORT_LIST:
        ok &= dport != port
    length = be(24, 2)
    start = l4 + 8
    stop = np.where(length >= 8, np.minimum(ip_end, l4 + length), ip_end)
    size = stop - start
    first = cols[:, 28]
    second = cols[:, 29]
    rtcp = (second >= 192) & (second <= 223)
    rtp = ok & (size >= 12) & ((first & 0xC0) == 0x80) & ~rtcp
    # The header checks of quick_rtp_header; a row failing them is no RTP and, with an RTP
    # first byte, no SIP either: nothing reads it.
    header_end = start + 12 + 4 * (first & 0x0F)
    has_ext = (first & 0x10) != 0
    ext_ok = ~has_ext | (header_end + 4 <= stop)
    ext_rows = np.flatnonzero(has_ext & rtp)
    if len(ext_rows):
        header_end[ext_rows] += 4 + 4 * v.be16(header_end[ext_rows] + 2)
    padded = (first & 0x20) != 0
    pad = np.zeros(count, dtype=np.int64)
    pad_rows = np.flatnonzero(padded & rtp)
    if len(pad_rows):
        pad[pad_rows] = v.byte(stop[pad_rows] - 1)
    pt = second & 0x7F
    valid = (
        ext_ok
        & (header_end <= stop)
        & ~(padded & ((pad == 0) | (stop - header_end < pad)))
        & ~((pt >= 72) & (pt <= 76))
    )
    dropped = rtp & ~valid
    rtp &= valid

    rtp_rows = np.flatnonzero(rtp)
    # Per row: time, marker+PT byte, sequence, timestamp, payload length.
    fields = (
        ts_ns,
        second.astype(np.int64),
        be(30, 2),
        be(32, 4),
        stop - header_end - pad,
    )
    # A record shorter than its link header decodes to nothing any tap reads (a flood of
    # empty records must not cost a decode each).
    scalar = ~rtp & ~dropped & (caplen >= max(header, 1))
    pending_keys: list[Key] = []
    pending_mask = np.zeros(count, dtype=bool)  # rows of streams not followed yet
    # Rows of followed streams, grouped by stream (capture order within each): the keys,
    # the rows, and where each stream's rows begin.
    live_keys: list[Key] = []
    live_parts: list[IntArray] = []
    live_bounds = [0]
    if len(rtp_rows):
        u64 = np.uint64
        ports_ssrc = (
            (sport[rtp_rows].astype(u64) << u64(48))
            | (dport[rtp_rows].astype(u64) << u64(32))
            | be(36, 4)[rtp_rows].astype(u64)
        )
        # IPv4 and IPv6 rows are grouped apart (their keys never meet), IPv4's first.
        parts = []
        six = None
        if len(v6_rows):
            six = np.zeros(count, dtype=bool)
            six[v6_rows] = True
            six = six[rtp_rows]
        if six is None or not six.all():
            rows, rest = (
                (rtp_rows, ports_ssrc) if six is None else (rtp_rows[~six], ports_ssrc[~six])
            )
            addresses = (be(12, 4)[rows].astype(u64) << u64(32)) | be(16, 4)[rows].astype(u64)
            parts.append(
                _group_streams(rows, [addresses, rest], lambda words: make_keys.ipv4_keys(*words))
            )
        if six is not None and six.any():
            rows = rtp_rows[six]
            # The 32 address bytes of the IPv6 header as four 64-bit words.
            words = np.ascontiguousarray(v6_header[np.searchsorted(v6_rows, rows), 8:40])
            quads = words.view(">u8").astype(u64)
            parts.append(
                _group_streams(
                    rows,
                    [*(quads[:, i] for i in range(4)), ports_ssrc[six]],
                    _cached_keys(key_cache, make_keys.ipv6),
                )
            )
        sorted_rows, bounds, group_of_sorted, keys = parts[0]
        if len(parts) > 1:
            rows6, bounds6, groups6, keys6 = parts[1]
            sorted_rows = np.concatenate((sorted_rows, rows6))
            group_of_sorted = np.concatenate((group_of_sorted, groups6 + (len(bounds) - 1)))
            bounds = np.concatenate((bounds, bounds6[1:] + bounds[-1]))
            keys = keys + keys6
        live = np.array(scanner.followed(keys), dtype=bool)
        live_row = live[group_of_sorted]
        # Streams not followed yet: their rows (grouped by stream, capture order within)
        # are looked at in capture order with the other rows.
        waiting_groups = np.flatnonzero(~live)
        pending_keys = [keys[group] for group in waiting_groups.tolist()]
        pending_rows = sorted_rows[~live_row]
        scalar[pending_rows] = True
        pending_mask[pending_rows] = True
        pending_bounds = np.concatenate(([0], np.cumsum(np.diff(bounds)[~live]))).tolist()
        if live.any():
            live_keys = [keys[group] for group in np.flatnonzero(live).tolist()]
            live_parts = [sorted_rows[live_row]]
            live_bounds = np.concatenate(([0], np.cumsum(np.diff(bounds)[live]))).tolist()

    frame0 = batch.first_frame
    # The other rows are decoded in one go: each decoded packet comes out at the frame of
    # its record (a reassembled datagram at the fragment that completed it).
    others = list(decode_rows(np.flatnonzero(scalar & ~pending_mask).tolist()))
    # Usually they all go first (announcements carry their frames: the scanner tells what
    # a row at its frame would have seen); else in capture order with the waiting rows.
    # Only a row the columns do not show to be other than RTP (not plain UDP: IP options,
    # a fragment, a tunnel...) can deliver an RTP datagram: the packets are looked at
    # when there is one.
    not_rtp = ok & ((size < 12) | ((first & 0xC0) != 0x80) | rtcp)
    unclear = scalar & ~pending_mask & ~not_rtp
    ahead = not pending_keys or scanner.may_feed_first(
        [packet for packet in others if type(packet) is Packet] if unclear.any() else [],
        pending_keys,
    )
    if ahead:
        try:
            for packet in others:
                scanner.feeding_frame = packet.frame
                feed_other(packet)
        finally:
            scanner.feeding_frame = -1
        others = []
    delivered = iter(others)
    waiting = next(delivered, None)
    # The rows of streams not followed yet, in capture order: each stream's next row
    # waits in a heap. An RTP row goes to the scanner as values (no decoding: its headers
    # were checked above, and nothing but the scanner reads an RTP datagram); once the
    # stream is one, its rows still to come (later in the capture than the ones that made
    # it a stream) join the array rows.
    keep_small = scanner.with_dtmf and scanner.heuristic
    joined_from: list[int] = []  # streams made here: where their rows to hand over begin
    joined_to: list[int] = []  # and end (pending_rows positions)
    heap: list[tuple[int, int, int]] = []
    first_entries: dict[int, Entry] = {}
    if pending_keys:
        firsts = pending_rows[pending_bounds[:-1]]
        starts = pending_bounds[:-1]
        unstarted = list(range(len(pending_keys)))
        if ahead:
            # The streams SDP or a forced port starts at their first row (most short
            # streams), at once; the others' rows go through the heap (the heuristic's
            # candidates, a stream whose SDP comes later).
            started = scanner.start_streams(pending_keys, (firsts + frame0).tolist())
            live_keys.extend(compress(pending_keys, started))
            joined_from.extend(compress(starts, started))
            joined_to.extend(compress(pending_bounds[1:], started))
            unstarted = list(compress(range(len(started)), map(not_, started)))
        if unstarted:
            # Their first rows as the scanner's entries, all at once; a later row's entry
            # is made when reached.
            picked = firsts[unstarted]
            first_rows = picked.tolist()
            small = (
                [
                    bytes(batch.buffer[a:b]) if b - a <= 64 else b""
                    for a, b in zip(start[picked].tolist(), stop[picked].tolist(), strict=True)
                ]
                if keep_small
                else [b""] * len(first_rows)
            )
            first_entries = dict(
                zip(
                    unstarted,
                    zip(
                        (picked + frame0).tolist(),
                        *(field[picked].tolist() for field in fields),
                        small,
                        strict=True,
                    ),
                    strict=True,
                )
            )
            heap = [
                (row, starts[index], index)
                for index, row in zip(unstarted, first_rows, strict=True)
            ]
            heapq.heapify(heap)
    while heap:
        row, at, index = heapq.heappop(heap)
        frame = frame0 + row
        while waiting is not None and waiting.frame < frame:
            feed_other(waiting)
            waiting = next(delivered, None)
        key = pending_keys[index]
        if not scanner.is_live(key):
            # Its stream may begin with this very packet (an SDP just read).
            if at == pending_bounds[index]:
                entry = first_entries[index]
            else:
                a, b = int(start[row]), int(stop[row])
                datagram = bytes(batch.buffer[a:b]) if keep_small and b - a <= 64 else b""
                when, marker_pt, seq, timestamp, payload_len = (int(field[row]) for field in fields)
                entry = (frame, when, marker_pt, seq, timestamp, payload_len, datagram)
            if not scanner.feed_unfollowed(key, entry):
                if at + 1 < pending_bounds[index + 1]:
                    heapq.heappush(heap, (int(pending_rows[at + 1]), at + 1, index))
                continue
        live_keys.append(key)
        joined_from.append(at)
        joined_to.append(pending_bounds[index + 1])
    while waiting is not None:
        feed_other(waiting)
        waiting = next(delivered, None)
    if joined_from:
        # The rows of the streams that became ones here, in the order they did, in one go.
        begin = np.array(joined_from, dtype=np.int64)
        lengths = np.array(joined_to, dtype=np.int64) - begin
        ends = np.cumsum(lengths)
        live_parts.append(
            pending_rows[np.repeat(begin - ends + lengths, lengths) + np.arange(ends[-1])]
        )
        live_bounds.extend((ends + live_bounds[-1]).tolist())
    if live_keys:
        rows = np.concatenate(live_parts) if len(live_parts) > 1 else live_parts[0]
        _hand_over(scanner, buffers, live_keys, rows, live_bounds, frame0, fields, header_end, v)


def _hand_over(
    scanner: StreamScanner,
    buffers: _RowBuffers,
    keys: list[Key],
    rows: IntArray,
    bounds: list[int],
    frame0: int,
    fields: tuple[IntArray, ...],
    header_end: IntArray,
    v: Views,
) -> None:
    """The rows of followed streams (``rows[bounds[i]:bounds[i + 1]]`` are stream
    ``keys[i]``'s, in capture order) to the scanner: columns for all of them at once, then
    the streams with a handful of rows together (NumPy across them), the others buffered as
    arrays until there are enough for NumPy to pay. ``fields``: the batch's time (ns),
    marker+PT byte, sequence, timestamp, payload length."""
    ts_ns, marker_pt, seqs, tss, payload_len = (field[rows] for field in fields)
    assert scanner.first_ns is not None
    first_words = np.full(len(rows), -1, dtype=np.int64)
    if scanner.with_dtmf:
        # Only a dynamic payload type's packets reach the DTMF detector (add_row_groups):
        # the others' first payload word is never read.
        read = np.flatnonzero(((marker_pt & 0x7F) >= 96) & (payload_len >= 4))
        if len(read):
            first_words[read] = v.be32(header_end[rows[read]])
    columns = (
        rows + frame0,  # no ready records in the batch (batch_linktype): row i is frame
        # first_frame + i
        ts_ns,
        _relative_ms(ts_ns - scanner.first_ns),
        marker_pt,
        seqs,
        tss,
        payload_len,
        first_words,
    )
    sizes = np.diff(bounds)
    small = sizes < _LIST_ROWS
    if buffers.parts:
        small &= np.array([key not in buffers.parts for key in keys], dtype=bool)
    if small.all():  # (short calls: every stream) the columns as they are
        scanner.add_row_groups(keys, bounds, columns)
        return
    if small.any():
        picked = np.flatnonzero(np.repeat(small, sizes))
        scanner.add_row_groups(
            [key for key, few in zip(keys, small.tolist(), strict=True) if few],
            np.concatenate(([0], np.cumsum(sizes[small]))).tolist(),
            tuple(column[picked] for column in columns),
        )
    for index in np.flatnonzero(~small).tolist():
        a, b = bounds[index], bounds[index + 1]
        buffers.add(keys[index], tuple(column[a:b].copy() for column in columns))


def _relative_ms(rel_ns: IntArray) -> npt.NDArray[np.float64]:
    """stats.relative_ms() on arrays: the same two conversions, the same sign handling."""
    magnitude = np.abs(rel_ns)
    secs = magnitude // 1_000_000_000
    nsecs = magnitude - secs * 1_000_000_000
    values = secs.astype(np.float64) * 1000.0 + nsecs.astype(np.float64) / 1000000.0
    result: npt.NDArray[np.float64] = np.where(rel_ns < 0, -values, values)
    return result


__all__ = ["FastRtpTap", "batch_linktype"]
