"""Transaction checks (RFC 3261 17, 9, 16.7; RFC 3262; RFC 3311; RFC 6141).

The INVITE's final answer as the caller saw it, an INVITE still unanswered when the capture
ends (Timer B runs only in the Calling state, 17.1.1.2: a provisional response, reliable or
not, moves the transaction to Proceeding, where no transaction timer ends it), CANCEL and its
race with the 2xx, To tags kept by proxies (16.7), the ACK to a non-2xx final on every hop
(17.1.1.3), and re-INVITEs/UPDATEs refused (488: the media change failed, the call goes on).
"""

from __future__ import annotations

from collections import defaultdict

from rtcscope.sip.diagnosis.base import TIMER_64T1_NS, CheckerBase, make_finding
from rtcscope.sip.diagnosis.model import Finding, PathStep, RequestPath
from rtcscope.sip.routing import same_uri, uris
from rtcscope.sip.transactions import (
    CapturedMessage,
    Transaction,
    destination,
    source,
)


class TransactionChecks(CheckerBase):
    def check_unanswered_invite(self, first: Transaction, request: CapturedMessage) -> None:
        """No final response: ringing (Proceeding) is not a fault; silence past Timer B is."""
        waited_s = (self.end_ns - request.ts_ns) / 1e9
        provisional = [
            r for t in self.initial_invites for r in t.provisionals if t.client == first.client
        ]
        if provisional:
            codes = sorted({r.message.status_code or 0 for r in provisional})
            # The evidence: the first ringing/progress response, else the 100 Trying.
            provisional.sort(key=lambda r: ((r.message.status_code or 0) <= 100, r.ts_ns))
            reliable = any(
                self.transactions_of("PRACK", c) for c in {t.cseq + 1 for t in self.initial_invites}
            ) or any(p.message.header_values("RSeq") for p in provisional)
            self.add(
                "invite-ringing-at-capture-end",
                f"INVITE still ringing at the capture's last SIP message, {waited_s:.1f} s "
                f"after it was sent: provisional {', '.join(map(str, codes))}"
                + (" (reliable, PRACKed: RFC 3262)" if reliable else "")
                + "; Proceeding has no transaction timeout (RFC 3261 17.1.1.2)",
                element=first.server,
                frames=[request.frame, provisional[0].frame],
                ts_ns=request.ts_ns,
            )
            return
        late = self.end_ns - request.ts_ns >= TIMER_64T1_NS
        self.add(
            "invite-no-final-response" if late else "invite-unanswered-at-capture-end",
            f"INVITE got no response in {waited_s:.1f} s"
            + ("" if late else " (the capture ends before Timer B, 32 s: too early to tell)"),
            element=first.server,
            frames=[r.frame for r in first.requests[:5]],
            ts_ns=request.ts_ns,
        )

    def check_refresh_answers(self) -> None:
        """A re-INVITE or UPDATE refused: the session stays as it was (RFC 3261 14.1, 14.2;
        RFC 3311 5.2). Reported once per request, from the final its sender got."""
        seen: set[tuple[str, int]] = set()
        for txn in self.refresh_transactions:  # the initial INVITE: check_final_answers
            request = txn.request
            if request is None or (txn.method, txn.cseq) in seen:
                continue
            finals = [f for t in self.transactions_of(txn.method, txn.cseq) for f in t.finals]
            failed = [f for f in finals if (f.message.status_code or 0) >= 300]
            if not failed:
                continue
            seen.add((txn.method, txn.cseq))
            # The copy that reached the request's sender (fewest Vias) and the one that left
            # the element refusing it (most Vias).
            final = min(failed, key=lambda f: (self.via_count(f), f.ts_ns))
            origin = max(failed, key=lambda f: (self.via_count(f), -f.ts_ns))
            code = final.message.status_code or 0
            what = "re-INVITE" if txn.method == "INVITE" else "UPDATE"
            self.add(
                "reinvite-glare" if code == 491 else "reinvite-rejected",
                f"the {what} (CSeq {txn.cseq}) from {source(request)} was answered "
                f"{origin.message.summary} by {source(origin)}"
                + (
                    ""
                    if code == 491
                    else ": the media change failed, the call goes on with the old session"
                ),
                element=source(origin),
                frames=[request.frame, origin.frame, final.frame],
                ts_ns=final.ts_ns,
            )

    def check_final_answers(self, invites: list[Transaction]) -> None:
        first = invites[0]
        request = first.request
        if request is None:
            return
        cancels = [t for t in self.transactions_of("CANCEL", first.cseq) if t.requests]
        if all(t.final is None for t in invites):
            self.check_unanswered_invite(first, request)
            return
        # The status the caller saw: the final answer to its last INVITE (after a 401/407
        # challenge the caller retries with a new CSeq), on the caller's own leg.
        uac_invites = [t for t in invites if t.requests]
        if len(uac_invites) > 1:  # several hops (or a retry): the caller's has the fewest Vias
            fewest_vias = min(self.via_count(t.requests[0]) for t in uac_invites)
            uac_invites = [t for t in uac_invites if self.via_count(t.requests[0]) == fewest_vias]
        final = uac_invites[-1].final
        if final is not None:
            self.check_status(final, cancels)
        if cancels:
            self.check_cancel_answers(cancels)
            self.check_cancel_race(invites, cancels)

    def check_status(self, final: CapturedMessage, cancels: list[Transaction]) -> None:
        code = final.message.status_code or 0
        if code < 300:
            return  # answered: nothing to say about the status
        self.findings.append(
            status_finding(final, code, bool(cancels), self.call.call_id, self.start_ns)
        )

    def check_cancel_answers(self, cancels: list[Transaction]) -> None:
        """9.2: the server answers a CANCEL that matches its INVITE with 200 at once."""
        for cancel in cancels:
            status = cancel.final_status
            if status is not None and 200 <= status < 300:
                continue
            first = cancel.requests[0]
            copies = len(cancel.requests)
            answer = f"answered {cancel.final.message.summary}" if cancel.final else "unanswered"
            self.add(
                "cancel-not-accepted",
                f"the CANCEL from {cancel.client} to {cancel.server} was {answer} "
                f"({copies} cop{'y' if copies == 1 else 'ies'} sent)",
                element=cancel.server,
                frames=[first.frame] + ([cancel.final.frame] if cancel.final else []),
                ts_ns=first.ts_ns,
            )

    def check_cancel_race(self, invites: list[Transaction], cancels: list[Transaction]) -> None:
        cancel = min((c.requests[0] for c in cancels), key=lambda m: m.ts_ns)
        answers = [
            f
            for t in invites
            for f in t.finals
            if 200 <= (f.message.status_code or 0) < 300 and f.ts_ns >= cancel.ts_ns
        ]
        if not answers:
            return
        answer = answers[0]
        byes = [
            t
            for t in self.call.transactions
            if t.method == "BYE" and t.requests and t.requests[0].ts_ns >= answer.ts_ns
        ]
        self.add(
            "cancel-race" if byes else "cancel-race-no-bye",
            "CANCEL crossed the 2xx: the call was answered after the caller cancelled"
            + ("; a BYE ended it" if byes else " and no BYE followed"),
            element=source(answer),
            frames=[cancel.frame, answer.frame],
            ts_ns=cancel.ts_ns,
        )

    def check_response_tags(self) -> None:
        """A proxy forwards responses unchanged but for its Via (16.7): the To tag stays."""
        responses = self.repeated_responses()
        by_branches: dict[tuple[tuple[str, ...], int], CapturedMessage] = {}
        for r in responses:
            key = (self.via_branches(r), r.message.status_code or 0)
            by_branches.setdefault(key, r)
        for (branches, code), upstream in by_branches.items():
            if len(branches) < 2:
                continue
            downstream = by_branches.get((branches[1:], code))
            if downstream is None:
                continue
            if upstream.message.to_tag != downstream.message.to_tag:
                self.add(
                    "proxy-changed-to-tag",
                    f"{source(downstream)} forwarded {upstream.message.summary} with To tag "
                    f"{downstream.message.to_tag!r}, but the UAS sent tag "
                    f"{upstream.message.to_tag!r}",
                    element=source(downstream),
                    frames=[upstream.frame, downstream.frame],
                    ts_ns=downstream.ts_ns,
                )

    def repeated_responses(self) -> list[CapturedMessage]:
        """The initial INVITEs' responses above 100 whose status was seen more than once:
        what :meth:`check_response_tags` compares (a pair is two copies of one status code:
        a code seen once has nothing to compare with, and its Via stack need not be read)."""
        responses = [
            r
            for t in self.initial_invites
            for r in t.responses
            if (r.message.status_code or 0) > 100
        ]
        per_code: dict[int, int] = {}
        for r in responses:
            code = r.message.status_code or 0
            per_code[code] = per_code.get(code, 0) + 1
        if len(per_code) == len(responses):
            return []  # every code once (most calls)
        return [r for r in responses if per_code[r.message.status_code or 0] > 1]

    def check_non_2xx_acks(self) -> None:
        """17.1.1.3: on every hop, the client ACKs a non-2xx final itself: same branch (it is
        part of the INVITE transaction), same Request-URI as the INVITE, sent to the same
        server. The hops' ACKs are also listed as one path, in the INVITE's hop order."""
        if not any(
            (r.message.status_code or 0) >= 300
            for t in self.initial_invites
            if t.requests
            for r in t.responses
        ):
            return  # no INVITE refused: no ACK to a non-2xx to check (most calls)
        steps_by_cseq: dict[int, list[PathStep]] = defaultdict(list)
        missing_by_cseq: dict[int, list[str]] = defaultdict(list)
        for txn in self.initial_invites:
            steps = steps_by_cseq[txn.cseq]
            missing = missing_by_cseq[txn.cseq]
            if not txn.requests:
                continue
            finals = [f for f in txn.finals if (f.message.status_code or 0) >= 300]
            if not finals:
                continue
            invite = txn.requests[0]
            if not txn.acks:
                missing.append(f"{txn.client} -> {txn.server}")
                if len(finals) > 1:
                    self.add(
                        "non2xx-no-ack",
                        f"{finals[0].message.summary} sent {len(finals)} times by {txn.server}: "
                        f"{txn.client} never ACKed it",
                        element=txn.client,
                        frames=[f.frame for f in finals],
                        ts_ns=finals[0].ts_ns,
                    )
                continue
            ack = txn.acks[0]
            step = non_2xx_ack_step(
                txn,
                self.max_forwards(ack),
                tuple([str(u) for u in uris(self.routes(ack))]),
                self.via_count(ack),
            )
            steps.append(step)
            if (ack.dst, ack.dport) != (invite.dst, invite.dport):
                step.problems.append("sent to another hop than the INVITE")
                self.add(
                    "non2xx-ack-wrong-hop",
                    f"the ACK to {finals[0].message.summary} went to {destination(ack)}, "
                    f"not to the hop that got the INVITE ({txn.server})",
                    element=txn.client,
                    frames=[ack.frame, finals[0].frame],
                    ts_ns=ack.ts_ns,
                )
            # The same text is the same URI (parsed once per text, or unreadable in both):
            # only another text is parsed and compared.
            if invite.message.request_uri_text == ack.message.request_uri_text:
                continue
            in_uri, ack_uri = invite.message.request_uri, ack.message.request_uri
            if in_uri is not None and ack_uri is not None and not same_uri(in_uri, ack_uri):
                step.problems.append("Request-URI differs from the INVITE's")
                self.add(
                    "non2xx-ack-request-uri",
                    f"{txn.client} ACKed {finals[0].message.summary} with Request-URI "
                    f"<{ack_uri}>, not the INVITE's <{in_uri}>",
                    element=txn.client,
                    frames=[invite.frame, ack.frame],
                    ts_ns=ack.ts_ns,
                )
        for cseq, steps in steps_by_cseq.items():
            if not steps:
                continue
            self.paths.append(
                non_2xx_ack_path(self.call.call_id, cseq, steps, missing_by_cseq[cseq])
            )

    # -- the 2xx and its ACK -----------------------------------------------------------------


# -- what the checks make, shared with the usual refused call's C road ----------------------
# (rtcscope.sip.diagnosis: _routescan.usual_refused finds the facts, these make the rest)


def status_finding(
    final: CapturedMessage, code: int, cancelled: bool, call_id: str, start_ns: int
) -> Finding:
    """:meth:`TransactionChecks.check_status`'s finding on the INVITE's final answer
    ``final`` of status ``code`` (300 or more); ``cancelled``: a CANCEL of the INVITE was
    sent."""
    text = final.message.summary
    element, frames, ts_ns = source(final), [final.frame], final.ts_ns
    if code == 408:
        summary = f"INVITE answered {text}: a hop's transaction timed out"
        return make_finding(
            "invite-408", summary, call_id, start_ns, element=element, frames=frames, ts_ns=ts_ns
        )
    if code == 481:
        summary = f"INVITE answered {text}: the dialog or transaction is unknown"
        return make_finding(
            "invite-481", summary, call_id, start_ns, element=element, frames=frames, ts_ns=ts_ns
        )
    if code == 483:
        summary = f"INVITE answered {text}: Max-Forwards ran out (a routing loop)"
        return make_finding(
            "invite-483", summary, call_id, start_ns, element=element, frames=frames, ts_ns=ts_ns
        )
    if code != 487:
        challenge = code in (401, 407)
        summary = f"the call ended with {text}" + (
            ": the caller did not retry with credentials" if challenge else ""
        )
        return make_finding(
            "invite-failed", summary, call_id, start_ns, element=element, frames=frames, ts_ns=ts_ns
        )
    summary = f"INVITE answered {text}" + (
        " after the caller's CANCEL" if cancelled else " without a CANCEL in the capture"
    )
    return make_finding(
        "invite-cancelled" if cancelled else "invite-487-without-cancel",
        summary,
        call_id,
        start_ns,
        element=element,
        frames=frames,
        ts_ns=ts_ns,
    )


def non_2xx_ack_step(
    txn: Transaction, max_forwards: int | None, routes: tuple[str, ...], vias: int
) -> PathStep:
    """:meth:`TransactionChecks.check_non_2xx_acks`'s step of the transaction's first ACK,
    with what was read of it."""
    ack = txn.acks[0]
    return PathStep(
        frame=ack.frame,
        ts_ns=ack.ts_ns,
        src=source(ack),
        dst=destination(ack),
        request_uri=ack.message.request_uri_text or "",
        max_forwards=max_forwards,
        routes=routes,
        vias=vias,
        copies=len(txn.acks),
    )


def non_2xx_ack_path(
    call_id: str, cseq: int, steps: list[PathStep], missing: list[str]
) -> RequestPath:
    """:meth:`TransactionChecks.check_non_2xx_acks`'s path of the ACKs to the refusals of
    the INVITE ``cseq`` (``missing``: the hops without one)."""
    outcome = "hop-by-hop" if not missing else "missing on " + ", ".join(missing)
    last = steps[-1]
    return RequestPath(
        call_id=call_id,
        method="ACK (non-2xx)",
        cseq=cseq,
        steps=steps,
        outcome=outcome,
        last_hop=f"{last.src} -> {last.dst} (frame {last.frame})",
    )
