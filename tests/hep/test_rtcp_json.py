"""RTCP -> Homer type 5 JSON, checked field by field against tshark on a real capture."""

from __future__ import annotations

import json

import pytest

from rtcscope.errors import RtpError
from rtcscope.hep.codec import ProtocolType, decode
from rtcscope.hep.rtcp_json import rtcp_hep_packet, rtcp_to_homer, rtcp_to_homer_json
from tests.conftest import shared_capture
from tests.peers import tshark_fields

FIELDS = [
    "udp.payload",
    "rtcp.pt",
    "rtcp.senderssrc",
    "rtcp.sender.packetcount",
    "rtcp.sender.octetcount",
    "rtcp.timestamp.ntp.msw",
    "rtcp.timestamp.rtp",
    "rtcp.ssrc.identifier",
    "rtcp.ssrc.fraction",
    "rtcp.ssrc.cum_nr",
    "rtcp.ssrc.high_seq",
    "rtcp.ssrc.high_cycles",
    "rtcp.ssrc.jitter",
    "rtcp.ssrc.lsr",
    "rtcp.ssrc.dlsr",
]


@pytest.mark.peer
def test_rtcp_json_matches_tshark() -> None:
    path = shared_capture("heplify-rtp_rtcp_sip_ipv4_udp.pcap")
    rows = tshark_fields(path, FIELDS, display_filter="rtcp")
    checked = 0
    for payload, pt, ssrc, packets, octets, msw, rtp_ts, *blocks in rows:
        obj = rtcp_to_homer(bytes.fromhex(payload))
        first_pt = int(pt.split(",")[0])
        if first_pt not in (200, 201):
            assert obj is None
            continue
        assert obj is not None
        assert obj["type"] == first_pt
        assert obj["ssrc"] == int(ssrc.split(",")[0], 16)
        if first_pt == 200:
            info = obj["sender_information"]
            assert info["packets"] == int(packets.split(",")[0])
            assert info["octets"] == int(octets.split(",")[0])
            assert info["ntp_timestamp_sec"] == int(msw.split(",")[0])
            assert info["rtp_timestamp"] == int(rtp_ts.split(",")[0])
        # tshark lists the blocks of every packet in the compound; ours are the first's
        columns = [c.split(",") if c else [] for c in blocks]
        for i, block in enumerate(obj["report_blocks"]):
            identifier, fraction, cum, high, cycles, jitter, lsr, dlsr = (col[i] for col in columns)
            assert block["source_ssrc"] == int(identifier, 16)
            assert block["fraction_lost"] == int(fraction)
            assert block["packets_lost"] == int(cum)
            # the extended highest sequence: cycles in the top 16 bits (RFC 3550 6.4.1)
            assert block["highest_seq_no"] == int(cycles) << 16 | int(high)
            assert block["ia_jitter"] == int(jitter)
            assert block["lsr"] == int(lsr)
            assert block["dlsr"] == int(dlsr)
        checked += 1
    assert checked >= 20


def test_rtcp_hep_packet_carries_type_5_and_the_call_id() -> None:
    # RFC 3550 6.4.2: an RR with one report block
    rr = bytes.fromhex("81c900071122334455667788050000030000ffff000000100" * 15 + "100000002")
    packet = rtcp_hep_packet(
        rr,
        correlation_id="abc@host",
        src="10.0.0.1",
        dst="10.0.0.2",
        sport=4001,
        dport=4003,
        time_ns=1_700_000_000_123_456_789,
        capture_id=9,
    )
    assert packet is not None
    again = decode(packet.encode())
    assert again.proto_type == ProtocolType.RTCP_JSON
    assert again.correlation_id == "abc@host"
    assert (again.ts_sec, again.ts_usec) == (1_700_000_000, 123_456)
    obj = json.loads(again.payload)
    assert obj["type"] == 201 and obj["ssrc"] == 0x11223344
    assert obj["report_blocks"][0]["packets_lost"] == 3
    assert obj["report_blocks"][0]["fraction_lost"] == 5


def test_non_rtcp_is_a_typed_error() -> None:
    with pytest.raises(RtpError):
        rtcp_to_homer_json(b"\x00\x01")
    with pytest.raises(RtpError):
        rtcp_hep_packet(b"", correlation_id="", src="", dst="", sport=0, dport=0, time_ns=0)
