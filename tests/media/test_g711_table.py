"""G.711 is decoded through a table (media/codecs.G711Decoder): every one of the 256 codes
gives the sample sox and FFmpeg give, and a run decoded at once is the packets decoded one by
one."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.media.codecs import CodecSpec, G711Decoder, make_decoder
from tests.peers import run

EVERY_CODE = bytes(range(256))
CODECS = {"pcma": ("pcm_alaw", "al"), "pcmu": ("pcm_mulaw", "ul")}


def _decoder(name: str) -> G711Decoder:
    decoder = make_decoder(CodecSpec(name, 8000))
    assert isinstance(decoder, G711Decoder)
    return decoder


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_code_decodes_as_ffmpeg_decodes_it(name: str) -> None:
    context = av.CodecContext.create(CODECS[name][0], "r")
    context.sample_rate = 8000  # type: ignore[attr-defined]
    context.layout = "mono"  # type: ignore[attr-defined]
    context.open()
    frames = context.decode(av.Packet(EVERY_CODE))
    reference = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert _decoder(name).decode(EVERY_CODE).reshape(-1).tolist() == reference.tolist()


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_code_decodes_as_sox_decodes_it(name: str, tmp_path: Path) -> None:
    kind = CODECS[name][1]
    raw = tmp_path / f"codes.{kind}"
    raw.write_bytes(EVERY_CODE)
    out = tmp_path / "codes.s16"
    run("sox", ["-t", kind, "-r", "8000", "-c", "1", raw, "-t", "s16", "-e", "signed", out])
    reference = np.frombuffer(out.read_bytes(), dtype="<i2")
    assert _decoder(name).decode(EVERY_CODE).reshape(-1).tolist() == reference.tolist()


@given(
    name=st.sampled_from(sorted(CODECS)),
    payloads=st.lists(st.binary(max_size=400), max_size=12),
)
def test_a_run_is_its_packets_one_by_one(name: str, payloads: list[bytes]) -> None:
    decoder = _decoder(name)
    block, counts = decoder.decode_joined(payloads)
    assert counts == [len(p) for p in payloads]
    assert block.dtype == np.int16 and block.shape == (sum(counts), 1)
    ones = [decoder.decode(p) for p in payloads]
    assert np.array_equal(block, np.concatenate(ones) if ones else block)
    for payload, one in zip(payloads, ones, strict=True):
        assert one.shape == (len(payload), 1)
        assert decoder.packet_clock_samples(payload) == len(payload)
