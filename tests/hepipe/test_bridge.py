"""The bridge in-process (HEP over TCP to a receiver built on issue 10's framer and codec) and
the ``rtcscope hepipe`` command's clear errors, against the ESL server that follows
mod_event_socket (tests/esl/fake_freeswitch.py) sending the real dumps and the fixtures
written in FreeSWITCH's format (tests/hepipe/fixtures)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from rtcscope.esl.client import EslAuthError, EslRejected
from rtcscope.hep.codec import HepPacket
from rtcscope.hep.framing import CONNECTION_CLOSED, NEED_DATA, HepFramer
from rtcscope.hepipe.bridge import HepipeBridge, subscriptions
from rtcscope.hepipe.config import HepipeConfig
from rtcscope.hepipe.mapping import SKIP_NO_CALL_ID
from tests.esl.fake_freeswitch import FakeFreeSwitch, dump_body
from tests.esl.test_protocol import ESL_DIR
from tests.hepipe.test_mapping import A_CALL_ID, FIXTURES
from tests.peers import rtcscope_cli

HOST = "127.0.30.4"


class HepTcpReceiver:
    def __init__(self) -> None:
        self.packets: list[HepPacket] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = HepFramer()
        while True:
            data = await reader.read(65536)
            framer.receive_data(data)
            while (frame := framer.next_event()) is not NEED_DATA:
                if frame is CONNECTION_CLOSED:
                    writer.close()
                    return
                assert isinstance(frame, bytes)
                self.packets.append(HepPacket.parse(frame))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def until(predicate, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout_s)


def test_bridge_over_tcp_counts_what_it_skips() -> None:
    if not (ESL_DIR / "genesis-channel_create.txt").exists():
        pytest.skip("../shared/esl is absent")

    async def scenario() -> None:
        receiver = HepTcpReceiver()
        await receiver.start()
        async with FakeFreeSwitch(HOST) as fs:
            config = HepipeConfig(
                esl_host=HOST,
                esl_port=fs.port,
                hep_host=HOST,
                hep_port=receiver.port,
                hep_transport="tcp",
                capture_id=77,
                node_name="fs-01",
            )
            logs: list[str] = []
            bridge = HepipeBridge(config, log=logs.append)
            task = asyncio.ensure_future(bridge.run())
            await asyncio.wait_for(fs.subscribed.wait(), 10)
            await fs.fire(dump_body(ESL_DIR / "genesis-channel_create.txt"))
            # A leg nobody knows, FreeSWITCH included: looked up, then skipped and counted.
            unknown = (
                (FIXTURES / "recv_rtcp_message.txt")
                .read_bytes()
                .replace(
                    b"d0b1da34-a727-11e4-9728-6f83a2e5e50a", b"00000000-dead-beef-0000-000000000000"
                )
            )
            await fs.fire(unknown)
            await fs.fire(dump_body(ESL_DIR / "genesis-heartbeat.txt"))  # not subscribed
            await fs.fire((FIXTURES / "recv_rtcp_message.txt").read_bytes())
            await until(lambda: len(receiver.packets) >= 2)
            await until(lambda: bridge.counters.received >= 3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await receiver.stop()
            counters = bridge.counters
            assert counters.received == 3
            assert counters.lookups == 1 and counters.lookups_failed == 1
            assert counters.skipped[SKIP_NO_CALL_ID] == 1
            assert sum(counters.sent.values()) == 2
            assert [p.proto_type for p in receiver.packets] == [100, 5]
            assert all(p.correlation_id == A_CALL_ID for p in receiver.packets)
            assert all(p.capture_id == 77 and p.node_name == "fs-01" for p in receiver.packets)
            assert fs.api_log == ["uuid_getvar 00000000-dead-beef-0000-000000000000 sip_call_id"]
            assert "events received: 3" in counters.format()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_bridge_stops_on_a_wrong_password_or_an_acl_rejection() -> None:
    async def scenario() -> None:
        async with FakeFreeSwitch(HOST, password="right") as fs:
            config = HepipeConfig(esl_host=HOST, esl_port=fs.port, esl_password="wrong")
            with pytest.raises(EslAuthError):
                await asyncio.wait_for(HepipeBridge(config, log=lambda _: None).run(), 10)
        async with FakeFreeSwitch(HOST, allowed=lambda ip: False) as fs:
            config = HepipeConfig(esl_host=HOST, esl_port=fs.port)
            with pytest.raises(EslRejected, match="apply-inbound-acl"):
                await asyncio.wait_for(HepipeBridge(config, log=lambda _: None).run(), 10)

    asyncio.run(scenario())


def test_subscriptions_follow_the_report_switches() -> None:
    events, subclasses = subscriptions(HepipeConfig(rtcp_events=False, call_events=False))
    assert "RECV_RTCP_MESSAGE" not in events and "CHANNEL_CREATE" in events
    assert subclasses == ()
    assert "ALL" not in subscriptions(HepipeConfig())[0]


@contextmanager
def server_thread(**options: object) -> Iterator[FakeFreeSwitch]:
    """The ESL server on its own loop, so the CLI can run as a separate process meanwhile."""
    loop = asyncio.new_event_loop()
    fs = FakeFreeSwitch(HOST, **options)  # type: ignore[arg-type]
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fs.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield fs
    finally:
        asyncio.run_coroutine_threadsafe(fs.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_cli_wrong_password_exits_4_with_the_reason() -> None:
    with server_thread(password="ClueCon") as fs:
        proc = rtcscope_cli(
            ["hepipe", "--esl-host", HOST, "--esl-port", str(fs.port), "--esl-password", "nope"],
            timeout=30,
        )
    assert proc.returncode == 4
    assert "refused the password (-ERR invalid)" in proc.stderr
    assert "events received: 0" in proc.stdout


def test_cli_acl_rejection_exits_4_and_names_the_setting() -> None:
    with server_thread(allowed=lambda ip: False) as fs:
        proc = rtcscope_cli(["hepipe", "--esl-host", HOST, "--esl-port", str(fs.port)], timeout=30)
    assert proc.returncode == 4
    assert "Access Denied, go away." in proc.stderr
    assert "apply-inbound-acl" in proc.stderr


def test_cli_unresolvable_hep_host_is_a_peer_error() -> None:
    with server_thread() as fs:
        proc = rtcscope_cli(
            [
                "hepipe",
                "--esl-host",
                HOST,
                "--esl-port",
                str(fs.port),
                "--hep-host",
                "no-such-host.invalid",
                "--json",
            ],
            timeout=30,
        )
    assert proc.returncode == 4
    assert "cannot send HEP to udp://no-such-host.invalid:9060" in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["received"] == 0


def test_cli_bad_config_is_an_input_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A settings file with a bad value is invalid input (exit 3, errors.ConfigError); a bad
    flag value is a usage error (exit 2)."""
    config = tmp_path / "bad.toml"
    config.write_text("[hep]\ntransport = 'sctp'\n")
    proc = rtcscope_cli(["hepipe", "--config", config], timeout=30)
    assert proc.returncode == 3
    assert "udp or tcp" in proc.stderr
