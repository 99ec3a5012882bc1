"""IPv6/UDP RTP goes through the RTP tap's array path (issue 14, item 5).

SIP_DTMF2.pcap and the many-short-streams capture of test_short_streams.py rewritten to
IPv6 (tests/rtp/ipv6_rewrite.py: each IPv4/UDP header becomes an IPv6 one, the UDP payload
kept, SDP naming the mapped addresses): ``streams --rtcp --dtmf`` JSON by the array path
equals the per-packet path's, its numbers equal ``tshark -z rtp,streams`` on the same
rewrite, and the RTP of followed IPv6 streams is no longer decoded record by record.
"""

from __future__ import annotations

import json
import struct
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rtcscope.cli.capture as cli_capture
import rtcscope.scan.onepass as onepass
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.streams import stream_to_dict
from rtcscope.scan import ScanOptions
from rtcscope.scan.files import scan_capture
from tests.conftest import DATA
from tests.rtp.ipv6_rewrite import rewrite_pcap, to_ipv6_frame
from tests.rtp.test_short_streams import as_tshark_row, tshark_table, write_capture
from tests.rtp.test_tshark_streams import tshark_streams
from tests.test_mutation import _udp_frame

Key = tuple[str, int, str, int, int]


@cache
def _rewrites(directory: Path) -> dict[str, Path]:
    short = directory / "short-calls.pcap"
    write_capture(short)
    made = {}
    for name, source in (("dtmf", DATA / "SIP_DTMF2.pcap"), ("short", short)):
        made[name] = directory / f"{name}-v6.pcap"
        made[name].write_bytes(rewrite_pcap(source.read_bytes()))
    return made


@pytest.fixture(scope="module")
def rewrites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _rewrites(tmp_path_factory.mktemp("v6"))


def _streams_json(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fast: bool
) -> Any:
    """``rtcscope streams --rtcp --dtmf --format json`` in-process, by either path."""
    if not fast:
        real_scan = cli_capture.scan

        def per_packet(source: Any, options: ScanOptions, **kwargs: Any) -> Any:
            return real_scan(source, replace(options, vectorized=False), **kwargs)

        monkeypatch.setattr(cli_capture, "scan", per_packet)
    capsys.readouterr()
    code = main(["streams", str(path), "--rtcp", "--dtmf", "--format", "json", "--quiet"])
    monkeypatch.undo()
    assert code == 0
    return json.loads(capsys.readouterr().out)


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    decoded: list[Record] = []
    real_decode = onepass.decode

    def counting(record: Record) -> Packet:
        decoded.append(record)
        return real_decode(record)

    monkeypatch.setattr(onepass, "decode", counting)
    return decoded


def _by_key(data: Any) -> dict[Key, dict[str, Any]]:
    return {(s["src"], s["src_port"], s["dst"], s["dst_port"], s["ssrc"]): s for s in data}


@pytest.mark.parametrize("name", ["dtmf", "short"])
def test_array_path_equals_per_packet_path(
    name: str,
    rewrites: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = rewrites[name]
    decoded = _count_decodes(monkeypatch)
    fast = _streams_json(path, capsys, monkeypatch, fast=True)
    decoded_fast = list(decoded)
    slow = _streams_json(path, capsys, monkeypatch, fast=False)
    assert fast == slow
    streams = fast["streams"]
    assert streams and all(":" in s["src"] and ":" in s["dst"] for s in streams)
    assert all(s["source"] == "sdp" for s in streams)
    # Records decoded one by one: SIP and each stream's first packets, not followed RTP.
    rtp_packets = sum(s["packets"] for s in streams)
    assert len(decoded_fast) < rtp_packets / 4, (len(decoded_fast), rtp_packets)
    if name == "dtmf":
        assert [d["digit"] for s in streams for d in s.get("dtmf", [])]


@pytest.mark.peer
def test_dtmf2_numbers_equal_tsharks(
    rewrites: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = rewrites["dtmf"]
    theirs = tshark_streams(path, heuristic=False)
    ours = _by_key(_streams_json(path, capsys, monkeypatch, fast=True)["streams"])
    assert len(theirs) == 2 and set(ours) == set(theirs)
    for key, values in theirs.items():
        got = ours[key]
        assert str(got["packets"]) == values["packets"]
        assert str(got["lost"]) == values["lost"]
        for field in list(values)[2:]:
            assert f"{got[field]:.3f}" == values[field], (key, field)


@pytest.mark.peer
@pytest.mark.slow
def test_short_streams_every_column_equals_tsharks(
    rewrites: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = rewrites["short"]
    theirs = tshark_table(path)
    ours = _by_key(_streams_json(path, capsys, monkeypatch, fast=True)["streams"])
    assert len(theirs) == 2400 and set(ours) == set(theirs)
    for key, row in theirs.items():
        assert as_tshark_row(ours[key]) == row, key
    # Every text shape of the rewrite: IPv4-mapped, a compressed tail, a compressed middle.
    sources = {key[0] for key in ours}
    assert any(s.startswith("::ffff:") for s in sources)
    assert any(s.startswith("2001:db8::") for s in sources)
    assert any(s.startswith("fd00:0:") and "::" in s for s in sources)


def test_unusual_ipv6_goes_per_packet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An extension header and a truncated header: not read as arrays (decode() reads them);
    a zero payload length before the UDP header is read as arrays, the frame deciding its end
    as decode() does; the streams are the per-packet path's."""
    rtp = bytes([0x80, 0]) + bytes(10) + bytes(160)
    plain = to_ipv6_frame(_udp_frame(rtp, "10.0.0.1", "10.0.0.2", 4000, 5000))
    ipv6 = plain[14:]
    hop_by_hop = (
        plain[:14] + ipv6[:4] + (len(ipv6) - 40 + 8).to_bytes(2, "big") + b"\x00" + ipv6[7:40]
    )
    hop_by_hop += bytes([17, 0]) + bytes(6) + ipv6[40:]
    jumbo = plain[:18] + b"\x00\x00" + plain[20:]
    frames = [plain, hop_by_hop, jumbo, plain[:50]]
    path = tmp_path / "odd.pcap"
    with PcapWriter(path) as writer:
        for n in range(40):
            writer.write(frames[n % 4], 1_700_000_000 * 10**9 + n * 20_000_000)
    decoded = _count_decodes(monkeypatch)
    fast = scan_capture(path, rtp_ports=[5000], with_dtmf=True)
    odd = {record.frame for record in decoded}
    monkeypatch.undo()
    slow = scan_capture(path, rtp_ports=[5000], with_dtmf=True, fast=False)
    assert [s.stats.packets for s in fast.streams] == [s.stats.packets for s in slow.streams]
    assert [s.key for s in fast.streams] == [s.key for s in slow.streams]
    # frames 2, 6, ...: hop-by-hop header; 4, 8, ...: truncated (1, 5, ...: plain; 3, 7, ...:
    # zero payload length)
    assert {f for f in odd if f % 4 in (0, 2)} == {f for f in range(1, 41) if f % 4 in (0, 2)}
    assert not {f for f in odd if f % 4 == 3}


def _ipv6_frame(rtp: bytes, src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(rtp), 0) + rtp
    header = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, src, dst)
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x86\xdd" + header + udp


def _both_paths(
    frames: list[bytes], directory: Path, ports: tuple[int, ...] = (5000,)
) -> tuple[list[Any], list[Any]]:
    path = directory / "made.pcap"
    with PcapWriter(path) as writer:
        for n, frame in enumerate(frames):
            writer.write(frame, 1_700_000_000 * 10**9 + n * 10_000_000)
    return tuple(  # type: ignore[return-value]
        [stream_to_dict(s) for s in scan_capture(path, rtp_ports=ports, fast=fast).streams]
        for fast in (True, False)
    )


def test_two_ipv6_streams_whose_batch_keys_collide_stay_apart(tmp_path: Path) -> None:
    """IPv6 rows are grouped by a 64-bit mix of five words (four address words, then ports
    and SSRC); two streams made to share that mix come out as two, with their numbers."""
    mask, mix = (1 << 64) - 1, 0x9E3779B97F4A7C15
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst_a = bytes.fromhex("20010db8000000000000000000000002")
    dst_b = bytes.fromhex("20010db8000000000000000000000003")
    words = [int.from_bytes(src[:8], "big"), int.from_bytes(src[8:], "big")]
    high = ((((words[0] * mix) & mask) ^ words[1]) * mix) & mask
    high = ((high ^ int.from_bytes(dst_a[:8], "big")) * mix) & mask
    rest_a = (4000 << 48) | (5000 << 32) | 0x1111
    mixed_a = (((high ^ int.from_bytes(dst_a[8:], "big")) * mix) & mask) ^ rest_a
    rest_b = mixed_a ^ (((high ^ int.from_bytes(dst_b[8:], "big")) * mix) & mask)
    flows = [
        (dst_a, 4000, 5000, 0x1111),
        (dst_b, rest_b >> 48, (rest_b >> 32) & 0xFFFF, rest_b & 0xFFFFFFFF),
    ]
    frames = []
    for i in range(50):
        for n, (dst, sport, dport, ssrc) in enumerate(flows):
            rtp = RtpPacket(8, (i * (n + 1)) & 0xFFFF, 160 * i, ssrc, payload=bytes(160))
            frames.append(_ipv6_frame(rtp.encode(), src, dst, sport, dport))
    fast, slow = _both_paths(frames, tmp_path, (5000, flows[1][2]))
    assert fast == slow
    assert len(fast) == 2 and [s["packets"] for s in fast] == [50, 50]


@settings(max_examples=40, deadline=None)
@example([(1, 19, 0)], [])  # a zero payload length: the frame decides on both paths
@given(
    st.lists(
        st.tuples(st.integers(0, 29), st.integers(14, 73), st.integers(0, 255)),
        max_size=6,
    ),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 80)), max_size=3),
)
def test_damaged_ipv6_rows_give_the_per_packet_result(
    changes: list[tuple[int, int, int]], cuts: list[tuple[int, int]]
) -> None:
    """Any byte of the IPv6, UDP or RTP header changed, or a frame cut short: the array path
    finds what the per-packet path finds (never a crash)."""
    src = bytes.fromhex("fd000000000a0001000000000000000a")
    dst = bytes.fromhex("00000000000000000000ffff0a000002")
    frames = [
        bytearray(
            _ipv6_frame(
                RtpPacket(0, i, 160 * i, 0xABCD, i == 0, payload=bytes(160)).encode(),
                src,
                dst,
                4000,
                5000,
            )
        )
        for i in range(30)
    ]
    for row, at, value in changes:
        frames[row][at] = value
    cut = {row: size for row, size in cuts}
    with tempfile.TemporaryDirectory() as directory:
        fast, slow = _both_paths(
            [bytes(f[: cut.get(n, len(f))]) for n, f in enumerate(frames)], Path(directory)
        )
    assert fast == slow
