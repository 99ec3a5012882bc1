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
