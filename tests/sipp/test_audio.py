"""``rtcscope sipp audio``: raw A-law against FFmpeg (byte for byte) and sox (one step),
sipp's rtp_stream playing our .al, and the RTP pcap (--to-pcap) as tshark reads it."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from rtcscope.cli import main
from tests import peers
from tests.sipp.live import capture_while, wait_until_bound

pytestmark = pytest.mark.peer


def _wav(path: Path, seconds: float = 1.0) -> Path:
    """8 kHz mono 16-bit speech-like audio (a chord plus noise), made by sox."""
    peers.run(
        "sox",
        [
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            path,
            "synth",
            str(seconds),
            "sine",
            "300",
            "sine",
            "1250",
            "whitenoise",
            "remix",
            "-",
            "vol",
            "0.6",
        ],
    )
    return path


def _alaw_rank(code: int) -> int:
    """Position of an A-law code on the quantiser's scale (ITU-T G.711: even bits inverted,
    sign bit set for positive), so neighbouring steps differ by one."""
    value = code ^ 0x55
    magnitude = value & 0x7F
    return magnitude if value & 0x80 else -magnitude - 1


def test_alaw_equals_ffmpeg_and_is_within_one_step_of_sox(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "in.wav")
    ours = tmp_path / "ours.al"
    assert main(["sipp", "audio", str(wav), "-o", str(ours)]) == 0
    ffmpeg = tmp_path / "ffmpeg.al"
    peers.run("ffmpeg", ["-loglevel", "error", "-y", "-i", wav, "-f", "alaw", ffmpeg])
    assert ours.read_bytes() == ffmpeg.read_bytes()
    sox = tmp_path / "sox.al"
    peers.run("sox", [wav, "-D", "-e", "a-law", "-t", "raw", sox])
    a, b = ours.read_bytes(), sox.read_bytes()
    assert len(a) == len(b) == 8000
    assert max(abs(_alaw_rank(x) - _alaw_rank(y)) for x, y in zip(a, b, strict=True)) <= 1


def test_ulaw_and_loop_padding(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "in.wav", seconds=0.51)  # 4080 samples: not whole 20 ms packets
    ours = tmp_path / "ours.ul"
    assert main(["sipp", "audio", str(wav), "-o", str(ours), "--loop"]) == 0
    ffmpeg = tmp_path / "ffmpeg.ul"
    peers.run("ffmpeg", ["-loglevel", "error", "-y", "-i", wav, "-f", "mulaw", ffmpeg])
    data = ours.read_bytes()
    assert len(data) == 4160
    assert data[:4080] == ffmpeg.read_bytes()
    assert data[4080:] == b"\xff" * 80  # u-law's zero


def test_a_wav_named_as_raw_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    misnamed = tmp_path / "prompt.al"
    misnamed.write_bytes(_wav(tmp_path / "in.wav", 0.2).read_bytes())
    assert main(["sipp", "audio", str(misnamed), "-o", str(tmp_path / "fixed.al")]) == 0
    out = capsys.readouterr().out
    assert "is a WAV file (RIFF/WAVE header), not raw alaw" in out
    assert not (tmp_path / "fixed.al").read_bytes().startswith(b"RIFF")


def test_sipp_rtp_stream_plays_our_alaw(tmp_path: Path) -> None:
    """sipp's built-in UAS answers; a UAC scenario plays our .al with rtp_stream="x.al,1,8":
    the RTP payloads tshark sees concatenate to the file."""
    wav = _wav(tmp_path / "in.wav", seconds=0.6)
    alaw = tmp_path / "x.al"
    assert main(["sipp", "audio", str(wav), "-o", str(alaw)]) == 0
    scenario = tmp_path / "stream.xml"
    scenario.write_text(
        (Path(__file__).parent / "rtp_stream_uac.xml").read_text().replace("@FILE@", str(alaw))
    )
    uas_ip, uac_ip = "127.0.60.40", "127.0.60.41"
    common = ["-m", "1", "-t", "u1", "-nostdin", "-timeout", "15s", "-timeout_error"]

    def body(here: Path) -> None:
        uas_args = ["-sn", "uas", "-i", uas_ip, "-p", "5240", "-mi", uas_ip, "-mp", "6240"]
        with peers.background("sipp", uas_args + common, here / "uas.log", 20, cwd=here):
            wait_until_bound(uas_ip, 5240)
            uac = ["-sf", scenario, "-i", uac_ip, "-p", "5241", "-mi", uac_ip, "-mp", "6242"]
            done = peers.run("sipp", [*uac, *common, f"{uas_ip}:5240"], timeout=20, check=False)
            assert done.returncode == 0, done.stdout[-2000:]

    live = capture_while(tmp_path, "live.pcap", body)
    rows = peers.tshark_fields(
        live,
        ["rtp.p_type", "rtp.payload"],
        f"ip.src == {uac_ip} && rtp",
        ["-d", "udp.port==6242,rtp"],
    )
    payloads = [bytes.fromhex(row[1]) for row in rows if row[1]]
    assert {row[0] for row in rows} == {"8"}
    assert not payloads[0].startswith(b"RIFF")
    assert b"".join(payloads) == alaw.read_bytes()


def test_to_pcap_with_digits_as_tshark_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = _wav(tmp_path / "in.wav", seconds=1.0)
    pcap = tmp_path / "out.pcap"
    argv = f"sipp audio {wav} --to-pcap {pcap} --codec pcma --ssrc 0x11223344 --seq 65530"
    argv += " --timestamp 4294967000 --dtmf 5#@0.4s"
    assert main(shlex.split(argv)) == 0
    rows = peers.tshark_fields(
        pcap,
        [
            "frame.time_relative",
            "rtp.ssrc",
            "rtp.seq",
            "rtp.timestamp",
            "rtp.p_type",
            "rtp.marker",
            "rtpevent.event_id",
            "rtpevent.end_of_event",
            "rtp.payload",
        ],
        "rtp",
        ["-d", "udp.port==40002,rtp", "-o", "rtpevent.event_payload_type_value:101"],
    )
    assert {row[1] for row in rows} == {"0x11223344"}
    seqs = [int(row[2]) for row in rows]
    assert seqs[:7] == [65530, 65531, 65532, 65533, 65534, 65535, 0]  # wraps (RFC 3550)
    audio = [row for row in rows if row[4] == "8"]
    events = [row for row in rows if row[4] == "101"]
    assert [int(r[3]) for r in audio[:3]] == [4294967000, 4294967160, 24]  # wraps too
    assert audio[0][5] == "1" and all(r[5] == "0" for r in audio[1:])
    # Digits 5 then # (RFC 4733 events 5 and 11), 100 ms each, the end sent three times.
    assert [r[6] for r in events] == ["5"] * 7 + ["11"] * 7
    assert [r[5] for r in events][:2] == ["1", "0"]
    assert sum(r[7] == "1" for r in events) == 6
    assert float(events[0][0]) == pytest.approx(0.4, abs=1e-6)
    # The audio payloads are FFmpeg's A-law of the WAV, 160 bytes per 20 ms.
    ffmpeg = tmp_path / "ffmpeg.al"
    peers.run("ffmpeg", ["-loglevel", "error", "-y", "-i", wav, "-f", "alaw", ffmpeg])
    expected = ffmpeg.read_bytes()
    slots = [round(float(r[0]) * 50) for r in audio]
    assert all(
        bytes.fromhex(r[8]) == expected[160 * s : 160 * s + 160]
        for r, s in zip(audio, slots, strict=False)
    )
    assert len(audio) + 2 * 5 == 50


def _wav16(path: Path) -> Path:
    peers.run(
        "sox",
        [
            *("-n", "-r", "16000", "-c", "1", "-b", "16", path, "synth", "1.0"),
            *("sine", "300", "sine", "3000", "whitenoise", "remix", "-", "vol", "0.5"),
        ],
    )
    return path


def test_g722_pcap_payloads_equal_ffmpegs_g722(tmp_path: Path) -> None:
    wav = _wav16(tmp_path / "in16.wav")
    pcap = tmp_path / "g722.pcap"
    assert main(["sipp", "audio", str(wav), "--to-pcap", str(pcap), "--codec", "g722"]) == 0
    rows = peers.tshark_fields(
        pcap, ["rtp.p_type", "rtp.timestamp", "rtp.payload"], "rtp", ["-d", "udp.port==40002,rtp"]
    )
    assert {row[0] for row in rows} == {"9"}
    # RFC 3551 4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
    assert [int(row[1]) for row in rows] == [160 * i for i in range(50)]
    ffmpeg = tmp_path / "ffmpeg.g722"
    peers.run("ffmpeg", ["-loglevel", "error", "-y", "-i", wav, "-f", "g722", ffmpeg])
    assert b"".join(bytes.fromhex(row[2]) for row in rows) == ffmpeg.read_bytes()


def test_opus_pcap_has_20_ms_packets_opusdec_decodes(tmp_path: Path) -> None:
    wav = _wav16(tmp_path / "in16.wav")
    pcap = tmp_path / "opus.pcap"
    assert main(["sipp", "audio", str(wav), "--to-pcap", str(pcap), "--codec", "opus"]) == 0
    rows = peers.tshark_fields(
        pcap, ["rtp.timestamp", "rtp.payload"], "rtp", ["-d", "udp.port==40002,rtp"]
    )
    assert [int(row[0]) for row in rows] == [960 * i for i in range(len(rows))]
    for row in rows:
        toc = bytes.fromhex(row[1])[0]
        config = toc >> 3  # RFC 6716 3.1: 20 ms is config 1/5/9 (SILK), 13/15, 19/23/27/31
        assert config in {1, 5, 9, 13, 15, 19, 23, 27, 31} and toc & 3 == 0
    ogg = tmp_path / "opus.opus"
    extract = ["extract", str(pcap), "--pt", "111", "--codec", "opus/48000/2", "-o", str(ogg)]
    assert main(extract) == 0
    decoded = tmp_path / "decoded.wav"
    peers.run("opusdec", ["--quiet", ogg, decoded])
    info = peers.run("soxi", ["-D", decoded]).stdout
    assert abs(float(info) - 1.0) < 0.05
