"""The one place ``rtcscope sipp`` and ``rtcscope replay`` read a capture: :func:`load_stream`.

It picks one RTP stream (``--ssrc``, ``--stream N``, ``--call ID`` with ``--direction``) with
the one-pass scan (:func:`rtcscope.scan.files.scan_capture`, the order ``rtcscope streams``
lists), then reads that stream's frames in one more pass over the capture
(:func:`rtcscope.capture.pipeline.packets`), keeping each whole :class:`Packet` so the
pcap written for sipp holds every RTP field, gap, telephone-event and comfort-noise packet as
captured. RTCP of the stream (sent by the same SSRC, on the next port up or muxed, RFC 3550
11 / RFC 5761) comes along when asked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rtcscope.capture.packet import Packet
from rtcscope.errors import InputError, InvalidArgument
from rtcscope.rtp.split import ethernet_frame
from rtcscope.rtp.streams import RtpStream
from rtcscope.scan.files import scan_capture
from rtcscope.sip.capture import MediaAnnouncement

Direction = Literal["caller", "callee"]


@dataclass(frozen=True, slots=True)
class StreamChoice:
    """How the user named the stream: one of ``ssrc``, ``index`` (1-based), ``call_id``."""

    ssrc: int | None = None
    index: int | None = None
    call_id: str | None = None
    direction: Direction | None = None  # with call_id: the side that *sent* the stream


@dataclass(frozen=True, slots=True)
class Datagram:
    """One captured UDP datagram, copied out of the reader's buffers."""

    frame: int
    ts_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes  # the RTP or RTCP packet
    ethernet: bytes  # the whole frame as Ethernet (as captured when it was plain Ethernet)

    @classmethod
    def of(cls, packet: Packet) -> Datagram:
        return cls(
            packet.frame,
            packet.ts_ns,
            packet.src,
            packet.sport,
            packet.dst,
            packet.dport,
            bytes(packet.payload),
            ethernet_frame(packet),
        )


@dataclass(slots=True)
class LoadedStream:
    """One stream and its packets, in capture order."""

    stream: RtpStream
    announcements: list[MediaAnnouncement]  # the SDPs that named either end, oldest first
    packets: list[Datagram]  # the RTP packets
    rtcp: list[Datagram] = field(default_factory=list)


def parse_ssrc(text: str) -> int:
    """``0x9A7B5382`` or ``2591773570``."""
    try:
        value = int(text, 0)
    except ValueError as exc:
        raise InvalidArgument(
            "ssrc", f"{text!r} is not a number (0x9A7B5382 or 2591773570)"
        ) from exc
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument("ssrc", f"{text!r} is outside 32 bits")
    return value


def choice_from_options(
    ssrc: str | None,
    index: int | None,
    call_id: str | None,
    direction: str | None,
    default_direction: Direction | None,
) -> StreamChoice:
    """The :class:`StreamChoice` of the command-line options (``--direction`` only with
    ``--call``; ``default_direction`` when it is not given)."""
    if direction is not None and direction not in ("caller", "callee"):
        raise InvalidArgument("direction", f"caller or callee, not {direction!r}")
    if direction is not None and call_id is None:
        raise InvalidArgument("direction", "a direction goes with a call")
    side: Direction | None = "caller" if direction == "caller" else "callee"
    if direction is None:
        side = default_direction
    return StreamChoice(
        ssrc=None if ssrc is None else parse_ssrc(ssrc),
        index=index,
        call_id=call_id,
        direction=side if call_id is not None else None,
    )


def sender_role(stream: RtpStream, announcements: list[MediaAnnouncement]) -> str | None:
    """ "caller" or "callee": the side that sent ``stream``, from who announced its ends.

    RFC 3264: an SDP announces where its side *receives*; so a stream going to the caller's
    announced address was sent by the callee, and one leaving from the callee's announced
    address (symmetric RTP) too.
    """
    key = stream.key
    for announcement in reversed(announcements):
        if announcement.call_id != stream.call_id:
            continue
        if (announcement.address, announcement.port) == (key.dst, key.dst_port):
            return "callee" if announcement.role == "caller" else "caller"
        if (announcement.address, announcement.port) == (key.src, key.src_port):
            return announcement.role
    return None


def choose_stream(
    streams: list[RtpStream], announcements: list[MediaAnnouncement], choice: StreamChoice
) -> RtpStream:
    """The one stream ``choice`` names; a usage error when it names none or several."""
    given = sum(x is not None for x in (choice.ssrc, choice.index, choice.call_id))
    if given > 1:
        raise InvalidArgument("choice", "name the stream one way: by SSRC, by index or by call")
    if not streams:
        raise InputError("no RTP stream found in the capture")
    if choice.index is not None:
        if not 1 <= choice.index <= len(streams):
            raise InvalidArgument(
                "index", f"{choice.index}: the capture has {len(streams)} streams"
            )
        return streams[choice.index - 1]
    if choice.ssrc is not None:
        found = [s for s in streams if s.key.ssrc == choice.ssrc]
        if not found:
            raise InvalidArgument("ssrc", f"0x{choice.ssrc:08X}: no RTP stream has that SSRC")
        if len(found) > 1:
            listed = ", ".join(str(s.index) for s in found)
            raise InvalidArgument(
                "ssrc", f"0x{choice.ssrc:08X} names streams {listed}: choose one by index"
            )
        return found[0]
    if choice.call_id is not None:
        found = [s for s in streams if s.call_id == choice.call_id]
        if not found:
            raise InvalidArgument(
                "call_id", f"{choice.call_id}: no RTP stream belongs to that call"
            )
        if choice.direction is not None:
            found = [s for s in found if sender_role(s, announcements) == choice.direction]
            if not found:
                raise InvalidArgument(
                    "direction", f"call {choice.call_id}: no stream sent by the {choice.direction}"
                )
        if len(found) > 1:
            listed = ", ".join(str(s.index) for s in found)
            raise InvalidArgument(
                "call_id",
                f"{choice.call_id} has streams {listed}: give a direction or choose one by index",
            )
        return found[0]
    if len(streams) == 1:
        return streams[0]
    raise InvalidArgument(
        "choice", f"the capture has {len(streams)} RTP streams: choose one (index, SSRC or call)"
    )


def _rtcp_sender_ssrc(payload: memoryview) -> int | None:
    """The SSRC of an RTCP (compound) packet's first SR/RR (RFC 3550 6.4), else None."""
    if len(payload) < 8 or payload[0] & 0xC0 != 0x80 or payload[1] not in (200, 201):
        return None
    return int(struct.unpack_from("!I", payload, 4)[0])


def load_stream(
    capture: Path, choice: StreamChoice, *, with_rtcp: bool = False, dedup: bool = False
) -> LoadedStream:
    """Pick the stream ``choice`` names and read its packets (see the module docstring)."""
    from rtcscope.capture.flowread import udp_flow_packets

    scan = scan_capture(capture, dedup=dedup)
    stream = choose_stream(scan.streams, scan.announcements, choice)
    key = stream.key
    ends = {(key.src, key.src_port), (key.dst, key.dst_port)}
    named = [
        a
        for a in sorted(scan.announcements, key=lambda a: a.frame)
        if (a.address, a.port) in ends and a.frame <= stream.last_frame
    ]
    flow = (key.src, key.src_port, key.dst, key.dst_port)
    rtcp_flows = {flow, (key.src, key.src_port + 1, key.dst, key.dst_port + 1)}
    loaded = LoadedStream(stream, named, [])
    # Other flows' records skipped by an array test (every packet decoded with --dedup).
    source = udp_flow_packets(capture, rtcp_flows, dedup=dedup)
    for packet in source:
        if packet.frame > stream.last_frame and not with_rtcp:
            break
        if packet.ip_proto != 17 or len(packet.payload) < 8:
            continue
        here = (packet.src, packet.sport, packet.dst, packet.dport)
        payload = packet.payload
        if with_rtcp and here in rtcp_flows and _rtcp_sender_ssrc(payload) == key.ssrc:
            loaded.rtcp.append(Datagram.of(packet))
            continue
        if here != flow or len(payload) < 12 or payload[0] & 0xC0 != 0x80:
            continue
        if 192 <= payload[1] <= 223:  # RTCP sharing the port (RFC 5761 4)
            continue
        if not stream.first_frame <= packet.frame <= stream.last_frame:
            continue
        if struct.unpack_from("!I", payload, 8)[0] == key.ssrc:
            loaded.packets.append(Datagram.of(packet))
    if not loaded.packets:
        raise InputError(f"stream {stream.index} ({key}) has no packets to read")
    return loaded
