"""The direct road for the common ACK and BYE (``PathChecks.trace_direct``) against the full
checks, which are its specification.

Calls between two UAs are generated with the near misses that must leave the direct road (a
Route header, a Record-Route on the INVITE or the 2xx, a changed or private Contact, an ACK
from or to another port, another Request-URI, Max-Forwards 0 or 1, no ACK, a re-INVITE, a
BYE from either side, a resent request, an ICMP error): the diagnosis with the direct road
must equal, finding for finding and path for path, the one without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope.sip import diagnosis as diagnosis_module
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import CallChecker, IcmpReport, diagnose
from rtcscope.sip.diagnosis.model import DeliveredPath
from rtcscope.sip.diagnosis.render import format_diagnosis
from rtcscope.sip.message import SipMessage

UAC, UAS, OTHER = "192.0.2.10", "192.0.2.30", "10.0.0.7"


@dataclass
class Shape:
    invite_rr: bool
    answer_contact: str  # "" for none
    ringing_contact: str  # the 180's Contact ("" for none)
    answer_rr: str  # "" for none; else a Record-Route value
    ack: bool
    ack_uri: str
    ack_route: bool
    ack_max_forwards: str
    ack_sport: int
    ack_dport: int
    ack_twice: bool
    ack_vias: int  # 2: a second Via, as if a proxy had forwarded it; 0: a Via without sent-by
    ack_early: bool  # sent before the 2xx arrived (in capture order)
    reinvite_contact: str  # "" for no re-INVITE
    bye: str  # "", "caller", "callee"
    bye_uri_port: int
    bye_max_forwards: str
    icmp_on_bye: bool
    transport: str = "udp"
    forked: bool = False  # a 180 from a second callee (another To tag): two dialogs
    # Near misses of the whole call (CallChecker.run_direct):
    # the INVITE resent (same branch): True; "looped": a copy with its Via twice (one
    # transaction) and another Contact, which the callee bases its requests on (most Vias)
    invite_twice: bool | str = False
    second_invite: str = ""  # another INVITE transaction (new branch): "unanswered", "refused"
    # the 180 twice: "resent", or "looped" (a copy whose Via stack holds the INVITE's branch
    # twice, without the To tag: a proxy's copy in the same transaction)
    ringing_twice: str = ""
    cancel: bool = False  # a CANCEL (answered 200) before the 2xx
    # after the ACK: "resent" (the 2xx again), "202" (another 2xx), "202-relayed" (another
    # 2xx without a To tag, from elsewhere, with one Via more); before the ACK:
    # "resent-early" (the 2xx again, from where it came), "resent-early-elsewhere" (from
    # another port), "resent-early-relayed" (with one Via more)
    answer_twice: str = ""
    final: str = "200 OK"  # or a refusal ("486 Busy Here")
    fork_final: str = ""  # a final from a second callee (To tag c) after the 2xx
    fork_ack: bool = False  # the caller ACKs that final (refused: the ACK to a non-2xx)
    ack_cseq: int = 1  # the ACK's CSeq number (the INVITE's is 1)
    answer_sport: int = 5060  # the port the 2xx comes from
    ack_with_answer: bool = False  # the ACK stamped with the 2xx's time (after it in order)
    # The ACK to a refusal (its INVITE's branch, 17.1.1.3; CallChecker.run_refused_direct):
    # "" none, "plain" (to the INVITE's hop, its Request-URI), "twice" (resent), "route"
    # (with a Route), "port" (to another port), "uri" (another Request-URI), "vias" (a
    # second Via), "mf0" (Max-Forwards 0)
    refused_ack: str = ""
    invite_route: bool = False  # the INVITE carries a Route (its next hop a loose router)


def _msg(lines: list[str], body: str = "") -> SipMessage:
    return SipMessage.parse(("\r\n".join(lines) + "\r\n\r\n" + body).encode())


def _request(
    method: str,
    uri: str,
    branch: str,
    cseq: str,
    *,
    to_tag: str,
    caller: bool,
    extra: list[str] = (),
    max_forwards: str = "70",
) -> SipMessage:  # type: ignore[assignment]
    ours, theirs = ("a", to_tag) if caller else (to_tag, "a")
    via_host = UAC if caller else UAS
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {via_host}:5060;branch={branch}",
        f"Max-Forwards: {max_forwards}",
        f"From: <sip:{'alice' if caller else 'bob'}@example.com>;tag={ours}",
        f"To: <sip:{'bob' if caller else 'alice'}@example.com>"
        + (f";tag={theirs}" if theirs else ""),
        "Call-ID: direct-1",
        f"CSeq: {cseq}",
        *extra,
        "Content-Length: 0",
    ]
    return _msg(lines)


def _response(
    status: str, branch: str, cseq: str, *, to_tag: str, caller_sent: bool, extra: list[str] = ()
) -> SipMessage:  # type: ignore[assignment]
    via_host = UAC if caller_sent else UAS
    frm, to = ("alice", "bob") if caller_sent else ("bob", "alice")
    tags = ("a", to_tag) if caller_sent else (to_tag, "a")
    lines = [
        f"SIP/2.0 {status}",
        f"Via: SIP/2.0/UDP {via_host}:5060;branch={branch}",
        f"From: <sip:{frm}@example.com>;tag={tags[0]}",
        f"To: <sip:{to}@example.com>" + (f";tag={tags[1]}" if to_tag else ""),
        "Call-ID: direct-1",
        f"CSeq: {cseq}",
        *extra,
        "Content-Length: 0",
    ]
    return _msg(lines)


def build(shape: Shape) -> tuple[list[CapturedSip], list[IcmpReport]]:
    out: list[CapturedSip] = []
    icmp: list[IcmpReport] = []

    def add(ms: int, src: str, sport: int, dst: str, dport: int, msg: SipMessage) -> None:
        frame = len(out) + 1
        out.append(CapturedSip(frame, ms * 1_000_000, src, sport, dst, dport, shape.transport, msg))

    def fwd(ms: int, msg: SipMessage) -> None:  # caller to callee
        add(ms, UAC, 5060, UAS, 5060, msg)

    def bwd(ms: int, msg: SipMessage) -> None:  # callee to caller
        add(ms, UAS, 5060, UAC, 5060, msg)

    invite_extra = [f"Contact: <sip:alice@{UAC}:5060>"]
    if shape.invite_route:
        invite_extra.append(f"Route: <sip:{UAS}:5060;lr>")
    if shape.invite_rr:
        invite_extra.append(f"Record-Route: <sip:{UAC}:5060;lr>")

    def invite(extra: list[str]) -> SipMessage:
        return _request(
            "INVITE", f"sip:bob@{UAS}", "z9hG4bKi", "1 INVITE", to_tag="", caller=True, extra=extra
        )

    fwd(0, invite(invite_extra))
    if shape.invite_twice == "looped":
        via = f"Via: SIP/2.0/UDP {UAC}:5060;branch=z9hG4bKi"
        fwd(5, invite([via, f"Contact: <sip:alice@{UAC}:5070>"]))
    elif shape.invite_twice:
        fwd(5, out[0].message)
    if shape.second_invite:
        second = _request(
            "INVITE", f"sip:bob@{OTHER}", "z9hG4bKj", "1 INVITE", to_tag="", caller=True
        )
        add(6, UAC, 5060, OTHER, 5060, second)
        if shape.second_invite == "refused":
            refusal = _response(
                "486 Busy Here", "z9hG4bKj", "1 INVITE", to_tag="d", caller_sent=True
            )
            add(400, OTHER, 5060, UAC, 5060, refusal)
    bwd(
        10,
        _response("100 Trying", "z9hG4bKi", "1 INVITE", to_tag="", caller_sent=True),
    )
    ringing_extra = [f"Contact: {shape.ringing_contact}"] if shape.ringing_contact else []
    ringing = _response(
        "180 Ringing", "z9hG4bKi", "1 INVITE", to_tag="b", caller_sent=True, extra=ringing_extra
    )
    bwd(20, ringing)
    if shape.ringing_twice == "resent":
        bwd(25, ringing)
    elif shape.ringing_twice == "looped":
        looped = _response(
            "180 Ringing",
            "z9hG4bKi",
            "1 INVITE",
            to_tag="",
            caller_sent=True,
            # the same Via twice (the second line after the first): one transaction
            extra=[f"Via: SIP/2.0/UDP {UAC}:5060;branch=z9hG4bKi"],
        )
        bwd(25, looped)
    if shape.cancel:
        fwd(
            40,
            _request("CANCEL", f"sip:bob@{UAS}", "z9hG4bKi", "1 CANCEL", to_tag="", caller=True),
        )
        bwd(45, _response("200 OK", "z9hG4bKi", "1 CANCEL", to_tag="", caller_sent=True))
    if shape.forked:
        other = _response("180 Ringing", "z9hG4bKi", "1 INVITE", to_tag="c", caller_sent=True)
        bwd(30, other)
    answer_extra = []
    if shape.answer_contact:
        answer_extra.append(f"Contact: {shape.answer_contact}")
    if shape.answer_rr:
        answer_extra.append(f"Record-Route: {shape.answer_rr}")
    answer = _response(
        shape.final, "z9hG4bKi", "1 INVITE", to_tag="b", caller_sent=True, extra=answer_extra
    )
    add(100, UAS, shape.answer_sport, UAC, 5060, answer)
    if shape.answer_twice == "resent":
        bwd(300, answer)
    elif shape.answer_twice == "resent-early":  # before the ACK, as the UAS sent it
        add(105, UAS, shape.answer_sport, UAC, 5060, answer)
    elif shape.answer_twice == "resent-early-elsewhere":  # before the ACK, another port
        add(105, UAS, 5064, UAC, 5060, answer)
    elif shape.answer_twice == "resent-early-relayed":  # before the ACK, one Via more
        relayed = _response(
            shape.final,
            "z9hG4bKi",
            "1 INVITE",
            to_tag="b",
            caller_sent=True,
            extra=[*answer_extra, f"Via: SIP/2.0/UDP {OTHER}:5060;branch=z9hG4bKo"],
        )
        add(105, UAS, shape.answer_sport, UAC, 5060, relayed)
    elif shape.answer_twice == "202":
        accepted = _response(
            "202 Accepted", "z9hG4bKi", "1 INVITE", to_tag="b", caller_sent=True, extra=answer_extra
        )
        bwd(300, accepted)
    elif shape.answer_twice == "202-relayed":
        # another 2xx of the INVITE without a To tag (in no dialog), from elsewhere, with a
        # Via more than the 200's: the copy answer_origin takes as the one that left the UAS
        relayed = _response(
            "202 Accepted",
            "z9hG4bKi",
            "1 INVITE",
            to_tag="",
            caller_sent=True,
            extra=[*answer_extra, f"Via: SIP/2.0/UDP {OTHER}:5060;branch=z9hG4bKo"],
        )
        add(300, OTHER, 5060, UAC, 5060, relayed)
    if shape.fork_final:
        bwd(105, _response(shape.fork_final, "z9hG4bKi", "1 INVITE", to_tag="c", caller_sent=True))
        if shape.fork_ack:
            fork_ack = _request(
                "ACK", f"sip:bob@{UAS}", "z9hG4bKi", "1 ACK", to_tag="c", caller=True
            )
            fwd(107, fork_ack)
    if shape.refused_ack:
        kind = shape.refused_ack
        ack_extra = [f"Route: <sip:{UAS}:5060;lr>"] if kind == "route" else []
        if kind == "vias":
            ack_extra.append("Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKp")
        refused_ack = _request(
            "ACK",
            f"sip:carol@{UAS}" if kind == "uri" else f"sip:bob@{UAS}",
            "z9hG4bKi",
            "1 ACK",
            to_tag="b",
            caller=True,
            extra=ack_extra,
            max_forwards="0" if kind == "mf0" else "70",
        )
        add(115, UAC, 5060, UAS, 5070 if kind == "port" else 5060, refused_ack)
        if kind == "twice":
            add(700, UAC, 5060, UAS, 5060, refused_ack)
    if shape.ack:
        extra = [f"Route: <sip:{UAS}:5060;lr>"] if shape.ack_route else []
        if shape.ack_vias == 2:
            extra.append("Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKp")
        ack = _request(
            "ACK",
            shape.ack_uri,
            "z9hG4bKa",
            f"{shape.ack_cseq} ACK",
            to_tag="b",
            caller=True,
            extra=extra,
            max_forwards=shape.ack_max_forwards,
        )
        if shape.ack_vias == 0:
            ack = SipMessage.parse(
                re.sub(rb"(?m)^Via: SIP/2.0/UDP [^\r]*", b"Via: SIP/2.0/UDP", ack.raw)
            )
        ack_ms = 90 if shape.ack_early else 100 if shape.ack_with_answer else 110
        add(ack_ms, UAC, shape.ack_sport, UAS, shape.ack_dport, ack)
        if shape.ack_twice:
            add(600, UAC, shape.ack_sport, UAS, shape.ack_dport, ack)
    ms = 2000  # more than 1 s after the 2xx: a 2xx not ACKed is then a finding
    if shape.reinvite_contact:
        fwd(
            ms,
            _request(
                "INVITE",
                f"sip:bob@{UAS}:5060",
                "z9hG4bKr",
                "2 INVITE",
                to_tag="b",
                caller=True,
                extra=[f"Contact: {shape.reinvite_contact}"],
            ),
        )
        bwd(
            ms + 10,
            _response(
                "200 OK",
                "z9hG4bKr",
                "2 INVITE",
                to_tag="b",
                caller_sent=True,
                extra=[f"Contact: <sip:bob@{UAS}:5060>"],
            ),
        )
        fwd(
            ms + 20,
            _request("ACK", f"sip:bob@{UAS}:5060", "z9hG4bKra", "2 ACK", to_tag="b", caller=True),
        )
        ms += 1000
    if shape.bye:
        caller = shape.bye == "caller"
        sender, receiver = (UAC, UAS) if caller else (UAS, UAC)
        user = "bob" if caller else "alice"
        branch, cseq = ("z9hG4bKb", "3 BYE") if caller else ("z9hG4bKc", "1 BYE")
        bye = _request(
            "BYE",
            f"sip:{user}@{receiver}:{shape.bye_uri_port}",
            branch,
            cseq,
            to_tag="b",
            caller=caller,
            max_forwards=shape.bye_max_forwards,
        )
        add(ms, sender, 5060, receiver, 5060, bye)
        ok = _response("200 OK", branch, cseq, to_tag="b", caller_sent=caller)
        add(ms + 10, receiver, 5060, sender, 5060, ok)
        if shape.icmp_on_bye:
            when = (ms + 1) * 1_000_000
            icmp.append(
                IcmpReport(99, when, receiver, "port unreachable", sender, 5060, receiver, 5060)
            )
    return out, icmp


def _mostly(clean: object, *near_misses: object) -> st.SearchStrategy[object]:
    """The clean value most of the time (a near miss hides the others' effect)."""
    return st.sampled_from([clean] * (2 * len(near_misses) + 2) + list(near_misses))


_SHAPES = st.builds(
    Shape,
    invite_rr=_mostly(False, True),
    answer_contact=_mostly(
        f"<sip:bob@{UAS}:5060>",
        f"<sip:bob@{UAS}:5070>",
        f"<sip:bob@{OTHER}:5060>",
        "",
        "<sip:bob@example.com>",
    ),
    ringing_contact=_mostly("", f"<sip:bob@{UAS}:5070>"),
    answer_rr=_mostly("", f"<sip:{UAS}:5060;lr>", f"<sip:{UAS}:5060>"),
    ack=_mostly(True, False),
    ack_uri=_mostly(
        f"sip:bob@{UAS}:5060",
        f"sip:bob@{UAS}",
        f"sip:carol@{UAS}:5060",
        f"sip:bob@{UAS}:5070",
        f"sip:bob@{OTHER}:5060",
    ),
    ack_route=_mostly(False, True),
    ack_max_forwards=_mostly("70", "0", "1", "x"),
    ack_sport=_mostly(5060, 5062),
    ack_dport=_mostly(5060, 5070),
    ack_twice=_mostly(False, True),
    ack_vias=_mostly(1, 2, 0),
    ack_early=_mostly(False, True),
    reinvite_contact=st.sampled_from(["", f"<sip:alice@{UAC}:5080>"]),
    bye=_mostly("caller", "callee", ""),
    bye_uri_port=_mostly(5060, 5090),
    bye_max_forwards=_mostly("70", "0", "1"),
    icmp_on_bye=_mostly(False, True),
    transport=_mostly("udp", "tcp"),
    forked=_mostly(False, True),
    invite_twice=_mostly(False, True, "looped"),
    second_invite=_mostly("", "unanswered", "refused"),
    ringing_twice=_mostly("", "resent", "looped"),
    cancel=_mostly(False, True),
    answer_twice=_mostly(
        "",
        "resent",
        "202",
        "202-relayed",
        "resent-early",
        "resent-early-elsewhere",
        "resent-early-relayed",
    ),
    final=_mostly(
        "200 OK",
        "486 Busy Here",
        "183 Session Progress",
        "408 Request Timeout",
        "487 Request Terminated",
        "401 Unauthorized",
    ),
    fork_final=_mostly("", "200 OK", "202 Accepted", "486 Busy Here"),
    fork_ack=_mostly(False, True),
    ack_cseq=_mostly(1, 2),
    answer_sport=_mostly(5060, 5062),
    ack_with_answer=_mostly(False, True),
    refused_ack=_mostly("", "plain", "twice", "route", "port", "uri", "vias", "mf0"),
    invite_route=_mostly(False, True),
)


@contextmanager
def python_direct_road() -> Iterator[None]:
    """The direct roads in Python: without the usual call's C step
    (rtcscope.sip._routescan.usual_call, tests/sip/test_diagnosis_usual_c.py)."""
    saved = diagnosis_module._usual_call, diagnosis_module._usual_refused
    saved_media = diagnosis_module._usual_media
    diagnosis_module._usual_call = diagnosis_module._usual_refused = None
    diagnosis_module._usual_media = None
    try:
        yield
    finally:
        diagnosis_module._usual_call, diagnosis_module._usual_refused = saved
        diagnosis_module._usual_media = saved_media


def _answers_of(monkeypatch: pytest.MonkeyPatch, road: str) -> list[bool]:
    """What ``CallChecker``'s method ``road`` answers, call by call, while patched."""
    answers: list[bool] = []
    original = getattr(CallChecker, road)

    def counting(self: CallChecker) -> bool:
        result = original(self)
        answers.append(result)
        return bool(result)

    monkeypatch.setattr(CallChecker, road, counting)
    return answers


def _both_roads(messages: list[CapturedSip], icmp: list[IcmpReport]) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The direct roads' diagnosis (with the usual call's C step where it is built: the same
    as without it) and the full checks'."""
    direct = diagnose(messages, icmp).as_dict()
    with python_direct_road():
        assert diagnose(messages, icmp).as_dict() == direct
    try:
        CallChecker.lean = False  # (the class attribute is CheckerBase's: this shadows it)
        full = diagnose(messages, icmp).as_dict()
    finally:
        del CallChecker.lean
    return direct, full


PLAIN = Shape(
    invite_rr=False,
    answer_contact=f"<sip:bob@{UAS}:5060>",
    ringing_contact="",
    answer_rr="",
    ack=True,
    ack_uri=f"sip:bob@{UAS}:5060",
    ack_route=False,
    ack_max_forwards="70",
    ack_sport=5060,
    ack_dport=5060,
    ack_twice=False,
    ack_vias=1,
    ack_early=False,
    reinvite_contact="",
    bye="caller",
    bye_uri_port=5060,
    bye_max_forwards="70",
    icmp_on_bye=False,
)


@settings(max_examples=500, deadline=None)
@given(shape=_SHAPES)
# Near misses that take two changes together, spelled out: the Contact and the Request-URI
# name another host, or another port (the ACK sent to the old one, or to the new one where
# the UAS does not answer from), and a 180 with another Contact before an ACK sent early.
@example(replace(PLAIN, answer_contact=f"<sip:bob@{OTHER}:5060>", ack_uri=f"sip:bob@{OTHER}"))
@example(replace(PLAIN, answer_contact=f"<sip:bob@{UAS}:5070>", ack_uri=f"sip:bob@{UAS}:5070"))
@example(
    replace(
        PLAIN,
        answer_contact=f"<sip:bob@{UAS}:5070>",
        ack_uri=f"sip:bob@{UAS}:5070",
        ack_dport=5070,
    )
)
@example(replace(PLAIN, ringing_contact=f"<sip:bob@{UAS}:5070>", ack_early=True))
def test_the_direct_road_finds_what_the_full_checks_find(shape: Shape) -> None:
    direct, full = _both_roads(*build(shape))
    assert direct == full


# The plain call with one near miss each (a random mix of several hides most of them): the
# whole call's direct road (CallChecker.run_direct) must leave each to the full checks, or
# find what they find.
NEAR_MISSES = [
    {"reinvite_contact": f"<sip:alice@{UAC}:5080>"},
    {"second_invite": "unanswered"},
    {"second_invite": "refused"},
    {"invite_twice": True},
    {"cancel": True},
    {"final": "486 Busy Here"},
    {"final": "183 Session Progress"},
    {"fork_final": "486 Busy Here"},
    {"fork_final": "486 Busy Here", "fork_ack": True},
    {"fork_final": "200 OK"},
    {"fork_final": "202 Accepted"},
    {"ringing_twice": "resent"},
    {"ringing_twice": "looped"},
    {"forked": True},
    {"answer_twice": "resent"},
    {"answer_twice": "202"},
    {"answer_twice": "202-relayed"},
    {"answer_twice": "resent-early"},
    {"answer_twice": "resent-early-elsewhere"},
    {"answer_twice": "resent-early-relayed"},
    {"answer_twice": "resent-early", "ringing_twice": "resent"},
    {"answer_twice": "resent-early", "ringing_twice": "looped"},
    {"answer_twice": "resent-early", "ack_early": True},
    {"answer_twice": "resent-early", "ack_with_answer": True},
    {"answer_twice": "resent-early", "bye": "callee"},
    {"answer_twice": "resent-early", "answer_sport": 5062},
    {"ack": False},
    {"ack_cseq": 2},
    {"ack_dport": 5070},
    {"ack_early": True},
    {"invite_rr": True},
    {"answer_rr": f"<sip:{UAS}:5060>"},
    {"answer_rr": f"<sip:{UAS}:5060;lr>"},
    {"answer_contact": ""},
    {"answer_contact": f"<sip:bob@{OTHER}:5060>"},
    {"icmp_on_bye": True},
    # ... and of one in-dialog request, which the whole call's direct road follows itself
    # (PathChecks.trace_dialog_direct): each must leave it, or be followed as trace follows it
    {"ack_route": True},
    {"ack_vias": 2},
    {"ack_vias": 0},
    {"ack_twice": True},
    {"ack_sport": 5062},
    {"ack_uri": f"sip:bob@{UAS}"},
    {"ack_uri": f"sip:carol@{UAS}:5060"},
    {"ack_uri": f"sip:bob@{UAS}:5070"},
    {"ack_uri": f"sip:bob@{OTHER}:5060"},
    {"ack_max_forwards": "0"},
    {"ack_max_forwards": "x"},
    {"answer_contact": f"<sip:bob@{UAS}:5070>"},
    {"answer_contact": "<sip:bob@example.com>"},
    {"answer_contact": f"<sip:bob@{OTHER}:5060>", "ack_uri": f"sip:bob@{OTHER}"},
    {"answer_contact": f"<sip:bob@{UAS}:5070>", "ack_uri": f"sip:bob@{UAS}:5070"},
    {
        "answer_contact": f"<sip:bob@{UAS}:5070>",
        "ack_uri": f"sip:bob@{UAS}:5070",
        "ack_dport": 5070,
    },
    {"bye": "callee"},
    {"bye": "callee", "invite_twice": True},
    {"bye": "callee", "bye_uri_port": 5090},
    {"bye": ""},
    {"bye_uri_port": 5090},
    {"bye_max_forwards": "0"},
    {"transport": "tcp"},
    {"transport": "tcp", "ack_sport": 5062},
    {"transport": "tcp", "answer_sport": 5062},
    {"answer_sport": 5062},
    {"bye": "callee", "invite_twice": "looped"},
    {"ack_with_answer": True},
    {"answer_contact": "<sip:bob@192.0.2.99:5060>", "ack_uri": "sip:bob@192.0.2.99:5060"},
]


# A refused call (CallChecker.run_refused_direct): the INVITE answered 486, 408, 487, ...,
# ACKed on its branch, and each near miss of it.
REFUSED = {"final": "486 Busy Here", "ack": False, "bye": "", "refused_ack": "plain"}
REFUSED_NEAR_MISSES = [
    {},
    {"final": "408 Request Timeout"},
    {"final": "408 Request Timeout", "refused_ack": ""},
    {"final": "487 Request Terminated"},
    {"final": "487 Request Terminated", "cancel": True},
    {"final": "401 Unauthorized"},
    {"final": "183 Session Progress", "refused_ack": ""},
    {"final": "200 OK", "refused_ack": ""},
    {"refused_ack": ""},
    {"refused_ack": "twice"},
    {"refused_ack": "route"},
    {"refused_ack": "port"},
    {"refused_ack": "uri"},
    {"refused_ack": "vias"},
    {"refused_ack": "mf0"},
    {"ack": True},  # an ACK on another branch (as to a 2xx): another transaction
    {"ack": True, "ack_uri": f"sip:bob@{UAS}", "refused_ack": ""},
    {"bye": "caller"},
    {"bye": "callee"},
    {"invite_twice": True},
    {"invite_twice": "looped"},
    {"invite_route": True},
    {"invite_rr": True},
    {"ringing_twice": "resent"},
    {"ringing_twice": "looped"},
    {"forked": True},
    {"second_invite": "refused"},
    {"second_invite": "unanswered"},
    {"fork_final": "486 Busy Here"},
    {"fork_final": "486 Busy Here", "fork_ack": True},
    {"fork_final": "200 OK"},
    {"answer_twice": "resent"},
    {"answer_sport": 5062},
    {"transport": "tcp"},
    {"transport": "tcp", "refused_ack": "port"},
    {"reinvite_contact": f"<sip:alice@{UAC}:5080>"},
]


@pytest.mark.parametrize(
    "change",
    [{**REFUSED, **c} for c in REFUSED_NEAR_MISSES],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_each_near_miss_of_a_refused_call(change: dict[str, object]) -> None:
    direct, full = _both_roads(*build(replace(PLAIN, **change)))  # type: ignore[arg-type]
    assert direct == full


@pytest.mark.parametrize(
    "change", [{}, {"refused_ack": ""}, {"final": "408 Request Timeout"}], ids=str
)
def test_the_refused_road_is_taken(
    change: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused call, ACKed or not, takes the refused call's road; its finding and its
    ACK's path are the full checks' (the dialogs are not built)."""
    monkeypatch.setattr(diagnosis_module, "_usual_refused", None)  # (the Python road counted)
    whole = _answers_of(monkeypatch, "run_refused_direct")
    messages, icmp = build(replace(PLAIN, **{**REFUSED, **change}))  # type: ignore[arg-type]
    direct = diagnose(messages, icmp).as_dict()
    monkeypatch.undo()
    _, full = _both_roads(messages, icmp)
    assert whole == [True]
    assert direct == full
    assert direct["findings"], "a refused call is a finding"
    acked = change.get("refused_ack", "plain") != ""
    assert [p["method"] for p in direct["paths"]] == (["ACK (non-2xx)"] if acked else [])


@pytest.mark.parametrize(
    "change", NEAR_MISSES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
)
def test_each_near_miss_of_the_whole_call(change: dict[str, object]) -> None:
    direct, full = _both_roads(*build(replace(PLAIN, **change)))  # type: ignore[arg-type]
    assert direct == full


def test_the_direct_road_is_taken_for_the_plain_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain call (no proxy, ACK and BYE as the dialog says) takes the direct road for
    both requests, and the full checks agree with what it records."""
    from rtcscope.sip.diagnosis.paths import PathChecks

    taken: list[bool] = []
    original = PathChecks._direct_in_dialog

    def counting(self: PathChecks, *args: object) -> bool:
        result = original(self, *args)  # type: ignore[arg-type]
        taken.append(result)
        return result

    def not_asked(self: PathChecks, *args: object) -> bool:
        raise AssertionError("trace_direct asked on the whole call's direct road")

    monkeypatch.setattr(diagnosis_module, "_usual_call", None)  # (the Python road counted)
    monkeypatch.setattr(PathChecks, "_direct_in_dialog", counting)
    monkeypatch.setattr(PathChecks, "trace_direct", not_asked)
    whole = _answers_of(monkeypatch, "run_direct")
    messages, icmp = build(PLAIN)
    direct_result = diagnose(messages, icmp)
    direct = direct_result.as_dict()
    monkeypatch.undo()
    _, full = _both_roads(messages, icmp)
    # The paths written out when read (DeliveredPath) equal the full road's, both ways.
    CallChecker.lean = False
    try:
        full_paths = diagnose(messages, icmp).paths
    finally:
        del CallChecker.lean
    assert [type(p).__name__ for p in direct_result.paths] == ["DeliveredPath"] * 2
    assert direct_result.paths == full_paths and full_paths == direct_result.paths
    # as_dict: written straight from the request before (direct), from the step after
    assert all(p._step_list is not None for p in direct_result.paths)  # type: ignore[attr-defined]
    assert [p.as_dict() for p in direct_result.paths] == direct["paths"] == full["paths"]
    assert taken == [True, True]
    assert whole == [True]  # the whole call on its direct road (the full road: not asked)
    assert direct == full
    assert [(p["method"], p["outcome"]) for p in direct["paths"]] == [
        ("ACK", "delivered"),
        ("BYE", "delivered"),
    ]
    assert [s["max_forwards"] for p in direct["paths"] for s in p["steps"]] == [70, 70]


@pytest.mark.parametrize(
    "change",
    [
        {"answer_twice": "resent-early"},
        {"answer_twice": "resent-early", "ringing_twice": "resent"},
        {"answer_twice": "resent-early", "bye": "callee"},
    ],
)
def test_the_direct_road_is_taken_for_a_2xx_resent_before_the_ack(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, object]
) -> None:
    """A 2xx the UAS sent again before the ACK reached it (or a 180 sent twice), in copies
    of one Via: the whole call stays on its direct road, and the full checks agree."""
    monkeypatch.setattr(diagnosis_module, "_usual_call", None)  # (the Python road counted)
    whole = _answers_of(monkeypatch, "run_direct")
    messages, icmp = build(replace(PLAIN, **change))  # type: ignore[arg-type]
    direct = diagnose(messages, icmp).as_dict()
    monkeypatch.undo()
    _, full = _both_roads(messages, icmp)
    assert whole == [True]
    assert direct == full
    assert [(p["method"], p["outcome"]) for p in direct["paths"]] == [
        ("ACK", "delivered"),
        ("BYE", "delivered"),
    ]


def test_the_table_does_not_write_delivered_paths_out() -> None:
    """diagnose's table shows the paths that went wrong: it tells a DeliveredPath's without
    writing its step out, the same answer and the same text as the full road's paths."""
    messages, icmp = build(PLAIN)
    direct = diagnose(messages, icmp)
    text = format_diagnosis(direct)
    delivered = [p for p in direct.paths if isinstance(p, DeliveredPath)]
    assert len(delivered) == 2
    assert all(p._step_list is None for p in delivered)  # not written out by the table
    CallChecker.lean = False
    try:
        full = diagnose(messages, icmp)
    finally:
        del CallChecker.lean
    assert [p.went_wrong() for p in direct.paths] == [p.went_wrong() for p in full.paths]
    assert text == format_diagnosis(full)
    # A problem on the written-out step counts, as on any path.
    delivered[0].steps[0].problems.append("Max-Forwards not decremented")
    assert delivered[0].went_wrong()
