"""What is in a capture: format, link types, time span, packet and protocol counts.

``capture_info(path)`` answers ``rtcscope info`` and the ``info`` section of ``rtcscope
analyze``. Counts are per record, from what :func:`rtcscope.capture.decode.decode` makes of
it (the outermost IP layer unless capture/tunnels.py decodes an encapsulation; IP fragments
are counted as they are, not reassembled):

- ``ipv4`` / ``ipv6``: records with an IPv4 / IPv6 header; ``udp``, ``tcp``, ``icmp`` (ICMP
  and ICMPv6): by the IP protocol field (fragments of a UDP datagram count as UDP).
- ``unknown_link``: records of a link type rtcscope does not decode (not an error).
- UDP payloads of unfragmented datagrams are classified by their first bytes
  (:func:`classify_udp_payload`), following the RFC 7983 demultiplexing ranges:

  ===== ===================================================================================
  rtp   both ports 1024 or above, first byte 128-191 (version 2), second byte not 192-223,
        at least 12 + 4*CC bytes
  rtcp  both ports 1024 or above, first byte 128-191, second byte 192-223 (RFC 5761
        section 4), at least 8 bytes and
        the first packet's length field ((words + 1) * 4) within the datagram
  stun  first byte 0-3, magic cookie 0x2112A442 at byte 4, length field + 20 == datagram
        (RFC 8489 section 5)
  dtls  first byte 20-63 (RFC 7983), second byte 0xFE (DTLS major version), at least 13
        bytes (a DTLS record header, RFC 6347 section 4.1)
  hep   ``HEP3``/``EEP3`` (HEPv3), or a HEPv1/v2 header: version 1 or 2, header length 16
        with family 2 (IPv4) or 40 with family 10 (IPv6), datagram at least that long (v2:
        plus 12 bytes of time and capture id)
  sip   a first line ``SIP/2.0 NNN ...`` (response) or ``METHOD URI SIP/2.0`` with an
        upper-case method (request), RFC 3261 section 7.1
  ===== ===================================================================================

  These say what a datagram *looks like*; tshark needs signalling (or a heuristic) to call
  UDP RTP, so its counts can differ on purpose.

JSON keys of ``rtcscope info --format json`` (one object per file, in this order; CSV has
the same columns): ``file``, ``format`` (``pcap``, ``pcap-nsec``, ``pcapng``),
``compressed``, ``byte_order``, ``interfaces``, ``link_types`` (``"ethernet (1)"``, ...),
``packets``, ``first_time``/``last_time`` (earliest and latest record time, ISO 8601 UTC
with nanoseconds, as Wireshark's capture properties take them), ``first_epoch``/
``last_epoch`` (the same as exact ``seconds.nanoseconds`` text, tshark's
``frame.time_epoch`` form), ``duration_s``, ``bytes`` (captured bytes, capinfos' data size),
``file_bytes`` (uncompressed file size), ``ipv4``, ``ipv6``, ``udp``, ``tcp``, ``icmp``,
``sip``, ``rtp``, ``rtcp``, ``stun``, ``dtls``, ``hep``, ``unknown_link``, ``warnings``
(faults met with ``--keep-going``).

By default the counting runs vectorized (capture/fastscan.py) and gives exactly what the
per-packet path gives (``fast=False``); tests check that on every capture.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from rtcscope.analyze import AnalysisContext, Section, register
from rtcscope.capture.decode import decode, is_known_linktype
from rtcscope.capture.packet import IpProto, LinkType, Packet
from rtcscope.capture.reader import CaptureReader, open_capture

STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"
# RTP/RTCP flows use unprivileged ports; below this, a first byte of 128-191 is a DNS id, a
# NetBIOS name service id, ... (seen in aaa.pcap), not RTP version 2.
MIN_MEDIA_PORT = 1024
UDP_CLASSES = ("sip", "rtp", "rtcp", "stun", "dtls", "hep")
_SIP_VERSION = b"SIP/2.0"

LINKTYPE_NAMES: dict[int, str] = {
    LinkType.NULL: "null",
    LinkType.ETHERNET: "ethernet",
    LinkType.RAW_LEGACY_12: "raw",
    LinkType.RAW_LEGACY_14: "raw",
    LinkType.LOOP: "loop",
    LinkType.RAW: "raw",
    LinkType.LINUX_SLL: "linux_sll",
    LinkType.IPV4: "ipv4",
    LinkType.IPV6: "ipv6",
    LinkType.LINUX_SLL2: "linux_sll2",
}


def linktype_name(linktype: int) -> str:
    """tcpdump.org's LINKTYPE_ name in lower case, with the number: ``ethernet (1)``."""
    return f"{LINKTYPE_NAMES.get(linktype, 'linktype')} ({linktype})"


def looks_like_sip(payload: bytes | memoryview) -> bool:
    """A SIP request or status line (RFC 3261 section 7.1) starts the payload."""
    head = bytes(payload[:1024])
    line_end = head.find(b"\r\n")
    line = head if line_end < 0 else head[:line_end]
    if line.startswith(b"SIP/2.0 "):
        return len(line) >= 11 and line[8:11].isdigit()
    parts = line.split(b" ")
    return (
        len(parts) == 3
        and parts[2] == _SIP_VERSION
        and parts[0].isalpha()
        and parts[0].isupper()
        and len(parts[1]) > 0
    )


def classify_udp_payload(payload: bytes | memoryview, sport: int, dport: int) -> str:
    """``sip``, ``rtp``, ``rtcp``, ``stun``, ``dtls``, ``hep`` or ``""`` (module docstring)."""
    size = len(payload)
    if size == 0:
        return ""
    first = payload[0]
    if 128 <= first <= 191:
        if sport < MIN_MEDIA_PORT or dport < MIN_MEDIA_PORT:
            return ""
        second = payload[1] if size >= 2 else -1
        if 192 <= second <= 223:
            if size >= 8 and (struct.unpack_from("!H", payload, 2)[0] + 1) * 4 <= size:
                return "rtcp"
            return ""
        return "rtp" if size >= 12 + 4 * (first & 0x0F) else ""
    if 65 <= first <= 90:
        if bytes(payload[:4]) in (b"HEP3", b"EEP3"):
            return "hep"
        return "sip" if looks_like_sip(payload) else ""
    if first <= 3:
        if (
            size >= 20
            and bytes(payload[4:8]) == STUN_MAGIC_COOKIE
            and struct.unpack_from("!H", payload, 2)[0] + 20 == size
        ):
            return "stun"
        if first in (1, 2) and size >= 4 and (payload[1], payload[2]) in ((16, 2), (40, 10)):
            return "hep" if size >= payload[1] + (12 if first == 2 else 0) else ""
        return ""
    if 20 <= first <= 63 and size >= 13 and payload[1] == 0xFE:
        return "dtls"
    return ""


@dataclass(slots=True)
class PacketCounts:
    """Counters over decoded packets (module docstring says what each one counts)."""

    packets: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    ipv4: int = 0
    ipv6: int = 0
    udp: int = 0
    tcp: int = 0
    icmp: int = 0
    unknown_link: int = 0
    udp_classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UDP_CLASSES, 0))

    def add_time(self, ts_ns: int) -> None:
        if self.first_ns is None or ts_ns < self.first_ns:
            self.first_ns = ts_ns
        if self.last_ns is None or ts_ns > self.last_ns:
            self.last_ns = ts_ns

    def add_packet(self, packet: Packet) -> None:
        """Count one decoded packet (and its time and captured bytes)."""
        self.packets += 1
        self.bytes += len(packet.data)
        self.add_time(packet.ts_ns)
        self.add_decoded(packet)

    def add_decoded(self, packet: Packet) -> None:
        """Count what decoding found (not the packet itself, its bytes or its time)."""
        if not is_known_linktype(packet.linktype):
            self.unknown_link += 1
            return
        if packet.ip_version == 4:
            self.ipv4 += 1
        elif packet.ip_version == 6:
            self.ipv6 += 1
        else:
            return
        proto = packet.ip_proto
        if proto == IpProto.UDP:
            self.udp += 1
            if packet.fragment is None and not packet.malformed:
                kind = classify_udp_payload(packet.payload, packet.sport, packet.dport)
                if kind:
                    self.udp_classes[kind] += 1
        elif proto == IpProto.TCP:
            self.tcp += 1
        elif proto in (IpProto.ICMP, IpProto.ICMPV6):
            self.icmp += 1


def epoch_text(ts_ns: int) -> str:
    """Exact seconds since the epoch with nine decimals, as tshark's ``frame.time_epoch``."""
    seconds, nanoseconds = divmod(ts_ns, 1_000_000_000)
    return f"{seconds}.{nanoseconds:09d}"


def utc_text(ts_ns: int) -> str:
    """ISO 8601 UTC time with microseconds (and the nanoseconds beyond them)."""
    seconds, nanoseconds = divmod(ts_ns, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return epoch_text(ts_ns)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanoseconds:09d}Z"


@dataclass(slots=True)
class CaptureInfo:
    """The answer of ``rtcscope info`` for one file."""

    file: str
    format: str
    compressed: bool
    byte_order: str
    interfaces: int
    link_types: list[int]
    counts: PacketCounts
    file_bytes: int
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        if self.counts.first_ns is None or self.counts.last_ns is None:
            return 0
        return self.counts.last_ns - self.counts.first_ns

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON keys of ``rtcscope info --format json``."""
        counts = self.counts
        first, last = counts.first_ns, counts.last_ns
        return {
            "file": self.file,
            "format": self.format,
            "compressed": self.compressed,
            "byte_order": self.byte_order,
            "interfaces": self.interfaces,
            "link_types": [linktype_name(t) for t in self.link_types],
            "packets": counts.packets,
            "first_time": utc_text(first) if first is not None else None,
            "last_time": utc_text(last) if last is not None else None,
            "first_epoch": epoch_text(first) if first is not None else None,
            "last_epoch": epoch_text(last) if last is not None else None,
            "duration_s": self.duration_ns / 1e9,
            "bytes": counts.bytes,
            "file_bytes": self.file_bytes,
            "ipv4": counts.ipv4,
            "ipv6": counts.ipv6,
            "udp": counts.udp,
            "tcp": counts.tcp,
            "icmp": counts.icmp,
            **{kind: counts.udp_classes[kind] for kind in UDP_CLASSES},
            "unknown_link": counts.unknown_link,
            "warnings": list(self.warnings),
        }


def capture_info(
    source: str | os.PathLike[str] | BinaryIO, keep_going: bool = False, fast: bool = True
) -> CaptureInfo:
    """Read a whole capture and summarise it (``fast``: vectorized, same result)."""
    with open_capture(source, keep_going=keep_going) as reader:
        if fast:
            from rtcscope.capture.fastscan import count_batches

            counts = count_batches(reader.batches())
        else:
            counts = PacketCounts()
            for record in reader:
                counts.add_packet(decode(record))
        return _info_from(reader, counts)


def _info_from(reader: CaptureReader, counts: PacketCounts) -> CaptureInfo:
    return CaptureInfo(
        file=reader.name,
        format=reader.format,
        compressed=reader.compressed,
        byte_order=reader.byte_order,
        interfaces=len(reader.interfaces),
        link_types=reader.linktypes,
        counts=counts,
        file_bytes=reader.size,
        warnings=[str(w) for w in reader.warnings],
    )


def format_info(info: CaptureInfo) -> str:
    """The info as aligned ``key: value`` lines (the ``analyze`` section text)."""
    data = info.as_dict()
    lines = []
    for key, value in data.items():
        if key == "warnings" and not value:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:.6f}"
        lines.append(f"{key:<13} {value}")
    return "\n".join(lines)


@register("info", 10)
def info_analysis(ctx: AnalysisContext) -> Section:
    """``rtcscope analyze``: the capture summary section."""
    info = capture_info(ctx.path, keep_going=bool(ctx.options.get("keep_going", False)))
    return Section(
        name="info",
        title=f"Capture {os.path.basename(info.file)}",
        text=format_info(info),
        data=info.as_dict(),
        problems=len(info.warnings),
    )
