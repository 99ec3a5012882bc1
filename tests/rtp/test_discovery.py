"""Discovery facts checked on real captures: SRTP marked, unsignalled streams, the packets
given back for audio/SRTP, and --rtp-port."""

from __future__ import annotations

import pytest

from rtcscope.rtp.streams import stream_packets
from rtcscope.scan.files import find_streams, scan_capture, sip_messages
from rtcscope.sip.capture import media_announcements
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields


def test_srtp_without_signalling_is_marked_encrypted() -> None:
    # marseillaise-srtp: SDES-keyed SRTP with no SIP; PT 8 payloads are 170 bytes for 160
    # samples: an 80-bit authentication tag (RFC 3711 4.2).
    (stream,) = find_streams(shared_capture("marseillaise-srtp.pcap"))
    assert stream.encrypted and stream.source == "heuristic"
    assert stream.key.ssrc == 0xDEADBEEF


def test_webrtc_streams_sharing_a_dtls_flow_are_encrypted() -> None:
    streams = find_streams(shared_capture("ndpi-meet-srtp-ipv6.pcapng"))
    assert streams and all(s.encrypted for s in streams)


@pytest.mark.parametrize("name", ["sip-rtp-opus.pcap", "SIP_DTMF2.pcap", "sipp-g711a.pcap"])
def test_plain_rtp_is_not_marked_encrypted(name: str) -> None:
    assert not any(s.encrypted for s in find_streams(shared_capture(name)))


@pytest.mark.parametrize("name", ["srtp-sdes-call.pcap", "sip-rtp-opus.pcap", "SIP_DTMF2.pcap"])
def test_the_scan_names_streams_from_the_sip_layers_announcements(name: str) -> None:
    # One pass of scan_capture announces what media_announcements finds on its own pass
    # (the RTP sections with an address), with the same offer/answer sides.
    path = DATA / name
    expected = [
        a for a in media_announcements(sip_messages(path)) if a.is_rtp and a.address is not None
    ]
    scan = scan_capture(path)
    assert expected and scan.announcements == expected
    by_frame = {a.frame: a for a in expected}
    for stream in scan.streams:
        assert stream.setup_frame in by_frame and stream.source == "sdp"
        ann = by_frame[stream.setup_frame]
        assert stream.crypto == tuple(c.raw for c in ann.crypto)
        assert stream.encrypted == ann.encrypted


@pytest.mark.peer
def test_stream_packets_are_the_counted_ones_in_capture_order() -> None:
    path = shared_capture("SIP_DTMF2.pcap")
    streams = find_streams(path)
    given = list(stream_packets(path, streams))
    assert len(given) == sum(s.stats.packets for s in streams)
    frames = [p.frame for p in given]
    assert frames == sorted(frames)
    rows = tshark_fields(path, ["frame.number", "rtp.seq", "rtp.p_type"], "rtp")
    theirs = {int(f): (int(seq), int(pt)) for f, seq, pt in rows}
    for packet in given:
        assert theirs[packet.frame] == (packet.rtp.sequence_number, packet.rtp.payload_type)
        assert packet.data[12:].startswith(packet.rtp.payload[:4])


@pytest.mark.peer
def test_rtp_port_forces_like_decode_as() -> None:
    path = shared_capture("sipp-dtmf_2833_1.pcap")
    assert find_streams(path, heuristic=False) == []
    (forced,) = find_streams(path, heuristic=False, rtp_ports=[10000])
    assert forced.source == "forced" and forced.stats.packets == 10
    # The same frames as tshark's "Decode As" RTP on that port.
    rows = tshark_fields(path, ["frame.number", "rtp.ssrc"], "rtp", ["-d", "udp.port==10000,rtp"])
    assert [(int(f), int(s, 16)) for f, s in rows] == [
        (p.frame, p.key.ssrc) for p in stream_packets(path, [forced])
    ]
