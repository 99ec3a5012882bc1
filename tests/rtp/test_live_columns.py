"""The stream scanner's streams made together from columns (``start_streams``: a batch of
short calls starts thousands) are the streams ``_Live(source, announcement)`` makes, on
either road of :func:`rtcscope.slotted.objects` (C, or Python under RTCSCOPE_PURE=1)."""

from __future__ import annotations

from typing import Any

from rtcscope.rtp.streams import _Live, _new_lives


def test_made_from_columns_as_one_by_one() -> None:
    announcements: list[Any] = [None, ("an", "announcement"), None]
    made = _new_lives("sdp", announcements)
    assert len(made) == len(announcements)
    for live, announcement in zip(made, announcements, strict=True):
        one = _Live("sdp", announcement)
        for live_or_one in (live, one):
            assert type(live_or_one) is _Live
            assert live_or_one.source == "sdp"
            assert live_or_one.announcement is announcement
            assert live_or_one.summary_of is None
            # the other fields: the class's defaults until set, then the instance's own
            assert live_or_one.stats is None and live_or_one.segments is None
            assert (live_or_one.first_frame, live_or_one.last_seq) == (0, -1)
            live_or_one.first_frame = 7
            live_or_one.summary_of = (1, 2)
            assert (live_or_one.first_frame, live_or_one.summary_of) == (7, (1, 2))
    assert _Live.first_frame == 0
    assert made[1].first_frame == 7 and made[0] is not made[2]


def test_no_stream_made_from_no_columns() -> None:
    assert _new_lives("sdp", []) == []
