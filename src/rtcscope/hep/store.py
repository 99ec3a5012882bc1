"""The collector's embedded store: one SQLite database and one pcap of the SIP received.

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
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import re
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from rtcscope.capture.packet import LinkType
from rtcscope.capture.writer import PcapWriter, ethernet_frame
from rtcscope.errors import HepError, InputError
from rtcscope.hep.codec import pack_address

DATABASE_NAME = "hep.sqlite"
PCAP_NAME = "sip.pcap"

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


class HepStore:
    """Writes batches of rows to ``DIR/hep.sqlite`` (and SIP frames to ``DIR/sip.pcap``)."""

    def __init__(self, directory: str | Path, write_pcap: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the collector creates the store, its writer thread uses it.
        self._db = sqlite3.connect(
            self.directory / DATABASE_NAME, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pcap: SipPcap | None = SipPcap(self.directory / PCAP_NAME) if write_pcap else None
        self.rows_written = 0

    def add(self, rows: Sequence[Row]) -> None:
        """Store one batch in one transaction; SIP rows also go to the pcap."""
        if not rows:
            return
        db = self._db
        db.execute("BEGIN")
        db.executemany(_INSERT, rows)
        db.execute("COMMIT")
        self.rows_written += len(rows)
        if self._pcap is not None:
            self._pcap.write_rows(rows)

    def close(self) -> None:
        if self._pcap is not None:
            self._pcap.close()
        self._db.close()

    def __enter__(self) -> HepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def search(
    directory: str | Path,
    *,
    call_id: str | None = None,
    proto_type: int | None = None,
    since_ns: int | None = None,
    limit: int | None = None,
) -> list[StoredMessage]:
    """Stored messages matching every filter given (a Call-ID matches ``call_id`` or the
    correlation id), oldest first."""
    path = Path(directory) / DATABASE_NAME
    if not path.exists():
        raise InputError(f"{directory} holds no HEP store ({DATABASE_NAME} is missing)")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
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
        try:
            rows: Iterable[tuple[object, ...]] = db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a collector is creating the store right now
                return []
            raise InputError(f"{path} cannot be read: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path} cannot be read: {exc}") from None
        return [StoredMessage(*row) for row in rows]  # type: ignore[arg-type]
    finally:
        db.close()


def count(directory: str | Path) -> int:
    """How many messages the store holds (0 while a collector is still creating it)."""
    path = Path(directory) / DATABASE_NAME
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        total: int = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        return total
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
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


class SipPcap:
    """Appends the SIP rows of each batch to a pcap (Ethernet), through capture.writer."""

    def __init__(self, path: Path) -> None:
        self._writer = PcapWriter(path)  # Ethernet
        self._tcp_seq: dict[tuple[str, int, str, int], int] = {}
        # IPv4/UDP fast path: per address pair, the Ethernet + IPv4 header bytes that do not
        # change, and the one's-complement sum of the IPv4 header without its total length
        self._ipv4_pairs: dict[tuple[str, str], tuple[bytes, bytes, int] | None] = {}
        self.frames = 0

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
        write = self._writer.write
        pairs = self._ipv4_pairs
        for row in rows:
            time_ns, _received, src, sport, dst, dport, ip_proto = row[:7]
            if row[8] != 1 or src is None or dst is None:  # proto_type 1 = SIP
                continue
            payload = row[15]
            if ip_proto != 6:
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
            seq = None
            if ip_proto == 6:
                key = (src, sport or 0, dst, dport or 0)
                seq = self._tcp_seq.get(key, 1)
                self._tcp_seq[key] = seq + len(payload)
            try:
                frame = sip_frame(src, dst, sport or 0, dport or 0, payload, seq)
            except HepError:
                continue
            write(frame, time_ns)
            self.frames += 1
        self._writer.flush()  # readers (tshark, a tail) see each batch as it is stored

    def close(self) -> None:
        self._writer.close()


# --- the store in a process of its own -----------------------------------------------------


class StoreProcess:
    """A :class:`HepStore` run in a child process, so that SQLite and the pcap do not share
    the receiver's interpreter lock: ``add`` sends a batch through a pipe (marshal: the rows
    are tuples of ints, strings and bytes), the child inserts it. Same ``add``/``close``
    interface as HepStore; ``add`` blocks only while the pipe is full (call it from a thread,
    as the collector does)."""

    def __init__(self, directory: str | Path, write_pcap: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, self._conn = context.Pipe(duplex=False)
        self.directory = Path(directory)
        self._process = context.Process(
            target=_store_process_main,
            args=(receiver, str(directory), write_pcap),
            name="rtcscope-hep-store",
            daemon=True,
        )
        self._process.start()
        receiver.close()
        self.rows_written = 0

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
        self.rows_written += len(rows)

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


def _store_process_main(conn: Connection, directory: str, write_pcap: bool) -> None:
    store = HepStore(directory, write_pcap=write_pcap)
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except EOFError:
                return
            if not data:
                return
            store.add(marshal.loads(data))
    finally:
        store.close()
        conn.close()
