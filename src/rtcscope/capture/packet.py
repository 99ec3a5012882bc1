"""What the capture layer hands to everything above it.

A :class:`Record` is one pcap/pcapng record as stored; a :class:`Packet` is that record
decoded down to its transport payload (through VLAN tags, tunnels and, once reassembled,
IP fragments). Payloads are memoryviews into the record's bytes: the hot path copies nothing.

Timestamps are exact integer nanoseconds since the epoch (``ts_ns``); ``time`` is the float
view Wireshark prints as ``frame.time_epoch``.
"""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum

from rtcscope._dataclass import dataclass


class LinkType(IntEnum):
    """LINKTYPE_* values (tcpdump.org/linktypes.html) the decoder understands."""

    NULL = 0
    ETHERNET = 1
    RAW_LEGACY_12 = 12
    RAW_LEGACY_14 = 14
    LOOP = 108
    RAW = 101
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


class IpProto(IntEnum):
    """IP protocol numbers used by rtcscope."""

    HOPOPT = 0
    ICMP = 1
    IPIP = 4
    TCP = 6
    UDP = 17
    IPV6 = 41
    IPV6_ROUTE = 43
    IPV6_FRAG = 44
    GRE = 47
    ESP = 50
    ICMPV6 = 58
    IPV6_NONXT = 59
    IPV6_OPTS = 60
    SCTP = 132
    MPLS_IN_IP = 137


@dataclass(slots=True)
class Record:
    """One capture record as stored in the file."""

    frame: int  # 1-based, as Wireshark numbers frames
    ts_ns: int  # capture time, integer nanoseconds since the epoch
    interface: int  # pcapng interface, numbered across all sections of the file (0 for pcap)
    linktype: int
    data: memoryview  # the captured bytes
    orig_len: int  # the length on the wire
    offset: int = 0  # byte offset of the record in the (uncompressed) file

    @property
    def time(self) -> float:
        return self.ts_ns / 1e9


@dataclass(slots=True)
class TcpSegment:
    """The TCP header fields reassembly and diagnosis need."""

    seq: int
    ack: int
    flags: int  # FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20
    window: int

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10


@dataclass(slots=True)
class IcmpError:
    """An ICMP/ICMPv6 error with the datagram it quotes (RFC 792, RFC 4443)."""

    type: int
    code: int
    description: str  # "port unreachable", "time exceeded", ...
    quoted_src: str
    quoted_dst: str
    quoted_proto: int
    quoted_sport: int
    quoted_dport: int


@dataclass(slots=True)
class FragmentInfo:
    """An IP fragment not (yet) reassembled: the reassembler's input."""

    ident: int
    offset: int  # in bytes
    more: bool


@dataclass(slots=True)
class Packet:
    """A record decoded to its transport payload.

    ``ip_version`` is 0 when no IP layer was found (ARP, unknown link type, ...).
    ``payload`` is the UDP/TCP payload, or the ICMP body, or the IP payload for other
    protocols. ``tunnel`` lists the outer layers that were removed, outermost first
    (e.g. ``("ipv4 10.0.0.1>10.0.0.2", "gre", "erspan-2")``).
    """

    frame: int
    ts_ns: int
    interface: int
    linktype: int
    data: memoryview
    orig_len: int
    ip_version: int = 0
    src: str = ""
    dst: str = ""
    ip_proto: int = -1
    sport: int = 0
    dport: int = 0
    payload: memoryview = field(default_factory=lambda: memoryview(b""))
    vlan: tuple[int, ...] = ()
    tunnel: tuple[str, ...] = ()
    ttl: int = 0
    ip_id: int = 0
    tcp: TcpSegment | None = None
    icmp: IcmpError | None = None
    fragment: FragmentInfo | None = None
    malformed: str = ""  # why decoding stopped early ("UDP header is truncated: ..."), or ""

    @property
    def time(self) -> float:
        return self.ts_ns / 1e9

    @property
    def is_udp(self) -> bool:
        return self.ip_proto == IpProto.UDP

    @property
    def is_tcp(self) -> bool:
        return self.ip_proto == IpProto.TCP
