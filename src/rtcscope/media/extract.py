"""Audio out of a capture: pick RTP streams, put their packets on a timeline, write files.

This module is the orchestration edge of ``media/`` (it opens output files): the capture is
scanned once by :func:`rtcscope.scan.scan` (streams and their SDP codecs, in the order
``rtcscope streams`` lists them: :func:`media_streams`), then only the chosen streams' packets
are read again (:func:`collect_packets`), and the pure parts do the work:
:mod:`~rtcscope.media.timeline` (order, gaps), :mod:`~rtcscope.media.codecs` (decoders), the
WAV, Ogg Opus and SILK writers.

Output kinds follow the file extension (or ``--to``): ``.wav`` (any supported codec),
``.opus``/``.ogg`` (Ogg Opus from Opus RTP, no re-encoding), ``.bit``/``.silk`` (SILK SDK
bitstream), ``.raw`` (payload bytes as they were) and ``.pcap`` (the stream's packets alone).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtcscope.errors import (
    EncryptedPayload,
    InputError,
    InvalidArgument,
    MediaError,
    RtpError,
    SrtpError,
    UnknownPayloadType,
)
from rtcscope.media.codecs import (
    COMFORT_NOISE_CODECS,
    EVENT_CODECS,
    REDUNDANCY_CODECS,
    CodecSpec,
    Decoder,
    Pcm,
    PcmConverter,
    make_decoder,
    opus_toc_channels,
    parse_codec,
    static_codec,
)
from rtcscope.media.ogg_opus import OggOpusWriter
from rtcscope.media.silk import encode_bitstream
from rtcscope.media.timeline import (
    DEFAULT_REORDER_WINDOW,
    Frame,
    Gap,
    PayloadRole,
    Timeline,
    TimelinePacket,
    TimelineReport,
    build_timeline,
    parse_red,
    render_audio,
)
from rtcscope.media.wav import WavWriter
from rtcscope.outfile import make_output_dir, write_output
from rtcscope.rtp.events import looks_like_telephone_events
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.srtp import (
    DecryptStats,
    SrtpKey,
    SrtpKeyring,
    SrtpStreamDecryptor,
    UserKey,
    encrypted_payload_evidence,
    require_authenticated,
)
from rtcscope.rtp.streams import ScanResult, StreamKey, stream_packets

if TYPE_CHECKING:
    from rtcscope.rtp.columns import StreamColumns  # the quality model: not for extract


class OutputKind(StrEnum):
    WAV = "wav"
    OPUS = "opus"
    SILK = "silk"
    RAW = "raw"
    PCAP = "pcap"


_EXTENSIONS = {
    ".wav": OutputKind.WAV,
    ".opus": OutputKind.OPUS,
    ".ogg": OutputKind.OPUS,
    ".bit": OutputKind.SILK,
    ".silk": OutputKind.SILK,
    ".raw": OutputKind.RAW,
    ".pcap": OutputKind.PCAP,
}


def output_kind(path: Path, to: str | None = None) -> OutputKind:
    """The kind of file to write: ``--to`` if given, else the extension (WAV for a
    directory)."""
    if to:
        name = to.lower().lstrip(".")
        aliases = {"ogg": "opus", "bit": "silk"}
        try:
            return OutputKind(aliases.get(name, name))
        except ValueError:
            kinds = ", ".join(k.value for k in OutputKind)
            raise InvalidArgument("to", f"{to}: expected one of {kinds}") from None
    if path.is_dir() or not path.suffix:
        return OutputKind.WAV  # a directory of per-stream files: WAV unless --to says
    kind = _EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise InvalidArgument(
            "path",
            f"{path}: cannot tell the output kind from the extension "
            "(.wav .opus .ogg .bit .silk .raw .pcap); name the kind",
        )
    return kind


@dataclass(slots=True)
class MediaStream:
    """One RTP stream as extraction sees it."""

    key: StreamKey
    index: int  # position in the order ``rtcscope streams`` lists, from 1
    payload_type: int | None = None  # the audio payload type, when known
    codecs: dict[int, CodecSpec] = field(default_factory=dict)  # from the SDP's rtpmaps
    call_id: str | None = None
    encrypted: bool = False
    first_ts_ns: int | None = None
    origin: Any = None  # the rtcscope.rtp.streams.RtpStream it came from
    # SRTP: the keys that may decrypt it (user's first, then its sender's SDES keys), why
    # none can when there are none, and what decryption did (set by collect_packets).
    srtp_keys: list[SrtpKey] = field(default_factory=list)
    srtp_refusal: str | None = None
    srtp: DecryptStats | None = None


# Called as audio is written: (samples written, samples in all), for a progress bar.
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ExtractOptions:
    kind: OutputKind | None = None
    payload_type: int | None = None
    codec: CodecSpec | None = None
    rate: int | None = None
    channels: int | None = None
    tencent: bool = False
    reorder_window: int = DEFAULT_REORDER_WINDOW
    progress: Progress | None = None
    force: bool = False  # decode payloads judged encrypted (--force)


@dataclass(slots=True)
class ExtractResult:
    path: Path
    kind: OutputKind
    streams: list[MediaStream]
    codec: CodecSpec | None = None
    payload_type: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_s: float = 0.0
    reports: list[TimelineReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "kind": self.kind.value,
            "streams": [
                {
                    "index": s.index,
                    "ssrc": s.key.ssrc,
                    "src": s.key.src,
                    "src_port": s.key.src_port,
                    "dst": s.key.dst,
                    "dst_port": s.key.dst_port,
                    "call_id": s.call_id,
                    "srtp": _srtp_dict(s.srtp),
                }
                for s in self.streams
            ],
            "codec": str(self.codec) if self.codec else None,
            "payload_type": self.payload_type,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "duration_s": round(self.duration_s, 6),
            "reports": [r.as_dict() for r in self.reports],
        }


def _srtp_dict(stats: DecryptStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "authenticated": stats.authenticated,
        "auth_failures": stats.auth_failures,
        "replayed": stats.replayed,
        "key": stats.key.origin if stats.key else None,
        "suite": stats.key.suite.value if stats.key else None,
        "rollover_counter": stats.roc,
    }


def format_srtp(stats: DecryptStats) -> str:
    """One line on what SRTP decryption did, for ``--report``."""
    origin = stats.key.origin if stats.key else "no key matched"
    suite = stats.key.suite.value if stats.key else ""
    return (
        f"SRTP {suite}: {stats.authenticated} authenticated, {stats.auth_failures} "
        f"authentication failures, {stats.replayed} replayed; key from {origin}, "
        f"rollover counter {stats.roc}"
    )


# ---------------------------------------------------------------------------------------------
# Streams and their packets


def media_streams(scan: ScanResult, srtp_keys: Sequence[UserKey] = ()) -> list[MediaStream]:
    """Every RTP stream of a scan, in the order ``rtcscope streams`` lists them, with
    the rtpmaps of the SDP that announced it (telephone-event, CN, RED and dynamic codecs)
    and, for SRTP, the keys that may decrypt it (``srtp_keys`` from the user first, then the
    sender's ``a=crypto`` keys from the capture's SDP, RFC 4568 6.1)."""
    keyring = SrtpKeyring(scan.announcements, srtp_keys)
    # Announcements by the endpoint they name, oldest first (one index: a capture of 20,000
    # calls has 34,000 streams and 40,000 announcements).
    ordered = sorted(scan.announcements, key=lambda a: a.frame)
    by_endpoint: dict[tuple[str | None, int], list[int]] = {}
    for position, announcement in enumerate(ordered):
        by_endpoint.setdefault((announcement.address, announcement.port), []).append(position)
    found: list[MediaStream] = []
    for position, stream in enumerate(scan.streams, start=1):
        key = stream.key
        codecs: dict[int, CodecSpec] = {}
        # The SDPs that announced either end of this flow, oldest first: later ones win.
        ends = dict.fromkeys([(key.dst, key.dst_port), (key.src, key.src_port)])
        named = [ordered[i] for i in sorted({i for end in ends for i in by_endpoint.get(end, ())})]
        for announcement in named:
            if announcement.frame > stream.last_frame:
                continue
            for pt, (encoding, clock, channels) in announcement.rtpmaps.items():
                spec = _spec_from(f"{encoding}/{clock}/{channels or 1}", announcement.fmtp.get(pt))
                if spec is not None:
                    codecs[pt] = spec
        if stream.payload_type not in codecs and stream.codec and stream.clock_rate:
            spec = _spec_from(f"{stream.codec}/{stream.clock_rate}/{stream.channels or 1}")
            if spec is not None:
                codecs[stream.payload_type] = spec
        media = MediaStream(
            key=key,
            index=stream.index or position,
            payload_type=stream.payload_type,
            codecs=codecs,
            call_id=stream.call_id,
            # A key given for this SSRC says it is SRTP, whatever discovery could tell.
            encrypted=stream.encrypted
            or any(u.ssrc == key.ssrc for u in srtp_keys if u.ssrc is not None),
            first_ts_ns=stream.start_ns,
            origin=stream,
        )
        if media.encrypted:
            try:
                media.srtp_keys = list(
                    keyring.decryptor(key, dtls_flow=stream.srtp_keying == "dtls").keys
                )
            except SrtpError as exc:
                media.srtp_refusal = str(exc)
        found.append(media)
    return found


def _spec_from(text: str, fmtp: str | None = None) -> CodecSpec | None:
    try:
        return parse_codec(text, fmtp)
    except InvalidArgument:
        return None


def collect_packets(
    path: str | os.PathLike[str],
    streams: Sequence[MediaStream],
    *,
    dedup: bool = False,
    columns: StreamColumns | None = None,
) -> dict[StreamKey, list[TimelinePacket]]:
    """One pass over the capture (:func:`rtcscope.rtp.streams.stream_packets`): the RTP
    packets of each stream, in capture order. ``columns``: also gathers the packets (as
    read, before any decryption) for per-packet arrays."""
    wanted: list[Any] = [stream.origin or stream.key for stream in streams]
    collected: dict[StreamKey, list[TimelinePacket]] = {s.key: [] for s in streams}
    # SRTP streams with keys are decrypted on the way (RFC 3711); without keys their packets
    # are kept as they are and choose_audio refuses them with the reason.
    decryptors = {
        s.key: (s, SrtpStreamDecryptor(s.srtp_keys)) for s in streams if s.encrypted and s.srtp_keys
    }
    for packet in stream_packets(path, wanted, dedup=dedup):
        if columns is not None:
            columns.add(packet)
        rtp = packet.rtp
        if packet.key in decryptors:
            clear = decryptors[packet.key][1].decrypt(packet.data)
            if clear is None:
                continue
            rtp = RtpPacket.parse(clear)
        collected[packet.key].append(
            TimelinePacket(
                rtp.sequence_number,
                rtp.timestamp,
                packet.ts_ns,
                rtp.marker,
                rtp.payload_type,
                rtp.payload,
            )
        )
    for stream, decryptor in decryptors.values():
        stream.srtp = decryptor.stats
    return collected


# ---------------------------------------------------------------------------------------------
# Codec choice


@dataclass(slots=True)
class AudioChoice:
    payload_type: int
    spec: CodecSpec
    roles: dict[int, PayloadRole]


def check_srtp(
    stream: MediaStream, packets: Sequence[TimelinePacket] = (), force: bool = False
) -> None:
    """SrtpError (exit 3) for payloads that would decode to noise: an SRTP stream that was
    not decrypted (no key, DTLS keying, or keys of which none authenticated a packet), or
    a stream nothing signalled as SRTP whose payloads look encrypted
    (:func:`rtcscope.rtp.srtp.encrypted_payload_evidence`): EncryptedPayload. ``force``:
    decode them as they are."""
    if force:
        return
    if not stream.encrypted:
        counts = Counter(p.payload_type for p in packets)
        main_pt = counts.most_common(1)[0][0] if counts else None
        evidence = encrypted_payload_evidence(
            [p.payload for p in packets if p.payload_type == main_pt]
        )
        if evidence is not None:
            raise EncryptedPayload(
                f"stream 0x{stream.key.ssrc:08X} looks encrypted (SRTP without signalling?): "
                f"{evidence}"
            )
        return
    if stream.srtp is None:
        reason = (
            stream.srtp_refusal
            or f"stream 0x{stream.key.ssrc:08X} looks like SRTP: its key is needed (SDES, "
            "base64) or the SDP with a=crypto in the capture"
        )
        raise EncryptedPayload(reason)
    require_authenticated(stream.key.ssrc, stream.srtp)


def choose_audio(
    stream: MediaStream,
    packets: Sequence[TimelinePacket],
    options: ExtractOptions,
    require_codec: bool = True,
) -> AudioChoice:
    """Which payload type is the audio and what codec it is: ``--pt``/``--codec`` first, then
    the SDP's rtpmap, then the RFC 3551 static table. Without ``require_codec`` (raw payload
    output) an unnamed payload type is kept as ``ptN`` on an 8 kHz clock."""
    check_srtp(stream, packets, options.force)
    codecs = dict(stream.codecs)
    roles: dict[int, PayloadRole] = {}
    for number, spec in codecs.items():
        if spec.name in EVENT_CODECS:
            roles[number] = PayloadRole.EVENT
        elif spec.name in COMFORT_NOISE_CODECS:
            roles[number] = PayloadRole.COMFORT_NOISE
        elif spec.name in REDUNDANCY_CODECS:
            roles[number] = PayloadRole.RED
    for number in (13, 19):  # RFC 3389 CN; 19 was CN's number before RFC 3551 reserved it
        if number not in codecs:
            roles.setdefault(number, PayloadRole.COMFORT_NOISE)

    counts = Counter(p.payload_type for p in packets)
    for number in counts:
        # RFC 4733 events sent on a dynamic payload type the capture has no rtpmap for (the
        # SDP missed, or sent before the capture began): told by their shape, and counted as
        # events, not as "other payload types".
        if (
            number >= 96
            and number not in codecs
            and number != options.payload_type
            and looks_like_telephone_events(
                (p.timestamp, p.payload) for p in packets if p.payload_type == number
            )
        ):
            roles[number] = PayloadRole.EVENT
    pt: int | None = options.payload_type
    if pt is None and stream.payload_type is not None and roles.get(stream.payload_type) is None:
        pt = stream.payload_type
    if pt is None:
        audio_counts = [(n, p) for p, n in counts.items() if roles.get(p) is None]
        red_counts = [(n, p) for p, n in counts.items() if roles.get(p) is PayloadRole.RED]
        if audio_counts:
            pt = max(audio_counts)[1]
        elif red_counts:
            pt = _primary_of_red(packets, max(red_counts)[1])
    if pt is None:
        raise MediaError(f"stream 0x{stream.key.ssrc:08X} has no audio packets")
    if roles.get(pt) is PayloadRole.RED:
        pt = _primary_of_red(packets, pt)
    found = options.codec or codecs.get(pt) or static_codec(pt)
    if found is None and not require_codec:
        found = CodecSpec(f"pt{pt}", 8000)
    if found is None:
        raise UnknownPayloadType(stream.key.ssrc, pt)
    if not found.is_audio:
        raise MediaError(f"stream 0x{stream.key.ssrc:08X}: payload type {pt} is {found.name}")
    roles.pop(pt, None)
    return AudioChoice(pt, found, roles)


def _primary_of_red(packets: Sequence[TimelinePacket], red_pt: int) -> int:
    for packet in packets:
        if packet.payload_type == red_pt:
            try:
                return parse_red(packet.payload)[-1].payload_type
            except RtpError:
                continue
    raise MediaError(f"no RFC 2198 packet of payload type {red_pt} could be read")


def _first_payload(timeline: Timeline) -> bytes | None:
    for item in timeline.items:
        if isinstance(item, Frame):
            return item.payload
    return None


def build_stream_timeline(
    stream: MediaStream,
    packets: Sequence[TimelinePacket],
    options: ExtractOptions,
    require_codec: bool = True,
) -> tuple[AudioChoice, Timeline, Decoder | None]:
    """The stream's timeline, and its decoder when the codec is one rtcscope decodes."""
    choice = choose_audio(stream, packets, options, require_codec)
    first = next((p.payload for p in packets if p.payload_type == choice.payload_type), None)
    decoder: Decoder | None
    try:
        decoder = make_decoder(choice.spec, first)
    except MediaError:
        decoder = None
    timeline = build_timeline(
        packets,
        audio_payload_type=choice.payload_type,
        clock_rate=choice.spec.clock_rate,
        roles=choice.roles,
        duration_of=decoder.packet_clock_samples if decoder else None,
        reorder_window=options.reorder_window,
    )
    if decoder is not None and choice.spec.name == "opus" and timeline.items:
        first_payload = _first_payload(timeline)
        if first_payload and opus_toc_channels(first_payload) != decoder.channels:
            decoder = make_decoder(choice.spec, first_payload)
    return choice, timeline, decoder


# ---------------------------------------------------------------------------------------------
# Writers


def render_pcm(
    timeline: Timeline, decoder: Decoder, rate: int | None, channels: int | None
) -> tuple[int, int, int, Iterable[Pcm]]:
    """(rate, channels, total samples, chunks) of a timeline's audio, converted as asked."""
    out_rate = rate or decoder.output_rate
    out_channels = channels or decoder.channels
    total = round(Fraction(timeline.duration * out_rate, timeline.clock_rate))
    converter = PcmConverter(decoder.output_rate, decoder.channels, out_rate, out_channels)

    def chunks() -> Iterable[Pcm]:
        written = 0
        for chunk in render_audio(timeline, decoder):
            pcm = converter.convert(chunk)[: total - written]
            written += len(pcm)
            yield pcm
        tail = converter.flush()[: total - written]
        written += len(tail)
        yield tail
        if written < total:
            yield np.zeros((total - written, out_channels), dtype=np.int16)

    return out_rate, out_channels, total, chunks()


def write_wav(
    path: Path,
    timeline: Timeline,
    decoder: Decoder,
    rate: int | None,
    channels: int | None,
    progress: Progress | None = None,
) -> tuple[int, int, float]:
    out_rate, out_channels, total, chunks = render_pcm(timeline, decoder, rate, channels)
    with WavWriter(path, out_rate, out_channels) as wav:
        for chunk in chunks:
            if len(chunk):
                wav.write(chunk)
                if progress is not None:
                    progress(wav.frames, total)
    return out_rate, out_channels, wav.duration_s


def write_ogg_opus(path: Path, timeline: Timeline) -> tuple[int, float]:
    """Opus payloads into Ogg as they are; gaps become TOC-only packets (RFC 6716 3.2.1)."""
    ratio = Fraction(48000, timeline.clock_rate)
    first = _first_payload(timeline)
    channels = opus_toc_channels(first) if first else 1
    total = round(timeline.duration * ratio)
    cursor = 0
    previous = first
    with OggOpusWriter(path, channels, comments=["ENCODER=rtcscope extract"]) as ogg:
        for item in timeline.items:
            position = round(item.position * ratio)
            if position > cursor:
                cursor += ogg.add_gap(position - cursor, previous)
            if isinstance(item, Gap):
                continue
            length = round(item.duration * ratio)
            ogg.add(item.payload, length)
            cursor += length
            previous = item.payload
        ogg.close(total)
    return channels, min(total, cursor) / 48000


def silk_records(timeline: Timeline) -> list[bytes]:
    """Packets for a SILK bitstream; time no packet covers becomes zero-length records, one
    per packet duration, which the SDK decoder conceals as lost packets."""
    records: list[bytes] = []
    step = 0
    for item in timeline.items:
        if isinstance(item, Frame):
            records.append(item.payload)
            step = item.duration
        elif step:
            records.extend(b"" for _ in range(max(item.length // step, 1)))
    return records


def _encode_silk_with_losses(records: list[bytes], tencent: bool) -> bytes:
    """Like :func:`encode_bitstream`, keeping zero-length records (the SDK's lost packets)."""
    head = encode_bitstream([], tencent=tencent)
    body = b"".join(len(r).to_bytes(2, "little") + r for r in records)
    return head + body


def write_pcap(capture: str | os.PathLike[str], out: Path, stream: MediaStream) -> int:
    """The stream's packets alone, as Ethernet, through ``rtcscope split``'s writer (plain
    Ethernet records copied byte for byte, others rebuilt around the same UDP payload)."""
    import tempfile

    from rtcscope.rtp.split import split_streams

    if stream.origin is None:
        raise MediaError(f"stream {stream.key} was not found by discovery: cannot write .pcap")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".rtcscope-") as scratch:
        [written] = split_streams(capture, [stream.origin], Path(scratch))
        written.path.replace(out)
    return written.packets


def extract_stream(
    path: str | os.PathLike[str],
    stream: MediaStream,
    out: Path,
    options: ExtractOptions,
    packets: Sequence[TimelinePacket] | None = None,
) -> ExtractResult:
    """Write one stream's audio (or payloads, or packets) to ``out``."""
    kind = options.kind or output_kind(out)
    if packets is None:
        packets = collect_packets(path, [stream])[stream.key]
    if kind is not OutputKind.PCAP:
        check_srtp(stream, packets, options.force)
    if not packets:
        raise InputError(f"stream {stream.key} has no RTP packets in {path}")
    result = ExtractResult(out, kind, [stream])
    if kind is OutputKind.PCAP:
        write_pcap(path, out, stream)
        result.duration_s = (packets[-1].arrival_ns - packets[0].arrival_ns) / 1e9
        return result
    choice, timeline, decoder = build_stream_timeline(
        stream, packets, options, require_codec=kind is not OutputKind.RAW
    )
    result.codec, result.payload_type = choice.spec, choice.payload_type
    result.reports.append(timeline.report)
    if not timeline.items:
        raise MediaError(f"stream {stream.key} has no {choice.spec.name} audio packets")
    if kind is OutputKind.WAV:
        if decoder is None:
            make_decoder(choice.spec)  # raises the MediaError that says why
            raise MediaError(f"no decoder for {choice.spec}")
        _check_rate_channels(options)
        result.sample_rate, result.channels, result.duration_s = write_wav(
            out, timeline, decoder, options.rate, options.channels, options.progress
        )
    elif kind is OutputKind.OPUS:
        if choice.spec.name != "opus":
            raise InvalidArgument(
                "kind",
                f"Ogg Opus holds Opus without re-encoding; this stream is {choice.spec.name}: "
                "write .wav instead",
            )
        result.channels, result.duration_s = write_ogg_opus(out, timeline)
        result.sample_rate = 48000
    elif kind is OutputKind.SILK:
        if choice.spec.name != "silk":
            raise InvalidArgument(
                "kind", f"a SILK bitstream holds SILK; this stream is {choice.spec.name}"
            )
        data = _encode_silk_with_losses(silk_records(timeline), options.tencent)
        _write_bytes(out, data)
        result.sample_rate, result.channels = choice.spec.clock_rate, 1
        result.duration_s = timeline.report.duration_s
    elif kind is OutputKind.RAW:
        _write_bytes(out, b"".join(f.payload for f in timeline.frames))
        result.duration_s = timeline.report.duration_s
        if decoder is None:  # the clock is unknown: say how long the capture saw it
            result.duration_s = (packets[-1].arrival_ns - packets[0].arrival_ns) / 1e9
    return result


def _check_rate_channels(options: ExtractOptions) -> None:
    if options.rate is not None and not 8000 <= options.rate <= 48000:
        raise InvalidArgument("rate", f"{options.rate}: expected 8000..48000")
    if options.channels is not None and options.channels not in (1, 2):
        raise InvalidArgument("channels", f"{options.channels}: expected 1 or 2")


def _write_bytes(path: Path, data: bytes) -> None:
    write_output(path, data)  # O_EXCL temporary name + rename; OS errors are OutputError


def extract_mix(
    path: str | os.PathLike[str],
    streams: Sequence[MediaStream],
    out: Path,
    options: ExtractOptions,
    collected: dict[StreamKey, list[TimelinePacket]] | None = None,
) -> ExtractResult:
    """Both directions of a call in one stereo WAV (first stream left, second right),
    aligned by capture time as Wireshark's RTP player does."""
    if len(streams) != 2:
        raise InvalidArgument(
            "mix", f"stereo needs exactly two streams; the selection has {len(streams)}"
        )
    if (options.kind or output_kind(out)) is not OutputKind.WAV:
        raise InvalidArgument("mix", "stereo writes a .wav file")
    _check_rate_channels(options)
    if collected is None:
        collected = collect_packets(path, streams)
    rendered: list[tuple[int, Pcm, TimelineReport]] = []
    rates: list[int] = []
    prepared = []
    for stream in streams:
        packets = collected.get(stream.key) or []
        check_srtp(stream, packets, options.force)
        if not packets:
            raise InputError(f"stream {stream.key} has no RTP packets in {path}")
        choice, timeline, decoder = build_stream_timeline(stream, packets, options)
        if decoder is None:
            make_decoder(choice.spec)
            raise MediaError(f"no decoder for {choice.spec}")
        prepared.append((timeline, decoder))
        rates.append(decoder.output_rate)
    rate = options.rate or max(rates)
    for timeline, decoder in prepared:
        _, _, _, chunks = render_pcm(timeline, decoder, rate, 1)
        parts = [c for c in chunks if len(c)]
        pcm = np.concatenate(parts) if parts else np.zeros((0, 1), np.int16)
        start_ns = timeline.report.first_arrival_ns or 0
        rendered.append((start_ns, pcm, timeline.report))
    origin = min(start for start, _, _ in rendered)
    offsets = [round((start - origin) * rate / 1e9) for start, _, _ in rendered]
    length = max(offset + len(pcm) for offset, (_, pcm, _) in zip(offsets, rendered, strict=True))
    stereo = np.zeros((length, 2), dtype=np.int16)
    for channel, (offset, (_, pcm, _)) in enumerate(zip(offsets, rendered, strict=True)):
        stereo[offset : offset + len(pcm), channel] = pcm[:, 0]
    with WavWriter(out, rate, 2) as wav:
        wav.write(stereo)
    return ExtractResult(
        out,
        OutputKind.WAV,
        list(streams),
        sample_rate=rate,
        channels=2,
        duration_s=length / rate,
        reports=[r for _, _, r in rendered],
    )


def stream_file_name(stream: MediaStream, kind: OutputKind) -> str:
    """A file name made from the stream's index and SSRC only (never from packet text)."""
    extension = {OutputKind.SILK: "bit"}.get(kind, kind.value)
    return f"stream-{stream.index}-0x{stream.key.ssrc:08X}.{extension}"


def per_stream_path(out: Path, stream: MediaStream, kind: OutputKind) -> Path:
    """Where one of several streams goes: inside ``out`` when it is a directory, else beside
    it as ``STEM-<index>-0x<SSRC>.EXT``."""
    if out.is_dir() or not out.suffix:
        make_output_dir(out)
        return out / stream_file_name(stream, kind)
    return out.with_name(f"{out.stem}-{stream.index}-0x{stream.key.ssrc:08X}{out.suffix}")


def select_streams(
    streams: Sequence[MediaStream],
    *,
    index: int | None = None,
    ssrc: int | None = None,
    call_id: str | None = None,
) -> list[MediaStream]:
    """``--stream N`` (1-based, as listed), ``--ssrc``, ``--call``; one of them, or none when
    the capture has exactly one stream."""
    given = sum(x is not None for x in (index, ssrc, call_id))
    if given > 1:
        raise InvalidArgument("choice", "name the streams one way: by index, by SSRC or by call")
    if index is not None:
        if not 1 <= index <= len(streams):
            raise InvalidArgument("index", f"{index}: the capture has {len(streams)} RTP streams")
        return [streams[index - 1]]
    if ssrc is not None:
        chosen = [s for s in streams if s.key.ssrc == ssrc]
        if not chosen:
            raise InvalidArgument("ssrc", f"0x{ssrc:08X}: no RTP stream has that SSRC")
        return chosen
    if call_id is not None:
        chosen = [s for s in streams if s.call_id == call_id]
        if not chosen:
            raise InvalidArgument("call_id", f"{call_id}: no RTP stream belongs to that call")
        return chosen
    if len(streams) == 1:
        return list(streams)
    if not streams:
        raise InputError("no RTP stream found in the capture")
    raise InvalidArgument(
        "choice", f"the capture has {len(streams)} RTP streams: choose by index, SSRC or call"
    )
