"""`rtcscope streams --series` against tshark's -z rtp,streams on the same capture: the
largest per-interval maximum jitter is tshark's Max Jitter and the per-interval losses add up
to tshark's Lost."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.rtp.series import StreamPackets, stream_series
from rtcscope.rtp.stats import StreamStats
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
    proc = rtcscope_cli(["streams", DATA / "aaa.pcap", "--quality", "--format", "json"])
    adaptive = json.loads(proc.stdout)[0]["quality"]["buffers"][-1]
    assert adaptive["buffer"] == "adaptive-500"
    assert sum(r["jb_discarded"] for r in rows) == adaptive["late"]


def test_bad_interval_is_a_usage_error() -> None:
    proc = rtcscope_cli(["streams", CAPTURE, "--series", "--interval", "0"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**10),
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFFFFFF),
            st.sampled_from([0, 8, 13, 101]),
            st.booleans(),
        ),
        min_size=1,
        max_size=80,
    ),
    st.one_of(st.none(), st.integers(1, 10)),
)
def test_series_of_any_packets_adds_up(
    packets: list[tuple[int, int, int, int, bool]], per_packets: int | None
) -> None:
    """Any packets: rows cover every packet, losses add up to expected - received over the
    last sequence number seen (tshark's Lost), and jitter peaks at the stream's maximum."""
    packets.sort(key=lambda p: p[0])
    columns = list(zip(*packets, strict=True))
    arrays = [np.array(c, dtype=np.int64) for c in columns[:4]]
    pts = arrays[3]
    data = StreamPackets(
        frame=np.arange(1, len(packets) + 1, dtype=np.int64),
        arrival_ns=arrays[0],
        seq=arrays[1],
        ts=arrays[2],
        pt=pts,
        marker=np.array(columns[4], dtype=bool),
        size=np.full(len(packets), 172, dtype=np.int64),
        clock_hz=np.where(pts == 101, 0, 8000).astype(np.int64),
    )
    rows = stream_series(data, 0, per_packets=per_packets)
    assert sum(r.packets for r in rows) == len(packets)
    # tshark's lost: last extended sequence number - first + 1 - received, the unwrapping
    # written here (not the module's extend_sequence): each step taken as the nearest of
    # +-32768 (RFC 3550 A.1's wrap rule).
    first = last = int(arrays[1][0])
    for seq in arrays[1][1:].tolist():
        last += ((seq - last + 0x8000) & 0xFFFF) - 0x8000
    assert sum(r.lost for r in rows) == last - first + 1 - len(packets)
    stats = StreamStats()
    for i in range(len(packets)):
        stats.add(
            i + 1,
            arrays[0][i] / 1e6,
            int(arrays[1][i]),
            int(arrays[2][i]),
            int(pts[i]),
            bool(columns[4][i]),
            int(data.clock_hz[i]),
        )
    peaks = [r.max_jitter_ms for r in rows if r.max_jitter_ms is not None]
    assert (max(peaks) if peaks else 0.0) == pytest.approx(stats.summary().max_jitter_ms)
