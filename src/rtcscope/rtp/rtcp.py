"""RTCP packets (RFC 3550 6.4-6.7, RFC 4585 6, RFC 3611) and compound datagrams.

Each packet type is one frozen dataclass with ``parse``/``encode``; :func:`parse_compound`
splits a datagram into its packets (RFC 3550 6.1: several packets back to back, padding only
in the last). Extended reports (RFC 3611) decode the receiver reference time (4), DLRR (5),
statistics summary (6) and VoIP metrics (7) blocks; other block types are kept raw.

Round-trip time (RFC 3550 6.4.1): a report block's LSR is the middle 32 bits of the NTP time
of the last SR from that source and DLSR the delay since, both in 1/65536 s; the RTT seen by
the SR's sender is ``A - LSR - DLSR`` where A is the report's arrival time in the same units
(:func:`round_trip_ms`). A capture cannot trust that arithmetic: the capture's clock is not
the SR sender's. :class:`SenderReportLog` does what tshark does (Wireshark's
``calculate_roundtrip_delay``): a report block gives a round trip only when its LSR is the
NTP time of an SR the capture saw, and the round trip is the time between that SR and this
report on the capture's own clock, less DLSR.

SRTCP (RFC 3711 3.4): the first 8 bytes (header and sender SSRC) are clear; the rest of the
compound is encrypted, followed by the E flag and a 31-bit SRTCP index that grows by one per
packet of a sender, an optional MKI and the authentication tag. For the AES-CM HMAC-SHA1
suites the tag is 80 bits on SRTCP even for ``_32`` (RFC 4568 6.2.2, RFC 3711 5.2), so the
index ends 10 bytes (+ MKI) from the end; for AEAD-GCM (RFC 7714 17) the tag is inside the
encrypted portion and the index is the last 4 bytes (before an MKI). E = 0 is the null cipher:
the RTCP before the index reads as it is. :func:`find_srtcp_layout` decides from a sender's
datagrams which layout, if any, carries an index that grows as RFC 3711 says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from itertools import pairwise

from rtcscope.errors import RtpError

NTP_UNIX_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01 (RFC 5905)


class RtcpType(IntEnum):
    """RTCP packet types (RFC 3550 12.1, RFC 4585 6.1, RFC 3611 2)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204
    RTPFB = 205
    PSFB = 206
    XR = 207


class SdesItem(IntEnum):
    """SDES item types (RFC 3550 6.5)."""

    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


class XrBlockType(IntEnum):
    """RFC 3611 4 block types."""

    LOSS_RLE = 1
    DUPLICATE_RLE = 2
    PACKET_RECEIPT_TIMES = 3
    RECEIVER_REFERENCE_TIME = 4
    DLRR = 5
    STATISTICS_SUMMARY = 6
    VOIP_METRICS = 7


_HEADER = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IIIIII")


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """RFC 3550 6.4.1 reception report block."""

    ssrc: int
    fraction_lost: int  # the raw 8-bit fixed point value (lost / 256)
    cumulative_lost: int  # signed 24-bit
    highest_sequence: int  # extended highest sequence number received
    jitter: int  # in timestamp units
    lsr: int
    dlsr: int  # in 1/65536 s

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, offset: int) -> ReportBlock:
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        cumulative = lost_word & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        return cls(ssrc, lost_word >> 24, cumulative, highest, jitter, lsr, dlsr)

    def encode(self) -> bytes:
        lost_word = ((self.fraction_lost & 0xFF) << 24) | (self.cumulative_lost & 0xFFFFFF)
        return _REPORT_BLOCK.pack(
            self.ssrc, lost_word, self.highest_sequence, self.jitter, self.lsr, self.dlsr
        )

    @property
    def fraction_lost_percent(self) -> float:
        return self.fraction_lost * 100.0 / 256.0


def _header(packet_type: int, count: int, body_len: int, padding: int = 0) -> bytes:
    total = 4 + body_len + padding
    if total % 4:
        raise RtpError(f"RTCP packet of {total} bytes is not a multiple of 4")
    first = 0x80 | (0x20 if padding else 0) | (count & 0x1F)
    return _HEADER.pack(first, packet_type, total // 4 - 1)


def _blocks(
    data: bytes | bytearray | memoryview, offset: int, count: int, end: int
) -> tuple[ReportBlock, ...]:
    if offset + 24 * count > end:
        raise RtpError(f"RTCP report blocks ({count}) run past the packet", offset)
    return tuple(ReportBlock.parse(data, offset + 24 * i) for i in range(count))


@dataclass(frozen=True, slots=True)
class SenderReport:
    """RFC 3550 6.4.1."""

    ssrc: int
    ntp_timestamp: int  # 64-bit NTP time (seconds << 32 | fraction)
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def encode(self) -> bytes:
        body = struct.pack(
            "!IQIII",
            self.ssrc,
            self.ntp_timestamp,
            self.rtp_timestamp,
            self.packet_count,
            self.octet_count,
        )
        body += b"".join(r.encode() for r in self.reports) + self.extension
        return _header(RtcpType.SR, len(self.reports), len(body)) + body


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RFC 3550 6.4.2."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def encode(self) -> bytes:
        body = struct.pack("!I", self.ssrc)
        body += b"".join(r.encode() for r in self.reports) + self.extension
        return _header(RtcpType.RR, len(self.reports), len(body)) + body


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[tuple[int, bytes], ...]  # (item type, value)

    def item(self, kind: SdesItem) -> str | None:
        for item_type, value in self.items:
            if item_type == kind:
                return value.decode("utf-8", "replace")
        return None


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """RFC 3550 6.5."""

    chunks: tuple[SdesChunk, ...]

    def encode(self) -> bytes:
        body = bytearray()
        for chunk in self.chunks:
            part = bytearray(struct.pack("!I", chunk.ssrc))
            for item_type, value in chunk.items:
                part += bytes([item_type, len(value)]) + value
            part += b"\x00"  # END item, then pad to the next 32-bit boundary (6.5)
            part += bytes(-len(part) % 4)
            body += part
        return _header(RtcpType.SDES, len(self.chunks), len(body)) + bytes(body)


@dataclass(frozen=True, slots=True)
class Goodbye:
    """RFC 3550 6.6."""

    ssrcs: tuple[int, ...]
    reason: bytes = b""

    def encode(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.ssrcs)
        if self.reason:
            tail = bytes([len(self.reason)]) + self.reason
            body += tail + bytes(-len(tail) % 4)
        return _header(RtcpType.BYE, len(self.ssrcs), len(body)) + body


@dataclass(frozen=True, slots=True)
class ApplicationDefined:
    """RFC 3550 6.7."""

    subtype: int
    ssrc: int
    name: bytes  # 4 ASCII characters
    data: bytes = b""

    def encode(self) -> bytes:
        if len(self.name) != 4 or len(self.data) % 4:
            raise RtpError("APP name must be 4 bytes and its data a multiple of 4")
        body = struct.pack("!I", self.ssrc) + self.name + self.data
        return _header(RtcpType.APP, self.subtype, len(body)) + body


@dataclass(frozen=True, slots=True)
class Feedback:
    """RFC 4585 6.1 transport-layer (205) or payload-specific (206) feedback."""

    packet_type: int
    fmt: int
    sender_ssrc: int
    media_ssrc: int
    fci: bytes = b""

    def encode(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, self.media_ssrc) + self.fci
        return _header(self.packet_type, self.fmt, len(body)) + body


@dataclass(frozen=True, slots=True)
class DlrrItem:
    """RFC 3611 4.5: one receiver's last RR time and delay since."""

    ssrc: int
    lrr: int
    dlrr: int


@dataclass(frozen=True, slots=True)
class XrBlock:
    """One RFC 3611 block: the type, its type-specific byte and contents; decoded fields in
    ``fields`` for types 4-7."""

    block_type: int
    type_specific: int
    contents: bytes
    fields: dict[str, int] = field(default_factory=dict, compare=False)
    dlrr: tuple[DlrrItem, ...] = ()

    def encode(self) -> bytes:
        if len(self.contents) % 4:
            raise RtpError("XR block contents must be a multiple of 4 bytes")
        return (
            struct.pack("!BBH", self.block_type, self.type_specific, len(self.contents) // 4)
            + self.contents
        )


_VOIP_METRICS_NAMES = (
    "ssrc",
    "loss_rate",
    "discard_rate",
    "burst_density",
    "gap_density",
    "burst_duration",
    "gap_duration",
    "round_trip_delay",
    "end_system_delay",
    "signal_level",
    "noise_level",
    "rerl",
    "gmin",
    "r_factor",
    "ext_r_factor",
    "mos_lq",
    "mos_cq",
    "rx_config",
    "reserved",
    "jb_nominal",
    "jb_maximum",
    "jb_abs_max",
)
_VOIP_METRICS = struct.Struct("!IBBBBHHHHbbBBBBBBBBHHH")
_STATS_SUMMARY_NAMES = (
    "ssrc",
    "begin_seq",
    "end_seq",
    "lost_packets",
    "dup_packets",
    "min_jitter",
    "max_jitter",
    "mean_jitter",
    "dev_jitter",
    "min_ttl_or_hl",
    "max_ttl_or_hl",
    "mean_ttl_or_hl",
    "dev_ttl_or_hl",
)
_STATS_SUMMARY = struct.Struct("!IHHIIIIIIBBBB")


def _parse_xr_block(
    data: bytes | bytearray | memoryview, offset: int, end: int
) -> tuple[XrBlock, int]:
    if offset + 4 > end:
        raise RtpError("XR block header is truncated", offset)
    block_type, type_specific, words = struct.unpack_from("!BBH", data, offset)
    block_end = offset + 4 + 4 * words
    if block_end > end:
        raise RtpError(f"XR block type {block_type} runs past the packet", offset)
    contents = bytes(data[offset + 4 : block_end])
    fields: dict[str, int] = {}
    dlrr: tuple[DlrrItem, ...] = ()
    if block_type == XrBlockType.RECEIVER_REFERENCE_TIME and len(contents) >= 8:
        fields["ntp_timestamp"] = struct.unpack_from("!Q", contents, 0)[0]
    elif block_type == XrBlockType.DLRR:
        dlrr = tuple(
            DlrrItem(*struct.unpack_from("!III", contents, i))
            for i in range(0, len(contents) - 11, 12)
        )
    elif block_type == XrBlockType.STATISTICS_SUMMARY and len(contents) >= _STATS_SUMMARY.size:
        fields = dict(zip(_STATS_SUMMARY_NAMES, _STATS_SUMMARY.unpack_from(contents), strict=True))
    elif block_type == XrBlockType.VOIP_METRICS and len(contents) >= _VOIP_METRICS.size:
        fields = dict(zip(_VOIP_METRICS_NAMES, _VOIP_METRICS.unpack_from(contents), strict=True))
    return XrBlock(block_type, type_specific, contents, fields, dlrr), block_end


@dataclass(frozen=True, slots=True)
class ExtendedReport:
    """RFC 3611 2."""

    ssrc: int
    blocks: tuple[XrBlock, ...] = ()

    def encode(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(b.encode() for b in self.blocks)
        return _header(RtcpType.XR, 0, len(body)) + body


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """A packet type this module does not decode, kept raw."""

    packet_type: int
    count: int
    body: bytes

    def encode(self) -> bytes:
        return _header(self.packet_type, self.count, len(self.body)) + self.body


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Goodbye
    | ApplicationDefined
    | Feedback
    | ExtendedReport
    | UnknownRtcp
)


def _parse_one(
    data: bytes | bytearray | memoryview, offset: int, end: int, count: int, pt: int
) -> RtcpPacket:
    body = offset + 4
    if pt == RtcpType.SR:
        if body + 24 > end:
            raise RtpError("RTCP SR sender info is truncated", body)
        ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", data, body)
        blocks_at = body + 24
        reports = _blocks(data, blocks_at, count, end)
        return SenderReport(
            ssrc, ntp, rtp_ts, packets, octets, reports, bytes(data[blocks_at + 24 * count : end])
        )
    if pt == RtcpType.RR:
        if body + 4 > end:
            raise RtpError("RTCP RR is truncated", body)
        ssrc = struct.unpack_from("!I", data, body)[0]
        reports = _blocks(data, body + 4, count, end)
        return ReceiverReport(ssrc, reports, bytes(data[body + 4 + 24 * count : end]))
    if pt == RtcpType.SDES:
        chunks = []
        pos = body
        for _ in range(count):
            if pos + 4 > end:
                raise RtpError("RTCP SDES chunk is truncated", pos)
            ssrc = struct.unpack_from("!I", data, pos)[0]
            pos += 4
            items = []
            while True:
                if pos >= end:
                    raise RtpError("RTCP SDES chunk has no END item", pos)
                item_type = data[pos]
                if item_type == SdesItem.END:
                    pos += 1
                    pos += -(pos - body) % 4  # chunks end on a 32-bit boundary (6.5)
                    break
                if pos + 2 > end or pos + 2 + data[pos + 1] > end:
                    raise RtpError(f"RTCP SDES item {item_type} runs past the packet", pos)
                length = data[pos + 1]
                items.append((item_type, bytes(data[pos + 2 : pos + 2 + length])))
                pos += 2 + length
            chunks.append(SdesChunk(ssrc, tuple(items)))
        return SourceDescription(tuple(chunks))
    if pt == RtcpType.BYE:
        if body + 4 * count > end:
            raise RtpError("RTCP BYE source list runs past the packet", body)
        ssrcs = struct.unpack_from(f"!{count}I", data, body) if count else ()
        pos = body + 4 * count
        reason = b""
        if pos < end:
            length = data[pos]
            if pos + 1 + length > end:
                raise RtpError("RTCP BYE reason runs past the packet", pos)
            reason = bytes(data[pos + 1 : pos + 1 + length])
        return Goodbye(tuple(ssrcs), reason)
    if pt == RtcpType.APP:
        if body + 8 > end:
            raise RtpError("RTCP APP is truncated", body)
        ssrc = struct.unpack_from("!I", data, body)[0]
        return ApplicationDefined(
            count, ssrc, bytes(data[body + 4 : body + 8]), bytes(data[body + 8 : end])
        )
    if pt in (RtcpType.RTPFB, RtcpType.PSFB):
        if body + 8 > end:
            raise RtpError("RTCP feedback packet is truncated", body)
        sender, media = struct.unpack_from("!II", data, body)
        return Feedback(pt, count, sender, media, bytes(data[body + 8 : end]))
    if pt == RtcpType.XR:
        if body + 4 > end:
            raise RtpError("RTCP XR is truncated", body)
        ssrc = struct.unpack_from("!I", data, body)[0]
        pos = body + 4
        xr_blocks = []
        while pos < end:
            block, pos = _parse_xr_block(data, pos, end)
            xr_blocks.append(block)
        return ExtendedReport(ssrc, tuple(xr_blocks))
    return UnknownRtcp(pt, count, bytes(data[body:end]))


def parse_compound(data: bytes | bytearray | memoryview, strict: bool = True) -> list[RtcpPacket]:
    """The RTCP packets of one datagram (RFC 3550 6.1).

    ``strict=False`` returns the packets before the first fault instead of raising (SRTCP
    datagrams end in an index and an authentication tag that are not RTCP packets).
    """
    packets: list[RtcpPacket] = []
    offset = 0
    size = len(data)
    if size < 4:
        raise RtpError(f"RTCP datagram is {size} bytes, shorter than a header", 0)
    while offset < size:
        try:
            if offset + 4 > size:
                raise RtpError("RTCP header is truncated", offset)
            first, pt, words = _HEADER.unpack_from(data, offset)
            if first >> 6 != 2:
                raise RtpError(f"RTCP version is {first >> 6}, not 2", offset)
            end = offset + 4 * (words + 1)
            if end > size:
                raise RtpError(
                    f"RTCP packet type {pt} of {end - offset} bytes runs past the datagram "
                    f"({size - offset} left)",
                    offset,
                )
            body_end = end
            if first & 0x20:
                pad = data[end - 1]
                if pad == 0 or pad > end - offset - 4:
                    raise RtpError(f"RTCP padding count {pad} does not fit", end - 1)
                body_end = end - pad
            packets.append(_parse_one(data, offset, body_end, first & 0x1F, pt))
        except RtpError:
            if strict or not packets:
                raise
            break
        offset = end
    return packets


def looks_like_rtcp(data: bytes | memoryview) -> bool:
    """Version 2 and a packet type in 192-223 (RFC 5761 4: RTCP's range when muxed)."""
    return len(data) >= 8 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


def ntp_from_unix_ns(ts_ns: int) -> int:
    """64-bit NTP timestamp of a capture time."""
    seconds, rest = divmod(ts_ns, 1_000_000_000)
    return ((seconds + NTP_UNIX_OFFSET_S) << 32) | (rest * 2**32 // 1_000_000_000)


def round_trip_ms(arrival_ns: int, block: ReportBlock) -> float | None:
    """RFC 3550 6.4.1 round-trip time as the SR's sender computes it, for a report arriving
    at ``arrival_ns`` on the sender's own NTP clock; None if the block has no LSR. A capture
    has no such clock: the commands time round trips with :class:`SenderReportLog`."""
    if block.lsr == 0:
        return None
    arrival = (ntp_from_unix_ns(arrival_ns) >> 16) & 0xFFFFFFFF
    rtt = (arrival - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt > 0x80000000:  # negative: clocks or capture point do not allow a value
        return None
    return rtt * 1000.0 / 65536.0


def rtcp_chain_end(data: bytes | bytearray | memoryview) -> int:
    """Where the chain of RTCP headers of a datagram stops: each header must be version 2
    with a type in 192-223 (RFC 5761 4) and a length inside the datagram. Plain RTCP ends at
    the datagram's end; SRTCP stops at the first encrypted header or at its trailer."""
    offset = 0
    size = len(data)
    while offset + 4 <= size:
        first, pt, words = _HEADER.unpack_from(data, offset)
        end = offset + 4 * (words + 1)
        if first >> 6 != 2 or not 192 <= pt <= 223 or end > size:
            break
        offset = end
    return offset


def parse_plain_rtcp(data: bytes | bytearray | memoryview) -> list[RtcpPacket] | None:
    """The packets of a datagram that is RTCP to its last byte, each of a type in 192-223;
    None for anything else (SRTCP, a truncated or corrupt datagram)."""
    if rtcp_chain_end(data) != len(data):
        return None
    try:
        return parse_compound(data)
    except RtpError:
        return None


class SrtcpFamily(StrEnum):
    """Where the SRTCP index sits: AES-CM with an HMAC-SHA1 tag, or AEAD AES-GCM."""

    HMAC_SHA1 = "aes-cm-hmac-sha1"  # RFC 3711 3.4, RFC 4568 6.2: E+index, MKI, 80-bit tag
    AEAD_GCM = "aead-gcm"  # RFC 7714 17: ciphertext+tag, E+index, MKI


SRTCP_HMAC_TAG_BYTES = 10
SRTCP_GCM_TAG_BYTES = 16
SRTCP_MKI_LENGTHS = range(5)  # MKI lengths tried when the SDP does not say (RFC 4568 6.1)
SRTCP_SINGLE_INDEX_LIMIT = 1 << 20  # one datagram alone: an index a sender reaches in weeks
SRTCP_INDEX_STEP_LIMIT = 64  # consecutive datagrams of a sender: index +1, or a few lost


@dataclass(frozen=True, slots=True)
class SrtcpTrailer:
    """The E flag and SRTCP index of one datagram, and where its RTCP compound ends."""

    encrypted: bool
    index: int
    rtcp_end: int


@dataclass(frozen=True, slots=True)
class SrtcpLayout:
    """One way an SRTCP datagram can end: the suite family and the MKI length."""

    family: SrtcpFamily
    mki_length: int = 0

    def read(self, data: bytes | bytearray | memoryview) -> SrtcpTrailer | None:
        """The trailer under this layout, or None when the datagram cannot be SRTCP so laid
        out: the RTCP part must be a whole number of 32-bit words holding at least the
        first (clear) packet, the clear headers must not run into the trailer, and with
        E = 0 the RTCP part must parse as plain RTCP."""
        size = len(data)
        if self.family is SrtcpFamily.HMAC_SHA1:
            index_at = size - SRTCP_HMAC_TAG_BYTES - self.mki_length - 4
            rtcp_end = index_at
        else:
            index_at = size - self.mki_length - 4
            rtcp_end = index_at - SRTCP_GCM_TAG_BYTES
        if rtcp_end < 8 or rtcp_end % 4:
            return None
        first_length = 4 * (struct.unpack_from("!H", data, 2)[0] + 1)
        if first_length > rtcp_end or rtcp_chain_end(data) > rtcp_end:
            return None
        (word,) = struct.unpack_from("!I", data, index_at)
        trailer = SrtcpTrailer(bool(word >> 31), word & 0x7FFFFFFF, rtcp_end)
        if not trailer.encrypted and parse_plain_rtcp(data[:rtcp_end]) is None:
            return None
        return trailer


SRTCP_LAYOUTS = tuple(
    SrtcpLayout(family, mki) for mki in SRTCP_MKI_LENGTHS for family in SrtcpFamily
)


def find_srtcp_layout(
    datagrams: list[bytes] | list[memoryview] | list[bytes | memoryview],
) -> SrtcpLayout | None:
    """The layout under which one sender's datagrams (one flow and sender SSRC, in capture
    order, none of them plain RTCP) are SRTCP, or None.

    A layout fits when at least half the datagrams read under it (the rest: cut short by
    the capture, damaged) and the index grows from datagram to datagram (RFC 3711 3.4: by
    one per packet; a few lost in between) for at least half the steps that are not a
    repeated copy; a lone readable datagram needs an index below 2^20. The fit with the
    highest share of growing steps times readable datagrams wins; ties go to the shorter
    MKI, then to HMAC-SHA1.
    """
    best: tuple[float, SrtcpLayout] | None = None
    for layout in SRTCP_LAYOUTS:
        indexes = [t.index for t in map(layout.read, datagrams) if t is not None]
        if not indexes or 2 * len(indexes) < len(datagrams):
            continue
        if len(indexes) == 1:
            score = 1.0 if indexes[0] < SRTCP_SINGLE_INDEX_LIMIT else 0.0
        else:
            steps = [(b - a) & 0x7FFFFFFF for a, b in pairwise(indexes)]
            growing = sum(1 for step in steps if 0 < step <= SRTCP_INDEX_STEP_LIMIT)
            # A repeated index is a copy (two capture points), no evidence either way; a
            # word that never changes is an MKI or padding, not an index.
            repeats = steps.count(0)
            score = growing / (len(steps) - repeats) if growing else 0.0
        rank = score * len(indexes) / len(datagrams)
        if score >= 0.5 and (best is None or rank > best[0]):
            best = (rank, layout)
    return best[1] if best else None


ROUND_TRIP_RESOLUTION_NS = 1_000_000  # tshark prints whole milliseconds


class SenderReportLog:
    """The SRs a capture saw, to time round trips as tshark does (RFC 3550 6.4.1).

    Feed SRs and report blocks in capture order, with the hosts each went between. A
    block's LSR is the middle 32 bits of the NTP time of the last SR its reporter received
    from the block's source; the round trip is known only when that SR is in the capture,
    sent the other way between the same two hosts: then it is this report's capture time
    less that SR's less DLSR (one clock, the capture's; the endpoints' NTP clocks need not
    agree with it). A second copy of an SR (two capture points) keeps the first's time.
    """

    def __init__(self) -> None:
        self._seen_ns: dict[tuple[int, int, str, str], int] = {}

    def note(self, report: SenderReport, ts_ns: int, src: str, dst: str) -> None:
        middle = (report.ntp_timestamp >> 16) & 0xFFFFFFFF
        self._seen_ns.setdefault((report.ssrc, middle, src, dst), ts_ns)

    def round_trip_ms(
        self, arrival_ns: int, block: ReportBlock, src: str, dst: str
    ) -> float | None:
        """For a block in a report from ``src`` to ``dst``: None when it has no LSR, its
        LSR matches no SR seen from ``dst`` to ``src``, or the result is negative by more
        than a millisecond (then it is not that SR the reporter meant)."""
        if block.lsr == 0:
            return None
        sent_ns = self._seen_ns.get((block.ssrc, block.lsr, dst, src))
        if sent_ns is None:
            return None
        rtt_ns = arrival_ns - sent_ns - block.dlsr * 1_000_000_000 / 65536
        if rtt_ns < -ROUND_TRIP_RESOLUTION_NS:
            return None
        # Within DLSR's and the capture's resolution of zero: a round trip of about 0.
        return max(rtt_ns, 0.0) / 1e6


# Plausibility of RTCP about a stream the capture saw: values past these bounds are not a
# sender's or receiver's counters but random bytes (SRTCP read as RTCP, a corrupt packet).
PLAUSIBLE_EXTRA_PACKETS = 3_600_000  # one hour at 1000 packets/s sent before the capture
PLAUSIBLE_MAX_JITTER_S = 10.0


def implausible_sender_report(report: SenderReport, packets_seen: int) -> str | None:
    """Why an SR's counters cannot be those of a stream of which the capture saw
    ``packets_seen`` packets, or None."""
    limit = 10 * packets_seen + PLAUSIBLE_EXTRA_PACKETS
    if report.packet_count > limit:
        return f"sender packet count {report.packet_count} (the capture saw {packets_seen})"
    return None


def implausible_report_block(
    block: ReportBlock, packets_seen: int, clock_rate: int | None
) -> str | None:
    """Why a report block cannot describe a stream of ``packets_seen`` packets, or None.
    Cumulative loss is negative only by the duplicates received (RFC 3550 6.4.1), so never
    below minus the packets; jitter is bounded by any jitter buffer's sense."""
    lost = block.cumulative_lost
    if lost < -max(packets_seen, 1) or lost > 10 * packets_seen + PLAUSIBLE_EXTRA_PACKETS:
        return f"cumulative loss {lost} (the capture saw {packets_seen} packets)"
    if clock_rate and block.jitter / clock_rate > PLAUSIBLE_MAX_JITTER_S:
        return f"jitter {block.jitter * 1000.0 / clock_rate:.0f} ms"
    return None
