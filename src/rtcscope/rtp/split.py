"""``rtcscope split``: one pcap per RTP stream.

Each file holds the stream's packets exactly as discovery counted them (frames between its
first and last, same flow and SSRC), with their capture times, so tshark lists the same
stream with the same numbers. Frames are written as Ethernet (sipp's ``play_pcap_audio``
replays only Ethernet or Linux SLL v1): an Ethernet record without VLAN tags or tunnels is
copied byte for byte; any other is rebuilt as Ethernet + IPv4/IPv6 + UDP around the same
UDP payload. File names come from the stream's index and SSRC only, never from packet text.

Files are written through :mod:`rtcscope.outfile` (temporary names made with ``O_EXCL`` /
``O_NOFOLLOW``, renamed when complete; on any error none is left) and at most
:data:`MAX_OPEN_FILES` are open at once: the file written the longest ago is closed and
reopened for appending when its stream has a packet again, so a capture with thousands of
streams never runs out of descriptors.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rtcscope.capture.packet import LinkType, Packet
from rtcscope.capture.writer import ethernet_frame as ethernet_around
from rtcscope.outfile import OutputFile, create_output, output_error
from rtcscope.rtp.streams import PathLike, RtpStream


@dataclass(slots=True)
class SplitFile:
    stream: RtpStream
    path: Path
    packets: int


def split_file_name(stream: RtpStream) -> str:
    """``stream-<index>-<SSRC hex>.pcap``: nothing from the packets' text."""
    return f"stream-{stream.index:03d}-{stream.key.ssrc:08X}.pcap"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def ethernet_frame(packet: Packet) -> bytes:
    """The packet as an Ethernet frame (copied when it already is a plain one)."""
    if packet.linktype == LinkType.ETHERNET and not packet.vlan and not packet.tunnel:
        return bytes(packet.data)
    payload = bytes(packet.payload)
    src = ipaddress.ip_address(packet.src)
    dst = ipaddress.ip_address(packet.dst)
    udp = struct.pack("!HHHH", packet.sport, packet.dport, 8 + len(payload), 0) + payload
    if src.version == 4:
        header = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            packet.ip_id,
            0,
            packet.ttl or 64,
            17,
            0,
            src.packed,
            dst.packed,
        )
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    else:
        header = struct.pack("!IHBB", 6 << 28, len(udp), 17, packet.ttl or 64)
        header += src.packed + dst.packed
    # capture.writer frames a raw IP packet with its synthetic MACs and the right EtherType.
    frame = ethernet_around(LinkType.RAW, header + udp)
    assert frame is not None  # an IPv4/IPv6 packet always frames
    return frame


MAX_OPEN_FILES = 64


class _FilePool:
    """Keeps at most ``limit`` of the outputs open, the least recently written closed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: OrderedDict[int, OutputFile] = OrderedDict()

    def touch(self, key: int, output: OutputFile) -> None:
        if key in self._open:
            self._open.move_to_end(key)
            return
        output.resume()
        self._open[key] = output
        if len(self._open) > self.limit:
            _key, oldest = self._open.popitem(last=False)
            oldest.suspend()


def split_streams(
    path: PathLike,
    streams: Iterable[RtpStream],
    out_dir: Path,
    max_open_files: int = MAX_OPEN_FILES,
) -> list[SplitFile]:
    """Write one pcap per stream into ``out_dir``; returns what was written. OS errors are
    :class:`~rtcscope.errors.OutputError`, and then no file of the split is left."""
    from rtcscope.capture.pipeline import packets
    from rtcscope.capture.writer import PcapWriter

    chosen = list(streams)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out_dir, exc) from None
    by_key = {(s.key.src, s.key.src_port, s.key.dst, s.key.dst_port, s.key.ssrc): s for s in chosen}
    flows = {key[:4] for key in by_key}
    results = {id(s): SplitFile(s, out_dir / split_file_name(s), 0) for s in chosen}
    pool = _FilePool(max_open_files)
    outputs: dict[int, OutputFile] = {}
    writers: dict[int, PcapWriter] = {}
    last_frame = max((s.last_frame for s in chosen), default=0)
    try:
        for s in chosen:
            output = outputs[id(s)] = create_output(results[id(s)].path)
            writers[id(s)] = PcapWriter(output)  # the header, while the file is open
            pool.touch(id(s), output)
        for packet in packets(path):
            if packet.frame > last_frame:
                break
            if packet.ip_proto != 17 or len(packet.payload) < 12:
                continue
            flow = (packet.src, packet.sport, packet.dst, packet.dport)
            if flow not in flows:
                continue
            payload = packet.payload
            if payload[0] & 0xC0 != 0x80 or 192 <= payload[1] <= 223:
                continue
            ssrc = struct.unpack_from("!I", payload, 8)[0]
            stream = by_key.get((*flow, ssrc))
            if stream is None or not stream.first_frame <= packet.frame <= stream.last_frame:
                continue
            pool.touch(id(stream), outputs[id(stream)])
            writers[id(stream)].write(ethernet_frame(packet), packet.ts_ns)
            results[id(stream)].packets += 1
        for output in outputs.values():
            output.commit()
    except BaseException:
        for output in outputs.values():
            output.discard()
        raise
    return [results[id(s)] for s in chosen]
