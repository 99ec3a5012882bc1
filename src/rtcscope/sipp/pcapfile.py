"""pcap files for sipp's ``play_pcap_audio``, written through :mod:`rtcscope.capture.writer`.

sipp 3.6 replays every UDP packet of the file with the file's own timing, keeps the RTP
bytes as they are (SSRC, sequence, timestamp, marker, payload type, payload) and rewrites
only addresses and ports; it reads Ethernet or Linux SLL v1 files only (NOTES.md). So a
stream.pcap holds the chosen stream's frames alone, as Ethernet, with their capture times
(microsecond precision, what sipp's libpcap timeval reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rtcscope.capture.packet import LinkType, Packet
from rtcscope.capture.writer import PcapWriter
from rtcscope.rtp.split import ethernet_frame


def udp_ethernet_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    """An Ethernet + IPv4/IPv6 + UDP frame around ``payload`` (for packets made up here)."""
    made = Packet(
        frame=0,
        ts_ns=0,
        interface=0,
        linktype=LinkType.RAW,
        data=memoryview(b""),
        orig_len=0,
        ip_version=6 if ":" in src else 4,
        src=src,
        dst=dst,
        ip_proto=17,
        sport=sport,
        dport=dport,
        payload=memoryview(payload),
        ttl=64,
    )
    return ethernet_frame(made)


def write_frames(path: Path, frames: Iterable[tuple[bytes, int]]) -> int:
    """Write (Ethernet frame, capture time in ns) records; returns how many."""
    with PcapWriter(path, LinkType.ETHERNET) as writer:
        for frame, ts_ns in frames:
            writer.write(frame, ts_ns)
        return writer.records
