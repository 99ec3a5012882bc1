"""Audio for sipp: raw G.711 for ``rtp_stream``, and an RTP pcap for ``play_pcap_audio``.

sipp 3.6's ``rtp_stream="f.al,LOOPS,PT"`` sends the file's bytes as they are, 160 per 20 ms
packet, so a WAV's header goes out as audio (``RIFF...``): the file must be raw 8 kHz mono
A-law (PT 8) or u-law (PT 0). :func:`convert_to_g711` decodes any file PyAV (FFmpeg) reads,
resamples to 8 kHz mono 16-bit and encodes with FFmpeg's own G.711 encoders, so an 8 kHz
mono 16-bit WAV gives exactly the bytes of ``ffmpeg -i in.wav -f alaw out.al``.

:func:`encode_rtp_pcap` encodes audio at the codec's packet time (20 ms) into RTP packets
with a chosen SSRC, payload type, first sequence number and timestamp, adds RFC 4733
telephone-events for digits when asked, and writes them into an Ethernet pcap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from rtcscope.errors import InputError, InvalidArgument, MediaError
from rtcscope.rtp.events import DTMF_EVENT_NAMES, TelephoneEvent
from rtcscope.rtp.packet import RtpPacket
from rtcscope.sipp.pcapfile import udp_ethernet_frame, write_frames

RAW_SUFFIXES = {".al": "alaw", ".alaw": "alaw", ".ul": "mulaw", ".ulaw": "mulaw", ".mu": "mulaw"}
G711_SILENCE = {"alaw": 0xD5, "mulaw": 0xFF}  # the code of a zero sample (ITU-T G.711)
PACKET_MS = 20


@dataclass(frozen=True, slots=True)
class RtpCodec:
    """How a codec goes into RTP: FFmpeg encoder, sample rate, RTP clock, default PT."""

    name: str
    encoder: str
    sample_rate: int
    clock_rate: int
    payload_type: int
    channels: int = 1

    @property
    def samples_per_packet(self) -> int:
        return self.sample_rate * PACKET_MS // 1000

    @property
    def clock_per_packet(self) -> int:
        return self.clock_rate * PACKET_MS // 1000


# RFC 3551 4.5.2: G.722 samples at 16 kHz but its RTP clock is 8000; RFC 7587: Opus at 48000.
RTP_CODECS = {
    "pcma": RtpCodec("PCMA", "pcm_alaw", 8000, 8000, 8),
    "pcmu": RtpCodec("PCMU", "pcm_mulaw", 8000, 8000, 0),
    "g722": RtpCodec("G722", "g722", 16000, 8000, 9),
    "opus": RtpCodec("opus", "libopus", 48000, 48000, 111),
}


def is_wav(head: bytes) -> bool:
    """A RIFF/WAVE header (what sipp's rtp_stream would send as audio)."""
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def misnamed_wav_note(path: Path) -> str | None:
    """A note when a file named as raw G.711 (.al, .ul, ...) is in fact a WAV."""
    if path.suffix.lower() not in RAW_SUFFIXES:
        return None
    with open(path, "rb") as handle:
        head = handle.read(12)
    if is_wav(head):
        kind = RAW_SUFFIXES[path.suffix.lower()]
        return (
            f"{path} is a WAV file (RIFF/WAVE header), not raw {kind}: "
            "sipp's rtp_stream would send its header as audio; read here as WAV"
        )
    return None


def _open_input(path: Path) -> Any:
    import av

    suffix = path.suffix.lower()
    options: dict[str, Any] = {}
    if suffix in RAW_SUFFIXES and misnamed_wav_note(path) is None:
        options = {
            "format": RAW_SUFFIXES[suffix],
            "options": {"sample_rate": "8000", "ch_layout": "mono"},
        }
    try:
        return av.open(str(path), **options)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{path}: not an audio file PyAV can read ({exc})") from exc


def decoded_pcm(path: Path, sample_rate: int) -> Iterator[Any]:
    """The file's audio as mono signed 16-bit frames at ``sample_rate`` (PyAV frames)."""
    import av

    container = _open_input(path)
    try:
        streams = container.streams.audio
        if not streams:
            raise InputError(f"{path} has no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(streams[0]):
                yield from resampler.resample(frame)
            yield from resampler.resample(None)
        except av.FFmpegError as exc:
            raise InputError(f"{path}: decoding failed ({exc})") from exc
    finally:
        container.close()


def _encoder(name: str, sample_rate: int) -> Any:
    import av

    try:
        codec: Any = av.CodecContext.create(name, "w")
    except av.FFmpegError as exc:  # pragma: no cover - FFmpeg builds without the encoder
        raise MediaError(f"FFmpeg has no {name} encoder here ({exc})") from exc
    codec.sample_rate = sample_rate
    codec.layout = "mono"
    codec.format = "s16"
    codec.time_base = Fraction(1, sample_rate)
    return codec


def _chunks(path: Path, sample_rate: int, samples: int, pad: bool) -> Iterator[Any]:
    """Frames of exactly ``samples`` (the last one padded with silence when ``pad``)."""
    import av

    fifo = av.AudioFifo()
    for frame in decoded_pcm(path, sample_rate):
        frame.pts = None
        fifo.write(frame)
        while fifo.samples >= samples:
            yield fifo.read(samples)
    if fifo.samples:
        if not pad:
            yield fifo.read()
            return
        last = fifo.read()
        assert last is not None
        data = bytes(last.planes[0])[: last.samples * 2]
        padded = av.AudioFrame(format="s16", layout="mono", samples=samples)
        padded.planes[0].update(data + bytes(2 * samples - len(data)))
        padded.sample_rate = sample_rate
        yield padded


def encode_packets(path: Path, codec: RtpCodec, pad: bool = True) -> list[bytes]:
    """The audio as one encoded payload per 20 ms (the codec's packet time)."""
    encoder = _encoder(codec.encoder, codec.sample_rate)
    if codec.encoder == "libopus":
        encoder.bit_rate = 32000
    payloads: list[bytes] = []
    for frame in _chunks(path, codec.sample_rate, codec.samples_per_packet, pad):
        for packet in encoder.encode(frame):
            payloads.append(bytes(packet))
    for packet in encoder.encode(None):
        payloads.append(bytes(packet))
    return payloads


def convert_to_g711(source: Path, out: Path, loop: bool = False) -> tuple[str, int]:
    """Raw 8 kHz mono A-law (``.al``) or u-law (``.ul``) for sipp's rtp_stream.

    With ``loop`` the end is padded with silence to a whole 20 ms packet, so a looping
    rtp_stream never sends a short packet. Returns (encoding, bytes written).
    """
    encoding = RAW_SUFFIXES.get(out.suffix.lower())
    if encoding is None:
        raise InvalidArgument("out", f"{out}: the output is raw A-law (.al) or u-law (.ul)")
    codec = RTP_CODECS["pcma" if encoding == "alaw" else "pcmu"]
    data = b"".join(encode_packets(source, codec, pad=False))
    if loop and len(data) % codec.samples_per_packet:
        short = codec.samples_per_packet - len(data) % codec.samples_per_packet
        data += bytes([G711_SILENCE[encoding]]) * short
    if not data:
        raise InputError(f"{source} holds no audio")
    out.write_bytes(data)
    return encoding, len(data)


@dataclass(frozen=True, slots=True)
class DigitRun:
    """``123#@2.0s``: digits sent as RFC 4733 events from ``start_s`` on."""

    digits: str
    start_s: float

    @classmethod
    def parse(cls, text: str) -> DigitRun:
        match = re.fullmatch(r"([0-9*#A-Da-d]+)@(\d+(?:\.\d+)?)s?", text)
        if match is None:
            raise InvalidArgument("dtmf", f"expected DIGITS@SECONDS (e.g. 123#@2.0s), not {text!r}")
        return cls(match.group(1).upper(), float(match.group(2)))


DIGIT_MS = 100  # each event lasts 100 ms, then 100 ms of audio before the next
END_REPEATS = 3  # RFC 4733 2.5.1.4: the end packet is sent three times


@dataclass(frozen=True, slots=True)
class RtpStreamPlan:
    """Who sends and how the RTP numbering starts."""

    ssrc: int = 0x52544353
    payload_type: int | None = None  # None: the codec's default
    first_sequence: int = 0
    first_timestamp: int = 0
    dtmf_payload_type: int = 101


def rtp_packets(
    payloads: list[bytes], codec: RtpCodec, plan: RtpStreamPlan, digits: DigitRun | None = None
) -> list[tuple[int, bytes]]:
    """(offset ns, RTP datagram) per packet: audio every 20 ms, and during each digit the
    telephone-events instead of audio (same clock, timestamp of the event's start)."""
    pt = codec.payload_type if plan.payload_type is None else plan.payload_type
    events: dict[int, tuple[int, int, bool]] = {}  # packet slot -> (event, duration, end)
    ends: dict[int, int] = {}  # slot -> start slot of the digit ending there
    if digits is not None:
        slots_per_digit = DIGIT_MS // PACKET_MS
        slot = round(digits.start_s * 1000 / PACKET_MS)
        for name in digits.digits:
            event = DTMF_EVENT_NAMES.index(name)
            for k in range(slots_per_digit):
                last = k == slots_per_digit - 1
                events[slot + k] = (event, (k + 1) * codec.clock_per_packet, last)
                ends[slot + k] = slot
            slot += 2 * slots_per_digit
    out: list[tuple[int, bytes]] = []
    seq = plan.first_sequence
    for slot, payload in enumerate(payloads):
        offset_ns = slot * PACKET_MS * 1_000_000
        timestamp = plan.first_timestamp + slot * codec.clock_per_packet
        if slot not in events:
            packet = RtpPacket(pt, seq, timestamp, plan.ssrc, slot == 0, payload=payload)
            out.append((offset_ns, packet.encode()))
            seq += 1
            continue
        event, duration, end = events[slot]
        start = plan.first_timestamp + ends[slot] * codec.clock_per_packet
        body = TelephoneEvent(event, end, 10, duration).encode()
        for repeat in range(END_REPEATS if end else 1):
            packet = RtpPacket(
                plan.dtmf_payload_type, seq, start, plan.ssrc, slot == ends[slot], payload=body
            )
            out.append((offset_ns + repeat * 1_000_000, packet.encode()))
            seq += 1
    return out


PCAP_SOURCE = ("10.0.0.1", 40000)
PCAP_DESTINATION = ("10.0.0.2", 40002)


def encode_rtp_pcap(
    source: Path,
    out: Path,
    codec_name: str,
    plan: RtpStreamPlan,
    digits: DigitRun | None = None,
) -> int:
    """Encode ``source`` into an RTP pcap for play_pcap_audio; returns the packets written."""
    codec = RTP_CODECS.get(codec_name.lower())
    if codec is None:
        raise InvalidArgument("codec", f"one of {', '.join(RTP_CODECS)}, not {codec_name!r}")
    payloads = encode_packets(source, codec)
    if not payloads:
        raise InputError(f"{source} holds no audio")
    packets = rtp_packets(payloads, codec, plan, digits)
    return write_frames(
        out,
        (
            (udp_ethernet_frame(*PCAP_SOURCE, *PCAP_DESTINATION, datagram), offset)
            for offset, datagram in packets
        ),
    )
