"""Streams' packets as per-packet arrays (:class:`~rtcscope.rtp.series.StreamPackets`).

The report, ``streams --series`` and the quality figures take each stream's packets as
arrays; the packets come from a read after the pass (:func:`rtcscope.rtp.streams.stream_packets`).
:class:`StreamColumns` gathers them from whoever reads those packets, so one read can serve
two consumers (``analyze -o``: the audio section's read also gives the report its arrays).
Seven machine integers a packet (56 bytes; a tuple of seven Python ints was ~0.2 KB).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from rtcscope.rtp.series import StreamPackets
from rtcscope.rtp.stats import analysis_clock_hz
from rtcscope.rtp.streams import RtpStream, StreamKey, StreamPacket


def _clock_for(stream: RtpStream, pt: int) -> int:
    """Wireshark's analysis clock of a packet of this stream with payload type ``pt``."""
    if pt == stream.payload_type:
        return analysis_clock_hz(pt, stream.codec, stream.clock_rate or 0)
    name = None
    if pt in stream.payload_types:
        position = stream.payload_types.index(pt)
        if position < len(stream.payload_names):
            name = stream.payload_names[position]
    return analysis_clock_hz(pt, name, 0)


def _int64(column: array[int]) -> npt.NDArray[np.int64]:
    """An ``array('q')`` as a NumPy array (no copy)."""
    if not column:
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(column, dtype=np.int64)


class StreamColumns:
    """The packets of some streams (those given, as :func:`stream_packets` bounds them: the
    frames between each stream's first and last), gathered one packet at a time."""

    def __init__(self, streams: Iterable[RtpStream]) -> None:
        self._streams = {s.key: s for s in streams}
        self._columns: dict[StreamKey, tuple[array[int], ...]] = {
            key: tuple(array("q") for _ in range(7)) for key in self._streams
        }

    def add(self, packet: StreamPacket) -> None:
        """One packet as ``stream_packets`` gives it (packets of other streams are left)."""
        cols = self._columns.get(packet.key)
        if cols is not None:
            rtp = packet.rtp
            cols[0].append(packet.frame)
            cols[1].append(packet.ts_ns)
            cols[2].append(rtp.sequence_number)
            cols[3].append(rtp.timestamp)
            cols[4].append(rtp.payload_type)
            cols[5].append(rtp.marker)
            cols[6].append(len(packet.data))

    def arrays(self) -> dict[StreamKey, StreamPackets]:
        """Each stream's arrays (every stream given, with or without packets)."""
        out: dict[StreamKey, StreamPackets] = {}
        for key, cols in self._columns.items():
            frame, arrival, seq, ts, pt, marker, size = (_int64(c) for c in cols)
            stream = self._streams[key]
            clocks = {int(p): _clock_for(stream, int(p)) for p in np.unique(pt)}
            out[key] = StreamPackets(
                frame=frame,
                arrival_ns=arrival,
                seq=seq,
                ts=ts,
                pt=pt,
                marker=marker.astype(bool),
                size=size,
                clock_hz=_clock_column(pt, clocks),
            )
        return out


def _clock_column(pt: npt.NDArray[np.int64], clocks: dict[int, int]) -> npt.NDArray[np.int64]:
    """Each packet's clock, by its payload type."""
    out = np.zeros(len(pt), dtype=np.int64)
    for p, clock in clocks.items():
        out[pt == p] = clock
    return out


def columns_of(streams: Sequence[RtpStream], packets: Iterable[StreamPacket]) -> StreamColumns:
    """The arrays of ``streams`` from their packets."""
    columns = StreamColumns(streams)
    for packet in packets:
        columns.add(packet)
    return columns
