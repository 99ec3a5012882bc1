"""Sender timing decisions (pure) and TCP reconnection against a collector that comes late."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rtcscope.errors import InvalidArgument
from rtcscope.hep.codec import HepPacket
from rtcscope.hep.collector import HepCollector
from rtcscope.hep.sender import (
    HepSender,
    RateLimiter,
    backoff_delay_s,
    pacing_delay_s,
    parse_url,
)
from rtcscope.hep.store import HepStore, search

HOST = "127.0.20.2"


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay_s(a) for a in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay_s(10_000) == 30
    assert backoff_delay_s(2, initial_s=0.1, max_s=1) == pytest.approx(0.4)


def test_rate_limiter_allows_the_rate_and_no_more() -> None:
    limiter = RateLimiter(1000, burst=10)
    now = 0.0
    sent = 0
    while now < 1.0:  # simulate a sender that sleeps exactly as told
        delay = limiter.delay_s(now)
        now += delay
        if now < 1.0:
            sent += 1
    assert 1000 <= sent <= 1010


def test_pacing_keeps_capture_gaps() -> None:
    assert pacing_delay_s(10**9, 3 * 10**9, started_s=100.0, now=100.5) == pytest.approx(1.5)
    assert pacing_delay_s(10**9, 10**9, started_s=100.0, now=101.0) == 0.0


def test_parse_url() -> None:
    assert parse_url("udp://127.0.0.1:9060") == ("udp", "127.0.0.1", 9060)
    assert parse_url("tcp://[::1]:9061") == ("tcp", "::1", 9061)
    for bad in ("http://x:1", "udp://host", "udp://:5"):
        with pytest.raises(InvalidArgument):
            parse_url(bad)


def test_tcp_sender_reconnects_when_the_collector_comes_up(tmp_path: Path) -> None:
    """Frames queued while the collector is down are delivered once it listens."""
    port = 39071

    async def main() -> tuple[int, int]:
        sender = HepSender(
            "tcp", HOST, port, initial_backoff_s=0.05, max_backoff_s=0.2, connect_timeout_s=0.3
        )
        await sender.start()  # nobody listens: returns after the connect timeout
        for i in range(20):
            await sender.send(HepPacket(proto_type=1, capture_id=i, payload=b"SIP/2.0 200 OK\r\n"))
        assert sender.stats.connect_failures >= 1
        collector = HepCollector(HepStore(tmp_path, write_pcap=False))
        task = asyncio.ensure_future(collector.serve(HOST, port, udp=False, tcp=True))
        for _ in range(200):
            await asyncio.sleep(0.02)
            if collector.stats.stored == 20:
                break
        await sender.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        collector.close()
        return collector.stats.stored, sender.stats.sent

    stored, sent = asyncio.run(main())
    assert (stored, sent) == (20, 20)
    assert [r.capture_id for r in list(search(tmp_path))] == list(range(20))


def test_tcp_buffer_is_bounded_while_disconnected() -> None:
    async def main() -> tuple[int, int]:
        sender = HepSender("tcp", HOST, 39072, max_buffer_bytes=1000, connect_timeout_s=0.1)
        await sender.start()
        for _ in range(50):
            await sender.send(HepPacket(payload=b"x" * 88))  # 100 bytes each
        pending = sender.pending_bytes
        await sender.close(timeout_s=0.1)
        return pending, sender.stats.dropped

    pending, dropped = asyncio.run(main())
    assert pending == 1000
    assert dropped == 50


def test_send_paced_sleeps_the_capture_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    """--realtime: with a fake clock, the waits are exactly the gaps between capture times."""
    from rtcscope.hep import sender as sender_module

    clock = [1000.0]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(sender_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(sender_module.asyncio, "sleep", fake_sleep)

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[tuple[float, int | None]] = []

        async def send(self, packet: HepPacket) -> None:
            self.sent.append((clock[0], packet.ts_usec))

    recorder = Recorder()
    times = [(100, 0), (100, 250_000), (101, 250_000), (101, 250_000), (103, 0)]
    packets = [HepPacket(ts_sec=s, ts_usec=u) for s, u in times]
    count = asyncio.run(sender_module.send_paced(recorder, packets))  # type: ignore[arg-type]
    assert count == 5
    assert sleeps == [0.25, 1.0, 1.75]
    assert [round(t - 1000.0, 6) for t, _ in recorder.sent] == [0, 0.25, 1.25, 1.25, 3.0]
