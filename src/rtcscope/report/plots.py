"""Small SVG plots drawn by hand (a few kB each, no library, no script): a value over time as
a line or as bars, with its axis range written out."""

from __future__ import annotations

import html
from collections.abc import Sequence

WIDTH = 560
HEIGHT = 130
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 10, 18, 22


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def svg_plot(
    title: str,
    unit: str,
    times_s: Sequence[float],
    values: Sequence[float | None],
    *,
    bars: bool = False,
    colour: str = "#1f5fa8",
) -> str:
    """An inline ``<svg>``: ``values`` (None: no value there) against ``times_s``."""
    points = [(t, v) for t, v in zip(times_s, values, strict=True) if v is not None]
    label = html.escape(f"{title} ({unit})")
    out = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{_LEFT}" y="12" font-size="11" font-weight="bold">{label}</text>',
    ]
    x0, x1 = _LEFT, WIDTH - _RIGHT
    y0, y1 = HEIGHT - _BOTTOM, _TOP
    out.append(f'<path d="M{x0},{y1} V{y0} H{x1}" fill="none" stroke="#888" stroke-width="1"/>')
    if not points:
        out.append(
            f'<text x="{(x0 + x1) // 2}" y="{(y0 + y1) // 2}" text-anchor="middle" '
            'font-size="11" fill="#777">no values</text></svg>'
        )
        return "".join(out)
    t_lo = min(times_s)
    t_hi = max(times_s)
    if t_hi <= t_lo:
        t_hi = t_lo + 1  # one instant (t_lo + 1e-9 is t_lo itself for large times)
    v_lo = min(0.0, min(v for _, v in points))  # the axis always shows zero
    v_hi = max(0.0, max(v for _, v in points))
    if v_hi <= v_lo:
        v_hi = v_lo + 1  # a flat series (no loss at all) still gets a readable axis

    def x(t: float) -> float:
        return x0 + (t - t_lo) / (t_hi - t_lo) * (x1 - x0)

    def y(v: float) -> float:
        return y0 - (v - v_lo) / (v_hi - v_lo) * (y0 - y1)

    if bars:
        width = max(1.0, (x1 - x0) / max(len(times_s), 1) - 1)
        for t, v in points:
            if v:
                top, base = sorted((y(v), y(0)))
                out.append(
                    f'<rect x="{x(t):.1f}" y="{top:.1f}" width="{width:.1f}" '
                    f'height="{max(base - top, 0.5):.1f}" fill="{colour}"/>'
                )
    else:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        if len(points) < 3:  # a line needs two points to show: mark each one
            out += [
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
                for t, v in points
            ]
    out += [
        f'<text x="{x0 - 4}" y="{y1 + 4}" text-anchor="end" font-size="10">{_fmt(v_hi)}</text>',
        f'<text x="{x0 - 4}" y="{y0}" text-anchor="end" font-size="10">{_fmt(v_lo)}</text>',
        f'<text x="{x0}" y="{HEIGHT - 6}" font-size="10">{t_lo:.1f} s</text>',
        f'<text x="{x1}" y="{HEIGHT - 6}" text-anchor="end" font-size="10">{t_hi:.1f} s</text>',
        "</svg>",
    ]
    return "".join(out)
