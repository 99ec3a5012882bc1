"""Why a call failed: findings from the SIP messages of a capture, following routing hop by hop.

The centre is "the ACK never arrived" (RFC 3261 13.3.1.4): the UAS retransmits its 2xx at T1,
2*T1, ... up to T2 until the ACK arrives and gives up after 64*T1. The ACK to a 2xx is its own
transaction, routed along the dialog's route set (12.2.1.1); every proxy on the way removes
its own Route value(s) (16.4), leaves the Request-URI alone (16.5), decrements Max-Forwards
(16.6 step 3), and treats strict routers specially (16.4, 16.6 step 6). Each copy of the ACK
in the capture is linked to the next hop's copy by its Via stack (a proxy pushes one Via, so
the next copy's Vias below the top are this copy's Vias), and each proxy's step is compared
with :func:`rtcscope.sip.routing.forward_as_proxy`. Where the chain stops is the last hop that
carried it; ICMP errors quoting that datagram, a Max-Forwards of 0 or a loop say why.

The same path check runs for BYE and every other in-dialog request. Other findings: the 2xx
retransmission schedule, a UAS that did not copy Record-Route (12.1.1), a Contact with a
private address, strict routers, INVITEs without a final answer, 408/481/483/487, CANCEL
races and ACKs to non-2xx finals (17.1.1.3).

Media (RFC 3264): what each side's latest SDP announces (``rtcscope.sip.capture.
media_announcements``) against the RTP streams found (``rtcscope.rtp.streams.find_streams``):
no RTP at all, one-way RTP (with a private address announced to a public peer, the classic
NAT case), RTP sent elsewhere than announced, and RTP arriving from another address than the
sender announced (NAT between them: symmetric RTP/latching, RFC 4961).

:func:`diagnose` is pure: it takes captured messages, ICMP reports, SDP announcements and RTP
streams, and reads no file. :func:`diagnose_capture` is the thin edge that reads a capture
for it (``sip_messages``, ``capture.pipeline.packets`` for ICMP, ``find_streams``), used by
``rtcscope diagnose`` and by the ``diagnosis`` analysis registered at the end (order 50).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import pairwise
from typing import Any

from rtcscope.sip.dialogs import Call, Dialog, find_calls
from rtcscope.sip.nodes import host_of
from rtcscope.sip.routing import (
    format_uris,
    forward_as_proxy,
    in_dialog_request,
    is_unroutable_address,
    normal_host,
    route_set_from_record_route,
    same_target,
    same_uri,
    same_uris,
    uri_endpoint,
    uri_host,
    uri_port,
    uris,
)
from rtcscope.sip.transactions import (
    CapturedMessage,
    Transaction,
    destination,
    source,
    via_branches,
)
from rtcscope.sip.uri import Uri

T1_S = 0.5  # RFC 3261 17.1.1.1
T2_S = 4.0
TIMER_64T1_S = 64 * T1_S


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class IcmpReport:
    """An ICMP error seen in the capture, with the datagram it quotes (RFC 792/4443)."""

    frame: int
    ts_ns: int
    reporter: str  # who sent the ICMP error
    description: str  # "port unreachable", ...
    quoted_src: str
    quoted_sport: int
    quoted_dst: str
    quoted_dport: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found, with its evidence, the rule and a fix in plain words."""

    severity: Severity
    code: str  # stable short name, e.g. "ack-not-received"
    call_id: str
    summary: str
    element: str = ""  # the address at fault (or concerned)
    frames: tuple[int, ...] = ()  # evidence, as Wireshark numbers frames
    time_s: float | None = None  # seconds from the start of the capture
    rfc: str = ""
    fix: str = ""
    detail: str = ""
    last_hop: str = ""  # for a request's path: the last hop that carried it

    def as_dict(self) -> dict[str, Any]:
        """The finding's stable JSON keys."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "call_id": self.call_id,
            "summary": self.summary,
            "element": self.element,
            "last_hop": self.last_hop,
            "frames": list(self.frames),
            "time_s": None if self.time_s is None else round(self.time_s, 6),
            "rfc": self.rfc,
            "fix": self.fix,
            "detail": self.detail,
        }


@dataclass(slots=True)
class PathStep:
    """One hop of an in-dialog request in the capture (one copy, maybe seen several times)."""

    frame: int
    ts_ns: int
    src: str
    dst: str
    request_uri: str
    routes: tuple[str, ...]
    max_forwards: int | None
    vias: int
    copies: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "src": self.src,
            "dst": self.dst,
            "request_uri": self.request_uri,
            "routes": list(self.routes),
            "max_forwards": self.max_forwards,
            "vias": self.vias,
            "copies": self.copies,
            "problems": list(self.problems),
        }


@dataclass(slots=True)
class RequestPath:
    """The hops of one in-dialog request (ACK, BYE, ...) and where it ended."""

    call_id: str
    method: str
    cseq: int
    steps: list[PathStep]
    outcome: str  # "delivered", "icmp", "loop", "max-forwards", "dropped", "not-captured"
    last_hop: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "method": self.method,
            "cseq": self.cseq,
            "outcome": self.outcome,
            "last_hop": self.last_hop,
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass(slots=True)
class Diagnosis:
    """Every finding of a capture (or of one call), errors first, and the requests' paths."""

    findings: list[Finding] = field(default_factory=list)
    paths: list[RequestPath] = field(default_factory=list)
    calls: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "findings": [f.as_dict() for f in self.findings],
            "paths": [p.as_dict() for p in self.paths],
            "notes": list(self.notes),
        }


def diagnose(
    messages: Iterable[CapturedMessage],
    icmp: Sequence[IcmpReport] = (),
    *,
    call_id: str | None = None,
    announcements: Sequence[Any] | None = None,
    streams: Sequence[Any] | None = None,
) -> Diagnosis:
    """Findings for every INVITE call in ``messages`` (or only ``call_id``).

    ``announcements`` (``media_announcements``) and ``streams`` (``find_streams``) enable the
    media checks; without them the media is not diagnosed (and a note says so).
    """
    captured = list(messages)
    start_ns = min((m.ts_ns for m in captured), default=0)
    end_ns = max((m.ts_ns for m in captured), default=0)
    result = Diagnosis()
    for call in find_calls(captured):
        if call_id is not None and call.call_id != call_id:
            continue
        if not call.is_invite_call:
            continue
        result.calls += 1
        checker = _CallChecker(call, icmp, start_ns, end_ns)
        checker.run()
        if announcements is not None and streams is not None:
            checker.check_media([a for a in announcements if a.call_id == call.call_id], streams)
        result.findings += checker.findings
        result.paths += checker.paths
    result.findings = _dedupe(result.findings)
    result.findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], f.time_s or 0.0))
    if announcements is None or streams is None:
        result.notes.append(
            "media not checked (no RTP streams or SDP announcements were given to the diagnosis)"
        )
    return result


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (call, code, element, summary); evidence frames merged (loops repeat)."""
    merged: dict[tuple[str, str, str, str], Finding] = {}
    order: list[tuple[str, str, str, str]] = []
    for f in findings:
        key = (f.call_id, f.code, f.element, f.summary)
        if key not in merged:
            merged[key] = f
            order.append(key)
            continue
        old = merged[key]
        frames = tuple(sorted(set(old.frames) | set(f.frames)))[:20]
        merged[key] = replace(old, frames=frames)
    return [merged[k] for k in order]


@dataclass(slots=True)
class _Node:
    """Copies of a request that share one Via stack: one hop, maybe repeated."""

    branches: tuple[str, ...]
    copies: list[CapturedMessage]

    @property
    def first(self) -> CapturedMessage:
        return self.copies[0]


class _CallChecker:
    def __init__(
        self,
        call: Call,
        icmp: Sequence[IcmpReport],
        start_ns: int,
        end_ns: int,
    ) -> None:
        self.call = call
        self.icmp = icmp
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.findings: list[Finding] = []
        self.paths: list[RequestPath] = []
        # Every Record-Route value of the call: what 16.4 calls "a value this proxy placed
        # into a Record-Route header field".
        self.recorded: list[Uri] = []
        for captured in call.messages:
            for uri in uris(captured.message.record_routes):
                if not any(same_uri(uri, seen) for seen in self.recorded):
                    self.recorded.append(uri)
        self.inserted, self.forwarders = _record_route_insertions(call)

    # -- helpers ---------------------------------------------------------------------------

    def t(self, ts_ns: int) -> float:
        return (ts_ns - self.start_ns) / 1e9

    def add(
        self,
        severity: Severity,
        code: str,
        summary: str,
        *,
        element: str = "",
        frames: Iterable[int] = (),
        ts_ns: int | None = None,
        rfc: str = "",
        fix: str = "",
        detail: str = "",
        last_hop: str = "",
    ) -> None:
        self.findings.append(
            Finding(
                severity=severity,
                code=code,
                call_id=self.call.call_id,
                summary=summary,
                element=element,
                frames=tuple(sorted(set(frames)))[:20],
                time_s=None if ts_ns is None else self.t(ts_ns),
                rfc=rfc,
                fix=fix,
                detail=detail,
                last_hop=last_hop,
            )
        )

    # -- the checks ------------------------------------------------------------------------

    def run(self) -> None:
        invites = self.call.initial_invites
        if not invites:
            return
        self.check_final_answers(invites)
        self.check_response_tags()
        self.check_non_2xx_acks()
        for dialog in self.call.dialogs:
            if dialog.answers:
                self.check_answered_dialog(dialog)
        self.check_in_dialog_paths()

    def check_final_answers(self, invites: list[Transaction]) -> None:
        first = invites[0]
        request = first.request
        if request is None:
            return
        finals = [f for t in invites for f in t.finals]
        cancels = [
            t
            for t in self.call.transactions
            if t.method == "CANCEL" and t.requests and t.cseq == first.cseq
        ]
        if not finals:
            waited_s = (self.end_ns - request.ts_ns) / 1e9
            severity = Severity.ERROR if waited_s >= TIMER_64T1_S else Severity.INFO
            self.add(
                severity,
                "invite-no-final-response",
                f"INVITE got no final response in {waited_s:.1f} s"
                + (
                    f" (the capture ends before Timer B, {TIMER_64T1_S:.0f} s: too early to tell)"
                    if severity is Severity.INFO
                    else ""
                ),
                element=first.server,
                frames=[r.frame for r in first.requests[:5]],
                ts_ns=request.ts_ns,
                rfc="RFC 3261 17.1.1.2 (Timer B = 64*T1), 16.7",
                fix="check that the next hop is reachable and answers; a proxy must send 408 "
                "when its branch times out",
            )
            return
        # The status the caller saw: the final answer to its last INVITE (after a 401/407
        # challenge the caller retries with a new CSeq), on the caller's own leg.
        fewest_vias = min(len(t.requests[0].message.vias) for t in invites if t.requests)
        uac_invites = [
            t for t in invites if t.requests and len(t.requests[0].message.vias) == fewest_vias
        ]
        for final in uac_invites[-1].finals[:1]:
            self.check_status(final, cancels)
        if cancels:
            self.check_cancel_answers(cancels)
            self.check_cancel_race(invites, cancels)

    def check_status(self, final: CapturedMessage, cancels: list[Transaction]) -> None:
        code = final.message.status_code or 0
        text = final.message.summary
        common = {"element": source(final), "frames": [final.frame], "ts_ns": final.ts_ns}
        if code == 408:
            self.add(
                Severity.WARNING,
                "invite-408",
                f"INVITE answered {text}: a hop's transaction timed out",
                rfc="RFC 3261 16.7 step 2, 17.1.1.2",
                fix="find the last hop that forwarded the INVITE and why its next hop never "
                "answered (down, filtered, wrong address)",
                **common,  # type: ignore[arg-type]
            )
        elif code == 481:
            self.add(
                Severity.WARNING,
                "invite-481",
                f"INVITE answered {text}: the dialog or transaction is unknown",
                rfc="RFC 3261 12.2.2",
                fix="the request names a dialog its receiver does not have (wrong tags, a "
                "restarted element, or a request sent to the wrong place)",
                **common,  # type: ignore[arg-type]
            )
        elif code == 483:
            self.add(
                Severity.ERROR,
                "invite-483",
                f"INVITE answered {text}: Max-Forwards ran out (a routing loop)",
                rfc="RFC 3261 16.3 step 3, 16.6 step 3",
                fix="look for two elements forwarding the request to each other",
                **common,  # type: ignore[arg-type]
            )
        elif code >= 300 and code not in (487,):
            challenge = code in (401, 407)
            self.add(
                Severity.INFO,
                "invite-failed",
                f"the call ended with {text}"
                + (": the caller did not retry with credentials" if challenge else ""),
                rfc="RFC 3261 22.2, 22.3" if challenge else "RFC 3261 21",
                fix="",
                **common,  # type: ignore[arg-type]
            )
        if code == 487:
            severity = Severity.INFO if cancels else Severity.WARNING
            self.add(
                severity,
                "invite-487",
                f"INVITE answered {text}"
                + (" after the caller's CANCEL" if cancels else " without a CANCEL in the capture"),
                rfc="RFC 3261 9.2",
                fix="" if cancels else "a 487 without CANCEL: check what ended the INVITE",
                **common,  # type: ignore[arg-type]
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
                Severity.WARNING,
                "cancel-not-accepted",
                f"the CANCEL from {cancel.client} to {cancel.server} was {answer} "
                f"({copies} cop{'y' if copies == 1 else 'ies'} sent)",
                element=cancel.server,
                frames=[first.frame] + ([cancel.final.frame] if cancel.final else []),
                ts_ns=first.ts_ns,
                rfc="RFC 3261 9.2, 16.10",
                fix="the element should answer CANCEL with 200 and end the INVITE with 487; "
                "a 481 means it did not match the INVITE (branch, sent-by), a 408 that it never "
                "handled it",
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
            Severity.WARNING if byes else Severity.ERROR,
            "cancel-race",
            "CANCEL crossed the 2xx: the call was answered after the caller cancelled"
            + ("; a BYE ended it" if byes else " and no BYE followed"),
            element=source(answer),
            frames=[cancel.frame, answer.frame],
            ts_ns=cancel.ts_ns,
            rfc="RFC 3261 9.1, 15",
            fix="the caller must ACK the 2xx and send BYE when its CANCEL loses the race",
        )

    def check_response_tags(self) -> None:
        """A proxy forwards responses unchanged but for its Via (16.7): the To tag stays."""
        responses = [
            r
            for t in self.call.initial_invites
            for r in t.responses
            if (r.message.status_code or 0) > 100
        ]
        by_branches: dict[tuple[tuple[str, ...], int], CapturedMessage] = {}
        for r in responses:
            key = (via_branches(r.message), r.message.status_code or 0)
            by_branches.setdefault(key, r)
        for (branches, code), upstream in by_branches.items():
            if len(branches) < 2:
                continue
            downstream = by_branches.get((branches[1:], code))
            if downstream is None:
                continue
            if upstream.message.to_tag != downstream.message.to_tag:
                self.add(
                    Severity.ERROR,
                    "proxy-changed-to-tag",
                    f"{source(downstream)} forwarded {upstream.message.summary} with To tag "
                    f"{downstream.message.to_tag!r}, but the UAS sent tag "
                    f"{upstream.message.to_tag!r}",
                    element=source(downstream),
                    frames=[upstream.frame, downstream.frame],
                    ts_ns=downstream.ts_ns,
                    rfc="RFC 3261 16.7, 12.1",
                    fix="a proxy must not change tags: the caller's dialog no longer matches "
                    "the callee's, so the callee never sees an ACK or BYE for its answer",
                )

    def check_non_2xx_acks(self) -> None:
        """17.1.1.3: on every hop, the client ACKs a non-2xx final itself: same branch (it is
        part of the INVITE transaction), same Request-URI as the INVITE, sent to the same
        server. The hops' ACKs are also listed as one path, in the INVITE's hop order."""
        steps_by_cseq: dict[int, list[PathStep]] = defaultdict(list)
        missing_by_cseq: dict[int, list[str]] = defaultdict(list)
        for txn in self.call.initial_invites:
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
                        Severity.WARNING,
                        "non2xx-no-ack",
                        f"{finals[0].message.summary} sent {len(finals)} times by {txn.server}: "
                        f"{txn.client} never ACKed it",
                        element=txn.client,
                        frames=[f.frame for f in finals],
                        ts_ns=finals[0].ts_ns,
                        rfc="RFC 3261 17.1.1.3, 17.2.1",
                        fix="the client transaction must ACK every non-2xx final on the same hop",
                    )
                continue
            ack = txn.acks[0]
            step = PathStep(
                frame=ack.frame,
                ts_ns=ack.ts_ns,
                src=source(ack),
                dst=destination(ack),
                request_uri=ack.message.request_uri_text or "",
                routes=tuple(str(u) for u in uris(ack.message.routes)),
                max_forwards=ack.message.max_forwards,
                vias=len(ack.message.vias),
                copies=len(txn.acks),
            )
            steps.append(step)
            if (ack.dst, ack.dport) != (invite.dst, invite.dport):
                step.problems.append("sent to another hop than the INVITE")
                self.add(
                    Severity.ERROR,
                    "non2xx-ack-wrong-hop",
                    f"the ACK to {finals[0].message.summary} went to {destination(ack)}, "
                    f"not to the hop that got the INVITE ({txn.server})",
                    element=txn.client,
                    frames=[ack.frame, finals[0].frame],
                    ts_ns=ack.ts_ns,
                    rfc="RFC 3261 17.1.1.3",
                    fix="the ACK to a non-2xx belongs to the INVITE transaction: send it "
                    "to the same address, with the same branch",
                )
            in_uri, ack_uri = invite.message.request_uri, ack.message.request_uri
            if in_uri is not None and ack_uri is not None and not same_uri(in_uri, ack_uri):
                step.problems.append("Request-URI differs from the INVITE's")
                self.add(
                    Severity.ERROR,
                    "non2xx-ack-request-uri",
                    f"{txn.client} ACKed {finals[0].message.summary} with Request-URI "
                    f"<{ack_uri}>, not the INVITE's <{in_uri}>",
                    element=txn.client,
                    frames=[invite.frame, ack.frame],
                    ts_ns=ack.ts_ns,
                    rfc="RFC 3261 17.1.1.3",
                    fix="the ACK to a non-2xx repeats the INVITE's Request-URI, Call-ID, From, "
                    "CSeq number and top Via; only To (with the tag) comes from the response",
                )
        for cseq, steps in steps_by_cseq.items():
            if not steps:
                continue
            missing = missing_by_cseq[cseq]
            outcome = "hop-by-hop" if not missing else "missing on " + ", ".join(missing)
            last = steps[-1]
            self.paths.append(
                RequestPath(
                    call_id=self.call.call_id,
                    method="ACK (non-2xx)",
                    cseq=cseq,
                    steps=steps,
                    outcome=outcome,
                    last_hop=f"{last.src} -> {last.dst} (frame {last.frame})",
                )
            )

    # -- the 2xx and its ACK -----------------------------------------------------------------

    def check_answered_dialog(self, dialog: Dialog) -> None:
        answers = dialog.answers
        max_vias = max(len(a.message.vias) for a in answers)
        min_vias = min(len(a.message.vias) for a in answers)
        uas_copies = [a for a in answers if len(a.message.vias) == max_vias]
        uas = source(uas_copies[0])
        uac_copies = [a for a in answers if len(a.message.vias) == min_vias]
        uac = destination(uac_copies[0])
        first_2xx = uas_copies[0]
        invite_cseq = first_2xx.message.cseq.number if first_2xx.message.cseq else -1
        acks = [
            m
            for t in dialog.transactions
            if t.method == "ACK" and t.cseq == invite_cseq
            for m in t.requests
        ]
        acks_at_uas = [a for a in acks if self._reaches(a, uas_copies[0])]
        same_hop = [a for a in uas_copies if (a.dst, a.dport) == (first_2xx.dst, first_2xx.dport)]
        self.check_record_route_copied(dialog, first_2xx, uas)
        self.check_contact(first_2xx)
        self.check_strict_routers(first_2xx, uac_copies[0])
        retransmitted = len(same_hop) > 1
        first_ack_ns = acks_at_uas[0].ts_ns if acks_at_uas else None
        if acks_at_uas:
            late = [a for a in same_hop if first_ack_ns is not None and a.ts_ns > first_ack_ns]
            if late:
                self.add(
                    Severity.WARNING,
                    "2xx-retransmitted-after-ack",
                    f"{uas} retransmitted its 2xx {len(late)} time(s) after an ACK reached it",
                    element=uas,
                    frames=[a.frame for a in late],
                    ts_ns=late[0].ts_ns,
                    rfc="RFC 3261 13.3.1.4",
                    fix="the UAS does not match the ACK to its 2xx (Call-ID, tags, CSeq); check "
                    "what reached it",
                )
            return
        other_dialog_acks = [
            m
            for t in self.call.transactions
            if t.method == "ACK" and t.cseq == invite_cseq
            for m in t.requests
            if self._reaches(m, uas_copies[0]) and m.message.to_tag != dialog.id.callee_tag
        ]
        if other_dialog_acks:
            ack = other_dialog_acks[0]
            self.add(
                Severity.WARNING,
                "ack-for-other-dialog",
                f"an ACK reached the UAS {uas} (frame {ack.frame}) but with To tag "
                f"{ack.message.to_tag!r}, not the tag of its 2xx ({dialog.id.callee_tag!r}): "
                f"that 2xx was sent {len(same_hop)} time(s) and never acknowledged",
                element=uas,
                frames=[first_2xx.frame, ack.frame],
                ts_ns=first_2xx.ts_ns,
                rfc="RFC 3261 13.2.2.4, 12.1",
                fix="see the finding on the element that changed the To tag",
            )
            return
        if not acks and not retransmitted and (self.end_ns - first_2xx.ts_ns) / 1e9 < 1.0:
            return  # the capture ends right after the 2xx: nothing to say
        schedule = self._schedule_text(same_hop)
        bye = self._bye_from(uas, first_2xx.ts_ns)
        if not retransmitted and bye is None:
            self.add(
                Severity.INFO,
                "ack-not-seen-at-uas",
                f"the capture does not show an ACK reaching {uas}, but its 2xx was not "
                "retransmitted and it did not hang up: the ACK probably took a path outside "
                "this capture",
                element=uas,
                frames=[first_2xx.frame],
                ts_ns=first_2xx.ts_ns,
                rfc="RFC 3261 13.3.1.4",
                detail=f"UAC {uac}; {self._ack_path_text(dialog, invite_cseq)}",
                last_hop=self._last_hop(dialog, invite_cseq),
            )
            return
        bye_text = ""
        if bye is not None:
            after = (bye.ts_ns - first_2xx.ts_ns) / 1e9
            bye_text = (
                f"; {uas} hung up with BYE {after:.1f} s after its first 2xx (frame {bye.frame})"
                + (" = 64*T1, as 13.3.1.4 says" if abs(after - TIMER_64T1_S) <= 1.5 else "")
            )
        path = self._ack_path_text(dialog, invite_cseq)
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
            Severity.ERROR if (retransmitted or bye is not None) else Severity.WARNING,
            "ack-not-received",
            summary,
            element=uas,
            frames=[a.frame for a in same_hop][:12] + ([bye.frame] if bye else []),
            ts_ns=first_2xx.ts_ns,
            rfc="RFC 3261 13.3.1.4, 13.2.2.4, 17.1.1.3",
            fix="follow the ACK's path below: the finding on the last hop that carried it "
            "says which element lost it and why",
            detail=f"{schedule}\nUAC {uac}; {path}",
            last_hop=self._last_hop(dialog, invite_cseq),
        )

    def _reaches(self, request: CapturedMessage, uas_answer: CapturedMessage) -> bool:
        if (request.dst, request.dport) == (uas_answer.src, uas_answer.sport):
            return True
        # Over TCP/TLS the UAS may answer from another port than it listens on.
        return request.transport != "udp" and request.dst == uas_answer.src

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

    def check_record_route_copied(self, dialog: Dialog, answer: CapturedMessage, uas: str) -> None:
        """12.1.1: the UAS copies the request's Record-Route into its 2xx."""
        invites_at_uas = [
            r
            for t in self.call.initial_invites
            for r in t.requests
            if (r.dst, r.dport) == (answer.src, answer.sport) or r.dst == answer.src
        ]
        if not invites_at_uas:
            return
        invite = invites_at_uas[0]
        recorded = uris(invite.message.record_routes)
        copied = uris(answer.message.record_routes)
        missing = [u for u in recorded if not any(same_uri(u, c) for c in copied)]
        if not recorded or not missing:
            return
        self.add(
            Severity.ERROR,
            "uas-dropped-record-route",
            f"the UAS {uas} did not copy Record-Route into its 2xx: the INVITE it received "
            f"recorded {len(recorded)} route(s), the 2xx carries {len(copied)}",
            element=uas,
            frames=[invite.frame, answer.frame],
            ts_ns=answer.ts_ns,
            rfc="RFC 3261 12.1.1",
            fix="the UAS must copy every Record-Route of the request into its 2xx, in order; "
            "without them the caller sends the ACK and BYE past the proxies",
            detail=f"INVITE Record-Route {format_uris(recorded)}; 2xx Record-Route "
            f"{format_uris(copied)}; missing {format_uris(missing)}",
        )

    def check_contact(self, answer: CapturedMessage) -> None:
        contacts = answer.message.contacts
        if not contacts or contacts[0].uri is None:
            self.add(
                Severity.ERROR,
                "2xx-without-contact",
                "the 2xx has no Contact: there is no remote target for the ACK",
                element=source(answer),
                frames=[answer.frame],
                ts_ns=answer.ts_ns,
                rfc="RFC 3261 12.1.1, 13.3.1.4",
                fix="the UAS must put a Contact in every 2xx to INVITE",
            )
            return
        contact = contacts[0].uri
        why = is_unroutable_address(uri_host(contact))
        sender_kind = is_unroutable_address(answer.src)
        if why and not sender_kind:
            self.add(
                Severity.WARNING,
                "private-contact",
                f"the 2xx's Contact <{contact}> is a {why} address while the 2xx came from "
                f"{answer.src}: the last proxy cannot reach it",
                element=source(answer),
                frames=[answer.frame],
                ts_ns=answer.ts_ns,
                rfc="RFC 3261 12.1.1; RFC 5626; RFC 3581",
                fix="make the UAS (or an SBC/ALG) advertise a reachable Contact, or have the "
                "edge proxy fix it (nathelper fix_nated_contact, RFC 5626 outbound)",
            )

    def check_strict_routers(
        self, uas_answer: CapturedMessage, uac_answer: CapturedMessage
    ) -> None:
        route_set = route_set_from_record_route(uac_answer.message.record_routes, uac=True)
        strict = [u for u in route_set if not u.lr]
        if not strict:
            return
        self.add(
            Severity.WARNING,
            "strict-router",
            "strict router(s) in the route set: "
            + ", ".join(f"<{u}>" for u in strict)
            + " (Record-Route without ;lr)",
            element=", ".join(uri_endpoint(u) for u in strict),
            frames=[uas_answer.frame, uac_answer.frame],
            ts_ns=uac_answer.ts_ns,
            rfc="RFC 3261 12.2.1.1, 16.4, 16.6 step 6",
            fix="enable loose routing (;lr) on that element; until then every element before "
            "it must put its URI in the Request-URI and move the remote target to the end of "
            "Route, and the element after it must restore the Request-URI from the last Route",
        )

    # -- media against the SDP (RFC 3264) ---------------------------------------------------

    def check_media(self, announcements: Sequence[Any], streams: Sequence[Any]) -> None:
        if not any(a.side == "answer" for a in announcements):
            return  # no offer/answer completed: no media is expected
        # This call's streams: tied to it by its SDP, or (found heuristically) during it.
        call_start = self.call.first_ts_ns
        call_end = self.call.messages[-1].ts_ns if self.call.messages else call_start
        streams = [
            s
            for s in streams
            if s.call_id == self.call.call_id
            or (s.call_id is None and call_start <= s.start_ns <= call_end + 5_000_000_000)
        ]
        self._media_reported: set[int] = set()
        latest: dict[tuple[str, int], Any] = {}
        for a in announcements:
            if a.media == "audio" or a.media == "video":
                latest[(a.role, a.media_index)] = a
        for (role, index), mine in latest.items():
            other = latest.get(("callee" if role == "caller" else "caller", index))
            if other is None or mine.address is None or other.address is None:
                continue
            if mine.port == 0 or other.port == 0:
                continue  # a rejected or removed stream (RFC 3264 6, 8.2)
            receives = mine.direction in ("sendrecv", "recvonly")
            sent_to_me = other.direction in ("sendrecv", "sendonly")
            if receives and sent_to_me:
                self._check_one_direction(mine, other, streams)

    def _check_one_direction(self, receiver: Any, sender: Any, streams: Sequence[Any]) -> None:
        """RTP the sender should send to where the receiver's SDP says it listens."""
        want = (receiver.address, receiver.port)
        arriving = [s for s in streams if (s.key.dst, s.key.dst_port) == want]
        sender_at = (sender.address, sender.port)
        media = f"{receiver.media} m-line {receiver.media_index + 1}"
        if arriving:
            stream = max(arriving, key=lambda s: s.stats.packets)
            source_at = (stream.key.src, stream.key.src_port)
            if source_at[0] != sender_at[0]:
                self.add(
                    Severity.WARNING,
                    "media-from-other-address",
                    f"RTP for the {receiver.role} ({media}) comes from {stream.key.src}:"
                    f"{stream.key.src_port}, not from {sender.address}:{sender.port} as the "
                    f"{sender.role}'s SDP says (frame {sender.frame}): a NAT or a media relay "
                    "is between them",
                    element=f"{stream.key.src}:{stream.key.src_port}",
                    frames=[sender.frame, stream.first_frame],
                    ts_ns=stream.start_ns,
                    rfc="RFC 3264 5; RFC 4961 (symmetric RTP)",
                    fix="the receiver must send its RTP back to where this RTP comes from "
                    "(symmetric RTP / latching), or an SBC/media relay must anchor the media",
                )
            elif source_at[1] != sender_at[1]:
                self.add(
                    Severity.INFO,
                    "media-asymmetric-port",
                    f"the {sender.role} sends RTP ({media}) from port {stream.key.src_port}, "
                    f"not from the port it receives on ({sender.port}, frame {sender.frame}): "
                    "asymmetric RTP, which breaks NAT traversal that relies on latching",
                    element=f"{stream.key.src}:{stream.key.src_port}",
                    frames=[sender.frame, stream.first_frame],
                    ts_ns=stream.start_ns,
                    rfc="RFC 4961",
                )
            return
        # Nothing reaches the receiver's announced address: what does the capture hold?
        from_sender = [
            s
            for s in streams
            if (s.key.src, s.key.src_port) == sender_at or (s.key.dst, s.key.dst_port) == sender_at
        ]
        reverse = [s for s in streams if (s.key.dst, s.key.dst_port) == sender_at]
        elsewhere = [
            s
            for s in streams
            if (s.key.src, s.key.src_port) == sender_at and (s.key.dst, s.key.dst_port) != want
        ]
        if elsewhere:
            stream = elsewhere[0]
            self.add(
                Severity.WARNING,
                "media-to-other-address",
                f"the {sender.role} sends its RTP ({media}) to {stream.key.dst}:"
                f"{stream.key.dst_port}, but the {receiver.role} announced "
                f"{receiver.address}:{receiver.port} (frame {receiver.frame})",
                element=f"{sender.address}:{sender.port}",
                frames=[receiver.frame, stream.first_frame],
                ts_ns=stream.start_ns,
                rfc="RFC 3264 5, 6",
                fix="the sender must send RTP to the address and port of the latest SDP it "
                "received (check re-INVITE/UPDATE handling and any SDP-rewriting ALG)",
            )
            return
        if not from_sender and not reverse:
            if receiver.media_index in self._media_reported:
                return
            self._media_reported.add(receiver.media_index)
            self.add(
                Severity.INFO,
                "media-not-captured",
                f"no RTP of this call in the capture ({media}; the {receiver.role} listens at "
                f"{receiver.address}:{receiver.port}, the {sender.role} at "
                f"{sender.address}:{sender.port})",
                frames=[receiver.frame, sender.frame],
                ts_ns=receiver.ts_ns,
                rfc="RFC 3264",
            )
            return
        # One-way: RTP flows towards the sender but nothing comes back to the receiver.
        why = is_unroutable_address(receiver.address)
        peer = (reverse or from_sender)[0]
        peer_public = not is_unroutable_address(peer.key.dst) or not is_unroutable_address(
            sender.address
        )
        nat = (
            f"; {receiver.address} is a {why} address announced to a peer at "
            f"{sender.address}: the classic NAT one-way audio"
            if why and peer_public and not is_unroutable_address(sender.address)
            else ""
        )
        self.add(
            Severity.WARNING,
            "media-one-way",
            f"one-way media ({media}): RTP reaches the {sender.role} ({peer.stats.packets} "
            f"packets, {peer.key}) but none reaches the {receiver.role} at "
            f"{receiver.address}:{receiver.port}{nat}",
            element=f"{receiver.address}:{receiver.port}",
            frames=[receiver.frame, peer.first_frame],
            ts_ns=peer.start_ns,
            rfc="RFC 3264 5; RFC 4961; RFC 8445",
            fix="make the side behind NAT announce a reachable address (STUN/ICE, an SBC or a "
            "media relay), or have the far end latch onto the source of the RTP it receives"
            if nat
            else "check that the sender sends (mute, hold, codec mismatch) and that nothing "
            "on the path (firewall, NAT) drops RTP towards the announced address",
        )

    # -- paths of in-dialog requests ---------------------------------------------------------

    def _in_dialog_groups(self) -> dict[tuple[str, int], list[CapturedMessage]]:
        groups: dict[tuple[str, int], list[CapturedMessage]] = defaultdict(list)
        for dialog in self.call.dialogs:
            for txn in dialog.transactions:
                for req in txn.requests:
                    groups[(txn.method, txn.cseq)].append(req)
        return groups

    def check_in_dialog_paths(self) -> None:
        for (method, cseq), copies in self._in_dialog_groups().items():
            self.trace(method, cseq, copies)

    def _ack_path_text(self, dialog: Dialog, cseq: int) -> str:
        copies = [
            m
            for t in dialog.transactions
            if t.method == "ACK" and t.cseq == cseq
            for m in t.requests
        ]
        if not copies:
            return "no ACK in the capture"
        nodes = _chain(copies)
        points = [source(nodes[0].first), *(destination(n.first) for n in nodes)]
        if len(points) > 8:
            points = [*points[:6], f"... ({len(nodes)} hops) ...", points[-1]]
        return f"ACK path in the capture: {' -> '.join(points)}"

    def _last_hop(self, dialog: Dialog, cseq: int) -> str:
        copies = [
            m
            for t in dialog.transactions
            if t.method == "ACK" and t.cseq == cseq
            for m in t.requests
        ]
        if not copies:
            return ""
        last = _chain(copies)[-1].first
        return f"{source(last)} -> {destination(last)} (frame {last.frame})"

    def trace(self, method: str, cseq: int, copies: list[CapturedMessage]) -> None:
        chain = _chain(copies)
        if not chain:
            return
        steps: list[PathStep] = []
        for node in chain:
            msg = node.first.message
            steps.append(
                PathStep(
                    frame=node.first.frame,
                    ts_ns=node.first.ts_ns,
                    src=source(node.first),
                    dst=destination(node.first),
                    request_uri=msg.request_uri_text or "",
                    routes=tuple(str(u) for u in uris(msg.routes)),
                    max_forwards=msg.max_forwards,
                    vias=len(msg.vias),
                    copies=len(node.copies),
                )
            )
        if len(chain[0].branches) == 1:
            self.check_ua_request(method, chain[0].first, steps[0])
        for index in range(len(chain) - 1):
            self.check_proxy_step(method, chain[index], chain[index + 1], steps[index + 1])
        rewriter = next((s.src for s in steps if "Request-URI rewritten" in s.problems), None)
        outcome, last_hop = self.classify_end(method, chain, rewriter)
        if outcome == "loop":
            self.report_loop(method, chain)
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

    def check_ua_request(self, method: str, sent: CapturedMessage, step: PathStep) -> None:
        """12.2.1.1: the UA builds an in-dialog request from its route set and remote target:
        the caller from the 2xx it received (Record-Route reversed, Contact), the callee from
        the INVITE it received (Record-Route as is, Contact)."""
        msg = sent.message
        if msg.request_uri is None:
            return
        caller_tag = self.call.caller_tag
        by_caller = msg.from_tag is not None and msg.from_tag == caller_tag
        basis: CapturedMessage | None = None
        if by_caller:
            received = [
                r
                for t in self.call.initial_invites
                for r in t.finals
                if 200 <= (r.message.status_code or 0) < 300
                and r.dst == sent.src
                and r.message.to_tag == msg.to_tag
            ]
            basis = received[0] if received else None
        else:
            received = [
                r for t in self.call.initial_invites for r in t.requests if r.dst == sent.src
            ]
            basis = max(received, key=lambda r: len(r.message.vias)) if received else None
        if basis is None or not basis.message.contacts or basis.message.contacts[0].uri is None:
            return  # the capture does not show what this UA based the request on
        route_set = route_set_from_record_route(basis.message.record_routes, uac=by_caller)
        expected = in_dialog_request(route_set, basis.message.contacts[0].uri)
        ua = source(sent)
        role = "caller" if by_caller else "callee"
        frames = [basis.frame, sent.frame]
        actual_routes = uris(msg.routes)
        routes_match = len(expected.routes) == len(actual_routes) and all(
            same_target(x, y) for x, y in zip(expected.routes, actual_routes, strict=True)
        )
        reversed_match = len(expected.routes) == len(actual_routes) and all(
            same_target(x, y) for x, y in zip(expected.routes, reversed(actual_routes), strict=True)
        )
        if (
            not routes_match
            and reversed_match
            and same_target(expected.request_uri, msg.request_uri)
        ):
            step.problems.append("route set in reverse order")
            self.add(
                Severity.WARNING,
                "ua-route-set-reversed",
                f"the {role} {ua} sent its {method} with the route set in the wrong order: "
                f"Route {format_uris(actual_routes)}, its dialog says "
                f"{format_uris(expected.routes)}",
                element=ua,
                frames=[basis.frame, sent.frame],
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 12.1.2" if by_caller else "RFC 3261 12.1.1",
                fix="the caller's route set is the 2xx's Record-Route reversed; the callee's is "
                "the INVITE's Record-Route as received",
            )
            return
        if not routes_match or not same_target(expected.request_uri, msg.request_uri):
            step.problems.append("not built from the route set (12.2.1.1)")
            self.add(
                Severity.ERROR,
                "ua-request-not-from-route-set",
                f"the {role} {ua} built its {method} with Request-URI <{msg.request_uri}> and "
                f"Route {format_uris(actual_routes)}; its dialog says <{expected.request_uri}> "
                f"and {format_uris(expected.routes)}",
                element=ua,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 12.1.1, 12.1.2, 12.2.1.1",
                fix="build in-dialog requests from the dialog: Request-URI = the peer's Contact, "
                "Route = the route set (the 2xx's Record-Route reversed at the caller, the "
                "INVITE's Record-Route at the callee)",
                detail=f"based on frame {basis.frame} ({basis.message.summary})",
            )
            return
        nxt = expected.next_hop
        # Over TCP/TLS/WS the UA reuses its connection (RFC 5626, 7118): no address to check.
        if sent.transport == "udp" and (
            uri_host(nxt) != normal_host(sent.dst) or uri_port(nxt) != sent.dport
        ):
            step.problems.append("not sent to the first route / remote target")
            self.add(
                Severity.WARNING,
                "ua-request-to-other-hop",
                f"the {role} {ua} sent its {method} to {destination(sent)}, but the dialog's "
                f"next hop is <{nxt}> ({uri_endpoint(nxt)})"
                + ("" if route_set else ": with no route set it goes to the peer's Contact"),
                element=ua,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 12.2.1.1, 8.1.2",
                fix="an outbound proxy configured for all requests must route in-dialog "
                "requests on their Request-URI; otherwise send them to the first route",
            )

    def check_proxy_step(self, method: str, before: _Node, after: _Node, step: PathStep) -> None:
        received = before.first
        sent = after.first
        proxy = destination(received)
        in_msg = received.message
        out_msg = sent.message
        if in_msg.request_uri is None or out_msg.request_uri is None:
            return
        own_endpoints = {proxy, source(sent)}
        own_hosts = {received.dst.lower(), sent.src.lower()}

        inserted = self.inserted.get(proxy, []) + self.inserted.get(source(sent), [])

        def owns(uri: Uri) -> bool:
            # Its own values: what it wrote into Record-Route on the INVITE (whatever address
            # it advertised there), or a URI naming the addresses it received and sent on.
            if any(same_uri(uri, value) for value in inserted):
                return True
            endpoint = uri_endpoint(uri).lower()
            if endpoint in {e.lower() for e in own_endpoints}:
                return True
            return uri_host(uri) in own_hosts and uri_port(uri) == received.dport

        expected = forward_as_proxy(
            in_msg.request_uri, uris(in_msg.routes), in_msg.max_forwards, owns, self.recorded
        )
        actual_routes = uris(out_msg.routes)
        frames = [received.frame, sent.frame]
        where = f"{method} frame {received.frame} -> frame {sent.frame}"
        if not same_uris(expected.routes, actual_routes):
            in_routes = uris(in_msg.routes)
            kept_own = [u for u in actual_routes if owns(u)]
            if kept_own:
                summary = (
                    f"{proxy} did not remove its own Route value {format_uris(kept_own)} "
                    f"from the {method}"
                )
                fix = (
                    "route in-dialog requests with loose_route()/the Route header: a proxy "
                    "removes its own Route value(s) and forwards to the next one"
                )
            else:
                summary = f"{proxy} changed the {method}'s Route set beyond its own value(s)"
                fix = "a proxy removes only the Route values that name it (16.4), nothing else"
            self.add(
                Severity.ERROR,
                "proxy-route-not-removed" if kept_own else "proxy-route-changed",
                summary,
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.4, 16.12",
                fix=fix,
                detail=f"{where}: received Route {format_uris(in_routes)}; expected out "
                f"{format_uris(expected.routes)}; sent {format_uris(actual_routes)}",
            )
            step.problems.append("Route not as 16.4 requires")
        if expected.retargets and not same_uri(expected.request_uri, out_msg.request_uri):
            self.add(
                Severity.INFO,
                "proxy-retargeted-own-uri",
                f"{proxy} received the {method} with a Request-URI naming itself "
                f"<{in_msg.request_uri}> and retargeted it to <{out_msg.request_uri}>",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.5",
                detail=f"{where}: the Request-URI is not one of its Record-Route values, so "
                "it is a URI this element is responsible for (it put itself in the peer's "
                "Contact: topology hiding, NAT handling or a B2BUA-like proxy)",
            )
        elif not same_uri(expected.request_uri, out_msg.request_uri):
            self.add(
                Severity.ERROR,
                "proxy-rewrote-request-uri",
                f"{proxy} rewrote the {method}'s Request-URI <{in_msg.request_uri}> to "
                f"<{out_msg.request_uri}>",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.5, 12.2.1.1, 16.4",
                fix="an in-dialog Request-URI is the remote target (the peer's Contact): do "
                "not apply initial-request rewriting (lookup, number translation, domain "
                "rewrite) to requests that carry a To tag",
                detail=f"{where}: expected Request-URI <{expected.request_uri}>",
            )
            step.problems.append("Request-URI rewritten")
        if (
            expected.max_forwards is not None
            and out_msg.max_forwards is not None
            and out_msg.max_forwards != expected.max_forwards
        ):
            self.add(
                Severity.WARNING,
                "proxy-max-forwards",
                f"{proxy} forwarded the {method} with Max-Forwards {out_msg.max_forwards}, "
                f"expected {expected.max_forwards}",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.6 step 3",
                fix="a proxy decrements Max-Forwards by one on every request it forwards",
                detail=where,
            )
            step.problems.append("Max-Forwards not decremented")
        nxt = expected.next_hop
        wrong_next_hop = uri_host(nxt) != sent.dst.lower() or (
            sent.transport == "udp" and uri_port(nxt) != sent.dport
        )
        # Only an error when what was sent matches the rules otherwise: a changed Route or
        # Request-URI explains the destination already.
        if wrong_next_hop and not step.problems and not expected.retargets:
            self.add(
                Severity.ERROR,
                "proxy-wrong-next-hop",
                f"{proxy} sent the {method} to {destination(sent)}, but the next hop is "
                f"<{nxt}> ({uri_endpoint(nxt)})",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.12, 16.6 step 6-7",
                fix="send the request to the first Route value, or on the Request-URI "
                "when no Route is left",
                detail=where,
            )
            step.problems.append("sent to the wrong next hop")
        if step.problems:
            return
        # Strict routing handled right: say so, it is the part engineers get wrong.
        if expected.strict_next_hop:
            self.add(
                Severity.INFO,
                "strict-next-hop-handled",
                f"{proxy} sent the {method} to the strict router <{expected.request_uri}> as "
                "16.6 step 6 says: its URI as Request-URI, the Request-URI moved to the end of "
                "Route",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.6 step 6",
                detail=f"{where}: Route out {format_uris(actual_routes)}",
            )
        elif expected.strict_previous_hop:
            self.add(
                Severity.INFO,
                "strict-previous-hop-handled",
                f"{proxy} found its own Record-Route value as the {method}'s Request-URI (a strict "
                f"router before it) and restored <{out_msg.request_uri}> from the last Route "
                "value, as 16.4 says",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 3261 16.4",
                detail=where,
            )
        elif expected.acts_as_strict_router:
            self.add(
                Severity.INFO,
                "strict-router-step",
                f"{proxy} routed the {method} as a strict router: the first Route value "
                f"<{out_msg.request_uri}> became the Request-URI",
                element=proxy,
                frames=frames,
                ts_ns=sent.ts_ns,
                rfc="RFC 2543; RFC 3261 16.4",
                detail=where,
            )

    def classify_end(
        self, method: str, chain: list[_Node], rewriter: str | None = None
    ) -> tuple[str, str]:
        last = chain[-1].first
        msg = last.message
        last_hop = f"{source(last)} -> {destination(last)} (frame {last.frame})"
        if self._is_loop(chain):
            return "loop", last_hop
        target = self._request_target(method, last)
        if target is not None and self._reached(last, target):
            return "delivered", last_hop
        icmp = self._icmp_for(chain[-1])
        if icmp is not None:
            chooser = source(last)
            ruri = msg.request_uri
            cause = (
                f"it forwarded on the Request-URI <{ruri}>"
                if not msg.routes
                else f"it followed Route <{uris(msg.routes)[0]}>"
            )
            element = destination(last)
            advertiser = self._contact_owner(ruri) if not msg.routes else None
            if rewriter is not None and not msg.routes:
                cause += f", which {rewriter} had rewritten (proxy-rewrote-request-uri)"
                element = rewriter
            elif advertiser is not None:
                cause += (
                    f", the Contact that {source(advertiser)} advertised in "
                    f"{advertiser.message.summary} (frame {advertiser.frame})"
                )
                element = source(advertiser)
            self.add(
                Severity.ERROR,
                "icmp-unreachable",
                f"the {method} sent by {chooser} to {destination(last)} got ICMP "
                f"{icmp.description} from {icmp.reporter}: nothing listens there ({cause})",
                element=element,
                frames=[last.frame, icmp.frame],
                ts_ns=icmp.ts_ns,
                rfc="RFC 3261 18.1.1, 18.4 (ICMP errors), 12.2.1.1",
                fix=(
                    f"stop {rewriter} from rewriting the Request-URI of in-dialog requests"
                    if rewriter is not None and not msg.routes
                    else f"make {source(advertiser)} advertise a Contact where it listens (or "
                    "have the edge proxy fix the Contact): every in-dialog request goes there"
                    if advertiser is not None
                    else self._unreachable_fix(method, last)
                ),
                detail=f"ICMP frame {icmp.frame} quotes {icmp.quoted_src}:{icmp.quoted_sport} -> "
                f"{icmp.quoted_dst}:{icmp.quoted_dport}",
                last_hop=last_hop,
            )
            return "icmp", last_hop
        if msg.max_forwards is not None and msg.max_forwards <= 0:
            return "max-forwards", last_hop
        if target is None and self._reached_request_uri(last):
            return "delivered", last_hop
        receiver = destination(last)
        # Only say "dropped" where the capture shows this element forwarding requests (it
        # relayed the INVITE in this capture); elsewhere the request just left our view.
        if receiver in self.forwarders:
            why = ""
            answer = self._answer_from(last)
            if answer is not None:
                why = f" and answered {answer.message.summary} (frame {answer.frame})"
            elif not msg.routes and target is None:
                why = " (it carries no Route and its Request-URI is not this element's peer)"
            elif not msg.routes:
                why = " (it carries no Route: the element has nothing to route it on)"
            self.add(
                Severity.ERROR if method == "ACK" else Severity.WARNING,
                "request-dropped",
                f"the {method} reached {receiver}, which did not forward it{why}",
                element=receiver,
                frames=[last.frame],
                ts_ns=last.ts_ns,
                rfc="RFC 3261 16.4, 16.12, 12.2.1.1",
                fix="check the routing logic of this element for in-dialog requests and the "
                "route set the sender used",
                last_hop=last_hop,
            )
            return "dropped", last_hop
        return "not-captured", last_hop

    def _contact_owner(self, request_uri: Uri | None) -> CapturedMessage | None:
        """The message (INVITE or 2xx, first copy) whose Contact is this Request-URI."""
        if request_uri is None:
            return None
        for captured in self.call.messages:
            msg = captured.message
            if msg.is_response and not (200 <= (msg.status_code or 0) < 300):
                continue
            if msg.is_request and msg.method != "INVITE":
                continue
            for contact in msg.contacts:
                if contact.uri is not None and same_uri(contact.uri, request_uri):
                    return captured
        return None

    def _answer_origin(self, dialog: Dialog) -> CapturedMessage:
        """The copy of the dialog's 2xx that left the UAS: the one with the most Vias (a
        proxy that changed the To tag made its copy look like another dialog's)."""
        answers = list(dialog.answers)
        cseq = answers[0].message.cseq
        all_2xx = [
            r
            for t in self.call.initial_invites
            for r in t.finals
            if 200 <= (r.message.status_code or 0) < 300 and r.message.cseq == cseq
        ]
        pool = answers
        if all_2xx and max(len(r.message.vias) for r in all_2xx) > max(
            len(a.message.vias) for a in answers
        ):
            pool = all_2xx
        max_vias = max(len(a.message.vias) for a in pool)
        return next(a for a in pool if len(a.message.vias) == max_vias)

    def _answer_from(self, request: CapturedMessage) -> CapturedMessage | None:
        """The final response the receiver of ``request`` sent back on that hop, if any."""
        branch = request.message.branch
        for txn in self.call.transactions:
            for response in txn.finals:
                if response.message.branch == branch and response.src == request.dst:
                    return response
        return None

    def _request_target(self, method: str, last: CapturedMessage) -> str | None:
        """Where the request's final receiver listens, if the dialog shows it."""
        for dialog in self.call.dialogs:
            if not dialog.answers:
                continue
            uas = self._answer_origin(dialog)
            to_tag = last.message.to_tag
            from_tag = last.message.from_tag
            if to_tag == dialog.id.callee_tag:
                return source(uas)
            if from_tag == dialog.id.callee_tag:
                # Sent by the callee: the target is the caller, who sent the INVITE.
                invite = self.call.initial_invites[0].request
                return source(invite) if invite is not None else None
        return None

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
            u for u in [msg.request_uri, *uris(msg.routes)] if uri_endpoint(u).lower() == here
        ]
        return len(names_here) == 1 + len(msg.routes)

    def _icmp_for(self, node: _Node) -> IcmpReport | None:
        for copy in node.copies:
            for report in self.icmp:
                if (
                    report.quoted_src == copy.src
                    and report.quoted_sport == copy.sport
                    and report.quoted_dst == copy.dst
                    and report.quoted_dport == copy.dport
                    and 0 <= report.ts_ns - copy.ts_ns <= 5_000_000_000
                ):
                    return report
        return None

    def _unreachable_fix(self, method: str, last: CapturedMessage) -> str:
        if last.message.routes:
            return (
                "the Route value points at an address where nothing listens: fix the "
                "Record-Route of the proxy that wrote it"
            )
        return (
            "the Request-URI points where nothing listens: if it is the peer's Contact, make "
            f"that UA advertise a reachable Contact; if a proxy rewrote it, stop rewriting "
            f"in-dialog {method}s"
        )

    def _is_loop(self, chain: list[_Node]) -> bool:
        seen: dict[tuple[str, str], int] = {}
        for node in chain:
            key = (destination(node.first), node.first.message.request_uri_text or "")
            seen[key] = seen.get(key, 0) + 1
            if seen[key] >= 2:
                return True
        return False

    def report_loop(self, method: str, chain: list[_Node]) -> None:
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
        mf_text = f"Max-Forwards {first.message.max_forwards} -> {last.message.max_forwards}"
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
            Severity.ERROR,
            "request-loop",
            f"the {method} loops between {' and '.join(looping)}: {len(chain)} hops, "
            f"{mf_text}, Via stack {len(first.message.vias)} -> {len(last.message.vias)}"
            + end_text,
            element=", ".join(looping),
            frames=[n.first.frame for n in chain[:6]]
            + [last.frame]
            + [r.frame for r in too_many_hops[:1]],
            ts_ns=first.ts_ns,
            rfc="RFC 3261 16.3 step 4, 16.6 step 3, 16.4",
            fix="the element that did not remove its own Route value (proxy-route-not-removed) "
            "sends the request back to itself through the next hop",
            last_hop=f"{source(last)} -> {destination(last)} (frame {last.frame})",
        )


def _chain(copies: list[CapturedMessage]) -> list[_Node]:
    """Link copies of one request hop by hop: the next hop's Vias below the top are ours."""
    nodes: dict[tuple[str, ...], _Node] = {}
    for copy in sorted(copies, key=lambda c: (c.ts_ns, c.frame)):
        branches = via_branches(copy.message)
        node = nodes.get(branches)
        if node is None:
            nodes[branches] = _Node(branches, [copy])
        else:
            node.copies.append(copy)
    roots = [n for n in nodes.values() if n.branches[1:] not in nodes]
    if not roots:
        return []
    root = min(roots, key=lambda n: (len(n.branches), n.first.ts_ns))
    children: dict[tuple[str, ...], list[_Node]] = defaultdict(list)
    for node in nodes.values():
        if len(node.branches) > 1 and node.branches[1:] in nodes:
            children[node.branches[1:]].append(node)
    chain = [root]
    while True:
        nxt = children.get(chain[-1].branches)
        if not nxt:
            break
        chain.append(min(nxt, key=lambda n: n.first.ts_ns))
    return chain


def icmp_reports(packets: Iterable[Any]) -> list[IcmpReport]:
    """ICMP errors of decoded packets (``rtcscope.capture.pipeline.packets``) as reports."""
    reports: list[IcmpReport] = []
    for packet in packets:
        icmp = getattr(packet, "icmp", None)
        if icmp is None:
            continue
        reports.append(
            IcmpReport(
                frame=packet.frame,
                ts_ns=packet.ts_ns,
                reporter=packet.src,
                description=icmp.description,
                quoted_src=icmp.quoted_src,
                quoted_sport=icmp.quoted_sport,
                quoted_dst=icmp.quoted_dst,
                quoted_dport=icmp.quoted_dport,
            )
        )
    return reports


def format_path(path: RequestPath) -> str:
    """One request's hops as lines: frame, from -> to, Request-URI, Route, Max-Forwards."""
    lines = [f"{path.method} (CSeq {path.cseq}) path, {path.outcome}: last hop {path.last_hop}"]
    steps = path.steps
    shown = steps if len(steps) <= 10 else [*steps[:6], *steps[-2:]]
    for i, step in enumerate(shown):
        if len(steps) > 10 and i == 6:
            lines.append(f"    ... {len(steps) - 8} more hops ...")
        routes = ", ".join(f"<{r}>" for r in step.routes) or "-"
        problems = f"  !! {'; '.join(step.problems)}" if step.problems else ""
        lines.append(
            f"  frame {step.frame:>5} {step.src} -> {step.dst} x{step.copies} "
            f"R-URI <{step.request_uri}> Route {routes} MF {step.max_forwards}{problems}"
        )
    return "\n".join(lines)


def format_details(diagnosis: Diagnosis) -> str:
    """What a findings table leaves out: each finding's rule, detail and fix (numbered as the
    table's rows), then the requests' paths and the notes."""
    out: list[str] = []
    for number, f in enumerate(diagnosis.findings, 1):
        out.append(f"#{number} [{f.severity.value}] {f.code}, call {f.call_id}")
        out += _rule_detail_fix(f)
    out += _paths_and_notes(diagnosis)
    return "\n".join(out)


def _rule_detail_fix(finding: Finding) -> list[str]:
    """The indented rule, detail and fix lines of one finding."""
    lines = [f"    rule: {finding.rfc}"] if finding.rfc else []
    lines += [f"    {line}" for line in finding.detail.splitlines()]
    if finding.fix:
        lines.append(f"    fix: {finding.fix}")
    return lines


def _paths_and_notes(diagnosis: Diagnosis) -> list[str]:
    return [format_path(path) for path in diagnosis.paths] + [f"note: {n}" for n in diagnosis.notes]


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """The findings as plain text: one block per finding, then the requests' paths."""
    if not diagnosis.calls:
        return "no INVITE call in this capture"
    out = [
        f"{diagnosis.calls} call(s): {diagnosis.count(Severity.ERROR)} error(s), "
        f"{diagnosis.count(Severity.WARNING)} warning(s), {diagnosis.count(Severity.INFO)} info"
    ]
    for f in diagnosis.findings:
        time_text = "" if f.time_s is None else f" at {f.time_s:.3f} s"
        out.append(f"[{f.severity.value}] {f.summary}")
        out.append(f"    call {f.call_id}{time_text}; frames {', '.join(map(str, f.frames))}")
        if f.element:
            out.append(f"    element: {f.element}")
        if f.last_hop:
            out.append(f"    last hop: {f.last_hop}")
        out += _rule_detail_fix(f)
    out += _paths_and_notes(diagnosis)
    return "\n".join(out)


def _record_route_insertions(call: Call) -> tuple[dict[str, list[Uri]], set[str]]:
    """Per proxy address, the Record-Route values it added to the INVITE (16.6 step 4), and
    the addresses seen forwarding the INVITE in this capture.

    A proxy's copy of the INVITE has one Via more than the copy it received and the same
    Record-Route list with its own value(s) on top; the values are filed under the address it
    received on and the address it sent from (a double Record-Route's two interfaces).
    """
    copies = [r for t in call.initial_invites for r in t.requests]
    by_branches: dict[tuple[str, ...], CapturedMessage] = {}
    for copy in copies:
        by_branches.setdefault(via_branches(copy.message), copy)
    inserted: dict[str, list[Uri]] = defaultdict(list)
    forwarders: set[str] = set()
    for branches, sent in by_branches.items():
        received = by_branches.get(branches[1:]) if len(branches) > 1 else None
        if received is None:
            continue
        forwarders.add(destination(received))
        forwarders.add(source(sent))
        before = uris(received.message.record_routes)
        after = uris(sent.message.record_routes)
        added = len(after) - len(before)
        if added > 0 and same_uris(after[added:], before):
            for key in (destination(received), source(sent)):
                inserted[key].extend(after[:added])
    return dict(inserted), forwarders
