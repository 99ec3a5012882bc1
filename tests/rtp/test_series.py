"""`rtcscope streams --series` against tshark's -z rtp,streams on the same capture: the
largest per-interval maximum jitter is tshark's Max Jitter and the per-interval losses add up
to tshark's Lost."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.conftest import DATA
from tests.peers import rtcscope_cli, run

CAPTURE = DATA / "SIP_DTMF2.pcap"


def _tshark_streams() -> dict[str, tuple[int, float]]:
    """SSRC (0x hex, upper case) -> (Lost, Max Jitter ms) from tshark's table."""
    out = run("tshark", ["-n", "-r", CAPTURE, "-q", "-z", "rtp,streams"]).stdout
    found: dict[str, tuple[int, float]] = {}
    for line in out.splitlines():
        match = re.search(r"(0x[0-9A-F]{8}) .*?\s(\d+)\s+(-?\d+) \(", line)
        if match:
            numbers = line[match.end() :].split(")", 1)[1].split()
            found[match.group(1)] = (int(match.group(3)), float(numbers[5]))
    return found


@pytest.mark.peer
@pytest.mark.parametrize("extra", [[], ["--per-packets", "50"]], ids=["per-second", "per-50"])
def test_series_adds_up_to_tshark(extra: list[str]) -> None:
    reference = _tshark_streams()
    assert reference["0x5711BF84"] == (0, 15.767)
    assert reference["0x9A7B5382"][0] == 2
    proc = rtcscope_cli(["streams", CAPTURE, "--series", "--format", "csv", *extra])
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    for ssrc, (lost, max_jitter) in reference.items():
        mine = [r for r in rows if r["ssrc_hex"] == ssrc]
        assert mine, ssrc
        assert sum(int(r["lost"]) for r in mine) == lost
        peak = max(float(r["max_jitter_ms"]) for r in mine if r["max_jitter_ms"])
        assert round(peak, 3) == max_jitter
        assert sum(int(r["packets"]) for r in mine) in (665, 666)


def test_series_json_has_rtcp_columns() -> None:
    proc = rtcscope_cli(["streams", DATA / "aaa.pcap", "--series", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    import json

    rows = json.loads(proc.stdout)
    assert rows and {"rtcp_fraction_lost_percent", "rtcp_round_trip_ms", "bitrate_kbps"} <= set(
        rows[0]
    )
    assert sum(r["packets"] for r in rows) == 9  # tshark: 9 packets in aaa.pcap's stream


def test_bad_interval_is_a_usage_error() -> None:
    proc = rtcscope_cli(["streams", CAPTURE, "--series", "--interval", "0"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
