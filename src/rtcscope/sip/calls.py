"""Calls as a person asks about them: who called whom, when it rang, was answered and ended.

Built on :mod:`rtcscope.sip.dialogs` (messages grouped by Call-ID, transactions, dialogs):

- *legs*: Call-ID groups that belong to one call are linked when a B2BUA says so, by an
  ``X-Call-ID`` header naming the other leg's Call-ID, or by a shared ``icid-value`` in
  ``P-Charging-Vector`` (RFC 7315 4.6, the IMS charging identifier every leg carries);
- per call: From and To of the first INVITE, start (first message), ring (first 180-199 to
  the initial INVITE), answer (first 2xx to it, RFC 3261 13.2.2.4), end (first BYE, or the
  final response of a call that was never answered), duration (answer to end), the final
  response of the caller's last INVITE transaction (after an auth challenge the second
  INVITE is the one that counts, 22.2), who sent BYE (the caller's From tag or the callee's,
  15.1.1), and a state (:class:`CallState`);
- the SDP offer/answer (:func:`rtcscope.sip.capture.media_announcements`), the RTP streams
  the call set up (found by the one-pass scan, :mod:`rtcscope.scan`; by Call-ID or by the
  announced address and port) and DTMF sent in SIP INFO (``application/dtmf-relay``,
  ``application/dtmf``).

:class:`WiresharkSipTracker` computes per message what Wireshark's SIP dissector computes
(``sip.resend`` and the setup time of an ACK) and :class:`SipStatistics` what
``tshark -z sip,stat`` prints, so that both can be checked against tshark on the same file.

Pure: a capture is read for it by the one-pass scan (``rtcscope.scan``: ``CaptureModel.calls``).
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, fields
from enum import StrEnum
from functools import partial
from operator import attrgetter, itemgetter, lt
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_wanted
from rtcscope.jsontext import dumps
from rtcscope.lazyjson import LazyJsonList
from rtcscope.sip.dialogs import Call, find_calls
from rtcscope.sip.transactions import (
    CapturedMessage,
    Transaction,
    c_accelerator,
    destination,
    endpoint,
    source,
)
from rtcscope.timebase import Instant, instants, relative_s

if TYPE_CHECKING:
    from rtcscope.capture.packet import IcmpError
    from rtcscope.quality import StreamQuality
    from rtcscope.rtp.streams import RtpStream, StreamKey
    from rtcscope.sip.capture import CapturedSip, MediaAnnouncement
    from rtcscope.sip.ladder import Ladder
    from rtcscope.sip.nodes import NodeMap
    from rtcscope.sip.sdp import Codec

PathLike = str | os.PathLike[str] | BinaryIO


# -- what Wireshark computes per message -----------------------------------------------------

# The response codes Wireshark's SIP statistics know by name (its sip_response_code_vals);
# any other code in 100-699 is counted under its class's "others" row (x99).
_WIRESHARK_KNOWN_CODES = frozenset(
    {100, 180, 181, 182, 183, 199, 200, 202, 204, 299, 300, 301, 302, 305, 380, 399}
    | {400, 401, 402, 403, 404, 405, 406, 407, 408, 410, 412, 413, 414, 415, 416, 420, 421}
    | {422, 423, 428, 429, 430, 433, 436, 437, 438, 439, 440, 470, 480, 481, 482, 483, 484}
    | {485, 486, 487, 488, 489, 491, 493, 494, 499}
    | {500, 501, 502, 503, 504, 505, 513, 599, 600, 603, 604, 606, 607, 608, 699}
)


def wireshark_status_row(code: int) -> int | None:
    """The row of ``-z sip,stat`` a status code is counted in (None: not counted)."""
    if code in _WIRESHARK_KNOWN_CODES:
        return code
    if code < 100 or code >= 700:
        return None
    return code // 100 * 100 + 99


class MessageMarks(NamedTuple):
    """What the tracker says about one message. A named tuple: immutable, built at tuple
    cost (one per ACK and per retransmission)."""

    resent_of: int  # frame of the message this one repeats, 0 if it is not a retransmission
    setup_ms: int | None  # for an ACK: ms since the INVITE it completes (Wireshark's rule)


NO_MARKS = MessageMarks(0, None)  # what most messages get (one shared value, not one each)

# What the tracker keeps per direction, in a list (read and written by index, per message):
# the CSeq number and method, the state, the last final response's code, the frame the next
# copy would repeat and when the last new request was sent.
_CSEQ, _METHOD, _STATE, _CODE, _FRAME_AT, _REQUEST_NS = range(6)
_NOTHING, _REQUEST, _PROVISIONAL, _FINAL = range(4)  # the states


def track_messages(
    messages: Iterable[CapturedMessage], state: dict[tuple[str, str, int, str, int], list[Any]]
) -> dict[int, MessageMarks]:
    """The marks (other than NO_MARKS) of ``messages``, by frame, the way Wireshark's SIP
    dissector finds them (see :class:`WiresharkSipTracker`); ``state`` is the tracker's, per
    (Call-ID, source address and port, destination address and port), kept between calls."""
    return _walk(messages, state).marks


class _Walked(NamedTuple):
    """What one look at each of a call's messages finds (:func:`_walk`)."""

    marks: dict[int, MessageMarks]  # the tracker's marks other than NO_MARKS, by frame
    resent: int  # how many of them mark a retransmission
    methods: Counter[str]  # request methods counted, in order of first sight
    statuses: Counter[int]  # response codes counted, in order of first sight
    bye: CapturedMessage | None  # the first BYE
    cancelled: bool  # a CANCEL was seen
    responded: bool  # a response was seen
    acks: list[CapturedMessage]  # every ACK
    infos: list[CapturedMessage]  # every INFO with a CSeq
    in_order: bool  # the times only rise, no two equal


def _walk_py(
    messages: Iterable[CapturedMessage], state: dict[tuple[str, str, int, str, int], list[Any]]
) -> _Walked:
    """One loop over ``messages`` (in the order given) for the tracker's marks (``state``
    per Call-ID and direction, kept between calls) and what a call's summary counts or
    looks for in them: each message's fields are read once. It runs once per message of a
    capture."""
    found: dict[int, MessageMarks] = {}
    # Counted with get into Counters made without __init__ (a Counter's first count of a
    # key calls its __missing__; its __init__ is a Python-level update).
    methods: Counter[str] = dict.__new__(Counter)
    statuses: Counter[int] = dict.__new__(Counter)
    bye: CapturedMessage | None = None
    cancelled = responded = False
    acks: list[CapturedMessage] = []
    infos: list[CapturedMessage] = []
    resent = 0
    in_order = True
    previous_ns = -1
    for captured in messages:
        message = captured.message
        ts_ns = captured.ts_ns
        if ts_ns <= previous_ns:
            in_order = False
        previous_ns = ts_ns
        cseq = message.cseq
        method = message.request_method
        code = 0
        if method is not None:
            methods[method] = methods.get(method, 0) + 1
            if method == "BYE":
                if bye is None:
                    bye = captured
            elif method == "CANCEL":
                cancelled = True
            elif method == "ACK":
                acks.append(captured)
            elif method == "INFO" and cseq is not None:
                infos.append(captured)
        elif message.is_response:
            responded = True
            status = message.status_code
            if status is not None:  # (a status code makes a response)
                statuses[status] = statuses.get(status, 0) + 1
                code = status
        if cseq is None or captured.transport != "udp":
            continue
        # The tracker (WiresharkSipTracker), its state in lists.
        cseq_number = cseq.number
        cseq_method = cseq.method
        key = (message.call_id or "", captured.src, captured.sport, captured.dst, captured.dport)
        setup_ms: int | None = None
        entry = state.get(key)
        if entry is None:
            entry = state[key] = [cseq_number, cseq_method, _NOTHING, 0, 0, 0]
            if method is not None:
                entry[_REQUEST_NS] = ts_ns
            compare = 0
        else:
            if method is not None and cseq_method == "ACK":
                setup_ms = _whole_ms(ts_ns, entry[_REQUEST_NS])
            compare = entry[_CSEQ]
            if cseq_number != compare:
                entry[_CSEQ] = cseq_number
                entry[_METHOD] = cseq_method
                entry[_STATE] = _NOTHING
                entry[_FRAME_AT] = 0
                if method is not None:
                    entry[_REQUEST_NS] = ts_ns
        resent_of = 0
        if method is not None:
            if (
                cseq_number == compare
                and entry[_STATE] == _REQUEST
                and cseq_method == entry[_METHOD]
                and cseq_method not in ("ACK", "CANCEL")
            ):
                resent_of = entry[_FRAME_AT]
            entry[_STATE] = _REQUEST
            if not resent_of:
                entry[_FRAME_AT] = captured.frame
                entry[_REQUEST_NS] = ts_ns
        elif message.is_response:
            if code >= 200:
                if (
                    cseq_number == compare
                    and entry[_STATE] == _FINAL
                    and cseq_method == entry[_METHOD]
                    and code == entry[_CODE]
                ):
                    resent_of = entry[_FRAME_AT]
                entry[_CODE] = code
                entry[_STATE] = _FINAL
                if not resent_of:
                    entry[_FRAME_AT] = captured.frame
            else:
                entry[_STATE] = _PROVISIONAL
        if resent_of or setup_ms is not None:
            found[captured.frame] = tuple.__new__(MessageMarks, (resent_of, setup_ms))
            if resent_of:
                resent += 1
    walked = (found, resent, methods, statuses, bye, cancelled, responded, acks, infos, in_order)
    return tuple.__new__(_Walked, walked)


class WiresharkSipTracker:
    """Retransmissions and setup times the way Wireshark's SIP dissector finds them.

    State is kept per (Call-ID, source address and port, destination address and port),
    UDP only. A request is a retransmission when the last message in that direction had
    the same CSeq number and method and was a request (ACK and CANCEL never count); a final
    response is one when the last one in that direction was the same final response. A new
    CSeq number resets the direction. The setup time of an ACK is the time since the last
    request that was not a retransmission in its direction, in whole milliseconds. These
    rules are heuristics, not RFC 3261 17's transaction matching (that is
    :mod:`rtcscope.sip.transactions`); they are kept so counts can be checked against tshark.
    """

    def __init__(self) -> None:
        self._state: dict[tuple[str, str, int, str, int], list[Any]] = {}

    def feed(self, captured: CapturedMessage) -> MessageMarks:
        return track_messages((captured,), self._state).get(captured.frame, NO_MARKS)


def _whole_ms(later_ns: int, earlier_ns: int) -> int:
    """Wireshark's milliseconds between two times: the seconds fields subtracted times 1000,
    plus the nanoseconds fields subtracted, divided by 10^6 and truncated toward zero."""
    later_s, later_frac = divmod(later_ns, 1_000_000_000)
    earlier_s, earlier_frac = divmod(earlier_ns, 1_000_000_000)
    nanos = later_frac - earlier_frac
    millis = abs(nanos) // 1_000_000
    return (later_s - earlier_s) * 1000 + (millis if nanos >= 0 else -millis)


_TrackerState = dict[tuple[str, str, int, str, int], list[Any]]


def _c_walk_setup(callwalk: ModuleType) -> None:
    """Give the C walk the classes whose slots it reads directly and the values it makes."""
    from rtcscope.sip.capture import CapturedSip
    from rtcscope.sip.headers import CSeq
    from rtcscope.sip.message import SipMessage

    callwalk.setup(CapturedSip, SipMessage, CSeq, MessageMarks, _Walked, Counter, _whole_ms)


# One look at each of a call's messages (_walk_py's values), in C where it was built
# (rtcscope.sip._callwalk.walk: what _walk_py returns, the tracker's state left as it
# leaves it).
_walk: Callable[[Iterable[CapturedMessage], _TrackerState], _Walked] = (
    c_accelerator(_c_walk_setup, "walk") or _walk_py
)
WALK_ROAD = "python" if _walk is _walk_py else "c"


@dataclass(slots=True)
class SipStatistics:
    """What ``tshark -q -z sip,stat`` prints, computed the same way."""

    messages: int = 0
    resent: int = 0
    status_counts: Counter[int] = field(default_factory=Counter)  # by -z sip,stat row
    method_counts: Counter[str] = field(default_factory=Counter)  # request line method
    setup_times_ms: list[int] = field(default_factory=list)

    @property
    def average_setup_ms(self) -> int:
        return sum(self.setup_times_ms) // len(self.setup_times_ms) if self.setup_times_ms else 0

    @property
    def min_setup_ms(self) -> int:
        return min(self.setup_times_ms) if self.setup_times_ms else 0

    @property
    def max_setup_ms(self) -> int:
        return max(self.setup_times_ms) if self.setup_times_ms else 0

    def add(self, captured: CapturedMessage, marks: MessageMarks) -> None:
        message = captured.message
        self.messages += 1
        # tshark keeps the setup time unsigned: a non-zero value counts, whatever its sign.
        if marks.setup_ms:
            self.setup_times_ms.append(marks.setup_ms % 2**32)
        if marks.resent_of:
            self.resent += 1
        if message.is_response and message.status_code:
            row = wireshark_status_row(message.status_code)
            if row is not None:
                self.status_counts[row] += 1
        elif message.is_request and message.request_method:
            self.method_counts[message.request_method] += 1

    def add_calls(self, calls: Iterable[CallSummary]) -> None:
        """What :meth:`add` counts, from calls that hold every message once (each call's
        counts and marks: its messages were counted when it was summarized)."""
        calls = calls if isinstance(calls, list) else list(calls)
        counted = _count_calls(calls) if _count_calls is not None else None
        if counted is None:  # (the Python road, or a call the C road does not read)
            counted = _count_calls_py(calls)
        messages, resent, statuses, methods, setup_times = counted
        self.setup_times_ms += setup_times
        self.messages += messages
        self.resent += resent
        for code, count in statuses.items():
            row = wireshark_status_row(code) if code else None
            if row is not None:
                self.status_counts[row] += count
        self.method_counts.update(methods)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "resent": self.resent,
            "status_codes": {str(k): v for k, v in sorted(self.status_counts.items())},
            "methods": dict(sorted(self.method_counts.items())),
            "setup_ms": {
                "count": len(self.setup_times_ms),
                "average": self.average_setup_ms,
                "min": self.min_setup_ms,
                "max": self.max_setup_ms,
            },
        }


_Counted = tuple[int, int, dict[int, int], dict[str, int], list[int]]


def _count_calls_py(calls: Iterable[CallSummary]) -> _Counted:
    """The messages, retransmissions, status codes, methods and setup times (tshark keeps
    them unsigned: see :meth:`SipStatistics.add`) of ``calls``, summed in one pass (the
    specification of the C road, _callwalk.count_calls)."""
    statuses: dict[int, int] = {}  # by code (SipStatistics.add_calls puts them in rows)
    methods: dict[str, int] = {}
    setup_times: list[int] = []
    messages = resent = 0
    for call in calls:
        messages += len(call.messages)
        resent += call.resent
        for code, count in call.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
        for method, count in call.methods.items():
            methods[method] = methods.get(method, 0) + count
        for _, setup_ms in call.marks.values():
            if setup_ms:
                setup_times.append(setup_ms % 2**32)
    return messages, resent, statuses, methods, setup_times


# -- calls --------------------------------------------------------------------------------------


class CallState(StrEnum):
    """How a call (or another Call-ID's exchange) ended up, as far as the capture shows."""

    ANSWERED = "answered"  # 2xx, ACK, then BYE
    IN_PROGRESS = "in progress"  # answered and not hung up in the capture, or only 100 Trying
    RINGING = "ringing"  # a provisional response (180/183, RFC 3262 PRACKed or not), no final
    ACK_MISSING = "ACK missing"  # 2xx seen, no ACK (RFC 3261 13.3.1.4: the UAS gives up)
    CANCELLED = "cancelled"  # CANCEL before the answer, or 487 Request Terminated (9.1)
    BUSY = "busy"  # 486 Busy Here or 600 Busy Everywhere (RFC 3261 21.4.24, 21.6.1)
    REDIRECTED = "redirected"  # 3xx final response
    FAILED = "failed"  # 4xx-6xx final response
    NO_RESPONSE = "no response"  # the request was never answered at all
    COMPLETED = "completed"  # a non-INVITE exchange (REGISTER, OPTIONS, ...) got a 2xx


# The states as module names: a member read through its class costs ~0.3 us on Python 3.11
# (the enum's class attribute machinery), a few times per call.
_ANSWERED = CallState.ANSWERED
_IN_PROGRESS = CallState.IN_PROGRESS
_RINGING = CallState.RINGING
_ACK_MISSING = CallState.ACK_MISSING
_CANCELLED = CallState.CANCELLED
_BUSY = CallState.BUSY
_REDIRECTED = CallState.REDIRECTED
_FAILED = CallState.FAILED
_NO_RESPONSE = CallState.NO_RESPONSE
_COMPLETED = CallState.COMPLETED

FAILED_STATES = frozenset(
    {
        CallState.ACK_MISSING,
        CallState.CANCELLED,
        CallState.BUSY,
        CallState.REDIRECTED,
        CallState.FAILED,
        CallState.NO_RESPONSE,
    }
)


@dataclass(frozen=True, slots=True)
class InfoDtmf:
    """One digit sent in a SIP INFO body (application/dtmf-relay or application/dtmf)."""

    frame: int
    ts_ns: int
    signal: str
    duration_ms: int | None
    sender: str  # "caller" or "callee"
    src: str


class SdpExchange(NamedTuple):
    """One SDP seen in the call (copies forwarded by proxies are listed once). A named
    tuple: immutable and hashable, built at tuple cost (two or more per call)."""

    frame: int
    ts_ns: int
    side: str  # offer or answer (RFC 3264)
    role: str  # caller or callee
    sip: str  # "INVITE sip:...", "200 OK"
    media: str
    address: str | None
    port: int
    direction: str
    codecs: tuple[str, ...]
    on_hold: bool  # RFC 3264 8.4: sendonly/inactive, or the RFC 2543 c=0.0.0.0


@dataclass(slots=True)
class CallSummary:
    """One call (its legs, Call-IDs linked), with what a person asks about it."""

    index: int
    legs: list[Call]
    kind: str  # INVITE, REGISTER, OPTIONS, ... (the first request's method)
    from_uri: str | None
    to_uri: str | None
    from_tag: str | None
    caller: str | None  # addr:port that sent the first INVITE (or request)
    callee: str | None  # where it went
    start_ns: int
    ring_ns: int | None
    answer_ns: int | None
    end_ns: int | None
    last_ns: int
    final_status: int | None
    final_reason: str | None
    state: CallState
    ended_by: str | None  # "caller" or "callee" (who sent BYE)
    uas: str | None  # addr:port that sent the first 2xx (where the ACK must arrive)
    bye_source: str | None  # addr:port the first BYE came from
    messages: list[CapturedMessage]
    methods: Counter[str]
    statuses: Counter[int]
    resent: int
    marks: dict[int, MessageMarks]  # by frame (UDP: one SIP message per frame)
    sdp: list[SdpExchange] = field(default_factory=list)
    media_endpoints: dict[tuple[str, int], int] = field(default_factory=dict)  # -> first SDP ts
    dtmf: list[InfoDtmf] = field(default_factory=list)
    streams: list[RtpStream] = field(default_factory=list)

    def _uris(self, attr: str) -> list[str]:
        out: list[str] = []
        for captured in self.messages:
            message = captured.message
            value = getattr(message, attr)
            # Out-of-dialog requests only: in a dialog the callee's requests swap From/To.
            if message.is_request and message.to_tag is None and value is not None:
                text = str(value.uri) if value.uri is not None else ""
                if text and text not in out:
                    out.append(text)
        return out

    @property
    def from_uris(self) -> list[str]:
        """Every From URI of the call's out-of-dialog requests (a REGISTER series may vary)."""
        return self._uris("from_")

    @property
    def to_uris(self) -> list[str]:
        return self._uris("to")

    @property
    def call_id(self) -> str:
        return self.legs[0].call_id

    @property
    def call_ids(self) -> list[str]:
        return [leg.call_id for leg in self.legs]

    @property
    def duration_s(self) -> float | None:
        """Answer to end (BYE), to the microsecond (:func:`relative_s`); None for a call that
        was never answered or not hung up."""
        if self.answer_ns is None or self.end_ns is None:
            return None
        return relative_s(self.end_ns, self.answer_ns)

    @property
    def setup_ms(self) -> int | None:
        """Wireshark's setup time of the first ACK that had one (INVITE to ACK)."""
        # ``marks`` is filled in message order (first message of each frame).
        for marks in self.marks.values():
            if marks.setup_ms:
                return marks.setup_ms
        return None

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    def as_dict(
        self,
        first_ns: int = 0,
        qualities: Mapping[StreamKey, StreamQuality] | None = None,
        *,
        detail: bool = True,
    ) -> dict[str, Any]:
        """Stable JSON keys (documented in ``rtcscope calls --help``); with ``qualities``
        (:func:`rtcscope.quality.assess_stream` per stream) each stream gets "mos" (adaptive
        buffer) and the call "quality" (its worst direction, :func:`worst_direction`).
        ``detail=False`` (a table row's fields, without ``qualities``) leaves out the lists:
        hops, sdp, streams and dtmf."""
        out = _call_dict(self, first_ns, detail or qualities is not None)
        if qualities is not None:
            from rtcscope.quality import worst_direction

            mine = [qualities.get(s.key) for s in self.streams]
            for entry, quality in zip(out["streams"], mine, strict=True):
                adaptive = quality.buffer("adaptive-500") if quality is not None else None
                entry["mos"] = (
                    None if adaptive is None or adaptive.mos is None else round(adaptive.mos, 2)
                )
            worst = worst_direction(mine)
            out["quality"] = (
                None
                if worst is None
                else {
                    "buffer": worst.buffer,
                    "model": worst.scale.value,
                    "r": round(worst.r, 1),
                    "mos": round(worst.mos, 2),
                    "stream": out["streams"][worst.stream_index]["ssrc_hex"],
                }
            )
        return out


def _call_dict_py(call: CallSummary, first_ns: int, detail: bool) -> dict[str, Any]:
    """:meth:`CallSummary.as_dict` without ``qualities`` (the pure-Python road of
    :data:`_call_dict`)."""
    start_ns = call.start_ns
    ring_ns = call.ring_ns
    answer_ns = call.answer_ns
    end_ns = call.end_ns
    legs = call.legs
    if detail:
        sdps = call.sdp
        streams = call.streams
        dtmf = call.dtmf
        # Every instant of the call converted once, in one loop: its SDPs were sent with
        # its INVITE and 2xx and repeat their times.
        stamps = [start_ns, ring_ns, answer_ns, end_ns, *map(_SDP_TS, sdps)]
        for stream in streams:
            stamps += (stream.start_ns, stream.end_ns)
        if dtmf:
            stamps += [d.ts_ns for d in dtmf]
        at = instants(stamps, first_ns)
    else:
        at = instants((start_ns, ring_ns, answer_ns, end_ns), first_ns)
    start_s, start_iso = at[start_ns]
    ring_s, ring_iso = at[ring_ns]
    answer_s, answer_iso = at[answer_ns]
    end_s, end_iso = at[end_ns]
    out: dict[str, Any] = {
        "index": call.index,
        "call_id": legs[0].call_id,
        "call_ids": [leg.call_id for leg in legs] if len(legs) > 1 else [legs[0].call_id],
        "hops": _hops(legs) if detail else None,
        "kind": call.kind,
        "from": call.from_uri,
        "to": call.to_uri,
        "caller": call.caller,
        "callee": call.callee,
        "start_s": start_s,
        "start_iso": start_iso,
        "ring_s": ring_s,
        "ring_iso": ring_iso,
        "answer_s": answer_s,
        "answer_iso": answer_iso,
        "end_s": end_s,
        "end_iso": end_iso,
        "duration_s": call.duration_s,
        "setup_ms": call.setup_ms,
        "final_status": call.final_status,
        "final_reason": call.final_reason,
        "state": call.state._value_,  # (.value: a descriptor, ~5x the read)
        "ended_by": call.ended_by,
        "answered_by": call.uas,
        "bye_source": call.bye_source,
        "messages": len(call.messages),
        "resent": call.resent,
        "methods": dict(call.methods),
        "statuses": _statuses_json(call.statuses),
    }
    if not detail:
        del out["hops"]
        return out
    out["sdp"] = _sdp_entries(sdps, at) if sdps else []
    out["streams"] = _stream_entries(streams, at) if streams else []
    out["dtmf"] = _dtmf_entries(dtmf, at) if dtmf else []
    return out


def _dtmf_entries(dtmf: Sequence[InfoDtmf], at: Mapping[int | None, Instant]) -> list[Any]:
    """The "dtmf" objects of a call's JSON (SIP INFO digits; both roads of
    :data:`_call_dict`)."""
    return [
        {
            "frame": d.frame,
            "time_s": at[d.ts_ns][0],
            "time_iso": at[d.ts_ns][1],
            "signal": d.signal,
            "duration_ms": d.duration_ms,
            "sender": d.sender,
            "src": d.src,
        }
        for d in dtmf
    ]


# The "statuses" object of a call's JSON by the call's counts (code, count) in order: a
# capture's calls have few distinct ones (100, 180, 200, ...). Bounded: cleared when full.
_STATUSES: dict[tuple[tuple[int, int], ...], dict[str, int]] = {}


def _statuses_json(statuses: Mapping[int, int]) -> dict[str, int]:
    """``{"code": count}`` in order of code (a new dict each time, made from a kept one where
    every code and count is an exact int: True == 1 == 1.0 as keys, so a kept dict would give
    one count for another's)."""
    key = tuple(statuses.items())
    exact = all(type(code) is int and type(count) is int for code, count in key)
    made = _STATUSES.get(key) if exact else None
    if made is None:
        made = {str(code): statuses[code] for code in sorted(statuses)}
        if exact:
            if len(_STATUSES) >= 4096:
                _STATUSES.clear()
            _STATUSES[key] = made
    return made.copy()


def _hops(legs: list[Call]) -> list[dict[str, str]]:
    """Each leg's hops (Call.legs: client, server, transport), without a Leg object each."""
    hops = []
    for call in legs:
        for txn in call.initial_invites:
            requests = txn.requests
            if requests:
                req = requests[0]
                hops.append(
                    {
                        "client": endpoint(req.src, req.sport),  # Transaction.client, .server
                        "server": endpoint(req.dst, req.dport),
                        "transport": req.transport,
                    }
                )
    return hops


_SDP_TS = itemgetter(1)  # SdpExchange.ts_ns


def _stream_entry(stream: RtpStream, at: Mapping[int | None, Instant]) -> dict[str, Any]:
    """A stream's object in a call's JSON; ``at``: its start and end as :func:`instants`
    converted them (times from the capture's first packet)."""
    key = stream.key
    packets, lost = stream.packets_lost  # (the stream's whole statistics are not needed)
    start_s, start_iso = at[stream.start_ns]
    end_s, end_iso = at[stream.end_ns]
    return {
        "src": f"{key.src}:{key.src_port}",
        "dst": f"{key.dst}:{key.dst_port}",
        "ssrc_hex": f"0x{key.ssrc:08X}",
        "codec": stream.codec,
        "packets": packets,
        "lost": lost,
        "start_s": start_s,
        "start_iso": start_iso,
        "end_s": end_s,
        "end_iso": end_iso,
    }


def _sdp_entries_py(sdps: Sequence[SdpExchange], at: Mapping[int | None, Instant]) -> list[Any]:
    """The "sdp" objects of a call's JSON; ``at``: its instants as :func:`instants`
    converted them (the pure-Python road of :data:`_sdp_entries`)."""
    return [
        {
            "frame": frame,
            "time_s": at[ts_ns][0],
            "time_iso": at[ts_ns][1],
            "side": side,
            "role": role,
            "sip": sip,
            "media": media,
            "address": address,
            "port": port,
            "direction": direction,
            "codecs": list(codecs),
            "hold": on_hold,
        }
        # Unpacked: one tuple unpack instead of a getter per field.
        for (
            frame,
            ts_ns,
            side,
            role,
            sip,
            media,
            address,
            port,
            direction,
            codecs,
            on_hold,
        ) in sdps
    ]


def _sdp_entry(sdp: SdpExchange, at: Mapping[int | None, Instant]) -> dict[str, Any]:
    """One exchange's object (the C road's fallback)."""
    made: dict[str, Any] = _sdp_entries_py((sdp,), at)[0]
    return made


def _stream_entries_py(streams: Sequence[RtpStream], at: Mapping[int | None, Instant]) -> list[Any]:
    """The "streams" objects of a call's JSON (the pure-Python road of
    :data:`_stream_entries`)."""
    return [_stream_entry(stream, at) for stream in streams]


_Entries = Callable[[Sequence[Any], Mapping[int | None, Instant]], list[Any]]


def _entries_roads() -> tuple[_Entries, _Entries]:
    """:func:`_sdp_entries_py` and :func:`_stream_entries_py`, or the same lists made in C
    (rtcscope._timetext, where it was built) unless RTCSCOPE_PURE is set; the C road hands
    an item it does not read itself (another type, a missing instant) to :func:`_sdp_entry`
    or :func:`_stream_entry`."""
    if c_wanted():
        try:
            from rtcscope._timetext import sdp_entries, stream_entries
        except ImportError:  # not built, or built from an older _timetext.c
            pass
        else:
            return partial(sdp_entries, _sdp_entry), partial(stream_entries, _stream_entry)
    return _sdp_entries_py, _stream_entries_py


# The roads :meth:`CallSummary.as_dict` takes for a call's "sdp" and "streams": ENTRIES_ROAD
# "c" or "python".
_sdp_entries, _stream_entries = _entries_roads()
ENTRIES_ROAD = "python" if _sdp_entries is _sdp_entries_py else "c"


def _call_dict_road() -> Callable[[CallSummary, int, bool], dict[str, Any]]:
    """:func:`_call_dict_py`, or the same object made in C (rtcscope._timetext, where it was
    built) unless RTCSCOPE_PURE is set; the C road hands a call whose values it does not
    read itself (module _timetext.c), and any call not exactly a CallSummary (a subclass
    may compute duration_s and setup_ms its own way), to :func:`_call_dict_py`, an SDP
    exchange or a stream to :func:`_sdp_entry` or :func:`_stream_entry`, and the DTMF list
    to :func:`_dtmf_entries`."""
    if c_wanted():
        try:
            from rtcscope._timetext import call_dict
        except ImportError:  # not built, or built from an older _timetext.c
            pass
        else:
            roads = (_call_dict_py, _sdp_entry, _stream_entry, _dtmf_entries, CallSummary)
            return partial(call_dict, roads)
    return _call_dict_py


# The road :meth:`CallSummary.as_dict` takes for a call's object (but for its qualities):
# CALL_DICT_ROAD "c" or "python".
_call_dict = _call_dict_road()
CALL_DICT_ROAD = "python" if _call_dict is _call_dict_py else "c"


def _calls_text_py(first_ns: int, calls: Sequence[CallSummary], level: int) -> tuple[bytes, int]:
    """``(text, count)``: the JSON text of the first ``count`` calls' objects
    (``as_dict(first_ns)``) as the JSON writer writes a list's members at ``level``: each
    ``format_json``'s orjson text (rtcscope.jsontext.dumps), every line after its first
    indented by ``level`` levels, a comma and a line feed between them; it stops at a call
    whose object orjson refuses (which the writer writes from its object). The
    specification of the C road (rtcscope._timetext.calls_text, which writes the usual
    call from its slots, no object made, and may stop at any call this writes)."""
    pieces = []
    for call in calls:
        try:
            pieces.append(dumps(call.as_dict(first_ns)))
        except TypeError:
            break
    text = b",\n".join(pieces)
    return (text.replace(b"\n", b"\n" + b"  " * level) if level else text), len(pieces)


def _calls_text_road() -> Callable[[int, Sequence[CallSummary], int], tuple[bytes, int]]:
    """:func:`_calls_text_py`, or the same text written in C (rtcscope._timetext, where it
    was built) unless RTCSCOPE_PURE is set."""
    if c_wanted():
        try:
            from rtcscope._timetext import calls_text
        except ImportError:  # not built, or built from an older _timetext.c
            pass
        else:
            return partial(calls_text, (CallSummary, InfoDtmf))
    return _calls_text_py


# The road of the calls' JSON text (:func:`calls_json`): CALLS_TEXT_ROAD "c" or "python".
_calls_text = _calls_text_road()
CALLS_TEXT_ROAD = "python" if _calls_text is _calls_text_py else "c"


def calls_json(calls: Sequence[CallSummary], first_ns: int, *, own: bool = True) -> LazyJsonList:
    """``[call.as_dict(first_ns) for call in calls]`` for rtcscope.cli.output's JSON writer:
    the calls' text written a run at a time (:data:`CALLS_TEXT_ROAD`), the usual call's
    with no object made; with ``own`` each call a document of its own, as a generator's
    member (``rtcscope calls``), else part of the document, as a list's (``analyze``)."""
    return LazyJsonList(
        calls,
        partial(CallSummary.as_dict, first_ns=first_ns),
        partial(_calls_text, first_ns),
        own=own,
    )


@dataclass(slots=True)
class CallsResult:
    """Every call of a capture, the capture-wide statistics, and where the capture starts."""

    calls: list[CallSummary]
    statistics: SipStatistics
    messages: list[CapturedMessage]
    first_ns: int

    def find(self, wanted: str) -> CallSummary | None:
        """A call by Call-ID (any leg's), by index (``3`` or ``#3``), or by a unique prefix."""
        text = wanted.strip()
        number = text[1:] if text.startswith("#") else text
        for call in self.calls:
            if text in call.call_ids:
                return call
        if number.isascii() and number.isdigit():
            for call in self.calls:
                if call.index == int(number):
                    return call
        matches = [c for c in self.calls if any(cid.startswith(text) for cid in c.call_ids)]
        return matches[0] if len(matches) == 1 else None


# RFC 7315 4.6: icid-value names one charging session across every leg and element.
_ICID = re.compile(r"(?i)(?:^|;)\s*icid-value\s*=\s*\"?([^;\"\s]+)")


# A message can carry X-Call-ID or P-Charging-Vector (neither has a compact form) only if
# its bytes hold "-call-id" or "-charging-vector" in some case (header names are ASCII, so
# IGNORECASE on bytes is enough). The leading literal "-" lets the regex engine jump from
# hyphen to hyphen: no join, no lower-cased copy of the messages.
_LINK_PROBE = re.compile(rb"(?i)-(?:call-id|charging-vector)")
_LINK_BATCH = 512  # calls whose bytes are looked at together


def _probe_py(texts: Iterable[bytes]) -> bool:
    """Whether _LINK_PROBE finds a name in any of ``texts``."""
    return any(map(_LINK_PROBE.search, texts))


# The probe in C where it was built (rtcscope.sip._callwalk.mention_link_headers: what
# _probe_py answers, each '-' found by memchr and the names after it compared).
_probe: Callable[[Iterable[bytes]], bool] = (
    c_accelerator(None, "mention_link_headers") or _probe_py  # (nothing to set up)
)
PROBE_ROAD = "python" if _probe is _probe_py else "c"


def _mention_link_headers_py(messages: Iterable[CapturedMessage]) -> bool:
    """Whether any of ``messages`` may carry X-Call-ID or P-Charging-Vector (a name anywhere
    in its bytes, any case): the probe of each message's bytes, in order, up to the first
    that mentions one (the messages after it not read, as the C road)."""
    return _probe_py(m.message.raw for m in messages)


def _frames_rise_py(messages: Iterable[CapturedMessage]) -> bool:
    """Whether every message's frame is an int above the one before (so no two share a
    frame); False where not known so (a frame that is not an int)."""
    frames = list(map(_FRAME, messages))
    return all(type(f) is int for f in frames) and all(map(lt, frames, frames[1:]))


def _c_probe_setup(callwalk: ModuleType) -> None:
    """Give the C reads of the capture's messages the classes they read where slots lie."""
    from rtcscope.sip.capture import CapturedSip
    from rtcscope.sip.message import SipMessage

    callwalk.setup_probe(CapturedSip, SipMessage)


# The two looks summarize_calls takes at every message of the capture, in C where it was
# built (rtcscope.sip._callwalk.messages_mention_link_headers and frames_rise: what
# _mention_link_headers_py and _frames_rise_py answer, each message read where it lies, no
# list of its bytes or frames made), with the C probe.
_mention_link_headers: Callable[[Iterable[CapturedMessage]], bool] = (
    c_accelerator(_c_probe_setup, "messages_mention_link_headers") if PROBE_ROAD == "c" else None
) or _mention_link_headers_py
_frames_rise: Callable[[Iterable[CapturedMessage]], bool] = (
    c_accelerator(_c_probe_setup, "frames_rise") if PROBE_ROAD == "c" else None
) or _frames_rise_py
MESSAGES_ROAD = "python" if _mention_link_headers is _mention_link_headers_py else "c"


def _messages_of(calls: Sequence[Call]) -> list[CapturedMessage]:
    return [m for call in calls for m in call.messages]


def _link_keys(call: Call) -> set[str]:
    keys: set[str] = set()
    # Most calls carry neither header: one look at the call's bytes (header names are
    # case-insensitive) spares reading each message's headers.
    if not _mention_link_headers(call.messages):
        return keys
    for captured in call.messages:
        message = captured.message
        for value in message.header_values("X-Call-ID"):
            if value.strip():
                keys.add("cid:" + value.strip())
        for value in message.header_values("P-Charging-Vector"):
            match = _ICID.search(value)
            if match:
                keys.add("icid:" + match.group(1))
    return keys


def link_legs(
    calls: Sequence[Call], messages: Sequence[CapturedMessage] | None = None
) -> list[list[Call]]:
    """Group Call-ID groups into calls: X-Call-ID naming another leg, or a shared icid-value.
    ``messages``: every message of ``calls`` in one list (the capture's, in capture order),
    where the first look for the headers is cheapest; without it, the calls' messages."""
    parent = list(range(len(calls)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    # Most captures carry neither header: one look at every message's bytes, and each
    # Call-ID group is a call of its own. (The capture's own list is read in the order its
    # messages were made, kinder to the memory cache than call by call.)
    if not _mention_link_headers(_messages_of(calls) if messages is None else messages):
        return [[call] for call in calls]
    by_call_id = {c.call_id: i for i, c in enumerate(calls)}
    first_with_key: dict[str, int] = {}
    skip_to = 0
    for i, call in enumerate(calls):
        # Most captures carry neither header: a batch of calls is passed over at once.
        if i % _LINK_BATCH == 0 and not _mention_link_headers(
            _messages_of(calls[i : i + _LINK_BATCH])
        ):
            skip_to = i + _LINK_BATCH
        if i < skip_to:
            continue
        for key in _link_keys(call):
            if key.startswith("cid:"):
                other = by_call_id.get(key[4:])
                if other is not None:
                    union(i, other)
            if key in first_with_key:
                union(i, first_with_key[key])
            else:
                first_with_key[key] = i
    groups: dict[int, list[Call]] = {}
    for i, call in enumerate(calls):
        groups.setdefault(root(i), []).append(call)
    return [groups[k] for k in sorted(groups)]


def _first(messages: Iterable[CapturedMessage]) -> CapturedMessage | None:
    return next(iter(messages), None)


def _caller_invites(call: Call) -> list[Transaction]:
    """The initial INVITE transactions sent by the first INVITE's sender (auth retries too)."""
    invites = call.initial_invites
    if not invites:
        return []
    if len(invites) == 1:  # the usual call: no address to compare
        return list(invites)
    client = invites[0].client
    return [t for t in invites if t.client == client]


def _headless_invites(call: Call) -> list[Transaction]:
    """For a call whose initial INVITE is not in the capture (it started earlier): the INVITE
    transactions seen only by their responses (or the ACK/CANCEL sharing their branch) whose
    CSeq is below every in-dialog INVITE's. The hop closest to the caller (its responses carry
    the fewest Vias) comes first."""
    in_dialog = [
        t.cseq
        for t in call.transactions
        if t.is_invite and t.request is not None and t.request.message.to_tag
    ]
    ceiling = min(in_dialog, default=None)
    found = [
        t
        for t in call.transactions
        if t.is_invite
        and t.request is None
        and t.responses
        and (ceiling is None or t.cseq < ceiling)
    ]
    return sorted(found, key=lambda t: (len(t.responses[0].message.vias), t.first_ts_ns))


def _invite_state(
    final_status: int | None, answered: bool, ack_missing: bool, hung_up: bool, cancelled: bool
) -> CallState:
    """A call's state from what its INVITE got (RFC 3261 21, 9.1, 13.3.1.4)."""
    if answered:
        if ack_missing:
            return _ACK_MISSING
        return _ANSWERED if hung_up else _IN_PROGRESS
    if final_status is None:
        return _CANCELLED if cancelled else _IN_PROGRESS
    if cancelled or final_status == 487:
        return _CANCELLED
    if final_status in (486, 600):
        return _BUSY
    if 300 <= final_status < 400:
        return _REDIRECTED
    return _FAILED


def _parse_info_dtmf(captured: CapturedMessage, caller_tag: str | None) -> InfoDtmf | None:
    message = captured.message
    ctype = message.content_type
    body = message.body.decode("utf-8", "replace")
    signal: str | None = None
    duration: int | None = None
    if ctype == "application/dtmf-relay":
        for line in body.splitlines():
            name, _, value = line.partition("=")
            name = name.strip().lower()
            if name == "signal":
                signal = value.strip()
            elif name == "duration" and value.strip().isascii() and value.strip().isdigit():
                duration = int(value.strip())
    elif ctype == "application/dtmf":
        signal = body.strip() or None
    if not signal:
        return None
    sender = "caller" if caller_tag is None or message.from_tag == caller_tag else "callee"
    return InfoDtmf(captured.frame, captured.ts_ns, signal, duration, sender, source(captured))


_BY_TIME = attrgetter("ts_ns", "frame")
_FRAME = attrgetter("frame")
_TS = attrgetter("ts_ns")
_START = attrgetter("start_ns")


def _reached(acks: list[CapturedMessage], answer: CapturedMessage, answer_txn: Transaction) -> bool:
    """Whether an ACK went to the UAS that sent ``answer`` (the first 2xx) or to the server
    of its transaction (addresses and ports compared: what ``endpoint`` texts compare)."""
    uas = (answer.src, answer.sport)
    requests = answer_txn.requests
    if requests:
        server = (requests[0].dst, requests[0].dport)
    else:  # (a transaction seen by its responses only: the answer is one)
        server = (answer_txn.responses[0].src, answer_txn.responses[0].sport)
    for ack in acks:
        to = (ack.dst, ack.dport)
        if to in (uas, server):
            return True
    return False


def _in_time_order(
    messages: list[CapturedMessage], marks: dict[int, MessageMarks]
) -> dict[int, MessageMarks]:
    """The marks of ``messages`` (time order) by frame, in their order."""
    found: dict[int, MessageMarks] = {}
    for captured in messages:
        mark = marks.get(captured.frame)
        if mark is not None:
            found[captured.frame] = mark
    return found


def _summarize(
    index: int,
    legs: list[Call],
    marks: dict[int, MessageMarks] | None,
    announcements: Sequence[MediaAnnouncement],
    names: CodecNames,
) -> CallSummary:
    """One call's summary; ``marks`` by frame for the whole capture, or None: found here
    from the legs' own messages (see :func:`summarize_calls`). The specification of the C
    road for the usual call (_summarize_one), and the road of every call it declines."""
    primary = legs[0]
    # The marks (found leg by leg in capture order: the tracker's state is per Call-ID, so
    # a leg's messages give what the whole capture gives) and the counts (in time order),
    # in one walk when the call is one leg in time order, the usual call.
    walked: _Walked | None = None
    if len(legs) == 1:
        messages = primary.messages
        walked = _walk(messages, {})
        # Capture order is time order in the usual call: its times only rise, no two equal
        # (then the (time, frame) order is theirs); else sorted.
        in_order = walked.in_order
        if not in_order:
            messages = sorted(messages, key=_BY_TIME)
            in_order = messages == primary.messages
        all_invites = primary.initial_invites
    else:
        in_order = False
        messages = sorted((m for leg in legs for m in leg.messages), key=_BY_TIME)
        all_invites = [t for leg in legs for t in leg.initial_invites]
    if marks is not None:
        call_marks = _in_time_order(messages, marks)
        resent = sum(1 for mark in call_marks.values() if mark.resent_of)
    elif walked is not None and in_order:
        call_marks = walked.marks  # found in capture order, time order here
        resent = walked.resent
    else:
        call_marks = {}
        resent = 0
        for leg in legs:
            leg_walk = walked if walked is not None else _walk(leg.messages, {})
            call_marks.update(leg_walk.marks)
            resent += leg_walk.resent
        call_marks = _in_time_order(messages, call_marks)
    if walked is None or not in_order:
        walked = _walk(messages, {})  # the counts in time order (its marks unread)
    invites = _caller_invites(primary)
    headless = [] if invites else _headless_invites(primary)
    head: CapturedMessage | None
    if invites:
        head = invites[0].requests[0]  # an initial INVITE has its request
    else:
        head = _first(m for m in primary.messages if m.message.request_method is not None)
    if head is None:
        head = primary.messages[0]
    head_message = head.message
    request_method = head_message.request_method
    kind = (request_method or "?").upper() if request_method is not None else "?"
    if not invites and head_message.cseq is not None:
        kind = head_message.cseq.method.upper()
    # The INVITE is not in the capture (it started before): the state comes from the
    # responses and CSeq methods seen; caller and callee from the hop nearest the caller.
    first_response = headless[0].responses[0] if headless else None
    if first_response is not None:
        kind = "INVITE"
        head = first_response
        head_message = head.message
        invites = headless[:1]
    # The From tag of the first initial INVITE (Call.caller_tag: head's request, the first
    # of them) or, without one, of the head.
    caller_tag = head_message.from_tag

    # Ring (first 101-199), answer (first 2xx) and the UAS that answered first, in one look
    # at the INVITEs' responses. RFC 3261 13.3.1.4: the UAS that sent the 2xx needs the ACK;
    # copies of the ACK that reach proxies but never the UAS (a wrong Contact, a broken
    # route) leave the call without one, whatever the caller's side of the capture shows.
    if not all_invites:
        all_invites = headless
    ring_ns: int | None = None
    first_answer: CapturedMessage | None = None
    answer_txn: Transaction | None = None
    for txn in all_invites:
        for response in txn.responses:
            code = response.message.status_code or 0
            if 100 < code < 200:
                if ring_ns is None or response.ts_ns < ring_ns:
                    ring_ns = response.ts_ns
            elif 200 <= code < 300 and (
                first_answer is None or response.ts_ns < first_answer.ts_ns
            ):
                first_answer = response
                answer_txn = txn
    answer_ns = first_answer.ts_ns if first_answer is not None else None

    final: CapturedMessage | None = None
    if invites:
        for txn in invites:
            txn_final = txn.final
            if txn_final is not None:
                final = txn_final
    else:
        client = source(head)
        for txn in primary.transactions:
            if txn.requests and txn.client == client:
                txn_final = txn.final
                if txn_final is not None:
                    final = txn_final
    if final is not None:
        final_status = final.message.status_code
        final_reason = final.message.reason
    else:
        final_status = final_reason = None

    bye = walked.bye
    cancelled = walked.cancelled
    responded = walked.responded
    method_counts = walked.methods
    status_counts = walked.statuses
    infos = walked.infos
    # The ACKs sent after the first 2xx.
    acks = walked.acks
    if acks and answer_ns is not None:
        acks = [ack for ack in acks if ack.ts_ns >= answer_ns]

    ack_missing = False
    if first_answer is not None:
        assert answer_txn is not None
        uas = source(first_answer)
        if not acks:
            ack_missing = True
        elif not _reached(acks, first_answer, answer_txn):
            # The ACK went to an address the capture never shows the UAS using (its
            # Contact behind NAT, another interface): it is missing only if the UAS went
            # on retransmitting its 2xx after it was sent.
            ack_missing = any(
                source(r) == uas and r.ts_ns > acks[0].ts_ns
                for t in all_invites
                for r in t.responses
                if 200 <= (r.message.status_code or 0) < 300
            )
    else:
        uas = None
    ended_by: str | None = None
    if bye is not None:
        ended_by = "caller" if bye.message.from_tag == caller_tag else "callee"

    if kind == "INVITE":
        if answer_ns is None and final_status is None and not cancelled:
            if ring_ns is not None:
                state = _RINGING
            elif any(t.responses for t in all_invites):
                state = _IN_PROGRESS
            else:
                state = _NO_RESPONSE
        else:
            state = _invite_state(
                final_status, answer_ns is not None, ack_missing, bye is not None, cancelled
            )
    elif final_status is None:
        state = _IN_PROGRESS if responded else _NO_RESPONSE
    elif 200 <= final_status < 300:
        state = _COMPLETED
    elif 300 <= final_status < 400:
        state = _REDIRECTED
    else:
        state = _FAILED

    if bye is not None:
        end_ns: int | None = bye.ts_ns
    elif answer_ns is None and final is not None:
        end_ns = final.ts_ns
    else:
        end_ns = None

    sdp, endpoints = _sdp_exchanges(announcements, names) if announcements else ([], {})
    dtmf = _info_digits(infos, caller_tag) if infos else []

    if head_message.request_method is not None:
        caller: str | None = source(head)
        callee: str | None = destination(head)
    elif first_response is not None:
        caller, callee = destination(head), source(head)
    else:
        caller = callee = None
    # Positional (the fields in order): 27 keywords cost a CallSummary more than its
    # fields' stores (each keyword is looked for among the parameter names).
    return CallSummary(
        index,
        legs,
        kind,
        head_message.from_uri_text,  # from_uri
        head_message.to_uri_text,  # to_uri
        caller_tag,  # from_tag
        caller,
        callee,
        messages[0].ts_ns,  # start_ns
        ring_ns,
        answer_ns,
        end_ns,
        messages[-1].ts_ns,  # last_ns
        final_status,
        final_reason,
        state,
        ended_by,
        uas,
        source(bye) if bye is not None else None,  # bye_source
        messages,
        method_counts,  # methods
        status_counts,  # statuses
        resent,
        call_marks,  # marks
        sdp,
        endpoints,  # media_endpoints
        dtmf,
    )


# The codec names of a payload type list under a codec map, by (id of the map, payload
# types): announcements of the same SDP share their map (sip/capture.py), so a capture's
# calls name their codecs a few times in all. Made per summarize_calls: the announcements
# it reads are alive while it runs, so no id is reused for another map meanwhile.
CodecNames = dict[tuple[int, tuple[int, ...]], tuple[str, ...]]


def _codec_names(known: Mapping[int, Codec], payload_types: tuple[int, ...]) -> tuple[str, ...]:
    """The codec names of a payload type list under its codec map ("PT<n>" where unnamed)."""
    return tuple([known[pt].name if pt in known else f"PT{pt}" for pt in payload_types])


def _sdp_exchanges_py(
    announcements: Sequence[MediaAnnouncement], names: CodecNames
) -> tuple[list[SdpExchange], dict[tuple[str, int], int]]:
    """A call's SDPs, each listed once (a proxy's copy is the same exchange), and each
    announced media endpoint with the time it was first announced."""
    seen_sdp: set[tuple[Any, ...]] = set()
    sdp: list[SdpExchange] = []
    endpoints: dict[tuple[str, int], int] = {}
    for ann in announcements:
        ts_ns = ann.ts_ns
        address = ann.address
        port = ann.port
        if address and port:
            endpoints.setdefault((address, port), ts_ns)
        known = ann.codecs
        payload_types = ann.payload_types
        names_key = (id(known), payload_types)
        codecs = names.get(names_key)
        if codecs is None:
            codecs = names[names_key] = _codec_names(known, payload_types)
        side = ann.side
        role = ann.role
        key = (side, role, ann.cseq, ann.media_index, address, port, codecs)
        if key in seen_sdp:
            continue
        seen_sdp.add(key)
        exchange = (
            ann.frame,
            ts_ns,
            side,
            role,
            ann.sip_summary,
            ann.media,
            address,
            port,
            ann.direction,
            codecs,
            ann.on_hold,
        )
        sdp.append(tuple.__new__(SdpExchange, exchange))  # (the fields in order, no __new__)
    return sdp, endpoints


def _c_sdp_setup(callwalk: ModuleType) -> None:
    """Give the C road the announcement class it reads by place, what it makes and calls."""
    from rtcscope.sip.capture import MediaAnnouncement

    callwalk.setup_sdp(MediaAnnouncement, SdpExchange, _codec_names)


# A call's SDP list in C where it was built (rtcscope.sip._callwalk.sdp_exchanges: what
# _sdp_exchanges_py returns, ``names`` filled the same way).
_sdp_exchanges: Callable[
    [Sequence[MediaAnnouncement], CodecNames],
    tuple[list[SdpExchange], dict[tuple[str, int], int]],
] = c_accelerator(_c_sdp_setup, "sdp_exchanges") or _sdp_exchanges_py
SDP_ROAD = "python" if _sdp_exchanges is _sdp_exchanges_py else "c"


def _info_digits(infos: list[CapturedMessage], caller_tag: str | None) -> list[InfoDtmf]:
    """DTMF digits of a call's INFO requests, each (CSeq, body) once: a retransmission or a
    proxy's copy is the same digit."""
    dtmf: list[InfoDtmf] = []
    seen_info: set[tuple[int, bytes]] = set()
    for captured in infos:
        message = captured.message
        assert message.cseq is not None  # only INFOs with a CSeq were kept
        info_key = (message.cseq.number, message.body)
        if info_key in seen_info:
            continue  # a retransmission or a proxy's copy
        seen_info.add(info_key)
        digit = _parse_info_dtmf(captured, caller_tag)
        if digit is not None:
            dtmf.append(digit)
    return dtmf


def _c_summary_setup(callwalk: ModuleType) -> None:
    """The C road's setup where the walk, the grouping, Call and the SDP list it reads are
    set up by their own roads (refused unless all are in C)."""
    from rtcscope.sip.dialogs import CALLS_ROAD

    if "python" in (WALK_ROAD, SDP_ROAD, CALLS_ROAD):
        raise TypeError("the C summary reads what the C walk, grouping and SDP list read")
    _c_summary_give(callwalk)


def _c_summary_give(callwalk: ModuleType) -> None:
    """Give the C road the class it makes, the message class it reads directly, the states
    it gives and the two Python steps it calls."""
    from rtcscope.sip.message import SipMessage

    states: tuple[CallState, ...] = (_RINGING, _IN_PROGRESS, _NO_RESPONSE, _ANSWERED)
    states += (_ACK_MISSING, _CANCELLED, _BUSY, _REDIRECTED, _FAILED)
    names = tuple(f.name for f in fields(CallSummary))
    callwalk.setup_summary(CallSummary, names, SipMessage, states, _info_digits, endpoint)


def _index_by_call_id(
    announcements: Iterable[MediaAnnouncement],
) -> dict[str | None, list[MediaAnnouncement]]:
    """Each Call-ID's announcements, in order."""
    by_call_id: dict[str | None, list[MediaAnnouncement]] = {}
    for announcement in announcements:
        found = by_call_id.get(announcement.call_id)
        if found is None:
            by_call_id[announcement.call_id] = [announcement]
        else:
            found.append(announcement)
    return by_call_id


def _c_counts_setup(callwalk: ModuleType) -> None:
    """Give the C counts the summary class whose slots they read."""
    callwalk.setup_counts(CallSummary)


# SipStatistics.add_calls' counts in C where it was built (rtcscope.sip._callwalk.count_calls:
# what _count_calls_py returns, or None for a call it does not read itself: the Python road).
_count_calls: Callable[[list[CallSummary]], _Counted | None] | None = c_accelerator(
    _c_counts_setup, "count_calls"
)
COUNTS_ROAD = "python" if _count_calls is None else "c"


# The summary of a usual call (one leg in time order, its caller's initial INVITE), marks
# found call by call, in C where it was built (rtcscope.sip._callwalk.summarize_one: what
# _summarize builds, or None for any other call: _summarize does it); None on the Python road.
_summarize_one: Callable[[int, list[Call], Sequence[MediaAnnouncement], CodecNames], Any] | None = (
    c_accelerator(_c_summary_setup, "summarize_one")
)
SUMMARY_ROAD = "python" if _summarize_one is None else "c"


def summarize_calls(
    messages: Sequence[CapturedMessage],
    announcements: Sequence[MediaAnnouncement] | None = None,
    dialogs: Sequence[Call] | None = None,
    first_ns: int | None = None,
) -> CallsResult:
    """Calls, statistics and per-message marks from captured SIP messages (capture order).
    ``dialogs`` (``find_calls(messages)``) may be given when the caller has them already
    (the capture model shares them with the diagnosis). ``first_ns``: the capture's first
    packet, where every relative time counts from (tshark's ``frame.time_relative``);
    without it, the first SIP message."""
    statistics = SipStatistics()
    if announcements is None:
        from rtcscope.sip.capture import media_announcements

        announcements = media_announcements(cast("list[CapturedSip]", list(messages)))
    if dialogs is None:
        dialogs = find_calls(messages)
    # The marks are found call by call, and the statistics added up from the calls, when
    # every message is in a call (has a Call-ID: the tracker files the others under "") and
    # no two messages share a frame (the marks are kept by frame); else in one pass here.
    marks: dict[int, MessageMarks] | None = None
    every_message_in_a_call = sum(len(call.messages) for call in dialogs) == len(messages)
    if not every_message_in_a_call or not (
        _frames_rise(messages) or len(set(map(_FRAME, messages))) == len(messages)
    ):
        feed = WiresharkSipTracker().feed
        add = statistics.add
        marks = {}
        for captured in messages:
            mark = feed(captured)
            add(captured, mark)
            if mark is not NO_MARKS:
                marks[captured.frame] = mark
    # When every message is in a call, the capture's list serves link_legs' look for the
    # linking headers.
    groups = link_legs(dialogs, messages if every_message_in_a_call else None)
    # Each call gets its own announcements through an index by Call-ID (no scan per call).
    by_call_id = _index_by_call_id(announcements)
    no_announcements: list[MediaAnnouncement] = []
    names: CodecNames = {}
    # (The C road, where it is, when the marks are found call by call; None: declined.)
    summarize_one = _summarize_one if marks is None else None
    calls: list[CallSummary] = []
    for i, legs in enumerate(groups, 1):
        if len(legs) == 1:
            call_announcements = by_call_id.get(legs[0].call_id, no_announcements)
            if summarize_one is not None:
                summary = summarize_one(i, legs, call_announcements, names)
                if summary is not None:
                    calls.append(summary)
                    continue
        else:
            call_announcements = [a for leg in legs for a in by_call_id.get(leg.call_id, ())]
        calls.append(_summarize(i, legs, marks, call_announcements, names))
    if marks is None:
        statistics.add_calls(calls)
    # By start, then index: the calls are in index order here and the sort is stable, so
    # the start alone orders them so (no key tuple made per call).
    calls.sort(key=_START)
    for i, call in enumerate(calls):
        call.index = i + 1
    if first_ns is None:
        first_ns = min((m.ts_ns for m in messages), default=0)
    return CallsResult(calls, statistics, list(messages), first_ns)


def attach_streams(calls: Iterable[CallSummary], streams: Iterable[RtpStream]) -> None:
    """Give each call the RTP streams it set up.

    A stream named after a Call-ID (its SDP) goes to that call. Otherwise a stream whose
    source or destination an SDP announced goes to the call whose SDP announced it last
    before the stream started: phones reuse their media ports call after call. Both look-ups
    go through indexes (Call-ID; media endpoint -> announcements sorted by time), so the work
    is linear in calls and streams.
    """
    calls = list(calls)
    by_call_id: dict[str, CallSummary] = {}
    for call in calls:
        call.streams = []
        for leg in call.legs:
            by_call_id[leg.call_id] = call  # call_ids: the last call naming one wins
    # The endpoint index is built when a stream first needs it (most streams are named after
    # their call's Call-ID by the SDP that set them up).
    announced: dict[tuple[str, int], list[tuple[int, int]]] | None = None
    times: dict[tuple[str, int], list[int]] = {}
    for stream in streams:
        owner = by_call_id.get(stream.call_id) if stream.call_id is not None else None
        if owner is None:
            if announced is None:
                announced = _announced_endpoints(calls, times)
            best: tuple[int, int] | None = None  # (ts, -order): latest, then first call
            for end in (
                (stream.key.dst, stream.key.dst_port),
                (stream.key.src, stream.key.src_port),
            ):
                at_end = announced.get(end)
                if not at_end:
                    continue
                at = bisect_right(times[end], stream.start_ns) - 1
                if at < 0:
                    continue
                ts = at_end[at][0]
                first = bisect_left(times[end], ts)  # the first call announcing it then
                candidate = (ts, -at_end[first][1])
                if best is None or candidate > best:
                    best = candidate
            if best is not None:
                owner = calls[-best[1]]
        if owner is not None:
            owner.streams.append(stream)


def _announced_endpoints(
    calls: list[CallSummary], times: dict[tuple[str, int], list[int]]
) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """Media endpoint -> (time first announced, call order), sorted; ``times`` gets the
    times alone (for bisect)."""
    announced: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for order, call in enumerate(calls):
        for end, ts in call.media_endpoints.items():
            announced[end].append((ts, order))
    for end, entries in announced.items():
        entries.sort()
        times[end] = [ts for ts, _ in entries]
    return announced


@dataclass(frozen=True, slots=True)
class IcmpEvent:
    """An ICMP error quoting a datagram of the capture (who reported it, about what)."""

    frame: int
    ts_ns: int
    reporter: str  # the address that sent the ICMP error
    error: IcmpError


def icmp_for_call(call: CallSummary, events: Iterable[IcmpEvent]) -> list[IcmpEvent]:
    """ICMP errors about a datagram between two of the call's SIP or RTP endpoints."""
    flows: set[tuple[str, int, str, int]] = set()
    for m in call.messages:
        flows.add((m.src, m.sport, m.dst, m.dport))
    for s in call.streams:
        flows.add((s.key.src, s.key.src_port, s.key.dst, s.key.dst_port))
    lo, hi = call.start_ns, call.last_ns + 64 * 500_000_000  # RFC 3261 timer B/F span
    return [
        e
        for e in events
        if (e.error.quoted_src, e.error.quoted_sport, e.error.quoted_dst, e.error.quoted_dport)
        in flows
        and lo <= e.ts_ns <= hi
    ]


def _sip_label(captured: CapturedMessage) -> str:
    message = captured.message
    if message.is_request:
        label = message.request_method or "?"
    else:
        label = f"{message.status_code} {message.reason or ''}".rstrip()
        if message.cseq is not None and message.cseq.method.upper() != "INVITE":
            label += f" ({message.cseq.method})"
    if message.has_sdp:
        label += " SDP"
    return label


def call_ladder(
    call: CallSummary,
    nodes: NodeMap,
    *,
    rtp: bool = True,
    icmp: Sequence[IcmpEvent] = (),
) -> Ladder:
    """The call's ladder: one column per node it touched, SIP rows, RTP and ICMP rows."""
    from rtcscope.sip.ladder import Ladder, LadderColumn, LadderRow
    from rtcscope.sip.nodes import Node

    columns: list[Node] = []
    extra: dict[str, Node] = {}

    def column_for_endpoint(ep: str) -> int:
        node = nodes.node_of(ep)
        if node is None:
            node = extra.setdefault(ep, Node(ep, [ep]))
        if node not in columns:
            columns.append(node)
        return columns.index(node)

    def column_for_host(address: str, port: int) -> int:
        node = nodes.node_for_host(address)
        if node is None:
            node = extra.setdefault(address, Node(address, []))
            ep = endpoint(address, port)
            if ep not in node.addresses:
                node.addresses.append(ep)
        if node not in columns:
            columns.append(node)
        return columns.index(node)

    rows: list[LadderRow] = []
    for m in call.messages:
        src, dst = column_for_endpoint(source(m)), column_for_endpoint(destination(m))
        mark = call.marks.get(m.frame)
        cseq = m.message.cseq
        rows.append(
            LadderRow(
                kind="sip",
                frame=m.frame,
                ts_ns=m.ts_ns,
                src=src,
                dst=dst,
                label=_sip_label(m),
                detail=f"{source(m)} -> {destination(m)} {m.transport.upper()}"
                + (f" CSeq {cseq}" if cseq is not None else ""),
                resent_of=mark.resent_of if mark is not None else 0,
                status=m.message.status_code,
                has_sdp=m.message.has_sdp,
            )
        )
    if rtp:
        for s in call.streams:
            src = column_for_host(s.key.src, s.key.src_port)
            dst = column_for_host(s.key.dst, s.key.dst_port)
            rows.append(
                LadderRow(
                    kind="rtp",
                    frame=s.first_frame,
                    ts_ns=s.start_ns,
                    src=src,
                    dst=dst,
                    label=f"RTP {s.codec or f'PT{s.payload_type}'} {s.stats.packets} packets",
                    detail=f"{s.key.src}:{s.key.src_port} -> {s.key.dst}:{s.key.dst_port} "
                    f"SSRC 0x{s.key.ssrc:08X}, lost {s.stats.lost}, "
                    f"{(s.end_ns - s.start_ns) / 1e9:.3f} s",
                )
            )
    for event in icmp:
        error = event.error
        src = column_for_host(event.reporter, 0)
        dst = column_for_host(error.quoted_src, error.quoted_sport)
        rows.append(
            LadderRow(
                kind="icmp",
                frame=event.frame,
                ts_ns=event.ts_ns,
                src=src,
                dst=dst,
                label=f"ICMP {error.description}",
                detail=f"about {endpoint(error.quoted_src, error.quoted_sport)} -> "
                f"{endpoint(error.quoted_dst, error.quoted_dport)} (type {error.type} "
                f"code {error.code})",
            )
        )
    rows.sort(key=lambda r: (r.ts_ns, r.frame))
    notes = [
        f"state: {call.state.value}"
        + (f", final {call.final_status} {call.final_reason or ''}" if call.final_status else "")
        + (f", BYE from the {call.ended_by}" if call.ended_by else "")
    ]
    if call.state is CallState.ACK_MISSING:
        notes.append(f"no ACK reached {call.uas}, which sent the 2xx (RFC 3261 13.3.1.4)")
    if call.resent:
        notes.append(f"{call.resent} retransmissions (marked resent)")
    for digit in call.dtmf:
        notes.append(f"INFO DTMF {digit.signal} from the {digit.sender} (frame {digit.frame})")
    title = f"Call {call.index}: {call.from_uri or '?'} -> {call.to_uri or '?'} [{call.call_id}]"
    return Ladder(
        title=title,
        columns=[LadderColumn(n.name, tuple(n.addresses)) for n in columns],
        rows=rows,
        start_ns=call.start_ns,
        notes=notes,
    )
