"""IPv4 address texts of the batch road (capture/fastscan.py ``ipv4_text_map``)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.fastscan import ipv4_text_map


@given(st.sets(st.integers(0, (1 << 32) - 1), max_size=50))
def test_texts_are_dotted_quads(values: set[int]) -> None:
    """Each number's text is its dotted quad, as the ipaddress module writes it."""
    texts = ipv4_text_map(values | {0, (1 << 32) - 1})
    for value in values | {0, (1 << 32) - 1}:
        assert texts[value] == str(ipaddress.IPv4Address(value))
