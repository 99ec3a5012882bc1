"""summarize_calls' index of announcements by Call-ID and its look at every group of legs in
C (rtcscope.sip._callwalk.index_by_call_id and summarize_groups) against their
specifications (calls._index_by_call_id_py and _summarize_groups_py): the same index (keys,
lists and their order), the same summaries in the same places and the same declined
places, on generated announcements (other classes read by name, odd Call-IDs), generated
calls (linked legs, calls the C summary declines) and real captures; built and active under
CI=true; RTCSCOPE_PURE=1 selects the Python roads.
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import calls as calls_module
from rtcscope.sip import dialogs as dialogs_module
from rtcscope.sip.calls import _index_by_call_id_py, link_legs
from rtcscope.sip.capture import CapturedSip, media_announcements
from rtcscope.sip.dialogs import find_calls
from tests.conftest import DATA, IN_CI, shared_captures
from tests.sip.test_calls_probe_c import refused_alike
from tests.sip.test_calls_summary_c import _c_summary, _same, generated_calls
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


def _groups_of(messages: list[Any]) -> tuple[list[Any], dict[Any, list[Any]]]:
    dialogs = find_calls(messages)
    return link_legs(dialogs, messages), _index_by_call_id_py(media_announcements(messages))


def _compare_groups(messages: list[Any]) -> int:
    """Both roads on every group of ``messages``: how many calls the C summary took."""
    assert _callwalk is not None
    _c_summary(1, [], [], {})  # (set up: under RTCSCOPE_PURE=1 calls.py did not)
    groups, by_call_id = _groups_of(messages)
    c_names: dict[Any, Any] = {}
    py_names: dict[Any, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calls_module, "_summarize_one", _callwalk.summarize_one)
        expected, expected_declined = calls_module._summarize_groups_py(
            groups, by_call_id, py_names
        )
    got, declined = _callwalk.summarize_groups(groups, by_call_id, c_names)
    assert declined == expected_declined
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert (mine is None) is (theirs is None)
        if mine is not None:
            _same(mine, theirs)
    assert list(c_names.items()) == list(py_names.items())
    return len(got) - len(declined)


@needs_c
@settings(max_examples=100, deadline=None)
@given(st.lists(generated_calls(), min_size=1, max_size=3), st.booleans())
def test_c_groups_as_the_python_road(calls: list[list[CapturedSip]], linked: bool) -> None:
    """Generated calls, their Call-IDs made distinct, or linked into one call by X-Call-ID
    (a group of two legs: declined)."""
    messages: list[Any] = []
    for n, call in enumerate(calls):
        for captured in call:
            raw = captured.message.raw.replace(b"call-1@example.com", f"call-{n}@x".encode())
            if linked and n == 1:
                raw = raw.replace(b"\r\n\r\n", b"\r\nX-Call-ID: call-0@x\r\n\r\n", 1)
            message = type(captured.message).parse(raw)
            frame = len(messages) + 1
            messages.append(dataclasses.replace(captured, frame=frame, message=message))
    groups, _ = _groups_of(messages)
    assert len(groups) == len(calls) - (1 if linked and len(calls) > 1 else 0)
    _compare_groups(messages)


@needs_c
@pytest.mark.parametrize(
    "path", sorted(DATA.glob("*.pcap*")) + shared_captures(), ids=lambda p: p.name
)
def test_c_groups_of_real_captures(path: Path) -> None:
    messages = list(sip_messages(path))
    _compare_groups(messages)
    announcements = media_announcements(messages)
    assert _index_shape(_c_index(announcements)) == _index_shape(
        _index_by_call_id_py(announcements)
    )


@needs_c
def test_c_groups_refuse_what_they_do_not_read() -> None:
    assert _callwalk is not None
    with pytest.raises(TypeError):
        _callwalk.summarize_groups((), {}, {})
    with pytest.raises(TypeError):
        _callwalk.summarize_groups([], [], {})
    # A group that is not a list of one leg is declined, in its place.
    assert _callwalk.summarize_groups([(), []], {}, {}) == ([None, None], [0, 1])


@pytest.mark.parametrize("road", ["INDEX_ROAD", "GROUPS_ROAD"])
def test_rtcscope_pure_selects_the_python_roads(monkeypatch: pytest.MonkeyPatch, road: str) -> None:
    assert road_of_copy(monkeypatch, calls_module, "1", road) == "python"
    built = "c" if _callwalk is not None else "python"
    if road == "GROUPS_ROAD" and dialogs_module.CALLS_ROAD != "c":
        built = "python"  # (the copy's C summary asks the real dialogs module's road)
    assert road_of_copy(monkeypatch, calls_module, None, road) == built


def test_the_c_roads_are_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert calls_module.INDEX_ROAD == "c"
    assert calls_module.GROUPS_ROAD == "c"
