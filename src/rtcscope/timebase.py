"""One time base for every command: seconds from the capture's first packet (what tshark's
``frame.time_relative`` counts), with the absolute time beside it where a person compares
with logs.

Absolute times are ISO 8601 in UTC with the offset written out and microseconds (the pcap
precision most captures have): ``2024-03-01T10:00:00.123456+00:00``. A pcap holds UTC
seconds; the capturing host's zone is not recorded (pcapng's ``if_tzone`` is unused in
practice), so UTC is the honest choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from operator import attrgetter
from typing import Any, Protocol

from rtcscope._roads import c_wanted

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The date and time of day of each second seen lately with the dot before the fraction,
# "2024-03-01T10:00:00.": a capture's times fall in few distinct seconds, and a datetime per
# timestamp is most of the cost of a call list's JSON. Bounded: cleared when full.
_SECONDS: dict[int, str] = {}
_SECONDS_LIMIT = 65_536


def _second_text(second: int) -> str:
    """ "2024-03-01T10:00:00." for ``second`` (seconds since 1970), kept in _SECONDS."""
    if len(_SECONDS) >= _SECONDS_LIMIT:
        _SECONDS.clear()
    text = _SECONDS[second] = (_EPOCH + timedelta(seconds=second)).isoformat()[:19] + "."
    return text


# Three digits of a fraction, and the last three with the offset: the six digits of the
# microseconds are two list reads, not a format.
_DIGITS = [str(1000 + n)[1:] for n in range(1000)]
_DIGITS_UTC = [digits + "+00:00" for digits in _DIGITS]


def iso_time(ts_ns: int | None) -> str | None:
    """``ts_ns`` (nanoseconds since 1970, UTC) as ISO 8601 with offset; None stays None.
    Integer arithmetic: no float rounding moves a time across a microsecond."""
    if ts_ns is None:
        return None
    second = ts_ns // 1_000_000_000
    text = _SECONDS.get(second) or _second_text(second)
    micro = ts_ns // 1000 % 1_000_000
    return text + _DIGITS[micro // 1000] + _DIGITS_UTC[micro % 1000]


# Below 2**53 ns (104 days) an integer converts to a float exactly.
_EXACT_NS = 1 << 53


def relative_s(ts_ns: int | None, first_ns: int) -> float | None:
    """Seconds from ``first_ns`` (the capture's first packet), to the microsecond."""
    if ts_ns is None:
        return None
    delta = ts_ns - first_ns
    if delta % 1000 == 0 and -_EXACT_NS < delta < _EXACT_NS:
        # Whole microseconds (what a pcap holds): the quotient is the float nearest to
        # delta/10^9, already what rounding to 6 decimals gives (its error, half a unit in
        # the last place, is far below half a microsecond), without round()'s decimal
        # conversion.
        return delta / 1e9
    return round(delta / 1e9, 6)


Instant = tuple[float | None, str | None]
_NO_INSTANT: Instant = (None, None)


def instants_py(stamps: Iterable[int | None], first_ns: int) -> dict[int | None, Instant]:
    """Each distinct stamp of ``stamps`` with its (:func:`relative_s`, :func:`iso_time`),
    converted once: a call's instants recur (its INVITE's time is its offer's, its 2xx's its
    answer's). None maps to (None, None). The pure-Python road of :func:`instants`."""
    out: dict[int | None, Instant] = {None: _NO_INSTANT}
    seconds = _SECONDS
    for ts in stamps:
        if ts in out:
            continue
        assert ts is not None  # (None is in out)
        # relative_s and iso_time, their steps here: no two calls per instant.
        delta = ts - first_ns
        if delta % 1000 == 0 and -_EXACT_NS < delta < _EXACT_NS:
            relative = delta / 1e9
        else:
            relative = round(delta / 1e9, 6)
        second = ts // 1_000_000_000
        micro = ts // 1000 % 1_000_000
        text = seconds.get(second) or _second_text(second)
        out[ts] = (relative, text + _DIGITS[micro // 1000] + _DIGITS_UTC[micro % 1000])
    return out


def _instant(ts: int, first_ns: int) -> Instant:
    """One stamp's pair as :func:`instants_py` makes it (the C road's fallback)."""
    return instants_py((ts,), first_ns)[ts]


def _instants_road() -> Callable[[Sequence[int | None], int], dict[int | None, Instant]]:
    """:func:`instants_py`, or the same dict made in C (rtcscope._timetext, where it was
    built) unless RTCSCOPE_PURE is set. The C road converts the common stamps (whole
    microseconds from the first, 1970 to 2262) itself and hands any other to
    :func:`_instant`."""
    if c_wanted():
        try:
            from rtcscope._timetext import instants as instants_c
        except ImportError:  # no compiler or no Python headers where it was installed
            pass
        else:
            # (a partial: no Python frame between a caller and the C loop)
            return partial(instants_c, _instant, _NO_INSTANT)
    return instants_py


# Which road :func:`instants` takes: "c" or "python" (see _instants_road).
instants = _instants_road()
ROAD = "python" if instants is instants_py else "c"


class _Timed(Protocol):
    @property
    def start_ns(self) -> int: ...

    @property
    def end_ns(self) -> int: ...


class _TimedStream(_Timed, Protocol):
    @property
    def dtmf(self) -> Sequence[_Timed]: ...


_SPAN = attrgetter("start_ns", "end_ns")


def with_streams_iso(
    rows: list[dict[str, Any]], streams: Sequence[_TimedStream]
) -> list[dict[str, Any]]:
    """``rows`` (a stream's JSON row each, ``stream_to_dict``, in the order of ``streams``)
    with absolute times beside the relative ones (``streams``, ``analyze``): each stream's
    start and end, each DTMF digit's start and end; all of them converted in one step
    (:func:`instants`, from the earliest: its C road takes stamps that close to it)."""
    stamps = list(chain.from_iterable(map(_SPAN, streams)))
    for stream in streams:
        if stream.dtmf:
            stamps += chain.from_iterable(map(_SPAN, stream.dtmf))
    at = instants(stamps, min(stamps)) if stamps else {}
    for row, stream in zip(rows, streams, strict=True):
        row["start_iso"] = at[stream.start_ns][1]
        row["end_iso"] = at[stream.end_ns][1]
        if stream.dtmf:
            for entry, digit in zip(row.get("dtmf", []), stream.dtmf, strict=True):
                entry["start_iso"] = at[digit.start_ns][1]
                entry["end_iso"] = at[digit.end_ns][1]
    return rows
