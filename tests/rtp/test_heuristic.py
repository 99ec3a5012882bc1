"""The heuristic takes a flow+SSRC as RTP only once two of its packets follow each other:
random UDP, STUN, DTLS, SIP and DNS never become streams; real RTP does from its 2nd packet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.packet import Packet
from rtcscope.rtp.demux import StunClass, StunMessage
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.streams import StreamScanner


def udp(
    frame: int,
    payload: bytes,
    sport: int = 40000,
    dport: int = 50000,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
) -> Packet:
    return Packet(
        frame=frame,
        ts_ns=frame * 20_000_000,
        interface=0,
        linktype=1,
        data=memoryview(payload),
        orig_len=len(payload),
        ip_version=4,
        src=src,
        dst=dst,
        ip_proto=17,
        sport=sport,
        dport=dport,
        payload=memoryview(payload),
    )


def scan(payloads: list[bytes]) -> int:
    scanner = StreamScanner()
    for frame, payload in enumerate(payloads, start=1):
        scanner.feed(udp(frame, payload))
    return len(scanner.finish().streams)


@given(st.lists(st.binary(min_size=12, max_size=200), max_size=40))
def test_random_udp_is_not_rtp(payloads: list[bytes]) -> None:
    assert scan(payloads) == 0


def test_stun_dtls_sip_dns_are_not_rtp() -> None:
    stun = [StunMessage(1, StunClass.REQUEST, bytes([i]) * 12).encode() for i in range(10)]
    dtls = [bytes.fromhex("16fefd0000000000000000") + bytes([i]) * 40 for i in range(10)]
    sip = [b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: %d OPTIONS\r\n\r\n" % i for i in range(10)]
    # DNS queries whose ID starts with a byte in 0x80-0xBF: "version 2", but the flags word
    # (read as the sequence number) never moves.
    dns = [bytes([0x80 + i, i]) + bytes.fromhex("0100000100000000000003777777") for i in range(10)]
    for payloads in (stun, dtls, sip, dns):
        assert scan(payloads) == 0


def test_rtp_becomes_a_stream_with_all_its_packets() -> None:
    packets = [
        RtpPacket(8, 100 + i, 160 * i, 0xCAFE, payload=bytes(160)).encode() for i in range(5)
    ]
    scanner = StreamScanner()
    for frame, payload in enumerate(packets, start=1):
        scanner.feed(udp(frame, payload))
    (stream,) = scanner.finish().streams
    assert stream.stats.packets == 5 and stream.first_frame == 1 and stream.source == "heuristic"
