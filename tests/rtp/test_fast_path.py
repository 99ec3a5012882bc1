"""The fast path (NumPy over record batches) finds exactly what the per-packet path finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.rtp.streams import rtcp_record_to_dict, stream_to_dict
from rtcscope.scan.files import scan_capture
from tests.conftest import DATA, shared_capture, shared_captures


def _everything(path: Path, fast: bool) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    result = scan_capture(path, with_rtcp=True, with_dtmf=True, fast=fast)
    first = result.first_ns or 0
    return (
        [stream_to_dict(s) for s in result.streams],
        [rtcp_record_to_dict(r, first) for r in result.rtcp_packets],
    )


@pytest.mark.parametrize(
    "path",
    shared_captures() or sorted(DATA.glob("*.pcap")),
    ids=lambda p: p.name,
)
def test_fast_and_per_packet_paths_agree(path: Path) -> None:
    assert _everything(path, fast=True) == _everything(path, fast=False)


def test_rtp_port_forcing_agrees() -> None:
    # shared_capture skips (fails under CI) when the capture is absent, instead of passing
    # without having compared anything.
    path = shared_capture("sipp-dtmf_2833_1.pcap")
    fast = scan_capture(path, rtp_ports=[10000], heuristic=False, with_dtmf=True)
    slow = scan_capture(path, rtp_ports=[10000], heuristic=False, with_dtmf=True, fast=False)
    assert [stream_to_dict(s) for s in fast.streams] == [stream_to_dict(s) for s in slow.streams]
    assert [s.source for s in fast.streams] == ["forced"]


def test_two_streams_whose_batch_keys_collide_stay_apart(tmp_path: Path) -> None:
    """The fast path groups rows by a 64-bit mix of (addresses, ports, SSRC); two streams
    made to share that mix must still come out as two, with their own numbers."""
    import ipaddress

    scapy_all = pytest.importorskip("scapy.all")
    from rtcscope.rtp.packet import RtpPacket

    mask = (1 << 64) - 1
    mix = 0x9E3779B97F4A7C15
    src_a, dst_a, sport_a, dport_a, ssrc_a = 0x0A000001, 0x0A000002, 20000, 30000, 0x1111
    k1a = (src_a << 32) | dst_a
    k2a = (sport_a << 48) | (dport_a << 32) | ssrc_a
    k1b = (0x0A000003 << 32) | 0x0A000004
    k2b = ((k1a * mix) & mask) ^ k2a ^ ((k1b * mix) & mask)
    assert ((k1b * mix) & mask) ^ k2b == ((k1a * mix) & mask) ^ k2a
    flows = [
        (src_a, dst_a, sport_a, dport_a, ssrc_a),
        (k1b >> 32, k1b & 0xFFFFFFFF, k2b >> 48, (k2b >> 32) & 0xFFFF, k2b & 0xFFFFFFFF),
    ]
    frames = []
    for i in range(50):
        for n, (src, dst, sport, dport, ssrc) in enumerate(flows):
            rtp = RtpPacket(8, (i * (n + 1)) & 0xFFFF, 160 * i, ssrc, payload=bytes(160))
            frame = (
                scapy_all.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                / scapy_all.IP(
                    src=str(ipaddress.IPv4Address(src)), dst=str(ipaddress.IPv4Address(dst))
                )
                / scapy_all.UDP(sport=sport, dport=dport)
                / rtp.encode()
            )
            frame.time = 1_700_000_000 + i * 0.02 + n * 0.001
            frames.append(frame)
    path = tmp_path / "collide.pcap"
    scapy_all.wrpcap(str(path), frames)
    fast, slow = _everything(path, fast=True), _everything(path, fast=False)
    assert fast == slow
    assert len(fast[0]) == 2
    assert sorted(s["lost"] for s in fast[0]) == [0, 49]  # seq 0, 2, ..., 98: 49 missing


@pytest.mark.parametrize(
    ("batch_bytes", "at_once", "wait_limit"), [(8192, None, None), (65536, 8, None), (8192, 8, 12)]
)
def test_short_streams_across_small_batches_equal_per_packet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_bytes: int,
    at_once: int | None,
    wait_limit: int | None,
) -> None:
    """Issue 14's short calls, read in small batches: most streams begin in one batch and
    go on in the next (their rows wait on in segments, summarised in bulk; or, past the
    wait limit, resumed into a StreamStats, one by one or many at once), others stay
    within one (summarised in bulk). Every stream's statistics equal the per-packet path's
    exactly (StatsSummary equality, not rounded JSON)."""
    from rtcscope.capture import reader
    from rtcscope.rtp import streams as streams_mod
    from tests.rtp.test_short_streams import write_capture

    path = tmp_path / "short.pcap"
    write_capture(path)
    monkeypatch.setattr(reader, "BATCH_BYTES", batch_bytes)
    if at_once is not None:  # resumed streams of a batch through add_new_streams
        monkeypatch.setattr(streams_mod, "_RESUME_AT_ONCE", at_once)
    if wait_limit is not None:  # the 40-packet streams outgrow their waiting rows
        monkeypatch.setattr(streams_mod, "_WAIT_LIMIT", wait_limit)
    made = {"waiting": 0, "replayed": 0}
    reopen, replay = streams_mod.StreamScanner._reopen, streams_mod.StreamScanner._replay

    def counted_reopen(scanner: streams_mod.StreamScanner, lives: list[object]) -> None:
        made["waiting"] += len(lives)
        reopen(scanner, lives)  # type: ignore[arg-type]

    def counted_replay(scanner: streams_mod.StreamScanner, lives: list[object]) -> None:
        made["replayed"] += len(lives)
        replay(scanner, lives)  # type: ignore[arg-type]

    monkeypatch.setattr(streams_mod.StreamScanner, "_reopen", counted_reopen)
    monkeypatch.setattr(streams_mod.StreamScanner, "_replay", counted_replay)
    fast = scan_capture(path, with_rtcp=True, with_dtmf=True, fast=True)
    slow = scan_capture(path, with_rtcp=True, with_dtmf=True, fast=False)
    assert len(fast.streams) > 2000
    assert [s.key for s in fast.streams] == [s.key for s in slow.streams]
    for ours, reference in zip(fast.streams, slow.streams, strict=True):
        assert ours.stats == reference.stats
        assert stream_to_dict(ours) == stream_to_dict(reference)
    # Both roads were taken: streams whose rows went on waiting, and (with the low limit)
    # streams that outgrew them.
    assert made["waiting"] > 100
    if wait_limit is not None:
        assert made["replayed"] > 100
