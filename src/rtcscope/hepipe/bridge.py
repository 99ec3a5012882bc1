"""The hepipe bridge: FreeSWITCH's Event Socket in, HEP out, until cancelled.

* Subscribes to what it maps (never ``all``): the channel events (they also fill the
  Unique-ID -> Call-ID cache), RECV/SEND_RTCP_MESSAGE when RTCP is reported, and CUSTOM
  sofia::register / sofia::unregister when call events are.
* A Unique-ID it never saw is looked up with ``api uuid_getvar <uuid> sip_call_id``; still
  unknown, the event is skipped and counted.
* The ESL session is re-opened after :func:`rtcscope.esl.client.reconnect_delay_s` (1 s
  doubling to 30 s, jittered), logging why it ended; the cache survives reconnects, so a call
  that started before the outage is still correlated. The delay grows while sessions keep
  failing: it starts again from 1 s only after a session has lasted ``stable_session_s``
  (a server that accepts the login and then breaks every session is not retried every
  second). Whatever ends a session (a garbage greeting, a frame that does not parse, a
  JSON event nested too deep, an unanswered ``api``, a peer trickling bytes, any failure of
  the reader task) is a session error: logged with its reason, then a reconnect. A wrong
  password or an ACL rejection stops the bridge with a clear error (retrying would not
  help).
* Counters (received, sent per kind, skipped per reason, lookups, reconnects, and the HEP
  sender's own) are kept in :class:`BridgeCounters`; the CLI prints them on exit and on
  SIGUSR1.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rtcscope.errors import HepError, PeerError
from rtcscope.esl.client import (
    RECONNECT_FIRST_S,
    RECONNECT_MAX_S,
    EslAddress,
    EslAuthError,
    EslClient,
    EslDisconnected,
    EslRejected,
    describe,
    reconnect_delay_s,
)
from rtcscope.esl.protocol import EslEvent
from rtcscope.hep.codec import HepPacket
from rtcscope.hep.sender import HepSender
from rtcscope.hepipe.config import HepipeConfig
from rtcscope.hepipe.mapping import (
    CALL_EVENTS,
    CUSTOM_SUBCLASSES,
    PROTO_LOG,
    PROTO_QOS_REPORT,
    PROTO_RTCP_JSON,
    RTCP_EVENTS,
    HepipeMapper,
    HepMessage,
    parse_uuid_getvar,
)

KIND_NAMES: dict[int, str] = {
    PROTO_LOG: "call events",
    PROTO_RTCP_JSON: "RTCP reports",
    PROTO_QOS_REPORT: "QoS",
}


@dataclass
class BridgeCounters:
    received: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    lookups: int = 0
    lookups_failed: int = 0
    connects: int = 0
    disconnects: int = 0
    hep_lost: int = 0
    hep_dropped: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "sent": dict(self.sent),
            "sent_total": sum(self.sent.values()),
            "skipped": dict(self.skipped),
            "uuid_lookups": self.lookups,
            "uuid_lookups_failed": self.lookups_failed,
            "esl_connects": self.connects,
            "esl_disconnects": self.disconnects,
            "hep_lost": self.hep_lost,
            "hep_dropped": self.hep_dropped,
        }

    def format(self) -> str:
        lines = [
            f"events received: {self.received}",
            f"HEP sent: {sum(self.sent.values())}"
            + (
                " (" + ", ".join(f"{k} {v}" for k, v in sorted(self.sent.items())) + ")"
                if self.sent
                else ""
            ),
        ]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"skipped, {reason}: {count}")
        lines.append(f"uuid_getvar lookups: {self.lookups} ({self.lookups_failed} unknown)")
        lines.append(f"ESL connects: {self.connects}, disconnects: {self.disconnects}")
        if self.hep_lost or self.hep_dropped:
            lines.append(f"HEP lost: {self.hep_lost}, dropped: {self.hep_dropped}")
        return "\n".join(lines)


def subscriptions(config: HepipeConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(event names, CUSTOM subclasses) the bridge asks for."""
    events: tuple[str, ...] = CALL_EVENTS
    if config.rtcp_events:
        events += RTCP_EVENTS
    subclasses = CUSTOM_SUBCLASSES if config.call_events else ()
    return events, subclasses


def hep_packet(message: HepMessage, config: HepipeConfig) -> HepPacket:
    return HepPacket(
        version=3,
        ip_family=message.ip_family,
        ip_proto=message.ip_proto,
        src=message.src,
        dst=message.dst,
        sport=message.sport,
        dport=message.dport,
        ts_sec=message.ts_sec,
        ts_usec=message.ts_usec,
        proto_type=message.proto_type,
        capture_id=config.capture_id,
        auth_key=config.hep_password or None,
        payload=message.payload,
        correlation_id=message.correlation_id,
        mos=message.mos,
        node_name=config.node_name or None,
    )


class HepipeBridge:
    def __init__(
        self,
        config: HepipeConfig,
        *,
        log: Callable[[str], None] = print,
        random_fraction: Callable[[], float] = random.random,
        esl_timeout_s: float = 10.0,
        handshake_timeout_s: float = 15.0,
        message_timeout_s: float = 30.0,
        stable_session_s: float = 60.0,
        reconnect_first_s: float = RECONNECT_FIRST_S,
    ) -> None:
        self.config = config
        self.log = log
        self.random_fraction = random_fraction
        self.esl_timeout_s = esl_timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.message_timeout_s = message_timeout_s
        self.stable_session_s = stable_session_s
        self.reconnect_first_s = reconnect_first_s
        self.delays: list[float] = []  # every reconnect delay chosen, in order
        self.counters = BridgeCounters()
        self.mapper = HepipeMapper(
            call_events=config.call_events,
            rtcp_events=config.rtcp_events,
            qos_events=config.qos_events,
            cache_size=config.cache_size,
        )
        self.sender: HepSender | None = None
        self.connected = asyncio.Event()

    def refresh_sender_counters(self) -> None:
        if self.sender is not None:
            self.counters.hep_lost = self.sender.stats.lost
            self.counters.hep_dropped = self.sender.stats.dropped

    async def run(self) -> None:
        """Run until cancelled; raises :class:`EslAuthError` / :class:`EslRejected`."""
        cfg = self.config
        self.sender = HepSender(cfg.hep_transport, cfg.hep_host, cfg.hep_port)
        try:
            await self.sender.start()
        except (OSError, PeerError) as exc:  # unresolvable host, no route: say so
            raise PeerError(
                f"hepipe: cannot send HEP to {cfg.hep_transport}://{cfg.hep_host}:"
                f"{cfg.hep_port}: {describe(exc)}"
            ) from None
        address = EslAddress(cfg.esl_host, cfg.esl_port, cfg.esl_password, cfg.esl_user)
        events, subclasses = subscriptions(cfg)
        attempt = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                client = EslClient(
                    address,
                    timeout_s=self.esl_timeout_s,
                    handshake_timeout_s=self.handshake_timeout_s,
                    message_timeout_s=self.message_timeout_s,
                )
                session_start: float | None = None
                try:
                    await client.connect()
                    await client.subscribe(events, subclasses)
                    self.counters.connects += 1
                    session_start = loop.time()
                    self.connected.set()
                    self.log(
                        f"hepipe: connected to ESL {cfg.esl_host}:{cfg.esl_port}, sending HEP "
                        f"to {cfg.hep_transport}://{cfg.hep_host}:{cfg.hep_port}"
                    )
                    async for event in client.events():
                        if isinstance(event, EslEvent):
                            await self.handle(client, event)
                except (EslAuthError, EslRejected):
                    raise
                except PeerError as exc:
                    self.counters.disconnects += 1
                    self.log(f"hepipe: ESL session ended: {describe(exc)}")
                finally:
                    self.connected.clear()
                    await client.close()
                if session_start is not None and (
                    loop.time() - session_start >= self.stable_session_s
                ):
                    attempt = 0  # that session was healthy: start the backoff over
                delay = reconnect_delay_s(
                    attempt,
                    self.random_fraction(),
                    first_s=self.reconnect_first_s,
                    max_s=max(RECONNECT_MAX_S, self.reconnect_first_s),
                )
                self.delays.append(delay)
                attempt += 1
                self.log(f"hepipe: reconnecting to ESL in {delay:.1f} s")
                await asyncio.sleep(delay)
        finally:
            self.refresh_sender_counters()
            await self.sender.close(timeout_s=2.0)
            self.refresh_sender_counters()

    async def handle(self, client: EslClient, event: EslEvent) -> None:
        self.counters.received += 1
        result = self.mapper.feed(event)
        if result.lookup_uuid is not None:
            uuid = result.lookup_uuid
            self.counters.lookups += 1
            try:
                answer = await client.api("uuid_getvar", f"{uuid} sip_call_id")
                call_id = parse_uuid_getvar(answer.body)
            except EslDisconnected:
                raise
            except PeerError:
                call_id = None
            if call_id is None:
                self.counters.lookups_failed += 1
            self.mapper.learn_call_id(uuid, call_id)
            result = self.mapper.feed(event)
        for reason in result.skipped:
            self.counters.skipped[reason] += 1
        assert self.sender is not None
        for message in result.messages:
            try:
                await self.sender.send(hep_packet(message, self.config))
            except (OSError, HepError) as exc:
                # One message that cannot be encoded or sent must not stop the bridge.
                self.counters.skipped[f"HEP send failed ({type(exc).__name__})"] += 1
                self.log(f"hepipe: cannot send a {message.event_name} HEP message: {describe(exc)}")
                continue
            self.counters.sent[KIND_NAMES.get(message.proto_type, str(message.proto_type))] += 1
