"""rtcscope hep decode/send/listen/search as a user runs them (separate processes)."""

from __future__ import annotations

import itertools
import json
import socket
import time
from pathlib import Path

import pytest

from rtcscope.hep.codec import HepPacket, ProtocolType, encode
from tests.conftest import DATA, shared_capture
from tests.peers import rtcscope_background, rtcscope_cli, run, tshark_fields

HOST = "127.0.20.40"


@pytest.mark.peer
def test_decode_matches_sngrep_e(tmp_path: Path) -> None:
    path = shared_capture("hep-wireshark-hep.pcap")
    out = tmp_path / "inner.pcap"
    run("sngrep", ["-N", "-q", "-E", "-I", path, "-O", out], timeout=30)
    inner = tshark_fields(
        out, ["frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "udp.payload"]
    )
    result = rtcscope_cli(["hep", "decode", path, "--format", "json"], check=True)
    decoded = json.loads(result.stdout)
    assert len(decoded) == len(inner) == 8
    for item, (epoch, src, dst, sport, dport, payload) in zip(decoded, inner, strict=True):
        hep = item["hep"]
        assert hep["time_ns"] == round(float(epoch) * 1e6) * 1000
        assert (hep["src"], hep["dst"], hep["sport"], hep["dport"]) == (
            src,
            dst,
            int(sport),
            int(dport),
        )
        assert hep["payload"] == bytes.fromhex(payload).decode()
        assert item["outer"] == {
            "transport": "udp",
            "src": "127.0.0.1",
            "sport": 51160,
            "dst": "127.0.0.1",
            "dport": 9060,
        }
    assert [d["hep"]["protocol"] for d in decoded].count("SIP") == 6
    assert decoded[0]["sip"] == {
        "call_id": "qgf3dm9rudi@127.0.0.1",
        "method": "INVITE",
        "status": None,
    }
    table = rtcscope_cli(["hep", "decode", path], check=True).stdout
    assert "RTCP_JSON" in table and max(map(len, table.splitlines())) <= 80
    wide = rtcscope_cli(["hep", "decode", path, "--wide"], check=True).stdout
    assert "qgf3dm9rudi@127.0.0.1" in wide and "2016-12-11T11:19:56" in wide


def _sip(call_id: str) -> bytes:
    return (
        f"MESSAGE sip:b@example.com SIP/2.0\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_decode_finds_hep_on_any_port_over_udp_and_tcp(tmp_path: Path) -> None:
    """A capture made with scapy: HEP3 frames in a TCP stream cut mid-frame, HEPv2 on an odd
    UDP port, and UDP that is not HEP."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    frames = [
        encode(HepPacket(proto_type=ProtocolType.SIP, capture_id=i, payload=_sip(f"tcp-{i}")))
        for i in range(3)
    ]
    stream = b"".join(frames)
    cuts = [0, 10, len(frames[0]) + 7, len(stream)]
    packets = []
    base = Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
    seq = 1000
    packets.append(base / TCP(sport=40000, dport=9061, flags="S", seq=seq - 1))
    for a, b in itertools.pairwise(cuts):
        packets.append(base / TCP(sport=40000, dport=9061, flags="PA", seq=seq + a) / stream[a:b])
    v2 = encode(
        HepPacket(version=2, magic=b"", src="10.9.0.1", dst="10.9.0.2", sport=5060, dport=5060,
                  ts_sec=1_700_000_000, ts_usec=5, capture_id=3, payload=_sip("udp-v2"))
    )  # fmt: skip
    packets.append(base / UDP(sport=7000, dport=31337) / v2)
    packets.append(base / UDP(sport=7000, dport=31338) / b"\x02hello, not hep")
    for i, packet in enumerate(packets):
        packet.time = 1_700_000_000 + i
    capture = tmp_path / "mixed.pcap"
    wrpcap(str(capture), packets)
    result = rtcscope_cli(["hep", "decode", capture, "--format", "json"], check=True)
    decoded = json.loads(result.stdout)
    assert [d["sip"]["call_id"] for d in decoded] == ["tcp-0", "tcp-1", "tcp-2", "udp-v2"]
    assert [d["outer"]["transport"] for d in decoded] == ["tcp", "tcp", "tcp", "udp"]
    assert decoded[3]["hep"]["version"] == 2 and decoded[3]["outer"]["dport"] == 31337


@pytest.mark.peer
def test_send_with_rtcp_over_tcp_then_search(tmp_path: Path) -> None:
    path = shared_capture("heplify-rtp_rtcp_sip_ipv4_udp.pcap")
    sip_call_ids = {row[0] for row in tshark_fields(path, ["sip.Call-ID"], "sip")}
    # tshark finds RTCP where SDP announced it; two SRs go to port 4801, which no SDP names
    # (tshark shows them as data): decoded as RTCP there, they make 28
    rtcp_frames = len(tshark_fields(path, ["frame.number"], "rtcp", ["-d", "udp.port==4801,rtcp"]))
    store = tmp_path / "store"
    log = tmp_path / "listen.log"
    with socket.socket() as probe:  # a free port (a fixed one may be taken by another run)
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    listen = ["hep", "listen", "--bind", f"{HOST}:{port}", "--tcp", "--store", store]
    with rtcscope_background([*listen, "--format", "json"], log):
        deadline = time.monotonic() + 60
        while "listening" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        sent = rtcscope_cli(
            ["hep", "send", path, "--to", f"tcp://{HOST}:{port}", "--rtcp", "--format", "json",
             "--capture-id", "4000000000", "--node-name", "edge-7"],
            check=True,
        )  # fmt: skip
        counts = json.loads(sent.stdout)
        time.sleep(1.0)
    final = json.loads(log.read_text().split("\n", 1)[1])
    assert final["stored"] == counts["sent"] == counts["sip"] + counts["rtcp"]
    assert counts["rtcp"] > 0
    # every RTCP datagram of the capture is accounted for
    assert counts["rtcp"] + counts["rtcp_unmatched"] + counts["rtcp_without_report"] == rtcp_frames
    reports = json.loads(
        rtcscope_cli(["hep", "search", store, "--type", "5", "--format", "json"], check=True).stdout
    )
    assert len(reports) == counts["rtcp"]
    assert {r["correlation_id"] for r in reports} <= sip_call_ids
    assert all(json.loads(r["payload"])["type"] in (200, 201) for r in reports)
    assert {(r["capture_id"], r["node"]) for r in reports} == {(4000000000, "edge-7")}
    call_id = reports[0]["correlation_id"]
    one_call = json.loads(
        rtcscope_cli(["hep", "search", store, "--call-id", call_id, "--format", "json"]).stdout
    )
    assert {m["protocol"] for m in one_call} == {"SIP", "RTCP_JSON"}
    assert all(call_id in (m["call_id"], m["correlation_id"]) for m in one_call)
    times = [m["time_ns"] for m in one_call]
    assert times == sorted(times)
    later = json.loads(
        rtcscope_cli(
            ["hep", "search", store, "--since", one_call[-1]["time"], "--format", "json"]
        ).stdout
    )
    assert later and all(m["time_ns"] >= times[-1] for m in later)
    csv = rtcscope_cli(["hep", "search", store, "--limit", "2", "--format", "csv"]).stdout
    assert csv.splitlines()[0].startswith("id,time,src,dst,type,capture_id")
    assert len(csv.splitlines()) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "tcp://127.0.20.40:9", "--hep-version", "2"],
        ["--to", "udp://127.0.20.40:9", "--hep-version", "2", "--rtcp"],
        ["--to", "http://127.0.20.40:9"],
        ["--to", "udp://127.0.20.40:9", "--realtime", "--rate", "10"],
    ],
)
def test_send_usage_errors(args: list[str]) -> None:
    result = rtcscope_cli(["hep", "send", DATA / "aaa.pcap", *args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_send_to_a_closed_tcp_port_is_a_peer_failure() -> None:
    args = ["--to", "tcp://127.0.20.40:9", "--connect-timeout", "0.5"]
    result = rtcscope_cli(["hep", "send", DATA / "aaa.pcap", *args])
    assert result.returncode == 4, result.stdout + result.stderr


def test_search_of_a_directory_without_a_store(tmp_path: Path) -> None:
    result = rtcscope_cli(["hep", "search", tmp_path])
    assert result.returncode == 3
    assert "no HEP store" in result.stderr


def test_listen_counts_are_one_whole_number_per_row(tmp_path: Path) -> None:
    """hep listen's table/CSV: every count its own row of one integer; counts by reason
    (refused) split into rows that add up to what was sent, never a dict printed whole."""
    import socket

    host, port = "127.0.87.40", 19202
    log, out = tmp_path / "listen.log", tmp_path / "counts.csv"
    args = ["hep", "listen", "--bind", f"{host}:{port}", "--store", tmp_path / "store"]
    with rtcscope_background([*args, "--duration", "3", "--format", "csv"], log, stdout=out) as p:
        deadline = time.monotonic() + 20
        while "listening" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        good = encode(HepPacket(proto_type=ProtocolType.SIP, capture_id=7, payload=_sip("ok")))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.87.41", 0))
            sock.sendto(good, (host, port))
            sock.sendto(good[:8], (host, port))  # a chunk header cut short: invalid
        p.wait(timeout=20)
    lines = out.read_text().splitlines()
    assert lines[0] == "count,value"
    rows = dict(line.rsplit(",", 1) for line in lines[1:])
    assert all(value.isdigit() for value in rows.values()), rows
    assert (rows["received"], rows["accepted"], rows["invalid"]) == ("2", "1", "1")
    assert rows["refused invalid"] == "1" and rows["refused password"] == "0"
    assert rows["invalid_by_source 127.0.87.41"] == "1", rows
