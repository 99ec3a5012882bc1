"""summarize_calls' index of announcements by Call-ID in C
(rtcscope.sip._callwalk.index_by_call_id) against its specification
(calls._index_by_call_id_py): the same index (keys, lists and their order) on generated
announcements (other classes read by name, odd Call-IDs) and real captures; built and active
under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import calls as calls_module
from rtcscope.sip.calls import _index_by_call_id_py
from rtcscope.sip.capture import media_announcements
from tests.conftest import DATA, IN_CI, shared_captures
from tests.sip.test_calls_probe_c import refused_alike
from tests.sip.test_calls_walk_c import _callwalk, needs_c, road_of_copy

_Other = namedtuple("_Other", ["call_id", "frame"])  # another class: read by name


def _c_index(announcements: Any) -> Any:
    assert _callwalk is not None
    calls_module._c_sdp_setup(_callwalk)  # (under RTCSCOPE_PURE=1 calls.py did not)
    return _callwalk.index_by_call_id(announcements)


def _index_shape(index: dict[Any, list[Any]]) -> list[tuple[Any, list[int]]]:
    return [(key, [id(a) for a in found]) for key, found in index.items()]


_ANNOUNCEMENTS = [a for a in media_announcements(list(sip_messages(DATA / "SIP_DTMF2.pcap")))]


@needs_c
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_ANNOUNCEMENTS),
            st.builds(_Other, st.sampled_from(["a", "b", None, 3, ("t",)]), st.integers()),
            st.builds(
                lambda a, call_id: a._replace(call_id=call_id),
                st.sampled_from(_ANNOUNCEMENTS),
                st.sampled_from(["a", "b", None]),
            ),
        ),
        max_size=12,
    )
)
def test_c_index_as_the_python_road(announcements: list[Any]) -> None:
    expected = _index_shape(_index_by_call_id_py(announcements))
    assert _index_shape(_c_index(announcements)) == expected
    assert _index_shape(_c_index(iter(announcements))) == expected


@needs_c
def test_c_index_refuses_as_the_python_road() -> None:
    refused_alike(_index_by_call_id_py, _c_index, [[object()], [_Other([], 1)]])


@needs_c
@pytest.mark.parametrize(
    "path", sorted(DATA.glob("*.pcap*")) + shared_captures(), ids=lambda p: p.name
)
def test_c_index_of_real_captures(path: Path) -> None:
    messages = list(sip_messages(path))
    announcements = media_announcements(messages)
    assert _index_shape(_c_index(announcements)) == _index_shape(
        _index_by_call_id_py(announcements)
    )


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert road_of_copy(monkeypatch, calls_module, "1", "INDEX_ROAD") == "python"
    built = "c" if _callwalk is not None else "python"
    assert road_of_copy(monkeypatch, calls_module, None, "INDEX_ROAD") == built


def test_the_c_roads_are_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert calls_module.INDEX_ROAD == "c"
