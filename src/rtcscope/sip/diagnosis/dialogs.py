"""Dialog checks (RFC 3261 12, 13.3.1.4): the 2xx and its ACK, the route set, the targets.

The 2xx and whether its ACK reached the UAS (13.3.1.4: the UAS retransmits the 2xx at T1
doubling to T2 until the ACK arrives, and gives up after 64*T1), the Record-Route copied into
the 2xx (12.1.1), the Contact (a remote target must exist and be reachable), strict routers in
the route set, and *target refreshes*: a re-INVITE or UPDATE (RFC 3311) carrying a Contact
replaces the remote target -- at the UAS when it receives the request (12.2.2), at the UAC when
it receives the 2xx (12.2.1.2) -- while the route set stays as the dialog established it
(12.2). :meth:`DialogChecks.remote_target` says which target a UA must use at a given moment.
"""

from __future__ import annotations

from itertools import pairwise

from rtcscope._dataclass import dataclass
from rtcscope.sip.diagnosis.base import CheckerBase
from rtcscope.sip.diagnosis.model import T1_S, T2_S, TIMER_64T1_S
from rtcscope.sip.dialogs import Dialog
from rtcscope.sip.routing import (
    UriSet,
    format_uris,
    is_unroutable_address,
    route_set_from_record_route,
    same_target,
    uri_endpoint,
    uri_host,
    uris,
)
from rtcscope.sip.transactions import CapturedMessage, destination, source
from rtcscope.sip.uri import Uri


@dataclass(frozen=True, slots=True)
class TargetRefresh:
    """A message that replaced one side's Contact in the dialog (12.2.1.2, 12.2.2)."""

    owner_is_caller: bool  # whose Contact it carries (the other side's new remote target)
    contact: Uri
    origin: CapturedMessage  # the copy as it left its UA
    copies: tuple[CapturedMessage, ...]

    def seen_by(self, address: str) -> int:
        """When the UA at ``address`` got it (the copy sent there, else the last copy)."""
        for copy in self.copies:
            if copy.dst == address:
                return copy.ts_ns
        return self.copies[-1].ts_ns


class DialogChecks(CheckerBase):
    refreshes: list[TargetRefresh]

    def find_target_refreshes(self) -> None:
        """Every re-INVITE/UPDATE (accepted or still pending) and 2xx to one that carries a
        Contact, in capture order, grouped over the copies the proxies forwarded."""
        self.refreshes = []
        caller_tag = self.caller_tag
        # Not the initial INVITE: it sets the targets (12.1).
        for txn in self.refresh_transactions:
            hop_txns = self.transactions_of(txn.method, txn.cseq)
            if hop_txns[0] is not txn:
                continue  # one group per request, whatever the number of hops
            copies = [m for t in hop_txns for m in t.requests]
            finals = [f for t in hop_txns for f in t.finals]
            # RFC 6141 4: a refresh refused with a non-2xx final leaves the target as it was.
            refused = finals and all((f.message.status_code or 0) >= 300 for f in finals)
            if copies and not refused:
                self._add_refresh(copies, copies[0].message.from_tag == caller_tag)
            answers = [f for f in finals if 200 <= (f.message.status_code or 0) < 300]
            if answers:
                # The 2xx carries the answering side's Contact: the request's From is the
                # other side.
                self._add_refresh(answers, answers[0].message.from_tag != caller_tag)

    def _add_refresh(self, copies: list[CapturedMessage], owner_is_caller: bool) -> None:
        # As it left its UA: a request with the fewest Vias, a response with the most.
        if copies[0].message.is_request:
            origin = min(copies, key=lambda c: (self.via_count(c), c.ts_ns))
        else:
            origin = max(copies, key=lambda c: (self.via_count(c), -c.ts_ns))
        contacts = self.contacts(origin)
        if not contacts or contacts[0].uri is None:
            return
        ordered = tuple(sorted(copies, key=lambda c: (c.ts_ns, c.frame)))
        self.refreshes.append(TargetRefresh(owner_is_caller, contacts[0].uri, origin, ordered))

    def remote_target(self, by_caller: bool, sent: CapturedMessage) -> TargetRefresh | None:
        """The latest refresh of the peer's Contact that the sender of ``sent`` had received
        before sending it (None: the target is still the one the dialog started with)."""
        latest: TargetRefresh | None = None
        for refresh in self.refreshes:
            if refresh.owner_is_caller == by_caller:
                continue
            if refresh.seen_by(sent.src) < sent.ts_ns:
                latest = refresh
        return latest

    def report_target_refreshes(self) -> None:
        """Say where each side's remote target moved (context for the paths that follow)."""
        if not self.refreshes:
            return  # the targets the dialog started with stand: nothing to say
        current: dict[bool, Uri | None] = {True: None, False: None}
        for txn in self.initial_invites:
            if txn.request is not None and self.contacts(txn.request):
                current[True] = self.contacts(txn.request)[0].uri
                break
        for dialog in self.call.dialogs:
            if dialog.answers and self.contacts(dialog.answers[0]):
                current[False] = self.contacts(dialog.answers[0])[0].uri
                break
        for refresh in self.refreshes:
            before = current[refresh.owner_is_caller]
            current[refresh.owner_is_caller] = refresh.contact
            if before is None or same_target(before, refresh.contact):
                continue
            side = "caller" if refresh.owner_is_caller else "callee"
            origin = refresh.origin
            self.add(
                "target-refresh",
                f"the {side}'s Contact changed from <{before}> to <{refresh.contact}> in "
                f"{origin.message.summary} (frame {origin.frame}): later requests to the "
                f"{side} go to {uri_endpoint(refresh.contact)}",
                element=source(origin),
                frames=[origin.frame],
                ts_ns=origin.ts_ns,
            )

    def check_answered_dialog(self, dialog: Dialog) -> None:
        answers = dialog.answers
        if len(answers) == 1:  # one copy (no proxy, not resent): it left the UAS, reached the UAC
            uas_copies = uac_copies = answers
        else:
            max_vias = max(self.via_count(a) for a in answers)
            min_vias = min(self.via_count(a) for a in answers)
            uas_copies = [a for a in answers if self.via_count(a) == max_vias]
            uac_copies = [a for a in answers if self.via_count(a) == min_vias]
        uas = source(uas_copies[0])
        uac = destination(uac_copies[0])
        first_2xx = uas_copies[0]
        invite_cseq = first_2xx.message.cseq.number if first_2xx.message.cseq else -1
        acks = [
            m
            for t in dialog.transactions
            if t.method == "ACK" and t.cseq == invite_cseq
            for m in t.requests
        ]
        acks_at_uas = [a for a in acks if self.reaches(a, uas_copies[0])]
        same_hop = [a for a in uas_copies if (a.dst, a.dport) == (first_2xx.dst, first_2xx.dport)]
        self.check_record_route_copied(first_2xx, uas, acked=bool(acks_at_uas))
        self.check_contact(first_2xx)
        self.check_strict_routers(first_2xx, uac_copies[0])
        retransmitted = len(same_hop) > 1
        first_ack_ns = acks_at_uas[0].ts_ns if acks_at_uas else None
        if acks_at_uas:
            late = [a for a in same_hop if first_ack_ns is not None and a.ts_ns > first_ack_ns]
            if late:
                self.add(
                    "2xx-retransmitted-after-ack",
                    f"{uas} retransmitted its 2xx {len(late)} time(s) after an ACK reached it",
                    element=uas,
                    frames=[a.frame for a in late],
                    ts_ns=late[0].ts_ns,
                )
            return
        other_dialog_acks = [
            m
            for t in self.call.transactions
            if t.method == "ACK" and t.cseq == invite_cseq
            for m in t.requests
            if self.reaches(m, uas_copies[0]) and m.message.to_tag != dialog.id.callee_tag
        ]
        if other_dialog_acks:
            ack = other_dialog_acks[0]
            self.add(
                "ack-for-other-dialog",
                f"an ACK reached the UAS {uas} (frame {ack.frame}) but with To tag "
                f"{ack.message.to_tag!r}, not the tag of its 2xx ({dialog.id.callee_tag!r}): "
                f"that 2xx was sent {len(same_hop)} time(s) and never acknowledged",
                element=uas,
                frames=[first_2xx.frame, ack.frame],
                ts_ns=first_2xx.ts_ns,
            )
            return
        if not acks and not retransmitted and (self.end_ns - first_2xx.ts_ns) / 1e9 < 1.0:
            return  # the capture ends right after the 2xx: nothing to say
        schedule = self._schedule_text(same_hop)
        bye = self._bye_from(uas, first_2xx.ts_ns)
        if not retransmitted and bye is None:
            self.add(
                "ack-not-seen-at-uas",
                f"the capture does not show an ACK reaching {uas}, but its 2xx was not "
                "retransmitted and it did not hang up: the ACK probably took a path outside "
                "this capture",
                element=uas,
                frames=[first_2xx.frame],
                ts_ns=first_2xx.ts_ns,
                detail=f"UAC {uac}; {self.ack_path_text(dialog, invite_cseq)}",
                last_hop=self.last_hop_text(dialog, invite_cseq),
            )
            return
        bye_text = ""
        if bye is not None:
            after = (bye.ts_ns - first_2xx.ts_ns) / 1e9
            bye_text = (
                f"; {uas} hung up with BYE {after:.1f} s after its first 2xx (frame {bye.frame})"
                + (" = 64*T1, as 13.3.1.4 says" if abs(after - TIMER_64T1_S) <= 1.5 else "")
            )
        path = self.ack_path_text(dialog, invite_cseq)
        if acks:
            summary = (
                f"the ACK never reached the UAS {uas}: its 2xx was sent {len(same_hop)} "
                f"time(s) over {self._span(same_hop):.1f} s{bye_text}"
            )
        else:
            summary = (
                f"no ACK for the 2xx of {uas} in the capture: the 2xx was sent {len(same_hop)} "
                f"time(s) over {self._span(same_hop):.1f} s{bye_text}"
            )
        self.add(
            "ack-not-received",
            summary,
            element=uas,
            frames=[a.frame for a in same_hop][:12] + ([bye.frame] if bye else []),
            ts_ns=first_2xx.ts_ns,
            detail=f"{schedule}\nUAC {uac}; {path}",
            last_hop=self.last_hop_text(dialog, invite_cseq),
        )

    def _span(self, copies: list[CapturedMessage]) -> float:
        return (copies[-1].ts_ns - copies[0].ts_ns) / 1e9 if copies else 0.0

    def _schedule_text(self, copies: list[CapturedMessage]) -> str:
        if len(copies) < 2:
            return "the 2xx was sent once"
        offsets = [(c.ts_ns - copies[0].ts_ns) / 1e9 for c in copies]
        gaps = [b - a for a, b in pairwise(offsets)]
        expected = [min(T1_S * 2**i, T2_S) for i in range(len(gaps))]
        follows = all(abs(g - e) <= max(0.1, 0.2 * e) for g, e in zip(gaps, expected, strict=True))
        times = ", ".join(f"{o:.1f}" for o in offsets)
        verdict = (
            "follows T1 = 500 ms doubling to T2 = 4 s"
            if follows
            else "does not follow T1 = 500 ms doubling to T2 = 4 s (expected gaps "
            + ", ".join(f"{e:g}" for e in expected)
            + " s)"
        )
        return f"2xx sent at {times} s: the schedule {verdict} (RFC 3261 13.3.1.4)"

    def _bye_from(self, uas: str, after_ns: int) -> CapturedMessage | None:
        for txn in self.call.transactions:
            req = txn.request
            if (
                txn.method == "BYE"
                and req is not None
                and source(req) == uas
                and req.ts_ns > after_ns
            ):
                return req
        return None

    def check_record_route_copied(self, answer: CapturedMessage, uas: str, *, acked: bool) -> None:
        """12.1.1: the UAS copies the request's Record-Route into its 2xx. An error when the
        ACK then did not reach the UAS; a warning when it arrived anyway."""
        invite = next(
            (
                r
                for t in self.initial_invites
                for r in t.requests
                if r.dst == answer.src  # on the port it answered from, or another
            ),
            None,
        )
        if invite is None:
            return
        recorded = uris(self.record_routes(invite))
        if not recorded:
            return
        copied = uris(self.record_routes(answer))
        copied_set = UriSet(copied)
        missing = [u for u in recorded if u not in copied_set]
        if not missing:
            return
        self.add(
            "uas-dropped-record-route-acked" if acked else "uas-dropped-record-route",
            f"the UAS {uas} did not copy Record-Route into its 2xx: the INVITE it received "
            f"recorded {len(recorded)} route(s), the 2xx carries {len(copied)}",
            element=uas,
            frames=[invite.frame, answer.frame],
            ts_ns=answer.ts_ns,
            detail=f"INVITE Record-Route {format_uris(recorded)}; 2xx Record-Route "
            f"{format_uris(copied)}; missing {format_uris(missing)}",
        )

    def check_contact(self, answer: CapturedMessage) -> None:
        contacts = self.contacts(answer)
        if not contacts or contacts[0].uri is None:
            self.add(
                "2xx-without-contact",
                "the 2xx has no Contact: there is no remote target for the ACK",
                element=source(answer),
                frames=[answer.frame],
                ts_ns=answer.ts_ns,
            )
            return
        contact = contacts[0].uri
        why = is_unroutable_address(uri_host(contact))
        # The sender's address matters only for a Contact the Internet cannot reach.
        if why and not is_unroutable_address(answer.src):
            self.add(
                "private-contact",
                f"the 2xx's Contact <{contact}> is a {why} address while the 2xx came from "
                f"{answer.src}: the last proxy cannot reach it",
                element=source(answer),
                frames=[answer.frame],
                ts_ns=answer.ts_ns,
            )

    def check_strict_routers(
        self, uas_answer: CapturedMessage, uac_answer: CapturedMessage
    ) -> None:
        route_set = route_set_from_record_route(self.record_routes(uac_answer), uac=True)
        strict = [u for u in route_set if not u.lr]
        if not strict:
            return
        self.add(
            "strict-router",
            "strict router(s) in the route set: "
            + ", ".join(f"<{u}>" for u in strict)
            + " (Record-Route without ;lr)",
            element=", ".join(uri_endpoint(u) for u in strict),
            frames=[uas_answer.frame, uac_answer.frame],
            ts_ns=uac_answer.ts_ns,
        )

    # -- media against the SDP (RFC 3264) ---------------------------------------------------
