"""RTP packets (RFC 3550 section 5.1): parse and encode one datagram.

``RtpPacket.parse`` is strict about what RFC 3550 5.1 requires (version 2, the CSRC list and
the header extension inside the datagram, a padding count that fits) and raises
:class:`~rtcscope.errors.RtpError` with the byte offset of the fault otherwise. The header
extension is kept raw (profile + data); :mod:`rtcscope.rtp.extensions` reads the RFC 8285
one- and two-byte forms out of it.

Written by hand (no dependency) because the fixed header is 12 bytes read with one
``struct`` call, which is the stream scanner's hot path.
"""

from __future__ import annotations

import struct

from rtcscope._dataclass import dataclass
from rtcscope.errors import RtpError
from rtcscope.rtp.extensions import HeaderExtension, parse_header_extensions

RTP_VERSION = 2
FIXED_HEADER = struct.Struct("!BBHII")
FIXED_HEADER_LEN = 12


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. ``payload`` excludes padding; ``padding`` is the padding's length."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None  # None: no header extension (X bit clear)
    extension_data: bytes = b""
    payload: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        """Parse one RTP datagram (RFC 3550 5.1); a malformed one raises RtpError."""
        size = len(data)
        if size < FIXED_HEADER_LEN:
            raise RtpError(f"RTP packet is {size} bytes, shorter than the 12-byte header", size)
        first, second, seq, ts, ssrc = FIXED_HEADER.unpack_from(data, 0)
        version = first >> 6
        if version != RTP_VERSION:
            raise RtpError(f"RTP version is {version}, not 2", 0)
        offset = FIXED_HEADER_LEN
        csrc_count = first & 0x0F
        end_of_csrcs = offset + 4 * csrc_count
        if end_of_csrcs > size:
            raise RtpError(
                f"RTP CSRC list of {csrc_count} entries runs past the end ({size} bytes)", offset
            )
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset) if csrc_count else ()
        offset = end_of_csrcs
        profile: int | None = None
        ext_data = b""
        if first & 0x10:
            if offset + 4 > size:
                raise RtpError("RTP header extension header is truncated", offset)
            profile, words = struct.unpack_from("!HH", data, offset)
            ext_end = offset + 4 + 4 * words
            if ext_end > size:
                raise RtpError(
                    f"RTP header extension of {4 * words} bytes runs past the end ({size} bytes)",
                    offset,
                )
            ext_data = bytes(data[offset + 4 : ext_end])
            offset = ext_end
        padding = 0
        end = size
        if first & 0x20:
            # RFC 3550 5.1: the last octet counts the padding octets, itself included.
            padding = data[size - 1]
            if padding == 0 or offset + padding > size:
                raise RtpError(
                    f"RTP padding count {padding} does not fit the {size - offset} bytes after "
                    "the header",
                    size - 1,
                )
            end = size - padding
        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            marker=bool(second & 0x80),
            csrcs=tuple(csrcs),
            extension_profile=profile,
            extension_data=ext_data,
            payload=bytes(data[offset:end]),
            padding=padding,
        )

    @property
    def header_extensions(self) -> list[HeaderExtension]:
        """RFC 8285 elements of the header extension (empty if none or another profile)."""
        if self.extension_profile is None:
            return []
        return parse_header_extensions(self.extension_profile, self.extension_data)

    def encode(self) -> bytes:
        """The datagram; padding is written as zeros ending in its count (RFC 3550 5.1)."""
        if len(self.csrcs) > 15:
            raise RtpError(f"RTP allows at most 15 CSRCs, not {len(self.csrcs)}")
        if len(self.extension_data) % 4:
            raise RtpError("RTP header extension data must be a multiple of 4 bytes")
        if not 0 <= self.padding <= 255:
            raise RtpError(f"RTP padding {self.padding} is outside 0..255")
        first = (RTP_VERSION << 6) | len(self.csrcs)
        if self.padding:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [
            FIXED_HEADER.pack(
                first, second, self.sequence_number & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc
            )
        ]
        parts += [struct.pack("!I", c) for c in self.csrcs]
        if self.extension_profile is not None:
            parts.append(struct.pack("!HH", self.extension_profile, len(self.extension_data) // 4))
            parts.append(self.extension_data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)

    def __bytes__(self) -> bytes:
        return self.encode()
