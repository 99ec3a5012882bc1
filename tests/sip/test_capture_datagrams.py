"""SipCaptureFramer.datagrams (the scan's SIP rows, a batch's columns at a time) gives what
SipCaptureFramer.datagram gives for each datagram as a packet: the same messages (frames,
times, addresses, ports, bytes), keep-alives and counts, on generated and mutated payloads
(real messages of tests/data, keep-alives, SIP-looking pieces, random bytes)."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.sip.capture as capture_module
from rtcscope.capture.fastscan import UdpDatagrams
from rtcscope.sip.capture import CapturedSip, SipCaptureFramer
from tests.rtp.test_heuristic import udp
from tests.sip.test_properties import SIPISH, real_messages

KEEPALIVES = st.sampled_from([b"\r\n", b"\r\n\r\n", b"\n", b"\r\n\x00\x00", b"\x00", b"\r"])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real message with a few bytes replaced, cut, or CR/LFs put before it."""
    data = bytearray(draw(st.sampled_from(real_messages())))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    return draw(st.sampled_from([b"", b"\r\n", b"\n\n"])) + bytes(data)


PAYLOADS = (
    st.sampled_from(real_messages()) | mutated() | KEEPALIVES | SIPISH | st.binary(max_size=80)
).filter(bool)  # the scan hands over non-empty payloads only


def _int64(values: list[int]) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


def _columns(payloads: list[bytes], gap: bytes) -> tuple[bytes, UdpDatagrams]:
    buffer = bytearray(gap)
    starts: list[int] = []
    for payload in payloads:
        starts.append(len(buffer))
        buffer += payload + gap
    count = len(payloads)
    frames = [2 * i + 100_001 for i in range(count)]  # not small ints (shared by all code)
    return bytes(buffer), UdpDatagrams(
        list(range(count)),
        frames,
        [frame * 20_000_000 for frame in frames],  # the times tests.rtp.test_heuristic.udp gives
        [f"10.0.0.{i % 3}" for i in range(count)],
        _int64([5060 + i % 2 for i in range(count)]),
        ["10.0.1.1"] * count,
        _int64([5062] * count),
        _int64(starts),
        _int64([start + len(p) for start, p in zip(starts, payloads, strict=True)]),
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(PAYLOADS, min_size=1, max_size=8), st.binary(max_size=5))
def test_datagrams_is_datagram_of_each_on_both_roads(payloads: list[bytes], gap: bytes) -> None:
    """datagrams() (the C road when built) and _datagrams_py (its specification) against
    datagram() of each payload as a packet."""
    buffer, columns = _columns(payloads, gap)
    by_columns, by_python, by_packets = SipCaptureFramer(), SipCaptureFramer(), SipCaptureFramer()
    found = by_columns.datagrams(buffer, columns)
    expected = [
        captured
        for frame, payload, src, sport in zip(
            columns.frames, payloads, columns.srcs, columns.sports.tolist(), strict=True
        )
        if (captured := by_packets.datagram(udp(frame, payload, sport, 5062, src, "10.0.1.1")))
        is not None
    ]
    for road in (found, by_python._datagrams_py(buffer, columns)):
        assert road == expected
        assert [type(c) for c in road] == [CapturedSip] * len(road)
        assert [bytes(c.message) for c in road] == [bytes(c.message) for c in expected]
        assert [c.message.problems for c in road] == [c.message.problems for c in expected]
    by_python.report.messages = by_python.report.udp_messages = len(expected)
    assert by_columns.report == by_packets.report == by_python.report
    # the messages of a flow share its addresses and ports (one object each)
    firsts: dict[tuple[str, int, str, int], CapturedSip] = {}
    for captured in found:
        first = firsts.setdefault(
            (captured.src, captured.sport, captured.dst, captured.dport), captured
        )
        assert captured.sport is first.sport and captured.src is first.src
        assert captured.dport is first.dport and captured.dst is first.dst


needs_c = pytest.mark.skipif(capture_module._c_datagrams is None, reason="the C road is not built")


@needs_c
def test_the_c_road_refuses_bad_columns_with_typed_errors() -> None:
    buffer, columns = _columns([b"OPTIONS sip:a SIP/2.0\r\n\r\n"], b"")
    framer = SipCaptureFramer()
    for starts, stops in (([-1], [5]), ([0], [len(buffer) + 1]), ([5], [4]), ([1 << 62], [2])):
        with pytest.raises(ValueError):
            framer.datagrams(buffer, columns._replace(starts=_int64(starts), stops=_int64(stops)))
    with pytest.raises(ValueError):
        framer.datagrams(buffer, columns._replace(frames=[]))
    with pytest.raises(ValueError):
        framer.datagrams(buffer, columns._replace(dports=_int64([5060, 5060])))
    with pytest.raises(TypeError):
        framer.datagrams(buffer, columns._replace(starts=[0]))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        framer.datagrams(buffer, columns._replace(sports=columns.sports.astype(np.int32)))
    with pytest.raises(TypeError):
        framer.datagrams(buffer, columns._replace(srcs=tuple(columns.srcs)))  # type: ignore[arg-type]
    assert framer.report.messages == 0
    assert len(framer.datagrams(buffer, columns)) == 1  # and it still works


@needs_c
def test_the_c_road_keeps_no_reference_behind() -> None:
    """Refcounts: the payload, the message and the flow's objects are held by the result
    only (a leak would keep them alive)."""
    buffer, columns = _columns([real_messages()[0]] * 3, b"xx")
    framer = SipCaptureFramer()
    found = framer.datagrams(buffer, columns)
    assert len(found) == 3
    # held by the list (the message by its CapturedSip) only, besides the call's own reference
    assert [sys.getrefcount(found[i]) for i in range(3)] == [2, 2, 2]
    assert [sys.getrefcount(found[i].message) for i in range(3)] == [2, 2, 2]
    del found
    objects = [buffer, *columns.srcs, *columns.frames, *columns.ts_ns, *framer._flows]
    before = [sys.getrefcount(item) for item in objects]
    for _ in range(100):
        framer.datagrams(buffer, columns)
    assert [sys.getrefcount(item) for item in objects] == before


@needs_c
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=30),
    st.integers(1, 4),
)
def test_the_c_road_shares_flows_as_shared_flow_does(
    flows: list[tuple[int, int]], limit: int
) -> None:
    """A new flow shared in C as SipCaptureFramer._shared_flow shares it, the flows of a
    batch found again without a lookup: the same dicts (flows, shared objects) as the Python
    road leaves, also when they are emptied at the limit (MAX_TCP_DIRECTIONS, made small)."""
    message = real_messages()[0]
    buffer = message * len(flows)
    count = len(flows)
    frames = [i + 100_001 for i in range(count)]
    columns = UdpDatagrams(
        list(range(count)),
        frames,
        [frame * 20_000_000 for frame in frames],
        [f"10.0.0.{host}" for host, _ in flows],
        _int64([5060 + port * 1000 for _, port in flows]),  # not small ints once boxed
        ["10.0.1.1"] * count,
        _int64([70000 - port for _, port in flows]),
        _int64([i * len(message) for i in range(count)]),
        _int64([(i + 1) * len(message) for i in range(count)]),
    )
    by_c, by_python = SipCaptureFramer(), SipCaptureFramer()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture_module, "MAX_TCP_DIRECTIONS", limit)
        for _ in range(2):  # the second batch: its flows in the dicts already
            found = by_c.datagrams(buffer, columns)
            expected = by_python._datagrams_py(buffer, columns)
            assert found == expected
            assert list(by_c._flows) == list(by_python._flows)
            assert list(by_c._shared) == list(by_python._shared)
            # the same objects shared by the same messages
            for name in ("src", "sport", "dst", "dport"):
                assert [[getattr(a, name) is getattr(b, name) for b in found] for a in found] == [
                    [getattr(a, name) is getattr(b, name) for b in expected] for a in expected
                ]
