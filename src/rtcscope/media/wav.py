"""WAV output: 16-bit PCM RIFF files, written as the timeline is rendered.

The standard library's :mod:`wave` writes the RIFF header and patches its sizes on close, so
memory stays flat however long the stream is; this module is its thin typed edge.
"""

from __future__ import annotations

import wave
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from rtcscope.errors import MediaError


class WavWriter:
    """``with WavWriter(path, rate, channels) as wav: wav.write(pcm)``; pcm is int16
    ``(samples, channels)``."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        if not 1 <= channels <= 8 or sample_rate <= 0:
            raise MediaError(f"WAV {path}: {channels} channels at {sample_rate} Hz is not valid")
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        try:
            self._wave = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise MediaError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self._wave.setnchannels(channels)
        self._wave.setsampwidth(2)
        self._wave.setframerate(sample_rate)

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        if pcm.ndim != 2 or pcm.shape[1] != self.channels:
            raise MediaError(f"WAV {self.path}: got {pcm.shape}, expected (n, {self.channels})")
        self._wave.writeframesraw(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
        self.frames += pcm.shape[0]

    def close(self) -> None:
        self._wave.close()

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
