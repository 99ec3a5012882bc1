"""`info` counts SIP on every transport, as `tshark -Y sip` does: UDP, TCP, WebSocket, SCTP.

The reference is tshark's own dissection of the same file: the frames it shows as SIP (its
TCP desegmentation, WebSocket and SCTP reassembly at their defaults). Ours are the UDP
datagrams classified by their first line plus the frames where the scan's SIP framer completes
a message over a stream transport; the count and, frame by frame, the frames must agree.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from rtcscope.capture.info import classify_udp_payload
from rtcscope.scan.files import capture_info, sip_messages
from tests.capture.made_captures import make_resegmented_tcp, sip_udp_payloads
from tests.capture.test_sctp import make_sip_over_sctp
from tests.capture.tshark_compare import read_packets
from tests.conftest import DATA, shared_capture
from tests.peers import rtcscope_cli, run

SHARED_STREAM_CAPTURES = [
    "heplify-sip_ipv4_tcp.pcap",
    "ipip.pcap",
    "heplify-sip_tcp_websocket.pcap",
    "aaa.pcap",
]


def tshark_sip_frames(path: Path, *options: str) -> set[int]:
    args = ["-r", path, *options, "-Y", "sip", "-T", "fields", "-e", "frame.number"]
    return {int(line) for line in run("tshark", args).stdout.split()}


def our_sip_frames(path: Path) -> set[int]:
    """UDP datagrams that read as SIP, and the frames completing a SIP message elsewhere."""
    frames = {
        p.frame
        for p in read_packets(path)[0]
        if p.ip_proto == 17
        and p.fragment is None
        and not p.malformed
        and classify_udp_payload(p.payload, p.sport, p.dport) == "sip"
    }
    return frames | {m.frame for m in sip_messages(path) if m.transport != "udp"}


def assert_sip_count_equals_tshark(path: Path, *tshark_options: str) -> dict[str, Any]:
    info = capture_info(path).as_dict()
    assert info == capture_info(path, fast=False).as_dict()
    theirs = tshark_sip_frames(path, *tshark_options)
    assert our_sip_frames(path) == theirs
    assert info["sip"] == len(theirs)
    by_transport = info["sip_udp"] + info["sip_tcp"] + info["sip_ws"] + info["sip_sctp"]
    assert by_transport == info["sip"]
    return info


@pytest.mark.peer
@pytest.mark.parametrize("name", SHARED_STREAM_CAPTURES)
def test_shared_captures(name: str) -> None:
    info = assert_sip_count_equals_tshark(shared_capture(name))
    if name == "heplify-sip_tcp_websocket.pcap":
        assert info["sip_ws"] == 11 and info["sip_udp"] == 28
    if name == "heplify-sip_ipv4_tcp.pcap":
        assert info["sip_tcp"] == 7 and info["sip_udp"] == 0  # 0 before: UDP only


@pytest.mark.peer
def test_testbed_tcp_and_its_resegmented_copy(tmp_path: Path) -> None:
    path = DATA / "testbed-tcp.pcap"
    info = assert_sip_count_equals_tshark(path)
    assert info["sip_tcp"] > 0 and info["sip_udp"] > 0
    resegmented = tmp_path / "resegmented.pcap"
    make_resegmented_tcp(path, resegmented)
    # Cut into 1-300 byte segments, shuffled and retransmitted (a first line cut after
    # "SIP/2.0 100 t" among them): the same messages complete in the frames where tshark,
    # reassembling out-of-order segments (off in its defaults), completes them.
    again = assert_sip_count_equals_tshark(resegmented, "-o", "tcp.reassemble_out_of_order:TRUE")
    assert again["sip"] == info["sip"]


def sip_over_one_tcp_connection(source: Path, out: Path, seed: int = 11) -> int:
    """Every SIP/UDP message of ``source`` sent over one TCP connection, in 1-3 message
    writes cut at random points into segments; returns the number of messages."""
    rng = random.Random(seed)
    # RFC 3261 18.3: over a stream, Content-Length frames each message (the datagrams on
    # port 5060 without one are not SIP).
    messages = [
        payload
        for *_, payload in sip_udp_payloads(source)
        if re.search(rb"\r\nContent-Length:", payload, re.IGNORECASE)
    ]
    client, server = ("127.0.82.10", 45000), ("127.0.82.11", 5060)
    ether = Ether(src="02:00:00:00:82:01", dst="02:00:00:00:82:02")
    seq = 1000
    packets: list[Any] = [
        ether
        / IP(src=client[0], dst=server[0])
        / TCP(sport=client[1], dport=5060, flags="S", seq=seq - 1)
    ]
    stream = b"".join(messages)
    cuts = sorted({0, len(stream), *(rng.randrange(1, len(stream)) for _ in range(len(messages)))})
    for a, b in itertools.pairwise(cuts):
        segment = TCP(sport=client[1], dport=server[1], flags="PA", seq=seq + a, ack=1)
        packets.append(ether / IP(src=client[0], dst=server[0]) / segment / Raw(stream[a:b]))
    for n, packet in enumerate(packets):
        packet.time = 1_700_000_000 + n * 0.001
    wrpcap(str(out), packets)
    return len(messages)


@pytest.mark.peer
def test_many_messages_over_one_tcp_connection(tmp_path: Path) -> None:
    """aaa.pcap's 81 SIP/UDP messages over one TCP connection, cut anywhere."""
    path = tmp_path / "aaa-over-tcp.pcap"
    count = sip_over_one_tcp_connection(DATA / "aaa.pcap", path)
    info = assert_sip_count_equals_tshark(path)
    assert count == 81 and info["sip_udp"] == 0
    assert len(list(sip_messages(path))) == count


@pytest.mark.peer
def test_sip_over_sctp(tmp_path: Path) -> None:
    path = tmp_path / "sctp.pcap"
    make_sip_over_sctp(path)
    info = assert_sip_count_equals_tshark(path)
    assert info["sip_sctp"] == 6 and info["sctp"] == 13


def test_cli_shows_the_transports() -> None:
    path = DATA / "testbed-tcp.pcap"
    [summary] = json.loads(rtcscope_cli(["info", "--format", "json", path], check=True).stdout)
    assert summary["sip"] == summary["sip_udp"] + summary["sip_tcp"]
    table = rtcscope_cli(["info", path], check=True).stdout
    assert "sip_tcp" in table and "sip_sctp" not in table  # zero counts stay out of the table


def test_the_shipped_capture_is_what_its_maker_writes(tmp_path: Path) -> None:
    """tests/data/sip-sctp-tls.pcap (the README's example) is made by
    tests/capture/made_transports.py: scapy writes the same bytes again."""
    from tests.capture.made_transports import SHIPPED, make_transports_capture

    made = tmp_path / "made.pcap"
    make_transports_capture(made)
    assert made.read_bytes() == SHIPPED.read_bytes()


@pytest.mark.peer
def test_shipped_capture_counts_equal_tshark() -> None:
    info = assert_sip_count_equals_tshark(DATA / "sip-sctp-tls.pcap")
    assert (info["sip_sctp"], info["sip_tcp"], info["tls_flow_count"]) == (6, 1, 4)
