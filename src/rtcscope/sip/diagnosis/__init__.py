"""Why a call failed: findings from the SIP messages of a capture, following routing hop by hop.

The centre is "the ACK never arrived" (RFC 3261 13.3.1.4): the UAS retransmits its 2xx at T1,
2*T1, ... up to T2 until the ACK arrives and gives up after 64*T1. The ACK to a 2xx is its own
transaction, routed along the dialog's route set (12.2.1.1) to the dialog's remote target,
which every re-INVITE or UPDATE may refresh (12.2.1.2, 12.2.2); every proxy on the way removes
its own Route value(s) (16.4), leaves the Request-URI alone (16.5), decrements Max-Forwards
(16.6 step 3), and treats strict routers specially (16.4, 16.6 step 6).

The checks are split by concern, each a mixin over :class:`.base.CheckerBase` that states a
catalogue code and its evidence:

- :mod:`.transactions`: final answers, ringing at capture end, CANCEL, To tags, ACK to non-2xx,
  re-INVITE/UPDATE refused;
- :mod:`.dialogs`: the 2xx and its ACK, Record-Route copied, Contact, strict routers, target
  refreshes;
- :mod:`.paths`: every in-dialog request hop by hop, judged by whether it arrived;
- :mod:`.media`: the SDP against the RTP streams (RFC 3264, 4961).

Severity, rule and fix of every code are in :mod:`.catalogue` (``rtcscope diagnose
--list-codes``). :func:`diagnose` is pure and linear in the number of calls and messages (every
look-up goes through an index by Call-ID, branch, flow or time); a capture is read for it by
the one-pass scan (``rtcscope.scan``: ``CaptureModel.diagnosis``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from operator import attrgetter
from types import ModuleType
from typing import TYPE_CHECKING

from rtcscope.sip.diagnosis.base import IcmpIndex
from rtcscope.sip.diagnosis.catalogue import (
    CATALOGUE,
    SEVERITY_ORDER,
    FindingKind,
    Severity,
    catalogue_rows,
)
from rtcscope.sip.diagnosis.media import MediaChecks, StreamIndex
from rtcscope.sip.diagnosis.model import (
    Diagnosis,
    Finding,
    IcmpReport,
    PathStep,
    RequestPath,
)
from rtcscope.sip.diagnosis.paths import PathChecks
from rtcscope.sip.diagnosis.render import (
    FindingGroup,
    format_catalogue,
    format_catalogue_markdown,
    format_details,
    format_diagnosis,
    format_groups,
    format_path,
    group_findings,
    select_findings,
)
from rtcscope.sip.diagnosis.transactions import (
    TransactionChecks,
    non_2xx_ack_path,
    non_2xx_ack_step,
    status_finding,
)
from rtcscope.sip.dialogs import Call, Dialog, find_calls
from rtcscope.sip.routing import (
    ROUTE_SCAN_ROAD,
    is_unroutable_address,
    plain_sip_target,
    uri_host,
)
from rtcscope.sip.transactions import CapturedMessage

if TYPE_CHECKING:
    from rtcscope.rtp.streams import RtpStream
    from rtcscope.sip.calls import IcmpEvent
    from rtcscope.sip.capture import MediaAnnouncement
    from rtcscope.sip.transactions import Transaction

__all__ = [
    "CATALOGUE",
    "Diagnosis",
    "Finding",
    "FindingGroup",
    "FindingKind",
    "IcmpReport",
    "PathStep",
    "RequestPath",
    "Severity",
    "catalogue_rows",
    "diagnose",
    "format_catalogue",
    "format_catalogue_markdown",
    "format_details",
    "format_diagnosis",
    "format_groups",
    "format_path",
    "group_findings",
    "icmp_reports",
    "select_findings",
]

_TS_NS = attrgetter("ts_ns")


class CallChecker(TransactionChecks, PathChecks, MediaChecks):
    """Every check of one call, in the order an engineer reads them."""

    def run(self) -> None:
        if not self.initial_invites:
            return
        if self.lean and (self.run_refused_direct() or self.run_direct()):
            return
        self.find_target_refreshes()
        self.check_final_answers(self.initial_invites)
        self.check_response_tags()
        self.check_non_2xx_acks()
        self.check_refresh_answers()
        for dialog in self.call.dialogs:
            if dialog.answers:
                self.check_answered_dialog(dialog)
        self.report_target_refreshes()
        self.check_in_dialog_paths()

    def run_refused_direct(self) -> bool:
        """:meth:`run` of a call whose one transaction is its initial INVITE, without a 2xx:
        refused (486, 408, 487, ... with the ACK to it, which belongs to the INVITE's
        transaction: 17.1.1.3), still ringing or unanswered. Without a 2xx no dialog is
        confirmed, and without another transaction there is no CANCEL, no in-dialog request,
        no re-INVITE or UPDATE: of :meth:`run`'s checks only the INVITE transaction's can
        find anything, and they run here as there (the dialogs are not built); True.
        Anything else (False) is left to :meth:`run_direct` and :meth:`run`, before any
        finding or path is made here. tests/sip/test_diagnosis_direct.py checks both roads
        agree."""
        transactions = self.call.transactions
        if len(transactions) != 1:
            return False
        # (the one transaction is then the one initial INVITE: run asked for one)
        codes: set[int] = set()
        repeated = False
        for response in transactions[0].responses:
            code = response.message.status_code or 0
            if 200 <= code < 300:
                return False
            if code > 100:
                repeated = repeated or code in codes
                codes.add(code)
        self.refreshes = []  # find_target_refreshes: none to find
        self.check_final_answers(self.initial_invites)
        if repeated:  # check_response_tags compares two copies of one status: else none
            self.check_response_tags()
        self.check_non_2xx_acks()
        return True

    def run_direct(self) -> bool:
        """:meth:`run` of the common call, in one pass over the few facts its checks read:
        one INVITE transaction, answered by one 2xx (one dialog, no other 2xx; maybe resent,
        every copy with as many Vias), a status seen twice only in copies of one Via, none
        refused, no CANCEL, no re-INVITE or UPDATE, no Record-Route on the INVITE or the
        2xx, a Contact in the 2xx the last hop can reach, and an ACK reaching the UAS no
        earlier than the 2xx was last sent. Then the transaction
        and dialog checks find nothing (each says so on these facts), and the in-dialog
        requests are followed as :meth:`run` follows them, with these facts known
        (:meth:`PathChecks.trace_dialog_direct`); True. Anything else (False) is
        left to :meth:`run`, before any finding or path is made here.
        tests/sip/test_diagnosis_direct.py checks both roads agree."""
        if self.refresh_transactions:
            return False  # target refreshes, refused re-INVITEs: the full checks
        invites = self.initial_invites
        if len(invites) != 1:
            return False
        invite = invites[0]
        cseq_number = invite.cseq
        if self.transactions_of("CANCEL", cseq_number):  # (no CANCEL: most calls)
            return False
        # check_final_answers, check_non_2xx_acks: answered, none refused.
        # check_response_tags: a status twice (the 2xx resent by the UAS, a 180 resent) only
        # in copies of one Via each, which it does not compare.
        codes: set[int] = set()
        repeated = False
        answers = 0  # 2xx copies
        statuses = 0  # 2xx statuses
        for response in invite.responses:
            code = response.message.status_code or 0
            if code > 100:
                if code >= 300:
                    return False
                if code in codes:
                    repeated = True
                else:
                    codes.add(code)
                    statuses += code >= 200
                answers += code >= 200
        if repeated and any(self.via_count(r) > 1 for r in self.repeated_responses()):
            return False
        # One 2xx status (the one dialog's, below), whose copies are the dialog's answers
        # (every 2xx of the INVITE in it) with one Via stack depth: the first copy is the
        # one that left the UAS (answer_origin, check_answered_dialog's first_2xx) and what
        # the caller bases its requests on.
        if statuses != 1:
            return False
        dialogs = self.call.dialogs
        if len(dialogs) != 1 or len(dialogs[0].answers) != answers:
            return False
        dialog = dialogs[0]
        answer = dialog.answers[0]
        if answers > 1:
            depth = self.via_count(answer)
            if any(self.via_count(copy) != depth for copy in dialog.answers):
                return False
        # check_answered_dialog: the first ACK reaching the UAS (in the order it reads
        # them), with no 2xx sent after it.
        cseq = answer.message.cseq
        invite_cseq = cseq.number if cseq else -1
        first_ack = self._first_ack(dialog, invite_cseq, answer)
        if first_ack is None:
            return False
        for copy in dialog.answers:
            if copy.ts_ns > first_ack.ts_ns:
                return False
        # check_record_route_copied (whichever copy of the INVITE it picks),
        # check_strict_routers: no Record-Route at all (known at once for a message without
        # "route" in it: record_routes).
        for captured in (answer, *invite.requests):
            if self.record_routes(captured):
                return False
        # check_contact: a Contact, reachable from where the 2xx came.
        text = self.contact_text(answer)
        plain = plain_sip_target(text) if text is not None else None
        if plain is not None:
            host = plain[0]  # (the plainest shape: no URI built)
        else:
            contact = self.contact_uri(answer)
            if contact is None:
                return False
            host = uri_host(contact)
        # (the usual Contact names the address the 2xx came from: then the two answers agree
        # and none is asked)
        if (
            host != answer.src
            and is_unroutable_address(host)
            and not is_unroutable_address(answer.src)
        ):
            return False
        self.refreshes = []  # find_target_refreshes: none to find
        self.trace_dialog_direct(dialog, answer, invite)  # check_in_dialog_paths
        return True

    def _first_ack(
        self, dialog: Dialog, invite_cseq: int, answer: CapturedMessage
    ) -> CapturedMessage | None:
        """The first ACK of the INVITE's CSeq reaching the UAS that sent ``answer``, in the
        order check_answered_dialog reads them (the dialog's transactions, then copies)."""
        for txn in dialog.transactions:
            if txn.method == "ACK" and txn.cseq == invite_cseq:
                for copy in txn.requests:
                    if self.reaches(copy, answer):
                        return copy
        return None


UsualCall = Callable[[Call, bool], list[RequestPath] | None]
# (the transaction, its refusal, its first ACK's Max-Forwards and Via count)
RefusedFacts = tuple["Transaction", CapturedMessage, int | None, int]
UsualRefused = Callable[[Call], RefusedFacts | None]
UsualMedia = Callable[[Call, Sequence["MediaAnnouncement"], StreamIndex], bool]


def _usual_call_setup(routescan: ModuleType) -> tuple[UsualCall, UsualRefused, UsualMedia]:
    """``routescan.usual_call`` (what :meth:`CallChecker.run_direct` decides, on its road:
    the paths it makes, or None for any other call), ``routescan.usual_refused`` (the facts
    from which :func:`_usual_refused_result` makes the finding and the path
    :meth:`CallChecker.run_refused_direct` makes, on its road, or None) and
    ``routescan.usual_media`` (True where :meth:`MediaChecks.check_media` finds nothing by
    its usual answer alone), set up with the classes they read and make and check_media's
    window; TypeError or AttributeError from an older _routescan.c."""
    from rtcscope.rtp.streams import RtpStream, StreamKey
    from rtcscope.sip.capture import CapturedSip, MediaAnnouncement
    from rtcscope.sip.diagnosis.media import MEDIA_WINDOW_NS
    from rtcscope.sip.diagnosis.model import DeliveredPath
    from rtcscope.sip.headers import CSeq
    from rtcscope.sip.message import SipMessage
    from rtcscope.sip.transactions import Transaction

    routescan.setup_usual_call(
        DeliveredPath,
        Call,
        Transaction,
        CapturedSip,
        SipMessage,
        CSeq,
        RtpStream,
        StreamKey,
        StreamIndex,
        MediaAnnouncement,
        MEDIA_WINDOW_NS,
    )
    return routescan.usual_call, routescan.usual_refused, routescan.usual_media


def _usual_refused_result(
    call: Call, facts: RefusedFacts, start_ns: int
) -> tuple[Finding, RequestPath]:
    """The finding and the path :meth:`CallChecker.run_refused_direct` makes of the usual
    refused call (check_status's, check_non_2xx_acks'), from the facts
    ``_routescan.usual_refused`` found: one ACK, without a Route, on the INVITE's hop."""
    txn, final, max_forwards, vias = facts
    code = final.message.status_code or 0
    finding = status_finding(final, code, False, call.call_id, start_ns)
    step = non_2xx_ack_step(txn, max_forwards, (), vias)
    return finding, non_2xx_ack_path(call.call_id, txn.cseq, [step], [])


def _usual_call_road() -> tuple[UsualCall, UsualRefused, UsualMedia] | tuple[None, None, None]:
    """:func:`_usual_call_setup` on the C road (ROUTE_SCAN_ROAD), else None three times."""
    if ROUTE_SCAN_ROAD != "c":
        return None, None, None
    from rtcscope.sip import _routescan

    try:
        return _usual_call_setup(_routescan)
    except (TypeError, AttributeError):
        return None, None, None


# The usual answered call's diagnosis, the usual refused call's and the usual media's in C
# where they were built (None: CallChecker.run, MediaChecks.check_media).
_usual_call, _usual_refused, _usual_media = _usual_call_road()
USUAL_CALL_ROAD = "python" if _usual_call is None else "c"


def diagnose(
    messages: Iterable[CapturedMessage],
    icmp: Sequence[IcmpReport] = (),
    *,
    call_id: str | None = None,
    announcements: Sequence[MediaAnnouncement] | None = None,
    streams: Sequence[RtpStream] | None = None,
    calls: Sequence[Call] | None = None,
    first_ns: int | None = None,
) -> Diagnosis:
    """Findings for every INVITE call in ``messages`` (or only ``call_id``).

    ``announcements`` (``media_announcements``) and ``streams`` (``find_streams``) enable the
    media checks; without them the media is not diagnosed (and a note says so). ``calls``
    (``find_calls(messages)``) may be given when the caller has them already. ``first_ns``:
    the capture's first packet, where findings' ``time_s`` count from (else the first SIP
    message).
    """
    # (the scan's list as it is: no copy of its 135k messages, and no list of their stamps)
    captured = messages if isinstance(messages, list) else list(messages)
    # (the last SIP message's time: what the checks of a call left to Python read, found
    # when the first such call comes; the usual calls, read in C, never ask)
    end_ns: int | None = None
    start_ns = min(map(_TS_NS, captured), default=0) if first_ns is None else first_ns
    result = Diagnosis()
    icmp_index = IcmpIndex(icmp)
    media = announcements is not None and streams is not None
    by_call: dict[str | None, list[MediaAnnouncement]] = defaultdict(list)
    for announcement in announcements or ():
        by_call[announcement.call_id].append(announcement)
    stream_index = StreamIndex(streams or ())
    findings = result.findings
    paths = result.paths
    # CallChecker.run of the usual answered call and of the usual refused call in one C step
    # each (_usual_call, _usual_refused), on the direct roads only (lean: the full checks are
    # their specification)
    usual = _usual_call if CallChecker.lean else None
    usual_refused = _usual_refused if CallChecker.lean else None
    usual_media = _usual_media if CallChecker.lean else None
    any_icmp = bool(icmp_index)
    no_announcements: tuple[MediaAnnouncement, ...] = ()
    for call in calls if calls is not None else find_calls(captured):
        if call_id is not None and call.call_id != call_id:
            continue
        for txn in call.transactions:  # call.is_invite_call
            if txn.method == "INVITE":
                break
        else:
            continue
        result.calls += 1
        found = usual(call, any_icmp) if usual is not None else None
        if found is not None:  # (the usual answered call: run finds nothing, these paths)
            paths += found
        elif usual_refused is not None:
            facts = usual_refused(call)
            if facts is not None:  # (the usual refused call: run's finding and path)
                finding, path = _usual_refused_result(call, facts, start_ns)
                findings.append(finding)
                paths.append(path)
                found = []
        announced = by_call.get(call.call_id, no_announcements) if media else None
        if (
            announced is not None
            and usual_media is not None
            and usual_media(call, announced, stream_index)
        ):
            announced = None  # (check_media would find nothing)
        if found is not None and announced is None:
            continue
        if end_ns is None:
            end_ns = max(map(_TS_NS, captured), default=0)
        checker = CallChecker(call, icmp_index, start_ns, end_ns)
        if found is None:
            checker.run()
            paths += checker.paths
        if announced is not None:
            checker.check_media(announced, stream_index)
        if checker.findings:
            findings += checker.findings
    result.findings = _dedupe(result.findings)
    result.findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.time_s or 0.0))
    if not media:
        result.notes.append(
            "media not checked (no RTP streams or SDP announcements were given to the diagnosis)"
        )
    return result


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (call, code, element, summary); evidence frames merged (loops repeat)."""
    merged: dict[tuple[str, str, str, str], Finding] = {}
    for f in findings:
        key = (f.call_id, f.code, f.element, f.summary)
        old = merged.get(key)
        if old is None:
            merged[key] = f
        else:
            frames = tuple(sorted(set(old.frames) | set(f.frames)))[:20]
            merged[key] = replace(old, frames=frames)
    return list(merged.values())


def icmp_reports(events: Iterable[IcmpEvent]) -> list[IcmpReport]:
    """The capture's ICMP errors (``CaptureModel.icmp``) as the checks take them."""
    return [
        IcmpReport(
            frame=e.frame,
            ts_ns=e.ts_ns,
            reporter=e.reporter,
            description=e.error.description,
            quoted_src=e.error.quoted_src,
            quoted_sport=e.error.quoted_sport,
            quoted_dst=e.error.quoted_dst,
            quoted_dport=e.error.quoted_dport,
        )
        for e in events
    ]
