"""The RTP tap feeds a batch's other packets (SIP...) before the RTP rows of flows not
followed yet that lie among them: the stream scanner must then give what capture order
gives. Checked here against the per-packet order itself (StreamScanner.feed packet by
packet, the reference): announcements carry their frames, a late one (its message
completed by an earlier frame than the packet that delivered it, TCP) is held back from
earlier rows, and may_feed_first refuses when order could still tell."""

from __future__ import annotations

from rtcscope.rtp.streams import _PENDING_KEYS_LIMIT, StreamScanner
from tests.rtp.test_keying import CALLEE, CALLER, announcement, udp


def rtp(seq: int, ssrc: int = 0x1234) -> bytes:
    return (
        bytes([0x80, 0])
        + seq.to_bytes(2, "big")
        + (seq * 160).to_bytes(4, "big")
        + (ssrc.to_bytes(4, "big") + bytes(160))
    )


KEY = (*CALLER, *CALLEE, 0x1234)


def test_an_announcement_delivered_later_than_its_frame_is_not_seen_before() -> None:
    ann = announcement("RTP/AVP")._replace(frame=5)  # delivered by frame 10
    # Reference: capture order. The row at frame 7 comes before frame 10 delivers the SDP,
    # so it starts nothing; the one at frame 12 does.
    reference = StreamScanner(heuristic=False)
    reference.feed(udp(7, rtp(1), CALLER, CALLEE))
    reference.announce([ann])
    reference.feed(udp(12, rtp(2), CALLER, CALLEE))
    expected = [(s.first_frame, s.stats.packets) for s in reference.finish().streams]
    assert expected == [(12, 1)]
    # Fed ahead: the announcement first, while the tap says frame 10 delivered it.
    ahead = StreamScanner(heuristic=False)
    ahead.feeding_frame = 10
    ahead.announce([ann])
    ahead.feeding_frame = -1
    assert ahead.start_streams([KEY, KEY], [7, 12]) == [False, True]
    # Without the hold-back the frame-7 row would have been taken (ann.frame 5 <= 7).
    plain = StreamScanner(heuristic=False)
    plain.announce([ann])
    assert plain.start_streams([KEY], [7]) == [True]


def test_feeding_first_is_refused_when_order_could_tell() -> None:
    scanner = StreamScanner()
    sip = udp(3, b"INVITE sip:b@10.0.0.2 SIP/2.0\r\n\r\n", CALLER, ("10.0.0.2", 5060))
    other = (*CALLER, *CALLEE, 0x9999)
    assert scanner.may_feed_first([sip], [KEY])
    # An RTP datagram of a waiting key among the other packets: its place among its rows
    # counts.
    assert not scanner.may_feed_first([sip, udp(4, rtp(1), CALLER, CALLEE)], [KEY])
    # Another SSRC's RTP is no obstacle.
    assert scanner.may_feed_first([udp(4, rtp(1, 0x9999), CALLER, CALLEE)], [KEY])
    # The heuristic's candidates near their bound: the oldest is dropped, order counts.
    assert not scanner.may_feed_first([sip], [other] * _PENDING_KEYS_LIMIT)
    assert StreamScanner(heuristic=False).may_feed_first([sip], [other] * _PENDING_KEYS_LIMIT)
