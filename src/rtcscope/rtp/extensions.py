"""RTP header extensions: the RFC 8285 one- and two-byte forms, and RFC 6464 audio level.

RFC 8285 4.2: the one-byte form has profile 0xBEDE; each element is a byte with a 4-bit ID and
a 4-bit length-minus-one, then 1..16 bytes. ID 0 is a padding byte; ID 15 is reserved and stops
processing. RFC 8285 4.3: the two-byte form has profile 0x100 in its top 12 bits (the low 4
are "appbits"); each element is an 8-bit ID and an 8-bit length (0..255), ID 0 is padding.

Which ID means what (audio level, abs-send-time, mid, ...) is negotiated by ``a=extmap``
(RFC 8285 5); without it an element is only an ID and bytes.
"""

from __future__ import annotations

from rtcscope._dataclass import dataclass
from rtcscope.errors import RtpError

ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # the top 12 bits; the low 4 are appbits (RFC 8285 4.3)
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"  # RFC 6464


@dataclass(frozen=True, slots=True)
class HeaderExtension:
    """One RFC 8285 element: its local ID and value bytes."""

    id: int
    data: bytes


def is_one_byte(profile: int) -> bool:
    return profile == ONE_BYTE_PROFILE


def is_two_byte(profile: int) -> bool:
    return profile & 0xFFF0 == TWO_BYTE_PROFILE


def parse_header_extensions(profile: int, data: bytes) -> list[HeaderExtension]:
    """Elements of an RFC 8285 header extension; other profiles give an empty list.

    A malformed element (its length runs past the extension) raises RtpError.
    """
    elements: list[HeaderExtension] = []
    size = len(data)
    offset = 0
    if is_one_byte(profile):
        while offset < size:
            byte = data[offset]
            if byte == 0:  # padding between or after elements (RFC 8285 4.2)
                offset += 1
                continue
            ext_id, length = byte >> 4, (byte & 0x0F) + 1
            if ext_id == 15:  # reserved: "the rest of the header extension" is not to be read
                break
            if offset + 1 + length > size:
                raise RtpError(
                    f"one-byte header extension element {ext_id} of {length} bytes runs past "
                    f"the {size}-byte extension",
                    offset,
                )
            elements.append(HeaderExtension(ext_id, bytes(data[offset + 1 : offset + 1 + length])))
            offset += 1 + length
    elif is_two_byte(profile):
        while offset < size:
            ext_id = data[offset]
            if ext_id == 0:
                offset += 1
                continue
            if offset + 2 > size:
                raise RtpError("two-byte header extension element header is truncated", offset)
            length = data[offset + 1]
            if offset + 2 + length > size:
                raise RtpError(
                    f"two-byte header extension element {ext_id} of {length} bytes runs past "
                    f"the {size}-byte extension",
                    offset,
                )
            elements.append(HeaderExtension(ext_id, bytes(data[offset + 2 : offset + 2 + length])))
            offset += 2 + length
    return elements


def encode_header_extensions(
    elements: list[HeaderExtension], two_byte: bool = False, appbits: int = 0
) -> tuple[int, bytes]:
    """(profile, data) for ``elements``, zero-padded to a multiple of 4 bytes."""
    out = bytearray()
    if two_byte:
        for element in elements:
            if not 1 <= element.id <= 255 or len(element.data) > 255:
                raise RtpError(f"two-byte extension element {element.id} cannot be encoded")
            out += bytes([element.id, len(element.data)]) + element.data
        profile = TWO_BYTE_PROFILE | (appbits & 0x0F)
    else:
        for element in elements:
            if not 1 <= element.id <= 14 or not 1 <= len(element.data) <= 16:
                raise RtpError(f"one-byte extension element {element.id} cannot be encoded")
            out += bytes([(element.id << 4) | (len(element.data) - 1)]) + element.data
        profile = ONE_BYTE_PROFILE
    out += bytes(-len(out) % 4)
    return profile, bytes(out)


@dataclass(frozen=True, slots=True)
class AudioLevel:
    """RFC 6464 3: the V flag (voice activity) and the level in -dBov (0 loudest, 127 silence)."""

    voice: bool
    level_dbov: int

    @classmethod
    def parse(cls, data: bytes) -> AudioLevel:
        if not data:
            raise RtpError("audio level extension element is empty")
        return cls(voice=bool(data[0] & 0x80), level_dbov=-(data[0] & 0x7F))

    def encode(self) -> bytes:
        return bytes([(0x80 if self.voice else 0) | (-self.level_dbov & 0x7F)])
