"""G.726 at 16, 24, 32 and 40 kbit/s in both bit packings, decoded against the source audio.

ffmpeg encodes a known sweep (its ``g726le`` encoder is the RFC 3551 packing, ``g726`` the
AAL2 one) and its RTP muxer says how it names each in an SDP; the test cuts the raw bitstream
into 20 ms RTP packets in a capture of its own (no live capture: nothing can be lost), and
rtcscope decodes them. The decoded audio must equal the ffmpeg CLI's decode of the same
bitstream sample for sample, follow the source (correlation > 0.99), and the same packets read
with the other packing must not (< 0.4).
"""

from __future__ import annotations

import re
import wave
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.media.codecs import G726_NAMES, Decoder, make_decoder, parse_codec
from rtcscope.rtp.packet import RtpPacket
from tests.peers import rtcscope_cli, run

scapy_all = pytest.importorskip("scapy.all")

RATE = 8000
SECONDS = 2
PORT = 40830
RATES_KBIT = (16, 24, 32, 40)
# ffmpeg encoder/raw muxer -> what its RTP muxer calls the packing in an rtpmap.
PACKINGS = {"g726le": "G726", "g726": "AAL2-G726"}
# A linear sweep from 200 Hz to 1800 Hz at half scale: every band a voice codec cares about.
SWEEP = "aevalsrc=0.5*sin(2*PI*(200*t+400*t*t)):s=8000:d=2"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("g726")
    wav = folder / "sweep.wav"
    run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", SWEEP, "-c:a",
                   "pcm_s16le", "-ac", "1", wav])  # fmt: skip
    with wave.open(str(wav)) as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    assert len(pcm) == RATE * SECONDS
    return wav, pcm.astype(np.float64)


def encode(wav: Path, encoder: str, kbit: int, folder: Path) -> bytes:
    raw = folder / f"sweep-{kbit}.{encoder}"
    run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", wav, "-c:a", encoder,
                   "-b:a", f"{kbit}k", "-f", encoder, raw])  # fmt: skip
    return raw.read_bytes()


def ffmpeg_decode(encoder: str, kbit: int, folder: Path) -> np.ndarray:
    """The ffmpeg CLI's own decode of the raw bitstream :func:`encode` wrote."""
    out = folder / f"decoded-{kbit}.s16"
    run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", encoder, "-code_size",
                   str(kbit // 8), "-i", folder / f"sweep-{kbit}.{encoder}", "-f", "s16le",
                   out])  # fmt: skip
    return np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.float64)


def rtpmap_name(wav: Path, encoder: str, kbit: int, folder: Path) -> str:
    """The encoding name ffmpeg's RTP muxer writes in its SDP for this encoder and rate (its
    packets go to a loopback port nobody listens on; only the SDP is kept)."""
    sdp = folder / f"{encoder}-{kbit}.sdp"
    run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-t", "0.1", "-i", wav, "-c:a",
                   encoder, "-b:a", f"{kbit}k", "-f", "rtp", "-sdp_file", sdp,
                   f"rtp://127.0.83.1:{PORT}"], timeout=30)  # fmt: skip
    found = re.search(r"a=rtpmap:\d+ ([\w-]+)/8000", sdp.read_text())
    assert found, sdp.read_text()
    return found.group(1)


def packets(bitstream: bytes, kbit: int) -> list[bytes]:
    """20 ms payloads: 160 samples of kbit/8 bits each."""
    size = 160 * kbit // 8 // 8
    return [bitstream[i : i + size] for i in range(0, len(bitstream), size)]


def correlation(decoded: np.ndarray, reference: np.ndarray) -> float:
    """Pearson correlation at the best alignment within 2 ms (ADPCM has no delay, but a
    decoder may emit its first samples late)."""
    best = -1.0
    for lag in range(0, 17):
        a = decoded[lag : lag + len(reference)]
        b = reference[: len(a)]
        if len(a) < len(reference) // 2 or not a.std():
            continue
        best = max(best, float(np.corrcoef(a, b)[0, 1]))
    return best


def decode_ours(name: str, payloads: list[bytes]) -> np.ndarray:
    decoder = make_decoder(parse_codec(f"{name}/8000"))
    assert decoder.packet_clock_samples(payloads[0]) == 160
    pcm = np.concatenate([decoder.decode(p) for p in payloads])
    return pcm[:, 0].astype(np.float64)


@pytest.mark.peer
@pytest.mark.parametrize("kbit", RATES_KBIT)
@pytest.mark.parametrize("encoder", list(PACKINGS))
def test_each_rate_and_packing_decodes_to_the_source(
    source: tuple[Path, np.ndarray], tmp_path: Path, encoder: str, kbit: int
) -> None:
    wav, reference = source
    name = rtpmap_name(wav, encoder, kbit, tmp_path)
    assert name == f"{PACKINGS[encoder]}-{kbit}"
    payloads = packets(encode(wav, encoder, kbit, tmp_path), kbit)
    decoded = decode_ours(name, payloads)
    assert len(decoded) == len(reference)
    assert np.array_equal(decoded, ffmpeg_decode(encoder, kbit, tmp_path))
    assert correlation(decoded, reference) > 0.99
    other = next(p for p in PACKINGS.values() if p != PACKINGS[encoder])
    assert correlation(decode_ours(f"{other}-{kbit}", payloads), reference) < 0.4


def write_capture(path: Path, payloads: list[bytes], payload_type: int) -> None:
    frames = []
    for index, payload in enumerate(payloads):
        rtp = RtpPacket(payload_type, 7000 + index, 80_000 + 160 * index, 0x0726, index == 0,
                        payload=payload).encode()  # fmt: skip
        frame = (
            scapy_all.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / scapy_all.IP(src="127.0.83.1", dst="127.0.83.2")
            / scapy_all.UDP(sport=PORT, dport=PORT)
            / rtp
        )
        frame.time = 1_700_000_000.0 + 0.02 * index
        frames.append(frame)
    scapy_all.wrpcap(str(path), frames)


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as handle:
        rate = handle.getframerate()
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return rate, pcm.astype(np.float64)


@pytest.mark.peer
@pytest.mark.parametrize(
    ("encoder", "payload_type", "codec"),
    [("g726", 97, "AAL2-G726-24/8000"), ("g726le", 2, None)],
    ids=["aal2-24-codec-option", "static-pt2"],
)
def test_extract_writes_the_wav(
    source: tuple[Path, np.ndarray],
    tmp_path: Path,
    encoder: str,
    payload_type: int,
    codec: str | None,
) -> None:
    """`extract` as a user runs it: a dynamic type named with --pt/--codec, and RFC 3551's
    static payload type 2 (G.726-32, RFC 3551 packing) with nothing said."""
    wav, reference = source
    kbit = 24 if codec else 32
    capture = tmp_path / "g726.pcap"
    write_capture(capture, packets(encode(wav, encoder, kbit, tmp_path), kbit), payload_type)
    out = tmp_path / "out.wav"
    args = ["extract", capture, "--rtp-port", str(PORT), "-o", out]
    if codec:
        args += ["--pt", str(payload_type), "--codec", codec]
    proc = rtcscope_cli(args)
    assert proc.returncode == 0, proc.stderr
    rate, decoded = read_wav(out)
    assert rate == RATE
    assert correlation(decoded, reference) > 0.99


@cache
def g726_decoder(name: str) -> Decoder:
    return make_decoder(parse_codec(f"{name}/8000"))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(G726_NAMES), payload=st.binary(max_size=400))
def test_any_payload_decodes_to_one_sample_per_code_word(name: str, payload: bytes) -> None:
    """ADPCM has no invalid bit pattern: any bytes are len * 8 / bits samples, on every rate
    and packing; after reset() the decoder starts from its initial state again."""
    decoder = g726_decoder(name)
    bits = {"16": 2, "24": 3, "32": 4, "40": 5}[name.rsplit("-", 1)[1]]
    decoder.reset()
    first = decoder.decode(payload)
    assert first.shape == (len(payload) * 8 // bits, 1)
    decoder.reset()
    assert np.array_equal(decoder.decode(payload), first)
