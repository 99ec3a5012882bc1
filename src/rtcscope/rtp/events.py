"""RFC 4733 telephone-events (DTMF and the other tones and signals) and RFC 3389 comfort noise
payloads.

RFC 4733 2.3: a telephone-event payload is event (8 bits), E (end), R, volume (6 bits) and
duration (16 bits, in timestamp units). One key press is one *event*: every packet of it has
the same RTP timestamp (2.5.1.1 "the RTP timestamp ... is the time at which the event
started"), and its end is sent three times (2.5.1.4), with the same or new sequence numbers.
So :class:`DtmfDetector` keys an event by (SSRC, timestamp): repeats are one event, not loss.

Only events 0-15 are digits (RFC 4733 3.2). 16 is flash; 32-63 are the modem, fax and text
telephony tones of RFC 4734 (ANS 32, CNG 36, the V.21 bits 37-40, ...); 64-191 the line and
trunk tones and signals of RFC 5244; 192 and up are used by Cisco's Named Signalling Events
(NSE: "shift to fax relay", "disable echo cancellation") and are named as vendor events
(RFC 5244's MFC backward signals overlap them). None of these is printed as a digit: a fax
answer tone is not a key press.

RFC 3389 3: a comfort-noise payload is the noise level (-dBov, 7 bits) and optional
reflection coefficients.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import field
from enum import StrEnum

from rtcscope._dataclass import dataclass
from rtcscope.errors import RtpError

# RFC 4733 3.2 table: events 0-9 are the digits, then *, #, A-D; 16 is flash.
DTMF_EVENT_NAMES = "0123456789*#ABCD"
FLASH_EVENT = 16
# From here on Cisco's Named Signalling Events (NSE) use the numbers (Wireshark names 192-203
# so). RFC 5244 also gives some of them to MFC backward signals; on a VoIP trunk NSE is the
# common meaning, and either way they are not digits.
FIRST_VENDOR_EVENT = 192


class EventKind(StrEnum):
    """What an RFC 4733 event stands for."""

    DIGIT = "digit"  # 0-15: DTMF keys
    FLASH = "flash"  # 16: hook flash
    TONE = "tone"  # 17-191: modem/fax/text tones (RFC 4734), line and trunk signals (RFC 5244)
    VENDOR = "vendor"  # 192-255: Cisco NSE and other private uses


# RFC 4734 3 (the IANA table): data, fax and text telephony events. Short names as an engineer
# reads them in a trace; the standard's abbreviations where it has one.
_MODEM_FAX_NAMES: dict[int, str] = {
    23: "CRd second segment (V.8 bis)",
    24: "CRe second segment (V.8 bis)",
    25: "MRd second segment (V.8 bis)",
    26: "MRe second segment (V.8 bis)",
    27: "V.32 AC",
    28: "V.8 bis initiating segment",
    29: "V.8 bis responding segment",
    30: "V.21 low channel 300 bit/s",
    31: "V.21 high channel 300 bit/s",
    32: "ANS",
    33: "/ANS",
    34: "ANSam",
    35: "/ANSam",
    36: "CNG",
    37: "V.21 channel 1 bit 0",
    38: "V.21 channel 1 bit 1",
    39: "V.21 channel 2 bit 0",
    40: "V.21 channel 2 bit 1",
    41: "CRdi",
    42: "CRdr",
    43: "CRe",
    44: "ESi",
    45: "ESr",
    46: "MRdi",
    47: "MRdr",
    48: "MRe",
    49: "CT",
    52: "ANS2225",
    53: "CI",
    54: "V.21 preamble flag",
    55: "V.21 110 bit/s text",
    56: "Bell 103 text",
    57: "V.23 main channel",
    58: "V.23 back channel",
    59: "Baudot 45.45 bit/s",
    60: "Baudot 50 bit/s",
    61: "VBD (unidentified modem)",
    62: "XCI mark",
    63: "V.32 AA",
}

# RFC 5244 (line and trunk events; the tones RFC 2833 listed): the ones seen in practice.
_LINE_NAMES: dict[int, str] = {
    64: "off-hook",
    65: "on-hook",
    66: "dial tone",
    70: "ringing tone",
    72: "busy tone",
    73: "congestion tone",
    74: "special information tone",
    76: "hold tone",
    79: "call waiting tone",
    88: "off-hook warning tone",
    89: "ring",
    160: "wink",
    162: "incoming seizure",
    163: "seizure",
    164: "unseize circuit",
    173: "milliwatt tone 1004 Hz",
}


def event_kind(event: int) -> EventKind:
    if 0 <= event < len(DTMF_EVENT_NAMES):
        return EventKind.DIGIT
    if event == FLASH_EVENT:
        return EventKind.FLASH
    if event >= FIRST_VENDOR_EVENT:
        return EventKind.VENDOR
    return EventKind.TONE


def event_name(event: int) -> str:
    """'0'..'9', '*', '#', 'A'..'D'; 'flash'; a tone's name ('ANS', 'CNG', 'busy tone', ...);
    'MF 5', 'ABCD 0101', 'MFC forward 3' for the trunk signal ranges of RFC 5244;
    'vendor (Cisco NSE 194)' from 192 on; 'event N' for an unassigned number."""
    kind = event_kind(event)
    if kind is EventKind.DIGIT:
        return DTMF_EVENT_NAMES[event]
    if kind is EventKind.FLASH:
        return "flash"
    if kind is EventKind.VENDOR:
        return f"vendor (Cisco NSE {event})"
    known = _MODEM_FAX_NAMES.get(event) or _LINE_NAMES.get(event)
    if known:
        return known
    if 128 <= event <= 137:
        return f"MF {event - 128}"
    if 144 <= event <= 159:
        return f"ABCD {event - 144:04b}"
    if 176 <= event <= 190:
        return f"MFC forward {event - 175}"
    if event == 191:
        return "MFC backward 1"
    return f"event {event}"


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 event block (2.3)."""

    event: int
    end: bool
    volume: int  # 0..63, -dBm0 (2.3.4)
    duration: int  # in RTP timestamp units
    reserved: bool = False

    @classmethod
    def parse(cls, data: bytes | memoryview) -> TelephoneEvent:
        if len(data) < 4:
            raise RtpError(f"telephone-event payload is {len(data)} bytes, not 4", len(data))
        event, flags, duration = struct.unpack_from("!BBH", data, 0)
        return cls(
            event=event,
            end=bool(flags & 0x80),
            reserved=bool(flags & 0x40),
            volume=flags & 0x3F,
            duration=duration,
        )

    def encode(self) -> bytes:
        flags = (0x80 if self.end else 0) | (0x40 if self.reserved else 0) | (self.volume & 0x3F)
        return struct.pack("!BBH", self.event, flags, self.duration)

    @property
    def name(self) -> str:
        return event_name(self.event)

    @property
    def kind(self) -> EventKind:
        return event_kind(self.event)


@dataclass(frozen=True, slots=True)
class ComfortNoise:
    """RFC 3389 3: noise level in -dBov and the reflection coefficients (raw bytes)."""

    level_dbov: int
    coefficients: bytes = b""

    @classmethod
    def parse(cls, data: bytes | memoryview) -> ComfortNoise:
        if not data:
            raise RtpError("comfort noise payload is empty", 0)
        return cls(level_dbov=-(data[0] & 0x7F), coefficients=bytes(data[1:]))

    def encode(self) -> bytes:
        return bytes([-self.level_dbov & 0x7F]) + self.coefficients


@dataclass(slots=True)
class EventShape:
    """Tells RFC 4733 events from audio when no rtpmap names the payload type, by shape.

    RFC 4733 2.3 and 2.5.1: every payload is 4 bytes (event, E/R/volume, duration); the
    packets of one event repeat its start timestamp while the duration grows (never shrinks),
    and the end (E bit) is repeated with the same duration. Audio advances the timestamp with
    nearly every packet, so most of its packets would start a new "event". Packets are fed in
    arrival order; a little reordering or loss is forgiven (one misfit in 20)."""

    packets: int = 0
    repeats: int = 0  # packets that continue the previous packet's event
    misfits: int = 0  # packets no event stream would send
    _last: tuple[int, int, int, bool] | None = None  # timestamp, event, duration, end

    def feed(self, timestamp: int, payload: bytes | memoryview) -> None:
        self.packets += 1
        if len(payload) != 4:
            self.misfits += 1
            self._last = None
            return
        event, flags, duration = struct.unpack_from("!BBH", payload, 0)
        end = bool(flags & 0x80)
        if flags & 0x40:  # R: "MUST be set to zero by the sender" (2.3.3)
            self.misfits += 1
        last = self._last
        if last is not None and last[0] == timestamp:
            _, last_event, last_duration, last_end = last
            if event != last_event or duration < last_duration or (last_end and not end):
                self.misfits += 1
            else:
                self.repeats += 1
        self._last = (timestamp, event, duration, end)

    @property
    def looks_like_events(self) -> bool:
        """Most packets continue an event (repeats outnumber new timestamps) and hardly any
        misfit."""
        return (
            self.packets > 0
            and 2 * self.repeats >= self.packets
            and 20 * self.misfits <= self.packets
        )


def looks_like_telephone_events(packets: Iterable[tuple[int, bytes | memoryview]]) -> bool:
    """True when (RTP timestamp, payload) pairs in arrival order have the shape of RFC 4733
    events (see :class:`EventShape`)."""
    shape = EventShape()
    for timestamp, payload in packets:
        shape.feed(timestamp, payload)
    return shape.looks_like_events


@dataclass(slots=True)
class DtmfDigit:
    """One event (a key press, a flash, a tone): its first and last packet's capture time,
    RTP timestamp and duration. Only events of kind ``digit`` are key presses."""

    ssrc: int
    event: int
    rtp_timestamp: int
    first_frame: int
    start_ns: int
    end_ns: int
    duration: int  # timestamp units, the largest seen
    volume: int
    ended: bool
    packets: int = 1
    end_packets: int = 0
    clock_rate: int = 8000  # the telephone-event rtpmap's (RFC 4733 2.1), 8000 when unknown

    @property
    def name(self) -> str:
        return event_name(self.event)

    @property
    def kind(self) -> EventKind:
        return event_kind(self.event)

    @property
    def digit(self) -> str | None:
        """The key ('0'..'9', '*', '#', 'A'..'D'), None for any other event."""
        return DTMF_EVENT_NAMES[self.event] if self.kind is EventKind.DIGIT else None

    @property
    def duration_ms(self) -> float:
        return self.duration * 1000.0 / self.clock_rate if self.clock_rate else 0.0


@dataclass(slots=True)
class DtmfDetector:
    """Collects digits from the telephone-event packets of any number of streams."""

    digits: list[DtmfDigit] = field(default_factory=list)
    # Whether the packets look like events at all (what decides when no rtpmap says so).
    shape: EventShape = field(default_factory=EventShape)
    _open: dict[tuple[int, int], DtmfDigit] = field(default_factory=dict)

    def feed(
        self,
        frame: int,
        ts_ns: int,
        ssrc: int,
        rtp_timestamp: int,
        payload: bytes,
        clock_rate: int = 8000,
    ) -> None:
        """One telephone-event packet; a malformed payload counts only against the shape."""
        self.shape.feed(rtp_timestamp, payload)
        try:
            event = TelephoneEvent.parse(payload)
        except RtpError:
            return
        key = (ssrc, rtp_timestamp)
        digit = self._open.get(key)
        if digit is None or digit.event != event.event:
            digit = DtmfDigit(
                ssrc=ssrc,
                event=event.event,
                rtp_timestamp=rtp_timestamp,
                first_frame=frame,
                start_ns=ts_ns,
                end_ns=ts_ns,
                duration=event.duration,
                volume=event.volume,
                ended=event.end,
                packets=0,
                clock_rate=clock_rate or 8000,
            )
            self._open[key] = digit
            self.digits.append(digit)
        digit.packets += 1
        digit.end_ns = ts_ns
        digit.duration = max(digit.duration, event.duration)
        if event.end:
            digit.ended = True
            digit.end_packets += 1
