"""Every finding the diagnosis can give: code -> severity, rule, one-line explanation, fix.

The checks (``transactions``, ``dialogs``, ``paths``, ``media``) only say *which* code they
found and the evidence (frames, element, a summary with the numbers); severity, the RFC rule
and the fix come from this table, so ``rtcscope diagnose --list-codes`` and the README's list
are generated from the same place the findings are made from.

Severity discipline: ``error`` = the call or a request failed because of an element's
behaviour, and a frame shows it; ``warning`` = a rule broken without a failure (or a failure
whose cause is outside SIP routing); ``info`` = context an engineer wants beside the errors.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rtcscope._dataclass import dataclass


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class FindingKind:
    """One row of the catalogue."""

    code: str
    severity: Severity
    concern: str  # transactions, dialogs, paths, media
    rule: str  # the RFC section(s)
    explanation: str  # one line: what the finding means
    fix: str  # what to change (empty for context)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "concern": self.concern,
            "rule": self.rule,
            "explanation": self.explanation,
            "fix": self.fix,
        }


ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

_ROWS: tuple[FindingKind, ...] = (
    # -- transactions (RFC 3261 17, 9, 16.7) -------------------------------------------------
    FindingKind(
        "invite-no-final-response",
        ERR,
        "transactions",
        "RFC 3261 17.1.1.2 (Timer B), 16.7",
        "the INVITE got no response at all for longer than Timer B (64*T1 = 32 s)",
        "check that the next hop is reachable and answers; a proxy must send 408 when its "
        "branch times out",
    ),
    FindingKind(
        "invite-unanswered-at-capture-end",
        INFO,
        "transactions",
        "RFC 3261 17.1.1.2",
        "the INVITE got no response, but the capture ends before Timer B: too early to tell",
        "",
    ),
    FindingKind(
        "invite-ringing-at-capture-end",
        INFO,
        "transactions",
        "RFC 3261 17.1.1.2; RFC 3262",
        "the INVITE got a provisional response (Proceeding: no transaction timer ends it) and "
        "is still ringing when the capture ends",
        "",
    ),
    FindingKind(
        "invite-408",
        WARN,
        "transactions",
        "RFC 3261 16.7 step 2, 17.1.1.2",
        "the INVITE was answered 408: a hop's transaction timed out",
        "find the last hop that forwarded the INVITE and why its next hop never answered "
        "(down, filtered, wrong address)",
    ),
    FindingKind(
        "invite-481",
        WARN,
        "transactions",
        "RFC 3261 12.2.2",
        "the INVITE was answered 481: the dialog or transaction is unknown to its receiver",
        "the request names a dialog its receiver does not have (wrong tags, a restarted "
        "element, or a request sent to the wrong place)",
    ),
    FindingKind(
        "invite-483",
        ERR,
        "transactions",
        "RFC 3261 16.3 step 3, 16.6 step 3",
        "the INVITE was answered 483: Max-Forwards ran out (a routing loop)",
        "look for two elements forwarding the request to each other",
    ),
    FindingKind(
        "invite-failed",
        INFO,
        "transactions",
        "RFC 3261 21 (22.2, 22.3 for 401/407)",
        "the call ended with a final failure response (busy, declined, not found, ...)",
        "",
    ),
    FindingKind(
        "invite-cancelled",
        INFO,
        "transactions",
        "RFC 3261 9.2",
        "the INVITE was answered 487 after the caller's CANCEL",
        "",
    ),
    FindingKind(
        "invite-487-without-cancel",
        WARN,
        "transactions",
        "RFC 3261 9.2, 21.4.25",
        "the INVITE was answered 487 but no CANCEL is in the capture",
        "a 487 without CANCEL: check what ended the INVITE",
    ),
    FindingKind(
        "cancel-not-accepted",
        WARN,
        "transactions",
        "RFC 3261 9.2, 16.10",
        "a CANCEL was not answered 200 by the element that got it",
        "the element should answer CANCEL with 200 and end the INVITE with 487; a 481 means it "
        "did not match the INVITE (branch, sent-by), a 408 that it never handled it",
    ),
    FindingKind(
        "cancel-race",
        INFO,
        "transactions",
        "RFC 3261 9.1, 15",
        "the CANCEL crossed the 2xx: the call was answered after the caller cancelled, and a "
        "BYE ended it",
        "",
    ),
    FindingKind(
        "cancel-race-no-bye",
        ERR,
        "transactions",
        "RFC 3261 9.1, 15",
        "the CANCEL crossed the 2xx and no BYE followed: the callee holds a call the caller "
        "gave up",
        "the caller must ACK the 2xx and send BYE when its CANCEL loses the race",
    ),
    FindingKind(
        "proxy-changed-to-tag",
        ERR,
        "transactions",
        "RFC 3261 16.7, 12.1",
        "a proxy forwarded a response with another To tag than the UAS sent",
        "a proxy must not change tags: the caller's dialog no longer matches the callee's, so "
        "the callee never sees an ACK or BYE for its answer",
    ),
    FindingKind(
        "non2xx-no-ack",
        WARN,
        "transactions",
        "RFC 3261 17.1.1.3, 17.2.1",
        "a non-2xx final response was retransmitted because the client never ACKed it",
        "the client transaction must ACK every non-2xx final on the same hop",
    ),
    FindingKind(
        "non2xx-ack-wrong-hop",
        ERR,
        "transactions",
        "RFC 3261 17.1.1.3",
        "the ACK to a non-2xx final went to another hop than the INVITE",
        "the ACK to a non-2xx belongs to the INVITE transaction: send it to the same address, "
        "with the same branch",
    ),
    FindingKind(
        "non2xx-ack-request-uri",
        WARN,
        "transactions",
        "RFC 3261 17.1.1.3",
        "the ACK to a non-2xx final has another Request-URI than the INVITE (it still matches "
        "the transaction by its branch)",
        "the ACK to a non-2xx repeats the INVITE's Request-URI, Call-ID, From, CSeq number and "
        "top Via; only To (with the tag) comes from the response",
    ),
    FindingKind(
        "reinvite-rejected",
        WARN,
        "transactions",
        "RFC 3261 14.1, 14.2; RFC 3311 5.2; RFC 6141",
        "a re-INVITE or UPDATE was refused (488 Not Acceptable Here, ...): the media change "
        "failed, the call goes on with the old session",
        "compare the offer with what the peer accepts (codecs, T.38, hold); a 488 names an "
        "unacceptable SDP",
    ),
    FindingKind(
        "reinvite-glare",
        INFO,
        "transactions",
        "RFC 3261 14.1",
        "a re-INVITE or UPDATE crossed another one (491 Request Pending); the UA retries later",
        "",
    ),
    # -- dialogs and targets (RFC 3261 12, 13.3.1.4) ----------------------------------------
    FindingKind(
        "ack-not-received",
        ERR,
        "dialogs",
        "RFC 3261 13.3.1.4, 13.2.2.4, 17.1.1.3",
        "the UAS retransmitted its 2xx (or hung up) because no ACK reached it",
        "follow the ACK's path: the finding on the last hop that carried it says which element "
        "lost it and why",
    ),
    FindingKind(
        "ack-not-seen-at-uas",
        INFO,
        "dialogs",
        "RFC 3261 13.3.1.4",
        "no ACK reaches the UAS in the capture, but it neither retransmitted nor hung up: the "
        "ACK took a path outside the capture",
        "",
    ),
    FindingKind(
        "2xx-retransmitted-after-ack",
        WARN,
        "dialogs",
        "RFC 3261 13.3.1.4",
        "the UAS retransmitted its 2xx after an ACK reached it",
        "the UAS does not match the ACK to its 2xx (Call-ID, tags, CSeq); check what reached it",
    ),
    FindingKind(
        "ack-for-other-dialog",
        WARN,
        "dialogs",
        "RFC 3261 13.2.2.4, 12.1",
        "an ACK reached the UAS but for another To tag than its 2xx",
        "see the finding on the element that changed the To tag",
    ),
    FindingKind(
        "uas-dropped-record-route",
        ERR,
        "dialogs",
        "RFC 3261 12.1.1",
        "the UAS did not copy the INVITE's Record-Route into its 2xx, and the ACK did not reach it",
        "the UAS must copy every Record-Route of the request into its 2xx, in order; without "
        "them the caller sends the ACK and BYE past the proxies",
    ),
    FindingKind(
        "uas-dropped-record-route-acked",
        WARN,
        "dialogs",
        "RFC 3261 12.1.1",
        "the UAS did not copy the INVITE's Record-Route into its 2xx, but the ACK still reached it",
        "copy every Record-Route of the request into the 2xx, in order: the proxies that asked "
        "to stay on the path are skipped",
    ),
    FindingKind(
        "2xx-without-contact",
        ERR,
        "dialogs",
        "RFC 3261 12.1.1, 13.3.1.4",
        "the 2xx has no Contact: there is no remote target for the ACK",
        "the UAS must put a Contact in every 2xx to INVITE",
    ),
    FindingKind(
        "private-contact",
        WARN,
        "dialogs",
        "RFC 3261 12.1.1; RFC 5626; RFC 3581",
        "the 2xx's Contact is a private address while the 2xx came from a public one",
        "make the UAS (or an SBC/ALG) advertise a reachable Contact, or have the edge proxy fix "
        "it (nathelper fix_nated_contact, RFC 5626 outbound)",
    ),
    FindingKind(
        "strict-router",
        WARN,
        "dialogs",
        "RFC 3261 12.2.1.1, 16.4, 16.6 step 6",
        "a Record-Route without ;lr: a strict router (RFC 2543) is in the route set",
        "enable loose routing (;lr) on that element; until then every element before it must "
        "put its URI in the Request-URI and move the remote target to the end of Route, and "
        "the element after it must restore the Request-URI from the last Route",
    ),
    FindingKind(
        "target-refresh",
        INFO,
        "dialogs",
        "RFC 3261 12.2.1.2, 12.2.2; RFC 3311",
        "a re-INVITE or UPDATE changed a side's Contact: later requests go to the new remote "
        "target (the route set stays)",
        "",
    ),
    # -- request paths (RFC 3261 12.2.1.1, 16) ----------------------------------------------
    FindingKind(
        "ua-route-set-reversed",
        WARN,
        "paths",
        "RFC 3261 12.1.1, 12.1.2",
        "a UA sent an in-dialog request with its route set in the wrong order",
        "the caller's route set is the 2xx's Record-Route reversed; the callee's is the "
        "INVITE's Record-Route as received",
    ),
    FindingKind(
        "ua-request-not-from-route-set",
        ERR,
        "paths",
        "RFC 3261 12.1.1, 12.1.2, 12.2.1.1",
        "a UA built an in-dialog request that does not follow its dialog (route set and remote "
        "target), and the request did not arrive",
        "build in-dialog requests from the dialog: Request-URI = the peer's latest Contact, "
        "Route = the route set (the 2xx's Record-Route reversed at the caller, the INVITE's "
        "Record-Route at the callee)",
    ),
    FindingKind(
        "ua-request-off-dialog-delivered",
        WARN,
        "paths",
        "RFC 3261 12.2.1.1",
        "a UA built an in-dialog request that does not follow its dialog, but it arrived",
        "build in-dialog requests from the route set and the peer's latest Contact",
    ),
    FindingKind(
        "ua-request-to-other-hop",
        WARN,
        "paths",
        "RFC 3261 12.2.1.1, 8.1.2",
        "a UA sent an in-dialog request to another address than the dialog's next hop",
        "an outbound proxy configured for all requests must route in-dialog requests on their "
        "Request-URI; otherwise send them to the first route",
    ),
    FindingKind(
        "proxy-route-not-removed",
        ERR,
        "paths",
        "RFC 3261 16.4, 16.12",
        "a proxy forwarded an in-dialog request without removing its own Route value, and the "
        "request did not arrive",
        "route in-dialog requests with loose_route()/the Route header: a proxy removes its own "
        "Route value(s) and forwards to the next one",
    ),
    FindingKind(
        "proxy-route-changed",
        ERR,
        "paths",
        "RFC 3261 16.4, 16.12",
        "a proxy changed the Route set beyond its own values, and the request did not arrive",
        "a proxy removes only the Route values that name it (16.4), nothing else",
    ),
    FindingKind(
        "proxy-route-broken-delivered",
        WARN,
        "paths",
        "RFC 3261 16.4, 16.12",
        "a proxy did not handle Route as 16.4 says, but the request arrived",
        "a proxy removes its own Route value(s) and nothing else",
    ),
    FindingKind(
        "proxy-rewrote-request-uri",
        ERR,
        "paths",
        "RFC 3261 16.5, 12.2.1.1, 16.4",
        "a proxy rewrote an in-dialog Request-URI (the remote target), and the request did not "
        "arrive",
        "an in-dialog Request-URI is the remote target (the peer's Contact): do not apply "
        "initial-request rewriting (lookup, number translation, domain rewrite) to requests "
        "that carry a To tag",
    ),
    FindingKind(
        "proxy-rewrote-request-uri-delivered",
        WARN,
        "paths",
        "RFC 3261 16.5",
        "a proxy rewrote an in-dialog Request-URI, but the request arrived",
        "do not rewrite the Request-URI of requests that carry a To tag",
    ),
    FindingKind(
        "proxy-retargeted-own-uri",
        INFO,
        "paths",
        "RFC 3261 16.5",
        "a proxy retargeted a Request-URI naming itself that is not one of its Record-Route "
        "values (it put itself in a Contact: topology hiding, NAT handling)",
        "",
    ),
    FindingKind(
        "proxy-max-forwards",
        WARN,
        "paths",
        "RFC 3261 16.6 step 3",
        "a proxy did not decrement Max-Forwards by one",
        "a proxy decrements Max-Forwards by one on every request it forwards",
    ),
    FindingKind(
        "proxy-wrong-next-hop",
        ERR,
        "paths",
        "RFC 3261 16.12, 16.6 step 6-7",
        "a proxy sent an in-dialog request elsewhere than its next hop, and it did not arrive",
        "send the request to the first Route value, or on the Request-URI when no Route is "
        "left (resolving its host by RFC 3263)",
    ),
    FindingKind(
        "proxy-resolved-next-hop",
        INFO,
        "paths",
        "RFC 3261 16.6 step 7, 16.12; RFC 3263",
        "a proxy resolved the next hop to another address than the URI names (alias, DNS, "
        "location, outbound proxy) and the request arrived",
        "",
    ),
    FindingKind(
        "strict-next-hop-handled",
        INFO,
        "paths",
        "RFC 3261 16.6 step 6",
        "a proxy sent a request to a strict router as 16.6 step 6 says",
        "",
    ),
    FindingKind(
        "strict-previous-hop-handled",
        INFO,
        "paths",
        "RFC 3261 16.4",
        "a proxy found its own Record-Route value as Request-URI and restored the Request-URI "
        "from the last Route value",
        "",
    ),
    FindingKind(
        "strict-router-step",
        INFO,
        "paths",
        "RFC 2543; RFC 3261 16.4",
        "a proxy routed as a strict router: the first Route value became the Request-URI",
        "",
    ),
    FindingKind(
        "icmp-unreachable",
        ERR,
        "paths",
        "RFC 3261 18.1.1, 18.4, 12.2.1.1",
        "a hop of an in-dialog request got an ICMP error: nothing listens where it was sent",
        "make the element named advertise a Contact (or Record-Route) where it listens, or stop "
        "the rewrite that sent the request there",
    ),
    FindingKind(
        "ack-dropped",
        ERR,
        "paths",
        "RFC 3261 16.4, 16.12, 12.2.1.1",
        "an element that forwards requests in this capture did not forward the ACK",
        "check the routing logic of this element for in-dialog requests and the route set the "
        "sender used",
    ),
    FindingKind(
        "request-dropped",
        WARN,
        "paths",
        "RFC 3261 16.4, 16.12, 12.2.1.1",
        "an element that forwards requests in this capture did not forward an in-dialog "
        "request (not an ACK)",
        "check the routing logic of this element for in-dialog requests and the route set the "
        "sender used",
    ),
    FindingKind(
        "request-loop",
        ERR,
        "paths",
        "RFC 3261 16.3 step 4, 16.6 step 3, 16.4",
        "an in-dialog request loops between elements until Max-Forwards runs out",
        "the element that did not remove its own Route value (proxy-route-not-removed) sends "
        "the request back to itself through the next hop",
    ),
    # -- media (RFC 3264) ---------------------------------------------------------------------
    FindingKind(
        "media-from-other-address",
        WARN,
        "media",
        "RFC 3264 5; RFC 4961",
        "RTP arrives from another address than the sender's SDP announced: a NAT or a media "
        "relay is between them",
        "the receiver must send its RTP back to where this RTP comes from (symmetric RTP / "
        "latching), or an SBC/media relay must anchor the media",
    ),
    FindingKind(
        "media-asymmetric-port",
        INFO,
        "media",
        "RFC 4961",
        "a side sends RTP from another port than it receives on (asymmetric RTP)",
        "",
    ),
    FindingKind(
        "media-to-other-address",
        WARN,
        "media",
        "RFC 3264 5, 6",
        "a side sends its RTP elsewhere than the peer's latest SDP announced",
        "the sender must send RTP to the address and port of the latest SDP it received (check "
        "re-INVITE/UPDATE handling and any SDP-rewriting ALG)",
    ),
    FindingKind(
        "media-not-captured",
        INFO,
        "media",
        "RFC 3264",
        "no RTP of this call is in the capture",
        "",
    ),
    FindingKind(
        "media-one-way",
        WARN,
        "media",
        "RFC 3264 5; RFC 4961; RFC 8445",
        "RTP flows one way only",
        "make the side behind NAT announce a reachable address (STUN/ICE, an SBC or a media "
        "relay), or check that the sender sends and that nothing on the path drops RTP",
    ),
)

CATALOGUE: dict[str, FindingKind] = {row.code: row for row in _ROWS}

# A rule broken on the way while the request still arrived: the error's warning twin.
DELIVERED_VARIANT: dict[str, str] = {
    "ua-request-not-from-route-set": "ua-request-off-dialog-delivered",
    "proxy-route-not-removed": "proxy-route-broken-delivered",
    "proxy-route-changed": "proxy-route-broken-delivered",
    "proxy-rewrote-request-uri": "proxy-rewrote-request-uri-delivered",
    "proxy-wrong-next-hop": "proxy-resolved-next-hop",
}


def kind(code: str) -> FindingKind:
    """The catalogue row of ``code`` (a KeyError is a bug in a check, not bad input)."""
    return CATALOGUE[code]


def catalogue_rows() -> list[FindingKind]:
    """The catalogue in its documented order (concern, then as written)."""
    return list(_ROWS)
