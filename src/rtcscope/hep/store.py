r"""The collector's embedded store: one SQLite database and one pcap of the SIP received.

``DIR/hep.sqlite`` holds one row per HEP message (table ``messages``, columns below);
``DIR/sip.pcap`` holds every SIP payload received, wrapped in Ethernet/IP/UDP (or TCP) with
the addresses, ports and capture time the HEP packet carried, as sngrep ``-L ... -O`` writes
it (sngrep writes IPv4/UDP even for IPv6 or TCP; we write what the packet says).

Columns of ``messages``: ``id``, ``time_ns`` (capture time from the HEP packet, or the
arrival time when it has none), ``received_ns``, ``src``, ``sport``, ``dst``, ``dport``,
``ip_proto``, ``hep_version``, ``proto_type``, ``capture_id``, ``node`` (chunk 19),
``correlation_id`` (chunk 17), ``call_id``, ``method``, ``status`` (read from a SIP payload),
``payload`` (BLOB). Indexes on ``call_id``, ``time_ns`` and ``correlation_id``.

Writes are batched (one transaction per batch, WAL journal): the collector hands batches from
its receive loop to a writer thread. Reading (``search``) opens the database read-only.

No row stops the store. Text columns (``node``, ``correlation_id``, ``call_id``, ...) come
from the wire as UTF-8; bytes that are not valid UTF-8 are stored escaped the one way
Python's ``backslashreplace`` does it: each such byte as the four characters ``\xNN``
(``b"a\xff"`` is stored as ``a\xff``). A batch that SQLite refuses is retried row by row
with the text escaped; a row still refused is counted in ``failures`` by reason, never
raised. A payload too large for one IP packet is written to the pcap cut at
:data:`MAX_PCAP_PAYLOAD` bytes, its record's original length saying how long it was (what
tshark shows as ``frame.len`` above ``frame.cap_len``); the database keeps it whole.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import multiprocessing
import os
import re
import sqlite3
import struct
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import ClassVar

from rtcscope.capture.packet import LinkType
from rtcscope.capture.writer import PcapWriter, ethernet_frame
from rtcscope.errors import HepError, InputError, InvalidArgument, OutputError
from rtcscope.hep.codec import pack_address

log = logging.getLogger("rtcscope.hep.store")

DATABASE_NAME = "hep.sqlite"
PCAP_NAME = "sip.pcap"
# The largest SIP payload a pcap frame carries whole: an IPv4 packet is at most 65,535
# bytes, less 20 of IPv4 header and 20 of TCP header (the larger of TCP and UDP).
MAX_PCAP_PAYLOAD = 65535 - 40

# One row as the collector builds it, in the column order of _INSERT.
Row = tuple[
    int,  # time_ns
    int,  # received_ns
    str | None,  # src
    int | None,  # sport
    str | None,  # dst
    int | None,  # dport
    int | None,  # ip_proto
    int,  # hep_version
    int | None,  # proto_type
    int | None,  # capture_id
    str | None,  # node
    str | None,  # correlation_id
    str | None,  # call_id
    str | None,  # method
    int | None,  # status
    bytes,  # payload
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    received_ns INTEGER NOT NULL,
    src TEXT, sport INTEGER, dst TEXT, dport INTEGER, ip_proto INTEGER,
    hep_version INTEGER NOT NULL,
    proto_type INTEGER, capture_id INTEGER, node TEXT, correlation_id TEXT,
    call_id TEXT, method TEXT, status INTEGER,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_call_id ON messages (call_id);
CREATE INDEX IF NOT EXISTS messages_time ON messages (time_ns);
CREATE INDEX IF NOT EXISTS messages_correlation ON messages (correlation_id);
"""

_COLUMNS = (
    "time_ns, received_ns, src, sport, dst, dport, ip_proto, hep_version, proto_type, "
    "capture_id, node, correlation_id, call_id, method, status, payload"
)
_INSERT = f"INSERT INTO messages ({_COLUMNS}) VALUES ({', '.join('?' * 16)})"

# RFC 3261 7.3.3: "i" is the compact form of Call-ID; header names are case-insensitive.
_CALL_ID = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


def sip_index_fields(payload: bytes) -> tuple[str | None, str | None, int | None]:
    """(Call-ID, method, status) of a SIP message, read from its start line and headers.

    Deliberately minimal: the collector indexes tens of thousands of messages a second, and
    a full parse (``rtcscope.sip.message``) costs ~90 µs. Folded Call-ID lines are not joined.
    """
    eol = payload.find(b"\n")
    if eol < 0:
        eol = len(payload)
    line_end = eol - 1 if eol and payload[eol - 1] == 13 else eol  # before the CR of CRLF
    method: str | None = None
    status: int | None = None
    if payload.startswith(b"SIP/2.0 "):
        code = payload[8:11]
        if code.isdigit():
            status = int(code)
    elif payload.startswith(b" SIP/2.0", line_end - 8, line_end):
        method = payload[: payload.find(b" ", 0, line_end)].decode("ascii", "replace")
    else:
        return None, None, None
    # fast path: the spelling nearly every agent writes, before the first blank line
    at = payload.find(b"\nCall-ID: ", eol - 1)
    if (
        at >= 0
        and payload.find(b"\n\r\n", eol - 1, at + 1) < 0
        and payload.find(b"\n\n", eol - 1, at + 1) < 0
    ):
        stop = payload.find(b"\n", at + 10)
        value = payload[at + 10 : stop if stop >= 0 else len(payload)].strip()
        return value.decode("utf-8", "surrogateescape"), method, status
    end = payload.find(b"\r\n\r\n")
    if end < 0:  # RFC 3261 7.5 wants CRLF; captures also hold LF-only messages
        end = payload.find(b"\n\n")
        if end < 0:
            end = len(payload)
    match = _CALL_ID.search(payload, 0, end)
    call_id = (
        match.group(1).strip().decode("utf-8", "surrogateescape") if match is not None else None
    )
    return call_id, method, status


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One row of ``messages`` (what ``rtcscope hep search`` prints)."""

    id: int
    time_ns: int
    received_ns: int
    src: str | None
    sport: int | None
    dst: str | None
    dport: int | None
    ip_proto: int | None
    hep_version: int
    proto_type: int | None
    capture_id: int | None
    node: str | None
    correlation_id: str | None
    call_id: str | None
    method: str | None
    status: int | None
    payload: bytes


def escape_text(value: str) -> str:
    """``value`` with every byte that was not UTF-8 (a surrogate from ``surrogateescape``)
    written as ``\\xNN`` (backslash, x, two hex digits): the one escaping the store uses,
    so SQLite always takes it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def _escaped_row(row: Row) -> Row:
    return tuple(escape_text(v) if isinstance(v, str) else v for v in row)  # type: ignore[return-value]


class HepStore:
    """Writes batches of rows to ``DIR/hep.sqlite`` (and SIP frames to ``DIR/sip.pcap``).

    ``rows_committed`` counts rows in committed transactions; ``failures`` counts, by reason,
    the rows SQLite refused even escaped (a full disk, a corrupt file): they are lost, the
    store goes on. ``rotate`` (see :class:`SipPcap`) starts a new pcap by size or age.
    """

    def __init__(
        self,
        directory: str | Path,
        write_pcap: bool = True,
        rotate: Rotation | None = None,
    ) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the collector creates the store, its writer thread
            # uses it.
            self._db = sqlite3.connect(
                self.directory / DATABASE_NAME, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._pcap: SipPcap | None = (
                SipPcap(self.directory / PCAP_NAME, rotate) if write_pcap else None
            )
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot create a HEP store in {self.directory}: {exc}") from None
        self.rows_committed = 0
        self.failures: Counter[str] = Counter()

    @property
    def rows_written(self) -> int:
        return self.rows_committed

    @property
    def pcap_truncated(self) -> int:
        return self._pcap.truncated if self._pcap is not None else 0

    def add(self, rows: Sequence[Row]) -> None:
        """Store one batch in one transaction; SIP rows also go to the pcap. Never raises
        for a row's content: what cannot be stored is counted in ``failures``."""
        if not rows:
            return
        try:
            self._insert(rows)
        except (sqlite3.Error, UnicodeEncodeError, ValueError, OverflowError):
            self._rollback()
            rows = [_escaped_row(row) for row in rows]
            try:
                self._insert(rows)
            except (sqlite3.Error, ValueError, OverflowError):
                self._rollback()
                rows = self._insert_each(rows)
        if self._pcap is not None:
            try:
                self._pcap.write_rows(rows)
            except OSError as exc:
                self.failures[f"pcap: {exc.strerror or exc}"] += len(rows)

    def _insert(self, rows: Sequence[Row]) -> None:
        db = self._db
        db.execute("BEGIN")
        db.executemany(_INSERT, rows)
        db.execute("COMMIT")
        self.rows_committed += len(rows)

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _insert_each(self, rows: Sequence[Row]) -> list[Row]:
        """Row by row; the rows stored (for the pcap), the others counted by reason."""
        stored: list[Row] = []
        for row in rows:
            try:
                self._db.execute(_INSERT, row)
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                reason = f"database: {exc}"
                if not self.failures[reason]:
                    log.error("HEP store refused a message: %s", exc)
                self.failures[reason] += 1
                continue
            self.rows_committed += 1
            stored.append(row)
        return stored

    def close(self) -> None:
        if self._pcap is not None:
            with contextlib.suppress(OSError):
                self._pcap.close()
        self._db.close()

    def __enter__(self) -> HepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DEFAULT_SEARCH_LIMIT = 1000
MAX_SEARCH_LIMIT = 10_000_000


def _open_read_only(path: Path) -> sqlite3.Connection:
    """The database opened read-only by a proper file URI: ``Path.as_uri`` percent-encodes
    ``#``, ``?`` and ``%`` in the path, so no part of it is read as URI syntax."""
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


def search(
    directory: str | Path,
    *,
    call_id: str | None = None,
    proto_type: int | None = None,
    since_ns: int | None = None,
    limit: int | None = DEFAULT_SEARCH_LIMIT,
) -> Iterator[StoredMessage]:
    """Stored messages matching every filter given (a Call-ID matches ``call_id`` or the
    correlation id), oldest first, at most ``limit`` (None: all), streamed row by row so
    memory stays flat however many match."""
    path = Path(directory) / DATABASE_NAME
    if not path.is_file():
        raise InputError(f"{directory} holds no HEP store ({DATABASE_NAME} is missing)")
    where: list[str] = []
    args: list[object] = []
    if call_id is not None:
        where.append("(call_id = ? OR correlation_id = ?)")
        args += [call_id, call_id]
    if proto_type is not None:
        where.append("proto_type = ?")
        args.append(proto_type)
    if since_ns is not None:
        where.append("time_ns >= ?")
        args.append(since_ns)
    sql = f"SELECT id, {_COLUMNS} FROM messages"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY time_ns, id"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return _stream_rows(path, sql, args)


def _stream_rows(path: Path, sql: str, args: list[object]) -> Iterator[StoredMessage]:
    try:
        db = _open_read_only(path)
    except sqlite3.Error as exc:
        raise InputError(f"{path} cannot be read: {exc}") from None
    try:
        try:
            cursor = db.execute(sql, args)
            for row in cursor:
                yield StoredMessage(*row)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a collector is creating the store right now
                return
            raise InputError(f"{path} cannot be read: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path} cannot be read: {exc}") from None
    finally:
        db.close()


def count(directory: str | Path) -> int:
    """How many messages the store holds (0 while a collector is still creating it)."""
    path = Path(directory) / DATABASE_NAME
    if not path.is_file():
        return 0
    try:
        db = _open_read_only(path)
    except sqlite3.Error as exc:
        raise InputError(f"{path} cannot be read: {exc}") from None
    try:
        total: int = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        return total
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise InputError(f"{path} cannot be read: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path} cannot be read: {exc}") from None
    finally:
        db.close()


# --- the pcap of received SIP --------------------------------------------------------------

_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_UDP_HEADER = struct.Struct("!HHHH")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_TCP_PSH_ACK = 0x18
# IPv4 header (version/IHL, TOS; total length; id, DF; TTL 64, UDP; checksum; addresses) and
# the UDP header with checksum 0: the fast path's one pack per frame
_IPV4_UDP = struct.Struct("!BBHHHBBH8sHHHH")
# Ethernet header + the largest IPv4 packet
_PCAP_SNAPLEN = 14 + 65535


def _ipv4_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def sip_frame(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    payload: bytes,
    tcp_seq: int | None = None,
) -> bytes:
    """An Ethernet frame carrying ``payload`` over UDP (or TCP when ``tcp_seq`` is given).

    MAC addresses are capture.writer's synthetic ones; the IPv4 header checksum is computed,
    the UDP/TCP checksums are left 0 (RFC 768 allows it for UDP over IPv4; Wireshark does not
    check them by default). An IPv4 address on one side and IPv6 on the other (a HEP agent
    may send that) is written as IPv6 with the IPv4-mapped form (RFC 4291 2.5.5.2).
    """
    src_raw, dst_raw = pack_address(src), pack_address(dst)
    if tcp_seq is None:
        transport = _UDP_HEADER.pack(sport, dport, 8 + len(payload), 0)
        proto = 17
    else:
        transport = _TCP_HEADER.pack(
            sport, dport, tcp_seq & 0xFFFFFFFF, 0, 5 << 4, _TCP_PSH_ACK, 0xFFFF, 0, 0
        )
        proto = 6
    body = transport + payload
    if len(src_raw) == 4 and len(dst_raw) == 4:
        header = _IPV4_HEADER.pack(
            0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0, src_raw, dst_raw
        )
        checksum = _ipv4_checksum(header)
        header = header[:10] + struct.pack("!H", checksum) + header[12:]
        return _ethernet(header + body)
    if len(src_raw) == 4:
        src_raw = b"\x00" * 10 + b"\xff\xff" + src_raw  # RFC 4291 2.5.5.2: IPv4-mapped
    if len(dst_raw) == 4:
        dst_raw = b"\x00" * 10 + b"\xff\xff" + dst_raw
    header = struct.pack("!IHBB", 6 << 28, len(body), proto, 64) + src_raw + dst_raw
    return _ethernet(header + body)


def _ethernet(ip_packet: bytes) -> bytes:
    frame = ethernet_frame(LinkType.RAW, ip_packet)  # capture.writer's synthetic MACs
    assert frame is not None  # an IPv4/IPv6 packet always frames
    return frame


@dataclass(frozen=True, slots=True)
class Rotation:
    """When :class:`SipPcap` starts a new file: past ``max_bytes``, or once the file is
    ``max_age_s`` old (checked as frames arrive, as ``tcpdump -G`` does)."""

    max_bytes: int | None = None
    max_age_s: float | None = None

    _SIZE_UNITS: ClassVar[dict[str, int]] = {
        "": 1,
        "b": 1,
        "kb": 10**3,
        "mb": 10**6,
        "gb": 10**9,
        "kib": 2**10,
        "mib": 2**20,
        "gib": 2**30,
    }
    _TIME_UNITS: ClassVar[dict[str, int]] = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}

    @classmethod
    def parse(cls, text: str) -> Rotation:
        """``100MB``, ``5min``, ``100MB/5min`` (either order); sizes in B/KB/MB/GB or
        KiB/MiB/GiB, ages in s/min/h."""
        max_bytes: int | None = None
        max_age_s: float | None = None
        for part in text.split("/"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", part)
            if match is None:
                raise InvalidArgument("rotate", f"{part!r} is not a size (100MB) or an age (5min)")
            number, unit = float(match.group(1)), match.group(2).lower()
            if unit in cls._TIME_UNITS and max_age_s is None:
                max_age_s = number * cls._TIME_UNITS[unit]
            elif unit in cls._SIZE_UNITS and max_bytes is None:
                max_bytes = int(number * cls._SIZE_UNITS[unit])
            else:
                raise InvalidArgument("rotate", f"{part!r} is not a size (100MB) or an age (5min)")
        if (max_bytes is not None and max_bytes < 4096) or (
            max_age_s is not None and max_age_s < 1
        ):
            raise InvalidArgument("rotate", f"{text}: at least 4096 bytes and 1 s")
        return cls(max_bytes, max_age_s)


class SipPcap:
    """Appends the SIP rows of each batch to a pcap (Ethernet), through capture.writer.

    Without ``rotate`` the file is ``path`` itself. With it, frames go to
    ``<stem>-NNNNNN.pcap.part`` (``sip-000001.pcap.part``, ...), renamed to
    ``<stem>-NNNNNN.pcap`` when full, old enough or closed: a file named ``*.pcap`` is
    complete and never written again, so an indexer can take the files as they appear.
    """

    def __init__(self, path: Path, rotate: Rotation | None = None) -> None:
        self._path = path
        self._rotate = rotate
        self._sequence = 0
        self._opened_at = 0.0
        self._writer = self._open()
        self._tcp_seq: dict[tuple[str, int, str, int], int] = {}
        # IPv4/UDP fast path: per address pair, the Ethernet + IPv4 header bytes that do not
        # change, and the one's-complement sum of the IPv4 header without its total length
        self._ipv4_pairs: dict[tuple[str, str], tuple[bytes, bytes, int] | None] = {}
        self.frames = 0
        self.truncated = 0
        self.files: list[Path] = []  # completed files, with rotation

    def _part_name(self) -> tuple[Path, Path]:
        final = self._path.with_name(f"{self._path.stem}-{self._sequence:06d}.pcap")
        return final.with_name(final.name + ".part"), final

    def _open(self) -> PcapWriter:
        if self._rotate is None:
            return PcapWriter(self._path, snaplen=_PCAP_SNAPLEN, live=True)
        self._sequence += 1
        self._opened_at = time.monotonic()
        part, _final = self._part_name()
        return PcapWriter(part, snaplen=_PCAP_SNAPLEN, live=True)

    def _finish_file(self) -> None:
        self._writer.close()
        if self._rotate is not None:
            part, final = self._part_name()
            os.replace(part, final)
            self.files.append(final)

    def _maybe_rotate(self) -> None:
        rotate = self._rotate
        if rotate is None:
            return
        if (rotate.max_bytes is not None and self._writer.bytes_written >= rotate.max_bytes) or (
            rotate.max_age_s is not None and time.monotonic() - self._opened_at >= rotate.max_age_s
        ):
            try:
                self._finish_file()
            finally:
                # A failed rename (full disk, a file gone) must not leave the store writing
                # to a closed file for every later batch: the next file opens regardless.
                self._writer = self._open()

    def _ipv4_pair(self, src: str, dst: str) -> tuple[bytes, bytes, int] | None:
        try:
            src_raw, dst_raw = pack_address(src), pack_address(dst)
        except HepError:
            return None
        if len(src_raw) != 4 or len(dst_raw) != 4:
            return None
        prefix = ethernet_frame(LinkType.RAW, b"\x45")  # the Ethernet header for IPv4
        assert prefix is not None
        header = _IPV4_HEADER.pack(0x45, 0, 0, 0, 0x4000, 64, 17, 0, src_raw, dst_raw)
        base: int = sum(struct.unpack("!10H", header))
        return prefix[:-1], src_raw + dst_raw, base

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._maybe_rotate()
        write = self._writer.write
        pairs = self._ipv4_pairs
        for row in rows:
            time_ns, _received, src, sport, dst, dport, ip_proto = row[:7]
            if row[8] != 1 or src is None or dst is None:  # proto_type 1 = SIP
                continue
            payload = row[15]
            if ip_proto != 6 and len(payload) <= MAX_PCAP_PAYLOAD:
                key4 = (src, dst)
                if key4 in pairs:
                    pair = pairs[key4]
                else:
                    pair = pairs[key4] = self._ipv4_pair(src, dst)
                if pair is not None:
                    ethernet, addresses, base = pair
                    udp_length = 8 + len(payload)
                    total = 20 + udp_length
                    checksum = base + total
                    checksum = (checksum & 0xFFFF) + (checksum >> 16)
                    checksum = ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF
                    write(
                        ethernet
                        + _IPV4_UDP.pack(
                            0x45,
                            0,
                            total,
                            0,
                            0x4000,
                            64,
                            17,
                            checksum,
                            addresses,
                            sport or 0,
                            dport or 0,
                            udp_length,
                            0,
                        )
                        + payload,
                        time_ns,
                    )
                    self.frames += 1
                    continue
            self._write_framed(row)
        self._writer.flush()  # readers (tshark, a tail) see each batch as it is stored

    def _write_framed(self, row: Row) -> None:
        """The general path (TCP, IPv6, mixed families, large payloads). A payload no IP
        packet can carry is cut at MAX_PCAP_PAYLOAD bytes, the record's original length
        counting all of it (pcap's truncation mark)."""
        time_ns, _received, src, sport, dst, dport, ip_proto = row[:7]
        payload = row[15]
        assert src is not None and dst is not None
        seq = None
        if ip_proto == 6:
            key = (src, sport or 0, dst, dport or 0)
            seq = self._tcp_seq.get(key, 1)
            self._tcp_seq[key] = seq + len(payload)
        kept = payload[:MAX_PCAP_PAYLOAD]
        try:
            frame = sip_frame(src, dst, sport or 0, dport or 0, kept, seq)
        except HepError:
            return
        self._writer.write(frame, time_ns, orig_len=len(frame) + len(payload) - len(kept))
        self.frames += 1
        if len(kept) < len(payload):
            self.truncated += 1

    def close(self) -> None:
        self._finish_file()


# --- the store in a process of its own -----------------------------------------------------


class StoreProcess:
    """A :class:`HepStore` run in a child process, so that SQLite and the pcap do not share
    the receiver's interpreter lock: ``add`` sends a batch through a pipe (marshal: the rows
    are tuples of ints, strings and bytes), the child inserts it. Same ``add``/``close``
    interface as HepStore; ``add`` blocks only while the pipe is full (call it from a thread,
    as the collector does). The child reports ``rows_committed``, the rows it could not
    store and the pcap frames it truncated through shared counters; it survives any batch.
    """

    def __init__(
        self, directory: str | Path, write_pcap: bool = True, rotate: Rotation | None = None
    ) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, self._conn = context.Pipe(duplex=False)
        self.directory = Path(directory)
        # committed rows, rows the store refused, pcap frames truncated, store ready (1) or
        # failed to open (-1)
        self._counters = context.Array("q", 4, lock=False)
        self._process = context.Process(
            target=_store_process_main,
            args=(receiver, str(directory), write_pcap, rotate, self._counters),
            name="rtcscope-hep-store",
            daemon=True,
        )
        self._process.start()
        receiver.close()
        self.rows_sent = 0

    @property
    def rows_committed(self) -> int:
        return int(self._counters[0])

    @property
    def rows_written(self) -> int:
        return self.rows_committed

    @property
    def failures(self) -> Counter[str]:
        failed = int(self._counters[1])
        return Counter({"store refused": failed} if failed else {})

    @property
    def pcap_truncated(self) -> int:
        return int(self._counters[2])

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until the child has opened the store; OutputError if it could not."""
        deadline = time.monotonic() + timeout_s
        while self._counters[3] == 0 and self._process.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self._counters[3] != 1:
            raise OutputError(f"cannot create a HEP store in {self.directory}")

    def add(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        try:
            self._conn.send_bytes(marshal.dumps(list(rows)))
        except OSError:
            raise InputError(
                f"the HEP store process for {self.directory} has stopped "
                f"(exit code {self._process.exitcode})"
            ) from None
        self.rows_sent += len(rows)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send_bytes(b"")
        self._conn.close()
        self._process.join()
        if self._process.exitcode != 0:
            raise InputError(
                f"the HEP store process for {self.directory} failed "
                f"(exit code {self._process.exitcode})"
            )


def _store_process_main(
    conn: Connection,
    directory: str,
    write_pcap: bool,
    rotate: Rotation | None,
    counters: Sequence[int],
) -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent decides when the store closes
    # (after the last batch), so the child ignores SIGINT and ends on the pipe's end marker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    shared: list[int] = counters  # type: ignore[assignment]
    try:
        store = HepStore(directory, write_pcap=write_pcap, rotate=rotate)
    except OutputError as exc:
        log.error("%s", exc)
        shared[3] = -1
        conn.close()
        return
    shared[3] = 1
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not data:
                return
            rows = marshal.loads(data)
            try:
                store.add(rows)
            except Exception as exc:  # the store never stops for one batch
                log.error("HEP store: a batch of %d rows failed: %s", len(rows), exc)
                store.failures[f"batch: {exc}"] += len(rows)
            shared[0] = store.rows_committed
            shared[1] = sum(store.failures.values())
            shared[2] = store.pcap_truncated
    finally:
        store.close()
        shared[0] = store.rows_committed
        conn.close()
