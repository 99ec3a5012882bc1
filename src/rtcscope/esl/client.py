"""asyncio client for FreeSWITCH's Event Socket (inbound mode), on top of the sans-IO
:mod:`rtcscope.esl.protocol`.

One reader task feeds the socket's bytes to :class:`EslConnection`; replies to commands
(``command/reply`` and ``api/response`` come back in the order the commands were sent) resolve
the oldest waiting future, events go to a queue that :meth:`EslClient.events` drains. So a
consumer may ``await client.api(...)`` while it handles an event.

Reconnect delays come from :func:`reconnect_delay_s`, a pure function: exponential from 1 s
to 30 s with jitter, so that a fleet of bridges does not reconnect in step after a
FreeSWITCH restart.

A session that misbehaves ends with :class:`EslDisconnected` (the caller reconnects), never
another exception: a greeting that is not ESL, a frame that does not parse, a JSON event
nested too deep, any failure of the reader task, a handshake (connect, greeting, auth) not
done within ``handshake_timeout_s`` in total, a message started and not finished within
``message_timeout_s`` (a peer trickling bytes). ESL answers ``api`` and commands in the order
they were sent and carries nothing to match a reply to its request, so a request left
without a reply for ``timeout_s`` puts the session out of step for good: the client closes
it (:class:`EslDisconnected`) rather than hand later replies to the wrong waiters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rtcscope.errors import PeerError
from rtcscope.esl.protocol import (
    CONNECTION_CLOSED,
    NEED_DATA,
    Api,
    ApiResponse,
    Auth,
    AuthRequest,
    BgApi,
    Command,
    CommandReply,
    DisconnectNotice,
    EslConnection,
    EslEvent,
    Exit,
    Filter,
    LogData,
    NixEvent,
    RudeRejection,
    Subscribe,
    UserAuth,
)

RECONNECT_FIRST_S = 1.0
RECONNECT_MAX_S = 30.0
RECONNECT_JITTER = 0.2


def reconnect_delay_s(
    attempt: int,
    random_fraction: float,
    first_s: float = RECONNECT_FIRST_S,
    max_s: float = RECONNECT_MAX_S,
    jitter: float = RECONNECT_JITTER,
) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry).

    The nominal delay doubles from ``first_s`` up to ``max_s``; the jitter spreads it by
    ±``jitter`` (``random_fraction`` in [0, 1) picks where), and the result never leaves
    [first_s, max_s]. Pure: the caller passes ``random.random()``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError("random_fraction must be in [0, 1]")
    nominal = min(max_s, first_s * 2.0 ** min(attempt, 62))
    spread = nominal * (1.0 - jitter + 2.0 * jitter * random_fraction)
    return max(first_s, min(max_s, spread))


class EslAuthError(PeerError):
    """The Event Socket refused the password (``-ERR invalid``)."""


class EslRejected(PeerError):
    """The Event Socket's ACL refused this client (``text/rude-rejection``)."""


class EslDisconnected(PeerError):
    """The session ended: disconnect notice, closed socket, or a protocol error."""


def describe(exc: BaseException) -> str:
    """An exception as a log line's reason: its text, or its type when it has none
    (``TimeoutError()`` says nothing)."""
    text = str(exc).strip()
    return text if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class EslAddress:
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    user: str | None = None  # userauth user@domain (event_socket.conf.xml esl users)


class EslClient:
    """One authenticated Event Socket session."""

    def __init__(
        self,
        address: EslAddress,
        *,
        timeout_s: float = 10.0,
        handshake_timeout_s: float = 15.0,
        message_timeout_s: float = 30.0,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.message_timeout_s = message_timeout_s
        self._conn = EslConnection()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: deque[asyncio.Future[CommandReply | ApiResponse]] = deque()
        self._events: asyncio.Queue[EslEvent | LogData | None] = asyncio.Queue()
        self._reader_task: asyncio.Task[None] | None = None
        self.close_reason: str | None = None

    @property
    def _where(self) -> str:
        return f"{self.address.host}:{self.address.port}"

    async def connect(self) -> None:
        """Open the socket, read the greeting, authenticate, all within
        ``handshake_timeout_s``; raises :class:`EslRejected`, :class:`EslAuthError`,
        :class:`EslDisconnected` (a peer that does not speak ESL) or :class:`PeerError`."""
        try:
            async with asyncio.timeout(self.handshake_timeout_s):
                await self._handshake()
        except TimeoutError:
            await self._close_socket()
            raise EslDisconnected(
                f"ESL {self._where}: handshake not done within {self.handshake_timeout_s:g} s"
            ) from None
        except ValueError as exc:  # EslError: the greeting or the reply is not ESL
            await self._close_socket()
            raise EslDisconnected(f"ESL {self._where}: protocol error: {describe(exc)}") from None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _handshake(self) -> None:
        where = self._where
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.address.host, self.address.port), self.timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise PeerError(f"ESL {where}: cannot connect: {describe(exc)}") from None
        greeting = await self._read_message_direct()
        if isinstance(greeting, RudeRejection):
            await self._close_socket()
            raise EslRejected(f"ESL {where}: {greeting.explanation}")
        if isinstance(greeting, DisconnectNotice):
            await self._close_socket()
            raise EslDisconnected(f"ESL {where} disconnected before auth: {greeting.text!r}")
        if not isinstance(greeting, AuthRequest):
            await self._close_socket()
            raise PeerError(f"ESL {where}: expected auth/request, got {type(greeting).__name__}")
        if self.address.user:
            user, _, domain = self.address.user.partition("@")
            command: Command = UserAuth(user, domain, self.address.password)
        else:
            command = Auth(self.address.password)
        self._write(command)
        reply = await self._read_message_direct()
        if isinstance(reply, RudeRejection):
            await self._close_socket()
            raise EslRejected(f"ESL {where}: {reply.explanation}")
        if not isinstance(reply, CommandReply):
            await self._close_socket()
            raise PeerError(f"ESL {where}: expected a reply to auth, got {type(reply).__name__}")
        if not reply.ok:
            await self._close_socket()
            raise EslAuthError(
                f"ESL {where} refused the password ({reply.reply_text}): check the "
                "password param in event_socket.conf.xml"
            )

    async def _read_message_direct(self) -> object:
        assert self._reader is not None
        while True:
            message = self._conn.next_event()
            if message is CONNECTION_CLOSED:
                raise EslDisconnected(
                    f"ESL {self.address.host}:{self.address.port} closed the connection"
                )
            if message is not NEED_DATA:
                return message
            try:
                data = await asyncio.wait_for(self._reader.read(65536), self.timeout_s)
            except (OSError, TimeoutError) as exc:
                raise PeerError(f"ESL {self._where}: {describe(exc)}") from None
            self._conn.receive_data(data)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "connection closed by FreeSWITCH"
        loop = asyncio.get_running_loop()
        started: float | None = None
        try:
            while True:
                message = self._conn.next_event()
                if message is CONNECTION_CLOSED:
                    break
                if message is NEED_DATA:
                    if self._conn.buffered:
                        # a message has started: it must end within message_timeout_s
                        started = started if started is not None else loop.time()
                        left = started + self.message_timeout_s - loop.time()
                        try:
                            async with asyncio.timeout(left):
                                data = await self._reader.read(65536)
                        except TimeoutError:
                            reason = (
                                f"a message begun {self.message_timeout_s:g} s ago is not "
                                f"complete ({self._conn.buffered} bytes so far)"
                            )
                            break
                    else:
                        started = None
                        data = await self._reader.read(65536)
                    self._conn.receive_data(data)
                    continue
                started = None
                if isinstance(message, CommandReply | ApiResponse):
                    if self._waiting:
                        future = self._waiting.popleft()
                        if not future.done():
                            future.set_result(message)
                elif isinstance(message, EslEvent | LogData):
                    self._events.put_nowait(message)
                elif isinstance(message, DisconnectNotice):
                    first_line = (message.text.strip().splitlines() or [""])[0]
                    reason = f"disconnect notice from FreeSWITCH: {first_line}"
                    break
                elif isinstance(message, RudeRejection):
                    reason = message.explanation
                    break
        except OSError as exc:
            reason = f"socket error: {describe(exc)}"
        except PeerError as exc:
            reason = describe(exc)
        except ValueError as exc:  # EslError: the stream is not ESL any more
            reason = f"protocol error: {describe(exc)}"
        except Exception as exc:  # anything else still ends the session, and says so
            reason = f"reader failed: {type(exc).__name__}: {describe(exc)}"
        self.close_reason = reason
        if self._writer is not None:
            self._writer.close()  # the session is over: the peer sees it at once
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(EslDisconnected(reason))
        self._events.put_nowait(None)

    def _write(self, command: Command) -> None:
        assert self._writer is not None
        self._writer.write(self._conn.send(command))

    async def _request(self, command: Command) -> CommandReply | ApiResponse:
        if self._writer is None or self.close_reason is not None:
            raise EslDisconnected(self.close_reason or "ESL client is not connected")
        future: asyncio.Future[CommandReply | ApiResponse] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append(future)
        self._write(command)
        try:
            await self._writer.drain()
        except OSError as exc:
            raise EslDisconnected(f"socket error: {exc}") from None
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # arrives as the reply does, and the caller's task would then never stop
            async with asyncio.timeout(self.timeout_s):
                return await future
        except TimeoutError:
            # Replies carry no request id: the next reply could be this one's, late, or the
            # next request's. The session cannot be trusted any more; end it.
            reason = (
                f"ESL {self._where}: no reply to {type(command).__name__} within "
                f"{self.timeout_s:g} s: session out of step, closed"
            )
            self.close_reason = self.close_reason or reason
            await self._close_socket()
            raise EslDisconnected(reason) from None

    async def command(self, command: Command) -> CommandReply:
        reply = await self._request(command)
        if not isinstance(reply, CommandReply):
            raise PeerError(f"ESL: expected command/reply, got {type(reply).__name__}")
        return reply

    async def api(self, command: str, args: str = "") -> ApiResponse:
        reply = await self._request(Api(command, args))
        if not isinstance(reply, ApiResponse):
            raise PeerError(f"ESL: expected api/response, got {type(reply).__name__}")
        return reply

    async def bgapi(self, command: str, args: str = "", job_uuid: str | None = None) -> str:
        """Start a background job; returns its Job-UUID."""
        reply = await self.command(BgApi(command, args, job_uuid))
        if not reply.ok or not reply.job_uuid:
            raise PeerError(f"ESL bgapi {command}: {reply.reply_text}")
        return reply.job_uuid

    async def subscribe(
        self, events: tuple[str, ...], custom_subclasses: tuple[str, ...] = (), fmt: str = "plain"
    ) -> CommandReply:
        reply = await self.command(Subscribe(events, custom_subclasses, fmt))
        if not reply.ok:
            raise PeerError(f"ESL event subscription refused: {reply.reply_text}")
        return reply

    async def filter(self, header: str, value: str, delete: bool = False) -> CommandReply:
        return await self.command(Filter(header, value, delete))

    async def nixevent(self, events: tuple[str, ...]) -> CommandReply:
        return await self.command(NixEvent(events))

    async def events(self) -> AsyncIterator[EslEvent | LogData]:
        """Events until the session ends; then raises :class:`EslDisconnected` with why."""
        while True:
            item = await self._events.get()
            if item is None:
                raise EslDisconnected(self.close_reason or "connection closed")
            yield item

    async def close(self) -> None:
        """Say ``exit`` when still connected, then close the socket."""
        if self._writer is not None and self.close_reason is None:
            with contextlib.suppress(OSError, PeerError):
                await asyncio.wait_for(self.command(Exit()), 2.0)
        await self._close_socket()

    async def _close_socket(self) -> None:
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
            # The reader was stopped before it could say so: tell the events() consumer.
            self.close_reason = self.close_reason or "closed by this client"
            self._events.put_nowait(None)
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None

    async def __aenter__(self) -> EslClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
