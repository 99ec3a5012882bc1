"""`rtcscope streams` as a user runs it: the documented JSON keys, CSV, --rtcp, --dtmf."""

from __future__ import annotations

import json

from tests.conftest import DATA
from tests.peers import rtcscope_cli

ISSUE_KEYS = [
    "src",
    "src_port",
    "dst",
    "dst_port",
    "ssrc",
    "payload_type",
    "codec",
    "clock_rate",
    "packets",
    "lost",
    "lost_percent",
    "min_delta_ms",
    "mean_delta_ms",
    "max_delta_ms",
    "min_jitter_ms",
    "mean_jitter_ms",
    "max_jitter_ms",
    "problems",
]
OUR_KEYS = {
    "lost_vs_highest_seq",
    "duplicates",
    "reordered",
    "dtx_periods",
    "markers",
    "ssrc_changes",
    "payload_type_changes",
    "encrypted",
}


def test_json_keys_come_in_the_documented_order() -> None:
    proc = rtcscope_cli(["streams", DATA / "SIP_DTMF2.pcap", "--format", "json", "--dtmf"])
    assert proc.returncode == 0, proc.stderr
    streams = json.loads(proc.stdout)
    assert len(streams) == 2
    for stream in streams:
        assert list(stream)[: len(ISSUE_KEYS)] == ISSUE_KEYS
        assert set(stream) >= OUR_KEYS
        assert isinstance(stream["ssrc"], int)
    assert [d["digit"] for d in streams[1]["dtmf"]] == list("6789123")
    assert streams[0]["problems"] and not streams[1]["problems"]


def test_rtcp_json_and_csv() -> None:
    proc = rtcscope_cli(["streams", DATA / "aaa.pcap", "--format", "json", "--rtcp"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["streams"][0]["rtcp"]["sender_packets"] == 9
    assert data["streams"][0]["rtcp"]["sender_octets"] == 1548
    assert [r["type"] for r in data["rtcp"]] == ["SenderReport", "SourceDescription", "Goodbye"]
    csv = rtcscope_cli(["streams", DATA / "aaa.pcap", "--format", "csv"])
    header, row = csv.stdout.splitlines()
    assert header.split(",")[: len(ISSUE_KEYS)] == ISSUE_KEYS
    assert row.startswith("192.168.1.2,30000,212.242.33.36,40392,932629361,8,PCMA,8000,9,0,")


def test_bad_options_are_usage_errors() -> None:
    proc = rtcscope_cli(["streams", DATA / "aaa.pcap", "--rtp-port", "70000"])
    assert proc.returncode == 2
    assert "not a UDP port" in proc.stderr
    missing = rtcscope_cli(["streams", DATA / "no-such.pcap"])
    assert missing.returncode == 3
