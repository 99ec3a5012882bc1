"""How a stream's SRTP keying is named (the RtpStream contract): "sdes" when its SDP has
a=crypto (RFC 4568), "dtls" when DTLS shares the flow or the SDP has a=fingerprint
(RFC 5764), "unknown" when it looks like SRTP and nothing says how (a SAVP profile alone, or
G.711 payloads longer than the timestamp step by an authentication tag, RFC 3711 4.2), ""
when not encrypted. Each case built here, with the SDP fields and packets that decide it."""

from __future__ import annotations

import pytest

from rtcscope.capture.packet import Packet
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.streams import StreamScanner
from rtcscope.sip.capture import MediaAnnouncement
from rtcscope.sip.sdp import Crypto, Fingerprint
from tests.rtp.test_heuristic import udp as heuristic_udp

CALLER = ("10.0.0.1", 40000)
CALLEE = ("10.0.0.2", 50000)


def announcement(
    proto: str, *, crypto: bool = False, fingerprint: bool = False
) -> MediaAnnouncement:
    return MediaAnnouncement(
        frame=1,
        ts_ns=0,
        call_id="call-1",
        side="offer",
        role="caller",
        sip_summary="INVITE sip:b@10.0.0.2",
        cseq="1 INVITE",
        sip_src="10.0.0.2",
        sip_sport=5060,
        sip_dst="10.0.0.1",
        sip_dport=5060,
        media_index=0,
        media="audio",
        proto=proto,
        address=CALLEE[0],
        port=CALLEE[1],
        rtcp_address=None,
        rtcp_port=None,
        rtcp_mux=False,
        direction="sendrecv",
        on_hold=False,
        codecs={},
        payload_types=(0,),
        crypto=(Crypto(1, "AES_CM_128_HMAC_SHA1_80", (), raw="1 AES_CM_128_HMAC_SHA1_80 x"),)
        if crypto
        else (),
        fingerprints=(Fingerprint("sha-256", "AB:CD"),) if fingerprint else (),
        setup=None,
        ssrcs=(),
        mid=None,
    )


def udp(frame: int, payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> Packet:
    return heuristic_udp(frame, payload, src[1], dst[1], src[0], dst[0])


def keying(ann: MediaAnnouncement | None, *, dtls: bool = False, tag: int = 0) -> tuple[str, bool]:
    """(srtp_keying, encrypted) of a PCMU stream caller -> callee of 6 packets of 160
    samples whose payload carries ``tag`` bytes more (an SRTP authentication tag)."""
    scanner = StreamScanner([ann] if ann else [])
    frame = 2
    if dtls:  # a DTLS record (first byte 22, RFC 7983) the other way on the same flow
        scanner.feed(udp(frame, bytes([22, 0xFE, 0xFD]) + bytes(40), CALLEE, CALLER))
        frame += 1
    for i in range(6):
        rtp = RtpPacket(0, 100 + i, 160 * i, 0x1234, payload=bytes(160 + tag)).encode()
        scanner.feed(udp(frame + i, rtp, CALLER, CALLEE))
    (stream,) = scanner.finish().streams
    return stream.srtp_keying, stream.encrypted


@pytest.mark.parametrize(
    ("ann", "dtls", "tag", "expected"),
    [
        (None, False, 0, ""),
        (announcement("RTP/AVP"), False, 0, ""),
        (None, False, 10, "unknown"),  # 80-bit tag on G.711, nothing in an SDP
        (announcement("RTP/AVP"), False, 4, "unknown"),  # 32-bit tag
        (announcement("RTP/SAVP"), False, 0, "unknown"),
        (announcement("RTP/SAVP"), True, 0, "dtls"),
        (announcement("RTP/AVP"), True, 0, "dtls"),
        (None, True, 0, "dtls"),
        (announcement("UDP/TLS/RTP/SAVPF", fingerprint=True), False, 0, "dtls"),
        (announcement("RTP/SAVP", crypto=True), False, 0, "sdes"),
        (announcement("RTP/SAVP", crypto=True), True, 0, "sdes"),
        (announcement("RTP/AVP", crypto=True, fingerprint=True), False, 0, "sdes"),
    ],
)
def test_keying(ann: MediaAnnouncement | None, dtls: bool, tag: int, expected: str) -> None:
    assert keying(ann, dtls=dtls, tag=tag) == (expected, bool(expected))


def test_streams_of_one_sdp_share_nothing_mutable() -> None:
    """Two streams named by one announcement get lists of their own (payload types and
    names are worked out once for both)."""
    ann = announcement("RTP/AVP")
    scanner = StreamScanner([ann])
    for i in range(4):
        for ssrc, frame in ((0x1, 2 + 2 * i), (0x2, 3 + 2 * i)):
            rtp = RtpPacket(0, 10 + i, 160 * i, ssrc, payload=bytes(160)).encode()
            scanner.feed(udp(frame, rtp, CALLER, CALLEE))
    first, second = scanner.finish().streams
    assert first.payload_names == second.payload_names == ["PCMU"]
    assert first.payload_names is not second.payload_names
    assert first.payload_types is not second.payload_types
    assert (first.ssrc_changes, second.ssrc_changes) == (1, 1)
    assert first.crypto == second.crypto == ()
    assert first.setup_frame == second.setup_frame == 1 and first.call_id == "call-1"
