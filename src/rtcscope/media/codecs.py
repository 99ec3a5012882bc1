"""Audio codecs of RTP streams: what a payload type means and how to decode it.

Decoding goes through well-kept libraries (DESIGN rule 6): PyAV (FFmpeg's decoders) for
G.711 A/u-law, G.722, G.726, G.729, GSM, iLBC, Speex, Opus and L16, silk-python for SILK.
Their quirks, checked on this machine (shared/NOTES.md), are handled here and nowhere else:

- PyAV: an empty packet means end of stream, so an empty RTP payload is never fed to it.
- iLBC: the 20/30 ms mode is chosen through the bit rate, or FFmpeg decodes silently short.
- Speex: the decoder must be told the rtpmap rate (8, 16 or 32 kHz).
- G.722: the RTP clock is 8000 Hz while the audio is 16 kHz (RFC 3551 4.5.2).
- Opus: the SDP always says ``opus/48000/2`` (RFC 7587 7); the channel count comes from the
  TOC stereo bit (RFC 6716 3.1). Loss is concealed by decoding a TOC-only packet (a frame of
  length zero, RFC 6716 3.2.1), which libopus treats as a lost frame.
- G.726: FFmpeg's decoder takes its code size (2..5 bits per sample for 16..40 kbit/s) only
  from ``bits_per_coded_sample``, which PyAV cannot set on a CodecContext; its raw demuxers
  (``g726le``, ``g726``) set it from their ``code_size`` option, so the decoder is the codec
  context of such a demuxer opened on no data, then fed one RTP payload per packet (state
  carried over, as in one continuous decode). Two bit packings: RFC 3551 4.5.4 "G726-32"
  puts the first sample in the least significant bits (FFmpeg ``g726le``); the ITU-T
  I.366.2 AAL2 packing "AAL2-G726-32" puts it in the most significant (FFmpeg ``g726``).
- silk-python decodes whole ``#!SILK_V3`` bitstreams, raises on a zero-length (lost) record and
  cannot conceal: runs of packets between gaps are decoded one by one and gaps filled by the
  timeline with silence.

Every decoder returns int16 PCM shaped ``(samples, channels)`` at its ``output_rate``.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rtcscope.errors import InvalidArgument, MediaError
from rtcscope.sip.sdp import STATIC_PAYLOAD_TYPES as SDP_STATIC_PAYLOAD_TYPES

Pcm = npt.NDArray[np.int16]

# RFC 3551 6, table 4: static audio payload types (encoding, clock rate, channels), from
# sip.sdp's table of every static type: the audio ones are 0-18 (25 and up are video).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    pt: (codec.name.lower(), codec.clock_rate, codec.channels)
    for pt, codec in SDP_STATIC_PAYLOAD_TYPES.items()
    if pt <= 18
}
# RFC 3551 4.5.4: payload type 2 was G.721 (RFC 1890), the same coding as G.726-32; RFC 3551
# leaves it reserved and asks for a dynamic type, but equipment still sends G.726-32 in the
# RFC 3551 packing on 2 (Wireshark and FFmpeg read it so too).
STATIC_PAYLOAD_TYPES.setdefault(2, ("g726-32", 8000, 1))

# Payload formats that carry no audio for a decoder: RFC 4733 events and RFC 3389 comfort noise.
EVENT_CODECS = frozenset({"telephone-event"})
COMFORT_NOISE_CODECS = frozenset({"cn"})
REDUNDANCY_CODECS = frozenset({"red"})

# Encoding names as SDP writes them -> the name used here.
_ALIASES = {
    "pcmu": "pcmu",
    "g711u": "pcmu",
    "ulaw": "pcmu",
    "mulaw": "pcmu",
    "pcma": "pcma",
    "g711a": "pcma",
    "alaw": "pcma",
    "g722": "g722",
    "g721": "g726-32",  # G.721 became G.726 at 32 kbit/s
    "g729": "g729",
    "g729a": "g729",
    "g729ab": "g729",
    "gsm": "gsm",
    "ilbc": "ilbc",
    "speex": "speex",
    "opus": "opus",
    "l16": "l16",
    "silk": "silk",
    "telephone-event": "telephone-event",
    "cn": "cn",
    "red": "red",
}


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """What an rtpmap (or the static table) says a payload type is."""

    name: str  # lower case: pcmu, pcma, g722, g729, gsm, ilbc, speex, opus, l16, silk, ...
    clock_rate: int
    channels: int = 1
    fmtp: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_audio(self) -> bool:
        return self.name not in EVENT_CODECS | COMFORT_NOISE_CODECS | REDUNDANCY_CODECS

    def __str__(self) -> str:
        return f"{self.name}/{self.clock_rate}" + (
            f"/{self.channels}" if self.channels != 1 else ""
        )


def parse_codec(text: str, fmtp: str | None = None) -> CodecSpec:
    """``opus/48000/2`` (an rtpmap's encoding part, or the ``--codec`` option) -> CodecSpec."""
    parts = text.strip().split("/")
    if not parts[0]:
        raise InvalidArgument(
            "codec", f"codec {text!r}: expected NAME/RATE[/CHANNELS], e.g. opus/48000/2"
        )
    name = _ALIASES.get(parts[0].lower(), parts[0].lower())
    try:
        clock = int(parts[1]) if len(parts) > 1 and parts[1] else _default_clock(name)
        channels = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    except ValueError:
        raise InvalidArgument(
            "codec", f"codec {text!r}: rate and channels must be numbers"
        ) from None
    if clock <= 0 or not 1 <= channels <= 8:
        raise InvalidArgument("codec", f"codec {text!r}: rate must be positive, channels 1..8")
    return CodecSpec(name, clock, channels, parse_fmtp(fmtp or ""))


def parse_fmtp(text: str) -> dict[str, str]:
    """``mode=30; useinbandfec=1`` -> {'mode': '30', 'useinbandfec': '1'} (RFC 4566 6)."""
    params: dict[str, str] = {}
    for item in text.replace(",", ";").split(";"):
        key, sep, value = item.strip().partition("=")
        if key:
            params[key.strip().lower()] = value.strip() if sep else ""
    return params


def _default_clock(name: str) -> int:
    return 48000 if name == "opus" else 8000


def static_codec(payload_type: int) -> CodecSpec | None:
    """The RFC 3551 static meaning of a payload type, or None for dynamic/unknown ones."""
    entry = STATIC_PAYLOAD_TYPES.get(payload_type)
    if entry is None:
        return None
    return CodecSpec(*entry)


def opus_toc_channels(payload: bytes) -> int:
    """RFC 6716 3.1: the TOC byte's bit 2 (``s``) says stereo."""
    return 2 if payload and payload[0] & 0x04 else 1


# RFC 6716 3.1, table 2: frame size in 48 kHz samples for each TOC config (0..31).
_OPUS_CONFIG_FRAME = (
    [480, 960, 1920, 2880] * 3  # SILK-only NB/MB/WB: 10, 20, 40, 60 ms
    + [480, 960] * 2  # Hybrid SWB/FB: 10, 20 ms
    + [120, 240, 480, 960] * 4  # CELT-only NB/WB/SWB/FB: 2.5, 5, 10, 20 ms
)


def opus_packet_samples(payload: bytes) -> int | None:
    """Duration of an Opus packet in 48 kHz samples (RFC 6716 3.2), None if malformed."""
    if not payload:
        return None
    toc = payload[0]
    frame = _OPUS_CONFIG_FRAME[toc >> 3]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(payload) < 2:
            return None
        count = payload[1] & 0x3F
        if count == 0:
            return None
    total = frame * count
    return total if total <= 5760 else None  # 3.2.5: at most 120 ms


def opus_silence_packets(samples: int, like: bytes | None) -> list[bytes]:
    """TOC-only Opus packets (RFC 6716 3.2.1: a frame of length zero is a lost frame) whose
    durations add up to ``samples`` at 48 kHz, rounded down to the 2.5 ms grid.

    The mode, bandwidth and stereo bit follow ``like`` (the packet before the gap) so the
    decoder conceals in the same mode; durations the mode lacks come from CELT-only configs.
    """
    stereo = like[0] & 0x04 if like else 0
    config = like[0] >> 3 if like else 31
    if config < 12:  # SILK-only: 10/20/40/60 ms per bandwidth group of four
        base = config & ~3
        sizes = {_OPUS_CONFIG_FRAME[base + i]: base + i for i in range(4)}
    elif config < 16:  # Hybrid: 10/20 ms
        base = config & ~1
        sizes = {_OPUS_CONFIG_FRAME[base + i]: base + i for i in range(2)}
    else:
        sizes = {}
    celt_fb = {120: 28, 240: 29, 480: 30, 960: 31}
    packets: list[bytes] = []
    remaining = samples - samples % 120
    for size in (2880, 1920, 960, 480, 240, 120):
        cfg = sizes.get(size, celt_fb.get(size))
        if cfg is None:
            continue
        while remaining >= size:
            packets.append(bytes([(cfg << 3) | stereo]))
            remaining -= size
    return packets


class Decoder(ABC):
    """Decodes one stream's payloads (in order) to int16 PCM ``(samples, channels)``."""

    spec: CodecSpec
    output_rate: int
    channels: int
    # True when payloads can be decoded a slice at a time with state carried over (so long
    # runs are rendered in bounded memory); SILK decodes whole runs only.
    incremental: bool = True

    @abstractmethod
    def decode(self, payload: bytes) -> Pcm:
        """Decode one RTP payload; an undecodable one raises MediaError."""

    def decode_run(self, payloads: Sequence[bytes]) -> list[Pcm]:
        """Decode a gap-free run: one array per payload (or one for the run, see SILK)."""
        return [self.decode(p) for p in payloads]

    def decode_joined(self, payloads: Sequence[bytes]) -> tuple[Pcm, list[int]] | None:
        """A gap-free run decoded as one block with each payload's sample count (what
        :meth:`decode_run` gives, concatenated), for a codec that can without decoding each
        payload alone; None: use :meth:`decode_run`."""
        return None

    def conceal(self, samples: int, previous: bytes | None) -> Pcm:
        """Audio for ``samples`` lost output samples: the codec's concealment, or silence."""
        return np.zeros((samples, self.channels), dtype=np.int16)

    def packet_clock_samples(self, payload: bytes) -> int | None:
        """A payload's duration in RTP clock units when the payload alone tells, else None."""
        return None

    def reset(self) -> None:  # noqa: B027 - stateless decoders have nothing to forget
        """Forget decoder state (after a long silence, or a stream restart)."""


def _frames_to_pcm(frames: list[Any], channels: int) -> Pcm:
    """PyAV AudioFrames (s16/s16p/flt/fltp, any layout) -> int16 ``(samples, channels)``."""
    parts: list[Pcm] = []
    for frame in frames:
        array = frame.to_ndarray()
        fmt = frame.format.name
        planar = fmt.endswith("p")
        # planar is (channels, samples); packed is interleaved (1, samples * channels)
        array = array.T if planar else array.reshape(-1, len(frame.layout.channels))
        if array.dtype.kind == "f":
            array = np.clip(np.rint(array * 32768.0), -32768, 32767)
        pcm = array.astype(np.int16, copy=False)
        if pcm.shape[1] != channels:
            pcm = pcm[:, :1].repeat(channels, axis=1) if pcm.shape[1] == 1 else pcm[:, :channels]
        parts.append(pcm)
    if not parts:
        return np.zeros((0, channels), dtype=np.int16)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class PyAvDecoder(Decoder):
    """One FFmpeg decoder through PyAV, fed one RTP payload per packet."""

    def __init__(
        self,
        spec: CodecSpec,
        codec: str,
        output_rate: int,
        channels: int = 1,
        bit_rate: int | None = None,
        samples_per_byte: float | None = None,
        fixed_frame: tuple[int, int] | None = None,
    ) -> None:
        self.spec = spec
        self.codec_name = codec
        self.output_rate = output_rate
        self.channels = channels
        self.bit_rate = bit_rate
        # Duration from the payload size, in clock units: G.711 1 per byte, G.722 1 per byte.
        self.samples_per_byte = samples_per_byte
        # (bytes, clock samples) of one frame for fixed-size frame codecs (GSM, G.729, iLBC).
        self.fixed_frame = fixed_frame
        self._context = self._open()

    def _open(self) -> Any:
        import av

        self._av = av
        try:
            context = av.CodecContext.create(self.codec_name, "r")
        except Exception as exc:  # PyAV raises its own tree; a missing codec is a MediaError
            raise MediaError(f"FFmpeg has no {self.codec_name} decoder: {exc}") from exc
        context.sample_rate = self.output_rate  # type: ignore[attr-defined]
        context.layout = "stereo" if self.channels == 2 else "mono"  # type: ignore[attr-defined]
        if self.bit_rate:
            context.bit_rate = self.bit_rate
        try:
            context.open()
        except Exception as exc:
            raise MediaError(f"cannot open the {self.codec_name} decoder: {exc}") from exc
        return context

    def decode(self, payload: bytes) -> Pcm:
        av = self._av
        if not payload:  # an empty packet would end the stream (PyAV)
            return np.zeros((0, self.channels), dtype=np.int16)
        try:
            frames = self._context.decode(av.Packet(payload))
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{self.spec.name} payload of {len(payload)} bytes: {exc}") from exc
        if len(frames) == 1 and frames[0].format.name == "s16":
            # The hot path (libopus, G.711, G.722, GSM, iLBC): packed int16 in the layout
            # the context was opened with, copied straight out of the frame's buffer
            # (to_ndarray stacks planes, a third of the decode time for Opus).
            frame = frames[0]
            count = frame.samples * self.channels
            pcm: Pcm = np.frombuffer(frame.planes[0], dtype=np.int16, count=count)
            return pcm.reshape(-1, self.channels).copy()
        return _frames_to_pcm(frames, self.channels)

    def packet_clock_samples(self, payload: bytes) -> int | None:
        if self.samples_per_byte is not None:
            return int(len(payload) * self.samples_per_byte)
        if self.fixed_frame is not None:
            frame_bytes, frame_samples = self.fixed_frame
            if payload and len(payload) % frame_bytes == 0:
                return len(payload) // frame_bytes * frame_samples
        return None

    def reset(self) -> None:
        self._context = self._open()


# G.726 rates in kbit/s -> bits per sample (FFmpeg's code_size): 8000 samples per second.
G726_BITS_PER_SAMPLE = {16: 2, 24: 3, 32: 4, 40: 5}
G726_NAMES = tuple(
    f"{packing}g726-{rate}" for packing in ("", "aal2-") for rate in G726_BITS_PER_SAMPLE
)


def g726_format(name: str) -> tuple[str, int] | None:
    """(FFmpeg raw format, bits per sample) of an encoding name: ``g726-32`` (RFC 3551
    packing, ``g726le``) or ``aal2-g726-32`` (AAL2 packing, ``g726``); None for others."""
    packing, _, rest = name.rpartition("g726-")
    if packing not in ("", "aal2-") or not rest.isdigit():
        return None
    bits = G726_BITS_PER_SAMPLE.get(int(rest))
    if bits is None:
        return None
    return ("g726" if packing else "g726le"), bits


class G726Decoder(PyAvDecoder):
    """G.726 through FFmpeg: the decoder context of a raw G.726 demuxer (see the module
    docstring), the only way PyAV lets the code size be set."""

    def __init__(self, spec: CodecSpec, raw_format: str, bits_per_sample: int) -> None:
        self.raw_format = raw_format
        self.bits_per_sample = bits_per_sample
        self._container: Any = None
        super().__init__(spec, raw_format, 8000)

    def _open(self) -> Any:
        import av

        self._av = av
        try:
            # The demuxer reads nothing at open: its header is the code_size option.
            self._container = av.open(
                io.BytesIO(b""),
                format=self.raw_format,
                options={"code_size": str(self.bits_per_sample)},
            )
            return self._container.streams.audio[0].codec_context
        except Exception as exc:  # PyAV's own error tree, or no such demuxer in this FFmpeg
            raise MediaError(f"cannot open FFmpeg's {self.raw_format} decoder: {exc}") from exc

    def packet_clock_samples(self, payload: bytes) -> int | None:
        # One sample per code word, 8000 Hz clock (RFC 3551 4.5.4).
        return len(payload) * 8 // self.bits_per_sample


class OpusDecoder(PyAvDecoder):
    """libopus through PyAV; loss concealed with TOC-only packets (RFC 6716 3.2.1)."""

    def __init__(self, spec: CodecSpec, channels: int) -> None:
        import av

        try:
            av.codec.Codec("libopus", "r")
            name = "libopus"
        except Exception:  # FFmpeg built without libopus: its own decoder has no PLC
            name = "opus"
        super().__init__(spec, name, 48000, channels)

    def conceal(self, samples: int, previous: bytes | None) -> Pcm:
        parts = [self.decode(p) for p in opus_silence_packets(samples, previous)]
        pcm = np.concatenate(parts) if parts else np.zeros((0, self.channels), np.int16)
        if len(pcm) < samples:
            pad = np.zeros((samples - len(pcm), self.channels), dtype=np.int16)
            pcm = np.concatenate([pcm, pad])
        return pcm[:samples]

    def packet_clock_samples(self, payload: bytes) -> int | None:
        return opus_packet_samples(payload)


def _alaw_table() -> Pcm:
    """ITU-T G.711 A-law: each of the 256 codes as its 16-bit linear sample (the code's even
    bits inverted; sign, 3-bit segment, 4-bit step; segment 0 is linear, each later segment
    doubles the step, the sample is the middle of its interval)."""
    out = np.zeros(256, dtype=np.int16)
    for code in range(256):
        a = code ^ 0x55
        segment = (a >> 4) & 0x07
        step = a & 0x0F
        value = (step << 4) + 8 if segment == 0 else ((step << 4) + 0x108) << (segment - 1)
        out[code] = value if a & 0x80 else -value
    return out


def _mulaw_table() -> Pcm:
    """ITU-T G.711 mu-law: each of the 256 codes (bits inverted: sign, 3-bit exponent,
    4-bit mantissa) as its 16-bit linear sample (bias 0x84 removed)."""
    out = np.zeros(256, dtype=np.int16)
    for code in range(256):
        u = ~code & 0xFF
        magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
        out[code] = (0x84 - magnitude) if u & 0x80 else (magnitude - 0x84)
    return out


class G711Decoder(Decoder):
    """G.711 A-law or mu-law (RFC 3551 4.5.14): one sample a byte through a 256-entry table,
    a whole gap-free run at once (FFmpeg's pcm_alaw/pcm_mulaw give the same samples; a
    decoder call per 20 ms packet cost ~10x the table)."""

    def __init__(self, spec: CodecSpec, table: Pcm) -> None:
        self.spec = spec
        self.output_rate = 8000
        self.channels = 1
        self._table = table

    def decode(self, payload: bytes) -> Pcm:
        return self._table[np.frombuffer(payload, dtype=np.uint8)].reshape(-1, 1)

    def decode_joined(self, payloads: Sequence[bytes]) -> tuple[Pcm, list[int]]:
        return self.decode(b"".join(payloads)), [len(p) for p in payloads]

    def packet_clock_samples(self, payload: bytes) -> int | None:
        return len(payload)


ALAW_TABLE = _alaw_table()
MULAW_TABLE = _mulaw_table()


class L16Decoder(Decoder):
    """RFC 3551 4.5.11: L16 is big-endian signed 16-bit, interleaved; no codec state."""

    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self.output_rate = spec.clock_rate
        self.channels = spec.channels

    def decode(self, payload: bytes) -> Pcm:
        usable = len(payload) - len(payload) % (2 * self.channels)
        samples = np.frombuffer(payload[:usable], dtype=">i2").astype(np.int16)
        return samples.reshape(-1, self.channels)

    def packet_clock_samples(self, payload: bytes) -> int | None:
        return len(payload) // (2 * self.channels)


class SilkDecoder(Decoder):
    """SILK through silk-python, which decodes whole bitstreams: each gap-free run is written
    as a ``#!SILK_V3`` bitstream in memory and decoded at the RTP clock rate."""

    def __init__(self, spec: CodecSpec) -> None:
        # make_decoder checked the rate against PLAUSIBLE_CLOCK_RATES["silk"] (what this offers)
        self.spec = spec
        self.output_rate = spec.clock_rate
        self.channels = 1
        self.incremental = False

    def decode(self, payload: bytes) -> Pcm:
        return self.decode_run([payload])[0]

    def decode_run(self, payloads: Sequence[bytes]) -> list[Pcm]:
        import pysilk

        from rtcscope.media.silk import encode_bitstream

        usable = [p for p in payloads if p]
        if not usable:
            return [np.zeros((0, 1), dtype=np.int16)]
        out = io.BytesIO()
        try:
            pysilk.decode(io.BytesIO(encode_bitstream(usable)), out, self.output_rate)
        except Exception as exc:  # pysilk.SilkError and ValueError from the SDK's checks
            raise MediaError(f"SILK run of {len(usable)} packets does not decode: {exc}") from exc
        return [np.frombuffer(out.getvalue(), dtype="<i2").astype(np.int16).reshape(-1, 1)]


# The RTP clock rates each codec can have (RFC 3551 table 4, RFC 7587 for Opus, RFC 5574
# for Speex, the SILK draft, RFC 3551 4.5.11 for L16). An rtpmap outside them is a broken or
# hostile SDP: decoding with it would stretch a few packets into hours of audio (PCMU/1 makes
# one second of RTP timestamps 8000 s), so it is refused before any output is written.
PLAUSIBLE_CLOCK_RATES: dict[str, tuple[int, ...]] = {
    "pcmu": (8000,),
    "pcma": (8000,),
    "g722": (8000, 16000),  # 8000 by RFC 3551's erratum; some agents write 16000
    "g729": (8000,),
    **dict.fromkeys(G726_NAMES, (8000,)),
    "gsm": (8000,),
    "ilbc": (8000,),
    "speex": (8000, 16000, 32000),
    "opus": (48000,),
    "silk": (8000, 12000, 16000, 24000, 32000, 44100, 48000),  # what SilkDecoder offers
}
L16_CLOCK_RANGE_HZ = (8000, 192000)


def check_clock_rate(spec: CodecSpec) -> None:
    """MediaError when ``spec``'s clock rate is not one its codec can have."""
    name = spec.name
    if name == "l16":
        low, high = L16_CLOCK_RANGE_HZ
        if not low <= spec.clock_rate <= high:
            raise MediaError(
                f"{spec}: an L16 clock of {spec.clock_rate} Hz is outside {low}..{high} Hz: "
                "the SDP's rtpmap is wrong; refused"
            )
        return
    allowed = PLAUSIBLE_CLOCK_RATES.get(name)
    if allowed is not None and spec.clock_rate not in allowed:
        rates = ", ".join(str(r) for r in allowed)
        raise MediaError(
            f"{spec}: {name.upper()} runs its RTP clock at {rates} Hz, not "
            f"{spec.clock_rate} Hz: the SDP's rtpmap is wrong; refused"
        )


def make_decoder(spec: CodecSpec, first_payload: bytes | None = None) -> Decoder:
    """A decoder for ``spec``; ``first_payload`` settles what the SDP leaves open (Opus
    channels, iLBC mode). Raises MediaError for codecs rtcscope cannot decode and for a clock
    rate the codec cannot have (:func:`check_clock_rate`)."""
    check_clock_rate(spec)
    name = spec.name
    if name == "pcma":
        return G711Decoder(spec, ALAW_TABLE)
    if name == "pcmu":
        return G711Decoder(spec, MULAW_TABLE)
    if name == "g722":
        # RFC 3551 4.5.2: clock 8000 for 16 kHz audio; 4 bits per 16 kHz sample.
        return PyAvDecoder(spec, "adpcm_g722", 16000, samples_per_byte=spec.clock_rate / 8000)
    if name == "g729":
        # 10-byte frames of 10 ms; a 2-byte Annex B SID frame is comfort noise.
        return PyAvDecoder(spec, "g729", 8000, fixed_frame=(10, 80))
    if name == "gsm":
        return PyAvDecoder(spec, "gsm", 8000, fixed_frame=(33, 160))  # RFC 3551 4.5.8
    g726 = g726_format(name)
    if g726 is not None:
        return G726Decoder(spec, *g726)
    if name == "ilbc":
        return _ilbc_decoder(spec, first_payload)
    if name == "speex":
        return PyAvDecoder(spec, "speex", spec.clock_rate)
    if name == "opus":
        channels = opus_toc_channels(first_payload) if first_payload else 1
        return OpusDecoder(spec, channels)
    if name == "l16":
        return L16Decoder(spec)
    if name == "silk":
        return SilkDecoder(spec)
    if not spec.is_audio:
        raise MediaError(f"{spec.name} carries no audio to decode")
    raise MediaError(f"no decoder for {spec} (supported: {', '.join(SUPPORTED_CODECS)})")


SUPPORTED_CODECS = (
    "pcma",
    "pcmu",
    "g722",
    *G726_NAMES,
    "g729",
    "gsm",
    "ilbc",
    "speex",
    "opus",
    "l16",
    "silk",
)


def _ilbc_decoder(spec: CodecSpec, first_payload: bytes | None) -> Decoder:
    # RFC 3952 5: mode=20 -> 38-byte frames (15.2 kbit/s), mode=30 -> 50 bytes (13.33 kbit/s).
    # FFmpeg picks the mode from the bit rate; without it 30 ms audio decodes silently short.
    mode = spec.fmtp.get("mode", "")
    if mode not in ("20", "30") and first_payload:
        if len(first_payload) % 50 == 0:
            mode = "30"
        elif len(first_payload) % 38 == 0:
            mode = "20"
    if mode == "20":
        return PyAvDecoder(spec, "ilbc", 8000, bit_rate=15200, fixed_frame=(38, 160))
    return PyAvDecoder(spec, "ilbc", 8000, bit_rate=13333, fixed_frame=(50, 240))


class PcmConverter:
    """Sample rate and channel conversion of int16 PCM through FFmpeg's resampler (PyAV),
    streaming: ``convert(chunk)`` as chunks come, ``flush()`` at the end."""

    def __init__(self, in_rate: int, in_channels: int, out_rate: int, out_channels: int) -> None:
        import av

        self.in_rate, self.in_channels = in_rate, in_channels
        self.out_rate, self.out_channels = out_rate, out_channels
        self._in_layout = _layout_name(in_channels)
        self._resampler = av.AudioResampler(
            format="s16", layout=_layout_name(out_channels), rate=out_rate
        )
        self._pts = 0

    @property
    def identity(self) -> bool:
        return self.in_rate == self.out_rate and self.in_channels == self.out_channels

    def convert(self, pcm: Pcm) -> Pcm:
        import av

        if self.identity:
            return pcm
        if len(pcm) == 0:
            return np.zeros((0, self.out_channels), dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout=self._in_layout,
        )
        frame.sample_rate = self.in_rate
        frame.pts = self._pts
        self._pts += len(pcm)
        return _frames_to_pcm(self._resampler.resample(frame), self.out_channels)

    def flush(self) -> Pcm:
        if self.identity:
            return np.zeros((0, self.out_channels), dtype=np.int16)
        return _frames_to_pcm(self._resampler.resample(None), self.out_channels)


def _layout_name(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
