"""_sipscan.sdp_announce (the C road of the announcer's template fill) against its
specification, rtcscope.sip.sdp._announce_py: the same announcements (or None: ask the
Python road) on generated SDPs of the announcer's property tests, the same mutated, and
the SDPs of the captures in tests/data and ../shared/captures; a typed error, never a
crash, for templates it was not made for; and MediaAnnouncer.reads (what the one pass
leaves out) against feed."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import sdp
from rtcscope.sip.capture import CapturedSip, MediaAnnouncement, MediaAnnouncer
from tests.conftest import DATA, shared_captures
from tests.sip.test_announce_template import calls

HEAD = (7, 1, "c", "offer", "caller", "INVITE sip:b@x", "1 INVITE", "a", 5060, "b", 5060)


def _sipscan() -> Any:
    module = pytest.importorskip("rtcscope.sip._sipscan")
    if not hasattr(module, "sdp_announce"):
        pytest.skip("the accelerator is not built from this source")
    return module


def _learn(templates: dict[Any, Any], raw: bytes, holes: Any) -> None:
    """The template of raw's text in ``templates`` (as announced_media makes it)."""
    key, values = holes(raw)
    if key not in templates:
        parts = sdp._CHANGING_VALUE.split(raw)
        del parts[2::3]
        templates[key] = sdp._template(parts, values, raw)


def check_both_roads(bodies: list[bytes], limit: int = 1024) -> None:
    """Each body filled by C and by Python from the templates of the bodies before it (the
    first of a text makes it), for a tuple and for MediaAnnouncement."""
    sipscan = _sipscan()
    templates: dict[Any, Any] = {}
    c_addresses: dict[bytes, str] = {}
    py_addresses: dict[bytes, str] = {}
    with mock.patch.object(sdp, "_holes", sipscan.sdp_holes):
        for raw in bodies:
            for make, head in ((tuple, ()), (MediaAnnouncement, HEAD)):
                c = sipscan.sdp_announce(raw, templates, head, make, c_addresses, limit)
                py = sdp._announce_py(raw, templates, head, make, py_addresses, limit)
                assert c == py
                if py is not None:
                    assert [type(a) for a in c] == [make] * len(py)
                    assert [len(a) for a in c] == [len(head) + 21] * len(py)
                assert c_addresses == py_addresses
            _learn(templates, raw, sipscan.sdp_holes)


@settings(max_examples=300, deadline=None)
@given(calls(), st.integers(0, 400), st.binary(max_size=3), st.integers(0, 3), st.integers(1, 3))
def test_generated_and_mutated_sdps_fill_as_the_specification(
    bodies: list[bytes], at: int, inserted: bytes, dropped: int, limit: int
) -> None:
    mutated = [
        raw[: min(at, len(raw))] + inserted + raw[min(at, len(raw)) + dropped :] for raw in bodies
    ]
    check_both_roads(bodies + mutated + bodies, limit)


def test_the_sdps_of_real_captures_fill_as_the_specification() -> None:
    """tests/data and ../shared/captures (when here): opus, G.722, SRTP crypto lines,
    several m= lines."""
    bodies = []
    for path in sorted(DATA.glob("*.pcap")) + shared_captures():
        for captured in sip_messages(path, keep_going=True):
            body = captured.message.sdp_body()
            if body is not None:
                bodies.append(body)
    assert len(bodies) > 20
    check_both_roads(bodies + bodies)


def test_a_template_the_fill_was_not_made_for_is_a_typed_error() -> None:
    sipscan = _sipscan()
    raw = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nm=audio 20000 RTP/AVP 0\r\n"
    key, _ = sipscan.sdp_holes(raw)
    good = (1, 2, 0, "audio", "RTP/AVP", None, -1, False, "sendrecv", False, ())
    bad_templates = [
        "x",
        ("x",),
        (good[:10],),
        ((*good[:6], "x", *good[7:]),),  # an RTCP code that is not an int
        ((*good[:10], "x"),),  # rest not a tuple
        ((9, *good[1:]),),  # an address index out of range
        ((good[0], -1, *good[2:]),),  # a port index out of range
        ((good[0], "1", *good[2:]),),  # a port index that is not an int
        ((good[0], 0, *good[2:]),),  # a "port" that is not digits (the o= value)
        ((good[0], 2**70, *good[2:]),),
    ]
    for template in bad_templates:
        with pytest.raises((TypeError, ValueError, OverflowError)):
            sipscan.sdp_announce(raw, {key: template}, (), tuple, {}, 8)
    for args in [
        (bytearray(raw), {}, (), tuple, {}, 8),
        (raw, [], (), tuple, {}, 8),
        (raw, {}, [], tuple, {}, 8),
        (raw, {}, (), list, {}, 8),
        (raw, {}, (), tuple, [], 8),
        (raw, {}, (), tuple, {}, "8"),
        (raw, {}, (), tuple, {}),
    ]:
        with pytest.raises(TypeError):
            sipscan.sdp_announce(*args)
    assert sipscan.sdp_announce(raw, {key: (good,)}, (), tuple, {}, 8)[0][3:7] == (
        "10.0.0.1", 20000, "10.0.0.1", 20001,
    )  # fmt: skip
    assert sipscan.sdp_announce(raw, {key: None}, (), tuple, {}, 8) is None
    assert sipscan.sdp_announce(raw, {}, (), tuple, {}, 8) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_give_none_without_a_template(raw: bytes) -> None:
    sipscan = _sipscan()
    assert sipscan.sdp_announce(raw, {}, (), tuple, {}, 8) is None


def test_a_message_the_announcer_does_not_read_changes_nothing() -> None:
    """MediaAnnouncer.reads False (no body, not an INVITE): feed gives nothing and keeps no
    state, so leaving it out (as the one pass does) announces the same."""
    for path in sorted(DATA.glob("*.pcap")):
        captured: list[CapturedSip] = list(sip_messages(path))
        everything = MediaAnnouncer()
        read = MediaAnnouncer()
        all_found = [a for item in captured for a in everything.feed(item)]
        read_found = [
            a for item in captured if MediaAnnouncer.reads(item.message) for a in read.feed(item)
        ]
        assert all_found == read_found
        for item in captured:
            if not MediaAnnouncer.reads(item.message):
                state = [set(s) if isinstance(s, set) else dict(s) for s in _state(read)]
                assert read.feed(item) == []
                assert _state(read) == state


def _state(announcer: MediaAnnouncer) -> list[Any]:
    return [
        announcer._offers_in_requests,
        announcer._response_offer_pending,
        announcer._caller_tags,
    ]
