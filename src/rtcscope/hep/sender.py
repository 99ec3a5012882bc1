"""Send HEP packets over UDP or TCP (asyncio), as an agent should.

Use (this is what ``rtcscope hep send`` and hepipe do)::

    from rtcscope.hep.sender import HepSender

    async with HepSender.from_url("tcp://127.0.0.1:9060", rate_per_s=5000) as sender:
        await sender.send(packet)          # a HepPacket, or the bytes of one
    sender.stats                           # SenderStats: sent, dropped, lost, reconnects

- UDP: one datagram per packet.
- TCP: HEP3 frames back to back on one connection. Frames wait in a bounded buffer
  (``max_buffer_bytes``); while connected, ``send`` waits for room (back-pressure); while the
  collector is unreachable, frames beyond the bound are dropped and counted, never blocking
  the caller forever. A lost connection is re-opened after :func:`backoff_delay_s` (0.5 s
  doubling to 30 s, reset by a successful connect) instead of the fixed interval many agents
  use. Frames handed to a connection that then failed are counted ``lost``.
- ``rate_per_s`` caps the packet rate (a token bucket, :class:`RateLimiter`, burst of 1/100 s);
  :func:`send_paced` replays packets at their capture-time pacing (``--realtime``).

The timing decisions (:func:`backoff_delay_s`, :class:`RateLimiter`, :func:`pacing_delay_s`)
are pure functions of the time passed in; only this module's asyncio code reads the clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import socket
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

from rtcscope.errors import InvalidArgument, PeerError
from rtcscope.hep.codec import HepPacket, encode

log = logging.getLogger("rtcscope.hep.sender")


def backoff_delay_s(attempt: int, initial_s: float = 0.5, max_s: float = 30.0) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0-based): doubling, capped."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return min(max_s, initial_s * (2.0 ** min(attempt, 62)))


class RateLimiter:
    """Token bucket: ``delay_s(now)`` says how long to wait before the next packet."""

    def __init__(self, rate_per_s: float, burst: int | None = None) -> None:
        if rate_per_s <= 0:
            raise InvalidArgument("rate_per_s", f"rate must be positive, not {rate_per_s}")
        self.rate_per_s = rate_per_s
        self.burst = burst if burst is not None else max(1, int(rate_per_s / 100))
        self._tokens = float(self.burst)
        self._last: float | None = None

    def delay_s(self, now: float) -> float:
        """Take one token at time ``now`` (seconds); return the wait before sending (0 = now)."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate_per_s


def pacing_delay_s(first_capture_ns: int, capture_ns: int, started_s: float, now: float) -> float:
    """Wait before sending a packet captured at ``capture_ns`` to keep the capture's pacing."""
    due = started_s + (capture_ns - first_capture_ns) / 1e9
    return max(0.0, due - now)


@dataclass
class SenderStats:
    sent: int = 0
    bytes_sent: int = 0
    dropped: int = 0  # refused because the buffer was full while disconnected
    lost: int = 0  # handed to a connection that failed before they were written
    reconnects: int = 0
    connect_failures: int = 0


def parse_url(url: str) -> tuple[str, str, int]:
    """``udp://HOST:PORT`` or ``tcp://HOST:PORT`` (IPv6 as ``[::1]``) -> (transport, host, port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname:
        raise InvalidArgument(
            "url", f"HEP destination must be udp://HOST:PORT or tcp://HOST:PORT, not {url}"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise InvalidArgument("url", f"HEP destination {url} needs a port")
    return parts.scheme, parts.hostname, port


class HepSender:
    """An asyncio HEP sender over UDP or TCP; see the module docstring."""

    def __init__(
        self,
        transport: str,
        host: str,
        port: int,
        *,
        rate_per_s: float | None = None,
        max_buffer_bytes: int = 4 * 1024 * 1024,
        connect_timeout_s: float = 5.0,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise InvalidArgument("transport", f"HEP transport must be udp or tcp, not {transport}")
        if rate_per_s is not None and not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise InvalidArgument(
                "rate_per_s", f"the HEP send rate must be a positive number, not {rate_per_s}"
            )
        self.transport = transport
        self.host = host
        self.port = port
        self.stats = SenderStats()
        self.max_buffer_bytes = max_buffer_bytes
        self.connect_timeout_s = connect_timeout_s
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._limiter = RateLimiter(rate_per_s) if rate_per_s else None
        self._udp: socket.socket | None = None
        self._pending: collections.deque[bytes] = collections.deque()
        self._pending_bytes = 0
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._connected = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_url(cls, url: str, **options: object) -> HepSender:
        transport, host, port = parse_url(url)
        return cls(transport, host, port, **options)  # type: ignore[arg-type]

    async def __aenter__(self) -> HepSender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """UDP: open the socket. TCP: start the connection task and wait for a first connect
        (up to ``connect_timeout_s``; the task keeps retrying after that)."""
        if self.transport == "udp":
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
                family, _, _, _, address = infos[0]
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as exc:  # gaierror: a host name that does not resolve
                raise PeerError(f"HEP collector {self.host}:{self.port}: {exc}") from None
            try:
                sock.setblocking(False)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                raise PeerError(f"HEP collector {self.host}:{self.port}: {exc}") from None
            self._udp = sock
            return
        self._task = asyncio.ensure_future(self._run_tcp())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)

    async def send(self, packet: HepPacket | bytes) -> None:
        """Send (UDP) or queue (TCP) one packet, after the rate limiter allows it."""
        frame = packet if isinstance(packet, bytes) else encode(packet)
        if self._limiter is not None:
            delay = self._limiter.delay_s(time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
        if self._udp is not None:
            await self._send_udp(frame)
            return
        if self._task is None:
            raise RuntimeError("HepSender.start() was not called")
        while self._pending_bytes + len(frame) > self.max_buffer_bytes:
            if not self._connected.is_set():
                self.stats.dropped += 1
                return
            self._room.clear()
            await self._room.wait()
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        self._idle.clear()
        self._wakeup.set()

    async def _send_udp(self, frame: bytes) -> None:
        assert self._udp is not None
        while True:
            try:
                self._udp.send(frame)
            except BlockingIOError:
                await asyncio.sleep(0.0005)  # socket buffer full: let the kernel drain it
                continue
            except ConnectionRefusedError:
                # ICMP port unreachable from an earlier datagram: nobody listens (yet)
                self.stats.lost += 1
                return
            self.stats.sent += 1
            self.stats.bytes_sent += len(frame)
            return

    async def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (TCP, up to ``timeout_s``) and close."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
            return
        if self._task is None:
            return
        if self._pending and self._connected.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout_s)
        self._closing = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.stats.dropped += len(self._pending)
        self._pending.clear()
        self._pending_bytes = 0

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    async def _run_tcp(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout_s
                )
            except (TimeoutError, OSError) as exc:
                self.stats.connect_failures += 1
                delay = backoff_delay_s(attempt, self.initial_backoff_s, self.max_backoff_s)
                log.warning(
                    "HEP collector %s:%s unreachable (%s); retry in %.1f s",
                    self.host,
                    self.port,
                    exc,
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if attempt or self.stats.sent:
                self.stats.reconnects += 1
            attempt = 0
            self._connected.set()
            self._room.set()
            try:
                await self._pump(reader, writer)
            finally:
                self._connected.clear()
                self._room.set()  # wake senders waiting for room: they drop while disconnected
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Write queued frames until the connection fails (returns) or the task is cancelled."""
        closed = asyncio.ensure_future(reader.read(1))  # a collector never writes: b"" = closed
        try:
            while True:
                if not self._pending:
                    self._idle.set()
                    self._wakeup.clear()
                    wake = asyncio.ensure_future(self._wakeup.wait())
                    done, _ = await asyncio.wait(
                        {wake, closed}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if closed in done:
                        wake.cancel()
                        log.warning("HEP collector %s:%s closed the connection", *self._peer())
                        return
                    continue
                batch: list[bytes] = []
                size = 0
                while self._pending and size < 256 * 1024:
                    frame = self._pending.popleft()
                    batch.append(frame)
                    size += len(frame)
                self._pending_bytes -= size
                self._room.set()
                try:
                    writer.write(b"".join(batch))
                    await writer.drain()
                except (ConnectionError, OSError) as exc:
                    self.stats.lost += len(batch)
                    log.warning("HEP connection to %s:%s failed: %s", *self._peer(), exc)
                    return
                self.stats.sent += len(batch)
                self.stats.bytes_sent += size
                if closed.done():
                    return
        finally:
            closed.cancel()

    def _peer(self) -> tuple[str, int]:
        return self.host, self.port


async def send_paced(
    sender: HepSender, packets: Iterable[HepPacket] | AsyncIterator[HepPacket]
) -> int:
    """Send ``packets`` keeping the gaps between their capture times (``--realtime``)."""
    started = time.monotonic()
    first_ns: int | None = None
    count = 0

    async def one(packet: HepPacket) -> None:
        nonlocal first_ns, count
        capture_ns = packet.time_ns
        if capture_ns is not None:
            if first_ns is None:
                first_ns = capture_ns
            delay = pacing_delay_s(first_ns, capture_ns, started, time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
        await sender.send(packet)
        count += 1

    if isinstance(packets, AsyncIterator):
        async for packet in packets:
            await one(packet)
    else:
        for packet in packets:
            await one(packet)
    return count


def require_reachable(stats: SenderStats, transport: str, url: str) -> None:
    """Raise PeerError when nothing at all could be delivered (a refused TCP collector)."""
    if stats.sent == 0 and (stats.dropped or stats.lost or stats.connect_failures):
        raise PeerError(f"HEP collector {url} did not accept anything over {transport}")
