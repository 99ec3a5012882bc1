"""RTCP whose port an SDP announces before, during or after the RTCP flows, and the keying
and crypto lines the streams take from their announcements: expectations worked out by hand
from the rules (RFC 3550 A.2: a compound packet that does not start with an SR or RR is
counted only on a port announced for RTCP when it is looked at; RFC 4568 a=crypto: "sdes"
and its lines; RFC 5763 a=fingerprint: "dtls"), not from an earlier output."""

from __future__ import annotations

import pytest

from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.streams import StreamScanner
from rtcscope.sip.capture import MediaAnnouncement
from tests.rtp.test_keying import CALLEE, CALLER, announcement, udp

ROUNDS = 8
LATE_ROUND = 4  # the round before which a late announcement is made


def _bye(ssrc: int) -> bytes:
    """An RTCP BYE alone (RFC 3550 6.6): no SR or RR first."""
    return bytes([0x81, 203, 0, 1]) + ssrc.to_bytes(4, "big")


def _callee_offer() -> MediaAnnouncement:
    """The callee's media at CALLEE, RTCP on the next port, a=crypto."""
    return announcement("RTP/SAVP", crypto=True)._replace(rtcp_port=CALLEE[1] + 1)


def _caller_answer() -> MediaAnnouncement:
    """The caller's media at CALLER, RTCP on port + 7, a=fingerprint."""
    return announcement("UDP/TLS/RTP/SAVP", fingerprint=True)._replace(
        address=CALLER[0], port=CALLER[1], rtcp_port=CALLER[1] + 7, side="answer"
    )


def _scan(offer_at: str, answer_at: str) -> tuple[list[int], list[tuple[object, ...]]]:
    """Each round, five datagrams: RTP caller -> callee (SSRC 0x1111), RTP callee ->
    caller (0x2222), and three BYEs: to the offer's RTCP endpoint, to the answer's (from a
    port nobody announced), between ports nobody announced. An announcement is made
    "first" (to the scanner's constructor), or "late" (before round LATE_ROUND)."""
    made_at = [(_callee_offer(), offer_at), (_caller_answer(), answer_at)]
    scanner = StreamScanner([ann for ann, at in made_at if at == "first"], with_rtcp=True)
    frame = 2
    for round_ in range(ROUNDS):
        if round_ == LATE_ROUND:
            scanner.announce([ann for ann, at in made_at if at == "late"])
        seq, ts = 100 + round_, 160 * round_
        rtp_there = RtpPacket(0, seq, ts, 0x1111, payload=bytes(160)).encode()
        rtp_back = RtpPacket(0, seq, ts, 0x2222, payload=bytes(160)).encode()
        datagrams = [
            (rtp_there, CALLER, CALLEE),
            (rtp_back, CALLEE, CALLER),
            (_bye(0x1111), (CALLER[0], CALLER[1] + 1), (CALLEE[0], CALLEE[1] + 1)),
            (_bye(0x2222), (CALLEE[0], CALLEE[1] + 5), (CALLER[0], CALLER[1] + 7)),
            (_bye(0x3333), (CALLER[0], CALLER[1] + 3), (CALLEE[0], CALLEE[1] + 3)),
        ]
        for payload, src, dst in datagrams:
            scanner.feed(udp(frame, payload, src, dst))
            frame += 1
    result = scanner.finish()
    streams = [
        (s.key.ssrc, s.srtp_keying, s.crypto, s.setup_frame, s.call_id)
        for s in sorted(result.streams, key=lambda s: s.key.ssrc)
    ]
    return [packet.frame for packet in result.rtcp_packets], streams


def _bye_frames(which: int, rounds: range) -> list[int]:
    """The frames of BYE ``which`` (0: to the offer's RTCP port, 1: to the answer's) in
    ``rounds``: round r's five datagrams are frames 2 + 5r ... 6 + 5r, the BYEs the third
    and fourth."""
    return [2 + 5 * round_ + 2 + which for round_ in rounds]


ALL = range(ROUNDS)
LATE = range(LATE_ROUND, ROUNDS)


@pytest.mark.parametrize(
    ("offer_at", "answer_at", "to_offer", "to_answer"),
    [
        ("first", "first", ALL, ALL),
        ("first", "late", ALL, LATE),
        ("late", "first", LATE, ALL),
        ("late", "late", LATE, LATE),
    ],
)
def test_rtcp_is_counted_from_the_announcement_of_its_port_on(
    offer_at: str, answer_at: str, to_offer: range, to_answer: range
) -> None:
    frames, _ = _scan(offer_at, answer_at)
    # the BYE between ports nobody announced is never counted
    assert frames == sorted(_bye_frames(0, to_offer) + _bye_frames(1, to_answer))


def test_the_streams_take_keying_and_crypto_lines_from_their_announcements() -> None:
    """Announced before any packet (frame 1): the stream to the callee is keyed by the
    offer's a=crypto (its line as written), the one to the caller by the answer's
    a=fingerprint; both from the announcements' frame and call."""
    _, streams = _scan("first", "first")
    assert streams == [
        (0x1111, "sdes", ("1 AES_CM_128_HMAC_SHA1_80 x",), 1, "call-1"),
        (0x2222, "dtls", (), 1, "call-1"),
    ]
