"""The HEP collector: asyncio UDP and TCP receivers feeding the embedded store.

Use::

    store = StoreProcess(directory)      # or HepStore(directory): same thread, same process
    collector = HepCollector(store, password="secret")
    await collector.serve("127.0.0.1", 9060, udp=True, tcp=True)   # until cancelled
    collector.close()              # waits until everything queued is stored
    collector.stats                # CollectorStats: received, stored, refused by reason, ...

Every packet is validated and decoded (:func:`rtcscope.hep.codec.decode_fields`). What is
refused is counted in ``stats.refused`` under one reason: ``invalid`` (does not decode),
``password`` (chunk 14 missing or different when a password is set; HEPv1/v2 carry none),
``payload_too_large`` (a compressed payload inflating past ``max_payload_bytes``, 64 KiB by
default: a compression bomb costs at most that), ``queue_full`` (the store is behind and the
bytes waiting for it reached ``max_queue_bytes``), ``store_failed`` (the store refused the
row). ``stored`` counts rows in committed transactions, ``accepted`` rows handed to the store.

No input stops the service: text fields that are not UTF-8 are stored escaped (see
:mod:`rtcscope.hep.store`), payloads of any size the limits allow are stored, a batch the
store cannot write is counted, not raised. Per-source counters keep the 1,024 most recently
seen sources (the rest add up under ``other``); warnings are logged once per source and kind
and at most 20 a minute, the rest counted in ``warnings_suppressed``.

TCP: at most ``max_tcp_connections`` at once (by default a little under the process's file
descriptor limit); a new connection beyond it closes the one idle the longest. A connection
silent for ``tcp_idle_timeout_s`` is closed, and so is one that has started a frame and not
finished it within ``tcp_frame_timeout_s`` (a client trickling a byte a second). Accept
errors (out of descriptors) are counted and retried after a pause, without a traceback.

Speed (the hot path is UDP): the socket gets a large receive buffer (``SO_RCVBUFFORCE`` when
permitted, else ``SO_RCVBUF``) and is drained in a loop on each readiness event instead of one
datagram per event loop turn (what ``create_datagram_endpoint`` does); rows are built with the
lean :func:`~rtcscope.hep.codec.decode_fields` and the minimal SIP index scan, and handed in
batches (2,000 rows or 4 MiB, or every 50 ms) through a queue bounded in bytes to one writer
thread, which passes them to the store: a :class:`StoreProcess` (SQLite and the pcap in a
child process, off this interpreter's lock: what ``hep listen`` uses) or a
:class:`HepStore` (in the thread). Each batch is one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import queue
import resource
import socket
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from rtcscope.errors import HepError, InputError
from rtcscope.hep.codec import PayloadTooLarge, ProtocolType, decode_fields
from rtcscope.hep.framing import CONNECTION_CLOSED, NEED_DATA, HepFramer
from rtcscope.hep.store import HepStore, Row, StoreProcess, sip_index_fields

log = logging.getLogger("rtcscope.hep.collector")

UDP_RECEIVE_BUFFER_BYTES = 64 * 1024 * 1024
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_DRAIN_LIMIT = 2000  # datagrams per readiness event, so TCP connections still get turns
_MAX_DATAGRAM = 65535
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
DEFAULT_TCP_IDLE_TIMEOUT_S = 60.0
DEFAULT_TCP_FRAME_TIMEOUT_S = 10.0
_ROW_OVERHEAD_BYTES = 200  # a row's tuple and its small values, beside the payload
_SOURCES_KEPT = 1024
_WARNINGS_PER_MINUTE = 20
_ACCEPT_PAUSE_S = 0.1

REFUSAL_REASONS = ("invalid", "password", "payload_too_large", "queue_full", "store_failed")


class SourceCounter(Counter[str]):
    """A Counter of the ``limit`` most recently counted sources; older ones are folded into
    ``other``, so a flood of source addresses cannot grow it."""

    def __init__(self, limit: int = _SOURCES_KEPT) -> None:
        super().__init__()
        self.limit = limit
        self._order: OrderedDict[str, None] = OrderedDict()

    def count(self, source: str) -> None:
        self[source] += 1
        self._order[source] = None
        self._order.move_to_end(source)
        if len(self._order) > self.limit:
            old, _ = self._order.popitem(last=False)
            self["other"] += self.pop(old, 0)


def default_max_tcp_connections() -> int:
    """A little under the soft file descriptor limit, leaving room for the store and logs."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(8, min(4096, soft - 64))


@dataclass
class CollectorStats:
    """What the collector saw; ``print`` it on exit."""

    received: int = 0
    accepted: int = 0  # handed to the store
    stored: int = 0  # in committed transactions
    empty: int = 0  # keep-alives and other packets without a payload
    tcp_connections: int = 0
    tcp_closed: Counter[str] = field(default_factory=Counter)  # why the collector closed them
    accept_errors: int = 0
    pcap_truncated: int = 0
    warnings_suppressed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    rejected_by_source: SourceCounter = field(default_factory=SourceCounter)
    invalid_by_source: SourceCounter = field(default_factory=SourceCounter)

    @property
    def invalid(self) -> int:
        return self.refused["invalid"]

    @property
    def rejected(self) -> int:
        return self.refused["password"]

    @property
    def store_errors(self) -> int:
        return self.refused["store_failed"]

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "stored": self.stored,
            "invalid": self.invalid,
            "rejected_password": self.rejected,
            "without_payload": self.empty,
            "refused": {reason: self.refused[reason] for reason in REFUSAL_REASONS},
            "tcp_connections": self.tcp_connections,
            "tcp_closed": dict(self.tcp_closed),
            "accept_errors": self.accept_errors,
            "store_errors": self.store_errors,
            "pcap_truncated": self.pcap_truncated,
            "warnings_suppressed": self.warnings_suppressed,
            "rejected_by_source": dict(self.rejected_by_source),
            "invalid_by_source": dict(self.invalid_by_source),
        }


@dataclass
class _Connection:
    task: asyncio.Task[None]
    last_activity: float


class HepCollector:
    """Validates, decodes and stores HEP packets; counts and logs what it refuses."""

    def __init__(
        self,
        store: HepStore | StoreProcess,
        password: str | None = None,
        batch_size: int = 2000,
        flush_interval_s: float = 0.05,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_tcp_connections: int | None = None,
        tcp_idle_timeout_s: float = DEFAULT_TCP_IDLE_TIMEOUT_S,
        tcp_frame_timeout_s: float = DEFAULT_TCP_FRAME_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.password = password
        self._password_bytes = (
            password.encode("utf-8", "surrogateescape") if password is not None else None
        )
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_payload_bytes = max_payload_bytes
        self.max_queue_bytes = max_queue_bytes
        self.max_tcp_connections = (
            max_tcp_connections
            if max_tcp_connections is not None
            else default_max_tcp_connections()
        )
        self.tcp_idle_timeout_s = tcp_idle_timeout_s
        self.tcp_frame_timeout_s = tcp_frame_timeout_s
        self.stats = CollectorStats()
        self._batch: list[Row] = []
        self._batch_bytes = 0
        # Bounded in bytes (checked before a row is queued): when the store falls behind,
        # rows are refused as queue_full instead of this process growing without limit.
        self._queue: queue.Queue[tuple[list[Row], int] | None] = queue.Queue()
        self._queued_bytes = 0
        self._queued_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_batches, name="hep-store", daemon=True)
        self._writer_error: Exception | None = None
        self._send_failures = 0  # rows whose hand-over to the store raised
        self._logged: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._warning_window_start = 0.0
        self._warnings_in_window = 0
        self._connections: dict[int, _Connection] = {}
        self.bound: list[tuple[str, str, int]] = []  # (transport, host, port) once listening

    # --- the hot path -------------------------------------------------------------------

    def handle_packet(self, data: bytes, source: str, received_ns: int) -> None:
        """Validate, decode, check the password and queue one packet's row."""
        stats = self.stats
        stats.received += 1
        try:
            fields = decode_fields(data, self.max_payload_bytes)
        except PayloadTooLarge as exc:
            stats.refused["payload_too_large"] += 1
            stats.invalid_by_source.count(source)
            self._warn("too large", source, f"HEP from {source} refused: {exc}")
            return
        except HepError as exc:
            stats.refused["invalid"] += 1
            stats.invalid_by_source.count(source)
            self._warn("invalid", source, f"invalid HEP from {source}: {exc}")
            return
        if self._password_bytes is not None and not _same_key(
            fields.get("auth_key"), self._password_bytes
        ):
            stats.refused["password"] += 1
            stats.rejected_by_source.count(source)
            reason = "no password" if fields.get("auth_key") is None else "a wrong password"
            self._warn("password", source, f"HEP from {source} refused: {reason}")
            return
        payload = fields["payload"]
        if not payload:
            stats.empty += 1
            return
        assert isinstance(payload, bytes)
        size = len(payload) + _ROW_OVERHEAD_BYTES
        if self._queued_bytes + self._batch_bytes + size > self.max_queue_bytes:
            stats.refused["queue_full"] += 1
            self._warn("queue", "", "the HEP store is behind: messages are being dropped")
            return
        proto_type = fields.get("proto_type")
        if proto_type == ProtocolType.SIP:
            call_id, method, status = sip_index_fields(payload)
        else:
            call_id = method = status = None
        ts_sec = fields.get("ts_sec")
        time_ns = (
            ts_sec * 1_000_000_000 + fields.get("ts_usec", 0) * 1000
            if ts_sec is not None
            else received_ns
        )
        self._batch.append(
            (
                time_ns,
                received_ns,
                fields.get("src"),
                fields.get("sport"),
                fields.get("dst"),
                fields.get("dport"),
                fields.get("ip_proto"),
                fields["version"],
                proto_type,
                fields.get("capture_id"),
                fields.get("node_name"),
                fields.get("correlation_id"),
                call_id,
                method,
                status,
                payload,
            )
        )
        self._batch_bytes += size
        stats.accepted += 1
        if len(self._batch) >= self.batch_size or self._batch_bytes >= MAX_BATCH_BYTES:
            self.flush()

    def _warn(self, kind: str, source: str, message: str) -> None:
        """Once per (kind, source) among the sources seen lately, and at most
        _WARNINGS_PER_MINUTE lines a minute; the rest are counted."""
        key = (kind, source)
        if key in self._logged:
            return
        self._logged[key] = None
        if len(self._logged) > _SOURCES_KEPT:
            self._logged.popitem(last=False)
        now = time.monotonic()
        if now - self._warning_window_start >= 60.0:
            if self.stats.warnings_suppressed and self._warnings_in_window >= _WARNINGS_PER_MINUTE:
                log.warning(
                    "%d warnings suppressed so far (see the counts on exit)",
                    self.stats.warnings_suppressed,
                )
            self._warning_window_start = now
            self._warnings_in_window = 0
        if self._warnings_in_window >= _WARNINGS_PER_MINUTE:
            self.stats.warnings_suppressed += 1
            return
        self._warnings_in_window += 1
        suffix = " (further ones from this source are only counted)" if source else ""
        log.warning("%s%s", message, suffix)

    def flush(self) -> None:
        """Hand the pending rows to the writer thread."""
        if self._batch:
            with self._queued_lock:
                self._queued_bytes += self._batch_bytes
            self._queue.put((self._batch, self._batch_bytes))
            self._batch = []
            self._batch_bytes = 0

    def _write_batches(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, size = item
            try:
                self.store.add(batch)
            except Exception as exc:  # the thread must keep draining
                if self._writer_error is None:
                    log.error("HEP store write failed: %s", exc)
                    self._writer_error = exc
                self._send_failures += len(batch)
            with self._queued_lock:
                self._queued_bytes -= size
            self._refresh_store_counts()

    def _refresh_store_counts(self) -> None:
        store = self.store
        self.stats.stored = store.rows_committed
        self.stats.pcap_truncated = store.pcap_truncated
        self.stats.refused["store_failed"] = self._send_failures + sum(store.failures.values())

    # --- the asyncio side ----------------------------------------------------------------

    async def serve(self, host: str, port: int, *, udp: bool = True, tcp: bool = False) -> None:
        """Listen on ``host:port`` (UDP, TCP or both) until cancelled, then flush."""
        loop = asyncio.get_running_loop()
        if not self._writer.is_alive():
            self._writer.start()
        udp_sock: socket.socket | None = None
        tcp_sock: socket.socket | None = None
        acceptor: asyncio.Future[None] | None = None
        flusher = asyncio.ensure_future(self._flush_periodically())
        try:
            if udp:
                udp_sock = _udp_socket(host, port)
                loop.add_reader(udp_sock.fileno(), self._drain_udp, udp_sock)
                bound = udp_sock.getsockname()
                self.bound.append(("udp", bound[0], bound[1]))
            if tcp:
                # with port 0 and both transports, TCP takes the port UDP was given
                tcp_port = self.bound[0][2] if self.bound else port
                tcp_sock = _tcp_listener(host, tcp_port)
                bound = tcp_sock.getsockname()
                self.bound.append(("tcp", bound[0], bound[1]))
                acceptor = asyncio.ensure_future(self._accept_loop(tcp_sock))
            await asyncio.Event().wait()
        finally:
            flusher.cancel()
            if acceptor is not None:
                acceptor.cancel()
            for connection in list(self._connections.values()):
                connection.task.cancel()
            if self._connections:
                await asyncio.gather(
                    *(c.task for c in self._connections.values()), return_exceptions=True
                )
            if tcp_sock is not None:
                tcp_sock.close()
            if udp_sock is not None:
                loop.remove_reader(udp_sock.fileno())
                # what is already in the socket buffer was sent to us: take it before closing
                self._drain_udp(udp_sock, limit=None)
                udp_sock.close()
            self.flush()

    def close(self) -> None:
        """Wait for the writer thread to store everything queued, then close the store."""
        self.flush()
        self._queue.put(None)
        if self._writer.is_alive():
            self._writer.join()
        else:  # never served (rows fed by handle_packet): store what is queued here
            self._write_batches()
        try:
            self.store.close()
        finally:
            self._refresh_store_counts()
        if self._writer_error is not None:
            raise InputError(
                f"{self.stats.store_errors} messages could not be stored: {self._writer_error}"
            ) from self._writer_error

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            self.flush()
            self._refresh_store_counts()

    def _drain_udp(self, sock: socket.socket, limit: int | None = _DRAIN_LIMIT) -> None:
        recvfrom = sock.recvfrom
        handle = self.handle_packet
        received_ns = time.time_ns()
        count = 0
        while limit is None or count < limit:
            try:
                data, address = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP errors reported on the socket
                log.debug("UDP receive error: %s", exc)
                return
            handle(data, address[0], received_ns)
            count += 1

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(listener)
            except OSError as exc:
                # EMFILE/ENFILE/ENOBUFS: out of descriptors or memory. The pending connection
                # stays in the backlog; try again after a pause, one warning, no traceback.
                self.stats.accept_errors += 1
                self._warn("accept", "", f"TCP accept failed ({exc.strerror or exc}); retrying")
                await asyncio.sleep(_ACCEPT_PAUSE_S)
                continue
            if len(self._connections) >= self.max_tcp_connections:
                self._evict_idlest()
            conn.setblocking(False)
            self.stats.tcp_connections += 1
            source = str(address[0]) if address else "?"
            task = asyncio.ensure_future(self._serve_connection(conn, source))
            key = id(task)
            self._connections[key] = _Connection(task, time.monotonic())
            task.add_done_callback(self._forget_connection)

    def _forget_connection(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(id(task), None)

    def _evict_idlest(self) -> None:
        idlest = min(self._connections.values(), key=lambda c: c.last_activity)
        self.stats.tcp_closed["connection_cap"] += 1
        self._warn(
            "cap",
            "",
            f"TCP connection cap ({self.max_tcp_connections}) reached: "
            "closing the connections idle the longest",
        )
        idlest.task.cancel()
        self._connections.pop(id(idlest.task), None)

    async def _serve_connection(self, conn: socket.socket, source: str) -> None:
        loop = asyncio.get_running_loop()
        framer = HepFramer()
        state = self._connections
        frame_started: float | None = None
        try:
            while True:
                now = time.monotonic()
                if framer.pending:
                    if frame_started is None:
                        frame_started = now
                    timeout = frame_started + self.tcp_frame_timeout_s - now
                    reason = "frame_timeout"
                else:
                    frame_started = None
                    timeout = self.tcp_idle_timeout_s
                    reason = "idle_timeout"
                try:
                    # asyncio.timeout: 3.11's wait_for may swallow the cancel of close()
                    async with asyncio.timeout(max(timeout, 0)):
                        data = await loop.sock_recv(conn, 65536)
                except TimeoutError:
                    self.stats.tcp_closed[reason] += 1
                    return
                connection = state.get(id(asyncio.current_task()))
                if connection is not None:
                    connection.last_activity = time.monotonic()
                framer.receive_data(data)
                received_ns = time.time_ns()
                before = framer.frames
                while True:
                    event = framer.next_event()
                    if event is NEED_DATA or event is CONNECTION_CLOSED:
                        break
                    assert isinstance(event, bytes)
                    self.handle_packet(event, source, received_ns)
                if framer.frames != before:
                    frame_started = None
                if not data:
                    return
        except HepError as exc:
            self.stats.refused["invalid"] += 1
            self.stats.invalid_by_source.count(source)
            self._warn("stream", source, f"HEP stream from {source} closed: {exc}")
        except OSError:
            pass
        finally:
            conn.close()


def _same_key(auth_key: str | None, password: bytes) -> bool:
    """Chunk 14 against the password, in constant time (hmac.compare_digest)."""
    if auth_key is None:
        return False
    return hmac.compare_digest(auth_key.encode("utf-8", "surrogateescape"), password)


def _udp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    # A burst larger than the default ~200 kB buffer is lost before we get a turn; root may
    # exceed net.core.rmem_max with SO_RCVBUFFORCE, others get what rmem_max allows.
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, UDP_RECEIVE_BUFFER_BYTES)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER_BYTES)
    sock.setblocking(False)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _tcp_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024, reuse_port=False)
    sock.setblocking(False)
    return sock
