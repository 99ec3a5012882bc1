"""SILK bitstream files, Ogg pages and Opus TOC arithmetic, checked against independent
references: the Ogg CRC computed bit by bit as RFC 3533 6 describes it, libopus's own
decoded lengths, opusinfo on a stereo file with gaps."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import ParseError
from rtcscope.media.codecs import opus_packet_samples, opus_silence_packets, opus_toc_channels
from rtcscope.media.ogg_opus import OggOpusWriter, ogg_crc
from rtcscope.media.silk import MAGIC, decode_bitstream, encode_bitstream
from tests.peers import run

packets_strategy = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


@given(packets_strategy, st.booleans())
def test_silk_bitstream_round_trips(packets: list[bytes], tencent: bool) -> None:
    data = encode_bitstream(packets, tencent=tencent)
    assert data.startswith(b"\x02#!SILK_V3" if tencent else b"#!SILK_V3")
    assert decode_bitstream(data) == (packets, tencent)


@given(st.binary(max_size=200))
def test_silk_bitstream_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    for candidate in (data, MAGIC + data):
        try:
            packets, _ = decode_bitstream(candidate)
        except ParseError:
            continue
        assert sum(len(p) + 2 for p in packets) <= len(candidate)


def test_silk_end_marker_and_lost_records() -> None:
    data = (
        MAGIC
        + struct.pack("<h", 3)
        + b"abc"
        + struct.pack("<h", 0)
        + struct.pack("<h", -1)
        + b"junk"
    )
    assert decode_bitstream(data) == ([b"abc", b""], False)


def crc_bit_by_bit(data: bytes) -> int:
    """RFC 3533 6: generator 0x04C11DB7, initial 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


@given(st.binary(max_size=300))
def test_ogg_crc_matches_the_bitwise_definition(data: bytes) -> None:
    assert ogg_crc(data) == crc_bit_by_bit(data)


def libopus_packets(channels: int, frame_ms: float, seconds: float = 1.0) -> list[bytes]:
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "stereo" if channels == 2 else "mono"
    encoder.format = "s16"
    encoder.bit_rate = 64000
    encoder.options = {"frame_duration": str(frame_ms)}
    encoder.open()
    size = int(48 * frame_ms)
    t = np.arange(int(48000 * seconds)) / 48000
    left = 6000 * np.sin(2 * np.pi * 330 * t)
    signal = np.stack([left, 6000 * np.sin(2 * np.pi * 550 * t)][:channels], axis=1).astype(
        np.int16
    )
    out = []
    for start in range(0, len(signal) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(signal[start : start + size]).reshape(1, -1),
            format="s16",
            layout=encoder.layout.name,
        )
        frame.sample_rate = 48000
        frame.pts = start
        out += [bytes(p) for p in encoder.encode(frame)]
    return out


def libopus_decoded_samples(packet: bytes, channels: int) -> int:
    import av

    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = 48000
    decoder.layout = "stereo" if channels == 2 else "mono"
    return sum(f.samples for f in decoder.decode(av.Packet(packet)))


@pytest.mark.parametrize("frame_ms", [2.5, 5, 10, 20, 40, 60])
def test_opus_packet_samples_match_libopus(frame_ms: float) -> None:
    for packet in libopus_packets(1, frame_ms, 0.3)[:5]:
        assert opus_packet_samples(packet) == libopus_decoded_samples(packet, 1)


@pytest.mark.parametrize("like_config", [1, 9, 13, 15, 19, 31])
def test_silence_packets_decode_to_their_duration(like_config: int) -> None:
    like = bytes([like_config << 3, 0xFF])
    packets = opus_silence_packets(48000 + 120 * 7 + 50, like)
    total = sum(libopus_decoded_samples(p, 1) for p in packets)
    assert total == 48000 + 120 * 7  # rounded down to the 2.5 ms grid
    assert all(len(p) == 1 for p in packets)


@pytest.mark.peer
def test_stereo_ogg_with_gaps_passes_opusinfo(tmp_path: Path) -> None:
    packets = libopus_packets(2, 20, 2.0)
    assert opus_toc_channels(packets[0]) == 2
    out = tmp_path / "stereo.opus"
    with OggOpusWriter(out, channels=2) as ogg:
        for index, packet in enumerate(packets):
            if 30 <= index < 40:
                if index == 30:
                    ogg.add_gap(10 * 960, packets[29])
                continue
            ogg.add(packet)
    proc = run("opusinfo", [out])
    text = proc.stdout + proc.stderr
    assert "WARNING" not in text and "ERROR" not in text, text
    assert "Channels: 2" in text
    assert "Playback length: 0m:02.000s" in text
