"""RFC 4733 telephone-events (DTMF) and RFC 3389 comfort noise payloads, and DTMF digits.

RFC 4733 2.3: a telephone-event payload is event (8 bits), E (end), R, volume (6 bits) and
duration (16 bits, in timestamp units). One key press is one *event*: every packet of it has
the same RTP timestamp (2.5.1.1 "the RTP timestamp ... is the time at which the event
started"), and its end is sent three times (2.5.1.4), with the same or new sequence numbers.
So :class:`DtmfDetector` keys a digit by (SSRC, timestamp): repeats are one digit, not loss.

RFC 3389 3: a comfort-noise payload is the noise level (-dBov, 7 bits) and optional
reflection coefficients.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from rtcscope.errors import RtpError

# RFC 4733 3.2 table: events 0-9 are the digits, then *, #, A-D; 16 is flash.
DTMF_EVENT_NAMES = "0123456789*#ABCD"
FLASH_EVENT = 16


def event_name(event: int) -> str:
    """'0'..'9', '*', '#', 'A'..'D', 'flash', or 'event-N' for the rest."""
    if 0 <= event < len(DTMF_EVENT_NAMES):
        return DTMF_EVENT_NAMES[event]
    if event == FLASH_EVENT:
        return "flash"
    return f"event-{event}"


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
class DtmfDigit:
    """One key press: its first and last packet's capture time, RTP timestamp and duration."""

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
    def digit(self) -> str:
        return event_name(self.event)

    @property
    def duration_ms(self) -> float:
        return self.duration * 1000.0 / self.clock_rate if self.clock_rate else 0.0


@dataclass(slots=True)
class DtmfDetector:
    """Collects digits from the telephone-event packets of any number of streams."""

    digits: list[DtmfDigit] = field(default_factory=list)
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
        """One telephone-event packet; a malformed payload is ignored (counted nowhere)."""
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
