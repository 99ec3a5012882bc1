"""The E-model: ITU-T G.107 (narrowband), G.107.1 (wideband) and G.107.2 (fullband).

Pure functions of the model's inputs. The narrowband model is G.107 (06/2015) clause 7
transcribed term by term (Ro, Is = Iolr + Ist + Iq, Id = Idte + Idle + Idd, Ie,eff), with the
default values of its Table 3; with every default and Ie = 0 it gives R = 93.2 and
MOS-CQE 4.41 (G.107 7.7 and Annex B).

The wideband model is G.107.1 (06/2019) on its own scale, R up to 129: Ro,WB = 129
(eq. 7-2), Is,WB = 0 (eq. 7-3), Idd scaled by 1.29 (eq. 7-13), listener echo Idle with
Ro,WB in G.107's formula, and Ie,eff,WB = Ie,WB + (95 - Ie,WB) Ppl / (Ppl/BurstR + Bpl,WB)
(eq. 7-15 is this with BurstR = 1; the burst ratio is applied as in G.107). Talker echo uses
G.107's Idte: G.107.1's wideband TERV correction is not transcribed here, which matters only
when a one-way delay is known (RTCP) or a buffer adds one. MOS-CQE from a WB rating is
G.107.1 Annex A: G.107's Annex B polynomial at R/1.29. The fullband model (G.107.2) is
built the same way on its scale (R up to 148, factor 1.48); no fullband codec has published
planning values here, so it rates nothing yet. R values of different scales are never
compared or averaged: every rating carries its :class:`Scale`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Scale(StrEnum):
    """Which E-model a rating is on (and so the largest R it can have)."""

    NARROWBAND = "G.107"
    WIDEBAND = "G.107.1"
    FULLBAND = "G.107.2"


R_MAX: dict[Scale, float] = {Scale.NARROWBAND: 100.0, Scale.WIDEBAND: 129.0, Scale.FULLBAND: 148.0}
# G.107.1 / G.107.2 Annex A: a WB or FB rating divided by this is on G.107's scale for MOS.
_EXPANSION: dict[Scale, float] = {
    Scale.NARROWBAND: 1.0,
    Scale.WIDEBAND: 1.29,
    Scale.FULLBAND: 1.48,
}
# Ie,eff's ceiling: 95 in G.107 eq. 7-29 and in G.107.1 eq. 7-15 alike.
_IE_CEILING = 95.0


@dataclass(frozen=True, slots=True)
class EModelInput:
    """G.107 Table 3's parameters, defaults as there (dB, ms, percent)."""

    slr: float = 8.0  # send loudness rating
    rlr: float = 2.0  # receive loudness rating
    stmr: float = 15.0  # sidetone masking rating
    lstr: float = 18.0  # listener sidetone rating
    ds: float = 3.0  # D-value of telephone, send side
    dr: float = 3.0  # D-value of telephone, receive side
    telr: float = 65.0  # talker echo loudness rating
    wepl: float = 110.0  # weighted echo path loss
    t_ms: float = 0.0  # mean one-way delay of the echo path
    tr_ms: float = 0.0  # round-trip delay in a 4-wire loop
    ta_ms: float = 0.0  # absolute (mouth-to-ear) delay
    qdu: float = 1.0  # quantizing distortion units
    ie: float = 0.0  # equipment impairment factor
    bpl: float = 1.0  # packet-loss robustness factor
    ppl: float = 0.0  # random packet-loss probability, percent
    burst_r: float = 1.0  # burst ratio
    nc: float = -70.0  # circuit noise referred to the 0 dBr point (dBm0p)
    nfor: float = -64.0  # noise floor at the receive side (dBmp)
    ps: float = 35.0  # room noise at the send side (dB(A))
    pr: float = 35.0  # room noise at the receive side (dB(A))
    a: float = 0.0  # advantage factor
    mt_ms: float = 100.0  # Idd: the delay below which there is no impairment
    st: float = 1.0  # Idd: sensitivity


def _log10(x: float) -> float:
    return math.log10(x)


def _noise_no(p: EModelInput) -> float:
    """G.107 7.2: the total noise No (dBm0p) from circuit, room and noise-floor terms."""
    olr = p.slr + p.rlr
    nos = p.ps - p.slr - p.ds - 100 + 0.004 * (p.ps - olr - p.ds - 14) ** 2
    pre = p.pr + 10 * _log10(1 + 10 ** ((10 - p.lstr) / 10))
    nor = p.rlr - 121 + pre + 0.008 * (pre - 35) ** 2
    nfo = p.nfor + p.rlr
    return 10 * _log10(10 ** (p.nc / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** (nfo / 10))


def basic_ro(p: EModelInput) -> float:
    """G.107 7.2: Ro = 15 - 1.5 (SLR + No)."""
    return 15 - 1.5 * (p.slr + _noise_no(p))


def _ist(p: EModelInput) -> float:
    stmro = -10 * _log10(10 ** (-p.stmr / 10) + math.exp(-p.t_ms / 4) * 10 ** (-p.telr / 10))
    return float(
        12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )


def simultaneous_is(p: EModelInput) -> float:
    """G.107 7.3: Is = Iolr + Ist + Iq."""
    no = _noise_no(p)
    ro = 15 - 1.5 * (p.slr + no)
    olr = p.slr + p.rlr
    xolr = olr + 0.2 * (64 + no - p.rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    q = 37 - 15 * _log10(p.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q**2
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * _log10(1 + 10**y + 10**z)
    return float(iolr + _ist(p) + iq)


def delay_idd(p: EModelInput) -> float:
    """G.107 7.4: the impairment of absolute delay Ta (zero up to mT)."""
    if p.ta_ms <= p.mt_ms:
        return 0.0
    x = _log10(p.ta_ms / p.mt_ms) / _log10(2)
    e = 6 * p.st
    return float(25 * ((1 + x**e) ** (1 / e) - 3 * (1 + (x / 3) ** e) ** (1 / e) + 2))


def echo_impairments(p: EModelInput, ro: float | None = None) -> tuple[float, float]:
    """G.107 7.4: (Idte, Idle), talker and listener echo. ``ro`` is the basic ratio Idle is
    measured against (G.107's Ro by default; Ro,WB or Ro,FB on the other scales)."""
    no = _noise_no(p)
    if ro is None:
        ro = 15 - 1.5 * (p.slr + no)
    roe = -1.5 * (no - p.rlr)
    t = p.t_ms
    terv = p.telr - 40 * _log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t**2)
    if p.stmr < 9:  # G.107 7.4: low sidetone masks echo less
        terv += _ist(p) / 2
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (p.wepl + 7) * (p.tr_ms + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    return float(idte), float(idle)


def delay_id(p: EModelInput) -> float:
    """G.107 7.4: Id = Idte (talker echo) + Idle (listener echo) + Idd (absolute delay)."""
    idte, idle = echo_impairments(p)
    return idte + idle + delay_idd(p)


def effective_ie(ie: float, bpl: float, ppl: float, burst_r: float, scale: Scale) -> float:
    """G.107 eq. 7-29 (G.107.1 eq. 7-15): Ie,eff = Ie + (95 - Ie) Ppl / (Ppl/BurstR + Bpl).

    ``ppl`` in percent; BurstR = 1 is random loss, above 1 bursty. The same on every scale
    (``scale`` is kept so callers say which Ie they pass)."""
    if ppl <= 0:
        return ie
    return ie + (_IE_CEILING - ie) * ppl / (ppl / burst_r + bpl)


def rating(p: EModelInput, scale: Scale = Scale.NARROWBAND) -> float:
    """R on ``scale``: R = Ro - Is - Id - Ie,eff + A (see the module docstring for WB/FB)."""
    ie_eff = effective_ie(p.ie, p.bpl, p.ppl, p.burst_r, scale)
    if scale is Scale.NARROWBAND:
        r = basic_ro(p) - simultaneous_is(p) - delay_id(p) - ie_eff + p.a
    else:
        ro = R_MAX[scale]  # Ro,WB = 129 (G.107.1 eq. 7-2), Is,WB = 0 (eq. 7-3)
        idte, idle = echo_impairments(p, ro)
        idd = _EXPANSION[scale] * delay_idd(p)  # G.107.1 eq. 7-13
        r = ro - (idte + idle + idd) - ie_eff + p.a
    return min(r, R_MAX[scale])


def mos_cqe(r: float, scale: Scale = Scale.NARROWBAND) -> float:
    """G.107 Annex B: MOS-CQE from R (a WB/FB R is first brought to G.107's scale)."""
    r = r / _EXPANSION[scale]
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    # the cubic dips just under 1 for R below about 6.5: MOS-CQE has no value under 1
    return max(1.0, 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6)
