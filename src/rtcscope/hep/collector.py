"""The HEP collector: asyncio UDP and TCP receivers feeding the embedded store.

Use::

    store = StoreProcess(directory)      # or HepStore(directory): same thread, same process
    collector = HepCollector(store, password="secret")
    await collector.serve("127.0.0.1", 9060, udp=True, tcp=True)   # until cancelled
    collector.close()              # waits until everything queued is stored
    collector.stats                # CollectorStats: received, stored, invalid, rejected, ...

Every packet is validated and decoded (:func:`rtcscope.hep.codec.decode_fields`); a packet
that does not decode is counted as ``invalid``. When a password is set, a packet whose auth
key (chunk 14) is missing or different is counted as ``rejected`` and dropped; the first
rejection from each source address is logged (logger ``rtcscope.hep.collector``), later ones
only counted. HEPv1/v2 carry no auth key, so with a password set they are always rejected.

Speed (the hot path is UDP): the socket gets a large receive buffer (``SO_RCVBUFFORCE`` when
permitted, else ``SO_RCVBUF``) and is drained in a loop on each readiness event instead of one
datagram per event loop turn (what ``create_datagram_endpoint`` does); rows are built with the
lean :func:`~rtcscope.hep.codec.decode_fields` and the minimal SIP index scan, and handed in
batches (2,000 rows, or every 50 ms) through a bounded queue to one writer thread, which
passes them to the store: a :class:`StoreProcess` (SQLite
and the pcap in a child process, off this interpreter's lock: what ``hep listen`` uses) or a
:class:`HepStore` (in the thread). Each batch is one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from rtcscope.errors import HepError, InputError
from rtcscope.hep.codec import ProtocolType, decode_fields
from rtcscope.hep.framing import CONNECTION_CLOSED, NEED_DATA, HepFramer
from rtcscope.hep.store import HepStore, Row, StoreProcess, sip_index_fields

log = logging.getLogger("rtcscope.hep.collector")

UDP_RECEIVE_BUFFER_BYTES = 64 * 1024 * 1024
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_DRAIN_LIMIT = 2000  # datagrams per readiness event, so TCP connections still get turns
_MAX_DATAGRAM = 65535
MAX_QUEUED_BATCHES = 64  # at 2,000 rows of ~600 bytes: ~80 MB waiting for the store at most


@dataclass
class CollectorStats:
    """What the collector saw; ``print`` it on exit."""

    received: int = 0
    stored: int = 0
    invalid: int = 0
    rejected: int = 0
    empty: int = 0  # keep-alives and other packets without a payload
    store_errors: int = 0  # accepted, but the store failed to write them
    tcp_connections: int = 0
    rejected_by_source: Counter[str] = field(default_factory=Counter)
    invalid_by_source: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "invalid": self.invalid,
            "rejected_password": self.rejected,
            "without_payload": self.empty,
            "tcp_connections": self.tcp_connections,
            "store_errors": self.store_errors,
            "rejected_by_source": dict(self.rejected_by_source),
            "invalid_by_source": dict(self.invalid_by_source),
        }


class HepCollector:
    """Validates, decodes and stores HEP packets; counts and logs what it refuses."""

    def __init__(
        self,
        store: HepStore | StoreProcess,
        password: str | None = None,
        batch_size: int = 2000,
        flush_interval_s: float = 0.05,
    ) -> None:
        self.store = store
        self.password = password
        self._password_bytes = (
            password.encode("utf-8", "surrogateescape") if password is not None else None
        )
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.stats = CollectorStats()
        self._batch: list[Row] = []
        # Bounded: when the store falls behind, the receive loop waits here, the kernel's
        # socket buffer fills and then drops (counted by the kernel), instead of this process
        # growing without limit.
        self._queue: queue.Queue[list[Row] | None] = queue.Queue(maxsize=MAX_QUEUED_BATCHES)
        self._writer = threading.Thread(target=self._write_batches, name="hep-store", daemon=True)
        self._writer_error: Exception | None = None
        self._logged_sources: set[tuple[str, str]] = set()
        self.bound: list[tuple[str, str, int]] = []  # (transport, host, port) once listening

    # --- the hot path -------------------------------------------------------------------

    def handle_packet(self, data: bytes, source: str, received_ns: int) -> None:
        """Validate, decode, check the password and queue one packet's row."""
        stats = self.stats
        stats.received += 1
        try:
            fields = decode_fields(data)
        except HepError as exc:
            stats.invalid += 1
            stats.invalid_by_source[source] += 1
            self._log_once("invalid", source, f"invalid HEP from {source}: {exc}")
            return
        if self._password_bytes is not None and not _same_key(
            fields.get("auth_key"), self._password_bytes
        ):
            stats.rejected += 1
            stats.rejected_by_source[source] += 1
            reason = "no password" if fields.get("auth_key") is None else "a wrong password"
            self._log_once("password", source, f"HEP from {source} refused: {reason}")
            return
        payload = fields["payload"]
        if not payload:
            stats.empty += 1
            return
        assert isinstance(payload, bytes)
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
        stats.stored += 1
        if len(self._batch) >= self.batch_size:
            self.flush()

    def _log_once(self, kind: str, source: str, message: str) -> None:
        key = (kind, source)
        if key not in self._logged_sources:
            self._logged_sources.add(key)
            log.warning("%s (further ones from this source are only counted)", message)

    def flush(self) -> None:
        """Hand the pending rows to the writer thread."""
        if self._batch:
            self._queue.put(self._batch)
            self._batch = []

    def _write_batches(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                self.store.add(batch)
            except Exception as exc:  # surfaced by close(); the thread must keep draining
                if self._writer_error is None:
                    log.error("HEP store write failed: %s", exc)
                    self._writer_error = exc
                self.stats.store_errors += len(batch)

    # --- the asyncio side ----------------------------------------------------------------

    async def serve(self, host: str, port: int, *, udp: bool = True, tcp: bool = False) -> None:
        """Listen on ``host:port`` (UDP, TCP or both) until cancelled, then flush."""
        loop = asyncio.get_running_loop()
        self._writer.start()
        udp_sock: socket.socket | None = None
        server: asyncio.Server | None = None
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
                server = await asyncio.start_server(self._serve_tcp, host, tcp_port)
                for sock in server.sockets:
                    bound = sock.getsockname()
                    self.bound.append(("tcp", bound[0], bound[1]))
            await asyncio.Event().wait()
        finally:
            flusher.cancel()
            if udp_sock is not None:
                loop.remove_reader(udp_sock.fileno())
                # what is already in the socket buffer was sent to us: take it before closing
                self._drain_udp(udp_sock, limit=None)
                udp_sock.close()
            if server is not None:
                server.close()
            self.flush()

    def close(self) -> None:
        """Wait for the writer thread to store everything queued, then close the store."""
        self.flush()
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        self.store.close()
        if self._writer_error is not None:
            raise InputError(
                f"{self.stats.store_errors} messages could not be stored: {self._writer_error}"
            ) from self._writer_error

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            self.flush()

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

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else "?"
        self.stats.tcp_connections += 1
        framer = HepFramer()
        try:
            while True:
                data = await reader.read(65536)
                framer.receive_data(data)
                received_ns = time.time_ns()
                while True:
                    event = framer.next_event()
                    if event is NEED_DATA or event is CONNECTION_CLOSED:
                        break
                    assert isinstance(event, bytes)
                    self.handle_packet(event, source, received_ns)
                if not data:
                    return
        except HepError as exc:
            self.stats.invalid += 1
            self.stats.invalid_by_source[source] += 1
            self._log_once("stream", source, f"HEP stream from {source} closed: {exc}")
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


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
    sock.bind((host, port))
    return sock
