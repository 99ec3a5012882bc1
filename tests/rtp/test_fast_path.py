"""The fast path (NumPy over record batches) finds exactly what the per-packet path finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.rtp.streams import rtcp_record_to_dict, scan_capture, stream_to_dict
from tests.conftest import DATA, shared_captures


def _everything(path: Path, fast: bool) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    result = scan_capture(path, with_rtcp=True, with_dtmf=True, fast=fast)
    first = result.first_ns or 0
    return (
        [stream_to_dict(s) for s in result.streams],
        [rtcp_record_to_dict(r, first) for r in result.rtcp_packets],
    )


@pytest.mark.parametrize(
    "path",
    shared_captures() or sorted(DATA.glob("*.pcap")),
    ids=lambda p: p.name,
)
def test_fast_and_per_packet_paths_agree(path: Path) -> None:
    assert _everything(path, fast=True) == _everything(path, fast=False)


def test_rtp_port_forcing_agrees(tmp_path: Path) -> None:
    for path in shared_captures() or []:
        if path.name == "sipp-dtmf_2833_1.pcap":
            fast = scan_capture(path, rtp_ports=[10000], heuristic=False, with_dtmf=True)
            slow = scan_capture(
                path, rtp_ports=[10000], heuristic=False, with_dtmf=True, fast=False
            )
            assert [stream_to_dict(s) for s in fast.streams] == [
                stream_to_dict(s) for s in slow.streams
            ]
            assert [s.source for s in fast.streams] == ["forced"]
