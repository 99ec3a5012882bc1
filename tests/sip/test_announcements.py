"""media_announcements and MediaAnnouncer: offer/answer roles of RFC 3264 and RFC 3261 13.2.1,
on message lists."""

from __future__ import annotations

from rtcscope.sip.capture import CapturedSip, MediaAnnouncer, media_announcements
from rtcscope.sip.message import SipMessage

A, B = "192.0.2.10", "192.0.2.20"


def sdp(address: str, port: int, direction: str = "sendrecv") -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/SAVP 0\r\na={direction}\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    ).encode()


def message(start: str, cseq: str, from_tag: str, to_tag: str | None, body: bytes = b"") -> bytes:
    to = "<sip:b@example.com>" + (f";tag={to_tag}" if to_tag else "")
    head = (
        f"{start}\r\nVia: SIP/2.0/UDP {A};branch=z9hG4bK{cseq.replace(' ', '')}\r\n"
        f"From: <sip:a@example.com>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: late@example.com\r\n"
        f"CSeq: {cseq}\r\n"
    )
    if body:
        head += "Content-Type: application/sdp\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def captured(frame: int, src: str, raw: bytes) -> CapturedSip:
    dst = B if src == A else A
    return CapturedSip(frame, frame * 1000, src, 5060, dst, 5060, "udp", SipMessage.parse(raw))


def test_late_offer_and_a_hold_from_the_callee() -> None:
    flow = [
        # RFC 3261 13.2.1: an INVITE without SDP; the 2xx carries the offer, the ACK the answer.
        captured(1, A, message("INVITE sip:b@example.com SIP/2.0", "1 INVITE", "ta", None)),
        captured(2, B, message("SIP/2.0 200 OK", "1 INVITE", "ta", "tb", sdp(B, 30000))),
        captured(3, A, message("ACK sip:b@x SIP/2.0", "1 ACK", "ta", "tb", sdp(A, 40000))),
        # A re-INVITE from the callee puts the call on hold (RFC 3264 8.4: sendonly).
        captured(4, B, message("INVITE sip:a@example.com SIP/2.0", "7 INVITE", "tb", "ta",
                               sdp(B, 30000, "sendonly"))),
        captured(5, A, message("SIP/2.0 200 OK", "7 INVITE", "tb", "ta",
                               sdp(A, 40000, "recvonly"))),
    ]  # fmt: skip
    found = media_announcements(flow)
    assert [(a.frame, a.side, a.role, a.address, a.port) for a in found] == [
        (2, "offer", "callee", B, 30000),
        (3, "answer", "caller", A, 40000),
        (4, "offer", "callee", B, 30000),
        (5, "answer", "caller", A, 40000),
    ]
    assert [a.direction for a in found] == ["sendrecv", "sendrecv", "sendonly", "recvonly"]
    assert [a.on_hold for a in found] == [False, False, True, False]
    assert all(a.crypto[0].suite == "AES_CM_128_HMAC_SHA1_80" for a in found)
    assert found[0].codecs[0].name == "PCMU" and found[0].rtcp_port == 30001


def test_the_announcer_fed_message_by_message_keeps_offer_answer_state() -> None:
    plain = (
        f"v=0\r\no=- 1 1 IN IP4 {B}\r\ns=-\r\nc=IN IP4 {B}\r\nt=0 0\r\n"
        "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\nm=application 30002 UDP/BFCP *\r\n"
    ).encode()
    flow = [
        captured(1, A, message("INVITE sip:b@example.com SIP/2.0", "1 INVITE", "ta", None,
                               sdp(A, 40000))),
        captured(2, B, message("SIP/2.0 180 Ringing", "1 INVITE", "ta", "tb")),
        captured(3, B, message("SIP/2.0 200 OK", "1 INVITE", "ta", "tb", plain)),
    ]  # fmt: skip
    announcer = MediaAnnouncer()
    fed = [announcer.feed(item) for item in flow]
    assert [len(found) for found in fed] == [1, 0, 2]
    assert [a for found in fed for a in found] == media_announcements(flow)
    offer, answer, application = fed[0] + fed[2]
    assert (offer.side, offer.role, answer.side, answer.role) == (
        "offer", "caller", "answer", "callee",
    )  # fmt: skip
    # RTP/SAVP with a=crypto is SRTP; only a=rtpmap lines are in rtpmaps (PT 0 is static).
    assert offer.encrypted and offer.is_rtp and offer.rtpmaps == {}
    assert not answer.encrypted and answer.rtpmaps == {101: ("telephone-event", 8000, 1)}
    assert answer.fmtp == {101: "0-15"} and sorted(answer.codecs) == [0, 101]
    assert not application.is_rtp and not application.encrypted
