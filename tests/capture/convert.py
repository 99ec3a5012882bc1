"""Small converters for capture formats Wireshark's tools cannot write.

Byte-swapped (big-endian) pcap and pcapng, pcapng Simple Packet Blocks, and QinQ
(802.1ad + 802.1Q) tags inserted into Ethernet frames. Each output is read back by tshark in
the tests, so a mistake here shows as a tshark disagreement, not as a silent pass.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

SHB, IDB, SPB, EPB = 0x0A0D0D0A, 1, 3, 6


def pcap_records(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(16-byte record header, captured bytes) of a little-endian pcap."""
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        yield data[pos : pos + 16], data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl


def swap_pcap(data: bytes) -> bytes:
    """A little-endian pcap rewritten big-endian (header and record headers swapped)."""
    assert struct.unpack_from("<I", data, 0)[0] in (0xA1B2C3D4, 0xA1B23C4D)
    out = [struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", data, 0))]
    for header, body in pcap_records(data):
        out.append(struct.pack(">IIII", *struct.unpack("<IIII", header)) + body)
    return b"".join(out)


def pcapng_blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, body) of every block of a little-endian pcapng."""
    pos = 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        yield btype, data[pos + 8 : pos + blen - 4]
        pos += blen


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def _options(raw: bytes, keep: dict[int, str], endian: str) -> bytes:
    """Re-encode the options listed in ``keep`` (code -> struct format, "" for bytes)."""
    out = b""
    pos = 0
    while pos + 4 <= len(raw):
        code, length = struct.unpack_from("<HH", raw, pos)
        value = raw[pos + 4 : pos + 4 + length]
        if code == 0:
            break
        if code in keep:
            fmt = keep[code]
            if fmt:
                value = struct.pack(endian + fmt, *struct.unpack("<" + fmt, value))
            padded = value + b"\0" * (-len(value) % 4)
            out += struct.pack(endian + "HH", code, len(value)) + padded
        pos += 4 + length + (-length % 4)
    return out + (struct.pack(endian + "HH", 0, 0) if out else b"")


def swap_pcapng(data: bytes) -> bytes:
    """A little-endian pcapng rewritten big-endian: SHB, IDB (if_name, if_tsresol,
    if_tsoffset kept) and EPB; other blocks and options are left out."""
    out = []
    for btype, body in pcapng_blocks(data):
        if btype == SHB:
            major, minor, _section_length = struct.unpack_from("<HHq", body, 4)
            out.append(_block(">", SHB, struct.pack(">IHHq", 0x1A2B3C4D, major, minor, -1)))
        elif btype == IDB:
            linktype, reserved, snaplen = struct.unpack_from("<HHI", body, 0)
            options = _options(body[8:], {2: "", 9: "", 14: "q"}, ">")
            out.append(_block(">", IDB, struct.pack(">HHI", linktype, reserved, snaplen) + options))
        elif btype == EPB:
            iface, high, low, caplen, origlen = struct.unpack_from("<IIIII", body, 0)
            fixed = struct.pack(">IIIII", iface, high, low, caplen, origlen)
            out.append(_block(">", EPB, fixed + body[20 : 20 + caplen]))
    return b"".join(out)


def epb_to_spb(data: bytes) -> bytes:
    """Every EPB of a one-interface little-endian pcapng turned into a Simple Packet Block."""
    out = []
    for btype, body in pcapng_blocks(data):
        if btype == EPB:
            _iface, _high, _low, caplen, origlen = struct.unpack_from("<IIIII", body, 0)
            assert caplen == origlen, "an SPB's captured length is derived from its original"
            out.append(_block("<", SPB, struct.pack("<I", origlen) + body[20 : 20 + caplen]))
        else:
            out.append(_block("<", btype, body))
    return b"".join(out)


def insert_qinq(data: bytes, service_vlan: int, customer_vlan: int) -> bytes:
    """A little-endian Ethernet pcap with an 802.1ad S-tag and an 802.1Q C-tag in every frame."""
    out = [data[:24]]
    tags = struct.pack("!HHHH", 0x88A8, service_vlan, 0x8100, customer_vlan)
    for header, body in pcap_records(data):
        ts_sec, ts_frac, incl, orig = struct.unpack("<IIII", header)
        frame = body[:12] + tags + body[12:]
        out.append(struct.pack("<IIII", ts_sec, ts_frac, incl + 8, orig + 8) + frame)
    return b"".join(out)


def hexdump(frames: list[bytes]) -> str:
    """text2pcap input: each frame as ``od -Ax -tx1`` lines, offsets restarting at 0."""
    lines = []
    for frame in frames:
        for start in range(0, len(frame), 16):
            chunk = frame[start : start + 16]
            lines.append(f"{start:06x} " + " ".join(f"{b:02x}" for b in chunk))
        lines.append("")
    return "\n".join(lines) + "\n"


def with_idb_options(
    data: bytes, tsoffset_s: int | None = None, tsresol: int | None = None
) -> bytes:
    """A little-endian pcapng whose IDBs carry if_tsoffset (14) and/or if_tsresol (9).

    EPB timestamps are rescaled to the new resolution so the instants stay the same up to it.
    """
    out = []
    resolution = 6
    for btype, body in pcapng_blocks(data):
        if btype == IDB:
            options = b""
            if tsresol is not None:
                options += struct.pack("<HHB3x", 9, 1, tsresol)
            if tsoffset_s is not None:
                options += struct.pack("<HHq", 14, 8, tsoffset_s)
            body = body[:8] + options + struct.pack("<HH", 0, 0)
        elif btype == EPB and (tsresol is not None or tsoffset_s is not None):
            iface, high, low, caplen, origlen = struct.unpack_from("<IIIII", body, 0)
            units = (high << 32) | low  # microseconds (editcap's default resolution)
            seconds, micros = divmod(units, 10**resolution)
            seconds -= tsoffset_s or 0
            if tsresol is None:
                new_units = seconds * 10**6 + micros
            elif tsresol & 0x80:
                per_second = 1 << (tsresol & 0x7F)
                new_units = seconds * per_second + micros * per_second // 10**6
            elif tsresol >= 6:
                new_units = seconds * 10**tsresol + micros * 10 ** (tsresol - 6)
            else:
                new_units = seconds * 10**tsresol + micros // 10 ** (6 - tsresol)
            body = (
                struct.pack(
                    "<IIIII", iface, new_units >> 32, new_units & 0xFFFFFFFF, caplen, origlen
                )
                + body[20:]
            )
        out.append(_block("<", btype, body))
    return b"".join(out)
