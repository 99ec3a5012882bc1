"""The hand-drawn plots: well-formed SVG whatever the values, every point inside the frame."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from rtcscope.report.plots import HEIGHT, WIDTH, svg_plot

values = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))


@given(
    st.lists(st.tuples(st.floats(0, 1e6, allow_nan=False), values), min_size=1, max_size=50),
    st.booleans(),
)
def test_any_series_gives_a_bounded_svg(
    points: list[tuple[float, float | None]], bars: bool
) -> None:
    points.sort(key=lambda p: p[0])
    svg = svg_plot("max <jitter>", "ms", [p[0] for p in points], [p[1] for p in points], bars=bars)
    root = ET.fromstring(svg)
    assert root.get("width") == str(WIDTH)
    numbers = [float(n) for n in re.findall(r'(?:x|y|cx|cy)="(-?[\d.]+)"', svg)]
    numbers += [
        float(n)
        for pair in re.findall(r'points="([^"]*)"', svg)
        for n in re.split(r"[ ,]", pair)
        if n
    ]
    assert all(math.isfinite(n) and -1 <= n <= max(WIDTH, HEIGHT) + 1 for n in numbers)
    assert "&lt;jitter&gt;" in svg
