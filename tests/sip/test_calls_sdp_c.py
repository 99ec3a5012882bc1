"""A call's SDP list in C (rtcscope.sip._callwalk.sdp_exchanges) against its specification,
the pure-Python road (calls._sdp_exchanges_py): the same exchanges (values, types, order),
the same endpoints (order too) and the codec names kept the same way, on generated
announcements (proxies' copies, shared and distinct codec maps, unnamed payload types, no
address or port, values of other types, other classes read by name) and on real captures;
built and active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import calls as calls_module
from rtcscope.sip.calls import _sdp_exchanges_py
from rtcscope.sip.capture import MediaAnnouncement, media_announcements
from rtcscope.sip.sdp import STATIC_PAYLOAD_TYPES, Codec
from tests.conftest import DATA, IN_CI
from tests.sip.test_calls_walk_c import _callwalk, needs_c, road_of_copy


def _c_exchanges(announcements: Any, names: dict[Any, Any]) -> Any:
    assert _callwalk is not None
    # (set up as calls.py sets it up: under RTCSCOPE_PURE=1 it did not.)
    calls_module._c_sdp_setup(_callwalk)
    return _callwalk.sdp_exchanges(announcements, names)


# Codec maps shared between announcements (as the SDPs of one template share theirs) and
# distinct ones with the same content.
_MAPS = [
    STATIC_PAYLOAD_TYPES,
    {8: Codec("PCMA", 8000), 101: Codec("telephone-event", 8000)},
    {8: Codec("PCMA", 8000), 101: Codec("telephone-event", 8000)},
    {},
]


@dataclass(slots=True)
class _OddAnnouncement:
    """Not a MediaAnnouncement (read by name)."""

    frame: Any
    ts_ns: Any
    side: Any
    role: Any
    sip_summary: Any
    cseq: Any
    media_index: Any
    media: Any
    address: Any
    port: Any
    direction: Any
    on_hold: Any
    codecs: Any
    payload_types: Any


@st.composite
def _announcement(draw: st.DrawFn) -> Any:
    values = {
        "frame": draw(st.integers(0, 9)),
        "ts_ns": draw(st.sampled_from([0, 5, 10**9, -1, 2**70])),
        "side": draw(st.sampled_from(["offer", "answer"])),
        "role": draw(st.sampled_from(["caller", "callee"])),
        "sip_summary": draw(st.sampled_from(["INVITE sip:b@x", "200 OK"])),
        "cseq": draw(st.sampled_from(["1 INVITE", "2 INVITE", None])),
        "media_index": draw(st.integers(0, 2)),
        "media": draw(st.sampled_from(["audio", "video"])),
        "address": draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "", None, "\u00e4"])),
        "port": draw(st.sampled_from([0, 4000, 4002, True])),
        "direction": draw(st.sampled_from(["sendrecv", "sendonly"])),
        "on_hold": draw(st.booleans()),
        "codecs": draw(st.sampled_from(_MAPS)),
        "payload_types": tuple(draw(st.lists(st.sampled_from([0, 8, 18, 101, 96]), max_size=3))),
    }
    if draw(st.integers(0, 5)) == 0:
        return _OddAnnouncement(**values)
    return MediaAnnouncement(
        **values,
        call_id="c",
        sip_src="10.0.0.1",
        sip_sport=5060,
        sip_dst="10.0.0.2",
        sip_dport=5060,
        proto="RTP/AVP",
        rtcp_address=None,
        rtcp_port=None,
        rtcp_mux=False,
        crypto=(),
        fingerprints=(),
        setup=None,
        ssrcs=(),
        mid=None,
    )


def _same(announcements: list[Any], py_names: dict[Any, Any], c_names: dict[Any, Any]) -> None:
    expected = _sdp_exchanges_py(announcements, py_names)
    got = _c_exchanges(announcements, c_names)
    assert type(got) is tuple and len(got) == 2
    assert got[0] == expected[0]
    assert [type(x) for x in got[0]] == [type(x) for x in expected[0]]
    assert list(got[1].items()) == list(expected[1].items())
    assert list(c_names.items()) == list(py_names.items())


@needs_c
@given(st.lists(_announcement(), max_size=8), st.integers(0, 3))
def test_c_exchanges_as_the_python_road(announcements: list[Any], copies: int) -> None:
    # Proxies' copies: the same announcements seen again.
    announcements = announcements + announcements[: copies * 2]
    _same(announcements, {}, {})


@needs_c
@given(st.lists(st.lists(_announcement(), max_size=4), max_size=4))
def test_c_exchanges_keep_names_between_calls(calls: list[list[Any]]) -> None:
    """``names`` is kept across a capture's calls: both roads read and fill it alike."""
    py_names: dict[Any, Any] = {}
    c_names: dict[Any, Any] = {}
    for announcements in calls:
        _same(announcements, py_names, c_names)


@needs_c
def test_c_exchanges_errors() -> None:
    assert _callwalk is not None
    calls_module._c_sdp_setup(_callwalk)
    with pytest.raises(AttributeError):
        _callwalk.sdp_exchanges([object()], {})
    with pytest.raises(AttributeError):
        _sdp_exchanges_py([object()], {})  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _callwalk.sdp_exchanges(5, {})
    with pytest.raises(TypeError):
        _callwalk.sdp_exchanges([], [])
    with pytest.raises(TypeError):
        _callwalk.setup_sdp(MediaAnnouncement, tuple, ("frame",), print)
    with pytest.raises(TypeError):
        _callwalk.setup_sdp(MediaAnnouncement, tuple, 5)
    # A class that lacks only the last field read (payload_types), its other fields in
    # another order: refused, and the setup before it is kept as it was.
    fields = [f for f in MediaAnnouncement._fields if f != "payload_types"][::-1]
    with pytest.raises(TypeError):
        _callwalk.setup_sdp(namedtuple("Partial", fields), tuple, print)
    values: dict[str, Any] = dict.fromkeys(MediaAnnouncement._fields)
    values.update(frame=1, ts_ns=5, side="offer", role="caller", sip_summary="INVITE sip:b@x")
    values.update(media_index=0, media="audio", address="10.0.0.1", port=4000)
    values.update(direction="sendrecv", on_hold=False, codecs=_MAPS[1], payload_types=(8, 101))
    values.update(crypto=(), fingerprints=(), ssrcs=(), rtcp_mux=False)
    announcement = MediaAnnouncement(**values)
    assert _callwalk.sdp_exchanges([announcement], {}) == _sdp_exchanges_py([announcement], {})


@needs_c
@pytest.mark.parametrize("capture", sorted(DATA.glob("*.pcap*")), ids=lambda p: p.name)
def test_c_exchanges_on_real_captures(capture: Path) -> None:
    announcements = media_announcements(list(sip_messages(capture)))
    by_call: dict[Any, list[Any]] = {}
    for ann in announcements:
        by_call.setdefault(ann.call_id, []).append(ann)
    py_names: dict[Any, Any] = {}
    c_names: dict[Any, Any] = {}
    for anns in by_call.values():
        _same(anns, py_names, c_names)


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert road_of_copy(monkeypatch, calls_module, "1", "SDP_ROAD") == "python"
    built = "c" if _callwalk is not None else "python"
    assert road_of_copy(monkeypatch, calls_module, None, "SDP_ROAD") == built


def test_the_c_sdp_road_is_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert calls_module.SDP_ROAD == "c"
