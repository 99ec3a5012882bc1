"""What decode()'s one-step read and BatchRows.packets' column road take: the common frame
(Ethernet, IPv4 without options, whole, UDP, no VXLAN port), told from a decoded packet."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from rtcscope.capture.packet import IpProto, LinkType, Packet, Record
from tests.conftest import DATA, shared_captures


def plain_udp_frame(
    payload: bytes,
    src: bytes,
    dst: bytes,
    sport: int,
    dport: int,
    ident: int = 0x1234,
) -> bytes:
    """The common frame: Ethernet, IPv4 (20-byte header, don't fragment, TTL 64, checksum 0),
    UDP (checksum 0) carrying ``payload``."""
    return (
        bytes.fromhex("0200000000020200000000010800")
        + struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), ident, 0x4000, 64, 17, 0, src, dst
        )
        + struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        + payload
    )


def is_plain_udp(packet: Packet) -> bool:
    return (
        packet.linktype == LinkType.ETHERNET
        and packet.ip_version == 4
        and packet.ip_proto == IpProto.UDP
        and packet.fragment is None
        and not packet.vlan
        and not packet.tunnel
        and bytes(packet.data[14:15]) == b"\x45"
    )


def every_capture() -> list[Path]:
    """tests/data's captures, then ../shared/captures' (when there)."""
    return [*sorted(DATA.glob("*.pcap*")), *shared_captures()]


def counting(decoder: Callable[[Record], Packet]) -> tuple[list[int], Callable[[Record], Packet]]:
    """``decoder`` wrapped to note the frame of every record it decodes (in the list)."""
    frames: list[int] = []

    def counted(record: Record) -> Packet:
        frames.append(record.frame)
        return decoder(record)

    return frames, counted


def reshaped(
    plain: bytes,
    change: tuple[tuple[int, str], int] | None,
    total_length: int,
    udp_length: int,
    cut: int,
) -> bytes:
    """A plain frame with its IPv4 total length and UDP length set, one field changed
    (``((offset, struct format), value)``) and ``cut`` bytes cut off its end."""
    frame = bytearray(plain)
    struct.pack_into("!H", frame, 16, total_length)
    struct.pack_into("!H", frame, 38, udp_length)
    if change is not None:
        (at, layout), value = change
        struct.pack_into(layout, frame, at, value)
    return bytes(frame[: len(frame) - cut])
