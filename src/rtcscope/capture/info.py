"""What is in a capture: format, link types, time span, packet and protocol counts.

:class:`PacketCounts` is the counts tap of the one-pass scan (:mod:`rtcscope.scan`; the path-
taking ``rtcscope.scan.files.capture_info`` answers ``rtcscope info`` and the ``info`` section
of ``rtcscope analyze``). Each record is decoded as :func:`rtcscope.capture.decode.decode` does
(the outermost IP layer unless capture/tunnels.py decodes an encapsulation) and, by default, IP
fragments are reassembled the way :func:`rtcscope.capture.pipeline.packets` does it: the same
:class:`~rtcscope.capture.defrag.Defragmenter`, fed the fragments in file order, and then, with
``dedup``, the same :class:`~rtcscope.capture.dedup.Deduplicator`. Like Wireshark with
its reassembly preferences on (its default):

- ``packets``, ``bytes`` and the time span are over every record (capinfos' figures).
- ``ipv4`` / ``ipv6``: one per record with an IPv4 / IPv6 header (a fragment held for
  reassembly too); the IP version of a record that completes a datagram is the delivered
  packet's (the inner one when the datagram carried a tunnel).
- ``dedup``: the Deduplicator sees each completed datagram whole, as in the pipeline, and
  each fragment the defragmenter holds as itself (the pipeline never yields those; here their
  records are counted as IP, so their copies must be dropped too). A dropped copy counts in
  nothing but ``duplicates``.
- ``udp``, ``tcp``, ``icmp`` (ICMP and ICMPv6), ``sctp``, and the UDP classes below: one per packet
  delivered, so a fragmented datagram counts once, at the record that completes it, as what
  the whole datagram is (the first fragment of a SIP INVITE alone would not read as SIP).
  Fragments that never complete a datagram count only as IP; what the defragmenter dropped,
  and why, is in the ``fragments_*`` keys.
- With ``reassemble=False`` (``--no-reassembly``) every record counts on its own: fragments
  of a UDP datagram count as UDP, and only unfragmented datagrams are classified.
- ``unknown_link``: records of a link type rtcscope does not decode (not an error).
- UDP payloads are classified by their first bytes (:func:`classify_udp_payload`), following
  the RFC 7983 demultiplexing ranges:

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
- ``sip`` counts every frame that carries SIP, as ``tshark -Y sip`` does: the UDP datagrams
  above (``sip_udp``) plus the frames that complete at least one SIP message over TCP
  (``sip_tcp``), WebSocket (``sip_ws``, RFC 7118) or SCTP (``sip_sctp``, RFC 4168). Those come
  from the scan's SIP framer (TCP and SCTP reassembled), which calls :meth:`PacketCounts.
  add_sip_frame`; a message cut off by the end of the capture is not counted (tshark does not
  show it as SIP either).
- ``tls_flow_count``: how many TCP connections carry TLS on any port
  (:mod:`rtcscope.capture.tls`; ``rtcscope calls --format json`` lists them as ``tls_flows``),
  and ``tls_server_ports`` their server ports, most flows first: encrypted, not decoded (SIP over
  TLS on 5061, HTTPS or secure WebSocket on 443).

JSON keys of ``rtcscope info --format json`` (one object per file, in this order; CSV has
the same columns): ``file``, ``format`` (``pcap``, ``pcap-nsec``, ``pcapng``),
``compressed``, ``byte_order``, ``interfaces``, ``link_types`` (``"ethernet (1)"``, ...),
``packets``, ``first_time``/``last_time`` (earliest and latest record time, ISO 8601 UTC
with nanoseconds, as Wireshark's capture properties take them), ``first_epoch``/
``last_epoch`` (the same as exact ``seconds.nanoseconds`` text, tshark's
``frame.time_epoch`` form), ``duration_s``, ``bytes`` (captured bytes, capinfos' data size),
``file_bytes`` (uncompressed file size), ``ipv4``, ``ipv6``, ``udp``, ``tcp``, ``icmp``,
``sctp``, ``sip``, ``rtp``, ``rtcp``, ``stun``, ``dtls``, ``hep``, ``sip_udp``, ``sip_tcp``,
``sip_ws``, ``sip_sctp``, ``tls_flow_count``, ``tls_server_ports``, ``unknown_link``,
``reassembly`` (whether IP fragments were reassembled), ``ip_fragments`` (fragments fed to the
defragmenter; without reassembly, records holding a fragment), ``datagrams_reassembled``,
``fragments_dropped`` (fragments that never became part of a delivered datagram: the sum of
``fragments_expired`` (reassembly timeout in capture time), ``fragments_evicted`` (buffer
caps), ``fragments_incomplete`` (datagram unfinished when the capture ends) and
``fragments_invalid`` (past the datagram's end or the size limit)), ``duplicate_fragments``
(copies of fragments already held or delivered), ``overlap_conflicts`` (overlapping
fragments whose bytes differed; the first seen were kept), ``dedup`` (whether ``--dedup``
was on), ``duplicates`` (records it dropped as copies), ``warnings`` (faults met with
``--keep-going``).

By default the counting runs vectorized (capture/fastscan.py), with only the unusual records
(fragments among them) decoded one by one, and gives exactly what the per-packet path gives
(``fast=False``); tests check that on every capture. ``dedup`` compares every packet with
the ones before it, so it always takes the per-packet path.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import field
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import not_
from typing import Any

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.capture.decode import is_known_linktype
from rtcscope.capture.dedup import Deduplicator
from rtcscope.capture.defrag import Defragmenter, DefragStats
from rtcscope.capture.packet import IpProto, LinkType, Packet
from rtcscope.capture.pipeline import reassemble
from rtcscope.capture.tls import TlsFlow, flows_by_port

STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"
# RTP/RTCP flows use unprivileged ports; below this, a first byte of 128-191 is a DNS id, a
# NetBIOS name service id, ... (seen in aaa.pcap), not RTP version 2.
MIN_MEDIA_PORT = 1024
UDP_CLASSES = ("sip", "rtp", "rtcp", "stun", "dtls", "hep")
# SIP over the stream transports, counted by frame (the scan's SIP framer reports them).
SIP_STREAM_TRANSPORTS = ("tcp", "ws", "sctp")
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


# A start line of the usual shape (no stray CR or LF inside, ends within the first 1,024
# bytes): what _start_line_is_sip accepts, found by one match instead of a copy, a split and
# four tests (the counts tap asks for every SIP datagram; tests/capture/test_info_sip.py).
_USUAL_START_LINE = re.compile(rb"SIP/2\.0 [0-9]{3}|[A-Z]+ [^ \r\n]+ SIP/2\.0\r\n")


def looks_like_sip(payload: bytes | memoryview) -> bool:
    """A SIP request or status line (RFC 3261 section 7.1) starts the payload."""
    return _USUAL_START_LINE.match(payload, 0, 1024) is not None or _start_line_is_sip(payload)


def count_sip(buffer: bytes | memoryview, spans: Iterable[tuple[int, int]]) -> int:
    """How many of the payloads ``buffer[start:stop]`` (``spans``) :func:`looks_like_sip`
    takes for SIP: its match on the buffer itself (no slice, no call a payload)."""
    pairs = list(spans)
    starts = [start for start, _ in pairs]
    stops = [stop for _, stop in pairs]
    return count_sip_columns(
        buffer, starts, stops, [min(stop, start + 1024) for start, stop in pairs]
    )


def count_sip_columns_py(
    buffer: bytes | memoryview, starts: list[int], stops: list[int], limits: list[int]
) -> int:
    """:func:`count_sip` with the spans as columns, and ``limits`` each payload's end or
    its 1,024th byte, whichever comes first: the match mapped over them at C level (no
    Python loop for the usual start lines), the whole test only for the others."""
    hits = list(map(_USUAL_START_LINE.match, repeat(buffer), starts, limits))
    found = len(hits) - hits.count(None)
    for start, stop in compress(zip(starts, stops, strict=True), map(not_, hits)):
        if _start_line_is_sip(buffer[start:stop]):
            found += 1
    return found


def _count_sip_columns_c(
    buffer: bytes | memoryview, starts: list[int], stops: list[int], limits: list[int]
) -> int:
    """:func:`count_sip_columns_py` with the match walked in C (rtcscope.capture._startline:
    a few bytes compared per payload, no match object), the whole test for the others."""
    missed = _startline.unusual(buffer, starts, limits)
    found = len(starts) - len(missed)
    for at in missed:
        if _start_line_is_sip(buffer[starts[at] : stops[at]]):
            found += 1
    return found


# Which road count_sip_columns takes: "c" (rtcscope.capture._startline, where it was built)
# unless RTCSCOPE_PURE is set, else "python".
START_LINE_ROAD = "python"
count_sip_columns = count_sip_columns_py
if c_wanted():
    try:
        from rtcscope.capture import _startline
    except ImportError:  # no compiler or no Python headers where it was installed
        pass
    else:
        START_LINE_ROAD = "c"
        count_sip_columns = _count_sip_columns_c


def _start_line_is_sip(payload: bytes | memoryview) -> bool:
    """looks_like_sip's whole test: the payload's first line, up to CRLF within its first
    1,024 bytes, is ``SIP/2.0 NNN...`` or ``METHOD SP target SP SIP/2.0``."""
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
    """Counters over decoded packets (module docstring says what each one counts).

    ``defrag`` (reassembly on) and ``dedup`` are the pipeline's stages, fed by
    :meth:`add_decoded` in file order.
    """

    packets: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    ipv4: int = 0
    ipv6: int = 0
    udp: int = 0
    tcp: int = 0
    icmp: int = 0
    sctp: int = 0
    unknown_link: int = 0
    fragment_records: int = 0  # records whose packet is an IP fragment
    udp_classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UDP_CLASSES, 0))
    # Frames completing a SIP message over TCP, WebSocket, SCTP (module docstring).
    sip_frames: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(SIP_STREAM_TRANSPORTS, 0)
    )
    defrag: Defragmenter | None = None
    dedup: Deduplicator | None = None
    # Set by the scan when SIP over TCP/SCTP and TLS flows are counted: the vectorized path
    # (capture/fastscan.py) then leaves every TCP and SCTP record to decode() and the taps.
    decode_streams: bool = False
    _last_sip_frame: int = 0

    def add_sip_frame(self, transport: str, frame: int) -> None:
        """A SIP message over ``transport`` (tcp, ws, sctp) completed in ``frame``: the frame
        counts once however many messages it completes."""
        if frame != self._last_sip_frame and transport in self.sip_frames:
            self._last_sip_frame = frame
            self.sip_frames[transport] += 1

    @property
    def sip(self) -> int:
        """Frames carrying SIP over any transport (``tshark -Y sip``)."""
        return self.udp_classes["sip"] + sum(self.sip_frames.values())

    def add_time(self, ts_ns: int) -> None:
        if self.first_ns is None or ts_ns < self.first_ns:
            self.first_ns = ts_ns
        if self.last_ns is None or ts_ns > self.last_ns:
            self.last_ns = ts_ns

    def add_decoded(self, packet: Packet) -> Packet | None:
        """Count what decoding found in one record (not the record, its bytes or its time),
        and return the packet it delivers: itself, the datagram it completes, or None (a
        fragment held or dropped, a copy dropped by ``dedup``, an unknown link type).

        A fragment goes to the defragmenter (when reassembling): the record counts as IP,
        and the datagram it completes, if any, is counted as a whole packet.
        """
        if not is_known_linktype(packet.linktype):
            self.unknown_link += 1
            return None
        if packet.fragment is not None:
            self.fragment_records += 1
            if self.defrag is not None:
                whole = reassemble(self.defrag, packet)
                if whole is None:
                    # Held (or dropped) by the defragmenter: the record counts as IP, unless
                    # it is the copy of a fragment (the Deduplicator keys fragments apart).
                    if self.dedup is None or not self.dedup.is_duplicate(packet):
                        self._add_ip(packet)
                    return None
                packet = whole
        if self.dedup is not None and self.dedup.is_duplicate(packet):
            return None
        if self._add_ip(packet):
            self._add_transport(packet)
        return packet

    def _add_ip(self, packet: Packet) -> bool:
        if packet.ip_version == 4:
            self.ipv4 += 1
        elif packet.ip_version == 6:
            self.ipv6 += 1
        else:
            return False
        return True

    def _add_transport(self, packet: Packet) -> None:
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
        elif proto == IpProto.SCTP:
            self.sctp += 1

    def finish(self) -> None:
        """End of capture: datagrams still incomplete are dropped and counted."""
        if self.defrag is not None:
            self.defrag.flush()


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
    tls_flows: list[TlsFlow] = field(default_factory=list)

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
            "sctp": counts.sctp,
            **{kind: counts.udp_classes[kind] for kind in UDP_CLASSES},
            "sip": counts.sip,
            "sip_udp": counts.udp_classes["sip"],
            **{f"sip_{name}": n for name, n in counts.sip_frames.items()},
            "tls_flow_count": len(self.tls_flows),
            "tls_server_ports": list(flows_by_port(self.tls_flows)),
            "unknown_link": counts.unknown_link,
            **self._reassembly_dict(),
            "dedup": counts.dedup is not None,
            "duplicates": counts.dedup.stats.duplicates if counts.dedup is not None else 0,
            "warnings": list(self.warnings),
        }

    def _reassembly_dict(self) -> dict[str, Any]:
        counts = self.counts
        stats = counts.defrag.stats if counts.defrag is not None else DefragStats()
        return {
            "reassembly": counts.defrag is not None,
            "ip_fragments": (
                stats.fragments if counts.defrag is not None else counts.fragment_records
            ),
            "datagrams_reassembled": stats.datagrams_reassembled,
            "fragments_dropped": stats.fragments_dropped,
            "fragments_expired": stats.fragments_expired,
            "fragments_evicted": stats.fragments_evicted,
            "fragments_incomplete": stats.fragments_incomplete,
            "fragments_invalid": stats.invalid_fragments,
            "duplicate_fragments": stats.duplicate_fragments,
            "overlap_conflicts": stats.overlap_conflicts,
        }


# Keys a table leaves out when they are empty or zero (JSON and CSV always have them).
QUIET_WHEN_ZERO = frozenset(
    {
        "sctp",
        "sip_udp",
        "sip_tcp",
        "sip_ws",
        "sip_sctp",
        "tls_flow_count",
        "tls_server_ports",
        "fragments_expired",
        "fragments_evicted",
        "fragments_incomplete",
        "fragments_invalid",
        "duplicate_fragments",
        "overlap_conflicts",
        "warnings",
    }
)


def format_info(info: CaptureInfo) -> str:
    """The info as aligned ``key: value`` lines (the ``analyze`` section text)."""
    shown = [
        (key, value)
        for key, value in info.as_dict().items()
        if not (key in QUIET_WHEN_ZERO and not value)
    ]
    width = max(len(key) for key, _ in shown)
    lines = []
    for key, value in shown:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:.6f}"
        lines.append(f"{key:<{width}} {value}")
    return "\n".join(lines)
