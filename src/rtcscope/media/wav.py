"""WAV output: 16-bit PCM RIFF files, written as the timeline is rendered.

The standard library's :mod:`wave` writes the RIFF header and patches its sizes on close, so
memory stays flat however long the stream is; this module is its thin typed edge. The file
is written through :mod:`rtcscope.outfile` (a temporary name made with ``O_EXCL`` /
``O_NOFOLLOW``, renamed on close, removed on failure), and a RIFF file's 32-bit sizes cap
the audio at :data:`MAX_WAV_DATA_BYTES`: more is refused (OutputError) before a byte past
it is written, never a file over 4 GiB with wrapped sizes.
"""

from __future__ import annotations

import contextlib
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rtcscope.errors import MediaError, OutputError
from rtcscope.outfile import Committed, create_output, output_error

# RIFF chunk sizes are u32: the RIFF size counts 36 header bytes beside the data.
MAX_WAV_DATA_BYTES = 0xFFFFFFFF - 36


class WavWriter(Committed):
    """``with WavWriter(path, rate, channels) as wav: wav.write(pcm)``; pcm is int16
    ``(samples, channels)``. Leaving the block by an exception leaves no file."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        if not 1 <= channels <= 8 or not 0 < sample_rate <= 384_000:
            raise MediaError(f"WAV {path}: {channels} channels at {sample_rate} Hz is not valid")
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        self._output = create_output(path)
        try:
            self._wave = wave.open(self._output.file, "wb")  # noqa: SIM115 - closed by close()
            self._wave.setnchannels(channels)
            self._wave.setsampwidth(2)
            self._wave.setframerate(sample_rate)
        except OSError as exc:
            self._output.discard()
            raise output_error(path, exc) from None

    def write(self, pcm: npt.NDArray[np.int16]) -> None:
        if pcm.ndim != 2 or pcm.shape[1] != self.channels:
            raise MediaError(f"WAV {self.path}: got {pcm.shape}, expected (n, {self.channels})")
        if (self.frames + pcm.shape[0]) * self.channels * 2 > MAX_WAV_DATA_BYTES:
            self.discard()
            raise OutputError(
                f"cannot write {self.path}: a WAV file holds at most 4 GiB of audio "
                f"({MAX_WAV_DATA_BYTES // (2 * self.channels * self.sample_rate)} s at "
                f"{self.sample_rate} Hz, {self.channels} channels)"
            )
        try:
            self._wave.writeframesraw(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None
        self.frames += pcm.shape[0]

    def close(self) -> None:
        """Patch the header sizes and rename the file into place."""
        try:
            self._wave.close()
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None
        self._output.commit()

    def discard(self) -> None:
        """Give the file up: nothing is left at ``path`` (nor beside it)."""
        with contextlib.suppress(OSError, ValueError):
            self._wave.close()  # else wave's __del__ would flush a closed file later
        self._output.discard()

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate
