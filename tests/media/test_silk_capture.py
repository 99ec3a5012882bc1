"""SILK over RTP, end to end. No public capture of clear-text SILK over RTP is known to us, so
the test makes one: speech-like audio from sox, encoded with silk-python (``tencent=False``,
the SDK's plain ``#!SILK_V3`` file), one SILK packet (20 ms) per RTP packet, sent over
loopback UDP in 127.0.40.0/24 while tcpdump captures (taken again once if the kernel dropped
a packet: tests/live_capture.py). ``rtcscope extract`` must give back the
encoder's bitstream byte for byte, and WAV at 8, 16 and 24 kHz of the right duration that
sounds like silk-python's own decode of the encoder's file."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from rtcscope.cli import main
from rtcscope.media.silk import decode_bitstream
from tests.live_capture import capture_while
from tests.media.reference import correlation, read_wav
from tests.peers import run

SENDER = "127.0.40.1"
RECEIVER = "127.0.40.2"
RATES = (8000, 16000, 24000)
SECONDS = 2


def speech_like(rate: int, tmp: Path) -> bytes:
    """Two seconds of voiced-sounding audio: a gliding harmonic tone and band-limited noise,
    syllable-rate tremolo (sox)."""
    out = tmp / f"speech-{rate}.raw"
    run(
        "sox",
        [
            "-n", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", out,
            "synth", str(SECONDS), "sawtooth", "110-180", "pinknoise", "remix", "-",
            "lowpass", "3000", "tremolo", "4", "90", "gain", "-n", "-6",
        ],
    )  # fmt: skip
    return out.read_bytes()


def silk_encode(pcm: bytes, rate: int) -> bytes:
    import pysilk

    out = io.BytesIO()
    pysilk.encode(io.BytesIO(pcm), out, rate, 20000, max_internal_sample_rate=rate, tencent=False)
    return out.getvalue()


def rtp(seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


@pytest.fixture(scope="module")
def silk_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, bytes]]:
    tmp = tmp_path_factory.mktemp("silk")
    bitstreams = {rate: silk_encode(speech_like(rate, tmp), rate) for rate in RATES}

    def send(_here: Path) -> None:
        with contextlib.ExitStack() as sockets:
            sender = sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            sender.bind((SENDER, 0))
            for index, rate in enumerate(RATES):
                receiver = sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                receiver.bind((RECEIVER, 40100 + 2 * index))  # even ports, as RTP uses
                packets, tencent = decode_bitstream(bitstreams[rate])
                assert not tencent and len(packets) == SECONDS * 50
                for n, payload in enumerate(packets):  # 20 ms per packet: rate / 50 ticks
                    sender.sendto(
                        rtp(1000 + n, 5000 + n * rate // 50, 0x51C0 + rate, payload),
                        (RECEIVER, 40100 + 2 * index),
                    )
                    time.sleep(0.0005)

    capture = capture_while(tmp, "silk.pcap", send, ["udp", "and", "net", "127.0.40.0/24"], 0.5)
    return capture, bitstreams


def extract(
    capture: Path, rate: int, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict:
    capsys.readouterr()
    code = main(
        ["extract", str(capture), "--ssrc", hex(0x51C0 + rate), "--pt", "96",
         "--codec", f"SILK/{rate}", "-o", str(out), "--format", "json", *extra]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [result] = json.loads(captured.out)
    return result


@pytest.mark.peer
@pytest.mark.parametrize("rate", RATES)
def test_silk_bitstream_is_the_encoders_and_wav_has_the_duration(
    rate: int,
    silk_capture: tuple[Path, dict[int, bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pysilk

    capture, bitstreams = silk_capture
    bit = tmp_path / "out.bit"
    extract(capture, rate, bit, capsys)
    assert bit.read_bytes() == bitstreams[rate]

    tencent = tmp_path / "out.silk"
    extract(capture, rate, tencent, capsys, "--tencent")
    assert tencent.read_bytes() == b"\x02" + bitstreams[rate]

    wav = tmp_path / "out.wav"
    result = extract(capture, rate, wav, capsys)
    wav_rate, channels, pcm = read_wav(wav)
    assert (wav_rate, channels) == (rate, 1)
    assert len(pcm) == SECONDS * rate  # 100 packets of 20 ms
    assert result["duration_s"] == SECONDS
    reference = io.BytesIO()
    pysilk.decode(io.BytesIO(bitstreams[rate]), reference, rate)
    ref = np.frombuffer(reference.getvalue(), dtype="<i2")
    assert np.abs(ref).max() > 1000  # not silence
    assert correlation(pcm[:, 0], ref) > 0.99
