"""RTCP packets (RFC 3550 6.4-6.7, RFC 4585 6, RFC 3611) and compound datagrams.

Each packet type is one frozen dataclass with ``parse``/``encode``; :func:`parse_compound`
splits a datagram into its packets (RFC 3550 6.1: several packets back to back, padding only
in the last). Extended reports (RFC 3611) decode the receiver reference time (4), DLRR (5),
statistics summary (6) and VoIP metrics (7) blocks; other block types are kept raw.

Round-trip time (RFC 3550 6.4.1): a report block's LSR is the middle 32 bits of the NTP time
of the last SR from that source and DLSR the delay since, both in 1/65536 s; the RTT seen by
the SR's sender is ``A - LSR - DLSR`` where A is the report's arrival time in the same units
(:func:`round_trip_ms`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

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
    """RFC 3550 6.4.1 round-trip time for a report arriving at ``arrival_ns``; None if the
    block has no LSR (no SR received yet)."""
    if block.lsr == 0:
        return None
    arrival = (ntp_from_unix_ns(arrival_ns) >> 16) & 0xFFFFFFFF
    rtt = (arrival - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt > 0x80000000:  # negative: clocks or capture point do not allow a value
        return None
    return rtt * 1000.0 / 65536.0
