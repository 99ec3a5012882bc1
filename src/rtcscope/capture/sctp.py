"""SCTP (RFC 9260, which obsoletes RFC 4960): chunks, and DATA reassembled into user messages.

Pure: :func:`rtcscope.capture.decode.decode` reads the common header's ports and hands the
chunks over as ``Packet.payload``; :class:`SctpReassembler` is fed those packets in capture
order and returns each user message once it is whole, stamped with the frame and time of
the packet that completed it (as Wireshark numbers a reassembled message). SIP over SCTP
(RFC 4168) puts one SIP message in one user message, so the SIP framer reads each one like a
UDP datagram, whatever its payload protocol identifier (SIP leaves it 0, "unspecified").

Written by hand: no library parses SCTP from captured bytes without sockets (the kernel's
SCTP stack, pysctp) or a packet-crafting toolkit too slow for the capture path (scapy).

What is read (RFC 9260 section 3):

- The common header: source and destination port, verification tag, CRC32c checksum
  (Appendix B; :func:`crc32c` computes it, the reassembler does not verify it, like tshark
  with its default preferences).
- Chunks: type, flags, length (without the padding to a multiple of 4 bytes that follows
  every chunk but possibly the last); several chunks are bundled in one packet, control
  chunks among DATA chunks.
- DATA (type 0, section 3.3.1) and I-DATA (type 64, RFC 8260 section 2.1). The B and E flags
  mark the first and last fragment of a user message, U an unordered one. Fragments of a
  DATA message carry consecutive TSNs (section 6.9) and the same stream identifier (and,
  ordered, the same stream sequence number); fragments of an I-DATA message share the
  stream identifier and message identifier (MID) and are ordered by their fragment sequence
  number (FSN; the first fragment's field is the PPID instead, its FSN is 0).
- A DATA chunk whose TSN was already seen in that direction is a retransmission: dropped
  and counted, so a message is delivered once. INIT and INIT ACK (section 3.3.2/3.3.3)
  start a direction afresh (a new association on the same ports).

Memory is bounded: fragments held per direction (``max_pending_bytes_per_flow``) and in all
(``max_pending_bytes``, the least recently used direction's oldest first), directions tracked
(``max_flows``, least recently used first out, 8 KB of remembered TSNs each); what the caps
cost is counted in :class:`SctpStats`.
"""

from __future__ import annotations

import functools
import struct
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import field
from enum import IntEnum

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet
from rtcscope.errors import PacketError

Flow = tuple[str, int, str, int]  # (src, sport, dst, dport), as capture.tcp.Flow

COMMON_HEADER_BYTES = 12
CHUNK_HEADER_BYTES = 4
DATA_HEADER_BYTES = 16
I_DATA_HEADER_BYTES = 20

_COMMON = struct.Struct("!HHII")
_CHUNK = struct.Struct("!BBH")
_DATA = struct.Struct("!IHHI")  # TSN, stream identifier, stream sequence number, PPID
_I_DATA = struct.Struct("!IHHII")  # TSN, stream identifier, reserved, MID, PPID or FSN

_TSN_MOD = 1 << 32
# TSNs remembered per direction to recognise retransmitted DATA chunks: a ring of slots by
# TSN modulo its size, each holding TSN + 1 (0: empty), 8 KB a direction.
_TSNS_REMEMBERED = 1024
# A held fragment costs its bytes plus bookkeeping (a flood of tiny fragments counts too).
_FRAGMENT_OVERHEAD = 64
# Fragments of one user message looked through at most: a SIP message of more than 256
# fragments (some 370 KB) is not one, and the bound keeps hostile captures linear.
MAX_FRAGMENTS_PER_MESSAGE = 256


class ChunkType(IntEnum):
    """Chunk types (RFC 9260 section 3.2, RFC 4895, RFC 5061, RFC 6525, RFC 8260)."""

    DATA = 0
    INIT = 1
    INIT_ACK = 2
    SACK = 3
    HEARTBEAT = 4
    HEARTBEAT_ACK = 5
    ABORT = 6
    SHUTDOWN = 7
    SHUTDOWN_ACK = 8
    ERROR = 9
    COOKIE_ECHO = 10
    COOKIE_ACK = 11
    ECNE = 12
    CWR = 13
    SHUTDOWN_COMPLETE = 14
    AUTH = 15
    I_DATA = 64
    ASCONF_ACK = 128
    RE_CONFIG = 130
    PAD = 132
    FORWARD_TSN = 192
    ASCONF = 193
    I_FORWARD_TSN = 194


class DataFlag(IntEnum):
    """Flags of DATA and I-DATA chunks (RFC 9260 3.3.1, RFC 7053 for I)."""

    END = 0x01
    BEGINNING = 0x02
    UNORDERED = 0x04
    IMMEDIATE = 0x08


# -- CRC32c (RFC 9260 Appendix B: Castagnoli, reflected polynomial 0x82F63B78) ------------


@functools.cache  # made on first use: most captures have no SCTP (0.4 ms at every start)
def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """The CRC32c of ``data`` (for a packet: computed with its checksum field zero)."""
    crc = 0xFFFFFFFF
    table = _crc32c_table()
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _checksum_field(crc: int) -> int:
    # RFC 9260 Appendix B: the CRC is transmitted least significant byte first, so the
    # header's 32-bit field, read in network order, holds it byte-swapped.
    return int.from_bytes(crc.to_bytes(4, "little"), "big")


# -- wire format -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SctpChunk:
    """One chunk as carried: type, flags and value (the bytes after the 4-byte header)."""

    type: int
    flags: int
    value: bytes

    def __bytes__(self) -> bytes:
        length = CHUNK_HEADER_BYTES + len(self.value)
        return _CHUNK.pack(self.type, self.flags, length) + self.value + bytes(-length % 4)


@dataclass(frozen=True, slots=True)
class DataChunk:
    """A DATA or I-DATA chunk's fields (``i_data``: RFC 8260).

    ``ssn`` is the stream sequence number of DATA (0 for I-DATA); ``mid`` and ``fsn`` are
    I-DATA's message identifier and fragment sequence number (0 for DATA). ``ppid`` is the
    payload protocol identifier where the chunk carries one (DATA, the first I-DATA fragment).
    """

    tsn: int
    stream_id: int
    ssn: int
    ppid: int
    data: bytes
    beginning: bool = True
    end: bool = True
    unordered: bool = False
    i_data: bool = False
    mid: int = 0
    fsn: int = 0
    immediate: bool = False

    @property
    def flags(self) -> int:
        return (
            (DataFlag.END if self.end else 0)
            | (DataFlag.BEGINNING if self.beginning else 0)
            | (DataFlag.UNORDERED if self.unordered else 0)
            | (DataFlag.IMMEDIATE if self.immediate else 0)
        )

    @classmethod
    def from_chunk(cls, chunk: SctpChunk, offset: int = 0) -> DataChunk:
        """The fields of a DATA or I-DATA chunk (``offset``: where it sits, for errors)."""
        flags = chunk.flags
        value = chunk.value
        common = {
            "beginning": bool(flags & DataFlag.BEGINNING),
            "end": bool(flags & DataFlag.END),
            "unordered": bool(flags & DataFlag.UNORDERED),
            "immediate": bool(flags & DataFlag.IMMEDIATE),
        }
        if chunk.type not in (ChunkType.DATA, ChunkType.I_DATA):
            raise PacketError(f"SCTP chunk at byte {offset} is type {chunk.type}, not DATA", offset)
        i_data = chunk.type == ChunkType.I_DATA
        name = "I-DATA" if i_data else "DATA"
        header = I_DATA_HEADER_BYTES if i_data else DATA_HEADER_BYTES
        need = header - CHUNK_HEADER_BYTES
        if len(value) < need:
            raise PacketError(
                f"SCTP {name} chunk at byte {offset} is truncated: "
                f"{len(value) + CHUNK_HEADER_BYTES} of {header} bytes",
                offset,
            )
        if len(value) == need:
            # RFC 9260 3.3.1: the user data is at least one byte (else a "No User Data" error).
            raise PacketError(f"SCTP {name} chunk at byte {offset} has no user data", offset)
        if not i_data:
            tsn, stream_id, ssn, ppid = _DATA.unpack_from(value)
            return cls(tsn, stream_id, ssn, ppid, value[need:], **common)
        tsn, stream_id, _reserved, mid, ppid_or_fsn = _I_DATA.unpack_from(value)
        first = bool(flags & DataFlag.BEGINNING)
        return cls(
            tsn,
            stream_id,
            0,
            ppid_or_fsn if first else 0,
            value[need:],
            i_data=True,
            mid=mid,
            fsn=0 if first else ppid_or_fsn,
            **common,
        )

    def to_chunk(self) -> SctpChunk:
        if self.i_data:
            fourth = self.ppid if self.beginning else self.fsn
            head = _I_DATA.pack(self.tsn, self.stream_id, 0, self.mid, fourth)
            return SctpChunk(ChunkType.I_DATA, self.flags, head + self.data)
        head = _DATA.pack(self.tsn, self.stream_id, self.ssn, self.ppid)
        return SctpChunk(ChunkType.DATA, self.flags, head + self.data)

    def __bytes__(self) -> bytes:
        return bytes(self.to_chunk())


def iter_chunks(data: bytes | memoryview, start: int = 0) -> Iterator[tuple[int, SctpChunk]]:
    """(offset, chunk) for each chunk of ``data`` from ``start``; raises
    :class:`~rtcscope.errors.PacketError` at the first chunk that is cut short or whose
    length is impossible (the chunks before it have been yielded)."""
    end = len(data)
    offset = start
    while offset < end:
        if end - offset < CHUNK_HEADER_BYTES:
            raise PacketError(
                f"SCTP chunk header at byte {offset} is truncated: "
                f"{end - offset} of {CHUNK_HEADER_BYTES} bytes",
                offset,
            )
        kind, flags, length = _CHUNK.unpack_from(data, offset)
        if length < CHUNK_HEADER_BYTES:
            raise PacketError(
                f"SCTP chunk at byte {offset} has length {length} (at least 4)", offset
            )
        if length > end - offset:
            raise PacketError(
                f"SCTP chunk at byte {offset} is truncated: {end - offset} of {length} bytes",
                offset,
            )
        yield (
            offset,
            SctpChunk(kind, flags, bytes(data[offset + CHUNK_HEADER_BYTES : offset + length])),
        )
        # RFC 9260 3.2: chunks are padded to 4 bytes; the last one's padding may be missing.
        offset += (length + 3) & ~3


@dataclass(frozen=True, slots=True)
class SctpPacket:
    """An SCTP packet: common header and chunks (RFC 9260 section 3)."""

    sport: int
    dport: int
    verification_tag: int
    chunks: tuple[SctpChunk, ...]
    checksum: int | None = None  # the header's field as carried; None: compute on encoding

    @classmethod
    def parse(cls, data: bytes | memoryview) -> SctpPacket:
        """Parse a whole SCTP packet; :class:`~rtcscope.errors.PacketError` if malformed."""
        if len(data) < COMMON_HEADER_BYTES:
            raise PacketError(
                f"SCTP common header is truncated: {len(data)} of {COMMON_HEADER_BYTES} bytes", 0
            )
        sport, dport, tag, checksum = _COMMON.unpack_from(data)
        chunks = tuple(chunk for _, chunk in iter_chunks(data, COMMON_HEADER_BYTES))
        return cls(sport, dport, tag, chunks, checksum)

    @property
    def checksum_ok(self) -> bool | None:
        """Whether the carried checksum matches the packet (None when none was carried)."""
        if self.checksum is None:
            return None
        return self.checksum == self._compute_checksum()

    def _body(self) -> bytes:
        return b"".join(bytes(chunk) for chunk in self.chunks)

    def _compute_checksum(self) -> int:
        zeroed = _COMMON.pack(self.sport, self.dport, self.verification_tag, 0) + self._body()
        return _checksum_field(crc32c(zeroed))

    def data_chunks(self) -> list[DataChunk]:
        return [
            DataChunk.from_chunk(chunk)
            for chunk in self.chunks
            if chunk.type in (ChunkType.DATA, ChunkType.I_DATA)
        ]

    def __bytes__(self) -> bytes:
        checksum = self.checksum if self.checksum is not None else self._compute_checksum()
        head = _COMMON.pack(self.sport, self.dport, self.verification_tag, checksum)
        return head + self._body()


# -- reassembly ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SctpMessage:
    """One whole user message of one direction of an association."""

    flow: Flow
    data: bytes
    stream_id: int
    ppid: int
    unordered: bool
    frame: int  # the packet that completed the message
    ts_ns: int
    fragments: int = 1


@dataclass(slots=True)
class SctpStats:
    """What SCTP reassembly saw and what it could not deliver."""

    packets: int = 0
    malformed_packets: int = 0  # a chunk cut short or of impossible length (chunks before it read)
    data_chunks: int = 0
    messages: int = 0
    fragmented_messages: int = 0
    duplicate_chunks: int = 0  # DATA chunks whose TSN had been seen (retransmissions)
    fragments_dropped: int = 0  # to stay within the caps, or inconsistent with their neighbours
    fragments_incomplete: int = 0  # held when the capture ended
    associations: int = 0  # INIT / INIT ACK chunks starting a direction
    flows_evicted: int = 0
    pending_bytes: int = 0
    peak_pending_bytes: int = 0


@dataclass(slots=True)
class _Fragment:
    chunk: DataChunk
    frame: int
    ts_ns: int

    @property
    def cost(self) -> int:
        return len(self.chunk.data) + _FRAGMENT_OVERHEAD


@dataclass(slots=True)
class _Direction:
    # DATA fragments by TSN; I-DATA fragments by (stream, unordered, MID) then FSN.
    by_tsn: dict[int, _Fragment] = field(default_factory=dict)
    by_mid: dict[tuple[int, bool, int], dict[int, _Fragment]] = field(default_factory=dict)
    pending_cost: int = 0
    begins: int = 0  # DATA fragments held with B set
    ends: int = 0  # ... and with E set
    seen: array[int] = field(default_factory=lambda: array("Q", bytes(8 * _TSNS_REMEMBERED)))

    def remember(self, tsn: int) -> bool:
        """Remember a TSN; False if it was seen already (a retransmission among the last
        _TSNS_REMEMBERED or so)."""
        slot = tsn % _TSNS_REMEMBERED
        if self.seen[slot] == tsn + 1:
            return False
        self.seen[slot] = tsn + 1
        return True


class SctpReassembler:
    """Per-direction SCTP DATA/I-DATA reassembly fed with decoded packets (module docstring)."""

    def __init__(
        self,
        *,
        max_pending_bytes_per_flow: int = 4 << 20,
        max_pending_bytes: int = 64 << 20,
        max_flows: int = 4096,
    ) -> None:
        self.max_pending_bytes_per_flow = max_pending_bytes_per_flow
        self.max_pending_bytes = max_pending_bytes
        self.max_flows = max_flows
        self.stats = SctpStats()
        self._directions: OrderedDict[Flow, _Direction] = OrderedDict()

    def feed(self, packet: Packet) -> list[SctpMessage]:
        """The user messages ``packet`` (an SCTP packet, its chunks as payload) completes."""
        return self.receive(
            packet.payload,
            (packet.src, packet.sport, packet.dst, packet.dport),
            packet.frame,
            packet.ts_ns,
        )

    def receive(
        self, chunks: bytes | memoryview, flow: Flow, frame: int, ts_ns: int
    ) -> list[SctpMessage]:
        """The user messages completed by these chunks (an SCTP packet after its common
        header) of direction ``flow``; a malformed chunk ends the packet (counted)."""
        stats = self.stats
        stats.packets += 1
        out: list[SctpMessage] = []
        try:
            for offset, chunk in iter_chunks(chunks):
                kind = chunk.type
                if kind == ChunkType.DATA or kind == ChunkType.I_DATA:
                    data = DataChunk.from_chunk(chunk, offset)
                    stats.data_chunks += 1
                    self._data(flow, data, frame, ts_ns, out)
                elif kind == ChunkType.INIT or kind == ChunkType.INIT_ACK:
                    self._forget(flow)
                    stats.associations += 1
        except PacketError:
            stats.malformed_packets += 1
        return out

    def flush(self) -> None:
        """End of capture: fragments still held are counted as incomplete and dropped."""
        for direction in self._directions.values():
            held = len(direction.by_tsn) + sum(len(g) for g in direction.by_mid.values())
            self.stats.fragments_incomplete += held
        self._directions.clear()
        self.stats.pending_bytes = 0

    # -- internals -------------------------------------------------------------------------

    def _direction(self, flow: Flow) -> _Direction:
        direction = self._directions.get(flow)
        if direction is None:
            direction = _Direction()
            self._directions[flow] = direction
            if len(self._directions) > self.max_flows:
                _, oldest = self._directions.popitem(last=False)
                self._drop_all(oldest)
                self.stats.flows_evicted += 1
        else:
            self._directions.move_to_end(flow)
        return direction

    def _forget(self, flow: Flow) -> None:
        direction = self._directions.pop(flow, None)
        if direction is not None:
            self._drop_all(direction)

    def _drop_all(self, direction: _Direction) -> None:
        held = len(direction.by_tsn) + sum(len(g) for g in direction.by_mid.values())
        self.stats.fragments_dropped += held
        self.stats.pending_bytes -= direction.pending_cost
        direction.by_tsn.clear()
        direction.by_mid.clear()
        direction.pending_cost = direction.begins = direction.ends = 0

    def _data(
        self, flow: Flow, data: DataChunk, frame: int, ts_ns: int, out: list[SctpMessage]
    ) -> None:
        direction = self._direction(flow)
        if not direction.remember(data.tsn):
            self.stats.duplicate_chunks += 1
            return
        if data.beginning and data.end:
            self._deliver(out, flow, [data], frame, ts_ns)
            return
        if data.i_data and data.fsn >= MAX_FRAGMENTS_PER_MESSAGE:
            self.stats.fragments_dropped += 1
            return
        self._hold(direction, _Fragment(data, frame, ts_ns))
        if data.i_data:
            whole = self._complete_by_mid(direction, data)
        else:
            whole = self._complete_by_tsn(direction, data)
        if whole is not None:
            self._deliver(out, flow, whole, frame, ts_ns)
        self._within_caps(direction)

    def _hold(self, direction: _Direction, fragment: _Fragment) -> None:
        chunk = fragment.chunk
        # A slot already taken (a TSN seen too long ago to be remembered, an FSN sent twice
        # under another TSN): the fragment held first gives way, counted as dropped.
        if chunk.i_data:
            key = (chunk.stream_id, chunk.unordered, chunk.mid)
            group = direction.by_mid.setdefault(key, {})
            previous = group.pop(chunk.fsn, None)
            if previous is not None:
                self._release(direction, [previous])
                self.stats.fragments_dropped += 1
            group[chunk.fsn] = fragment
        else:
            if chunk.tsn in direction.by_tsn:
                self._pop_tsn(direction, chunk.tsn)
                self.stats.fragments_dropped += 1
            direction.by_tsn[chunk.tsn] = fragment
            direction.begins += chunk.beginning
            direction.ends += chunk.end
        direction.pending_cost += fragment.cost
        stats = self.stats
        stats.pending_bytes += fragment.cost
        stats.peak_pending_bytes = max(stats.peak_pending_bytes, stats.pending_bytes)

    def _release(self, direction: _Direction, fragments: list[_Fragment]) -> None:
        cost = sum(f.cost for f in fragments)
        direction.pending_cost -= cost
        self.stats.pending_bytes -= cost

    def _pop_tsn(self, direction: _Direction, tsn: int) -> _Fragment:
        fragment = direction.by_tsn.pop(tsn)
        direction.begins -= fragment.chunk.beginning
        direction.ends -= fragment.chunk.end
        self._release(direction, [fragment])
        return fragment

    def _complete_by_tsn(self, direction: _Direction, data: DataChunk) -> list[DataChunk] | None:
        """The fragments of the message ``data`` completes, taken out, or None.

        RFC 9260 6.9: a message's fragments carry consecutive TSNs, B first, E last.
        """
        if not direction.begins or not direction.ends:
            return None  # in-order arrival: nothing to look for until the last fragment
        held = direction.by_tsn
        first = data.tsn
        steps = 0
        while not held[first].chunk.beginning:
            first = (first - 1) % _TSN_MOD
            steps += 1
            if first not in held or steps >= MAX_FRAGMENTS_PER_MESSAGE:
                return None
        last = data.tsn
        while not held[last].chunk.end:
            last = (last + 1) % _TSN_MOD
            steps += 1
            if last not in held or steps >= MAX_FRAGMENTS_PER_MESSAGE:
                return None
        run = [self._pop_tsn(direction, first)]
        tsn = first
        while tsn != last:
            tsn = (tsn + 1) % _TSN_MOD
            run.append(self._pop_tsn(direction, tsn))
        chunks = [f.chunk for f in run]
        head = chunks[0]
        consistent = (
            all(
                c.stream_id == head.stream_id
                and c.unordered == head.unordered
                and (c.unordered or c.ssn == head.ssn)
                for c in chunks
            )
            and not any(c.beginning for c in chunks[1:])
            and not any(c.end for c in chunks[:-1])
        )
        if not consistent:
            self.stats.fragments_dropped += len(chunks)
            return None
        return chunks

    def _complete_by_mid(self, direction: _Direction, data: DataChunk) -> list[DataChunk] | None:
        """The fragments of the I-DATA message ``data`` completes, taken out, or None.

        RFC 8260 2.1: fragments of one message share stream and MID, FSN counts from 0 (FSNs
        are below MAX_FRAGMENTS_PER_MESSAGE here: the loops stay short).
        """
        key = (data.stream_id, data.unordered, data.mid)
        group = direction.by_mid[key]
        last = next((fsn for fsn, f in group.items() if f.chunk.end), None)
        if last is None or 0 not in group or not group[0].chunk.beginning:
            return None
        if any(fsn not in group for fsn in range(last + 1)):
            return None
        run = [group.pop(fsn) for fsn in range(last + 1)]
        self._release(direction, run)
        if group:  # fragments past the end: inconsistent
            self.stats.fragments_dropped += len(group)
            self._release(direction, list(group.values()))
        del direction.by_mid[key]
        return [f.chunk for f in run]

    def _within_caps(self, direction: _Direction) -> None:
        """Drop the oldest held fragments while the direction, or all, hold too many bytes."""
        while direction.pending_cost > self.max_pending_bytes_per_flow:
            self._drop_oldest(direction)
        while self.stats.pending_bytes > self.max_pending_bytes:
            holding = next((d for d in self._directions.values() if d.pending_cost), None)
            if holding is None:
                break
            self._drop_oldest(holding)

    def _drop_oldest(self, direction: _Direction) -> None:
        if direction.by_tsn:
            self._pop_tsn(direction, next(iter(direction.by_tsn)))
            self.stats.fragments_dropped += 1
        else:
            dropped = list(direction.by_mid.pop(next(iter(direction.by_mid))).values())
            self._release(direction, dropped)
            self.stats.fragments_dropped += len(dropped)

    def _deliver(
        self,
        out: list[SctpMessage],
        flow: Flow,
        chunks: list[DataChunk],
        frame: int,
        ts_ns: int,
    ) -> None:
        head = chunks[0]
        stats = self.stats
        stats.messages += 1
        if len(chunks) > 1:
            stats.fragmented_messages += 1
        out.append(
            SctpMessage(
                flow,
                b"".join(c.data for c in chunks),
                head.stream_id,
                head.ppid,
                head.unordered,
                frame,
                ts_ns,
                len(chunks),
            )
        )
