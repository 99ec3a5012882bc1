"""Calls as they end, for a capture read as it grows, and the call filters applied while a
capture is read. Sans-IO: both are fed SIP messages in capture order; time is the capture's.

:class:`CallTracker` keeps each Call-ID's messages while its call is open and hands the call
back, summarised by :mod:`rtcscope.sip.calls` (the same summary ``rtcscope calls`` prints),
as soon as it is over:

- an INVITE call whose BYE got a final response (RFC 3261 15.1.1: the session is over);
- an INVITE call that was never answered, once the caller ACKed the final non-2xx response
  (17.1.1.3: the INVITE transaction is done; CANCEL ends this way too, with 487 and ACK,
  9.1). After 401/407 (22.2), 422 (RFC 4028 6) and 3xx (8.1.3.4) the caller usually sends a
  new INVITE in the same Call-ID: the call is final only if none comes within
  ``RETRY_GRACE_NS`` of capture time;
- another exchange (REGISTER, OPTIONS, MESSAGE, ...) once its request got a final response
  (with the same grace after 401/407); SUBSCRIBE/REFER dialogs (NOTIFYs follow) end by the
  quiet timeout;
- any call with no message for ``idle_ns`` of capture time (``answered_idle_ns`` once it
  was answered: an answered call is quiet for as long as the conversation lasts);
- at the end of the input (:meth:`CallTracker.finish`), every call still open, as it stands.

A response ends a transaction only on its way back to the request's first sender: in a
capture of several hops each proxy answers and ACKs its own hop first (RFC 3261 16.7, 17).

Memory: the messages of open calls only (a few KB per message), plus the Call-IDs of calls
that ended within ``DONE_LINGER_NS`` with their requests' CSeqs (late copies of their
messages are dropped, not taken for new calls; a new request in the same Call-ID, a
REGISTER refresh say, starts a new entry). A finished call's messages are released once
handed back. Unlike ``calls`` on a whole capture, calls are not linked across Call-IDs (a
B2BUA's legs are two calls) and a Call-ID used for several exchanges over time (REGISTER
refreshes) is printed once per exchange.

:class:`MessageFilter` keeps the messages of the calls a person asks about (``--call-id``,
``--from``, ``--to``, ``--since``/``--until``, ``--host``) and drops the others as they are
framed, so a busy capture's other calls cost neither memory nor the call analysis.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import OrderedDict
from dataclasses import field
from typing import Literal

from rtcscope._dataclass import dataclass
from rtcscope.errors import InvalidArgument
from rtcscope.sip.calls import CallSummary, summarize_calls
from rtcscope.sip.capture import CapturedSip, MediaAnnouncement, MediaAnnouncer
from rtcscope.sip.transactions import endpoint

NS = 1_000_000_000
# RFC 3261 17.1.1.2: 64*T1 (32 s) bounds every retransmission of a transaction; copies of a
# finished call's last messages arrive within it.
DONE_LINGER_NS = 32 * NS
# How long a challenged or redirected caller gets to send its next INVITE/REGISTER (a phone
# may take seconds to answer a REGISTER challenge; one transaction's lifetime, 64*T1).
RETRY_GRACE_NS = 32 * NS
# Final responses after which the same Call-ID usually goes on (auth, session timer, redirect).
_RETRY_STATUSES = frozenset({401, 407, 422}) | frozenset(range(300, 400))
# Methods whose dialogs outlive their first transaction (RFC 6665 subscriptions, RFC 3515).
_DIALOG_METHODS = frozenset({"SUBSCRIBE", "REFER", "NOTIFY"})

EndReason = Literal["ended", "idle", "open"]


@dataclass(slots=True)
class FinishedCall:
    """A call handed back by the tracker: its summary (as ``calls`` makes it), its messages
    and SDP announcements, and why it was handed back (``ended``: the dialog is over;
    ``idle``: the quiet timeout; ``open``: the input ended while it was open)."""

    summary: CallSummary
    messages: list[CapturedSip]
    announcements: list[MediaAnnouncement]
    reason: EndReason


@dataclass(slots=True)
class _OpenCall:
    index: int
    call_id: str
    messages: list[CapturedSip] = field(default_factory=list)
    announcer: MediaAnnouncer = field(default_factory=MediaAnnouncer)
    announcements: list[MediaAnnouncement] = field(default_factory=list)
    last_ns: int = 0
    invite: bool = False  # an initial INVITE (no To tag) was seen
    initial_cseqs: set[int] = field(default_factory=set)
    answered: bool = False  # a 2xx to an initial INVITE
    rejected: int | None = None  # the non-2xx final to the last initial INVITE
    ending_at: int | None = None  # final at this capture time unless the call goes on
    # (CSeq number, method) -> where the request was first seen coming from (its originator:
    # in a capture of several hops, the response's last hop goes back to it).
    origins: dict[tuple[int, str], str] = field(default_factory=dict)


class CallTracker:
    """Sans-IO: feed SIP messages in capture order, get each call once it is over (module
    docstring). ``idle_ns``: quiet time after which a call not answered is handed back;
    ``answered_idle_ns``: the same for an answered call."""

    def __init__(self, idle_ns: int = 60 * NS, answered_idle_ns: int = 3600 * NS) -> None:
        if idle_ns <= 0 or answered_idle_ns <= 0:
            raise ValueError("the quiet timeouts must be positive")
        self.idle_ns = idle_ns
        self.answered_idle_ns = answered_idle_ns
        self.first_ns: int | None = None  # the first message's time (times are relative to it)
        self.now_ns: int | None = None  # the latest capture time seen
        self.calls_seen = 0
        self.dropped_after_end = 0  # messages of calls already handed back (retransmissions)
        # Open calls in order of their last message, one dict per quiet timeout.
        self._setup: OrderedDict[str, _OpenCall] = OrderedDict()
        self._talking: OrderedDict[str, _OpenCall] = OrderedDict()
        self._grace: list[tuple[int, int, str]] = []  # (ending_at, index, call_id) heap
        # call_id -> (when it was handed back, its requests' (CSeq number, method)).
        self._done: OrderedDict[str, tuple[int, frozenset[tuple[int, str]]]] = OrderedDict()

    @property
    def open_calls(self) -> int:
        return len(self._setup) + len(self._talking)

    @property
    def open_messages(self) -> int:
        """Messages held (the tracker's memory is about this times a few KB)."""
        return sum(len(c.messages) for d in (self._setup, self._talking) for c in d.values())

    def feed(self, captured: CapturedSip) -> list[FinishedCall]:
        """Take one message; return the calls that are over by its time (this one's too)."""
        ts = captured.ts_ns
        out = self.advance(ts)
        if self.first_ns is None:
            self.first_ns = ts
        message = captured.message
        call_id = message.call_id or ""
        ended = self._done.get(call_id)
        if ended is not None:
            cseq = message.cseq
            key = (cseq.number, cseq.method.upper()) if cseq is not None else None
            if message.is_response or key is None or key[1] == "ACK" or key in ended[1]:
                self.dropped_after_end += 1  # a late copy of the ended call's messages
                return out
            del self._done[call_id]  # a new request in the same Call-ID (a REGISTER refresh)
        call = self._setup.get(call_id) or self._talking.get(call_id)
        if call is None:
            self.calls_seen += 1
            call = _OpenCall(self.calls_seen, call_id)
            self._setup[call_id] = call
        else:
            (self._talking if call.answered else self._setup).move_to_end(call_id)
        call.messages.append(captured)
        call.last_ns = max(call.last_ns, ts)
        call.announcements.extend(call.announcer.feed(captured))
        ending = self._ending(call, captured)
        if ending is not None:
            if ending == 0:
                out.append(self._hand_back(call, "ended"))
            else:
                call.ending_at = ts + ending
                heapq.heappush(self._grace, (call.ending_at, call.index, call_id))
        return out

    def _ending(self, call: _OpenCall, captured: CapturedSip) -> int | None:
        """Whether this message ends the call: None (no), 0 (now) or a grace in ns."""
        message = captured.message
        cseq = message.cseq
        if cseq is None:
            return None
        method = cseq.method.upper()
        status = message.status_code or 0
        if message.is_request:
            sender = endpoint(captured.src, captured.sport)
            origin = call.origins.setdefault((cseq.number, method), sender)
            if method == "INVITE" and message.to_tag is None:
                call.invite = True
                call.initial_cseqs.add(cseq.number)
                call.ending_at = None  # a retry after a challenge or a redirect goes on
                call.rejected = None
                return None
            if (
                method == "ACK"
                and call.rejected is not None
                and not call.answered
                and cseq.number in call.initial_cseqs
                and sender == call.origins.get((cseq.number, "INVITE"), origin)
            ):
                # 17.1.1.3: the ACK of a non-2xx final response ends the INVITE transaction;
                # each proxy ACKs its own hop (17.2.1), the caller's ACK comes last.
                return RETRY_GRACE_NS if call.rejected in _RETRY_STATUSES else 0
            if not call.invite and method not in ("ACK", "CANCEL"):
                call.ending_at = None  # a new request of a non-INVITE exchange goes on
            return None
        if status < 200:
            return None
        sent_to = call.origins.get((cseq.number, method))
        at_origin = sent_to is None or sent_to == endpoint(captured.dst, captured.dport)
        if method == "INVITE":
            if cseq.number not in call.initial_cseqs:
                return None  # a re-INVITE's outcome does not end the dialog
            if status < 300:
                if not call.answered:
                    call.answered = True
                    moved = self._setup.pop(call.call_id, None)
                    if moved is not None:
                        self._talking[call.call_id] = moved
            else:
                call.rejected = status
            return None
        if not at_origin:
            return None  # a hop on the way back: the copy to the request's sender follows
        if method == "BYE":
            return 0  # 15.1.1: a final response to BYE ends the session
        if not call.invite and method not in _DIALOG_METHODS and method != "CANCEL":
            return RETRY_GRACE_NS if status in (401, 407) else 0
        return None

    def advance(self, now_ns: int) -> list[FinishedCall]:
        """Capture time is ``now_ns``: hand back the calls whose grace or quiet time is over
        (a feed that goes quiet can be advanced by the caller's own clock)."""
        if self.now_ns is None or now_ns > self.now_ns:
            self.now_ns = now_ns
        now = self.now_ns
        out: list[FinishedCall] = []
        grace = self._grace
        while grace and grace[0][0] <= now:
            ending_at, _, call_id = heapq.heappop(grace)
            call = self._setup.get(call_id) or self._talking.get(call_id)
            if call is not None and call.ending_at == ending_at:
                out.append(self._hand_back(call, "ended"))
        for calls, quiet in ((self._setup, self.idle_ns), (self._talking, self.answered_idle_ns)):
            while calls:
                call = next(iter(calls.values()))
                if call.last_ns + quiet >= now:
                    break
                out.append(self._hand_back(call, "idle"))
        done = self._done
        while done:
            call_id, (at, _) = next(iter(done.items()))
            if at + DONE_LINGER_NS >= now:
                break
            del done[call_id]
        out.sort(key=lambda f: f.summary.index)
        return out

    def finish(self) -> list[FinishedCall]:
        """The input ended: every call still open, in the order they started."""
        pending = sorted([*self._setup.values(), *self._talking.values()], key=lambda c: c.index)
        return [self._hand_back(c, "ended" if c.ending_at is not None else "open") for c in pending]

    def _hand_back(self, call: _OpenCall, reason: EndReason) -> FinishedCall:
        self._setup.pop(call.call_id, None)
        self._talking.pop(call.call_id, None)
        self._done[call.call_id] = (self.now_ns or call.last_ns, frozenset(call.origins))
        self._done.move_to_end(call.call_id)
        result = summarize_calls(call.messages, call.announcements)
        summary = result.calls[0]
        summary.index = call.index
        return FinishedCall(summary, call.messages, call.announcements, reason)


# -- filters applied while the capture is read ----------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeBound:
    """A time on the capture's clock: absolute (ns since the epoch) or seconds after its
    first packet (``relative``)."""

    ns: int
    relative: bool

    def resolve(self, origin_ns: int) -> int:
        return origin_ns + self.ns if self.relative else self.ns


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls to keep. ``call_id``: a Call-ID contains this; ``from_``/``to``: the From
    (To) URI of an out-of-dialog request of the call contains this, any case (so ``alice``
    matches ``sip:alice@a.example``; the call's messages are kept from the first such
    request on, and the ones before it while no other request said otherwise);
    ``since``/``until``: the call's first message is in this window; ``hosts``: only
    messages sent from or to these addresses (networks allowed: ``10.0.0.0/24``), as a
    capture filter ``host X`` would keep them."""

    call_id: str | None = None
    from_: str | None = None
    to: str | None = None
    since: TimeBound | None = None
    until: TimeBound | None = None
    hosts: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.call_id or self.from_ or self.to or self.since or self.until or self.hosts)


def parse_networks(hosts: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Host filters as networks (an address is a /32 or /128); InvalidArgument names a bad
    one."""
    out = []
    for text in hosts:
        try:
            out.append(ipaddress.ip_network(text.strip().strip("[]"), strict=False))
        except ValueError:
            raise InvalidArgument("hosts", f"{text!r} is not an IP address or network") from None
    return out


# A Call-ID's state in the filter: kept; dropped for good (outside the time window); waiting
# for its first out-of-dialog request (From/To); dropped until a request matches From/To.
_KEEP, _DROP, _WAIT, _NOT_YET = range(4)


class MessageFilter:
    """Sans-IO: feed SIP messages in capture order with the capture's first packet time;
    get back the ones of the calls the :class:`CallFilter` keeps (possibly later: a call's
    messages wait until its first out-of-dialog request says whether From/To match).

    A Call-ID's decision is kept while it has messages; with ``forget_after_ns`` it is
    dropped after that much quiet capture time (bounded memory on an endless feed)."""

    def __init__(self, rules: CallFilter, forget_after_ns: int | None = None) -> None:
        self.rules = rules
        self.forget_after_ns = forget_after_ns
        self._networks = parse_networks(rules.hosts)
        self._host_hits: dict[str, bool] = {}
        self._from = rules.from_.lower() if rules.from_ else None
        self._to = rules.to.lower() if rules.to else None
        # call_id -> (its state, last time seen).
        self._decided: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._waiting: dict[str, list[CapturedSip]] = {}
        self.dropped = 0
        # The first SIP message's time, kept or not (a base for live mode when the capture's
        # first packet is not known).
        self.first_ns: int | None = None

    def _host_ok(self, address: str) -> bool:
        hit = self._host_hits.get(address)
        if hit is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                hit = False
            else:
                hit = any(ip in net for net in self._networks)
            if len(self._host_hits) < 65536:
                self._host_hits[address] = hit
        return hit

    def __call__(self, captured: CapturedSip, origin_ns: int | None) -> list[CapturedSip]:
        return self.feed(captured, origin_ns)

    def feed(self, captured: CapturedSip, origin_ns: int | None) -> list[CapturedSip]:
        rules = self.rules
        if self.first_ns is None:
            self.first_ns = captured.ts_ns
        if self._networks and not (self._host_ok(captured.src) or self._host_ok(captured.dst)):
            self.dropped += 1
            return []
        message = captured.message
        call_id = message.call_id or ""
        if rules.call_id and rules.call_id not in call_id:
            self.dropped += 1
            return []
        ts = captured.ts_ns
        self._forget(ts)
        decided = self._decided.get(call_id)
        if decided is None:
            origin = ts if origin_ns is None else origin_ns
            in_window = (rules.since is None or ts >= rules.since.resolve(origin)) and (
                rules.until is None or ts <= rules.until.resolve(origin)
            )
            state = (
                _WAIT if in_window and (self._from or self._to) else _KEEP if in_window else _DROP
            )
        else:
            state = decided[0]
            self._decided.move_to_end(call_id)
        if state in (_WAIT, _NOT_YET) and message.is_request and message.to_tag is None:
            # An out-of-dialog request says whether From/To match. A Call-ID may carry
            # several (a REGISTER series whose From changes): a later match keeps the call
            # from that request on.
            matched = self._uri_match(message.from_, self._from) and self._uri_match(
                message.to, self._to
            )
            waiting = self._waiting.pop(call_id, [])
            self._decided[call_id] = (_KEEP if matched else _NOT_YET, ts)
            if matched:
                return [*waiting, captured]
            self.dropped += len(waiting) + 1
            return []
        self._decided[call_id] = (state, ts)
        if state == _KEEP:
            return [captured]
        if state == _WAIT:
            self._waiting.setdefault(call_id, []).append(captured)
            return []
        self.dropped += 1
        return []

    @staticmethod
    def _uri_match(value: object, wanted: str | None) -> bool:
        if wanted is None:
            return True
        uri = getattr(value, "uri", None)
        return uri is not None and wanted in str(uri).lower()

    def _forget(self, now_ns: int) -> None:
        limit = self.forget_after_ns
        if limit is None:
            return
        decided = self._decided
        while decided:
            call_id, (_, seen) = next(iter(decided.items()))
            if seen + limit >= now_ns:
                break
            del decided[call_id]
            self.dropped += len(self._waiting.pop(call_id, []))
