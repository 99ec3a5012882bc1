"""The E-model against independent numbers: G.107's published default case, and captures
with controlled loss made here (frames deleted with editcap), rated with this test's own
transcription of G.107 and its own Ppl/BurstR from the frames it dropped."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.quality import (
    CODEC_IMPAIRMENTS,
    EModelInput,
    Scale,
    assess_stream,
    burst_ratio,
    mos_cqe,
    rating,
)
from rtcscope.quality.buffer import simulate_buffers
from rtcscope.report.data import build_stream_data
from rtcscope.scan.files import scan_capture
from tests.conftest import DATA, ROOT
from tests.peers import run, tshark_fields
from tests.test_purity import _violations

CAPTURE = DATA / "SIP_DTMF2.pcap"
SSRC = 0x5711BF84  # 666 packets of PCMA, 0 lost (tshark)


def test_g107_default_case() -> None:
    """G.107 7.7: all defaults and Ie = 0 give R = 93.2, MOS-CQE 4.41 (Annex B)."""
    r = rating(EModelInput())
    assert round(r, 1) == 93.2
    assert round(mos_cqe(r), 2) == 4.41


def test_mos_ends_and_other_scales() -> None:
    assert mos_cqe(-5) == 1.0
    assert mos_cqe(120) == 4.5
    # G.107 Annex B at R = 50: 1 + 1.75 + 50 * -10 * 50 * 7e-6
    assert mos_cqe(50) == pytest.approx(2.575)
    # G.107.1: Ro,WB = 129, Is,WB = 0; only the listener-echo term (about 0.15 at the
    # defaults, as on the narrowband scale) stays; G.107.2 likewise from 148
    assert rating(EModelInput(), Scale.WIDEBAND) == pytest.approx(129.0 - 0.15, abs=0.01)
    assert rating(EModelInput(), Scale.FULLBAND) == pytest.approx(148.0 - 0.15, abs=0.01)
    # Ie,eff has the same ceiling (95) on the wideband scale (G.107.1 eq. 7-15)
    lossy = EModelInput(ie=13, bpl=10, ppl=10)
    assert rating(EModelInput(ie=13), Scale.WIDEBAND) - rating(lossy, Scale.WIDEBAND) == (
        pytest.approx((95 - 13) * 10 / (10 + 10))
    )
    assert mos_cqe(129, Scale.WIDEBAND) == 4.5
    assert mos_cqe(64.5, Scale.WIDEBAND) == pytest.approx(mos_cqe(50))


def _g107_reference(ie: float, bpl: float, ppl: float, burst_r: float, t: float) -> float:
    """This test's own transcription of G.107 (06/2015) clause 7 with Table 3's defaults,
    mean one-way delay T = Ta = t ms and Tr = 2t; returns MOS-CQE (Annex B)."""
    slr, rlr, stmr, lstr, ds, telr, wepl = 8, 2, 15, 18, 3, 65, 110
    nc, nfor, ps, pr, qdu = -70, -64, 35, 35, 1
    olr = slr + rlr
    pre = pr + 10 * math.log10(1 + 10 ** ((10 - lstr) / 10))
    noise = [
        nc,
        ps - slr - ds - 100 + 0.004 * (ps - olr - ds - 14) ** 2,
        rlr - 121 + pre + 0.008 * (pre - 35) ** 2,
        nfor + rlr,
    ]
    no = 10 * math.log10(sum(10 ** (x / 10) for x in noise))
    ro = 15 - 1.5 * (slr + no)
    xolr = olr + 0.2 * (64 + no - rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** 0.125 - xolr / 8)
    stmro = -10 * math.log10(10 ** (-stmr / 10) + math.exp(-t / 4) * 10 ** (-telr / 10))
    ist = (
        12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    q = 37 - 15 * math.log10(qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    iq = 15 * math.log10(1 + 10 ** ((ro - 100) / 15 + 46 / 8.4 - g / 9) + 10 ** (46 / 30 - g / 40))
    is_ = iolr + ist + iq
    roe = -1.5 * (no - rlr)
    terv = telr - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (wepl + 7) * (2 * t + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = 0.0
    if t > 100:
        x = math.log2(t / 100)
        idd = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    ie_eff = ie + (95 - ie) * ppl / (ppl / burst_r + bpl)
    r = ro - is_ - (idte + idle + idd) - ie_eff
    if r < 0:
        return 1.0
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def _drop_pattern(n: int, percent: float, bursty: bool, rng: random.Random) -> list[bool]:
    """Which of ``n`` packets to drop (never the first or last: they fix the expected count).
    Bursty: a Gilbert two-state chain with mean burst 3 packets."""
    if percent == 0:
        return [False] * n
    if not bursty:
        chosen = rng.sample(range(1, n - 1), round(n * percent / 100))
        return [i in set(chosen) for i in range(n)]
    q = 1 / 3  # leave the loss state
    p = q * percent / (100 - percent)
    lost, state = [False] * n, False
    for i in range(1, n - 1):
        state = rng.random() < ((1 - q) if state else p)
        lost[i] = state
    return lost


def _markov_burst_ratio(lost: list[bool]) -> float:
    """BurstR = 1 / (p + q) of the two-state chain estimated from the pattern (G.107 7.4)."""
    found_to_lost = sum(1 for a, b in itertools.pairwise(lost) if not a and b)
    lost_to_found = sum(1 for a, b in itertools.pairwise(lost) if a and not b)
    found = sum(1 for a in lost[:-1] if not a)
    lost_n = sum(1 for a in lost[:-1] if a)
    if not lost_n:
        return 1.0
    return 1 / (found_to_lost / found + lost_to_found / lost_n)


@pytest.mark.peer
@pytest.mark.parametrize("bursty", [False, True], ids=["random", "bursty"])
@pytest.mark.parametrize("percent", [0, 1, 3, 5, 10])
def test_controlled_loss_matches_g107(tmp_path: Path, percent: float, bursty: bool) -> None:
    rows = tshark_fields(CAPTURE, ["frame.number"], f"rtp.ssrc == 0x{SSRC:08x}")
    frames = [int(r[0]) for r in rows]
    assert len(frames) == 666
    rng = random.Random(1000 * percent + bursty)
    lost = _drop_pattern(len(frames), percent, bursty, rng)
    dropped = [str(f) for f, gone in zip(frames, lost, strict=True) if gone]
    out = tmp_path / "lossy.pcap"
    run("editcap", [CAPTURE, out, *dropped])
    ppl = 100 * len(dropped) / len(frames)
    burst_r = _markov_burst_ratio(lost)

    scan = scan_capture(out, with_rtcp=True)
    stream = next(s for s in scan.streams if s.key.ssrc == SSRC)
    data = build_stream_data(out, [stream], scan.rtcp_packets, scan.first_ns or 0)[0]
    quality = data.quality
    assert quality.scale is Scale.NARROWBAND and quality.ie == 0 and quality.bpl == 25.1
    for name, delay in (("network", 0.0), ("fixed-200", 200.0)):
        entry = quality.buffer(name)
        assert entry is not None and entry.mos is not None
        assert entry.outcome.lost == len(dropped)
        expected = _g107_reference(0.0, 25.1, ppl, burst_r, delay)
        assert abs(entry.mos - expected) <= 0.05, (name, entry.as_dict(), expected, burst_r)


def test_burst_ratio_of_simple_patterns() -> None:
    # one burst of 4 in 100 packets: mean burst 4, random loss of 4 % gives 1/0.96
    pattern = np.zeros(100, dtype=bool)
    pattern[10:14] = True
    assert burst_ratio(pattern) == pytest.approx(4 * 0.96)
    # isolated losses are (about) random
    pattern = np.zeros(100, dtype=bool)
    pattern[[10, 30, 50, 70]] = True
    assert burst_ratio(pattern) == pytest.approx(0.96)


def test_fixed_buffer_discards_late_packets() -> None:
    # 20 ms packets; the 5th arrives 120 ms late: a 50 ms buffer drops it, 200 ms keeps it
    arrival = np.arange(10, dtype=np.int64) * 20_000_000
    arrival[4] += 120_000_000
    order = np.argsort(arrival, kind="stable")
    seq = np.arange(100, 110)[order]
    ts = (np.arange(10) * 160)[order]
    outcomes = {o.spec.name: o for o in simulate_buffers(arrival[order], seq, ts, 8000)}
    assert outcomes["network"].late == 0 and outcomes["network"].ppl_percent == 0
    assert outcomes["fixed-50"].late == 1 and outcomes["fixed-50"].ppl_percent == 10
    assert outcomes["fixed-50"].discarded.tolist() == (order == 4).tolist()
    assert outcomes["fixed-200"].late == 0
    assert outcomes["adaptive-500"].late == 1  # it adapts after the fact


def test_quality_modules_are_pure() -> None:
    src = ROOT / "src" / "rtcscope"
    for path in [*sorted((src / "quality").glob("*.py")), src / "rtp" / "series.py"]:
        assert _violations(path) == []


def test_buffers_resync_when_the_timestamps_jump() -> None:
    # 100 packets of 20 ms; from the 50th the sender's timestamps restart 10 s back
    arrival = np.arange(100, dtype=np.int64) * 20_000_000
    ts = np.arange(100, dtype=np.int64) * 160
    ts[50:] -= 80_000
    outcomes = simulate_buffers(arrival, np.arange(100), ts % (1 << 32), 8000)
    assert all(o.late == 0 and o.ppl_percent == 0 for o in outcomes)


@given(
    st.lists(
        st.tuples(st.integers(0, 10**10), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["PCMA", "G729", "GSM", "G722", "opus", None]),
    st.one_of(st.none(), st.floats(0, 2000)),
)
def test_any_packets_give_bounded_ratings(
    packets: list[tuple[int, int, int]], codec: str | None, rtt: float | None
) -> None:
    packets.sort()
    arrival, seq, ts = (np.array(c, dtype=np.int64) for c in zip(*packets, strict=True))
    quality = assess_stream(arrival, seq, ts, 8000, codec, round_trip_ms=rtt)
    for entry in quality.buffers:
        assert 0 <= entry.outcome.ppl_percent <= 100
        assert entry.outcome.burst_ratio > 0
        if entry.mos is None:
            assert entry.not_rated.startswith("not rated")
        else:
            assert 1.0 <= entry.mos <= 4.5


def test_codec_table_cites_its_source_and_refuses_unknown_codecs() -> None:
    for name, values in CODEC_IMPAIRMENTS.items():
        assert values.source.startswith("ITU-T G.113 (11/2007) Appendix"), name
        assert (values.scale is Scale.WIDEBAND) == (name == "G722")
    quality = assess_stream(
        np.array([0, 20_000_000]), np.array([1, 2]), np.array([0, 960]), 48000, "opus"
    )
    assert not quality.rated and quality.scale is None
    assert all("not rated" in b.not_rated for b in quality.buffers)
