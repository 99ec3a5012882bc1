"""The per-stream timeline on streams built here: order, duplicates, wraps, loss, DTX, comfort
noise, telephone-events and RFC 2198 redundancy; then rendering through a real decoder,
checked against the signal that was encoded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import RtpError
from rtcscope.media.codecs import CodecSpec, make_decoder
from rtcscope.media.timeline import (
    Gap,
    GapKind,
    PayloadRole,
    TimelinePacket,
    build_timeline,
    parse_red,
    render_audio,
)
from tests.media.reference import correlation

STEP = 160  # 20 ms at 8 kHz


def pkt(
    seq: int, ts: int, pt: int = 0, payload: bytes = b"\xd5" * STEP, at: int = 0
) -> TimelinePacket:
    return TimelinePacket(seq & 0xFFFF, ts & 0xFFFFFFFF, at, False, pt, payload)


def stream(n: int, seq0: int = 1000, ts0: int = 5000, pt: int = 0) -> list[TimelinePacket]:
    return [pkt(seq0 + i, ts0 + i * STEP, pt, at=i * 20_000_000) for i in range(n)]


def test_in_order_stream_is_frames_end_to_end() -> None:
    tl = build_timeline(stream(50), audio_payload_type=0, clock_rate=8000)
    assert [f.position for f in tl.frames] == [i * STEP for i in range(50)]
    assert tl.duration == 50 * STEP
    assert tl.report.gaps == [] and tl.report.lost == 0


def test_reordered_within_window_and_duplicates() -> None:
    packets = stream(20)
    shuffled = [*packets[:5], packets[6], packets[5], *packets[7:], packets[3], packets[9]]
    tl = build_timeline(shuffled, audio_payload_type=0, clock_rate=8000)
    assert [f.seq for f in tl.frames] == [1000 + i for i in range(20)]
    assert tl.report.reordered == 1
    assert tl.report.duplicates == 2
    assert tl.report.lost == 0 and tl.duration == 20 * STEP


def test_packet_later_than_the_window_is_dropped_and_counted() -> None:
    packets = stream(100)
    late = packets.pop(10)
    tl = build_timeline([*packets, late], audio_payload_type=0, clock_rate=8000, reorder_window=32)
    assert tl.report.too_late == 1
    assert tl.report.lost == 1
    assert [g.kind for g in tl.report.gaps] == [GapKind.LOSS]


def test_sequence_and_timestamp_wrap_keep_every_packet() -> None:
    packets = stream(40, seq0=65520, ts0=(1 << 32) - 10 * STEP)
    tl = build_timeline(packets, audio_payload_type=0, clock_rate=8000)
    assert len(tl.frames) == 40
    assert tl.report.seq_wraps == 1 and tl.report.timestamp_wraps == 1
    assert tl.duration == 40 * STEP and tl.report.gaps == []


def test_loss_is_a_gap_of_the_missing_time() -> None:
    packets = stream(30)
    del packets[10:13]
    tl = build_timeline(packets, audio_payload_type=0, clock_rate=8000)
    assert tl.report.gaps == [Gap(10 * STEP, 3 * STEP, GapKind.LOSS, 3)]
    assert tl.report.lost == 3 and tl.duration == 30 * STEP


def test_timestamp_jump_without_sequence_gap_is_dtx() -> None:
    packets = stream(10) + [pkt(1010 + i, 5000 + (10 + 25 + i) * STEP) for i in range(5)]
    tl = build_timeline(packets, audio_payload_type=0, clock_rate=8000)
    assert tl.report.gaps == [Gap(10 * STEP, 25 * STEP, GapKind.DTX, 0)]
    assert tl.report.lost == 0 and tl.duration == 40 * STEP


def test_comfort_noise_and_events_are_silence_not_loss_and_never_decoded() -> None:
    cn = pkt(1010, 5000 + 10 * STEP, pt=13, payload=b"\x40")
    events = [
        pkt(1011 + i, 5000 + 20 * STEP, pt=101, payload=b"\x05\x0a\x00\xa0") for i in range(3)
    ]
    after = [pkt(1014 + i, 5000 + (30 + i) * STEP) for i in range(5)]
    tl = build_timeline(
        [*stream(10), cn, *events, *after],
        audio_payload_type=0,
        clock_rate=8000,
        roles={13: PayloadRole.COMFORT_NOISE, 101: PayloadRole.EVENT},
    )
    assert tl.report.lost == 0
    assert tl.report.comfort_noise_packets == 1 and tl.report.event_packets == 3
    assert [g.kind for g in tl.report.gaps] == [GapKind.COMFORT_NOISE]
    assert all(f.payload != b"\x40" and len(f.payload) == STEP for f in tl.frames)
    assert tl.duration == 35 * STEP


def red(primary: bytes, redundant: list[tuple[int, bytes]], pt: int = 0) -> bytes:
    """RFC 2198 3: 4-byte headers for redundant blocks, 1 byte for the primary."""
    head = b"".join(
        bytes([0x80 | pt]) + ((offset << 10) | len(data)).to_bytes(3, "big")
        for offset, data in redundant
    )
    return head + bytes([pt]) + b"".join(d for _, d in redundant) + primary


def test_rfc2198_redundancy_fills_a_loss() -> None:
    payloads = [bytes([i]) * STEP for i in range(20)]
    packets = []
    for i in range(20):
        redundant = [(STEP, payloads[i - 1])] if i else []
        packets.append(pkt(1000 + i, 5000 + i * STEP, pt=120, payload=red(payloads[i], redundant)))
    del packets[7]
    tl = build_timeline(
        packets, audio_payload_type=0, clock_rate=8000, roles={120: PayloadRole.RED}
    )
    assert [f.payload[0] for f in tl.frames] == list(range(20))
    assert tl.report.recovered_from_red == 1 and tl.report.gaps == []
    assert tl.report.lost == 1  # the packet was lost; its audio came back from redundancy


def test_parse_red_rfc_example_layout() -> None:
    # RFC 2198 3's example: a primary block of PT 0 and one redundant block of PT 5
    # offset by 640 with 20 bytes, encoded by hand here.
    data = (
        bytes([0x80 | 5])
        + ((640 << 10) | 20).to_bytes(3, "big")
        + bytes([0])
        + b"r" * 20
        + b"p" * 7
    )
    blocks = parse_red(data)
    assert [(b.payload_type, b.timestamp_offset, b.data) for b in blocks] == [
        (5, 640, b"r" * 20),
        (0, 0, b"p" * 7),
    ]


@given(st.binary(max_size=64))
def test_parse_red_any_bytes_gives_blocks_or_rtp_error(data: bytes) -> None:
    try:
        blocks = parse_red(data)
    except RtpError:
        return
    assert sum(len(b.data) for b in blocks) <= len(data)


packet_strategy = st.builds(
    TimelinePacket,
    seq=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    arrival_ns=st.integers(0, 10**12),
    marker=st.booleans(),
    payload_type=st.sampled_from([0, 13, 101, 120]),
    payload=st.binary(max_size=40),
)


@given(st.lists(packet_strategy, max_size=40))
def test_any_packets_give_an_ordered_timeline(packets: list[TimelinePacket]) -> None:
    tl = build_timeline(
        packets,
        audio_payload_type=0,
        clock_rate=8000,
        roles={13: PayloadRole.COMFORT_NOISE, 101: PayloadRole.EVENT, 120: PayloadRole.RED},
    )
    positions = [i.position for i in tl.items]
    assert positions == sorted(positions)
    assert all(p >= 0 for p in positions)
    assert tl.report.packets == len(packets)
    if tl.items:
        decoder = make_decoder(CodecSpec("pcma", 8000))
        total = sum(len(c) for c in render_audio(tl, decoder))
        assert total == tl.duration


def alaw_packets(signal: np.ndarray) -> list[bytes]:
    """A-law payloads of 20 ms made by FFmpeg's encoder (through PyAV)."""
    import av

    encoder = av.CodecContext.create("pcm_alaw", "w")
    encoder.sample_rate = 8000
    encoder.layout = "mono"
    encoder.format = "s16"
    frame = av.AudioFrame.from_ndarray(signal.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 8000
    data = b"".join(bytes(p) for p in encoder.encode(frame))
    return [data[i : i + STEP] for i in range(0, len(data), STEP)]


def test_rendered_audio_sits_at_its_timestamps_with_silence_in_gaps() -> None:
    t = np.arange(8000 * 2) / 8000
    signal = (8000 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.int16
    )
    payloads = alaw_packets(signal)
    assert len(payloads) == 100
    packets = [pkt(7 + i, 90 + i * STEP, payload=p) for i, p in enumerate(payloads)]
    lost = set(range(30, 36))
    kept = [p for i, p in enumerate(packets) if i not in lost]
    tl = build_timeline(kept, audio_payload_type=0, clock_rate=8000)
    pcm = np.concatenate(list(render_audio(tl, make_decoder(CodecSpec("pcma", 8000)))))[:, 0]
    assert len(pcm) == len(signal)
    assert not np.any(pcm[30 * STEP : 36 * STEP])  # G.711 has no concealment: silence
    for start, end in ((0, 30 * STEP), (36 * STEP, 100 * STEP)):
        assert correlation(pcm[start:end], signal[start:end]) > 0.999


def test_opus_loss_is_concealed_not_silent() -> None:
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32000
    encoder.open()
    t = np.arange(48000) / 48000
    signal = (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    payloads = []
    for i in range(0, 48000, 960):
        frame = av.AudioFrame.from_ndarray(
            signal[i : i + 960].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = i
        payloads += [bytes(p) for p in encoder.encode(frame)]
    packets = [pkt(i, i * 960, pt=111, payload=p) for i, p in enumerate(payloads)]
    del packets[20:22]
    tl = build_timeline(packets, audio_payload_type=111, clock_rate=48000)
    spec = CodecSpec("opus", 48000, 2)
    decoder = make_decoder(spec, packets[0].payload)
    assert decoder.channels == 1  # the TOC, not the SDP's /2
    pcm = np.concatenate(list(render_audio(tl, decoder)))[:, 0]
    assert len(pcm) == len(payloads) * 960
    gap = pcm[20 * 960 : 22 * 960]
    assert np.abs(gap[:480]).max() > 500  # libopus concealed the start of the loss


def test_timestamp_reset_backwards_is_rebased_on_capture_time() -> None:
    # The sender restarts its timestamps mid-call; capture time goes on at 20 ms a packet.
    first = [pkt(100 + i, 900_000 + i * STEP, at=i * 20_000_000) for i in range(10)]
    second = [pkt(110 + i, 40 + i * STEP, at=(10 + i) * 20_000_000) for i in range(10)]
    tl = build_timeline(first + second, audio_payload_type=0, clock_rate=8000)
    assert len(tl.frames) == 20 and tl.report.timestamp_jumps == 1
    assert [f.position for f in tl.frames] == [i * STEP for i in range(20)]
    assert tl.report.gaps == [] and tl.duration == 20 * STEP


def test_timestamp_leap_beyond_capture_time_does_not_add_hours() -> None:
    first = [pkt(100 + i, i * STEP, at=i * 20_000_000) for i in range(10)]
    # 3 s of real silence (DTX), but the timestamp leaps by an hour.
    leap = 3600 * 8000
    second = [pkt(110 + i, leap + (10 + i) * STEP, at=(160 + i) * 20_000_000) for i in range(10)]
    tl = build_timeline(first + second, audio_payload_type=0, clock_rate=8000)
    assert tl.report.timestamp_jumps == 1
    assert tl.report.gaps == [Gap(10 * STEP, 150 * STEP, GapKind.DTX, 0)]
    assert tl.duration == 170 * STEP


@pytest.mark.parametrize(
    ("spec", "encode"),
    [
        (CodecSpec("pcmu", 8000), "mulaw"),
        (CodecSpec("l16", 8000), "l16"),
        (CodecSpec("l16", 44100, 2), "l16"),
    ],
    ids=["pcmu", "l16-mono", "l16-stereo-44100"],
)
def test_pcmu_and_l16_render_the_signal_they_carry(spec: CodecSpec, encode: str) -> None:
    import av

    rate, channels = spec.clock_rate, spec.channels
    step = rate // 50
    t = np.arange(rate) / rate
    mono = (7000 * np.sin(2 * np.pi * 523 * t) * (1 + 0.4 * np.sin(2 * np.pi * 2 * t))).astype(
        np.int16
    )
    signal = np.stack([mono] * channels, axis=1) if channels == 2 else mono.reshape(-1, 1)
    if encode == "mulaw":  # FFmpeg's encoder through PyAV
        encoder = av.CodecContext.create("pcm_mulaw", "w")
        encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        data = b"".join(bytes(p) for p in encoder.encode(frame))
        payloads = [data[i : i + step] for i in range(0, len(data), step)]
    else:  # RFC 3551 4.5.11: big-endian, interleaved
        data = signal.astype(">i2").tobytes()
        size = step * 2 * channels
        payloads = [data[i : i + size] for i in range(0, len(data), size)]
    packets = [pkt(i, i * step, pt=96, payload=p) for i, p in enumerate(payloads)]
    tl = build_timeline(packets, audio_payload_type=96, clock_rate=rate)
    decoder = make_decoder(spec, payloads[0])
    pcm = np.concatenate(list(render_audio(tl, decoder)))
    assert pcm.shape == (rate, channels)
    for channel in range(channels):
        assert correlation(pcm[:, channel], signal[:, channel]) > 0.999
