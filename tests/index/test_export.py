"""``rtcscope query ... --export DIR``: one pcap per call, holding what tshark, on the
original file, says belongs to the call (its SIP by Call-ID, its RTP by SSRC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtcscope.cli import main
from rtcscope.index.build import build_index
from rtcscope.index.query import run_query
from tests.conftest import DATA
from tests.index.generate import concatenate_copies
from tests.peers import tshark_fields


def tshark_call_frames(capture: Path, call_id: str, ssrcs: list[int]) -> list[str]:
    """Times of the frames tshark puts in the call: its SIP, its streams' RTP."""
    rtp = " || ".join(f"rtp.ssrc == 0x{s:08x}" for s in ssrcs)
    display = f'sip.Call-ID == "{call_id}"' + (f" || ({rtp})" if rtp else "")
    return [row[0] for row in tshark_fields(capture, ["frame.time_epoch"], display)]


@pytest.mark.peer
def test_each_exported_call_holds_its_sip_and_rtp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 32 copies of a one-call capture in one file of several MiB: the last calls lie past
    # the first read checkpoint, so their export starts reading in the middle of the file.
    big = concatenate_copies(DATA / "sip-rtp-speex.pcap", 32, tmp_path / "big.pcap", 10**9)
    index = tmp_path / "index"
    # and a gzip capture, which has no checkpoints: read from its start
    build_index([big, DATA / "aaa.pcap", DATA / "testbed-no-loose-route.pcap.gz"], index, jobs=1)
    marks = run_query(index, "SELECT capture, checkpoint_frames FROM captures").rows
    assert any(len(m["checkpoint_frames"]) > 1 for m in marks)

    sql = (
        "SELECT capture, call_index, call_id FROM calls WHERE call_index IN (1, 2, 31, 32) "
        "AND kind = 'INVITE' ORDER BY capture, call_index"
    )
    out = tmp_path / "out"
    assert main(["query", str(index), sql, "--export", str(out), "--format", "json"]) == 0
    written = json.loads(capsys.readouterr().out)
    chosen = run_query(index, sql).rows
    assert len(written) == len(chosen) >= 6
    assert any(c["capture"].endswith(".gz") for c in chosen)
    for call, item in zip(chosen, written, strict=True):
        capture = Path(call["capture"])
        streams = run_query(
            index,
            f"SELECT ssrc FROM streams WHERE capture = '{capture}' "
            f"AND call_index = {call['call_index']}",
        ).rows
        expected = tshark_call_frames(capture, call["call_id"], [s["ssrc"] for s in streams])
        exported = [row[0] for row in tshark_fields(item["file"], ["frame.time_epoch"])]
        assert exported == expected, item["file"]
        assert item["packets"] == len(expected) > 0
