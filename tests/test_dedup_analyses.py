"""--dedup reaches every command that reads packets: a capture taken twice (tcprewrite adds
a VLAN tag and lowers the TTL, editcap shifts it, mergecap interleaves) gives the original's
streams, calls and findings back. The reference is tshark on the original capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtcscope.cli import main
from tests.capture.test_dedup import doubled
from tests.conftest import DATA
from tests.peers import tshark_fields


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> object:
    assert main(args) in (0, 1)
    return json.loads(capsys.readouterr().out)


@pytest.mark.peer
def test_streams_and_diagnosis_of_a_doubled_capture_with_dedup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = DATA / "SIP_DTMF2.pcap"
    twice = doubled(original, tmp_path)
    ssrcs = [row[0] for row in tshark_fields(original, ["rtp.ssrc"], "rtp")]
    expected_packets = sorted(ssrcs.count(s) for s in set(ssrcs))
    streams = _json(capsys, ["streams", str(twice), "--dedup", "--format", "json"])
    assert isinstance(streams, list)
    assert sorted(s["packets"] for s in streams) == expected_packets
    assert all(s["duplicates"] == 0 for s in streams)
    without = _json(capsys, ["streams", str(twice), "--format", "json"])
    assert isinstance(without, list)
    assert all(s["duplicates"] > 0 for s in without)  # the copies are there without --dedup

    # Frame numbers differ in the doubled file; what was found, and where, must not.
    def found(args: list[str]) -> tuple[object, ...]:
        data = _json(capsys, args)
        assert isinstance(data, dict)
        rows = [(f["severity"], f["code"], f["element"]) for f in data["findings"]]
        return data["calls"], data["errors"], data["warnings"], sorted(rows)

    assert found(["diagnose", str(twice), "--dedup", "--format", "json"]) == found(
        ["diagnose", str(original), "--format", "json"]
    )


def test_series_and_quality_of_a_doubled_capture_read_each_packet_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The steps that read the streams' packets again (series, quality) drop the copies too:
    per stream the series' packets add up to tshark's count on the original capture."""
    original = DATA / "SIP_DTMF2.pcap"
    twice = doubled(original, tmp_path)
    per_ssrc: dict[str, int] = {}
    for (ssrc,) in tshark_fields(original, ["rtp.ssrc"], "rtp"):
        key = f"0x{int(ssrc, 16):08X}"
        per_ssrc[key] = per_ssrc.get(key, 0) + 1
    rows = _json(capsys, ["streams", str(twice), "--dedup", "--series", "--format", "json", "-q"])
    summed: dict[str, int] = {}
    for row in rows:  # type: ignore[attr-defined]
        summed[row["ssrc_hex"]] = summed.get(row["ssrc_hex"], 0) + row["packets"]
        assert row["late"] == 0, row
    assert summed == per_ssrc
    quality = _json(capsys, ["calls", str(twice), "--dedup", "--quality", "--format", "json", "-q"])
    once = _json(capsys, ["calls", str(original), "--quality", "--format", "json", "-q"])
    assert [c.get("quality") for c in quality["calls"]] == [  # type: ignore[index]
        c.get("quality")
        for c in once["calls"]  # type: ignore[index]
    ]
