"""An Event Socket server that behaves as FreeSWITCH's mod_event_socket does (inbound mode).

FreeSWITCH is not packaged for Debian here, so the ESL and hepipe tests talk to this. It
follows the protocol as mod_event_socket writes it, byte for byte where it matters:

* greeting ``Content-Type: auth/request``; ``auth PASSWORD`` answered ``+OK accepted`` or
  ``-ERR invalid`` followed by the disconnect notice and a close;
* an address outside the ACL gets ``text/rude-rejection`` ("Access Denied, go away.") instead
  of the greeting, then a close;
* ``event plain|json NAME ... CUSTOM subclass ...`` (+OK event listener enabled plain|json),
  ``nixevent`` (+OK events nixed), ``filter HEADER VALUE`` (+OK filter added. [h]=[v]),
  ``api`` (``api/response`` with Content-Length), ``bgapi`` (+OK Job-UUID: ... then a
  BACKGROUND_JOB event carrying the output as its body), ``exit`` (+OK bye, then the
  disconnect notice), anything else ``-ERR command not found``;
* events framed ``Content-Length: N`` / ``Content-Type: text/event-plain`` / blank line /
  body, the body sent exactly as given (the real dumps of ../shared/esl/); for ``json``
  subscribers the plain body is turned into FreeSWITCH's JSON form (values decoded, the
  event's own body under ``_body``).

The server is independent of rtcscope.esl: it frames and splits by hand.

Faults, for the tests of what a client survives (issue 21): ``greetings`` lists what the
next sessions get instead of the greeting (``"garbage"``: bytes that are not ESL;
``"trickle"``: the greeting one byte every ``trickle_s``); ``unanswered_api`` swallows that
many ``api`` commands without a reply; :meth:`FakeFreeSwitch.send_raw` writes any bytes to
the subscribed sessions (a deeply nested JSON event, half a frame then a close, a frame one
byte at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

DISCONNECT_TEXT = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
REJECTION_TEXT = b"Access Denied, go away.\n"


def frame(headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    out = "".join(f"{k}: {v}\n" for k, v in headers)
    return (out + "\n").encode() + body


def dump_body(path: Path) -> bytes:
    """An event body from a dump file. genesis-background_job.txt alone carries the outer
    framing of the message it came in (Content-Length / Content-Type / blank line): strip it,
    the server frames the body itself."""
    data = path.read_bytes()
    if data.startswith(b"Content-Length:") and b"Content-Type: text/event-plain\n\n" in data[:200]:
        data = data[data.index(b"\n\n") + 2 :]
    return data


def plain_headers(body: bytes) -> tuple[list[tuple[str, str]], bytes | None]:
    """Split an event-plain body into decoded headers and the event's own body (the test
    server's own reading, independent of rtcscope.esl)."""
    headers: list[tuple[str, str]] = []
    lines = body.split(b"\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line:
            if headers and headers[-1][0].lower() == "content-length":
                rest = b"\n".join(lines[index + 1 :])
                length = int(headers.pop()[1])
                return headers, rest[:length]
            index += 1
            continue
        name, sep, value = line.decode().partition(": ")
        if sep and " " not in name:
            headers.append((name, unquote(value)))
        elif headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + "\n" + line.decode())
        index += 1
    return headers, None


def event_name_of(body: bytes) -> tuple[str, str | None]:
    headers, _ = plain_headers(body)
    lookup = {k.lower(): v for k, v in headers}
    return lookup.get("event-name", ""), lookup.get("event-subclass")


def plain_event(headers: list[tuple[str, str]], body: str | None = None) -> bytes:
    """Serialize like switch_event_serialize(encode=SWITCH_TRUE)."""
    text = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in headers)
    if body is not None:
        raw = body.encode()
        return text.encode() + f"Content-Length: {len(raw)}\n\n".encode() + raw
    return (text + "\n").encode()


@dataclass
class Session:
    writer: asyncio.StreamWriter
    peer: str
    authenticated: bool = False
    format: str | None = None
    events: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)
    all_events: bool = False
    filters: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def wants(self, name: str, subclass: str | None, headers: list[tuple[str, str]]) -> bool:
        if not self.authenticated or self.format is None:
            return False
        if name == "CUSTOM":
            chosen = self.all_events or (subclass is not None and subclass in self.subclasses)
        else:
            chosen = self.all_events or name in self.events
        if not chosen:
            return False
        if self.filters:
            lookup = {k.lower(): v for k, v in headers}
            return any(lookup.get(h.lower()) == v for h, v in self.filters)
        return True


class FakeFreeSwitch:
    """``async with FakeFreeSwitch(host, port) as fs: ...``"""

    def __init__(
        self,
        host: str,
        port: int = 0,
        password: str = "ClueCon",
        allowed: Callable[[str], bool] = lambda ip: True,
    ) -> None:
        self.host = host
        self.port = port
        self.password = password
        self.allowed = allowed
        self.channel_variables: dict[str, dict[str, str]] = {}
        self.sessions: list[Session] = []
        self.api_log: list[str] = []
        self._server: asyncio.base_events.Server | None = None
        self.subscribed = asyncio.Event()
        self.greetings: list[str] = []
        self.trickle_s = 0.5
        self.unanswered_api = 0
        self.accepted = 0

    async def __aenter__(self) -> FakeFreeSwitch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self, abrupt: bool = True) -> None:
        """Stop listening and drop every connection (as a killed FreeSWITCH would)."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            if abrupt:
                transport = session.writer.transport
                transport.abort()
            else:
                session.writer.close()
        self.sessions.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        self.subscribed.clear()

    async def shutdown(self) -> None:
        """What a FreeSWITCH shutting down does: a disconnect notice to every session, then
        the sockets close."""
        for session in list(self.sessions):
            self._disconnect(session)
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()
        await self.stop(abrupt=False)

    async def fire(self, body: bytes) -> int:
        """Send one event (an event-plain body) to every subscriber that wants it; returns
        how many sessions got it."""
        name, subclass = event_name_of(body)
        headers, own_body = plain_headers(body)
        sent = 0
        for session in list(self.sessions):
            if not session.wants(name, subclass, headers):
                continue
            if session.format == "json":
                obj: dict[str, str] = {}
                for k, v in headers:
                    obj.setdefault(k, v)
                if own_body is not None:
                    obj["_body"] = own_body.decode()
                payload = json.dumps(obj).encode()
                message = frame(
                    [("Content-Length", str(len(payload))), ("Content-Type", "text/event-json")],
                    payload,
                )
            else:
                message = frame(
                    [("Content-Length", str(len(body))), ("Content-Type", "text/event-plain")],
                    body,
                )
            session.writer.write(message)
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()
            sent += 1
        return sent

    async def send_raw(
        self, data: bytes, *, byte_every_s: float | None = None, close: bool = False
    ) -> int:
        """Write ``data`` as is to every subscribed session (one byte every
        ``byte_every_s`` if given), then abort the connections when ``close``; returns how
        many sessions got it."""
        targets = [s for s in self.sessions if s.authenticated and s.format is not None]
        for session in targets:
            with contextlib.suppress(ConnectionError, RuntimeError):
                if byte_every_s is None:
                    session.writer.write(data)
                    await session.writer.drain()
                else:
                    for byte in data:
                        if session.writer.is_closing():
                            break
                        session.writer.write(bytes([byte]))
                        await session.writer.drain()
                        await asyncio.sleep(byte_every_s)
            if close:
                session.writer.transport.abort()
        return len(targets)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_ip = writer.get_extra_info("peername")[0]
        if not self.allowed(peer_ip):
            writer.write(
                frame(
                    [
                        ("Content-Type", "text/rude-rejection"),
                        ("Content-Length", str(len(REJECTION_TEXT))),
                    ],
                    REJECTION_TEXT,
                )
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        session = Session(writer, peer_ip)
        self.sessions.append(session)
        self.accepted += 1
        greeting = frame([("Content-Type", "auth/request")])
        fault = self.greetings.pop(0) if self.greetings else ""
        try:
            if fault == "garbage":
                writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff\xfe garbage \x01\n\n")
            elif fault == "trickle":
                for byte in greeting:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(self.trickle_s)
            else:
                writer.write(greeting)
            while True:
                block = await reader.readuntil(b"\n\n")
                lines = block.decode().strip("\n").split("\n")
                keep = await self._command(session, lines[0], lines[1:])
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            writer.close()

    def _reply(
        self, session: Session, text: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        headers = [("Content-Type", "command/reply"), ("Reply-Text", text), *(extra or [])]
        session.writer.write(frame(headers))

    def _disconnect(self, session: Session) -> None:
        session.writer.write(
            frame(
                [
                    ("Content-Type", "text/disconnect-notice"),
                    ("Content-Length", str(len(DISCONNECT_TEXT))),
                ],
                DISCONNECT_TEXT,
            )
        )

    async def _command(self, session: Session, line: str, extra: list[str]) -> bool:
        session.commands.append(line)
        verb, _, rest = line.partition(" ")
        if not session.authenticated:
            if verb == "auth" and rest == self.password:
                session.authenticated = True
                self._reply(session, "+OK accepted")
                return True
            # mod_event_socket: a wrong password or any other command before auth.
            self._reply(session, "-ERR invalid")
            self._disconnect(session)
            return False
        if verb == "event":
            words = rest.split()
            if not words or words[0] not in ("plain", "json", "xml"):
                self._reply(session, "-ERR invalid format")
                return True
            session.format = words[0]
            custom = False
            for word in words[1:]:
                if custom:
                    session.subclasses.add(word)
                elif word == "CUSTOM":
                    custom = True
                elif word == "ALL":
                    session.all_events = True
                else:
                    session.events.add(word)
            self._reply(session, f"+OK event listener enabled {session.format}")
            self.subscribed.set()
            return True
        if verb == "nixevent":
            for word in rest.split():
                session.events.discard(word)
                session.subclasses.discard(word)
            self._reply(session, "+OK events nixed")
            return True
        if verb == "filter":
            header, _, value = rest.partition(" ")
            if header == "delete":
                header, _, value = value.partition(" ")
                session.filters = [f for f in session.filters if f != (header, value)]
                self._reply(session, f"+OK filter deleted. [{header}]=[{value}]")
            else:
                session.filters.append((header, value))
                self._reply(session, f"+OK filter added. [{header}]=[{value}]")
            return True
        if verb == "api":
            if self.unanswered_api:
                self.unanswered_api -= 1
                self.api_log.append(rest)
                return True
            output = self._api(rest)
            session.writer.write(
                frame(
                    [("Content-Type", "api/response"), ("Content-Length", str(len(output)))],
                    output,
                )
            )
            return True
        if verb == "bgapi":
            job = next(
                (x.partition(": ")[2] for x in extra if x.startswith("Job-UUID: ")),
                str(uuidlib.uuid4()),
            )
            self._reply(session, f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            await session.writer.drain()
            command, _, args = rest.partition(" ")
            output = self._api(rest).decode()
            body = plain_event(
                [
                    ("Job-UUID", job),
                    ("Job-Command", command),
                    ("Job-Command-Arg", args),
                    ("Event-Name", "BACKGROUND_JOB"),
                    ("Core-UUID", "42bdf272-16e6-11dd-b7a0-db4edd065621"),
                    ("Event-Date-Timestamp", "1209685023894968"),
                    ("Event-Calling-File", "mod_event_socket.c"),
                    ("Event-Calling-Function", "api_exec"),
                ],
                output,
            )
            await self.fire(body)
            return True
        if verb == "exit":
            self._reply(session, "+OK bye")
            self._disconnect(session)
            return False
        self._reply(session, "-ERR command not found")
        return True

    def _api(self, line: str) -> bytes:
        self.api_log.append(line)
        command, _, args = line.partition(" ")
        if command == "uuid_getvar":
            uuid, _, name = args.partition(" ")
            variables = self.channel_variables.get(uuid)
            if variables is None:
                return b"-ERR No such channel!\n"
            return variables.get(name, "_undef_").encode()
        if command == "status":
            return b"UP 0 years, 0 days, 0 hours, 1 minute\nFreeSWITCH (Version fake) is ready\n"
        return f"-ERR {command} Command not found!\n".encode()
