"""The report finds each stream's WAV as ``Path.glob("*0x<SSRC>*.wav")`` would, from one
listing of the folder (names made up by hypothesis, compared with pathlib's own glob)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.report import _existing_wavs
from rtcscope.rtp.streams import StreamKey

SSRCS = [0x1234ABCD, 0x0000000A, 0xDEADBEEF]
_TOKENS = st.sampled_from(
    [f"0x{s:08X}" for s in SSRCS] + ["0x1234abcd", "0x", "0x0x", ".wav", "-", "a", ".", "wav"]
)
_NAMES = (
    st.lists(_TOKENS, min_size=1, max_size=5)
    .map("".join)
    .filter(lambda n: n not in (".", "..") and "/" not in n)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_NAMES, max_size=8, unique=True))
def test_one_listing_finds_what_glob_finds(names: list[str]) -> None:
    keys = [StreamKey("10.0.0.1", 4000 + i, "10.0.0.2", 5000, s) for i, s in enumerate(SSRCS)]
    data: Any = SimpleNamespace(
        streams=[SimpleNamespace(stream=SimpleNamespace(key=k)) for k in keys]
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in names:
            (folder / name).write_bytes(b"")
        expected = {}
        for key in keys:
            matches = sorted(folder.glob(f"*0x{key.ssrc:08X}*.wav"))
            if matches:
                expected[key] = matches[0]
        assert _existing_wavs(data, folder) == expected
