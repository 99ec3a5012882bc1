"""Captures made here with scapy (TCP segmentation, keep-alives, TLS), checked with tshark.

scapy writes the packets; tshark reads the file independently (its TCP desegmentation of SIP
and its TLS dissector), and our counts, frames and Call-IDs must equal tshark's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from rtcscope.scan.files import sip_messages
from rtcscope.sip.capture import SipCaptureReport
from rtcscope.sip.websocket import Opcode, encode_frame
from tests.peers import run

CLIENT, SERVER = "127.0.13.1", "127.0.13.2"


def sip_request(call_id: str, body: bytes = b"") -> bytes:
    # Content-Length spelled out: tshark 4.0 does not desegment on the compact "l:" (it takes
    # the headers as a whole message); our framer reads both (see test_framing.py).
    head = (
        f"INVITE sip:bob@{SERVER} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP {CLIENT}:40000;branch=z9hG4bK{call_id}\r\n"
        f"From: <sip:alice@{CLIENT}>;tag=a{call_id}\r\nTo: <sip:bob@{SERVER}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:alice@{CLIENT}:40000;transport=tcp>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


SDP = (
    f"v=0\r\no=- 1 1 IN IP4 {CLIENT}\r\ns=-\r\nc=IN IP4 {CLIENT}\r\nt=0 0\r\n"
    "m=audio 40002 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
).encode()


class Connection:
    """A TCP connection's packets, with sequence numbers kept by hand."""

    def __init__(self, sport: int, dport: int) -> None:
        self.sport, self.dport = sport, dport
        self.seq = {CLIENT: 1000, SERVER: 5000}
        self.packets: list[Ether] = []
        self.ts = 1_700_000_000.0

    def _add(self, src: str, flags: str, payload: bytes = b"", seq: int | None = None) -> None:
        dst = SERVER if src == CLIENT else CLIENT
        sport, dport = (self.sport, self.dport) if src == CLIENT else (self.dport, self.sport)
        pkt = (
            Ether()
            / IP(src=src, dst=dst)
            / TCP(sport=sport, dport=dport, flags=flags, seq=self.seq[src] if seq is None else seq,
                  ack=self.seq[dst])
            / payload
        )  # fmt: skip
        self.ts += 0.01
        pkt.time = self.ts
        self.packets.append(pkt)

    def handshake(self) -> None:
        self._add(CLIENT, "S")
        self.seq[CLIENT] += 1
        self._add(SERVER, "SA")
        self.seq[SERVER] += 1
        self._add(CLIENT, "A")

    def send(self, src: str, payload: bytes) -> None:
        self._add(src, "PA", payload)
        self.seq[src] += len(payload)


def tshark_call_ids(path: Path) -> list[tuple[int, str]]:
    out = run(
        "tshark",
        ["-n", "-r", path, "-Y", "sip", "-T", "fields", "-e", "frame.number", "-e", "sip.Call-ID",
         "-E", "occurrence=a", "-E", "aggregator=|"],
    ).stdout  # fmt: skip
    rows: list[tuple[int, str]] = []
    for line in out.splitlines():
        frame, ids = line.split("\t")
        rows += [(int(frame), cid) for cid in ids.split("|")]
    return rows


@pytest.mark.peer
def test_tcp_segmentation_matches_tshark(tmp_path: Path) -> None:
    conn = Connection(40000, 5060)
    conn.handshake()
    two = sip_request("one") + sip_request("two", SDP)
    conn.send(CLIENT, two)  # two messages in one segment
    three = sip_request("three", SDP)
    conn.send(CLIENT, three[:50])  # one message over three segments
    conn.send(CLIENT, three[50:300])
    conn.send(CLIENT, three[300:])
    conn.send(CLIENT, b"\r\n\r\n")  # RFC 5626 keep-alive ping
    conn.send(SERVER, b"\r\n")  # and its pong
    four = sip_request("four", SDP)
    cut = four.index(b"\r\n\r\n") + 4
    conn.send(CLIENT, four[:cut])  # headers, then the body in the next segment
    conn.send(CLIENT, four[cut:] + sip_request("five")[:10])
    conn.send(CLIENT, sip_request("five")[10:])
    path = tmp_path / "sip-tcp-made.pcap"
    wrpcap(str(path), conn.packets)

    report = SipCaptureReport()
    ours = [(m.frame, m.message.call_id) for m in sip_messages(path, report=report)]
    assert ours == tshark_call_ids(path)
    assert [cid for _, cid in ours] == ["one", "two", "three", "four", "five"]
    assert report.keepalives == 2 and report.tcp_messages == 5
    messages = [m.message for m in sip_messages(path)]
    assert all(m.problems == [] for m in messages)
    assert [m.body for m in messages] == [b"", SDP, SDP, SDP, b""]


@pytest.mark.peer
def test_tls_on_5061_is_reported_encrypted(tmp_path: Path) -> None:
    conn = Connection(40001, 5061)
    conn.handshake()
    # A TLS 1.2 ClientHello record header and the start of its handshake message (RFC 5246
    # 6.2.1, 7.4.1.2); the rest is opaque to us, as it would be on the wire.
    hello_body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    handshake = b"\x01" + len(hello_body).to_bytes(3, "big") + hello_body
    conn.send(CLIENT, b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake)
    conn.send(SERVER, b"\x15\x03\x03\x00\x02\x02\x28")  # alert: handshake failure
    path = tmp_path / "sip-tls-made.pcap"
    wrpcap(str(path), conn.packets)

    tls_frames = run(
        "tshark", ["-n", "-r", path, "-Y", "tls.record.content_type", "-T", "fields",
                   "-e", "frame.number"]
    ).stdout.split()  # fmt: skip
    assert tls_frames == ["4", "5"]
    assert tshark_call_ids(path) == []
    report = SipCaptureReport()
    assert list(sip_messages(path, report=report)) == []
    assert [(e.src, e.dport, e.first_frame) for e in report.encrypted] == [
        (CLIENT, 5061, 4),
        (SERVER, 40001, 5),
    ]
    assert all("encrypted, not decoded" in e.reason for e in report.encrypted)


@pytest.mark.peer
def test_websocket_fragments_masks_and_pings_match_tshark(tmp_path: Path) -> None:
    conn = Connection(40002, 8080)
    conn.handshake()
    conn.send(
        CLIENT,
        b"GET / HTTP/1.1\r\nHost: 127.0.13.2:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    conn.send(
        SERVER,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: sip\r\n\r\n",
    )
    mask = b"\x0a\x0b\x0c\x0d"
    first = sip_request("ws-one", SDP)
    # RFC 6455 5.4: a message in two fragments, with a ping between them (5.5 allows it).
    frames = encode_frame(Opcode.TEXT, first[:200], fin=False, mask_key=mask)
    frames += encode_frame(Opcode.PING, b"p", mask_key=mask)
    frames += encode_frame(Opcode.CONTINUATION, first[200:], mask_key=mask)
    frames += encode_frame(Opcode.TEXT, sip_request("ws-two"), mask_key=mask)
    conn.send(CLIENT, frames[:100])
    conn.send(CLIENT, frames[100:])
    reply = sip_request("ws-three").replace(b"INVITE sip:bob", b"OPTIONS sip:bob")
    conn.send(SERVER, encode_frame(Opcode.TEXT, reply.replace(b"1 INVITE", b"1 OPTIONS")))
    path = tmp_path / "sip-ws-made.pcap"
    wrpcap(str(path), conn.packets)

    report = SipCaptureReport()
    ours = [(m.frame, m.message.call_id, m.transport) for m in sip_messages(path, report=report)]
    assert [(f, c) for f, c, _ in ours] == tshark_call_ids(path)
    assert [c for _, c, _ in ours] == ["ws-one", "ws-two", "ws-three"]
    assert {t for _, _, t in ours} == {"ws"} and report.websocket_errors == []
