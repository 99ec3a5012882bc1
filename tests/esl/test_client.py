"""The asyncio ESL client against an Event Socket server that follows mod_event_socket's
protocol (tests/esl/fake_freeswitch.py), on 127.0.30.x, sending the real dumps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from rtcscope.esl.client import (
    EslAddress,
    EslAuthError,
    EslClient,
    EslDisconnected,
    EslRejected,
)
from rtcscope.esl.protocol import EslEvent
from tests.esl.fake_freeswitch import FakeFreeSwitch, dump_body
from tests.esl.test_protocol import ESL_DIR

HOST = "127.0.30.1"


def run(coro_factory: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_factory(), 20)

    asyncio.run(bounded())


async def next_event(client: EslClient) -> EslEvent:
    async for item in client.events():
        assert isinstance(item, EslEvent)
        return item
    raise AssertionError("no event")


def test_auth_subscribe_events_api_bgapi_exit() -> None:
    create = ESL_DIR / "genesis-channel_create.txt"
    if not create.exists():
        pytest.skip("../shared/esl is absent")

    async def scenario() -> None:
        async with FakeFreeSwitch(HOST) as fs:
            fs.channel_variables["d0b1da34-a727-11e4-9728-6f83a2e5e50a"] = {
                "sip_call_id": "6bG.Hj5UCe8pDFEy1R9FO8EIfHtKrZ3H"
            }
            client = EslClient(EslAddress(HOST, fs.port, "ClueCon"))
            await client.connect()
            reply = await client.subscribe(
                ("CHANNEL_CREATE", "BACKGROUND_JOB"), ("sofia::register",)
            )
            assert reply.reply_text == "+OK event listener enabled plain"
            assert fs.sessions[0].commands[-1] == (
                "event plain CHANNEL_CREATE BACKGROUND_JOB CUSTOM sofia::register"
            )
            # HEARTBEAT is not subscribed: the server does not send it.
            assert await fs.fire(dump_body(ESL_DIR / "genesis-heartbeat.txt")) == 0
            assert await fs.fire(dump_body(create)) == 1
            assert await fs.fire(dump_body(ESL_DIR / "genesis-register.txt")) == 1
            first = await next_event(client)
            assert first.name == "CHANNEL_CREATE"
            second = await next_event(client)
            assert second.subclass == "sofia::register"
            answer = await client.api(
                "uuid_getvar", "d0b1da34-a727-11e4-9728-6f83a2e5e50a sip_call_id"
            )
            assert answer.body == "6bG.Hj5UCe8pDFEy1R9FO8EIfHtKrZ3H"
            missing = await client.api("uuid_getvar", "nope sip_call_id")
            assert not missing.ok
            job = await client.bgapi("status", job_uuid="5d3c6a0e-0000-4000-8000-000000000001")
            assert job == "5d3c6a0e-0000-4000-8000-000000000001"
            background = await next_event(client)
            assert background.name == "BACKGROUND_JOB"
            assert background.get("Job-UUID") == job
            assert background.body is not None and background.body.startswith("UP 0 years")
            assert (await client.filter("Unique-ID", "abc")).ok
            assert (await client.nixevent(("CHANNEL_CREATE",))).reply_text == "+OK events nixed"
            await client.close()
            assert fs.sessions == [] or fs.sessions[0].commands[-1] == "exit"

    run(scenario)


def test_json_subscription_gets_json_events() -> None:
    job = ESL_DIR / "genesis-background_job.txt"
    if not job.exists():
        pytest.skip("../shared/esl is absent")

    async def scenario() -> None:
        async with FakeFreeSwitch(HOST) as fs:
            client = EslClient(EslAddress(HOST, fs.port))
            await client.connect()
            await client.subscribe(("BACKGROUND_JOB",), fmt="json")
            await fs.fire(dump_body(job))
            event = await next_event(client)
            assert event.format == "json"
            assert event.body == "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621"
            assert event.get("Job-Command-Arg") == "sofia/default/1005 '&park'"
            await client.close()

    run(scenario)


def test_wrong_password_is_a_clear_error() -> None:
    async def scenario() -> None:
        async with FakeFreeSwitch(HOST, password="ClueCon") as fs:
            client = EslClient(EslAddress(HOST, fs.port, "wrong"))
            with pytest.raises(EslAuthError, match="-ERR invalid"):
                await client.connect()

    run(scenario)


def test_acl_rejection_points_to_apply_inbound_acl() -> None:
    async def scenario() -> None:
        async with FakeFreeSwitch(HOST, allowed=lambda ip: False) as fs:
            client = EslClient(EslAddress(HOST, fs.port))
            with pytest.raises(EslRejected) as info:
                await client.connect()
            assert "Access Denied, go away." in str(info.value)
            assert "apply-inbound-acl" in str(info.value)
            assert "event_socket.conf.xml" in str(info.value)

    run(scenario)


def test_server_going_away_ends_the_event_stream_with_a_reason() -> None:
    async def scenario() -> None:
        fs = FakeFreeSwitch(HOST)
        await fs.start()
        client = EslClient(EslAddress(HOST, fs.port))
        await client.connect()
        await client.subscribe(("CHANNEL_CREATE",))
        await fs.stop(abrupt=True)
        with pytest.raises(EslDisconnected):
            await next_event(client)
        assert client.close_reason is not None
        with pytest.raises(EslDisconnected):
            await client.api("status")
        await client.close()

    run(scenario)


def test_disconnect_notice_is_the_reason() -> None:
    async def scenario() -> None:
        fs = FakeFreeSwitch(HOST)
        await fs.start()
        client = EslClient(EslAddress(HOST, fs.port))
        await client.connect()
        await fs.shutdown()
        with pytest.raises(EslDisconnected, match=r"Disconnected, goodbye\."):
            await next_event(client)
        await client.close()

    run(scenario)


def test_connection_refused_is_a_peer_error() -> None:
    from rtcscope.errors import PeerError

    async def scenario() -> None:
        fs = FakeFreeSwitch(HOST)
        await fs.start()
        port = fs.port
        await fs.stop()
        client = EslClient(EslAddress(HOST, port), timeout_s=3)
        with pytest.raises(PeerError, match="cannot connect"):
            await client.connect()

    run(scenario)


def test_garbage_from_the_server_ends_the_session_with_a_protocol_error() -> None:
    async def scenario() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"Content-Type: auth/request\n\n")
            await reader.readuntil(b"\n\n")
            writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            writer.write(b"Content-Type: text/event-plain\nContent-Length: zz\n\n")
            await writer.drain()
            await reader.read()  # until the client closes

        server = await asyncio.start_server(handle, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        client = EslClient(EslAddress(HOST, port))
        await client.connect()
        with pytest.raises(EslDisconnected, match=r"protocol error.*Content-Length 'zz'"):
            await next_event(client)
        await client.close()
        server.close()

    run(scenario)
