"""HEP packets for what a capture holds: its SIP messages and, on request, its RTCP.

What ``rtcscope hep send`` sends. SIP comes from :func:`rtcscope.scan.files.sip_messages`
(UDP datagrams, reassembled TCP, WebSocket; IPv4 and IPv6), each with the addresses, ports
and capture time it had in the capture, not ours. RTCP (``rtcp=True``) is every UDP datagram
that looks like RTCP (RFC 5761 4: packet type 200-223) sent to or from an RTCP endpoint some
SDP of the capture announced (``a=rtcp``, else the RTP port + 1, or the RTP port itself with
``a=rtcp-mux``; RFC 3605, RFC 3550 11), turned into Homer's type 5 JSON with the call's
Call-ID as correlation id: Homer stores non-SIP messages only with one, so RTCP that no SDP
explains is counted in ``rtcp_unmatched`` and not sent.

The two kinds are merged in capture-time order (both lists are held in memory: a capture's
SIP and RTCP are small beside its RTP).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rtcscope.errors import InvalidArgument, RtpError
from rtcscope.hep.codec import AF_INET, AF_INET6, HepPacket, ProtocolType
from rtcscope.hep.rtcp_json import rtcp_hep_packet

if TYPE_CHECKING:
    from rtcscope.sip.capture import CapturedSip


@dataclass
class CaptureHepStats:
    sip: int = 0
    rtcp: int = 0
    rtcp_unmatched: int = 0  # RTCP no SDP of the capture explains (no Call-ID to give it)
    rtcp_without_report: int = 0  # compound RTCP without SR/RR (nothing Homer reads)


def _ns_split(ts_ns: int) -> tuple[int, int]:
    seconds, rest = divmod(ts_ns, 1_000_000_000)
    return seconds, rest // 1000


def capture_hep_packets(
    path: str | os.PathLike[str],
    *,
    capture_id: int = 0,
    node_name: str | None = None,
    password: str | None = None,
    version: int = 3,
    rtcp: bool = False,
    stats: CaptureHepStats | None = None,
) -> Iterator[HepPacket]:
    """HEP packets for the SIP (and RTCP) of a capture, in capture-time order."""
    from rtcscope.scan.files import sip_messages

    if version not in (2, 3):
        raise InvalidArgument("version", f"HEP version must be 2 or 3, not {version}")
    if version == 2 and (rtcp or node_name or password):
        raise InvalidArgument("version", "HEPv2 carries SIP only: no RTCP, node name or password")
    if version == 2 and capture_id > 0xFFFF:
        raise InvalidArgument(
            "capture_id", f"HEPv2 capture ids are 16 bits: {capture_id} does not fit"
        )
    if stats is None:
        stats = CaptureHepStats()
    timed: list[tuple[int, int, HepPacket]] = []
    captured = list(sip_messages(path))
    for order, item in enumerate(captured):
        ts_sec, ts_usec = _ns_split(item.ts_ns)
        timed.append(
            (
                item.ts_ns,
                order,
                HepPacket(
                    version=version,
                    magic=b"HEP3" if version == 3 else b"",
                    ip_family=AF_INET6 if ":" in item.src else AF_INET,
                    ip_proto={"udp": 17, "sctp": 132}.get(item.transport, 6),
                    src=item.src,
                    dst=item.dst,
                    sport=item.sport,
                    dport=item.dport,
                    ts_sec=ts_sec,
                    ts_usec=ts_usec,
                    proto_type=ProtocolType.SIP,
                    capture_id=capture_id,
                    auth_key=password,
                    node_name=node_name,
                    payload=bytes(item.message),
                ),
            )
        )
        stats.sip += 1
    if rtcp:
        base = len(timed)
        for order, packet in enumerate(
            _rtcp_packets(path, captured, capture_id, node_name, password, stats)
        ):
            assert packet.time_ns is not None
            timed.append((packet.time_ns, base + order, packet))
    timed.sort(key=lambda t: (t[0], t[1]))
    for _, _, packet in timed:
        yield packet


def _rtcp_packets(
    path: str | os.PathLike[str],
    captured: list[CapturedSip],
    capture_id: int,
    node_name: str | None,
    password: str | None,
    stats: CaptureHepStats,
) -> Iterator[HepPacket]:
    from rtcscope.capture.pipeline import packets
    from rtcscope.rtp.rtcp import looks_like_rtcp
    from rtcscope.sip.capture import media_announcements

    call_of: dict[tuple[str, int], str] = {}
    for m in media_announcements(captured):
        # The announcement carries the RTCP endpoint already resolved (SDP's rtcp_port:
        # rtcp-mux, a=rtcp, else port + 1; rtcp_address: a=rtcp's address, else c=); None
        # for a rejected stream (port 0).
        if m.call_id is None or m.rtcp_address is None or m.rtcp_port is None:
            continue
        call_of[(m.rtcp_address, m.rtcp_port)] = m.call_id
    for packet in packets(path):
        if not packet.is_udp or not looks_like_rtcp(packet.payload):
            continue
        call_id = call_of.get((packet.dst, packet.dport)) or call_of.get((packet.src, packet.sport))
        if call_id is None:
            stats.rtcp_unmatched += 1
            continue
        try:
            hep = rtcp_hep_packet(
                bytes(packet.payload),
                correlation_id=call_id,
                src=packet.src,
                dst=packet.dst,
                sport=packet.sport,
                dport=packet.dport,
                time_ns=packet.ts_ns,
                capture_id=capture_id,
                node_name=node_name,
                auth_key=password,
            )
        except RtpError:
            hep = None
        if hep is None:
            stats.rtcp_without_report += 1
            continue
        stats.rtcp += 1
        yield hep
