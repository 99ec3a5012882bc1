"""RTCP parsed by us against tshark's dissection of the same packets, field by field.

Shared captures for SR/RR/SDES/BYE; XR (RFC 3611) and APP, which no shared capture has, on
packets built here with our encoder, wrapped in UDP by text2pcap and dissected by tshark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.capture.pipeline import packets
from rtcscope.rtp import rtcp
from tests.conftest import shared_capture
from tests.peers import run, tshark_fields

FIELDS = (
    "rtcp.sender.packetcount",
    "rtcp.sender.octetcount",
    "rtcp.ssrc.fraction",
    "rtcp.ssrc.cum_nr",
    "rtcp.ssrc.jitter",
    "rtcp.ssrc.lsr",
    "rtcp.ssrc.dlsr",
    "rtcp.ssrc.high_seq",
    "rtcp.ssrc.high_cycles",
    "rtcp.pt",
)


def our_fields(parsed: list[rtcp.RtcpPacket]) -> list[str]:
    senders = [p for p in parsed if isinstance(p, rtcp.SenderReport)]
    blocks = [
        b
        for p in parsed
        if isinstance(p, rtcp.SenderReport | rtcp.ReceiverReport)
        for b in p.reports
    ]

    def join(values: list[int]) -> str:
        return ",".join(str(v) for v in values)

    return [
        join([s.packet_count for s in senders]),
        join([s.octet_count for s in senders]),
        join([b.fraction_lost for b in blocks]),
        join([b.cumulative_lost for b in blocks]),
        join([b.jitter for b in blocks]),
        join([b.lsr for b in blocks]),
        join([b.dlsr for b in blocks]),
        join([b.highest_sequence & 0xFFFF for b in blocks]),
        join([b.highest_sequence >> 16 for b in blocks]),
        join([_packet_type(p) for p in parsed]),
    ]


def _packet_type(packet: rtcp.RtcpPacket) -> int:
    if isinstance(packet, rtcp.Feedback | rtcp.UnknownRtcp):
        return packet.packet_type
    types: dict[type, int] = {
        rtcp.SenderReport: 200,
        rtcp.ReceiverReport: 201,
        rtcp.SourceDescription: 202,
        rtcp.Goodbye: 203,
        rtcp.ApplicationDefined: 204,
        rtcp.ExtendedReport: 207,
    }
    return types[type(packet)]


@pytest.mark.peer
@pytest.mark.parametrize(
    "name", ["aaa.pcap", "heplify-rtp_rtcp_sip_ipv4_udp.pcap", "ndpi-rtcp-compound.pcap"]
)
def test_rtcp_fields_equal_tshark(name: str) -> None:
    path = shared_capture(name)
    rows = tshark_fields(path, ["frame.number", *FIELDS], "rtcp")
    theirs = {int(row[0]): row[1:] for row in rows}
    assert theirs, "tshark finds RTCP in this capture"
    checked = 0
    for packet in packets(path):
        if packet.frame in theirs:
            # Some datagrams here end in 2 bytes past the last packet (tshark: "length check:
            # Wrong"); the packets before them are what tshark dissects.
            parsed = rtcp.parse_compound(packet.payload, strict=False)
            assert our_fields(parsed) == theirs[packet.frame], f"frame {packet.frame}"
            checked += 1
    assert checked == len(theirs)


def _as_pcap(tmp_path: Path, datagrams: list[bytes]) -> Path:
    """A pcap of UDP datagrams 10.0.0.1:5001 -> 10.0.0.2:5001 made by text2pcap."""
    dump = tmp_path / "rtcp.txt"
    lines = []
    for data in datagrams:
        for offset in range(0, len(data), 16):
            chunk = data[offset : offset + 16]
            lines.append(f"{offset:06x} " + " ".join(f"{b:02x}" for b in chunk))
        lines.append("")
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rtcp.pcap"
    run("text2pcap", ["-q", "-u", "5001,5001", "-4", "10.0.0.1,10.0.0.2", dump, out])
    return out


@pytest.mark.peer
def test_xr_and_app_built_here_are_dissected_by_tshark_as_we_parse_them(
    tmp_path: Path,
) -> None:
    voip_values = dict(
        ssrc=0x11223344,
        loss_rate=12,
        discard_rate=3,
        burst_density=40,
        gap_density=5,
        burst_duration=120,
        gap_duration=4000,
        round_trip_delay=85,
        end_system_delay=40,
        signal_level=-20,
        noise_level=-60,
        rerl=30,
        gmin=16,
        r_factor=80,
        ext_r_factor=127,
        mos_lq=38,
        mos_cq=40,
        rx_config=0x10,
        reserved=0,
        jb_nominal=60,
        jb_maximum=120,
        jb_abs_max=200,
    )
    import struct

    voip = struct.pack("!IBBBBHHHHbbBBBBBBBBHHH", *voip_values.values())
    rrt = struct.pack("!Q", 0xE1234567_89ABCDEF)
    dlrr = struct.pack("!III", 0x55667788, 0x12345678, 0x00010000)
    xr = rtcp.ExtendedReport(
        0xAABBCCDD,
        (
            rtcp.XrBlock(4, 0, rrt),
            rtcp.XrBlock(5, 0, dlrr),
            rtcp.XrBlock(7, 0, voip),
        ),
    )
    rr = rtcp.ReceiverReport(0xAABBCCDD)
    app = rtcp.ApplicationDefined(5, 0xAABBCCDD, b"TEST", b"\x01\x02\x03\x04")
    datagrams = [rr.encode() + xr.encode(), rr.encode() + app.encode()]
    path = _as_pcap(tmp_path, datagrams)
    fields = [
        "rtcp.xr.bt",
        "rtcp.xr.voipmetrics.burstdensity",
        "rtcp.xr.voipmetrics.gapdensity",
        "rtcp.xr.voipmetrics.burstduration",
        "rtcp.xr.voipmetrics.gapduration",
        "rtcp.xr.voipmetrics.rtdelay",
        "rtcp.xr.voipmetrics.esdelay",
        "rtcp.xr.voipmetrics.gmin",
        "rtcp.xr.voipmetrics.rfactor",
        "rtcp.xr.voipmetrics.jbnominal",
        "rtcp.xr.voipmetrics.jbmax",
        "rtcp.xr.dlrr",
        "rtcp.app.subtype",
        "rtcp.app.name",
    ]
    rows = tshark_fields(path, fields, None, ["-d", "udp.port==5001,rtcp"])
    parsed = [rtcp.parse_compound(d) for d in datagrams]
    ours_xr = parsed[0][1]
    assert isinstance(ours_xr, rtcp.ExtendedReport)
    v = ours_xr.blocks[2].fields
    expected_xr = [
        ",".join(str(b.block_type) for b in ours_xr.blocks),
        str(v["burst_density"]),
        str(v["gap_density"]),
        str(v["burst_duration"]),
        str(v["gap_duration"]),
        str(v["round_trip_delay"]),
        str(v["end_system_delay"]),
        str(v["gmin"]),
        str(v["r_factor"]),
        str(v["jb_nominal"]),
        str(v["jb_maximum"]),
        str(ours_xr.blocks[1].dlrr[0].dlrr),
        "",
        "",
    ]
    assert rows[0] == expected_xr
    ours_app = parsed[1][1]
    assert isinstance(ours_app, rtcp.ApplicationDefined)
    assert rows[1][-2:] == [str(ours_app.subtype), ours_app.name.decode()]
    assert ours_app.data == b"\x01\x02\x03\x04"
