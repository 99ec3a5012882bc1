"""What every concern's checks share: the call being checked, its indexes, and ``add``.

A check states a catalogue code and its evidence (summary with the numbers, element, frames,
time, detail); severity, rule and fix come from :mod:`.catalogue`. The indexes are built
once per call (or once per capture for ICMP) so that no check scans every message of the
capture: the diagnosis stays linear in the number of calls and messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from functools import cached_property

from rtcscope._dataclass import dataclass
from rtcscope.errors import SipError
from rtcscope.sip.diagnosis.catalogue import kind
from rtcscope.sip.diagnosis.model import Finding, IcmpReport, RequestPath
from rtcscope.sip.dialogs import Call, Dialog
from rtcscope.sip.headers import NameAddr
from rtcscope.sip.routing import (
    UriSet,
    addresses_of,
    header_via_branches,
    may_hold_route,
    message_contact_text,
    message_max_forwards,
    raw_may_hold_route,
    routing_header_values,
    same_uris,
    uris,
)
from rtcscope.sip.transactions import (
    CapturedMessage,
    Transaction,
    destination,
    source,
)
from rtcscope.sip.uri import Uri, parse_uri_once

# RFC 3261 13.3.1.4 / 17.1.1.2: transactions are judged over 64*T1.
T1_NS = 500_000_000
TIMER_64T1_NS = 64 * T1_NS
ICMP_WINDOW_NS = 5_000_000_000
TARGET_REFRESH_METHODS = ("INVITE", "UPDATE")  # RFC 3261 12.2, RFC 3311 5.1
_UNREAD = ""  # contact_text's answer not read yet (a read answers a URI's text or None)
# transactions_of reads a call of at most this many transactions directly, without building
# by_method_cseq: the common call (INVITE, ACK, BYE) asks only for its CANCEL, and building the
# index for it cost more (diagnosis of bench capture b: about 1.0 s read directly, 1.0-1.4 s
# always through the index).
_FEW_TRANSACTIONS = 4


class IcmpIndex:
    """ICMP reports by the datagram they quote (source, port, destination, port)."""

    def __init__(self, reports: Iterable[IcmpReport] = ()) -> None:
        self._by_flow: dict[tuple[str, int, str, int], list[IcmpReport]] = defaultdict(list)
        for report in reports:
            key = (report.quoted_src, report.quoted_sport, report.quoted_dst, report.quoted_dport)
            self._by_flow[key].append(report)

    def __bool__(self) -> bool:
        """Whether the capture holds any ICMP error (most do not)."""
        return bool(self._by_flow)

    def about(self, copy: CapturedMessage) -> IcmpReport | None:
        """The first ICMP error quoting this datagram within 5 s after it."""
        if not self._by_flow:
            return None  # the capture holds no ICMP error (the usual case)
        for report in self._by_flow.get((copy.src, copy.sport, copy.dst, copy.dport), ()):
            if 0 <= report.ts_ns - copy.ts_ns <= ICMP_WINDOW_NS:
                return report
        return None


@dataclass(slots=True)
class Node:
    """Copies of a request that share one Via stack: one hop, maybe repeated."""

    branches: tuple[str, ...]
    copies: list[CapturedMessage]
    # copies[0], kept: copies are only appended (in capture order), and the checks ask for
    # it a dozen times per hop.
    first: CapturedMessage = field(init=False)

    def __post_init__(self) -> None:
        self.first = self.copies[0]


Branches = Callable[[CapturedMessage], tuple[str, ...]]


def chain_copies(copies: Sequence[CapturedMessage], via_branches: Branches) -> list[Node]:
    """Link copies of one request hop by hop: the next hop's Vias below the top are ours.
    ``via_branches``: a copy's Via branches, top first (the checker's own reader)."""
    if len(copies) == 1:  # the common case: one hop, sent once
        return [Node(via_branches(copies[0]), [copies[0]])]
    nodes: dict[tuple[str, ...], Node] = {}
    for copy in sorted(copies, key=lambda c: (c.ts_ns, c.frame)):
        branches = via_branches(copy)
        node = nodes.get(branches)
        if node is None:
            nodes[branches] = Node(branches, [copy])
        else:
            node.copies.append(copy)
    if not nodes:
        return []
    # a copy without Via (branches ()) is its own parent: then the chain starts at the first
    roots = [n for n in nodes.values() if n.branches[1:] not in nodes] or list(nodes.values())
    root = min(roots, key=lambda n: (len(n.branches), n.first.ts_ns))
    children: dict[tuple[str, ...], list[Node]] = defaultdict(list)
    for node in nodes.values():
        if len(node.branches) > 1 and node.branches[1:] in nodes:
            children[node.branches[1:]].append(node)
    chain = [root]
    seen = {root.branches}
    while True:
        nxt = children.get(chain[-1].branches)
        if not nxt:
            break
        best = min(nxt, key=lambda n: n.first.ts_ns)
        if best.branches in seen:
            break
        seen.add(best.branches)
        chain.append(best)
    return chain


def record_route_insertions(
    call: Call,
    record_routes: Callable[[CapturedMessage], list[NameAddr]],
    via_branches: Branches,
) -> tuple[dict[str, UriSet], set[str]]:
    """Per proxy address, the Record-Route values it added to the INVITE (16.6 step 4), and
    the addresses seen forwarding the INVITE in this capture.

    A proxy's copy of the INVITE has one Via more than the copy it received and the same
    Record-Route list with its own value(s) on top; the values are filed under the address it
    received on and the address it sent from (a double Record-Route's two interfaces).
    ``record_routes``, ``via_branches``: a message's Record-Route values and Via branches
    (the checker's own readers).
    """
    copies = [r for t in call.initial_invites for r in t.requests]
    by_branches: dict[tuple[str, ...], CapturedMessage] = {}
    for copy in copies:
        by_branches.setdefault(via_branches(copy), copy)
    inserted: dict[str, UriSet] = defaultdict(UriSet)
    forwarders: set[str] = set()
    for branches, sent in by_branches.items():
        received = by_branches.get(branches[1:]) if len(branches) > 1 else None
        if received is None:
            continue
        forwarders.add(destination(received))
        forwarders.add(source(sent))
        before = uris(record_routes(received))
        after = uris(record_routes(sent))
        added = len(after) - len(before)
        if added > 0 and same_uris(after[added:], before):
            for key in (destination(received), source(sent)):
                for uri in after[:added]:
                    inserted[key].add(uri)
    return dict(inserted), forwarders


def make_finding(
    code: str,
    summary: str,
    call_id: str,
    start_ns: int,
    *,
    element: str = "",
    frames: Iterable[int] = (),
    ts_ns: int | None = None,
    detail: str = "",
    last_hop: str = "",
) -> Finding:
    """A finding of catalogue ``code`` with its evidence, its time from ``start_ns``
    (:meth:`CheckerBase.add`'s, and the usual refused call's made without a checker)."""
    row = kind(code)
    return Finding(
        severity=row.severity,
        code=code,
        call_id=call_id,
        summary=summary,
        element=element,
        frames=tuple(sorted(set(frames)))[:20],
        time_s=None if ts_ns is None else (ts_ns - start_ns) / 1e9,
        rfc=row.rule,
        fix=row.fix,
        detail=detail,
        last_hop=last_hop,
    )


class CheckerBase:
    """One call under diagnosis: its messages' indexes and the findings made so far."""

    # Whether the direct roads for the common case are taken (PathChecks.trace_direct); the
    # full checks (False) are their specification, which the tests compare them with.
    lean = True

    def __init__(self, call: Call, icmp: IcmpIndex, start_ns: int, end_ns: int) -> None:
        self.call = call
        self.icmp = icmp
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.findings: list[Finding] = []
        self.paths: list[RequestPath] = []
        # re-INVITEs and UPDATEs (RFC 3261 12.2, RFC 3311): an INVITE or UPDATE with a To tag
        # (or seen by its responses only), in capture order; most calls have none.
        self.refresh_transactions: list[Transaction] = []
        self.initial_invites = invites = call.initial_invites
        # An INVITE is a refresh exactly when it is not an initial one (with its request,
        # without a To tag): with no UPDATE and every INVITE an initial one, none to look for.
        methods = [txn.method for txn in call.transactions]
        if "UPDATE" in methods or methods.count("INVITE") != len(invites):
            for txn in call.transactions:
                if txn.method in TARGET_REFRESH_METHODS:
                    request = txn.request
                    if request is None or request.message.to_tag:
                        self.refresh_transactions.append(txn)
        # Contact, Route, Record-Route and Max-Forwards values of a message, read together on
        # first use, and the addresses parsed from them, by id of the captured message: the
        # call's messages outlive the checker, so an id names one message here. One dict per
        # header (no look-up of the header's dict per read: a clean call asks about eight
        # times); those the common call's direct road reads are made here, the others on
        # first use (below).
        self._lowered: dict[int, bytes] = {}
        self._contact_texts: dict[int, str | None] = {}
        self._routes: dict[int, list[NameAddr]] = {}
        self._record_routes: dict[int, list[NameAddr]] = {}
        self.caller_tag = call.caller_tag

    # The other per-message reads, kept from their first use (most calls never make them).

    @cached_property
    def _origins(self) -> dict[int, CapturedMessage]:
        """answer_origin, per dialog (by id: one Dialog per callee tag, alive as long as the
        checker; hashing a DialogId costs more than the look-up saves)."""
        return {}

    @cached_property
    def _values(self) -> dict[int, dict[str, list[str]]]:
        return {}

    @cached_property
    def _max_forwards(self) -> dict[int, int | None]:
        return {}

    @cached_property
    def _contacts(self) -> dict[int, list[NameAddr]]:
        return {}

    @cached_property
    def _contact_uris(self) -> dict[int, Uri | None]:
        return {}

    @cached_property
    def _branches(self) -> dict[int, tuple[str, ...]]:
        """Via branches, by id of the message."""
        return {}

    # Found on first use: only a proxy's step and a request that stopped short ask for them,
    # and reading every message's Record-Route costs more than all of a clean call's checks.

    @cached_property
    def recorded(self) -> UriSet:
        """Every Record-Route value of the call: what 16.4 calls "a value this proxy placed
        into a Record-Route header field"."""
        return UriSet(
            uri for captured in self.call.messages for uri in uris(self.record_routes(captured))
        )

    @cached_property
    def by_method_cseq(self) -> dict[tuple[str, int], list[Transaction]]:
        """The call's transactions by method and CSeq number (the common call, on its direct
        road, never asks)."""
        found: dict[tuple[str, int], list[Transaction]] = defaultdict(list)
        for txn in self.call.transactions:
            found[(txn.method, txn.cseq)].append(txn)
        return found

    @cached_property
    def invite_answers(self) -> list[CapturedMessage]:
        """The initial INVITEs' responses from 101 to 299 (what creates and confirms
        dialogs), in transaction order."""
        return [
            r
            for t in self.initial_invites
            for r in t.responses
            if 101 <= (r.message.status_code or 0) < 300
        ]

    @cached_property
    def by_branch(self) -> dict[str, list[Transaction]]:
        """Transactions by the top Via branch of their first request (else response): only
        a request that was not delivered asks who answered it."""
        found: dict[str, list[Transaction]] = defaultdict(list)
        for txn in self.call.transactions:
            for message in (*txn.requests[:1], *txn.responses[:1]):
                branch = message.message.branch
                if branch:
                    found[branch].append(txn)
                    break
        return found

    # A message's Contact, Route, Record-Route and Max-Forwards, read through its header
    # values alone (:func:`rtcscope.sip.routing.routing_header_values`, the four in one read):
    # the same values as the message's properties, without parsing and checking every other
    # header of it. Each read once per message: a proxy's copies are asked again at every step.

    def lowered(self, captured: CapturedMessage) -> bytes:
        """The message's bytes lower-cased, once: what the reads below search."""
        found = self._lowered.get(id(captured))
        if found is None:
            found = self._lowered[id(captured)] = captured.message.raw.lower()
        return found

    def header_values(self, captured: CapturedMessage) -> dict[str, list[str]]:
        found = self._values.get(id(captured))
        if found is None:
            found = self._values[id(captured)] = routing_header_values(
                captured.message, self.lowered(captured)
            )
        return found

    def _route_values(
        self, captured: CapturedMessage, name: str, read: dict[int, list[NameAddr]]
    ) -> list[NameAddr]:
        """Route or Record-Route (``name``) of a message, kept in ``read``: absent from most
        messages, which is known at once."""
        key = id(captured)
        found = read.get(key)
        if found is None:
            lowered = self._lowered.get(key)
            if lowered is not None:
                holds = may_hold_route(lowered)
            else:  # (the bytes as they are: in C, no lower-cased copy made for this)
                holds = raw_may_hold_route(captured.message.raw)
            if not holds:
                found = read[key] = []
            else:
                values = self.header_values(captured).get(name)
                found = read[key] = addresses_of(values) if values else []
        return found

    def contacts(self, captured: CapturedMessage) -> list[NameAddr]:
        found = self._contacts.get(id(captured))
        if found is None:
            values = self.header_values(captured).get("Contact")
            found = self._contacts[id(captured)] = addresses_of(values) if values else []
        return found

    def contact_text(self, captured: CapturedMessage) -> str | None:
        """``str(contacts(captured)[0].uri)`` where the bytes show it plainly, without
        reading the other headers or building the address
        (:func:`~rtcscope.sip.routing.message_contact_text`); None otherwise (no Contact, or
        not plainly written: ask :meth:`contact_uri`). The direct roads' first question
        about a Contact, asked of the 2xx or the INVITE once per in-dialog request."""
        key = id(captured)
        found = self._contact_texts.get(key, _UNREAD)
        if found == _UNREAD:
            # (the lowered bytes where another read made them: the C road reads the usual
            # line without them)
            plain = message_contact_text(captured.message.raw, self._lowered.get(key))
            found = self._contact_texts[key] = plain or None
        return found

    def contact_uri(self, captured: CapturedMessage) -> Uri | None:
        """``contacts(captured)[0].uri`` (None without a Contact): the text that
        :meth:`contact_text` found, parsed once per text, else the Contact values read."""
        key = id(captured)
        if key in self._contact_uris:
            return self._contact_uris[key]
        text = self.contact_text(captured)
        found: Uri | None = None
        if text is not None:
            try:
                found = parse_uri_once(text)
            except SipError:
                found = None  # (not for a usual shape: read the values)
        if found is None:
            contacts = self.contacts(captured)
            found = contacts[0].uri if contacts else None
        self._contact_uris[key] = found
        return found

    def routes(self, captured: CapturedMessage) -> list[NameAddr]:
        found = self._routes.get(id(captured))
        return found if found is not None else self._route_values(captured, "Route", self._routes)

    def record_routes(self, captured: CapturedMessage) -> list[NameAddr]:
        found = self._record_routes.get(id(captured))
        if found is not None:
            return found
        return self._route_values(captured, "Record-Route", self._record_routes)

    def max_forwards(self, captured: CapturedMessage) -> int | None:
        key = id(captured)
        if key in self._max_forwards:
            return self._max_forwards[key]
        # The lowered bytes where another read made them, else none: the C road reads the
        # usual line without them.
        found = self._max_forwards[key] = message_max_forwards(
            captured.message, self._lowered.get(key)
        )
        return found

    def via_branches(self, captured: CapturedMessage) -> tuple[str, ...]:
        """The message's Via branches, top first (:func:`header_via_branches`), read once."""
        found = self._branches.get(id(captured))
        if found is None:
            found = self._branches[id(captured)] = header_via_branches(captured.message)
        return found

    def via_count(self, captured: CapturedMessage) -> int:
        """``len(message.vias)``: the readable Via values (one branch each)."""
        return len(self.via_branches(captured))

    @cached_property
    def _insertions(self) -> tuple[dict[str, UriSet], set[str]]:
        return record_route_insertions(self.call, self.record_routes, self.via_branches)

    @property
    def inserted(self) -> dict[str, UriSet]:
        """Per proxy address, the Record-Route values it added (:func:`record_route_insertions`)."""
        return self._insertions[0]

    @property
    def forwarders(self) -> set[str]:
        """The addresses seen forwarding the INVITE in this capture."""
        return self._insertions[1]

    def t(self, ts_ns: int) -> float:
        return (ts_ns - self.start_ns) / 1e9

    def add(
        self,
        code: str,
        summary: str,
        *,
        element: str = "",
        frames: Iterable[int] = (),
        ts_ns: int | None = None,
        detail: str = "",
        last_hop: str = "",
    ) -> None:
        """Record a finding of catalogue ``code`` with its evidence."""
        self.findings.append(
            make_finding(
                code,
                summary,
                self.call.call_id,
                self.start_ns,
                element=element,
                frames=frames,
                ts_ns=ts_ns,
                detail=detail,
                last_hop=last_hop,
            )
        )

    # -- shared look-ups -----------------------------------------------------------------

    def transactions_of(self, method: str, cseq: int) -> list[Transaction]:
        """The call's transactions of this method and CSeq number, in the call's order: from
        :attr:`by_method_cseq`, or read off the few transactions of a call that has not
        built it (most calls ask only for CANCEL: a read of a few costs less than the
        index; a call of more builds it, and each question stays one look-up)."""
        transactions = self.call.transactions
        if len(transactions) > _FEW_TRANSACTIONS or "by_method_cseq" in self.__dict__:
            return self.by_method_cseq.get((method, cseq), [])
        return [t for t in transactions if t.method == method and t.cseq == cseq]

    def answer_from(self, request: CapturedMessage) -> CapturedMessage | None:
        """The final response the receiver of ``request`` sent back on that hop, if any."""
        branch = request.message.branch
        for txn in self.by_branch.get(branch or "", ()):
            for response in txn.finals:
                if response.src == request.dst:
                    return response
        return None

    def answer_origin(self, dialog: Dialog) -> CapturedMessage:
        """The copy of the dialog's 2xx that left the UAS: the one with the most Vias (a
        proxy that changed the To tag made its copy look like another dialog's)."""
        found = self._origins.get(id(dialog))
        if found is None:
            found = self._origins[id(dialog)] = self._answer_origin(dialog)
        return found

    def _answer_origin(self, dialog: Dialog) -> CapturedMessage:
        answers = list(dialog.answers)
        cseq = answers[0].message.cseq
        all_2xx = [
            r
            for t in self.initial_invites
            for r in t.finals
            # CSeqs are parsed once per text: mostly the same object, compared without __eq__
            if 200 <= (r.message.status_code or 0) < 300
            and (r.message.cseq is cseq or r.message.cseq == cseq)
        ]
        pool = answers
        if len(all_2xx) == 1 and len(answers) == 1 and all_2xx[0] is answers[0]:
            return answers[0]  # one copy of one 2xx (no proxy, not resent): no Via to count
        if all_2xx and max(self.via_count(r) for r in all_2xx) > max(
            self.via_count(a) for a in answers
        ):
            pool = all_2xx
        max_vias = max(self.via_count(a) for a in pool)
        return next(a for a in pool if self.via_count(a) == max_vias)

    def reaches(self, request: CapturedMessage, uas_answer: CapturedMessage) -> bool:
        if (request.dst, request.dport) == (uas_answer.src, uas_answer.sport):
            return True
        # Over TCP/TLS the UAS may answer from another port than it listens on.
        return request.transport != "udp" and request.dst == uas_answer.src

    def ack_copies(self, dialog: Dialog, cseq: int) -> list[CapturedMessage]:
        return [
            m
            for t in dialog.transactions
            if t.method == "ACK" and t.cseq == cseq
            for m in t.requests
        ]

    def ack_path_text(self, dialog: Dialog, cseq: int) -> str:
        copies = self.ack_copies(dialog, cseq)
        if not copies:
            return "no ACK in the capture"
        nodes = chain_copies(copies, self.via_branches)
        points = [source(nodes[0].first), *(destination(n.first) for n in nodes)]
        if len(points) > 8:
            points = [*points[:6], f"... ({len(nodes)} hops) ...", points[-1]]
        return f"ACK path in the capture: {' -> '.join(points)}"

    def last_hop_text(self, dialog: Dialog, cseq: int) -> str:
        copies = self.ack_copies(dialog, cseq)
        if not copies:
            return ""
        last = chain_copies(copies, self.via_branches)[-1].first
        return f"{source(last)} -> {destination(last)} (frame {last.frame})"

    def contact_owner(self, request_uri: Uri | None) -> CapturedMessage | None:
        """The message (INVITE, re-INVITE, UPDATE or their 2xx, first copy) whose Contact is
        this Request-URI: who advertised the target a request was sent to."""
        if request_uri is None:
            return None
        from rtcscope.sip.routing import same_uri

        for captured in self.call.messages:
            msg = captured.message
            if msg.is_response and not (200 <= (msg.status_code or 0) < 300):
                continue
            if msg.is_request and msg.method not in ("INVITE", "UPDATE"):
                continue
            for contact in self.contacts(captured):
                if contact.uri is not None and same_uri(contact.uri, request_uri):
                    return captured
        return None
