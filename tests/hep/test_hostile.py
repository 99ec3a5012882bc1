"""The collector under hostile input (issue 21): nothing a sender does stops the store.

Loopback only, addresses 127.0.70.0/24. Every test ends with a valid message that must be
in the database (and the pcap, read back by tshark), and checks the refusals by reason.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcscope.hep.codec import HepPacket, ProtocolType, compress, encode
from rtcscope.hep.collector import HepCollector, SourceCounter
from rtcscope.hep.store import (
    DATABASE_NAME,
    MAX_PCAP_PAYLOAD,
    PCAP_NAME,
    HepStore,
    Rotation,
    StoreProcess,
    escape_text,
    search,
)
from tests.peers import tshark_fields

HOST = "127.0.70.1"


def _sip(call_id: str | bytes, body: bytes = b"") -> bytes:
    cid = call_id if isinstance(call_id, bytes) else call_id.encode()
    return (
        b"MESSAGE sip:b@example.com SIP/2.0\r\nCall-ID: "
        + cid
        + b"\r\nCSeq: 1 MESSAGE\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _packet(i: int, payload: bytes | None = None, **extra: object) -> HepPacket:
    fields: dict[str, object] = {
        "ip_family": 2,
        "ip_proto": 17,
        "src": "10.0.0.1",
        "dst": "10.0.0.2",
        "sport": 5060,
        "dport": 5060,
        "ts_sec": 1700000000 + i,
        "ts_usec": 0,
        "proto_type": ProtocolType.SIP,
        "capture_id": 7,
        "payload": payload if payload is not None else _sip(f"ok-{i}@h"),
    }
    fields.update(extra)
    return HepPacket(**fields)  # type: ignore[arg-type]


def _bomb(i: int, inflated: int = 4 * 1024 * 1024) -> bytes:
    return encode(compress(_packet(i, payload=_sip(f"bomb-{i}", b"\0" * inflated))))


async def _collect(
    collector: HepCollector, body: Callable[[int], Awaitable[None]], tcp: bool = False
) -> None:
    task = asyncio.ensure_future(collector.serve(HOST, 0, udp=True, tcp=tcp))
    while len(collector.bound) < (2 if tcp else 1):
        await asyncio.sleep(0.01)
    await body(collector.bound[0][2])
    await _settled(collector)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    collector.close()


async def _until(done: Callable[[], bool], limit_s: float = 20.0) -> None:
    """Wait for a condition (a busy machine may take a while), failing after ``limit_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not done():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def _settled(collector: HepCollector, quiet_s: float = 0.3) -> None:
    """Until the collector's counters stop moving for ``quiet_s`` (what was sent is read and
    stored), instead of a fixed sleep that a loaded machine can outrun."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    last: tuple[int, ...] = ()
    since = loop.time()
    while loop.time() < deadline:
        stats = collector.stats
        now = (stats.received, stats.accepted, stats.stored, sum(stats.refused.values()))
        if now != last:
            last, since = now, loop.time()
        elif loop.time() - since >= quiet_s:
            return
        await asyncio.sleep(0.02)


def _send_udp(port: int, datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))  # our own loopback range, also as the source
        for data in datagrams:
            sock.sendto(data, (HOST, port))


def _integrity(directory: Path) -> str:
    db = sqlite3.connect(directory / DATABASE_NAME)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("store_kind", ["thread", "process"])
def test_non_utf8_fields_are_stored_escaped_and_the_store_goes_on(
    tmp_path: Path, store_kind: str
) -> None:
    store = StoreProcess(tmp_path) if store_kind == "process" else HepStore(tmp_path)
    collector = HepCollector(store)
    bad = [
        _packet(1, payload=_sip(b"call-\xff\xfe@h")),
        _packet(2, correlation_id="corr-\udcff"),  # surrogateescape: the byte 0xff
        _packet(3, node_name=b"node-\xc3(".decode("utf-8", "surrogateescape")),
    ]

    async def body(port: int) -> None:
        _send_udp(port, [encode(p) for p in bad])
        await asyncio.sleep(0.2)
        _send_udp(port, [encode(_packet(4))])

    asyncio.run(_collect(collector, body))
    stats = collector.stats
    assert (stats.received, stats.accepted, stats.stored) == (4, 4, 4)
    assert sum(stats.refused.values()) == 0
    rows = list(search(tmp_path))
    assert [r.call_id for r in rows] == ["call-\\xff\\xfe@h", "ok-2@h", "ok-3@h", "ok-4@h"]
    assert rows[1].correlation_id == "corr-\\xff"
    assert rows[2].node == "node-\\xc3("
    assert _integrity(tmp_path) == "ok"
    frames = tshark_fields(tmp_path / PCAP_NAME, ["sip.Call-ID"])
    assert len(frames) == 4
    assert frames[-1] == ["ok-4@h"]


def test_escape_text_is_backslashreplace_of_the_wire_bytes() -> None:
    wire = b"a\xffb\xc3\xa9"
    assert escape_text(wire.decode("utf-8", "surrogateescape")) == "a\\xffb\u00e9"
    assert escape_text("plain") == "plain"


def test_payload_inflating_past_an_ip_packet_is_stored_whole_and_cut_in_the_pcap(
    tmp_path: Path,
) -> None:
    big = _sip("big@h", b"x" * 100_000)
    collector = HepCollector(HepStore(tmp_path), max_payload_bytes=256 * 1024)

    async def body(port: int) -> None:
        _send_udp(port, [encode(compress(_packet(1, payload=big))), encode(_packet(2))])

    asyncio.run(_collect(collector, body))
    assert collector.stats.stored == 2
    assert collector.stats.pcap_truncated == 1
    rows = list(search(tmp_path))
    assert rows[0].payload == big
    frames = tshark_fields(tmp_path / PCAP_NAME, ["frame.len", "frame.cap_len", "udp.dstport"])
    # Ethernet 14 + IPv4 20 + UDP 8 around the payload; the record keeps MAX_PCAP_PAYLOAD
    assert frames[0][:2] == [str(14 + 28 + len(big)), str(14 + 28 + MAX_PCAP_PAYLOAD)]
    assert len(frames) == 2


def test_compression_bombs_are_refused_counted_and_the_next_message_stored(
    tmp_path: Path,
) -> None:
    bombs = [_bomb(i) for i in range(40)]
    assert all(len(b) < 8000 for b in bombs)  # 4 MB of zeros gzip to ~4 KB
    collector = HepCollector(HepStore(tmp_path))

    async def body(port: int) -> None:
        for bomb in bombs:
            _send_udp(port, [bomb])
            await asyncio.sleep(0)
        _send_udp(port, [encode(_packet(99))])

    asyncio.run(_collect(collector, body))
    stats = collector.stats
    assert stats.refused["payload_too_large"] == 40
    assert stats.stored == 1
    assert [r.call_id for r in search(tmp_path)] == ["ok-99@h"]


def test_queue_bounded_in_bytes_drops_and_counts() -> None:
    class SlowStore:
        rows_committed = 0
        pcap_truncated = 0
        failures: dict[str, int] = {}  # noqa: RUF012

        def add(self, rows: object) -> None:
            raise AssertionError("the writer thread is not started in this test")

        def close(self) -> None:
            pass

    collector = HepCollector(SlowStore(), max_queue_bytes=300_000)  # type: ignore[arg-type]
    payload = _sip("q@h", b"y" * 60_000)
    for i in range(10):
        collector.handle_packet(encode(_packet(i, payload=payload)), "192.0.2.9", 0)
    # 60 KB + row overhead each: four fit in 300,000 bytes, the other six are dropped
    assert collector.stats.accepted == 4
    assert collector.stats.refused["queue_full"] == 6


_VALID = st.integers(0, 10_000).map(lambda i: encode(_packet(i)))
_NON_UTF8 = st.binary(min_size=1, max_size=20).map(
    lambda b: encode(
        _packet(
            1,
            payload=_sip(b"c" + b),
            node_name=b.decode("utf-8", "surrogateescape"),
            correlation_id=(b + b"\xff").decode("utf-8", "surrogateescape"),
        )
    )
)
_GARBAGE = st.binary(max_size=200).map(lambda b: b"HEP3" + (len(b) + 6).to_bytes(2, "big") + b)
_BOMB = st.integers(70_000, 300_000).map(lambda n: _bomb(0, n))
_WRONG_CHUNK = st.binary(min_size=1, max_size=40).map(
    lambda b: encode(_packet(2))[:-3] + b"\x00\x0f\x00" + b
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(_VALID, _NON_UTF8, _GARBAGE, _BOMB, _WRONG_CHUNK), max_size=30))
def test_any_mix_ends_with_every_valid_message_stored(mix: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        collector = HepCollector(HepStore(directory), batch_size=7)
        for data in [*mix, encode(_packet(12345))]:
            collector.handle_packet(data, "192.0.2.1", 0)
        collector.close()
        stats = collector.stats
        assert stats.received == len(mix) + 1
        assert stats.stored == stats.accepted
        assert stats.accepted + sum(stats.refused.values()) + stats.empty == stats.received
        assert stats.refused["store_failed"] == 0
        rows = list(search(directory, limit=None))
        assert len(rows) == stats.stored
        assert rows[-1].call_id == "ok-12345@h"  # last by capture time (1700012345 s)
        assert _integrity(directory) == "ok"


def test_wrong_passwords_and_bad_chunks_counted_by_reason(tmp_path: Path) -> None:
    collector = HepCollector(HepStore(tmp_path, write_pcap=False), password="pw")

    async def body(port: int) -> None:
        _send_udp(
            port,
            [
                encode(_packet(1, auth_key="nope")),
                encode(_packet(2)),
                b"HEP3\x00\x0a\x00\x00\x00\x01",
                _bomb(3),
                encode(_packet(4, auth_key="pw")),
            ],
        )

    asyncio.run(_collect(collector, body))
    refused = collector.stats.as_dict()["refused"]
    assert refused == {
        "invalid": 1,
        "password": 2,
        "payload_too_large": 1,
        "queue_full": 0,
        "store_failed": 0,
    }
    assert [r.call_id for r in search(tmp_path)] == ["ok-4@h"]


# --- TCP ------------------------------------------------------------------------------------


def test_tcp_idle_and_trickling_clients_are_closed_and_others_served(tmp_path: Path) -> None:
    collector = HepCollector(
        HepStore(tmp_path, write_pcap=False), tcp_idle_timeout_s=0.3, tcp_frame_timeout_s=0.5
    )
    frame = encode(_packet(1))

    async def body(port: int) -> None:
        _idle_reader, idle = await asyncio.open_connection(HOST, port, local_addr=(HOST, 0))
        trickle_reader, trickle = await asyncio.open_connection(HOST, port, local_addr=(HOST, 0))
        closed = False
        try:
            for byte in frame[:8]:  # a byte every 0.15 s: the frame never completes in 0.5 s
                trickle.write(bytes([byte]))
                await trickle.drain()
                await asyncio.sleep(0.15)
            closed = await asyncio.wait_for(trickle_reader.read(), 2) == b""
        except ConnectionError:
            closed = True
        assert closed
        _ok_reader, ok = await asyncio.open_connection(HOST, port, local_addr=(HOST, 0))
        ok.write(encode(_packet(2)))
        await ok.drain()
        await _until(lambda: collector.stats.accepted >= 1)
        for writer in (idle, trickle, ok):
            writer.close()

    asyncio.run(_collect(collector, body, tcp=True))
    assert collector.stats.tcp_closed["frame_timeout"] == 1
    assert collector.stats.tcp_closed["idle_timeout"] >= 1
    assert [r.call_id for r in search(tmp_path)] == ["ok-2@h"]


def test_tcp_connection_cap_closes_the_idlest_and_lets_a_new_client_in(tmp_path: Path) -> None:
    collector = HepCollector(HepStore(tmp_path, write_pcap=False), max_tcp_connections=4)

    async def body(port: int) -> None:
        idle = [await asyncio.open_connection(HOST, port, local_addr=(HOST, 0)) for _ in range(10)]
        await _until(lambda: collector.stats.tcp_connections >= 10)
        _reader, ok = await asyncio.open_connection(HOST, port, local_addr=(HOST, 0))
        ok.write(encode(_packet(5)))
        await ok.drain()
        await _until(lambda: collector.stats.accepted >= 1)
        ok.close()
        for _r, writer in idle:
            writer.close()

    asyncio.run(_collect(collector, body, tcp=True))
    assert collector.stats.tcp_closed["connection_cap"] == 7
    assert [r.call_id for r in search(tmp_path)] == ["ok-5@h"]


def test_source_counter_keeps_the_most_recent_sources() -> None:
    counter = SourceCounter(limit=3)
    for i in range(50_000):
        counter.count(f"198.51.{i // 256 % 256}.{i % 256}")
    counter.count("203.0.113.1")
    assert len(counter) == 4  # three sources and "other"
    assert counter["other"] == 50_000 - 2
    assert sum(counter.values()) == 50_001


# --- pcap rotation --------------------------------------------------------------------------


def test_rotation_by_size_gives_complete_files_tshark_reads(tmp_path: Path) -> None:
    payload = _sip("rot@h", b"z" * 900)
    rows = [
        (
            1_700_000_000_000_000_000 + i,
            0,
            "10.0.0.1",
            5060,
            "10.0.0.2",
            5060,
            17,
            3,
            1,
            1,
            None,
            None,
            "rot@h",
            "MESSAGE",
            None,
            payload,
        )
        for i in range(40)
    ]
    with HepStore(tmp_path, rotate=Rotation.parse("8KiB")) as store:
        for start in range(0, 40, 4):
            store.add(rows[start : start + 4])
        assert list(tmp_path.glob("*.part"))  # the file being written
    files = sorted(tmp_path.glob("sip-*.pcap"))
    assert not list(tmp_path.glob("*.part"))
    assert len(files) >= 4
    assert sum(len(tshark_fields(f, ["frame.number"])) for f in files) == 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100MB/5min", Rotation(100_000_000, 300.0)),
        ("5min", Rotation(None, 300.0)),
        ("1GiB", Rotation(2**30, None)),
        ("30s/64KiB", Rotation(65536, 30.0)),
    ],
)
def test_rotation_parse(text: str, expected: Rotation) -> None:
    assert Rotation.parse(text) == expected


@pytest.mark.parametrize("text", ["", "5 parsecs", "100MB/200MB", "1B", "0s", "x/5min"])
def test_rotation_parse_refuses(text: str) -> None:
    from rtcscope.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        Rotation.parse(text)


def test_warnings_are_bounded_however_many_sources(caplog: pytest.LogCaptureFixture) -> None:
    collector = HepCollector(HepStore.__new__(HepStore))  # never written to: all refused
    with caplog.at_level(logging.WARNING, logger="rtcscope.hep.collector"):
        for i in range(50_000):
            collector.handle_packet(b"HEP3\x00\x07x", f"10.{i >> 16}.{i >> 8 & 255}.{i & 255}", 0)
    assert collector.stats.refused["invalid"] == 50_000
    assert len(caplog.records) == 20  # the per-minute budget
    assert collector.stats.warnings_suppressed == 50_000 - 20
    assert len(collector.stats.invalid_by_source) == 1024 + 1  # the latest sources + "other"
    assert sum(collector.stats.invalid_by_source.values()) == 50_000
