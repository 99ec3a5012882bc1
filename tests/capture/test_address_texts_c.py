"""The C road of the batch road's IPv4 address texts (rtcscope.capture._startline:
``dotted_quads``, ``address_texts``) against their specification, the pure-Python road
(capture/fastscan.py ``_dotted_quads_py``, ``_address_texts_py``): the same texts, the dict
of texts holding the same values, also when it fills up and is emptied; bad arguments give a
typed error; built and active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope._roads import c_wanted
from rtcscope.capture import fastscan
from tests.conftest import IN_CI, c_module, needs_built
from tests.peers import fresh_python

_startline = c_module("rtcscope.capture._startline")

needs_c = needs_built(_startline)

_address = st.integers(0, (1 << 32) - 1) | st.sampled_from(
    [0, 1, 9, 10, 99, 100, 255, 256, 0x0A000001, 0x64646464, 0xFFFFFFFF]
)


@needs_c
@given(st.lists(_address, max_size=40))
@example([0, 0xFFFFFFFF, 0x0A00FF09, 0x09636465])
def test_dotted_quads_are_the_python_roads(values: list[int]) -> None:
    texts = _startline.dotted_quads(values)
    assert texts == fastscan._dotted_quads_py(values)
    assert texts == [str(ipaddress.IPv4Address(value)) for value in values]


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_address, _address), max_size=30),
    st.sets(_address, max_size=10),
    st.integers(1, 12),
)
def test_address_texts_are_the_python_roads(
    pairs: list[tuple[int, int]], known: set[int], limit: int
) -> None:
    """The same texts in order; each dict holds only right texts, at most ``limit`` of them
    plus one batch's worth (both roads empty a full dict, at different points)."""
    addresses = np.array(pairs or np.empty((0, 2)), dtype=np.uint32).reshape(-1, 2)
    start = dict(zip(known, fastscan._dotted_quads_py(list(known)), strict=True))
    by_c, by_python = dict(start), dict(start)
    found = _startline.address_texts(np.ascontiguousarray(addresses), by_c, limit)
    expected = fastscan._address_texts_py(addresses, by_python, limit)
    assert found == expected
    assert [type(text) for text in found[0] + found[1]] == [str] * (2 * len(pairs))
    for texts in (by_c, by_python):
        assert all(text == str(ipaddress.IPv4Address(value)) for value, text in texts.items())
    assert len(by_c) <= max(limit, len(start)) + 1


@needs_c
def test_address_texts_share_the_dicts_texts() -> None:
    texts = {0x0A000001: "10.0.0.1"}
    kept = texts[0x0A000001]
    sources, destinations = _startline.address_texts(
        np.array([[0x0A000001, 0x0A000002]], dtype=np.uint32), texts, 100
    )
    assert sources[0] is kept
    assert destinations[0] is texts[0x0A000002]


@needs_c
def test_bad_arguments_give_a_typed_error() -> None:
    with pytest.raises(TypeError):
        _startline.dotted_quads((1, 2))
    with pytest.raises(TypeError):
        _startline.dotted_quads(["1"])
    with pytest.raises(OverflowError):
        _startline.dotted_quads([-1])
    with pytest.raises(ValueError):
        _startline.dotted_quads([1 << 32])
    with pytest.raises(TypeError):
        _startline.address_texts(np.zeros((1, 2), dtype=np.uint32), [], 10)
    with pytest.raises(ValueError):
        _startline.address_texts(b"\x00" * 12, {}, 10)  # not whole pairs
    with pytest.raises(TypeError):
        _startline.address_texts("text", {}, 10)
    with pytest.raises(ValueError):  # 8-byte items
        _startline.address_texts(np.zeros((1, 2), dtype=np.uint64), {}, 10)
    with pytest.raises(ValueError):  # a strided view is not C-contiguous
        _startline.address_texts(np.zeros((4, 4), dtype=np.uint32)[:, :2], {}, 10)


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _startline is not None
    if c_wanted():
        assert fastscan.ADDRESS_TEXT_ROAD == "c"


def test_rtcscope_pure_selects_the_python_road() -> None:
    built = "c" if _startline is not None else "python"
    probe = "import rtcscope.capture.fastscan as f; print(f.ADDRESS_TEXT_ROAD)"
    assert fresh_python(probe, "1") == "python"
    assert fresh_python(probe, "0") == built
    assert fresh_python(probe, None) == built
