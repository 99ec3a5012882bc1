"""TLS connections in a capture: encrypted flows that cannot be decoded, named by server port.

Pure: :class:`TlsFlowFinder` is fed decoded TCP packets in capture order and lists each TCP
connection that carries TLS, so a command can say "3 TLS flows on 5061 not decoded" where it
would otherwise show nothing (SIP over TLS, RFC 3261 26.2, is signalling nobody can read
without the keys; so is SIP over secure WebSocket, RFC 7118, on 443).

A connection is TLS when a segment's payload starts with a TLS record header (RFC 8446
section 5.1; RFC 5246 6.2.1): content type 20-23 (change_cipher_spec, alert, handshake,
application_data), legacy version 0x0301-0x0304, a length of 1 to 2^14 + 2048 bytes. Segments
are read as captured, not reassembled: the first segment of a connection whose SYN was seen
must start with the ClientHello (the client speaks first), and a capture that starts in the
middle of a connection still sees records start at segment boundaries within a few segments
(SIP messages are small records). DTLS over UDP is media keying (RFC 5764), not signalling:
it is not looked at here.

The server is the side that received the SYN, else the receiver of a ClientHello (or the
sender of a ServerHello), else the side on a well-known or SIP/TLS port, else the lower port.
Memory is bounded by ``max_connections`` (least recently used first out, counted).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import field

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet, TcpSegment

# RFC 8446 5.1: TLSPlaintext.length is at most 2^14; TLSCiphertext adds at most 256, TLS 1.2
# (RFC 5246 6.2.3) at most 2048.
MAX_RECORD_LENGTH = (1 << 14) + 2048
# Payload-bearing segments looked at per connection before deciding it is not TLS.
SEGMENTS_TO_IDENTIFY = 8
# Ports where TLS is known signalling or commonly is (SIPS, WSS); they also tell which side
# is the server when the handshake was not captured.
SIP_TLS_PORTS = frozenset({5061, 5081})
WSS_PORTS = frozenset({443, 8443, 7443, 8089})

_HANDSHAKE = 22
_CLIENT_HELLO = 1
_SERVER_HELLO = 2
_U16 = struct.Struct("!H")

Endpoint = tuple[str, int]


def is_tls_record_start(payload: bytes | memoryview) -> bool:
    """Whether ``payload`` starts with a TLS record header (module docstring)."""
    if len(payload) < 5:
        return False
    content_type, major, minor = payload[0], payload[1], payload[2]
    if not (20 <= content_type <= 23 and major == 3 and 1 <= minor <= 4):
        return False
    length: int = _U16.unpack_from(payload, 3)[0]
    return 0 < length <= MAX_RECORD_LENGTH


def describe_port(port: int) -> str:
    """What TLS on this server port usually carries."""
    if port in SIP_TLS_PORTS:
        return "SIP over TLS"
    if port in WSS_PORTS:
        return "HTTPS or SIP over secure WebSocket"
    return "TLS"


@dataclass(frozen=True, slots=True)
class TlsFlow:
    """One TCP connection carrying TLS: encrypted, not decoded."""

    client: str
    client_port: int
    server: str
    server_port: int
    first_frame: int  # the first TLS record seen
    first_ts_ns: int

    @property
    def description(self) -> str:
        return describe_port(self.server_port)

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client,
            "client_port": self.client_port,
            "server": self.server,
            "server_port": self.server_port,
            "first_frame": self.first_frame,
            "description": self.description,
        }


def flows_by_port(flows: list[TlsFlow]) -> dict[int, int]:
    """Server port -> number of TLS flows, most flows first (then the lower port)."""
    counts: dict[int, int] = {}
    for flow in flows:
        counts[flow.server_port] = counts.get(flow.server_port, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def format_tls_flows(flows: list[TlsFlow]) -> str:
    """One line for a person: ``2 TLS flows on 5061 not decoded (SIP over TLS: encrypted)``,
    or with several ports ``3 TLS flows not decoded: 2 on 5061 (SIP over TLS), 1 on 443
    (...)``; empty when there are none."""
    if not flows:
        return ""
    ports = flows_by_port(flows)
    total = len(flows)
    noun = "flow" if total == 1 else "flows"
    if len(ports) == 1:
        port = next(iter(ports))
        return f"{total} TLS {noun} on {port} not decoded ({describe_port(port)}: encrypted)"
    parts = ", ".join(f"{n} on {port} ({describe_port(port)})" for port, n in ports.items())
    return f"{total} TLS {noun} not decoded (encrypted): {parts}"


@dataclass(slots=True)
class _Connection:
    server: Endpoint | None = None  # known from the SYN
    segments: int = 0  # payload-bearing segments looked at
    decided: bool = False
    syn_seen: bool = False


@dataclass(slots=True)
class TlsFlowStats:
    connections_evicted: int = 0


@dataclass(slots=True)
class TlsFlowFinder:
    """Lists TLS connections; feed it decoded packets (others than TCP are ignored)."""

    max_connections: int = 65536
    flows: list[TlsFlow] = field(default_factory=list)
    stats: TlsFlowStats = field(default_factory=TlsFlowStats)
    _connections: OrderedDict[tuple[Endpoint, Endpoint], _Connection] = field(
        default_factory=OrderedDict
    )

    def feed(self, packet: Packet) -> TlsFlow | None:
        """The TLS flow this packet shows for the first time, if it does."""
        segment = packet.tcp
        if segment is None:
            return None
        payload = packet.payload
        syn = bool(segment.flags & TcpSegment.SYN)
        if not payload and not syn:
            return None  # a pure ACK, FIN or RST tells nothing (and must not cost memory)
        source: Endpoint = (packet.src, packet.sport)
        destination: Endpoint = (packet.dst, packet.dport)
        key = (source, destination) if source <= destination else (destination, source)
        connection = self._connections.get(key)
        if syn and not segment.flags & TcpSegment.ACK:
            if connection is None or connection.segments or connection.decided:
                connection = self._start(key)  # a new connection (or the port reused)
            connection.server = destination
            connection.syn_seen = True
        elif connection is None:
            connection = self._start(key)
        else:
            self._connections.move_to_end(key)
        if syn:
            if connection.server is None:
                connection.server = source  # a SYN-ACK comes from the server
            connection.syn_seen = True
        if connection.decided or not payload:
            return None
        connection.segments += 1
        if not is_tls_record_start(payload):
            # The client's first bytes of a connection seen from its SYN would be a
            # ClientHello: anything else is not TLS. Mid-stream, records start later.
            if connection.syn_seen or connection.segments >= SEGMENTS_TO_IDENTIFY:
                connection.decided = True
            return None
        connection.decided = True
        server = connection.server or self._server(source, destination, payload)
        client = destination if server == source else source
        flow = TlsFlow(client[0], client[1], server[0], server[1], packet.frame, packet.ts_ns)
        self.flows.append(flow)
        return flow

    def _start(self, key: tuple[Endpoint, Endpoint]) -> _Connection:
        connection = _Connection()
        self._connections[key] = connection
        self._connections.move_to_end(key)
        if len(self._connections) > self.max_connections:
            self._connections.popitem(last=False)
            self.stats.connections_evicted += 1
        return connection

    @staticmethod
    def _server(source: Endpoint, destination: Endpoint, payload: bytes | memoryview) -> Endpoint:
        if payload[0] == _HANDSHAKE and len(payload) >= 6:
            if payload[5] == _CLIENT_HELLO:
                return destination
            if payload[5] == _SERVER_HELLO:
                return source
        known = SIP_TLS_PORTS | WSS_PORTS
        for endpoint in (destination, source):
            if endpoint[1] in known:
                return endpoint
        for endpoint in (destination, source):
            if endpoint[1] < 1024:
                return endpoint
        return destination if destination[1] <= source[1] else source
