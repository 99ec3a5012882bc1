"""Opus out of RTP: Ogg Opus files that opus-tools accept, and the call's full timeline kept
through a sequence wrap and two loss bursts (made here from the real capture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtcscope.cli import main
from tests.conftest import DATA
from tests.media.reference import (
    correlation,
    gap_free_segments,
    pyav_decode_each,
    read_wav,
    tshark_rtp,
)
from tests.peers import run

OPUS_CAPTURE = DATA / "sip-rtp-opus.pcap"
OPUS_SSRC = 0x043EEE04
FRAME = 960  # 20 ms at 48 kHz, every packet of the capture


def extract(capture: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    capsys.readouterr()
    code = main(
        [
            "extract",
            str(capture),
            "--ssrc",
            f"0x{OPUS_SSRC:08X}",
            "-o",
            str(out),
            "--format",
            "json",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [result] = json.loads(captured.out)
    return result


def opusinfo_clean(path: Path) -> str:
    proc = run("opusinfo", [path])
    text = proc.stdout + proc.stderr
    assert "WARNING" not in text and "ERROR" not in text, text
    return text


def opusdec(path: Path, tmp: Path) -> np.ndarray:
    wav = tmp / (path.stem + "-opusdec.wav")
    run("opusdec", ["--quiet", path, wav])
    rate, channels, pcm = read_wav(wav)
    assert rate == 48000 and channels == 1
    return pcm[:, 0]


def check_segments(pcm: np.ndarray, rows: list, first_ts: int) -> int:
    """Each gap-free run of packets, decoded one by one by a fresh libopus, sounds the same
    at its RTP timestamp in ``pcm``; returns how many packets were compared."""
    checked = 0
    for segment in gap_free_segments(rows, FRAME):
        if len(segment) < 10:
            continue
        ref = pyav_decode_each("libopus", [r.payload for r in segment], 48000)
        start = (segment[0].timestamp - first_ts) % (1 << 32)
        assert correlation(pcm[start : start + len(ref)], ref) > 0.99, segment[0].seq
        checked += len(segment)
    return checked


@pytest.mark.peer
def test_sip_rtp_opus_to_ogg_accepted_by_opus_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "call.opus"
    result = extract(OPUS_CAPTURE, out, capsys)
    assert result["channels"] == 1  # from the TOC; the SDP says opus/48000/2
    info = opusinfo_clean(out)
    assert "Channels: 1" in info
    assert "Playback length: 0m:08.500s" in info
    pcm = opusdec(out, tmp_path)
    assert len(pcm) == 425 * FRAME  # the full 8.5 s
    rows = [r for r in tshark_rtp(OPUS_CAPTURE, OPUS_SSRC) if r.payload_type == 99]
    ref = pyav_decode_each("libopus", [r.payload for r in rows], 48000)
    assert correlation(pcm, ref) > 0.99


def rewrite_sequence_numbers(src: Path, dst: Path, first_seq: int) -> None:
    """Renumber the Opus stream's RTP sequence numbers from ``first_seq`` (mod 2^16), so it
    wraps where the test wants; the UDP checksum is cleared (0 = none, RFC 768)."""
    from scapy.all import UDP, rdpcap, wrpcap

    frames = rdpcap(str(src))
    offset = None
    for frame in frames:
        if UDP not in frame or frame[UDP].sport != 24196:
            continue
        raw = bytearray(bytes(frame[UDP].payload))
        if len(raw) < 12 or raw[0] >> 6 != 2 or raw[1] & 0x7F != 99:
            continue  # not the Opus RTP packets
        seq = int.from_bytes(raw[2:4], "big")
        if offset is None:
            offset = first_seq - seq
        raw[2:4] = ((seq + offset) % 65536).to_bytes(2, "big")
        frame[UDP].remove_payload()
        frame[UDP].add_payload(bytes(raw))
        frame[UDP].chksum = 0
    wrpcap(str(dst), frames)


@pytest.mark.peer
def test_wrap_and_two_loss_bursts_keep_every_packet_and_the_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrapped = tmp_path / "wrapped.pcap"
    rewrite_sequence_numbers(OPUS_CAPTURE, wrapped, first_seq=65536 - 200)  # wraps at packet 200
    rows = [r for r in tshark_rtp(wrapped, OPUS_SSRC) if r.payload_type == 99]
    assert [r.seq for r in rows[198:202]] == [65534, 65535, 0, 1]  # tshark sees the wrap
    # Two loss bursts, one before and one after the wrap, removed by editcap.
    before, after = rows[100:105], rows[250:262]
    lossy = tmp_path / "lossy.pcap"
    run("editcap", [wrapped, lossy, *[str(r.frame) for r in before + after]])
    kept = [r for r in tshark_rtp(lossy, OPUS_SSRC) if r.payload_type == 99]
    assert len(kept) == 425 - 17

    wav = tmp_path / "lossy.wav"
    result = extract(lossy, wav, capsys, "--report")
    report = result["reports"][0]
    assert report["audio_packets"] == 425 - 17  # every packet after the wrap is kept
    assert report["seq_wraps"] == 1 and report["lost"] == 17
    gaps = [(g["start_s"], g["length_s"], g["kind"], g["lost_packets"]) for g in report["gaps"]]
    assert gaps == [(2.0, 0.1, "loss", 5), (5.0, 0.24, "loss", 12)]
    rate, _, pcm = read_wav(wav)
    assert rate == 48000 and len(pcm) == 425 * FRAME  # the full 8.5 s
    assert check_segments(pcm[:, 0], kept, kept[0].timestamp) == len(kept)
    assert np.abs(pcm[int(2.0 * 48000) : int(2.0 * 48000) + 480, 0]).max() > 0  # concealed

    ogg = tmp_path / "lossy.opus"
    extract(lossy, ogg, capsys)
    info = opusinfo_clean(ogg)
    assert "Playback length: 0m:08.500s" in info
    decoded = opusdec(ogg, tmp_path)
    assert len(decoded) == 425 * FRAME
    assert check_segments(decoded, kept, kept[0].timestamp) == len(kept)
