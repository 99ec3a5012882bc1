"""A pcap rewritten to IPv6: each plain IPv4/UDP packet of an Ethernet pcap becomes an IPv6
one (no extension header) with the same UDP header and payload, times and everything else
kept. SDP in the payloads names the mapped addresses (``c=``/``o=`` ``IN IP6``, the UDP and
SIP lengths follow) so SDP-signalled streams stay SDP-signalled. UDP checksums are left as
they were (nothing here checks them). Run as a script to rewrite a file:
``python -m tests.rtp.ipv6_rewrite IN.pcap OUT.pcap``.
"""

from __future__ import annotations

import ipaddress
import re
import struct
import sys
from pathlib import Path

from tests.capture.convert import pcap_records

_SDP_ADDRESS = re.compile(rb"IN IP4 (\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})")
_CONTENT_LENGTH = re.compile(rb"(\r\n(?:Content-Length|l)[ \t]*:[ \t]*)\d+", re.IGNORECASE)


def map_address(raw: bytes) -> bytes:
    """An IPv4 address's IPv6 stand-in, three shapes so every RFC 5952 text form shows up:
    IPv4-mapped (``::ffff:a.b.c.d``), ``2001:db8::`` with the address in the last 32 bits,
    and ``fd00:0:a:b::c:d`` (a compressed run in the middle)."""
    shape = raw[3] % 3
    if shape == 0:
        return bytes(10) + b"\xff\xff" + raw
    if shape == 1:
        return b"\x20\x01\x0d\xb8" + bytes(8) + raw
    return (
        b"\xfd\x00\x00\x00"
        + b"".join(bytes((0, b)) for b in raw[:2])
        + bytes(4)
        + (b"".join(bytes((0, b)) for b in raw[2:]))
    )


def _mapped_text(match: re.Match[bytes]) -> bytes:
    """The SDP text of a mapped address, as user agents write it (IPv4-mapped ones with the
    dotted quad, RFC 5952 5; Python 3.11's ``compressed`` would write ``::ffff:a01:3``)."""
    dotted = match.group(1).decode()
    mapped = map_address(ipaddress.IPv4Address(dotted).packed)
    if mapped.startswith(bytes(10) + b"\xff\xff"):
        return b"IN IP6 ::ffff:" + dotted.encode()
    return b"IN IP6 " + ipaddress.IPv6Address(mapped).compressed.encode()


def _rewrite_payload(payload: bytes) -> bytes:
    """SDP addresses mapped as the packets' are; the SIP Content-Length follows the body."""
    if b"IN IP4 " not in payload:
        return payload
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        return payload
    body = _SDP_ADDRESS.sub(_mapped_text, body)
    head = _CONTENT_LENGTH.sub(lambda m: m.group(1) + str(len(body)).encode(), head, count=1)
    return head + sep + body


def to_ipv6_frame(frame: bytes) -> bytes:
    """One Ethernet frame: plain IPv4/UDP as IPv6/UDP, anything else as it was."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total, flags_fragment = struct.unpack("!H2xH", ip[2:8])
    if ip[0] >> 4 != 4 or ip[9] != 17 or flags_fragment & 0x3FFF or len(ip) < ihl + 8:
        return frame
    udp = ip[ihl : total if total else len(ip)]
    sport, dport, _length, checksum = struct.unpack("!HHHH", udp[:8])
    payload = _rewrite_payload(udp[8:])
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), checksum) + payload
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        len(datagram),
        17,
        ip[8],  # the TTL as hop limit
        map_address(ip[12:16]),
        map_address(ip[16:20]),
    )
    return frame[:12] + b"\x86\xdd" + header + datagram


def rewrite_pcap(data: bytes) -> bytes:
    """A little-endian Ethernet pcap (either time unit) with its IPv4/UDP made IPv6."""
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    out = [data[:24]]
    for header, body in pcap_records(data):
        ts_sec, ts_frac, _caplen, _length = struct.unpack("<IIII", header)
        frame = to_ipv6_frame(body)
        out.append(struct.pack("<IIII", ts_sec, ts_frac, len(frame), len(frame)) + frame)
    return b"".join(out)


if __name__ == "__main__":
    Path(sys.argv[2]).write_bytes(rewrite_pcap(Path(sys.argv[1]).read_bytes()))
