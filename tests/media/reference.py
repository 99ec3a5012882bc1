"""Independent references for audio tests: RTP fields as tshark dissects them, and audio as
FFmpeg's command-line decoder (or a fresh PyAV decoder, packet by packet) makes it."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.peers import run_bytes, tshark_fields

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True)
class TsharkRtp:
    frame: int
    time_ns: int
    seq: int
    timestamp: int
    payload_type: int
    marker: bool
    ssrc: int
    payload: bytes
    src_port: int


def tshark_rtp(
    capture: Path, ssrc: int | None = None, heuristic: bool = False, extra: tuple[str, ...] = ()
) -> list[TsharkRtp]:
    """Every RTP packet tshark dissects (of one SSRC), in capture order."""
    args: tuple[str, ...] = ("--enable-heuristic", "rtp_udp") if heuristic else ()
    flt = "rtp" if ssrc is None else f"rtp.ssrc == 0x{ssrc:08x}"
    rows = tshark_fields(
        capture,
        [
            "frame.number",
            "frame.time_epoch",
            "rtp.seq",
            "rtp.timestamp",
            "rtp.p_type",
            "rtp.marker",
            "rtp.ssrc",
            "rtp.payload",
            "udp.srcport",
        ],
        flt,
        extra=args + extra,
    )
    out = []
    for frame, epoch, seq, ts, pt, marker, ssrc_text, payload, sport in rows:
        sec, _, frac = epoch.partition(".")
        out.append(
            TsharkRtp(
                int(frame),
                int(sec) * 10**9 + int((frac + "000000000")[:9]),
                int(seq),
                int(ts),
                int(pt),
                marker in ("1", "True"),
                int(ssrc_text, 16),
                bytes.fromhex(payload.replace(":", "")),
                int(sport),
            )
        )
    return out


FFMPEG_FORMATS = {
    "pcma": ("alaw", 8000),
    "pcmu": ("mulaw", 8000),
    "g722": ("g722", 16000),
    "gsm": ("gsm", 8000),
    "g729": ("g729", 8000),
    "ilbc": ("ilbc", 8000),
}


def ffmpeg_decode(codec: str, payloads: list[bytes], tmp: Path) -> Samples:
    """FFmpeg's command-line decoder on the concatenated payloads (mono int16)."""
    fmt, _ = FFMPEG_FORMATS[codec]
    data = b"".join(payloads)
    if codec == "ilbc":  # RFC 3951 storage format header, mode from the frame size
        data = (b"#!iLBC30\n" if len(payloads[0]) % 50 == 0 else b"#!iLBC20\n") + data
    src = tmp / f"ref.{fmt}"
    src.write_bytes(data)
    args = ["-hide_banner", "-loglevel", "error", "-f", fmt]
    if fmt in ("alaw", "mulaw"):
        args += ["-ar", "8000", "-ac", "1"]
    args += ["-i", str(src), "-f", "s16le", "-ac", "1", "-"]
    proc = run_bytes("ffmpeg", args)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return np.frombuffer(proc.stdout, dtype="<i2").copy()


def pyav_decode_each(codec: str, payloads: list[bytes], rate: int, channels: int = 1) -> Samples:
    """A fresh PyAV decoder fed one payload at a time (Speex, Opus): mono int16."""
    import av

    context = av.CodecContext.create(codec, "r")
    context.sample_rate = rate
    context.layout = "stereo" if channels == 2 else "mono"
    parts = []
    for payload in payloads:
        for frame in context.decode(av.Packet(payload)):
            array = frame.to_ndarray()
            if frame.format.name.endswith("p"):
                array = array[0]
            else:
                array = array.reshape(-1, channels)[:, 0]
            if array.dtype.kind == "f":
                array = np.clip(np.rint(array * 32768), -32768, 32767)
            parts.append(array.astype(np.int16))
    return np.concatenate(parts)


def read_wav(path: Path) -> tuple[int, int, Samples]:
    """(rate, channels, samples shaped (n, channels))."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return rate, channels, data.reshape(-1, channels)


def correlation(a: Samples, b: Samples) -> float:
    """Pearson correlation of two equally long signals (1.0 = same shape)."""
    n = min(len(a), len(b))
    assert n > 0
    x = a[:n].astype(np.float64)
    y = b[:n].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    assert denominator > 0, "a silent signal cannot be compared"
    return float((x * y).sum() / denominator)


def gap_free_segments(rows: list[TsharkRtp], step: int) -> list[list[TsharkRtp]]:
    """Runs of packets (in capture order, which is sequence order in the captures used) with
    consecutive sequence numbers and timestamps ``step`` apart, across wraps."""
    segments: list[list[TsharkRtp]] = []
    for row in rows:
        if (
            segments
            and (row.seq - segments[-1][-1].seq) % 65536 == 1
            and (row.timestamp - segments[-1][-1].timestamp) % (1 << 32) == step
        ):
            segments[-1].append(row)
        else:
            segments.append([row])
    return segments
