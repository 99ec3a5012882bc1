"""hepipe against an Event Socket that misbehaves (issue 21): after each fault the bridge
reconnects within its backoff and the next events reach HEP; the backoff grows while the
sessions keep failing. The ESL server is tests/esl/fake_freeswitch.py (it frames by hand,
independent of rtcscope.esl); HEP is received over TCP with the collector's framer.
Loopback 127.0.70.20."""

from __future__ import annotations

import asyncio
import json

import pytest

from rtcscope.esl.client import EslAddress, EslClient, EslDisconnected
from rtcscope.esl.protocol import MAX_JSON_DEPTH, EslError, json_depth, parse_event_json
from rtcscope.hepipe.bridge import HepipeBridge
from rtcscope.hepipe.config import HepipeConfig
from tests.esl.fake_freeswitch import FakeFreeSwitch, frame
from tests.hepipe.test_bridge import HepTcpReceiver, until
from tests.hepipe.test_mapping import FIXTURES

HOST = "127.0.70.20"
FIRST_S = 0.1


class Receiver(HepTcpReceiver):
    """test_bridge's HEP receiver, on this module's address."""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]


def _answer_event() -> bytes:
    return (FIXTURES / "channel_answer.txt").read_bytes()


def _nested_json_event(depth: int) -> bytes:
    body = b'{"Event-Name": "CHANNEL_ANSWER", "x": ' + b"[" * depth + b"]" * depth + b"}"
    return frame([("Content-Length", str(len(body))), ("Content-Type", "text/event-json")], body)


def test_bridge_survives_each_fault_and_backs_off() -> None:
    async def scenario() -> None:
        receiver = Receiver()
        await receiver.start()
        async with FakeFreeSwitch(HOST) as fs:
            fs.greetings = ["garbage", "trickle"]
            fs.trickle_s = 0.3
            config = HepipeConfig(
                esl_host=HOST,
                esl_port=fs.port,
                hep_host=HOST,
                hep_port=receiver.port,
                hep_transport="tcp",
            )
            logs: list[str] = []
            bridge = HepipeBridge(
                config,
                log=logs.append,
                random_fraction=lambda: 0.5,  # no jitter: the delays are exact
                # Generous for the healthy sessions (a busy CI machine), still short for the
                # trickled greeting (0.3 s a byte) to overrun.
                esl_timeout_s=2.0,
                handshake_timeout_s=3.0,
                message_timeout_s=1.0,
                stable_session_s=60.0,
                reconnect_first_s=FIRST_S,
            )
            task = asyncio.ensure_future(bridge.run())

            async def next_session_then_event() -> None:
                await asyncio.wait_for(fs.subscribed.wait(), 15)
                before = len(receiver.packets)
                await fs.fire(_answer_event())
                await until(lambda: len(receiver.packets) == before + 1)

            async def fault(action: object) -> None:
                fs.subscribed.clear()
                await action  # type: ignore[misc]
                await next_session_then_event()

            # 1, 2: a garbage greeting, then a greeting trickled past the handshake deadline
            await next_session_then_event()
            assert fs.accepted == 3
            # 3: one event nested far past the JSON depth limit
            await fault(fs.send_raw(_nested_json_event(100_000)))
            # 4: an api never answered (the lookup of an unknown leg)
            fs.unanswered_api = 1
            rtcp = (
                (FIXTURES / "recv_rtcp_message.txt")
                .read_bytes()
                .replace(  # a leg the bridge has not seen: it asks uuid_getvar
                    b"d0b1da34-a727-11e4-9728-6f83a2e5e50a", b"00000000-dead-beef-0000-000000000000"
                )
            )
            await fault(fs.fire(rtcp))
            # 5: half a frame, then the connection closes
            await fault(
                fs.send_raw(b"Content-Length: 900\nContent-Type: text/event-plain\n\nE", close=True)
            )
            # 6: a frame sent one byte every 0.4 s: the message deadline ends the session
            await fault(fs.send_raw(frame([("Content-Type", "log/data")]) * 3, byte_every_s=0.4))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # every session that failed lengthened the wait: 0.1, 0.2, 0.4, ... s
            assert bridge.delays == [FIRST_S * 2**i for i in range(6)]
            assert bridge.counters.connects == 5
            assert bridge.counters.disconnects == 6
            assert len(receiver.packets) == 5
            ended = [line for line in logs if "session ended" in line]
            assert len(ended) == 6
            assert all(not line.rstrip().endswith(":") for line in ended)  # a reason each
            assert "handshake not done" in ended[1]
            assert "nests 100001 deep" in ended[2]  # the object, then the arrays
            assert "out of step" in ended[3]
            assert "not complete" in ended[5]
        await receiver.stop()

    async def bounded() -> None:
        async with asyncio.timeout(60):
            await scenario()

    asyncio.run(bounded())


def test_backoff_starts_over_after_a_stable_session() -> None:
    async def scenario() -> None:
        async with FakeFreeSwitch(HOST) as fs:
            config = HepipeConfig(esl_host=HOST, esl_port=fs.port, hep_host=HOST, hep_port=9)
            bridge = HepipeBridge(
                config,
                log=lambda _: None,
                random_fraction=lambda: 0.5,
                stable_session_s=0.0,  # every session counts as healthy
                reconnect_first_s=FIRST_S,
            )
            task = asyncio.ensure_future(bridge.run())
            for _ in range(3):
                await asyncio.wait_for(fs.subscribed.wait(), 10)
                fs.subscribed.clear()
                await fs.shutdown()
                await fs.start()
                bridge.config = config
            await asyncio.wait_for(fs.subscribed.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert bridge.delays[:3] == [FIRST_S] * 3

    asyncio.run(scenario())


def test_a_reader_failure_of_any_kind_ends_the_session_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        async with FakeFreeSwitch(HOST) as fs:
            client = EslClient(EslAddress(HOST, fs.port))
            await client.connect()

            def broken() -> object:
                raise RuntimeError("boom")

            monkeypatch.setattr(client._conn, "next_event", broken)
            # the reply wakes the reader, whose next parse raises
            with pytest.raises(EslDisconnected):
                await client.api("status")
            with pytest.raises(EslDisconnected, match="reader failed: RuntimeError: boom"):
                async with asyncio.timeout(5):
                    async for _event in client.events():
                        pass
            await client.close()

    asyncio.run(scenario())


def test_json_depth_limit() -> None:
    assert json_depth(b'{"a": "[[[[", "b": [1, {"c": [2]}]}') == 4
    flat = json.dumps({"Event-Name": "X", "list": ["a", "b"]}).encode()
    assert parse_event_json(flat).name == "X"
    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(EslError, match="nests"):
        parse_event_json(deep)
