"""Collector, store and sender together on loopback (127.0.20.0/24), in one event loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.hep.codec import HepPacket, ProtocolType, encode
from rtcscope.hep.collector import HepCollector
from rtcscope.hep.sender import HepSender
from rtcscope.hep.store import HepStore, search, sip_index_fields

HOST = "127.0.20.1"


def _sip(call_id: str, method: str = "INVITE") -> bytes:
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _packet(i: int, **extra: object) -> HepPacket:
    fields: dict[str, object] = {
        "ip_family": 2,
        "ip_proto": 17,
        "src": "10.0.0.1",
        "dst": "10.0.0.2",
        "sport": 5060,
        "dport": 5060,
        "ts_sec": 1700000000 + i,
        "ts_usec": i,
        "proto_type": ProtocolType.SIP,
        "capture_id": 77,
        "node_name": "edge",
        "payload": _sip(f"call-{i}@x"),
    }
    fields.update(extra)
    return HepPacket(**fields)  # type: ignore[arg-type]


async def _run(
    directory: Path, password: str | None, body: object, tcp: bool = True
) -> HepCollector:
    collector = HepCollector(HepStore(directory, write_pcap=False), password=password)
    task = asyncio.ensure_future(collector.serve(HOST, 0, udp=True, tcp=tcp))
    while len(collector.bound) < (2 if tcp else 1):
        await asyncio.sleep(0.01)
    port = collector.bound[0][2]
    await body(port)  # type: ignore[operator]
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    collector.close()
    return collector


def test_udp_and_tcp_messages_are_stored_with_their_fields(tmp_path: Path) -> None:
    async def body(port: int) -> None:
        async with HepSender("udp", HOST, port) as udp:
            for i in range(5):
                await udp.send(_packet(i))
        async with HepSender("tcp", HOST, port) as tcp:
            for i in range(5, 12):
                await tcp.send(_packet(i, ip_proto=6))
            await tcp.send(
                _packet(
                    99,
                    proto_type=ProtocolType.RTCP_JSON,
                    payload=b'{"type":200}',
                    correlation_id="call-1@x",
                )
            )

    collector = asyncio.run(_run(tmp_path, None, body))
    assert collector.stats.stored == 13
    rows = list(search(tmp_path))
    assert [r.call_id for r in rows[:12]] == [f"call-{i}@x" for i in range(12)]
    assert {r.method for r in rows[:12]} == {"INVITE"}
    first = rows[0]
    assert (first.src, first.sport, first.dst, first.dport) == ("10.0.0.1", 5060, "10.0.0.2", 5060)
    assert first.time_ns == 1700000000 * 10**9
    assert (first.capture_id, first.node, first.hep_version) == (77, "edge", 3)
    assert [r.ip_proto for r in rows[5:12]] == [6] * 7
    # a Call-ID search finds the SIP message and the RTCP report correlated to it
    found = list(search(tmp_path, call_id="call-1@x"))
    assert [r.proto_type for r in found] == [1, 5]
    assert next(iter(search(tmp_path, proto_type=5))).payload == b'{"type":200}'
    assert len(list(search(tmp_path, since_ns=(1700000000 + 10) * 10**9))) == 3


def test_password_is_checked_counted_and_logged_once_per_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(port: int) -> None:
        async with HepSender("udp", HOST, port) as udp:
            await udp.send(_packet(1, auth_key="right"))
            for i in range(3):
                await udp.send(_packet(2 + i, auth_key="wrong"))
            await udp.send(_packet(5))  # no chunk 14
            await udp.send(HepPacket(version=2, src="1.1.1.1", dst="2.2.2.2", payload=_sip("v2")))
            await udp.send(b"HEP3\x00\x05garbage")

    with caplog.at_level(logging.WARNING, logger="rtcscope.hep.collector"):
        collector = asyncio.run(_run(tmp_path, "right", body, tcp=False))
    stats = collector.stats
    assert (stats.stored, stats.rejected, stats.invalid) == (1, 5, 1)
    assert stats.rejected_by_source == {"127.0.0.1": 5}
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert [r.call_id for r in list(search(tmp_path))] == ["call-1@x"]


def test_hepv2_is_stored_as_sip(tmp_path: Path) -> None:
    async def body(port: int) -> None:
        async with HepSender("udp", HOST, port) as udp:
            await udp.send(encode(_packet(3, version=2, magic=b"")))

    asyncio.run(_run(tmp_path, None, body, tcp=False))
    (row,) = list(search(tmp_path))
    assert (row.hep_version, row.proto_type, row.call_id, row.capture_id) == (2, 1, "call-3@x", 77)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"SIP/2.0 486 Busy Here\r\ni: abc\r\n\r\n", ("abc", None, 486)),
        (b"BYE sip:x SIP/2.0\r\nCALL-ID:  k@h \r\n\r\n", ("k@h", "BYE", None)),
        (b"OPTIONS sip:x SIP/2.0\r\n\r\nCall-ID: body", (None, "OPTIONS", None)),
        (b"not sip", (None, None, None)),
        (
            b"INVITE sip:x SIP/2.0\nCall-ID: lf@only\nCSeq: 1 INVITE\n\nv=0\r\n",
            ("lf@only", "INVITE", None),
        ),
        (b"SIP/2.0 200 OK\r\nCall-ID: last@h\r\n\r\n", ("last@h", None, 200)),
        (b"SIP/2.0 200 OK\r\nCall-ID: no-end", ("no-end", None, 200)),
    ],
)
def test_sip_index_fields(payload: bytes, expected: tuple[object, ...]) -> None:
    assert sip_index_fields(payload) == expected


@given(st.binary(max_size=400))
def test_any_datagram_is_counted_never_raised(data: bytes) -> None:
    collector = HepCollector(_NullStore(), password=None)  # type: ignore[arg-type]
    for wire in (data, b"HEP3" + (len(data) + 6).to_bytes(2, "big") + data):
        collector.handle_packet(wire, "192.0.2.1", 0)
    stats = collector.stats
    assert stats.received == 2
    assert stats.accepted + sum(stats.refused.values()) + stats.empty == 2


@given(st.binary(max_size=300))
def test_sip_index_fields_takes_any_bytes(data: bytes) -> None:
    call_id, method, status = sip_index_fields(b"SIP/2.0 200 OK\r\n" + data)
    assert (method, status) == (None, 200)
    assert call_id is None or isinstance(call_id, str)
    sip_index_fields(data)


class _NullStore:
    rows_committed = 0
    pcap_truncated = 0
    failures: dict[str, int] = {}  # noqa: RUF012

    def add(self, rows: object) -> None:
        pass

    def close(self) -> None:
        pass


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.@", min_size=1, max_size=20)


@given(
    st.sampled_from(["Call-ID", "call-id", "CALL-ID", "i", "Call-Id"]),
    _token,
    st.lists(st.tuples(st.sampled_from(["Via", "To", "From", "CSeq", "X-A"]), _token), max_size=5),
    st.sampled_from(["\r\n", "\n"]),
    st.booleans(),
    st.text(alphabet="abc: \r\nCall-ID", max_size=40),
)
def test_call_id_agrees_with_the_sip_parser(
    name: str,
    call_id: str,
    headers: list[tuple[str, str]],
    eol: str,
    response: bool,
    body: str,
) -> None:
    """rtcscope.sip.message (issue 4's full parser) is the reference for the fast scan."""
    from rtcscope.sip.message import SipMessage

    start = "SIP/2.0 180 Ringing" if response else "INVITE sip:b@example.com SIP/2.0"
    lines = [start, *[f"{h}: {v}" for h, v in headers[:2]], f"{name}: {call_id}"]
    lines += [f"{h}: {v}" for h, v in headers[2:]]
    wire = (eol.join(lines) + eol + eol + body).encode()
    reference = SipMessage.parse(wire)
    assert sip_index_fields(wire) == (
        reference.call_id,
        None if response else reference.method,
        reference.status_code if response else None,
    )
