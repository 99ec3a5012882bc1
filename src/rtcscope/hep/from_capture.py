"""HEP packets for what a capture holds: its SIP messages and, on request, its RTCP.

What ``rtcscope hep send`` sends, built from what one pass over the capture found
(:func:`rtcscope.scan.scan`; this module takes the pass's results, not a path, so the
capture options --dedup, --no-reassembly, stdin and FIFOs mean here what they mean
everywhere). SIP is every message the pass framed (UDP datagrams, reassembled TCP,
WebSocket, SCTP; IPv4 and IPv6), each with the addresses, ports and capture time it had in
the capture, not ours.

RTCP (``rtcp=``, the pass's :class:`~rtcscope.rtp.streams.ScanResult`) is each UDP datagram
the stream scanner read as RTCP, sent to or from an RTCP endpoint some SDP of the capture
announced (``a=rtcp``, else the RTP port + 1, or the RTP port itself with ``a=rtcp-mux``;
RFC 3605, RFC 3550 11), turned into Homer's type 5 JSON with the call's Call-ID as
correlation id: Homer stores non-SIP messages only with one, so RTCP that no SDP explains
is counted in ``rtcp_unmatched`` and not sent.

SRTCP (RFC 3711 3.4) is sent only when its RTCP reads in clear: the null cipher (E = 0), or
decrypted with the ``a=crypto`` keys of the capture's own SDP (the scan tries them). An
encrypted SRTCP datagram without its key shows only its first 8 bytes in clear (packet type,
sender SSRC): it is sent as nothing, not as a report of noise, and counted in
``rtcp_encrypted``.

The two kinds are merged in capture-time order (both lists are held in memory: a capture's
SIP and RTCP are small beside its RTP).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from rtcscope.errors import InvalidArgument
from rtcscope.hep.codec import AF_INET, AF_INET6, HepPacket, ProtocolType
from rtcscope.hep.rtcp_json import rtcp_hep_packet

if TYPE_CHECKING:
    from rtcscope.rtp.streams import RtcpPacketRecord, ScanResult
    from rtcscope.sip.capture import CapturedSip, MediaAnnouncement


@dataclass
class CaptureHepStats:
    sip: int = 0
    rtcp: int = 0
    rtcp_unmatched: int = 0  # RTCP no SDP of the capture explains (no Call-ID to give it)
    rtcp_without_report: int = 0  # compound RTCP without SR/RR (nothing Homer reads)
    rtcp_encrypted: int = 0  # SRTCP datagrams without their key: not sent


def _ns_split(ts_ns: int) -> tuple[int, int]:
    seconds, rest = divmod(ts_ns, 1_000_000_000)
    return seconds, rest // 1000


def check_hep_options(version: int, capture_id: int, *, rtcp: bool, named: bool) -> None:
    """What HEPv2 can carry (SIP only, 16-bit capture ids); ``named``: a node name or
    password was given."""
    if version not in (2, 3):
        raise InvalidArgument("version", f"HEP version must be 2 or 3, not {version}")
    if version == 2 and (rtcp or named):
        raise InvalidArgument("version", "HEPv2 carries SIP only: no RTCP, node name or password")
    if version == 2 and capture_id > 0xFFFF:
        raise InvalidArgument(
            "capture_id", f"HEPv2 capture ids are 16 bits: {capture_id} does not fit"
        )


def capture_hep_packets(
    messages: Sequence[CapturedSip],
    *,
    announcements: Sequence[MediaAnnouncement] = (),
    rtcp: ScanResult | None = None,
    capture_id: int = 0,
    node_name: str | None = None,
    password: str | None = None,
    version: int = 3,
    stats: CaptureHepStats | None = None,
) -> Iterator[HepPacket]:
    """HEP packets for a capture's SIP ``messages`` (and, given the scan's ``rtcp`` result
    and the SDP ``announcements`` naming its calls, its readable RTCP), in capture-time
    order."""
    check_hep_options(version, capture_id, rtcp=rtcp is not None, named=bool(node_name or password))
    if stats is None:
        stats = CaptureHepStats()
    timed: list[tuple[int, int, HepPacket]] = []
    for order, item in enumerate(messages):
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
    if rtcp is not None:
        base = len(timed)
        packets = _rtcp_packets(rtcp, announcements, capture_id, node_name, password, stats)
        for order, packet in enumerate(packets):
            assert packet.time_ns is not None
            timed.append((packet.time_ns, base + order, packet))
    timed.sort(key=lambda t: (t[0], t[1]))
    for _, _, packet in timed:
        yield packet


def _datagram(record: RtcpPacketRecord) -> tuple[int, str, int, str, int]:
    return (record.frame, record.src, record.src_port, record.dst, record.dst_port)


def _rtcp_packets(
    result: ScanResult,
    announcements: Sequence[MediaAnnouncement],
    capture_id: int,
    node_name: str | None,
    password: str | None,
    stats: CaptureHepStats,
) -> Iterator[HepPacket]:
    call_of: dict[tuple[str, int], str] = {}
    for m in announcements:
        # The announcement carries the RTCP endpoint already resolved (SDP's rtcp_port:
        # rtcp-mux, a=rtcp, else port + 1; rtcp_address: a=rtcp's address, else c=); None
        # for a rejected stream (port 0).
        if m.call_id is None or m.rtcp_address is None or m.rtcp_port is None:
            continue
        call_of[(m.rtcp_address, m.rtcp_port)] = m.call_id
    stats.rtcp_encrypted += sum(d.encrypted and not d.decrypted for d in result.srtcp)
    # The scan keeps one record per RTCP packet, in frame order: a datagram is the records of
    # one frame and flow. Encrypted SRTCP is not among them (only in result.srtcp) unless
    # the scan decrypted it; SRTCP with the null cipher is, as its RTCP.
    for (_, src, sport, dst, dport), group in groupby(result.rtcp_packets, key=_datagram):
        records = list(group)
        call_id = call_of.get((dst, dport)) or call_of.get((src, sport))
        if call_id is None:
            stats.rtcp_unmatched += 1
            continue
        hep = rtcp_hep_packet(
            [r.packet for r in records],
            correlation_id=call_id,
            src=src,
            dst=dst,
            sport=sport,
            dport=dport,
            time_ns=records[0].ts_ns,
            capture_id=capture_id,
            node_name=node_name,
            auth_key=password,
        )
        if hep is None:
            stats.rtcp_without_report += 1
            continue
        stats.rtcp += 1
        yield hep
