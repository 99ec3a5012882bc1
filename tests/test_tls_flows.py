"""TLS connections named as encrypted signalling: `info`, `calls`, `analyze`, against tshark.

The capture is made here with scapy: TLS on 5061 with its handshake, TLS on 5061 caught in
the middle (application data only), HTTPS on 443, TLS on an unusual port after a SYN, SIP over
plain TCP, a binary protocol that is not TLS, and DTLS over UDP (media keying, not counted).
tshark (its TLS dissector, by port and by its TCP heuristic) says which TCP streams carry
TLS; our flows must be those, with the server on the side the test put it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from rtcscope.capture.decode import decode
from rtcscope.capture.packet import LinkType, Record
from rtcscope.capture.tls import TlsFlowFinder, format_tls_flows, is_tls_record_start
from rtcscope.scan.files import capture_info
from tests.capture.made_captures import _stamp as stamp
from tests.peers import rtcscope_cli, run

ETHER = Ether(src="02:00:00:00:82:01", dst="02:00:00:00:82:02")
SERVER, PROXY, WEB = "127.0.82.2", "127.0.82.5", "127.0.82.4"


def _record(content_type: int, version: int, body: bytes) -> bytes:
    return bytes([content_type]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def _handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


# RFC 8446 4.1.2/4.1.3: legacy_version, random, session id, one suite, null compression.
CLIENT_HELLO = _record(
    22,
    0x0301,
    _handshake(1, b"\x03\x03" + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00\x00\x00"),
)
SERVER_HELLO = _record(
    22, 0x0303, _handshake(2, b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x00")
)


def app_data(n: int) -> bytes:
    return _record(23, 0x0303, bytes((n * 7 + i) % 256 for i in range(40 + n)))


INVITE = (
    f"INVITE sip:bob@{SERVER} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.82.9:43000;branch=z9hG4bKt\r\n"
    f"From: <sip:a@127.0.82.9>;tag=1\r\nTo: <sip:bob@{SERVER}>\r\nCall-ID: plain-tcp\r\n"
    "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
).encode()


class Connection:
    """One TCP connection's packets, sequence numbers kept per side."""

    def __init__(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.client, self.server = client, server
        self.seq = {client: 1000, server: 9000}
        self.packets: list[Any] = []

    def send(self, side: tuple[str, int], flags: str, payload: bytes = b"") -> None:
        peer = self.server if side == self.client else self.client
        segment = TCP(
            sport=side[1], dport=peer[1], flags=flags, seq=self.seq[side], ack=self.seq[peer]
        )
        packet = ETHER / IP(src=side[0], dst=peer[0]) / segment
        self.packets.append(packet / Raw(payload) if payload else packet)
        self.seq[side] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    def handshake(self) -> None:
        self.send(self.client, "S")
        self.send(self.server, "SA")
        self.send(self.client, "A")


def tls_capture_packets() -> list[Any]:
    sips = Connection(("127.0.82.1", 41000), (SERVER, 5061))
    sips.handshake()
    sips.send(sips.client, "PA", CLIENT_HELLO)
    sips.send(sips.server, "PA", SERVER_HELLO + app_data(1))
    sips.send(sips.client, "PA", app_data(2))
    sips.send(sips.client, "FA")
    # Caught in the middle: no SYN, application data only; the proxy's side is 5061.
    middle = Connection((PROXY, 5061), ("127.0.82.3", 42000))
    for n in range(3):
        middle.send(middle.client, "PA", app_data(10 + n))
        middle.send(middle.server, "PA", app_data(20 + n))
    https = Connection(("127.0.82.1", 41001), (WEB, 443))
    https.handshake()
    https.send(https.client, "PA", CLIENT_HELLO)
    odd = Connection(("127.0.82.1", 41002), (SERVER, 15061))
    odd.handshake()
    odd.send(odd.client, "PA", CLIENT_HELLO)
    plain = Connection(("127.0.82.9", 43000), (SERVER, 5060))
    plain.handshake()
    plain.send(plain.client, "PA", INVITE)
    # A binary protocol: its first bytes are no TLS record header (SSL 3.0's 0x0300 is not
    # accepted either), then bytes that would look like one: too late, the SYN was seen.
    other = Connection(("127.0.82.1", 41003), (SERVER, 7000))
    other.handshake()
    other.send(other.client, "PA", b"\x16\x03\x00\x00\x10" + bytes(16))
    other.send(other.client, "PA", app_data(5))
    dtls = (
        ETHER
        / IP(src="127.0.82.1", dst=SERVER)
        / UDP(sport=41004, dport=5061)
        / Raw(b"\x16\xfe\xfd" + bytes(8) + b"\x00\x10" + bytes(16))
    )
    packets = [
        *sips.packets,
        *middle.packets,
        *https.packets,
        *odd.packets,
        *plain.packets,
        *other.packets,
        dtls,
    ]
    return stamp(packets)


@pytest.fixture(scope="module")
def tls_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "tls-flows.pcap"
    wrpcap(str(path), tls_capture_packets())
    return path


def _tshark_tls_streams(path: Path) -> dict[int, set[tuple[str, int]]]:
    """tcp.stream -> the (address, port) pairs of frames tshark dissects as TLS."""
    rows = run(
        "tshark",
        [
            "-r",
            path,
            "-d",
            "tcp.port==5061,tls",
            "-d",
            "tcp.port==15061,tls",
            "-Y",
            "tls",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tls.handshake.type",
        ],
    ).stdout.splitlines()
    streams: dict[int, set[tuple[str, int]]] = {}
    for row in rows:
        stream, dst, dport, handshake = (row.split("\t") + [""] * 4)[:4]
        ends = streams.setdefault(int(stream), set())
        if handshake.split(",")[0] == "1":  # a ClientHello goes to the server
            ends.add((dst, int(dport)))
    return streams


@pytest.mark.peer
def test_tls_flows_equal_tshark_streams(tls_capture: Path) -> None:
    info = capture_info(tls_capture)
    flows = info.tls_flows
    theirs = _tshark_tls_streams(tls_capture)
    assert len(flows) == len(theirs) == 4
    servers = {(f.server, f.server_port) for f in flows}
    # Where tshark saw the ClientHello, the server is the side it went to.
    assert set().union(*theirs.values()) <= servers
    assert servers == {(SERVER, 5061), (PROXY, 5061), (WEB, 443), (SERVER, 15061)}
    as_dict = info.as_dict()
    assert as_dict["tls_flow_count"] == 4 and as_dict["tls_server_ports"] == [5061, 443, 15061]
    assert as_dict == capture_info(tls_capture, fast=False).as_dict()
    # The SIP INVITE over plain TCP is counted as tshark counts it.
    sip_frames = run("tshark", ["-r", tls_capture, "-Y", "sip"]).stdout.splitlines()
    assert as_dict["sip"] == as_dict["sip_tcp"] == len(sip_frames) == 1


EXPECTED_LINE = (
    "4 TLS flows not decoded (encrypted): 2 on 5061 (SIP over TLS), 1 on 443 (HTTPS or SIP "
    "over secure WebSocket), 1 on 15061 (TLS)"
)


def test_calls_names_the_tls_flows(tls_capture: Path) -> None:
    result = rtcscope_cli(["calls", tls_capture], check=True)
    assert result.stdout.rstrip().endswith(EXPECTED_LINE)
    data = json.loads(rtcscope_cli(["calls", "--format", "json", tls_capture], check=True).stdout)
    assert [(f["server_port"], f["client_port"]) for f in data["tls_flows"]] == [
        (5061, 41000),
        (5061, 42000),
        (443, 41001),
        (15061, 41002),
    ]
    csv = rtcscope_cli(["calls", "--format", "csv", tls_capture], check=True)
    assert EXPECTED_LINE in csv.stderr and "TLS" not in csv.stdout


def test_info_counts_the_flows_calls_lists(tls_capture: Path) -> None:
    """One name per shape: calls' ``tls_flows`` is the list of flows, info's
    ``tls_flow_count`` how many (the capture holds 4 TLS connections, as tshark agrees)."""
    (info,) = json.loads(rtcscope_cli(["info", "--format", "json", tls_capture]).stdout)
    calls = json.loads(rtcscope_cli(["calls", "--format", "json", tls_capture]).stdout)
    assert "tls_flows" not in info and isinstance(calls["tls_flows"], list)
    assert info["tls_flow_count"] == len(calls["tls_flows"]) == 4
    header = rtcscope_cli(["info", "--format", "csv", tls_capture]).stdout.splitlines()[0]
    assert "tls_flow_count" in header.split(",")


def test_info_and_analyze_name_the_tls_flows(tls_capture: Path, tmp_path: Path) -> None:
    info = rtcscope_cli(["info", tls_capture], check=True)
    assert info.stdout.rstrip().endswith(EXPECTED_LINE)
    assert "tls_server_ports" in info.stdout
    analyzed = rtcscope_cli(
        ["analyze", tls_capture, "-o", tmp_path / "out", "--only", "info", "--only", "calls"],
        check=True,
    )
    assert analyzed.stdout.count(EXPECTED_LINE) == 2  # the info and the calls sections


def test_only_tls_on_5061_is_not_silent(tmp_path: Path) -> None:
    """The issue's capture: SIP over TLS only gave 0 calls and no word."""
    sips = Connection(("127.0.82.1", 41000), (SERVER, 5061))
    sips.handshake()
    sips.send(sips.client, "PA", CLIENT_HELLO)
    sips.send(sips.server, "PA", SERVER_HELLO)
    for n in range(3):
        sips.send(sips.client, "PA", app_data(n))
        sips.send(sips.server, "PA", app_data(n + 3))
    path = tmp_path / "sips.pcap"
    wrpcap(str(path), sips.packets)
    result = rtcscope_cli(["calls", path], check=True)
    assert "1 TLS flow on 5061 not decoded (SIP over TLS: encrypted)" in result.stdout
    analyzed = rtcscope_cli(["analyze", path, "-o", tmp_path / "out", "--only", "calls"])
    assert "no SIP messages\n1 TLS flow on 5061 not decoded" in analyzed.stdout


# -- the finder on its own -----------------------------------------------------------------


def _packets(connection: Connection) -> list[Any]:
    out = []
    for n, scapy_packet in enumerate(connection.packets, 1):
        data = bytes(scapy_packet)
        out.append(decode(Record(n, n, 0, LinkType.ETHERNET, memoryview(data), len(data))))
    return out


def test_server_from_syn_ack_or_server_hello() -> None:
    # The SYN was not captured: the SYN-ACK's sender is the server.
    late = Connection(("127.0.82.1", 50000), (SERVER, 50001))
    late.handshake()
    late.send(late.server, "PA", app_data(1))
    finder = TlsFlowFinder()
    for packet in _packets(late)[1:]:
        finder.feed(packet)
    assert [(f.server, f.server_port) for f in finder.flows] == [(SERVER, 50001)]
    # Nothing of the handshake but a ServerHello, sent from the higher port.
    hello = Connection(("127.0.82.1", 1500), (SERVER, 60000))
    hello.send(hello.server, "PA", SERVER_HELLO)
    finder = TlsFlowFinder()
    for packet in _packets(hello):
        finder.feed(packet)
    assert [(f.server, f.server_port) for f in finder.flows] == [(SERVER, 60000)]


def test_port_reuse_counts_a_new_flow_and_caps_hold() -> None:
    first = Connection(("127.0.82.1", 41000), (SERVER, 5061))
    first.handshake()
    first.send(first.client, "PA", CLIENT_HELLO)
    first.send(first.client, "FA")
    first.seq[first.client] += 100_000  # a new ISN on the same four-tuple
    first.handshake()
    first.send(first.client, "PA", CLIENT_HELLO)
    finder = TlsFlowFinder(max_connections=1)
    for packet in _packets(first):
        finder.feed(packet)
    assert len(finder.flows) == 2
    other = Connection(("127.0.82.7", 41000), (SERVER, 5061))
    other.send(other.client, "PA", b"hello")
    for packet in _packets(other):
        finder.feed(packet)
    assert finder.stats.connections_evicted == 1


def test_record_header_rules() -> None:
    assert is_tls_record_start(CLIENT_HELLO) and is_tls_record_start(app_data(0))
    assert not is_tls_record_start(b"\x16\x03\x00\x00\x10")  # SSL 3.0
    assert not is_tls_record_start(b"\x17\x03\x03\x00\x00")  # empty record
    assert not is_tls_record_start(b"\x17\x03\x03\x48\x01")  # longer than 2^14 + 2048
    assert not is_tls_record_start(b"\x18\x03\x03\x00\x10")  # content type 24
    assert not is_tls_record_start(b"\x17\x03")
    assert format_tls_flows([]) == ""


@given(st.lists(st.tuples(st.binary(max_size=40), st.sampled_from(["S", "SA", "PA", "A", "R"]))))
def test_any_segments_never_crash_the_finder(segments: list[tuple[bytes, str]]) -> None:
    connection = Connection(("127.0.82.1", 41000), (SERVER, 5061))
    for n, (payload, flags) in enumerate(segments):
        connection.send(connection.client if n % 3 else connection.server, flags, payload)
    finder = TlsFlowFinder(max_connections=2)
    for packet in _packets(connection):
        finder.feed(packet)
    assert len(finder.flows) <= len(segments)
