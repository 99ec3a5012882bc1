"""One RTP stream's audio timeline, and its rendering to PCM that lasts as long as the call.

:func:`build_timeline` takes the stream's packets in arrival order and returns what a receiver
should play, in RTP clock units from the first audio timestamp:

- sequence numbers are extended over wraps (RFC 3550 A.1) and packets put back in order when
  they arrive late by at most ``reorder_window`` packets; later ones are dropped, as a jitter
  buffer would, and counted; duplicates are dropped and counted;
- timestamps are extended over their 32-bit wrap, in sequence order;
- telephone-events (RFC 4733) and comfort noise (RFC 3389) share the sequence space but are
  never audio for the decoder: the time they cover becomes silence, not loss;
- RFC 2198 redundancy is unpacked: the primary block is the packet's audio, redundant blocks
  fill losses whose time they cover;
- a timestamp jump without a sequence gap is DTX (silence); a sequence gap is loss, filled by
  the codec's concealment where it has one (:meth:`Decoder.conceal`), silence otherwise.

:func:`render_audio` turns a timeline into int16 PCM chunks through a decoder. Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

import numpy as np

from rtcscope.errors import MediaError, RtpError
from rtcscope.media.codecs import Decoder, Pcm

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
DEFAULT_REORDER_WINDOW = 64
DECODE_SLICE = 500  # frames decoded and placed at a time (10 s of 20 ms packets)


class GapKind(StrEnum):
    LOSS = "loss"  # sequence numbers missing
    DTX = "dtx"  # timestamps jump, no packet missing (RFC 3551 4.1, RFC 7587 3.1.3)
    COMFORT_NOISE = "comfort-noise"  # RFC 3389 CN packets stood for the audio
    EVENT = "telephone-event"  # RFC 4733 events stood for the audio
    OTHER = "other-payload"  # packets of another payload type stood for the audio


class PayloadRole(StrEnum):
    AUDIO = "audio"
    COMFORT_NOISE = "cn"
    EVENT = "event"
    RED = "red"
    OTHER = "other"


@dataclass(slots=True)
class TimelinePacket:
    """What the timeline needs of one RTP packet (header fields already parsed). Not frozen:
    an hour of audio is 180,000 of them, and frozen dataclasses build slower."""

    seq: int
    timestamp: int
    arrival_ns: int
    marker: bool
    payload_type: int
    payload: bytes


@dataclass(slots=True)
class Frame:
    position: int  # RTP clock units from the stream's first audio timestamp
    duration: int  # clock units
    payload: bytes
    seq: int | None  # extended sequence number; None for a block recovered from RFC 2198
    arrival_ns: int


@dataclass(frozen=True, slots=True)
class Gap:
    position: int
    length: int
    kind: GapKind
    lost_packets: int = 0


@dataclass(slots=True)
class TimelineReport:
    """What ``extract --report`` prints: counts and every gap."""

    clock_rate: int
    packets: int = 0
    audio_packets: int = 0
    duplicates: int = 0
    reordered: int = 0
    too_late: int = 0
    lost: int = 0
    recovered_from_red: int = 0
    timestamp_backwards: int = 0
    timestamp_jumps: int = 0  # discontinuities re-based on capture time
    seq_wraps: int = 0
    timestamp_wraps: int = 0
    comfort_noise_packets: int = 0
    event_packets: int = 0
    other_packets: int = 0
    first_timestamp: int | None = None
    last_timestamp: int | None = None
    first_arrival_ns: int | None = None
    duration: int = 0  # clock units
    gaps: list[Gap] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.duration / self.clock_rate

    def count(self, kind: GapKind) -> int:
        return sum(1 for g in self.gaps if g.kind is kind)

    def as_dict(self) -> dict[str, object]:
        return {
            "clock_rate": self.clock_rate,
            "packets": self.packets,
            "audio_packets": self.audio_packets,
            "duration_s": round(self.duration_s, 6),
            "lost": self.lost,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "too_late": self.too_late,
            "recovered_from_red": self.recovered_from_red,
            "timestamp_backwards": self.timestamp_backwards,
            "timestamp_jumps": self.timestamp_jumps,
            "seq_wraps": self.seq_wraps,
            "timestamp_wraps": self.timestamp_wraps,
            "comfort_noise_packets": self.comfort_noise_packets,
            "event_packets": self.event_packets,
            "other_packets": self.other_packets,
            "gaps": [
                {
                    "start_s": round(g.position / self.clock_rate, 6),
                    "length_s": round(g.length / self.clock_rate, 6),
                    "kind": g.kind.value,
                    "lost_packets": g.lost_packets,
                }
                for g in self.gaps
            ],
        }


@dataclass(slots=True)
class Timeline:
    clock_rate: int
    items: list[Frame | Gap]
    report: TimelineReport

    @property
    def duration(self) -> int:
        return self.report.duration

    @property
    def frames(self) -> list[Frame]:
        return [i for i in self.items if isinstance(i, Frame)]


@dataclass(frozen=True, slots=True)
class RedBlock:
    payload_type: int
    timestamp_offset: int  # 0 for the primary block
    data: bytes


def parse_red(payload: bytes) -> list[RedBlock]:
    """RFC 2198 3: block headers (F, PT, 14-bit timestamp offset, 10-bit length), the last
    one a single byte (F=0, PT); then the blocks in the same order, the primary last."""
    headers: list[tuple[int, int, int | None]] = []
    offset = 0
    while True:
        if offset >= len(payload):
            raise RtpError(f"RFC 2198 payload truncated in its headers at offset {offset}", offset)
        first = payload[offset]
        if first & 0x80 == 0:
            headers.append((first & 0x7F, 0, None))
            offset += 1
            break
        if offset + 4 > len(payload):
            raise RtpError(f"RFC 2198 block header truncated at offset {offset}", offset)
        word = int.from_bytes(payload[offset + 1 : offset + 4], "big")
        headers.append((first & 0x7F, word >> 10, word & 0x3FF))
        offset += 4
    blocks: list[RedBlock] = []
    for pt, ts_offset, length in headers:
        size = len(payload) - offset if length is None else length
        if offset + size > len(payload):
            raise RtpError(
                f"RFC 2198 block of {size} bytes at offset {offset} overruns the payload", offset
            )
        blocks.append(RedBlock(pt, ts_offset, bytes(payload[offset : offset + size])))
        offset += size
    return blocks


@dataclass(slots=True)
class _Kept:
    ext_seq: int
    packet: TimelinePacket
    ext_ts: int = 0


def _signed(delta: int, modulus: int) -> int:
    delta %= modulus
    return delta - modulus if delta >= modulus // 2 else delta


def build_timeline(
    packets: Iterable[TimelinePacket],
    *,
    audio_payload_type: int,
    clock_rate: int,
    roles: dict[int, PayloadRole] | None = None,
    duration_of: Callable[[bytes], int | None] | None = None,
    reorder_window: int = DEFAULT_REORDER_WINDOW,
) -> Timeline:
    """Order, de-duplicate and classify one stream's packets (arrival order) into frames and
    gaps. ``roles`` names payload types that are not the audio one (CN, events, RED); any
    other payload type counts as OTHER. ``duration_of`` gives a payload's clock duration when
    the payload tells (else the stream's usual timestamp step is used)."""
    roles = dict(roles or {})
    roles[audio_payload_type] = PayloadRole.AUDIO
    report = TimelineReport(clock_rate=clock_rate)

    # 1. Extend sequence numbers in arrival order; drop duplicates and packets too late.
    kept: list[_Kept] = []
    seen: set[int] = set()
    highest: int | None = None
    for packet in packets:
        report.packets += 1
        if highest is None:
            ext = packet.seq
            highest = ext
        else:
            ext = highest + _signed(packet.seq - highest, SEQ_MOD)
            if ext in seen:
                report.duplicates += 1
                continue
            if ext < highest:
                if highest - ext > reorder_window:
                    report.too_late += 1
                    continue
                report.reordered += 1
            elif ext > highest:
                report.seq_wraps += ext // SEQ_MOD - highest // SEQ_MOD
                highest = ext
        seen.add(ext)
        kept.append(_Kept(ext, packet))
    kept.sort(key=lambda k: k.ext_seq)

    # 2. Extend timestamps in sequence order.
    previous_ts: int | None = None
    for item in kept:
        ts = item.packet.timestamp
        if previous_ts is None:
            item.ext_ts = ts
        else:
            item.ext_ts = previous_ts + _signed(ts - previous_ts, TS_MOD)
            report.timestamp_wraps += item.ext_ts // TS_MOD - previous_ts // TS_MOD
        previous_ts = item.ext_ts

    # 3. Audio payloads (RED unpacked), and what stood between them.
    audio: list[tuple[_Kept, bytes]] = []
    redundant: dict[int, bytes] = {}  # extended timestamp -> payload
    # Roles seen since the previous audio packet; the shared empty one when none (the usual
    # case: no Counter per packet).
    nothing: Counter[PayloadRole] = Counter()
    between: list[Counter[PayloadRole]] = []
    pending = nothing
    for item in kept:
        role = roles.get(item.packet.payload_type, PayloadRole.OTHER)
        payload = item.packet.payload
        if role is PayloadRole.RED:
            try:
                blocks = parse_red(payload)
            except RtpError:
                report.other_packets += 1
                pending = pending if pending is not nothing else Counter()
                pending[PayloadRole.OTHER] += 1
                continue
            primary = blocks[-1]
            for block in blocks[:-1]:
                if block.payload_type == audio_payload_type and block.data:
                    redundant.setdefault(item.ext_ts - block.timestamp_offset, block.data)
            if primary.payload_type != audio_payload_type:
                role = roles.get(primary.payload_type, PayloadRole.OTHER)
            else:
                role = PayloadRole.AUDIO
            payload = primary.data
        if role is PayloadRole.AUDIO and payload:
            audio.append((item, payload))
            between.append(pending)
            pending = nothing
            continue
        pending = pending if pending is not nothing else Counter()
        pending[role] += 1
        if role is PayloadRole.COMFORT_NOISE:
            report.comfort_noise_packets += 1
        elif role is PayloadRole.EVENT:
            report.event_packets += 1
        else:
            report.other_packets += 1
    report.audio_packets = len(audio)
    if not audio:
        return Timeline(clock_rate, [], report)

    # 4. The usual timestamp step, for payloads whose size does not tell their duration.
    steps: Counter[int] = Counter()
    for (a, _), (b, _) in itertools.pairwise(audio):
        if b.ext_seq == a.ext_seq + 1 and b.ext_ts > a.ext_ts:
            steps[b.ext_ts - a.ext_ts] += 1
    usual_step = steps.most_common(1)[0][0] if steps else max(clock_rate // 50, 1)

    def duration(payload: bytes) -> int:
        told = duration_of(payload) if duration_of is not None else None
        return told if told else usual_step

    # 5. Walk the audio packets: frames, and gaps between them. A timestamp that goes back,
    # or leaps further ahead than the capture clock moved (plus a second), is a sender's
    # discontinuity (RFC 3550 5.1 allows a random start, not a jump): the stream is re-based
    # on capture time there, so one bad timestamp neither drops the rest nor adds hours.
    start = audio[0][0].ext_ts
    report.first_timestamp = audio[0][0].packet.timestamp
    report.first_arrival_ns = audio[0][0].packet.arrival_ns
    items: list[Frame | Gap] = []
    end = start  # (shifted) extended timestamp where the previous frame ends
    shift = 0  # added to extended timestamps after a discontinuity
    slack = clock_rate  # one second
    previous: _Kept | None = None
    previous_ts = start
    for (item, payload), stood_between in zip(audio, between, strict=True):
        ts = item.ext_ts + shift
        if previous is not None:
            arrival_gap_ns = item.packet.arrival_ns - previous.packet.arrival_ns
            clock_gap = arrival_gap_ns * clock_rate // 1_000_000_000
            if ts <= previous_ts or (arrival_gap_ns > 0 and ts - previous_ts > clock_gap + slack):
                if arrival_gap_ns <= 0:
                    report.timestamp_backwards += 1
                    continue
                steps_gone = max(round(clock_gap / usual_step), 1)
                rebased = previous_ts + steps_gone * usual_step
                shift += rebased - ts
                ts = rebased
                report.timestamp_jumps += 1
            missing = item.ext_seq - previous.ext_seq - 1
            if stood_between:
                missing -= sum(stood_between.values())
            missing = max(missing, 0)
            report.lost += missing
            if ts > end:
                kind = _gap_kind(missing, stood_between)
                _add_gap(items, report, redundant, end, ts, kind, missing, start, duration, shift)
        length = duration(payload)
        items.append(Frame(ts - start, length, payload, item.ext_seq, item.packet.arrival_ns))
        end = max(end, ts + length)
        previous, previous_ts = item, ts
    report.last_timestamp = previous.packet.timestamp if previous else None
    report.duration = end - start
    return Timeline(clock_rate, items, report)


def _gap_kind(missing: int, stood_between: Counter[PayloadRole]) -> GapKind:
    if missing:
        return GapKind.LOSS
    if stood_between[PayloadRole.COMFORT_NOISE]:
        return GapKind.COMFORT_NOISE
    if stood_between[PayloadRole.EVENT]:
        return GapKind.EVENT
    if stood_between[PayloadRole.OTHER] or stood_between[PayloadRole.RED]:
        return GapKind.OTHER
    return GapKind.DTX


def _add_gap(
    items: list[Frame | Gap],
    report: TimelineReport,
    redundant: dict[int, bytes],
    gap_start: int,
    gap_end: int,
    kind: GapKind,
    missing: int,
    origin: int,
    duration: Callable[[bytes], int],
    shift: int,
) -> None:
    """A gap from ``gap_start`` to ``gap_end`` (extended timestamps, ``shift`` added); for a
    loss, redundant RFC 2198 blocks that cover part of it become frames and split it."""
    cursor = gap_start
    if kind is GapKind.LOSS and redundant:
        for ts in sorted(t + shift for t in redundant if gap_start <= t + shift < gap_end):
            data = redundant[ts - shift]
            if ts > cursor:
                _append_gap(items, report, cursor - origin, ts - cursor, kind, missing)
                missing = 0
            length = duration(data)
            items.append(Frame(ts - origin, length, data, None, 0))
            report.recovered_from_red += 1
            cursor = ts + length
    if gap_end > cursor:
        _append_gap(items, report, cursor - origin, gap_end - cursor, kind, missing)


def _append_gap(
    items: list[Frame | Gap],
    report: TimelineReport,
    position: int,
    length: int,
    kind: GapKind,
    missing: int,
) -> None:
    gap = Gap(position, length, kind, missing)
    items.append(gap)
    report.gaps.append(gap)


def render_audio(
    timeline: Timeline, decoder: Decoder, chunk_samples: int | None = None
) -> Iterator[Pcm]:
    """Decode a timeline to int16 PCM ``(samples, channels)`` at ``decoder.output_rate``, in
    chunks, lasting exactly the timeline's duration. Frames go where their timestamps say;
    losses get the decoder's concealment, other gaps silence; a payload the decoder rejects
    is concealed like a loss."""
    ratio = _Scale(decoder.output_rate, timeline.clock_rate)
    total = ratio(timeline.duration)
    channels = decoder.channels
    chunk_samples = chunk_samples or decoder.output_rate
    buffered: list[Pcm] = []
    buffered_samples = 0
    cursor = 0
    previous_payload: bytes | None = None

    def place(position: int, pcm: Pcm) -> Iterator[Pcm]:
        nonlocal cursor, buffered_samples, buffered
        if position > cursor:
            pcm = np.concatenate([np.zeros((position - cursor, channels), np.int16), pcm])
        elif position < cursor:
            pcm = pcm[cursor - position :]
        pcm = pcm[: max(total - cursor, 0)]
        if len(pcm) == 0:
            return
        buffered.append(pcm)
        buffered_samples += len(pcm)
        cursor += len(pcm)
        if buffered_samples >= chunk_samples:
            yield np.concatenate(buffered) if len(buffered) > 1 else buffered[0]
            buffered, buffered_samples = [], 0

    items = timeline.items
    index = 0
    while index < len(items):
        item = items[index]
        if isinstance(item, Gap):
            gap_start = ratio(item.position)
            gap_end = ratio(item.position + item.length)
            if gap_end > cursor:
                if item.kind is GapKind.LOSS:
                    pcm = decoder.conceal(gap_end - max(cursor, gap_start), previous_payload)
                else:
                    pcm = np.zeros((gap_end - max(cursor, gap_start), channels), np.int16)
                yield from place(max(cursor, gap_start), pcm)
            index += 1
            continue
        run: list[Frame] = []
        while index < len(items) and isinstance(items[index], Frame):
            frame = items[index]
            assert isinstance(frame, Frame)
            run.append(frame)
            index += 1
        # Long runs in slices (state carries over in the decoder) so memory stays flat.
        size = DECODE_SLICE if decoder.incremental else len(run)
        for first in range(0, len(run), size):
            for position, pcm in _decode_run(run[first : first + size], decoder, ratio):
                yield from place(position, pcm)
        previous_payload = run[-1].payload
    if cursor < total:
        yield from place(cursor, np.zeros((total - cursor, channels), np.int16))
    if buffered:
        yield np.concatenate(buffered) if len(buffered) > 1 else buffered[0]


class _Scale:
    """Clock units -> output samples, rounded half up, in integers (Fraction arithmetic per
    frame costs seconds over an hour of packets)."""

    __slots__ = ("den", "num")

    def __init__(self, output_rate: int, clock_rate: int) -> None:
        ratio = Fraction(output_rate, clock_rate)
        self.num, self.den = ratio.numerator, ratio.denominator

    def __call__(self, units: int) -> int:
        if self.den == 1:
            return units * self.num
        return (2 * units * self.num + self.den) // (2 * self.den)


def _decode_run(run: list[Frame], decoder: Decoder, ratio: _Scale) -> list[tuple[int, Pcm]]:
    """Decoded audio of a gap-free run of frames, with output positions."""
    payloads = [f.payload for f in run]
    positions = [ratio(f.position) for f in run]
    joined = decoder.decode_joined(payloads)
    if joined is not None:  # one array for the run, without an array per frame
        return _placed(positions, *joined)
    try:
        decoded = decoder.decode_run(payloads)
    except MediaError:
        decoded = []
        for frame in run:  # decode what can be decoded; conceal the rest
            length = ratio(frame.duration)
            try:
                decoded.append(decoder.decode(frame.payload))
            except MediaError:
                decoded.append(decoder.conceal(length, None))
    if len(decoded) == len(run):
        return _placed(positions, np.concatenate(decoded), [len(pcm) for pcm in decoded])
    pcm = np.concatenate(decoded) if decoded else np.zeros((0, decoder.channels), np.int16)
    return [(positions[0], pcm)]


def _placed(positions: list[int], block: Pcm, counts: list[int]) -> list[tuple[int, Pcm]]:
    """The frames' audio (``counts`` samples each, one after the other in ``block``) at their
    positions: one block when they are back to back (the usual case), else each alone."""
    if all(
        position + count == following
        for position, count, following in zip(positions, counts, positions[1:], strict=False)
    ):
        return [(positions[0], block)]
    ends = itertools.accumulate(counts)
    return [
        (position, block[end - count : end])
        for position, count, end in zip(positions, counts, ends, strict=True)
    ]
