"""``analyze -o``'s audio is written a group of streams at a time (at most READ_BUDGET packets
held): the same WAVs as one read of every stream, one more read (by offsets) per group."""

from __future__ import annotations

from pathlib import Path

import pytest

import rtcscope.analyses.audio as audio
import rtcscope.capture.flowread as flowread
from rtcscope.cli import main
from tests.conftest import DATA, count_capture_opens, count_offset_reads

DTMF = DATA / "SIP_DTMF2.pcap"  # two streams of ~665 packets


def _run(out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bytes]:
    assert main(["analyze", str(DTMF), "-o", str(out), "--quiet", "--only", "audio"]) == 0
    capsys.readouterr()
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.wav"))}


def test_streams_in_groups_give_the_same_audio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _run(tmp_path / "whole", capsys)
    assert len(whole) == 2
    opens = count_capture_opens(monkeypatch, flowread)
    reads = count_offset_reads(monkeypatch)
    monkeypatch.setattr(audio, "READ_BUDGET", 100)  # each stream a group of its own
    assert _run(tmp_path / "grouped", capsys) == whole
    assert len(reads) == 2 and opens == []  # a read by offsets per group, no file scan
    # each read gives its stream's ~665 records and the SIP ones (not plain RTP of others)
    assert all(600 < count < 1000 for count in reads)
