"""Demultiplexing one UDP port (RFC 7983 7, RFC 5764 5.1.2, RFC 5761 4).

The first byte decides: 0-3 STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN ChannelData, 128-191
RTP or RTCP. RTP and RTCP on one port (rtcp-mux) are told apart by the second byte: RTCP packet
types 192-223 (RFC 5761 4, which is why RTP payload types 64-95 are avoided there).

STUN messages (RFC 8489 5, 14) and TURN ChannelData (RFC 8656 12.4) are parsed here too,
since the stream scanner needs to skip them and, for ChannelData, to look inside.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from rtcscope.errors import RtpError

STUN_MAGIC_COOKIE = 0x2112A442


class Kind(Enum):
    STUN = "stun"
    ZRTP = "zrtp"
    DTLS = "dtls"
    TURN_CHANNEL = "turn-channel"
    RTP = "rtp"
    RTCP = "rtcp"
    UNKNOWN = "unknown"


def classify(data: bytes | memoryview) -> Kind:
    """What a datagram on a multiplexed media port is, from its first two bytes."""
    if not data:
        return Kind.UNKNOWN
    first = data[0]
    if first <= 3:
        return Kind.STUN
    if 16 <= first <= 19:
        return Kind.ZRTP
    if 20 <= first <= 63:
        return Kind.DTLS
    if 64 <= first <= 79:
        return Kind.TURN_CHANNEL
    if 128 <= first <= 191:
        if len(data) >= 2 and 192 <= data[1] <= 223:
            return Kind.RTCP
        return Kind.RTP
    return Kind.UNKNOWN


class StunClass(Enum):
    REQUEST = 0
    INDICATION = 1
    SUCCESS = 2
    ERROR = 3


STUN_METHODS = {
    0x001: "Binding",
    0x003: "Allocate",
    0x004: "Refresh",
    0x006: "Send",
    0x007: "Data",
    0x008: "CreatePermission",
    0x009: "ChannelBind",
}


@dataclass(frozen=True, slots=True)
class StunMessage:
    """RFC 8489 5: a STUN message with its attributes as (type, value) pairs."""

    method: int
    stun_class: StunClass
    transaction_id: bytes
    attributes: tuple[tuple[int, bytes], ...] = ()

    @property
    def method_name(self) -> str:
        return STUN_METHODS.get(self.method, f"method-0x{self.method:03x}")

    @classmethod
    def parse(cls, data: bytes | memoryview) -> StunMessage:
        size = len(data)
        if size < 20:
            raise RtpError(f"STUN message is {size} bytes, shorter than its 20-byte header", 0)
        msg_type, length, cookie = struct.unpack_from("!HHI", data, 0)
        if msg_type & 0xC000:
            raise RtpError("STUN message type has its two top bits set", 0)
        if cookie != STUN_MAGIC_COOKIE:
            raise RtpError(f"STUN magic cookie is 0x{cookie:08x}", 4)
        if length % 4:
            raise RtpError(f"STUN length {length} is not a multiple of 4", 2)
        if 20 + length > size:
            raise RtpError(f"STUN body of {length} bytes runs past the datagram ({size})", 2)
        # RFC 8489 5: the class bits are C1 (bit 8) and C0 (bit 4); the method is the rest.
        klass = ((msg_type >> 7) & 0x2) | ((msg_type >> 4) & 0x1)
        method = (msg_type & 0x000F) | ((msg_type >> 1) & 0x0070) | ((msg_type >> 2) & 0x0F80)
        attributes = []
        offset = 20
        end = 20 + length
        while offset < end:
            if offset + 4 > end:
                raise RtpError("STUN attribute header is truncated", offset)
            attr_type, attr_len = struct.unpack_from("!HH", data, offset)
            if offset + 4 + attr_len > end:
                raise RtpError(f"STUN attribute 0x{attr_type:04x} runs past the message", offset)
            attributes.append((attr_type, bytes(data[offset + 4 : offset + 4 + attr_len])))
            offset += 4 + attr_len + (-attr_len % 4)  # values are padded to 4 bytes (14)
        return cls(method, StunClass(klass), bytes(data[8:20]), tuple(attributes))

    def encode(self) -> bytes:
        body = bytearray()
        for attr_type, value in self.attributes:
            body += struct.pack("!HH", attr_type, len(value)) + value + bytes(-len(value) % 4)
        klass = self.stun_class.value
        m = self.method
        msg_type = (
            (m & 0x000F)
            | ((m & 0x0070) << 1)
            | ((m & 0x0F80) << 2)
            | ((klass & 0x1) << 4)
            | ((klass & 0x2) << 7)
        )
        if len(self.transaction_id) != 12:
            raise RtpError("STUN transaction id must be 12 bytes")
        return (
            struct.pack("!HHI", msg_type, len(body), STUN_MAGIC_COOKIE)
            + self.transaction_id
            + bytes(body)
        )


@dataclass(frozen=True, slots=True)
class ChannelData:
    """RFC 8656 12.4: TURN ChannelData, channel numbers 0x4000-0x4FFF."""

    channel: int
    data: bytes

    @classmethod
    def parse(cls, data: bytes | memoryview) -> ChannelData:
        if len(data) < 4:
            raise RtpError("TURN ChannelData header is truncated", 0)
        channel, length = struct.unpack_from("!HH", data, 0)
        if not 0x4000 <= channel <= 0x4FFF:
            raise RtpError(f"TURN channel number 0x{channel:04x} is outside 0x4000-0x4FFF", 0)
        if 4 + length > len(data):
            raise RtpError(f"TURN ChannelData of {length} bytes runs past the datagram", 2)
        return cls(channel, bytes(data[4 : 4 + length]))

    def encode(self) -> bytes:
        return struct.pack("!HH", self.channel, len(self.data)) + self.data
