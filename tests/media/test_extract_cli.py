"""``rtcscope extract`` and the ``audio`` analysis as a user runs them: selection, every output
kind, --mix stereo, --rate/--channels, --report, refusals with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtcscope.cli import main
from tests.conftest import DATA, shared_capture
from tests.media.reference import correlation, read_wav, tshark_rtp
from tests.peers import rtcscope_cli, run, tshark_fields

DTMF2_CALL = "25672@192.168.105.110"  # the answered call (tshark: sip.Call-ID)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.peer
def test_raw_is_the_payloads_tshark_sees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = shared_capture("sipp-g711a.pcap")
    out = tmp_path / "a.raw"
    code, _, err = cli(capsys, "extract", capture, "--stream", "1", "-o", out)
    assert code == 0, err
    rows = tshark_rtp(capture, heuristic=True)
    assert out.read_bytes() == b"".join(r.payload for r in rows)


@pytest.mark.peer
def test_pcap_holds_the_stream_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    out = tmp_path / "one.pcap"
    code, _, err = cli(capsys, "extract", capture, "--ssrc", "0x9A7B5382", "-o", out)
    assert code == 0, err
    fields = ["rtp.seq", "rtp.timestamp", "rtp.payload", "frame.time_epoch"]
    ours = tshark_fields(out, fields, "udp", extra=["-d", "udp.port==4374,rtp"])
    original = tshark_fields(capture, fields, "rtp.ssrc == 0x9a7b5382")
    assert ours == original and len(ours) == 665
    assert "Ethernet" in run("capinfos", ["-E", out]).stdout


@pytest.mark.peer
def test_call_gives_one_wav_per_stream_and_mix_aligns_them_by_capture_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    code, out, err = cli(
        capsys,
        "extract",
        capture,
        "--call",
        DTMF2_CALL,
        "-o",
        tmp_path / "legs",
        "--format",
        "json",
    )
    assert code == 0, err
    legs = {r["streams"][0]["ssrc"]: Path(r["file"]) for r in json.loads(out)}
    assert set(legs) == {0x9A7B5382, 0x5711BF84}

    mix = tmp_path / "mix.wav"
    code, _, err = cli(
        capsys, "extract", capture, "--call", DTMF2_CALL, "--mix", "stereo", "-o", mix
    )
    assert code == 0, err
    rate, channels, stereo = read_wav(mix)
    assert (rate, channels) == (8000, 2)
    # Each channel is its leg, starting where tshark says the leg's first packet was captured.
    firsts = {
        ssrc: min(r.time_ns for r in tshark_rtp(capture, ssrc)) for ssrc in (0x9A7B5382, 0x5711BF84)
    }
    origin = min(firsts.values())
    order = [0x9A7B5382, 0x5711BF84]  # as `rtcscope streams` lists them
    for channel, ssrc in enumerate(order):
        _, _, leg = read_wav(legs[ssrc])
        offset = round((firsts[ssrc] - origin) * 8000 / 1e9)
        placed = stereo[offset : offset + len(leg), channel]
        assert np.array_equal(placed, leg[:, 0])
        assert not np.any(stereo[:offset, channel])


@pytest.mark.peer
def test_rate_and_channels_resample_like_ffmpeg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = DATA / "sip-rtp-g722.pcap"
    native, wide = tmp_path / "native.wav", tmp_path / "wide.wav"
    assert cli(capsys, "extract", capture, "-o", native)[0] == 0
    code, _, err = cli(capsys, "extract", capture, "-o", wide, "--rate", "48000", "--channels", "2")
    assert code == 0, err
    rate, channels, ours = read_wav(wide)
    assert (rate, channels) == (48000, 2) and len(ours) == 48000 * 8.5
    ref_path = tmp_path / "ffmpeg.wav"
    run(
        "ffmpeg",
        ["-hide_banner", "-loglevel", "error", "-i", native, "-ar", "48000", "-ac", "2", ref_path],
    )
    _, _, ref = read_wav(ref_path)
    assert correlation(ours[:, 0], ref[:, 0]) > 0.99
    assert np.array_equal(ours[:, 0], ours[:, 1])


def test_report_lists_gaps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = cli(
        capsys,
        "extract",
        DATA / "SIP_DTMF2.pcap",
        "--ssrc",
        "0x9A7B5382",
        "-o",
        tmp_path / "x.wav",
        "--report",
    )
    assert code == 0, err
    assert "lost 2" in out
    assert out.count(": loss, 1 packets lost") == 2


def test_srtp_stream_is_refused_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = shared_capture("marseillaise-srtp.pcap")
    code, _, err = cli(capsys, "extract", capture, "-o", tmp_path / "x.wav")
    assert code == 3
    assert "stream 0xDEADBEEF looks like SRTP" in err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.wav"], "give --stream, --ssrc, --call"),
        (["--stream", "1", "-o", "x.mp3"], "cannot tell the output kind"),
        (["--stream", "1", "-o", "x.opus"], "Ogg Opus holds Opus"),
        (["--stream", "1", "--codec", "opus/48000/0", "-o", "x.wav"], "channels 1..8"),
        (["--stream", "9", "-o", "x.wav"], "the capture has 2 RTP streams"),
        (["--stream", "1", "--rate", "96000", "-o", "x.wav"], "expected 8000..48000"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "extract", DATA / "SIP_DTMF2.pcap", *args)
    assert code == 2, err
    assert message in err


def test_analyze_writes_each_streams_wav(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    proc = rtcscope_cli(["analyze", DATA / "sip-rtp-opus.pcap", "-o", out], check=True)
    wav = out / "stream-1-0x043EEE04.wav"
    assert f"wrote {wav}" in proc.stdout
    rate, channels, pcm = read_wav(wav)
    assert (rate, channels, len(pcm)) == (48000, 1, 425 * 960)
    assert np.abs(pcm).max() > 1000


def test_help_renders(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "extract", "--help")
    assert code == 0
    assert "--mix" in out and "--codec" in out and "--tencent" in out
