"""What the replayed stream carries, as an SDP media section: pure, from the captured call.

:func:`describe_media` takes the stream, the SDPs that named its ends and its packets'
(payload type, sequence, timestamp) and returns a :class:`MediaDescription`: every payload
type the stream used (audio first, then telephone-event, comfort noise, ...) with the
rtpmap and fmtp the original SDP gave it (RFC 4566 6), the ptime, and how long the stream
lasts. Without an SDP, static payload types come from RFC 3551's table and the ptime from
the RTP timestamps (the most common step between consecutive packets over the clock).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rtcscope.errors import InputError
from rtcscope.rtp.streams import STATIC_CODECS, RtpStream
from rtcscope.sip.capture import MediaAnnouncement


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """One payload type of the m= line: ``a=rtpmap`` (and ``a=fmtp`` when the SDP had one)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None

    @property
    def rtpmap(self) -> str:
        base = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return base if self.channels == 1 else f"{base}/{self.channels}"


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """The stream as an SDP media section, and its length (for the scenario's pause)."""

    formats: tuple[PayloadFormat, ...]  # the main (audio) payload type first
    ptime_ms: float | None
    duration_ms: int  # capture time from the first packet to the last
    packets: int
    ssrc: int
    # SRTP (RFC 4568): the sender's profile and a=crypto lines, so that whoever receives the
    # replayed (still encrypted) stream is given the key that decrypts it.
    proto: str = "RTP/AVP"
    crypto: tuple[str, ...] = ()

    @property
    def payload_types(self) -> list[int]:
        return [f.payload_type for f in self.formats]

    def sdp_lines(self) -> list[str]:
        """The ``a=`` lines after ``m=audio PORT RTP/AVP <payload types>``."""
        lines = []
        for fmt in self.formats:
            lines.append(f"a=rtpmap:{fmt.rtpmap}")
            if fmt.fmtp:
                lines.append(f"a=fmtp:{fmt.payload_type} {fmt.fmtp}")
        if self.ptime_ms is not None:
            lines.append(f"a=ptime:{self.ptime_ms:g}")
        lines += [f"a=crypto:{line}" for line in self.crypto]
        return lines


# (payload type, sequence number, RTP timestamp) of one packet.
PacketHead = tuple[int, int, int]
_HEAD = struct.Struct("!xBHI")


def packet_head(rtp: bytes) -> PacketHead:
    """(payload type, sequence, timestamp) of an RTP packet (RFC 3550 5.1)."""
    second, seq, ts = _HEAD.unpack_from(rtp, 0)
    return second & 0x7F, seq, ts


def rtp_ptime_ms(heads: Sequence[PacketHead], payload_type: int, clock_rate: int) -> float | None:
    """The packet time the RTP shows: the most common timestamp step between packets of
    ``payload_type`` whose sequence numbers follow each other, over the clock."""
    steps: Counter[int] = Counter()
    previous: PacketHead | None = None
    for head in heads:
        if head[0] != payload_type:
            previous = None
            continue
        if previous is not None and (head[1] - previous[1]) & 0xFFFF == 1:
            step = (head[2] - previous[2]) & 0xFFFFFFFF
            if 0 < step < clock_rate:
                steps[step] += 1
        previous = head
    if not steps or clock_rate <= 0:
        return None
    step = steps.most_common(1)[0][0]
    return round(step * 1000 / clock_rate, 3)


def describe_media(
    stream: RtpStream,
    announcements: Sequence[MediaAnnouncement],
    heads: Sequence[PacketHead],
    times_ns: Sequence[int],
) -> MediaDescription:
    """The :class:`MediaDescription` of ``stream`` (see the module docstring).

    ``announcements`` are the SDPs that named either end of the stream, oldest first; the
    sender's own SDP wins over the receiver's where both name a payload type (it is the one
    whose numbers the sender used when both sides agree, and the one we re-offer).
    """
    if not heads:
        raise InputError(f"stream {stream.index} has no packets")
    sender = (stream.key.src, stream.key.src_port)
    ordered = sorted(announcements, key=lambda a: ((a.address, a.port) == sender, a.frame))
    rtpmaps: dict[int, tuple[str, int, int]] = {}
    fmtps: dict[int, str] = {}
    ptime: float | None = None
    for announcement in ordered:
        rtpmaps.update(announcement.rtpmaps)
        fmtps.update(announcement.fmtp)
        if announcement.ptime is not None:
            ptime = announcement.ptime
    used = Counter(head[0] for head in heads)
    main = stream.payload_type if stream.payload_type in used else used.most_common(1)[0][0]
    order = [main, *sorted(pt for pt in used if pt != main)]
    formats: list[PayloadFormat] = []
    for pt in order:
        if pt in rtpmaps:
            name, clock, channels = rtpmaps[pt]
        elif pt in STATIC_CODECS:
            name, clock, channels = STATIC_CODECS[pt]
        elif pt == main and stream.codec and stream.clock_rate:
            name, clock, channels = stream.codec, stream.clock_rate, stream.channels or 1
        else:
            raise InputError(
                f"payload type {pt} of stream {stream.index} has no rtpmap in the capture "
                "(no SDP named it), so the scenario cannot offer it"
            )
        formats.append(PayloadFormat(pt, name, clock, channels or 1, fmtps.get(pt)))
    if ptime is None:
        ptime = rtp_ptime_ms(heads, main, formats[0].clock_rate)
    # RFC 4568 6.1: each side's a=crypto key protects what that side sends.
    own = [a for a in ordered if (a.address, a.port) == sender]
    proto, crypto = "RTP/AVP", tuple[str, ...]()
    if own and own[-1].crypto:
        proto, crypto = own[-1].proto, tuple(c.raw for c in own[-1].crypto)
    return MediaDescription(
        formats=tuple(formats),
        ptime_ms=ptime,
        duration_ms=round((times_ns[-1] - times_ns[0]) / 1e6),
        packets=len(heads),
        ssrc=stream.key.ssrc,
        proto=proto,
        crypto=crypto,
    )


def cut_window(times_ns: Sequence[int], start_s: float, seconds: float | None) -> range:
    """The positions of the packets from ``start_s`` after the first one, for ``seconds``
    (to the end when None): cutting a long stream keeps every field of the packets kept."""
    if not times_ns:
        return range(0)
    origin = times_ns[0]
    begin_ns = origin + round(start_s * 1e9)
    end_ns = None if seconds is None else begin_ns + round(seconds * 1e9)
    first = next((i for i, t in enumerate(times_ns) if t >= begin_ns), len(times_ns))
    last = len(times_ns)
    if end_ns is not None:
        last = next((i for i, t in enumerate(times_ns) if t > end_ns), len(times_ns))
    return range(first, max(first, last))
