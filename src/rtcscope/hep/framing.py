"""HEP over TCP, sans-IO: bytes in, whole HEP3 frames out (the h11 pattern).

Over a stream, HEP3 packets follow each other back to back; each carries its own length
(``HEP3``/``EEP3`` + u16 total length), which is how the frames are cut. HEPv1/v2 have no
length field and are UDP-only. Use::

    framer = HepFramer()
    framer.receive_data(chunk_from_socket)      # b"" when the peer closed the connection
    while (event := framer.next_event()) is not NEED_DATA:
        if event is CONNECTION_CLOSED:
            break
        packet = decode(event)                  # event is one frame's bytes

A stream that does not start a frame with the magic cannot be resynchronised safely (a
payload may contain ``HEP3``), so :meth:`HepFramer.next_event` raises :class:`HepError` and
the connection should be closed. ``send`` returns the bytes to write for a packet.
"""

from __future__ import annotations

from typing import Final

from rtcscope.errors import HepError
from rtcscope.hep.codec import EEP3_MAGIC, HEP3_MAGIC, HepPacket, encode


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
CONNECTION_CLOSED: Final = _Sentinel("CONNECTION_CLOSED")


class HepFramer:
    """Cuts a TCP byte stream into HEP3 frames (``bytes``)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = 0  # read position in _buffer; compacted lazily
        self._closed = False
        self.frames = 0
        self.bytes_received = 0

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the stream; ``b""`` means the peer closed it."""
        if self._closed:
            raise HepError("HEP stream: data after the connection was closed")
        if not data:
            self._closed = True
            return
        self.bytes_received += len(data)
        if self._start and self._start * 2 > len(self._buffer):
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    @property
    def pending(self) -> int:
        """Bytes received and not yet returned as a frame."""
        return len(self._buffer) - self._start

    def next_event(self) -> bytes | _Sentinel:
        """One frame's bytes, ``NEED_DATA`` or ``CONNECTION_CLOSED``; HepError on garbage."""
        buffer, start = self._buffer, self._start
        available = len(buffer) - start
        if available >= 4:
            magic = bytes(buffer[start : start + 4])
            if magic not in (HEP3_MAGIC, EEP3_MAGIC):
                raise HepError(
                    f"HEP stream at byte {self.bytes_received - available}: expected HEP3, "
                    f"found {magic.hex()}",
                    offset=self.bytes_received - available,
                )
        if available >= 6:
            total = buffer[start + 4] << 8 | buffer[start + 5]
            if total < 6:
                raise HepError(
                    f"HEP stream at byte {self.bytes_received - available}: frame length {total}",
                    offset=self.bytes_received - available,
                )
            if available >= total:
                frame = bytes(buffer[start : start + total])
                self._start = start + total
                self.frames += 1
                return frame
        if self._closed:
            if available:
                raise HepError(
                    f"HEP stream closed in the middle of a frame: {available} bytes left",
                    offset=self.bytes_received - available,
                )
            return CONNECTION_CLOSED
        return NEED_DATA

    @staticmethod
    def send(packet: HepPacket) -> bytes:
        """The bytes to write for ``packet`` (HEP3 only: v1/v2 cannot be framed)."""
        if packet.version != 3:
            raise HepError(f"HEP over TCP carries HEP3 frames only, not version {packet.version}")
        return encode(packet)
