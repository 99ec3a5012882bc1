"""SILK SDK bitstream files (``#!SILK_V3``), the input of the SDK's decoder and silk-python.

Layout, as the SILK SDK's encoder writes it: the header ``#!SILK_V3`` (Tencent's variant puts
one 0x02 byte before it), then one record per packet: a little-endian int16 length and the
packet. In the SDK decoder a zero-length record means a lost packet and a length of -1 ends
the file; the SDK encoder writes no end marker, and silk-python raises on a zero-length record,
so :func:`encode_bitstream` writes neither unless asked.

The bytes are built and parsed here without I/O; :func:`write_bitstream` is the thin file edge.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from rtcscope.errors import MediaError, ParseError
from rtcscope.outfile import write_output

MAGIC = b"#!SILK_V3"
TENCENT_PREFIX = b"\x02"


def encode_bitstream(
    packets: Iterable[bytes], *, tencent: bool = False, end_marker: bool = False
) -> bytes:
    """``#!SILK_V3`` + (int16 LE length, packet)... [+ -1]. Empty packets are skipped."""
    parts = [TENCENT_PREFIX + MAGIC if tencent else MAGIC]
    for packet in packets:
        if not packet:
            continue
        if len(packet) > 0x7FFF:
            raise MediaError(f"SILK packet of {len(packet)} bytes does not fit a record")
        parts.append(struct.pack("<h", len(packet)))
        parts.append(bytes(packet))
    if end_marker:
        parts.append(struct.pack("<h", -1))
    return b"".join(parts)


def decode_bitstream(data: bytes) -> tuple[list[bytes], bool]:
    """Parse a bitstream file: (packets, tencent). A zero-length record (a lost packet)
    comes back as ``b""``; -1 or the end of the data ends it."""
    if data.startswith(TENCENT_PREFIX + MAGIC):
        tencent, offset = True, len(MAGIC) + 1
    elif data.startswith(MAGIC):
        tencent, offset = False, len(MAGIC)
    else:
        raise ParseError("not a SILK bitstream: no #!SILK_V3 header at offset 0", 0)
    packets: list[bytes] = []
    while offset < len(data):
        if offset + 2 > len(data):
            raise ParseError(
                f"SILK bitstream truncated in a record length at offset {offset}", offset
            )
        (length,) = struct.unpack_from("<h", data, offset)
        if length < 0:
            break
        start = offset + 2
        if start + length > len(data):
            raise ParseError(
                f"SILK record at offset {offset} is truncated: "
                f"{len(data) - start} of {length} bytes",
                offset,
            )
        packets.append(data[start : start + length])
        offset = start + length
    return packets, tencent


def write_bitstream(path: Path, packets: Iterable[bytes], *, tencent: bool = False) -> int:
    """Write a bitstream file; returns the number of bytes written."""
    data = encode_bitstream(packets, tencent=tencent)
    write_output(path, data)  # temporary name + rename; OS errors are OutputError
    return len(data)
