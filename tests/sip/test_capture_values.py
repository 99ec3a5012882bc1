"""What SipCaptureFramer hands out: CapturedSip values (frozen, comparable, hashable,
dataclasses.replace works) with the packet's frame, time and addresses, one object per
address and port across a capture's messages."""

from __future__ import annotations

import dataclasses

import pytest

from rtcscope.sip.capture import CapturedSip, SipCaptureFramer
from tests.rtp.test_heuristic import udp

INVITE = (
    b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"
    b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n"
    b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


def test_a_framed_message_is_the_frozen_value_a_caller_would_build() -> None:
    framer = SipCaptureFramer()
    packet = udp(7, INVITE, 5060, 5062, "10.0.0.1", "10.0.0.2")
    (found,) = framer.feed(packet)
    built = CapturedSip(7, packet.ts_ns, "10.0.0.1", 5060, "10.0.0.2", 5062, "udp", found.message)
    assert type(found) is CapturedSip and found == built and hash(found) == hash(built)
    assert repr(found) == repr(built)
    assert dataclasses.replace(found, frame=8).frame == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.frame = 9  # type: ignore[misc]
    assert framer.report.messages == framer.report.udp_messages == 1


def fresh(text: str) -> str:
    return text.encode().decode()  # an equal string, another object


def test_messages_of_a_capture_share_their_addresses_and_ports() -> None:
    framer = SipCaptureFramer()
    a, b = "10.0.0.1", "10.0.0.2"
    # Each packet decodes its own strings and ints (as the capture decoder does).
    first = framer.feed(udp(1, INVITE, int("5060"), int("45062"), fresh(a), fresh(b)))[0]
    again = framer.feed(udp(2, INVITE, int("5060"), int("45062"), fresh(a), fresh(b)))[0]
    back = framer.feed(udp(3, INVITE, int("45062"), int("5060"), fresh(b), fresh(a)))[0]
    assert (again.src, again.sport, again.dport) == ("10.0.0.1", 5060, 45062)
    assert again.src is first.src and again.dport is first.dport
    assert back.src is first.dst and back.sport is first.dport
