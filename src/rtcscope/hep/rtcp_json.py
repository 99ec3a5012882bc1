"""RTCP as Homer's type 5 JSON (the HEP protocol type ``RTCP_JSON``), shared with hepipe.

Homer does not decode binary RTCP; agents (captagent, heplify, FreeSWITCH, rtpengine) send
each compound RTCP datagram as one JSON object, and Homer's QoS views read these keys::

    {"sender_information": {"ntp_timestamp_sec", "ntp_timestamp_usec", "rtp_timestamp",
                            "packets", "octets"},          # only for a sender report
     "ssrc", "type" (200 SR / 201 RR), "report_count",
     "report_blocks": [{"source_ssrc", "fraction_lost", "packets_lost", "highest_seq_no",
                        "ia_jitter", "lsr", "dlsr"}],
     "sdes_ssrc", "sdes_information": [{"type", "text"}]}  # when an SDES chunk is present

(the key names as in the RTCP JSON packet of sipcapture's hep-wireshark sample). Values are
RFC 3550 6.4's fields: ``fraction_lost`` is the raw 8-bit value (lost/256), ``packets_lost``
the signed cumulative count, ``ia_jitter`` in timestamp units, ``lsr``/``dlsr`` as carried
(1/65536 s). ``ntp_timestamp_usec`` is the NTP fraction converted to microseconds.

A HEP packet carrying it must have protocol type 5 and a correlation id (the call's
Call-ID): Homer drops non-SIP messages without one. :func:`rtcp_hep_packet` builds it from
a datagram's bytes or from its packets already parsed. A capture's scan has parsed them and
knows which datagrams were SRTCP: only RTCP that reads in clear belongs here, never an
encrypted SRTCP datagram parsed as if it were RTCP (its report would be noise).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rtcscope.errors import RtpError
from rtcscope.hep.codec import AF_INET, AF_INET6, HepPacket, ProtocolType
from rtcscope.rtp.rtcp import (
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    parse_compound,
)


def _block(block: ReportBlock) -> dict[str, int]:
    return {
        "source_ssrc": block.ssrc,
        "highest_seq_no": block.highest_sequence,
        "fraction_lost": block.fraction_lost,
        "ia_jitter": block.jitter,
        "packets_lost": block.cumulative_lost,
        "lsr": block.lsr,
        "dlsr": block.dlsr,
    }


def rtcp_to_homer(data: bytes | bytearray | memoryview) -> dict[str, Any] | None:
    """The Homer JSON object of one compound RTCP datagram; None when it holds no SR/RR.

    Raises :class:`~rtcscope.errors.RtpError` when the datagram is not RTCP at all.
    """
    return homer_rtcp(parse_compound(data, strict=False))


def homer_rtcp(packets: Iterable[RtcpPacket]) -> dict[str, Any] | None:
    """The Homer JSON object of one datagram's RTCP packets (its first SR or RR, and its
    first SDES chunk); None when they hold no SR/RR."""
    report: SenderReport | ReceiverReport | None = None
    sdes: SourceDescription | None = None
    for packet in packets:
        if report is None and isinstance(packet, SenderReport | ReceiverReport):
            report = packet
        elif sdes is None and isinstance(packet, SourceDescription):
            sdes = packet
    if report is None:
        return None
    out: dict[str, Any] = {}
    if isinstance(report, SenderReport):
        ntp = report.ntp_timestamp
        out["sender_information"] = {
            "ntp_timestamp_sec": ntp >> 32,
            "ntp_timestamp_usec": (ntp & 0xFFFFFFFF) * 1_000_000 >> 32,
            "rtp_timestamp": report.rtp_timestamp,
            "packets": report.packet_count,
            "octets": report.octet_count,
        }
        out["type"] = 200
    else:
        out["type"] = 201
    out["ssrc"] = report.ssrc
    out["report_count"] = len(report.reports)
    out["report_blocks"] = [_block(b) for b in report.reports]
    if sdes is not None and sdes.chunks:
        chunk = sdes.chunks[0]
        out["sdes_ssrc"] = chunk.ssrc
        out["sdes_information"] = [
            {"type": kind, "text": value.decode("utf-8", "replace")} for kind, value in chunk.items
        ]
    return out


def rtcp_to_homer_json(data: bytes | bytearray | memoryview) -> bytes | None:
    """:func:`rtcp_to_homer` serialised compactly (the HEP payload), or None."""
    return _serialised(rtcp_to_homer(data))


def _serialised(obj: dict[str, Any] | None) -> bytes | None:
    return None if obj is None else json.dumps(obj, separators=(",", ":")).encode()


def rtcp_hep_packet(
    rtcp: bytes | bytearray | memoryview | Iterable[RtcpPacket],
    *,
    correlation_id: str,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    time_ns: int,
    capture_id: int = 0,
    node_name: str | None = None,
    auth_key: str | None = None,
) -> HepPacket | None:
    """A HEP3 type-5 packet for one RTCP datagram, given as its bytes or as its packets
    already parsed (None if it has no SR/RR)."""
    if not correlation_id:
        raise RtpError("RTCP for Homer needs a correlation id (the call's Call-ID)")
    if isinstance(rtcp, bytes | bytearray | memoryview):
        rtcp = parse_compound(rtcp, strict=False)
    payload = _serialised(homer_rtcp(rtcp))
    if payload is None:
        return None
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return HepPacket(
        ip_family=AF_INET6 if ":" in src else AF_INET,
        ip_proto=17,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        ts_sec=seconds,
        ts_usec=rest // 1000,
        proto_type=ProtocolType.RTCP_JSON,
        capture_id=capture_id,
        auth_key=auth_key,
        correlation_id=correlation_id,
        node_name=node_name,
        payload=payload,
    )
