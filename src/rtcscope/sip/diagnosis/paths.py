"""Request paths (RFC 3261 12.2.1.1, 16): every in-dialog request followed hop by hop.

Each copy of an ACK, BYE, re-INVITE, ... in the capture is linked to the next hop's copy by
its Via stack (a proxy pushes one Via, so the next copy's Vias below the top are this copy's
Vias). The UA's first copy is compared with what its dialog says (12.2.1.1: the route set as
established, the peer's *latest* Contact as Request-URI), each proxy's step with
:func:`rtcscope.sip.routing.forward_as_proxy` (16.4, 16.5, 16.6; a proxy whose Record-Route
lacked ``;lr`` may route as an RFC 2543 strict router or restore the Request-URI as 16.4 says:
both pass). Where the chain stops is the last hop that carried it; ICMP errors quoting that
datagram, a Max-Forwards of 0 or a loop say why.

A rule broken on the way is an error only when the request then failed (ICMP, loop, drop, the
2xx retransmitted after the ACK passed, no answer): a request that arrived makes it the rule's
warning, and a last hop resolved by local policy (alias, DNS, location) mere context.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from rtcscope.sip.diagnosis.base import T1_NS, TIMER_64T1_NS, Node, chain_copies
from rtcscope.sip.diagnosis.catalogue import DELIVERED_VARIANT
from rtcscope.sip.diagnosis.dialogs import DialogChecks, TargetRefresh
from rtcscope.sip.diagnosis.model import DeliveredPath, IcmpReport, PathStep, RequestPath
from rtcscope.sip.dialogs import Dialog
from rtcscope.sip.nodes import host_of
from rtcscope.sip.routing import (
    InDialogRequest,
    format_uris,
    forward_as_proxy,
    in_dialog_request,
    normal_host,
    plain_sip_target,
    route_set_from_record_route,
    same_target,
    same_uri,
    same_uris,
    uri_endpoint,
    uri_host,
    uri_port,
    uris,
)
from rtcscope.sip.transactions import CapturedMessage, Transaction, destination, source
from rtcscope.sip.uri import Uri


class PathChecks(DialogChecks):
    @cached_property
    def _expected(self) -> dict[tuple[int, bool, int], tuple[list[Uri], InDialogRequest, str, int]]:
        """_expected_request's answers, by (id of the basis, by the caller, id of the
        refresh): the messages and refreshes outlive the checker (made on first use: the
        common call's direct road asks none)."""
        return {}

    def _in_dialog_groups(
        self, dialogs: Iterable[Dialog] | None = None
    ) -> dict[tuple[str, int], list[CapturedMessage]]:
        """The copies of each in-dialog request (method, CSeq) of ``dialogs`` (the call's)."""
        groups: dict[tuple[str, int], list[CapturedMessage]] = {}
        for dialog in self.call.dialogs if dialogs is None else dialogs:
            for txn in dialog.transactions:
                requests = txn.requests
                if requests:
                    key = (txn.method, txn.cseq)
                    copies = groups.get(key)
                    if copies is None:
                        groups[key] = list(requests)
                    else:
                        copies += requests
        return groups

    def check_in_dialog_paths(self) -> None:
        for (method, cseq), copies in self._in_dialog_groups().items():
            self.trace(method, cseq, copies)

    def trace(self, method: str, cseq: int, copies: list[CapturedMessage]) -> None:
        if self.lean and len(copies) == 1 and self.trace_direct(method, cseq, copies[0]):
            return
        self._trace_full(method, cseq, copies)

    def _trace_full(self, method: str, cseq: int, copies: list[CapturedMessage]) -> None:
        """:meth:`trace` without the direct road (which it is the specification of)."""
        chain = chain_copies(copies, self.via_branches)
        if not chain:
            return
        steps: list[PathStep] = []
        for node in chain:
            first = node.first
            routes = self.routes(first)
            steps.append(
                PathStep(
                    frame=first.frame,
                    ts_ns=first.ts_ns,
                    src=source(first),
                    dst=destination(first),
                    request_uri=first.message.request_uri_text or "",
                    routes=tuple([str(u) for u in uris(routes)]) if routes else (),
                    max_forwards=self.max_forwards(first),
                    vias=len(node.branches),
                    copies=len(node.copies),
                )
            )
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        if len(chain[0].branches) == 1:
            self.check_ua_request(method, chain[0].first, steps[0])
        for index in range(len(chain) - 1):
            self.check_proxy_step(method, chain[index], chain[index + 1], steps[index + 1])
        rewriter = None
        for step in steps:
            if "Request-URI rewritten" in step.problems:
                rewriter = step.src
                break
        end = steps[-1]
        last_hop = f"{end.src} -> {end.dst} (frame {end.frame})"
        outcome = self.classify_end(method, chain, last_hop, rewriter)
        if outcome == "loop":
            self.report_loop(method, chain)
        # A rule broken on the way is an error only when the request did not arrive where the
        # dialog needs it; otherwise it is the rule's warning (or, for a next hop resolved by
        # local policy, context).
        if self._pending:
            failed = self.failed(method, chain, outcome)
            for code, summary, evidence in self._pending:
                self.add(code if failed else DELIVERED_VARIANT[code], summary, **evidence)
        self.paths.append(
            RequestPath(
                call_id=self.call.call_id,
                method=method,
                cseq=cseq,
                steps=steps,
                outcome=outcome,
                last_hop=last_hop,
            )
        )

    def trace_direct(self, method: str, cseq: int, sent: CapturedMessage) -> bool:
        """:meth:`trace` of a request sent once, straight from one UA to the other (one Via, no
        Route) in the call's first dialog: the common ACK and BYE. When what the UA built and
        where it went are as its dialog says (address and port, also over TCP where the full
        check waives them), and it reached the far UA, the path is recorded here and True
        returned: :meth:`trace` would find nothing (the UA's check passes, the one step is
        "delivered", nothing deferred). Anything else (False) is left to :meth:`trace`.
        tests/sip/test_diagnosis_direct.py checks both roads agree."""
        msg = sent.message
        request_uri = msg.request_uri
        if (
            request_uri is None
            or self.icmp
            or self.refreshes
            or msg.sent_by is None
            or msg.via_value_count() != 1
            or self.routes(sent)
        ):
            return False
        dialog = self.call.dialogs[0]  # there is one: trace follows the dialogs' requests
        if not dialog.answers:
            return False
        # Where the request must end (_request_targets) ...
        origin = self._far_origin(sent, dialog, self.answer_origin(dialog))
        if origin is None:
            return False
        far = source(origin)
        if destination(sent) != far:
            return False
        # ... and what the UA based it on (check_ua_request): the 2xx it received, or the
        # INVITE it received.
        src = sent.src
        if msg.from_tag is not None and msg.from_tag == self.caller_tag:
            by_caller = True
            basis = next(
                (
                    r
                    for r in self.invite_answers
                    if r.dst == src
                    and r.ts_ns < sent.ts_ns
                    and r.message.to_tag == msg.to_tag
                    and (r.message.status_code or 0) >= 200
                ),
                None,
            )
        else:
            by_caller = False
            received = [r for t in self.initial_invites for r in t.requests if r.dst == src]
            basis = received[0] if len(received) == 1 else None
        if basis is None or self.contact_uri(basis) is None:
            return False
        _, expected, next_host, next_port = self._expected_request(basis, by_caller, None)
        if (
            expected.routes
            or not same_target(expected.request_uri, request_uri)
            or next_host != normal_host(sent.dst)
            or next_port != sent.dport
        ):
            return False
        self._record_direct(method, cseq, sent, far)
        return True

    def trace_dialog_direct(
        self, dialog: Dialog, answer: CapturedMessage, invite: Transaction
    ) -> None:
        """:meth:`check_in_dialog_paths` of a call on ``CallChecker.run_direct``'s road: one
        dialog (``dialog``), confirmed by one copy of one 2xx (``answer``, so its
        :meth:`answer_origin`), one initial INVITE transaction (``invite``), no Record-Route
        on the 2xx or on any copy of the INVITE (every route set is empty), no target
        refresh. A request sent once is followed as :meth:`trace_direct` follows it, with
        these facts known (where it must go: the 2xx's source or the INVITE's; what it was
        based on: the 2xx, or the one copy of the INVITE the callee received); any other is
        left to :meth:`trace`. tests/sip/test_diagnosis_direct.py checks both roads agree."""
        icmp = bool(self.icmp)
        # Where a request of the dialog must end (_far_origin, whose answers on this road are
        # known): the 2xx's source for the callee, the INVITE's for the caller; each written
        # out once, when first needed, and shared by the paths.
        ends: list[str | None] = [None, None]
        for (method, cseq), copies in self._in_dialog_groups((dialog,)).items():
            if icmp:
                self.trace(method, cseq, copies)  # trace_direct reads the ICMP errors
            elif len(copies) != 1 or not self._direct_in_dialog(
                method, cseq, copies[0], dialog, answer, invite, ends
            ):
                self._trace_full(method, cseq, copies)

    def _direct_in_dialog(
        self,
        method: str,
        cseq: int,
        sent: CapturedMessage,
        dialog: Dialog,
        answer: CapturedMessage,
        invite: Transaction,
        ends: list[str | None],
    ) -> bool:
        """:meth:`trace_direct` of ``sent`` on :meth:`trace_dialog_direct`'s road (its facts
        as arguments; ``ends``: the far ends written out so far, callee's then caller's)."""
        msg = sent.message
        if msg.sent_by is None or msg.via_value_count() != 1:
            return False
        if self.routes(sent):  # (known at once when "route" is nowhere in it)
            return False
        # _far_origin (the 2xx, or the one initial INVITE's first copy), compared by address
        # and port (what its text is made of, one to one)
        origin = self._far_origin(sent, dialog, answer)
        if origin is None or sent.dst != origin.src or sent.dport != origin.sport:
            return False
        side = 0 if origin is answer else 1
        far = ends[side]
        if far is None:
            far = ends[side] = source(origin)
        to_tag = msg.to_tag
        from_tag = msg.from_tag
        src = sent.src
        basis: CapturedMessage
        if from_tag is not None and from_tag == self.caller_tag:
            # The 2xx the caller received before sending it (trace_direct's basis: of the
            # INVITE's responses from 200 to 299, the answer is the first; else the full
            # road looks further).
            if not (
                answer.dst == src and answer.ts_ns < sent.ts_ns and answer.message.to_tag == to_tag
            ):
                return False
            basis = answer
        else:
            received = [r for r in invite.requests if r.dst == src]
            if len(received) != 1:
                return False
            basis = received[0]
        # Sent where the dialog says (check_ua_request, with no route set): the Request-URI
        # is the basis's Contact, and the next hop its host and port. The usual request
        # carries the Contact's very text, of the plainest shape: compared without parsing.
        text = self.contact_text(basis)
        plain = (
            plain_sip_target(text) if text is not None and text == msg.request_uri_text else None
        )
        if plain is not None:
            if plain[1] != sent.dport or plain[0] != normal_host(sent.dst):
                return False
        else:
            target = self.contact_uri(basis)
            request_uri = msg.request_uri
            if (
                target is None
                or request_uri is None
                or not same_target(target, request_uri)
                or uri_host(target) != normal_host(sent.dst)
                or uri_port(target) != sent.dport
            ):
                return False
        self._record_direct(method, cseq, sent, far)
        return True

    def _far_origin(
        self, sent: CapturedMessage, dialog: Dialog, origin: CapturedMessage
    ) -> CapturedMessage | None:
        """The message from whose source a request of ``dialog`` sent straight from one UA
        to the other must end (:meth:`_request_targets` without a target refresh): the 2xx
        (``origin``, its :meth:`answer_origin`) for the callee, the first initial INVITE for
        the caller; None when neither tag names the callee."""
        msg = sent.message
        callee_tag = dialog.id.callee_tag
        if msg.to_tag == callee_tag:
            return origin
        if msg.from_tag == callee_tag and self.initial_invites:
            return self.initial_invites[0].request
        return None

    def _record_direct(self, method: str, cseq: int, sent: CapturedMessage, far: str) -> None:
        """The path of a request sent once from one UA straight to the other, delivered
        (its step written out when read)."""
        self.paths.append(DeliveredPath(self.call.call_id, method, cseq, sent, far))

    def defer(self, code: str, summary: str, **evidence: Any) -> None:
        """A path finding whose severity depends on whether the request arrived."""
        self._pending.append((code, summary, evidence))

    def failed(self, method: str, chain: list[Node], outcome: str) -> bool:
        """Whether the capture shows the request failing to arrive where the dialog needs it:
        ICMP, a loop, a drop, or -- for the ACK -- the 2xx retransmitted after it passed
        (13.3.1.4), or -- for another request -- no final answer to its sender, or a 408/481
        (the far end never got it, or got it at the wrong place)."""
        if outcome in ("icmp", "loop", "max-forwards", "dropped"):
            return True
        if outcome == "delivered":
            return False
        first = chain[0].first
        if method == "ACK":
            sent_ns = chain[-1].first.ts_ns
            for dialog in self.call.dialogs:
                if first.message.to_tag != dialog.id.callee_tag or not dialog.answers:
                    continue
                origin = self.answer_origin(dialog)
                later = [
                    a
                    for a in dialog.answers
                    if source(a) == source(origin) and a.ts_ns > sent_ns + T1_NS
                ]
                return bool(later)
            return False
        answer = self.answer_from(first)
        if answer is None:
            return self.end_ns - first.ts_ns >= TIMER_64T1_NS
        return (answer.message.status_code or 0) in (408, 481)

    def check_ua_request(self, method: str, sent: CapturedMessage, step: PathStep) -> None:
        """12.2.1.1: the UA builds an in-dialog request from its route set and remote target:
        the caller from the 2xx it received (Record-Route reversed, Contact), the callee from
        the INVITE it received (Record-Route as is, Contact)."""
        msg = sent.message
        if msg.request_uri is None:
            return
        caller_tag = self.caller_tag
        by_caller = msg.from_tag is not None and msg.from_tag == caller_tag
        basis: CapturedMessage | None = None
        if by_caller:
            # The dialog's 2xx, or before it the 1xx that created the early dialog (a PRACK
            # or UPDATE is routed on the early dialog's route set, RFC 3261 12.1.2, RFC 3262).
            to_tag = msg.to_tag
            src, sent_ns = sent.src, sent.ts_ns
            received = [
                r
                for r in self.invite_answers
                if r.dst == src and r.ts_ns < sent_ns and r.message.to_tag == to_tag
            ]
            # The 1xx's Contact is read only when no 2xx came (it costs a header parse).
            for r in received:
                if (r.message.status_code or 0) >= 200:
                    basis = r
                    break
            if basis is None:
                basis = next((r for r in received if self.contacts(r)), None)
        else:
            received = [r for t in self.initial_invites for r in t.requests if r.dst == sent.src]
            basis = max(received, key=lambda r: self.via_count(r)) if received else None
        contacts = self.contacts(basis) if basis is not None else []
        if basis is None or not contacts or contacts[0].uri is None:
            return  # the capture does not show what this UA based the request on
        refresh = self.remote_target(by_caller, sent) if self.refreshes else None
        route_set, expected, next_host, next_port = self._expected_request(
            basis, by_caller, refresh
        )
        sent_routes = self.routes(sent)
        actual_routes = uris(sent_routes) if sent_routes else []
        same_count = len(expected.routes) == len(actual_routes)
        routes_match = same_count and (
            not actual_routes  # no route set, none sent (most dialogs)
            or all(same_target(x, y) for x, y in zip(expected.routes, actual_routes, strict=True))
        )
        # Over TCP/TLS/WS the UA reuses its connection (RFC 5626, 7118): no address to check.
        if (
            routes_match
            and same_target(expected.request_uri, msg.request_uri)
            and (
                sent.transport != "udp"
                or (next_host == normal_host(sent.dst) and next_port == sent.dport)
            )
        ):
            return  # built and sent as its dialog says
        # Something differs: the evidence is written out (only now: most requests match).
        ua = source(sent)
        role = "caller" if by_caller else "callee"
        frames = [basis.frame, sent.frame]
        if (
            not routes_match
            and same_count
            and all(
                same_target(x, y)
                for x, y in zip(expected.routes, reversed(actual_routes), strict=True)
            )
            and same_target(expected.request_uri, msg.request_uri)
        ):
            step.problems.append("route set in reverse order")
            self.add(
                "ua-route-set-reversed",
                f"the {role} {ua} sent its {method} with the route set in the wrong order: "
                f"Route {format_uris(actual_routes)}, its dialog says "
                f"{format_uris(expected.routes)}",
                element=ua,
                frames=frames,
                ts_ns=sent.ts_ns,
            )
            return
        if not routes_match or not same_target(expected.request_uri, msg.request_uri):
            basis_text = f"based on frame {basis.frame} ({basis.message.summary})"
            if refresh is not None:
                basis_text += (
                    f"; remote target from frame {refresh.origin.frame} "
                    f"({refresh.origin.message.summary})"
                )
            step.problems.append("not built from the route set (12.2.1.1)")
            self.defer(
                "ua-request-not-from-route-set",
                f"the {role} {ua} built its {method} with Request-URI <{msg.request_uri}> and "
                f"Route {format_uris(actual_routes)}; its dialog says <{expected.request_uri}> "
                f"and {format_uris(expected.routes)}",
                element=ua,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=basis_text,
            )
            return
        nxt = expected.next_hop
        step.problems.append("not sent to the first route / remote target")
        self.add(
            "ua-request-to-other-hop",
            f"the {role} {ua} sent its {method} to {destination(sent)}, but the dialog's "
            f"next hop is <{nxt}> ({uri_endpoint(nxt)})"
            + ("" if route_set else ": with no route set it goes to the peer's Contact"),
            element=ua,
            frames=frames,
            ts_ns=sent.ts_ns,
        )

    def _expected_request(
        self, basis: CapturedMessage, by_caller: bool, refresh: TargetRefresh | None
    ) -> tuple[list[Uri], InDialogRequest, str, int]:
        """What the UA's in-dialog request must be (12.2.1.1) given what it based it on, the
        route set, and the next hop's host and port; found once per basis and target (a
        dialog's ACK, BYE, ... share them). ``basis`` has a Contact (the caller checks)."""
        key = (id(basis), by_caller, id(refresh))
        found = self._expected.get(key)
        if found is None:
            route_set = route_set_from_record_route(self.record_routes(basis), uac=by_caller)
            # The remote target is the peer's latest Contact (a re-INVITE or UPDATE refreshes
            # it, 12.2.1.2 / 12.2.2); the route set stays as the dialog set it up (12.2).
            target = refresh.contact if refresh is not None else self.contact_uri(basis)
            assert target is not None
            expected = in_dialog_request(route_set, target)
            nxt = expected.next_hop
            found = self._expected[key] = (route_set, expected, uri_host(nxt), uri_port(nxt))
        return found

    def check_proxy_step(self, method: str, before: Node, after: Node, step: PathStep) -> None:
        received = before.first
        sent = after.first
        proxy = destination(received)
        in_msg = received.message
        out_msg = sent.message
        if in_msg.request_uri is None or out_msg.request_uri is None:
            return
        own_endpoints = {proxy, source(sent)}
        own_hosts = {received.dst.lower(), sent.src.lower()}

        inserted = [values for key in (proxy, source(sent)) if (values := self.inserted.get(key))]

        own_lower = {e.lower() for e in own_endpoints}  # once: owns() runs per Route value

        def owns(uri: Uri) -> bool:
            # Its own values: what it wrote into Record-Route on the INVITE (whatever address
            # it advertised there), or a URI naming the addresses it received and sent on.
            if any(uri in values for values in inserted):
                return True
            endpoint = uri_endpoint(uri).lower()
            if endpoint in own_lower:
                return True
            return uri_host(uri) in own_hosts and uri_port(uri) == received.dport

        in_routes = uris(self.routes(received))
        actual_routes = uris(self.routes(sent))
        in_max_forwards = self.max_forwards(received)
        out_max_forwards = self.max_forwards(sent)
        expected = forward_as_proxy(
            in_msg.request_uri, in_routes, in_max_forwards, owns, self.recorded
        )
        if expected.acts_as_strict_router and not (
            same_uri(expected.request_uri, out_msg.request_uri)
            and same_uris(expected.routes, actual_routes)
        ):
            # Its own Record-Route value had no ;lr, so the previous hop treated it as a
            # strict router (16.6 step 6); an RFC 3261 proxy then applies 16.4 (restore the
            # Request-URI from the last Route value) and routes loosely. Also correct.
            as_3261 = forward_as_proxy(
                in_msg.request_uri,
                in_routes,
                in_max_forwards,
                owns,
                self.recorded,
                strict_as_rfc2543=False,
            )
            if same_uri(as_3261.request_uri, out_msg.request_uri) and same_uris(
                as_3261.routes, actual_routes
            ):
                expected = as_3261
        frames = [received.frame, sent.frame]
        where = f"{method} frame {received.frame} -> frame {sent.frame}"
        if not same_uris(expected.routes, actual_routes):
            kept_own = [u for u in actual_routes if owns(u)]
            if kept_own:
                summary = (
                    f"{proxy} did not remove its own Route value {format_uris(kept_own)} "
                    f"from the {method}"
                )
            else:
                summary = f"{proxy} changed the {method}'s Route set beyond its own value(s)"
            self.defer(
                "proxy-route-not-removed" if kept_own else "proxy-route-changed",
                summary,
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=f"{where}: received Route {format_uris(in_routes)}; expected out "
                f"{format_uris(expected.routes)}; sent {format_uris(actual_routes)}",
            )
            step.problems.append("Route not as 16.4 requires")
        if expected.retargets and not same_uri(expected.request_uri, out_msg.request_uri):
            self.add(
                "proxy-retargeted-own-uri",
                f"{proxy} received the {method} with a Request-URI naming itself "
                f"<{in_msg.request_uri}> and retargeted it to <{out_msg.request_uri}>",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=f"{where}: the Request-URI is not one of its Record-Route values, so "
                "it is a URI this element is responsible for (it put itself in the peer's "
                "Contact: topology hiding, NAT handling or a B2BUA-like proxy)",
            )
        elif not same_uri(expected.request_uri, out_msg.request_uri):
            self.defer(
                "proxy-rewrote-request-uri",
                f"{proxy} rewrote the {method}'s Request-URI <{in_msg.request_uri}> to "
                f"<{out_msg.request_uri}>",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=f"{where}: expected Request-URI <{expected.request_uri}>",
            )
            step.problems.append("Request-URI rewritten")
        if (
            expected.max_forwards is not None
            and out_max_forwards is not None
            and out_max_forwards != expected.max_forwards
        ):
            self.add(
                "proxy-max-forwards",
                f"{proxy} forwarded the {method} with Max-Forwards {out_max_forwards}, "
                f"expected {expected.max_forwards}",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=where,
            )
            step.problems.append("Max-Forwards not decremented")
        nxt = expected.next_hop
        wrong_next_hop = uri_host(nxt) != sent.dst.lower() or (
            sent.transport == "udp" and uri_port(nxt) != sent.dport
        )
        # Only a finding when what was sent matches the rules otherwise (a changed Route or
        # Request-URI explains the destination already), and an error only when the request
        # then did not arrive: resolving the URI's host to another address (an alias, DNS
        # SRV/A, a location lookup, an outbound proxy) is local policy (16.6 step 7, RFC 3263).
        if wrong_next_hop and not step.problems and not expected.retargets:
            self.defer(
                "proxy-wrong-next-hop",
                f"{proxy} sent the {method} to {destination(sent)}, but the next hop is "
                f"<{nxt}> ({uri_endpoint(nxt)})",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=where,
            )
            step.problems.append("sent elsewhere than the next hop's URI names")
        if step.problems:
            return
        # Strict routing handled right: say so, it is the part engineers get wrong.
        if expected.strict_next_hop:
            self.add(
                "strict-next-hop-handled",
                f"{proxy} sent the {method} to the strict router <{expected.request_uri}> as "
                "16.6 step 6 says: its URI as Request-URI, the Request-URI moved to the end of "
                "Route",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=f"{where}: Route out {format_uris(actual_routes)}",
            )
        elif expected.strict_previous_hop:
            self.add(
                "strict-previous-hop-handled",
                f"{proxy} found its own Record-Route value as the {method}'s Request-URI (a strict "
                f"router before it) and restored <{out_msg.request_uri}> from the last Route "
                "value, as 16.4 says",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=where,
            )
        elif expected.acts_as_strict_router:
            self.add(
                "strict-router-step",
                f"{proxy} routed the {method} as a strict router: the first Route value "
                f"<{out_msg.request_uri}> became the Request-URI",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                detail=where,
            )

    def classify_end(
        self, method: str, chain: list[Node], last_hop: str, rewriter: str | None = None
    ) -> str:
        """How the request's path ended (``RequestPath.outcome``); ``last_hop`` is its text
        for the findings that name it."""
        last = chain[-1].first
        msg = last.message
        if len(chain) > 1 and self._is_loop(chain):  # one hop cannot repeat
            return "loop"
        targets = self._request_targets(chain[0].first, last)
        target = targets[0] if targets else None
        # ICMP first: reaching the target's address is no delivery if nothing listens there.
        icmp = self._icmp_for(chain[-1]) if self.icmp else None
        if icmp is None:
            for reached in targets:
                if self._reached(last, reached):
                    return "delivered"
        if icmp is not None:
            chooser = source(last)
            ruri = msg.request_uri
            cause = (
                f"it forwarded on the Request-URI <{ruri}>"
                if not self.routes(last)
                else f"it followed Route <{uris(self.routes(last))[0]}>"
            )
            element = destination(last)
            advertiser = self.contact_owner(ruri) if not self.routes(last) else None
            resolved = (
                not self.routes(last)
                and ruri is not None
                and uri_endpoint(ruri).lower() != destination(last).lower()
            )
            if rewriter is not None and not self.routes(last):
                cause += f", which {rewriter} had rewritten (proxy-rewrote-request-uri)"
                element = rewriter
            elif resolved:
                # The last proxy chose another address than the URI names (alias, DNS,
                # location): its choice, not the Contact, sent the request where nobody is.
                cause += f", resolved by {chooser} to {destination(last)}"
                element = chooser
                advertiser = None
            elif advertiser is not None:
                cause += (
                    f", the Contact that {source(advertiser)} advertised in "
                    f"{advertiser.message.summary} (frame {advertiser.frame})"
                )
                element = source(advertiser)
            self.add(
                "icmp-unreachable",
                f"the {method} sent by {chooser} to {destination(last)} got ICMP "
                f"{icmp.description} from {icmp.reporter}: nothing listens there ({cause})",
                element=element,
                frames=[last.frame, icmp.frame],
                ts_ns=icmp.ts_ns,
                detail=f"ICMP frame {icmp.frame} quotes {icmp.quoted_src}:{icmp.quoted_sport} -> "
                f"{icmp.quoted_dst}:{icmp.quoted_dport}\nhere: "
                + (
                    f"stop {rewriter} from rewriting the Request-URI of in-dialog requests"
                    if rewriter is not None and not self.routes(last)
                    else f"make {source(advertiser)} advertise a Contact where it listens (or "
                    "have the edge proxy fix the Contact): every in-dialog request goes there"
                    if advertiser is not None
                    else f"fix how {chooser} resolves <{ruri}> (alias, DNS, location): it "
                    "picked an address where nothing listens"
                    if resolved
                    else self._unreachable_fix(method, last)
                ),
                last_hop=last_hop,
            )
            return "icmp"
        max_forwards = self.max_forwards(last)
        if max_forwards is not None and max_forwards <= 0:
            return "max-forwards"
        answer = self.answer_from(last)
        if answer is not None and 200 <= (answer.message.status_code or 0) < 300:
            # Whoever received it accepted it: delivered, wherever the URI said to go.
            return "delivered"
        if target is None and self._reached_request_uri(last):
            return "delivered"
        receiver = destination(last)
        # Only say "dropped" where the capture shows this element forwarding requests (it
        # relayed the INVITE in this capture); elsewhere the request just left our view.
        if receiver in self.forwarders:
            why = ""
            if answer is not None:
                why = f" and answered {answer.message.summary} (frame {answer.frame})"
            elif not self.routes(last) and target is None:
                why = " (it carries no Route and its Request-URI is not this element's peer)"
            elif not self.routes(last):
                why = " (it carries no Route: the element has nothing to route it on)"
            self.add(
                "ack-dropped" if method == "ACK" else "request-dropped",
                f"the {method} reached {receiver}, which did not forward it{why}",
                element=receiver,
                frames=[last.frame],
                ts_ns=last.ts_ns,
                last_hop=last_hop,
            )
            return "dropped"
        return "not-captured"

    def _request_targets(self, sent: CapturedMessage, last: CapturedMessage) -> list[str]:
        """Where the request's final receiver listens, if the dialog shows it: the UA that
        answered (or sent) the INVITE, or where a target refresh moved it."""
        out: list[str] = []
        to_tag = last.message.to_tag
        from_tag = last.message.from_tag
        for dialog in self.call.dialogs:
            if not dialog.answers:
                continue
            if to_tag == dialog.id.callee_tag:
                out.append(source(self.answer_origin(dialog)))
            elif from_tag == dialog.id.callee_tag:
                # Sent by the callee: the target is the caller, who sent the INVITE.
                invite = self.initial_invites[0].request if self.initial_invites else None
                if invite is not None:
                    out.append(source(invite))
            else:
                continue
            refresh = self.remote_target(from_tag == self.caller_tag, sent)
            if refresh is not None:
                out[:0] = [uri_endpoint(refresh.contact), source(refresh.origin)]
            break
        return out

    def _reached(self, last: CapturedMessage, target: str) -> bool:
        if destination(last) == target:
            return True
        # Over TCP/TLS the UA may have connected from another port than it listens on.
        return last.transport != "udp" and last.dst == host_of(target)

    def _reached_request_uri(self, last: CapturedMessage) -> bool:
        """The request reached the element its Request-URI names, with no Route left but ones
        naming that element (used when the dialog does not say who the peer is)."""
        msg = last.message
        if msg.request_uri is None:
            return False
        here = destination(last).lower()
        names_here = [
            u
            for u in [msg.request_uri, *uris(self.routes(last))]
            if uri_endpoint(u).lower() == here
        ]
        return len(names_here) == 1 + len(self.routes(last))

    def _icmp_for(self, node: Node) -> IcmpReport | None:
        for copy in node.copies:
            report = self.icmp.about(copy)
            if report is not None:
                return report
        return None

    def _unreachable_fix(self, method: str, last: CapturedMessage) -> str:
        if self.routes(last):
            return (
                "the Route value points at an address where nothing listens: fix the "
                "Record-Route of the proxy that wrote it"
            )
        return (
            "the Request-URI points where nothing listens: if it is the peer's Contact, make "
            f"that UA advertise a reachable Contact; if a proxy rewrote it, stop rewriting "
            f"in-dialog {method}s"
        )

    def _is_loop(self, chain: list[Node]) -> bool:
        if len(chain) < 2:
            return False  # one hop cannot repeat
        seen: dict[tuple[str, str], int] = {}
        for node in chain:
            key = (destination(node.first), node.first.message.request_uri_text or "")
            seen[key] = seen.get(key, 0) + 1
            if seen[key] >= 2:
                return True
        return False

    def report_loop(self, method: str, chain: list[Node]) -> None:
        elements: list[str] = []
        for node in chain:
            dst = destination(node.first)
            if dst not in elements:
                elements.append(dst)
        counts: dict[str, int] = defaultdict(int)
        for node in chain:
            counts[destination(node.first)] += 1
        looping = sorted(e for e in elements if counts[e] >= 2)
        first, last = chain[0].first, chain[-1].first
        mf_text = f"Max-Forwards {self.max_forwards(first)} -> {self.max_forwards(last)}"
        # 16.3 step 3: the element that finds Max-Forwards at 0 answers 483 (never to an ACK).
        cseq = first.message.cseq.number if first.message.cseq else -1
        too_many_hops = sorted(
            (
                r
                for t in self.call.transactions
                if t.method == method and t.cseq == cseq
                for r in t.finals
                if r.message.status_code == 483
            ),
            key=lambda r: r.ts_ns,
        )
        end_text = ""
        if too_many_hops:
            origin = too_many_hops[0]
            reached = [r for r in too_many_hops if r.dst == first.src]
            end_text = f"; {source(origin)} answered 483 (frame {origin.frame})" + (
                f", relayed back to {destination(reached[0])} (frame {reached[0].frame})"
                if reached
                else ""
            )
        self.add(
            "request-loop",
            f"the {method} loops between {' and '.join(looping)}: {len(chain)} hops, "
            f"{mf_text}, Via stack {self.via_count(first)} -> {self.via_count(last)}" + end_text,
            element=", ".join(looping),
            frames=[n.first.frame for n in chain[:6]]
            + [last.frame]
            + [r.frame for r in too_many_hops[:1]],
            ts_ns=first.ts_ns,
            last_hop=f"{source(last)} -> {destination(last)} (frame {last.frame})",
        )
