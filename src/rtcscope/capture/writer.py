"""Pcap writer: the only place that writes a capture file.

pcap rather than pcapng because the tools rtcscope feeds want it: sipp's ``play_pcap_audio``
replays only Ethernet or Linux SLL v1 pcap files (NOTES.md), hence Ethernet by default.
:meth:`PcapWriter.write_record` keeps a record's timestamp and original length, and a
writer made with the reader's :class:`~rtcscope.capture.reader.PcapHeader` reproduces the
file header, so copying a pcap record by record gives the same bytes.
A file named by path is written through :mod:`rtcscope.outfile`: to a temporary name
(``O_EXCL``/``O_NOFOLLOW``) renamed on :meth:`PcapWriter.close`, removed on :meth:`discard`
(or when the ``with`` block raises); ``live=True`` appends in place instead (for files read
while written, as the collector's). OS errors are :class:`~rtcscope.errors.OutputError`.
:meth:`PcapWriter.write_packet` puts a packet of another link type (Linux cooked, raw IP,
BSD loopback) into an Ethernet frame when the writer is Ethernet.
"""

from __future__ import annotations

import contextlib
import os
import struct
from typing import BinaryIO, Protocol

from rtcscope.capture.decode import (
    BSD_AF_INET,
    BSD_AF_INET6,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    loopback_family,
)
from rtcscope.capture.packet import LinkType, Packet, Record
from rtcscope.capture.reader import PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, PcapHeader
from rtcscope.errors import OutputError
from rtcscope.outfile import Committed, OutputFile, create_output, open_live, output_error

# Locally administered MACs (IEEE 802 bit 1 of the first octet) for frames made up here.
SYNTHETIC_SOURCE_MAC = bytes.fromhex("020000000001")
SYNTHETIC_DESTINATION_MAC = bytes.fromhex("020000000002")


def ethernet_frame(linktype: int, data: bytes | memoryview) -> bytes | None:
    """The frame as Ethernet II: as is for Ethernet, the link header replaced otherwise.

    None when the link layer carries no IPv4/IPv6 that could be re-framed.
    """
    if linktype == LinkType.ETHERNET:
        return bytes(data)
    ethertype: int | None = None
    start = 0
    if linktype == LinkType.LINUX_SLL and len(data) >= 16:
        ethertype, start = struct.unpack_from("!H", data, 14)[0], 16
    elif linktype == LinkType.LINUX_SLL2 and len(data) >= 20:
        ethertype, start = struct.unpack_from("!H", data, 0)[0], 20
    elif linktype in (LinkType.RAW, LinkType.RAW_LEGACY_12, LinkType.RAW_LEGACY_14) and data:
        ethertype = {4: ETHERTYPE_IPV4, 6: ETHERTYPE_IPV6}.get(data[0] >> 4)
    elif linktype == LinkType.IPV4:
        ethertype = ETHERTYPE_IPV4
    elif linktype == LinkType.IPV6:
        ethertype = ETHERTYPE_IPV6
    elif linktype in (LinkType.NULL, LinkType.LOOP) and len(data) >= 4:
        family = loopback_family(linktype, data)
        ethertype = (
            ETHERTYPE_IPV4
            if family == BSD_AF_INET
            else ETHERTYPE_IPV6
            if family in BSD_AF_INET6
            else None
        )
        start = 4
    if ethertype is None:
        return None
    return (
        SYNTHETIC_DESTINATION_MAC
        + SYNTHETIC_SOURCE_MAC
        + struct.pack("!H", ethertype)
        + bytes(data[start:])
    )


class ByteSink(Protocol):
    """Anything with ``write(bytes)``: a file, or an :class:`~rtcscope.outfile.OutputFile`."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...


class PcapWriter(Committed):
    """Writes a pcap file (or stream): header at creation, then one record per write.

    ``header`` reproduces another file's header (``reader.pcap_header``); otherwise
    ``linktype`` (Ethernet by default), ``nanosecond`` and ``snaplen`` make a new one in
    little-endian order.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO | ByteSink,
        linktype: int = LinkType.ETHERNET,
        *,
        nanosecond: bool = False,
        snaplen: int = 262144,
        header: PcapHeader | None = None,
        live: bool = False,
    ) -> None:
        if header is None:
            header = PcapHeader(nanosecond=nanosecond, snaplen=snaplen, network=linktype)
        self.header = header
        self.linktype = header.network & 0xFFFF
        self.records = 0
        endian = "<" if header.byte_order == "little" else ">"
        self._record_header = struct.Struct(endian + "IIII")
        self._ns_per_unit = 1 if header.nanosecond else 1000
        self._owned: BinaryIO | None = None
        self._output: OutputFile | None = None
        self._path = str(target) if isinstance(target, str | os.PathLike) else None
        self.bytes_written = 24
        self._out: ByteSink
        if isinstance(target, str | os.PathLike):
            if live:
                self._owned = open_live(target)
                self._out = self._owned
            else:
                self._output = create_output(target)
                self._out = self._output
        else:
            self._out = target
        self._write(
            struct.pack(
                endian + "IHHiIII",
                PCAP_MAGIC_NSEC if header.nanosecond else PCAP_MAGIC_USEC,
                header.version_major,
                header.version_minor,
                header.thiszone,
                header.sigfigs,
                header.snaplen,
                header.network,
            )
        )

    def write(self, data: bytes | memoryview, ts_ns: int, orig_len: int | None = None) -> None:
        """One record: ``data`` as captured, at ``ts_ns`` (truncated to the file's precision)."""
        if ts_ns < 0:
            raise OutputError(f"pcap cannot store a time before 1970 ({ts_ns} ns)")
        seconds, fraction_ns = divmod(ts_ns, 1_000_000_000)
        if seconds > 0xFFFFFFFF:
            raise OutputError(f"pcap cannot store a time after 2106 ({seconds} s)")
        length = len(data)
        self._write(
            self._record_header.pack(
                seconds,
                fraction_ns // self._ns_per_unit,
                length,
                length if orig_len is None else orig_len,
            )
        )
        self._write(data)
        self.records += 1
        self.bytes_written += 16 + length

    def _write(self, data: bytes | memoryview) -> None:
        try:
            self._out.write(data)
        except OSError as exc:
            if self._path is None:
                raise
            raise output_error(self._path, exc) from None

    def write_record(self, record: Record) -> None:
        """A record as read (same link type expected): same bytes, time and original length."""
        self.write(record.data, record.ts_ns, record.orig_len)

    def write_packet(self, packet: Packet) -> None:
        """A decoded packet's frame; re-framed as Ethernet when needed (and possible)."""
        if packet.linktype == self.linktype:
            self.write(packet.data, packet.ts_ns, packet.orig_len)
            return
        if self.linktype != LinkType.ETHERNET:
            raise OutputError(
                f"cannot write a link type {packet.linktype} frame into a link type "
                f"{self.linktype} pcap"
            )
        frame = ethernet_frame(packet.linktype, packet.data)
        if frame is None:
            raise OutputError(f"frame {packet.frame} (link type {packet.linktype}) has no IP")
        grown = len(frame) - len(packet.data)
        self.write(frame, packet.ts_ns, packet.orig_len + grown)

    def flush(self) -> None:
        if self._output is not None:
            return  # renamed into place on close: nobody reads the temporary file
        try:
            if self._owned is not None:
                self._owned.flush()
            elif hasattr(self._out, "flush"):
                self._out.flush()
        except OSError as exc:
            if self._path is None:
                raise
            raise output_error(self._path, exc) from None

    def close(self) -> None:
        """Finish the file: renamed into place (or, live, flushed and closed)."""
        if self._output is not None:
            self._output.commit()
        elif self._owned is not None:
            try:
                self._owned.close()
            except OSError as exc:
                raise output_error(str(self._path), exc) from None
            self._owned = None
        else:
            self.flush()

    def discard(self) -> None:
        """Give the file up: the temporary file is removed, the target left as it was."""
        if self._output is not None:
            self._output.discard()
        elif self._owned is not None:
            with contextlib.suppress(OSError):
                self._owned.close()
            self._owned = None
