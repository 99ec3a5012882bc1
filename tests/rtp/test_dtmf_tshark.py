"""RFC 4733 digits found by us equal tshark's rtpevent.event_id (one digit per event)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.rtp.events import event_name
from rtcscope.scan.files import find_streams
from tests.conftest import shared_capture
from tests.peers import tshark_fields


def tshark_digits(path: Path, extra: list[str]) -> list[str]:
    """One digit per event: packets of an event share SSRC and RTP timestamp (RFC 4733
    2.5.1.1), whatever their sequence numbers; repeated end packets are the same digit."""
    rows = tshark_fields(
        path, ["rtp.ssrc", "rtp.timestamp", "rtpevent.event_id"], "rtpevent", extra
    )
    seen: dict[tuple[str, str], str] = {}
    for ssrc, timestamp, event in rows:
        seen.setdefault((ssrc, timestamp), event_name(int(event)))
    return list(seen.values())


def our_digits(path: Path, rtp_ports: tuple[int, ...] = ()) -> list[str]:
    streams = find_streams(path, with_dtmf=True, rtp_ports=rtp_ports)
    digits = sorted((d for s in streams for d in s.dtmf), key=lambda d: d.first_frame)
    return [d.digit for d in digits]


@pytest.mark.peer
def test_sip_dtmf2_digits_equal_tshark() -> None:
    path = shared_capture("SIP_DTMF2.pcap")
    theirs = tshark_digits(path, [])
    assert theirs == list("6789123")
    assert our_digits(path) == theirs


@pytest.mark.peer
@pytest.mark.parametrize("rtp_ports", [(), (10000,)], ids=["heuristic", "rtp-port"])
def test_sipp_dtmf_without_signalling_equals_decode_as(rtp_ports: tuple[int, ...]) -> None:
    path = shared_capture("sipp-dtmf_2833_1.pcap")
    theirs = tshark_digits(path, ["-d", "udp.port==10000,rtp"])
    assert theirs == ["1"]
    assert our_digits(path, rtp_ports) == theirs


def test_repeated_end_packets_are_one_digit() -> None:
    from rtcscope.rtp.events import DtmfDetector, TelephoneEvent

    detector = DtmfDetector()
    body = TelephoneEvent(5, False, 10, 400).encode()
    end = TelephoneEvent(5, True, 10, 800).encode()
    for frame, payload in enumerate([body, body, end, end, end], start=1):
        detector.feed(frame, frame * 20_000_000, 0x1234, 16000, payload)
    detector.feed(6, 200_000_000, 0x1234, 17600, TelephoneEvent(5, True, 10, 800).encode())
    assert [d.digit for d in detector.digits] == ["5", "5"]
    first = detector.digits[0]
    assert (first.packets, first.end_packets, first.duration, first.ended) == (5, 3, 800, True)
