"""bench/extract: a 1-hour Opus RTP stream (in a capture made here) to WAV with
``rtcscope extract``, beside ``opusdec`` decoding the equivalent Ogg Opus file, same run.

The capture: 20 s of speech-like audio (sox) encoded once with libopus (PyAV), its packets
repeated with running sequence numbers and timestamps to one hour (180,000 RTP packets of
20 ms) in a pcap with no signalling, so the stream is found by the heuristic and named with
``--pt 111 --codec opus/48000/2``. The Ogg file holds the same packets (``extract -o .opus``);
opusdec writes a WAV at 48 kHz like ours. Target: rtcscope not slower than opusdec.

Run: ``.venv/bin/python bench/extract/run.py [--minutes 60] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.peers import rtcscope_cli, run  # noqa: E402

SRC, SPORT, DST, DPORT, SSRC, PT = "127.0.40.1", 40000, "127.0.40.2", 40002, 0x0B3C0001, 111
FRAME = 960  # 20 ms at 48 kHz


def speech_like(path: Path, seconds: int) -> bytes:
    run(
        "sox",
        [
            "-n", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed", path,
            "synth", str(seconds), "sawtooth", "110-180", "pinknoise", "remix", "-",
            "lowpass", "3400", "tremolo", "4", "90", "gain", "-n", "-6",
        ],
    )  # fmt: skip
    return path.read_bytes()


def opus_packets(pcm: bytes) -> list[bytes]:
    import av
    import numpy as np

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32000
    encoder.open()
    samples = np.frombuffer(pcm, dtype="<i2")
    packets: list[bytes] = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(
            samples[start : start + FRAME].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = start
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


def udp_frame(payload: bytes) -> bytes:
    """Ethernet + IPv4 (checksummed) + UDP (checksum 0: none, RFC 768) around ``payload``."""
    length = 8 + len(payload)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 64, 17, 0,
        bytes(map(int, SRC.split("."))), bytes(map(int, DST.split("."))),
    )  # fmt: skip
    words = sum(struct.unpack("!10H", ip))
    while words >> 16:
        words = (words & 0xFFFF) + (words >> 16)
    ip = ip[:10] + struct.pack("!H", ~words & 0xFFFF) + ip[12:]
    ether = bytes.fromhex("0200000000020200000000010800")
    return ether + ip + struct.pack("!HHHH", SPORT, DPORT, length, 0) + payload


def write_capture(path: Path, packets: list[bytes], total: int) -> None:
    """pcap (LINKTYPE_ETHERNET, microseconds): RTP every 20 ms of capture time."""
    start_us = 1_700_000_000 * 1_000_000
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n in range(total):
            payload = packets[n % len(packets)]
            rtp = struct.pack("!BBHII", 0x80, PT, n & 0xFFFF, (n * FRAME) & 0xFFFFFFFF, SSRC)
            frame = udp_frame(rtp + payload)
            us = start_us + n * 20_000
            out.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            out.write(frame)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def first_minute_correlation(a: Path, b: Path) -> float:
    """Both decodes should be the same audio (opusdec skips the 80 ms pre-skip filler)."""
    import numpy as np

    signals = []
    for path in (a, b):
        with wave.open(str(path), "rb") as wav:
            signals.append(np.frombuffer(wav.readframes(48000 * 60), dtype="<i2").astype(float))
    x, y = (s - s.mean() for s in signals)
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


def timed(label: str, action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.2f} s", flush=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--keep", type=Path, help="keep the files in this directory")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-extract-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return bench(workdir, int(args.minutes * 60 * 50))
    finally:
        if args.keep is None:  # two 1-hour WAVs are 700 MB
            shutil.rmtree(workdir, ignore_errors=True)


def bench(workdir: Path, total: int) -> int:
    packets = opus_packets(speech_like(workdir / "speech.raw", 20))
    capture = workdir / "opus-1h.pcap"
    write_capture(capture, packets, total)
    print(f"capture: {capture} ({capture.stat().st_size / 1e6:.1f} MB, {total} RTP packets, "
          f"{total * 0.02 / 60:.1f} min of Opus)")  # fmt: skip

    common = ["--pt", str(PT), "--codec", "opus/48000/2"]
    ogg = workdir / "opus-1h.opus"
    proc = rtcscope_cli(["extract", capture, *common, "-o", ogg], timeout=1800, check=True)
    print(proc.stdout.strip())

    ours_wav = workdir / "rtcscope.wav"
    theirs_wav = workdir / "opusdec.wav"
    ours = timed(
        "rtcscope extract capture -> WAV",
        lambda: rtcscope_cli(
            ["extract", capture, *common, "-o", ours_wav], timeout=1800, check=True
        ),
    )
    theirs = timed(
        "opusdec Ogg -> WAV",
        lambda: run("opusdec", ["--quiet", ogg, theirs_wav], timeout=1800),
    )
    print(f"{'WAV durations (rtcscope / opusdec)':<44} {wav_seconds(ours_wav):8.2f} s / "
          f"{wav_seconds(theirs_wav):.2f} s")  # fmt: skip
    print(f"{'first minute, correlation of the two WAVs':<44} "
          f"{first_minute_correlation(ours_wav, theirs_wav):8.4f}")  # fmt: skip
    print(f"{'ratio rtcscope / opusdec (target <= 1.0)':<44} {ours / theirs:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
