"""``analyze -o``: the audio section's read of the streams' packets also gives the report its
per-packet arrays (one read of those packets, not two), and the arrays are the packets
tshark sees in each stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtcscope.analyses import audio
from rtcscope.analyses.section import AnalyzeOptions
from rtcscope.report.data import stream_arrays
from rtcscope.rtp.series import StreamPackets
from rtcscope.scan import ScanOptions, scan
from tests.conftest import DATA, count_offset_reads
from tests.peers import tshark_fields

DTMF = DATA / "SIP_DTMF2.pcap"


def _same(a: StreamPackets, b: StreamPackets) -> bool:
    return all(
        np.array_equal(getattr(a, name), getattr(b, name)) for name in StreamPackets.__slots__
    )


def test_the_audio_read_gives_the_report_its_arrays_when_the_report_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = scan(DTMF, ScanOptions(offsets=True))
    streams = model.streams
    assert len(streams) >= 2
    reads = count_offset_reads(monkeypatch)
    (tmp_path / "alone").mkdir()
    alone = audio.section(model, AnalyzeOptions(out_dir=tmp_path / "alone"))
    assert len(alone.files) == len(streams) and len(reads) == 1
    assert model.stream_arrays == {}  # no report to come: nothing kept
    section = audio.section(model, AnalyzeOptions(out_dir=tmp_path, report_follows=True))
    assert len(section.files) == len(streams)
    assert len(reads) == 2
    assert set(model.stream_arrays) == {s.key for s in streams}
    # The report asks for every stream: nothing is read again, the same arrays serve.
    known = model.stream_arrays
    again = stream_arrays(model.payload_source or DTMF, streams, known=known)
    assert len(reads) == 2
    assert all(again[s.key] is known[s.key] for s in streams)


@pytest.mark.peer
def test_the_arrays_of_the_audio_read_are_the_packets_tshark_sees(tmp_path: Path) -> None:
    model = scan(DTMF, ScanOptions(offsets=True))
    audio.section(model, AnalyzeOptions(out_dir=tmp_path, report_follows=True))
    for stream in model.streams:
        arrays = model.stream_arrays[stream.key]
        rows = tshark_fields(
            DTMF,
            ["frame.number", "rtp.seq", "rtp.timestamp", "rtp.p_type", "rtp.marker", "udp.length"],
            f"rtp.ssrc == 0x{stream.key.ssrc:08x} && udp.srcport == {stream.key.src_port}",
            extra=["-d", f"udp.port=={stream.key.src_port},rtp"],
        )
        assert arrays.frame.tolist() == [int(r[0]) for r in rows]
        assert arrays.seq.tolist() == [int(r[1]) for r in rows]
        assert arrays.ts.tolist() == [int(r[2]) for r in rows]
        assert arrays.pt.tolist() == [int(r[3]) for r in rows]
        assert arrays.marker.tolist() == [r[4] in ("1", "True") for r in rows]
        assert arrays.size.tolist() == [int(r[5]) - 8 for r in rows]


def test_streams_the_audio_did_not_read_are_read_for_the_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = scan(DTMF, ScanOptions(offsets=True))
    streams = model.streams
    fresh = stream_arrays(model.payload_source or DTMF, streams)
    reads = count_offset_reads(monkeypatch)
    first = streams[0]
    mixed = stream_arrays(
        model.payload_source or DTMF, streams, known={first.key: fresh[first.key]}
    )
    # One read, of the other streams' packets only.
    assert len(reads) == 1
    assert reads[0] < sum(len(a.frame) for a in fresh.values())
    assert mixed[first.key] is fresh[first.key]
    assert all(_same(mixed[s.key], fresh[s.key]) for s in streams)
    assert list(mixed) == [s.key for s in streams]
