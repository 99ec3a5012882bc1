"""The checks the diagnosis skips on the common call still fire when their case is there.

The diagnosis returns early from a check that cannot find anything (no INVITE refused: no
ACK to a non-2xx to follow; no status code seen twice: no To tag pair to compare; no
re-INVITE/UPDATE: no target refresh). These calls are built by hand so that each case is
present; what each finding must say follows from the rule (RFC 3261 17.1.1.3, 9.1, 16.7),
written out here, not from an earlier run.
"""

from __future__ import annotations

import pytest

from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import Diagnosis, diagnose
from rtcscope.sip.message import SipMessage

UAC, PROXY, UAS = "192.0.2.10", "192.0.2.20", "192.0.2.30"


def _msg(text: str) -> SipMessage:
    return SipMessage.parse(text.replace("\n", "\r\n").encode())


def _sip(frame: int, ms: int, src: str, dst: str, text: str) -> CapturedSip:
    return CapturedSip(frame, ms * 1_000_000, src, 5060, dst, 5060, "udp", _msg(text))


def _request(method: str, uri: str, branch: str, cseq: str, to_tag: str = "") -> str:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} {uri} SIP/2.0\nVia: SIP/2.0/UDP {UAC}:5060;branch={branch}\n"
        f"Max-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a\nTo: {to}\n"
        f"Call-ID: shortcut-1\nCSeq: {cseq}\nContact: <sip:alice@{UAC}:5060>\n"
        "Content-Length: 0\n\n"
    )


def _response(status: str, branch: str, cseq: str, to_tag: str = "b") -> str:
    return (
        f"SIP/2.0 {status}\nVia: SIP/2.0/UDP {UAC}:5060;branch={branch}\n"
        f"From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag={to_tag}\n"
        f"Call-ID: shortcut-1\nCSeq: {cseq}\nContact: <sip:bob@{UAS}:5060>\n"
        "Content-Length: 0\n\n"
    )


def _codes(result: Diagnosis) -> set[str]:
    return {f.code for f in result.findings}


INVITE = _request("INVITE", "sip:bob@example.com", "z9hG4bKinv", "1 INVITE")


def test_ack_to_a_non_2xx_sent_elsewhere_with_another_request_uri() -> None:
    """17.1.1.3: the ACK to a 486 belongs to the INVITE transaction (its branch), goes to the
    hop that got the INVITE and repeats its Request-URI. This one does neither."""
    ack = _request("ACK", "sip:other@example.com", "z9hG4bKinv", "1 ACK", to_tag="b")
    messages = [
        _sip(1, 0, UAC, PROXY, INVITE),
        _sip(2, 50, PROXY, UAC, _response("486 Busy Here", "z9hG4bKinv", "1 INVITE")),
        _sip(3, 60, UAC, UAS, ack),
    ]
    result = diagnose(messages)
    assert {"non2xx-ack-wrong-hop", "non2xx-ack-request-uri", "invite-failed"} <= _codes(result)
    (path,) = [p for p in result.paths if p.method == "ACK (non-2xx)"]
    (step,) = path.steps
    assert (step.frame, step.src, step.dst) == (3, f"{UAC}:5060", f"{UAS}:5060")
    assert step.request_uri == "sip:other@example.com" and step.max_forwards == 70
    assert set(step.problems) == {
        "sent to another hop than the INVITE",
        "Request-URI differs from the INVITE's",
    }


def test_non_2xx_retransmitted_without_an_ack() -> None:
    """17.2.1: the server resends its 486 until the ACK comes; three copies and no ACK."""
    busy = _response("486 Busy Here", "z9hG4bKinv", "1 INVITE")
    messages = [
        _sip(1, 0, UAC, PROXY, INVITE),
        _sip(2, 50, PROXY, UAC, busy),
        _sip(3, 550, PROXY, UAC, busy),
        _sip(4, 1550, PROXY, UAC, busy),
    ]
    result = diagnose(messages)
    (finding,) = [f for f in result.findings if f.code == "non2xx-no-ack"]
    assert finding.frames == (2, 3, 4) and finding.element == f"{UAC}:5060"
    assert "sent 3 times" in finding.summary
    assert not [p for p in result.paths if p.method == "ACK (non-2xx)"]  # no ACK: no path


def test_cancel_crossing_the_2xx_then_bye() -> None:
    """9.1: a CANCEL that crosses the 2xx changes nothing; the caller ends the call with
    BYE. The CANCEL is found through the INVITE's CSeq."""
    cancel = _request("CANCEL", "sip:bob@example.com", "z9hG4bKinv", "1 CANCEL")
    ack = _request("ACK", f"sip:bob@{UAS}:5060", "z9hG4bKack", "1 ACK", to_tag="b")
    bye = _request("BYE", f"sip:bob@{UAS}:5060", "z9hG4bKbye", "2 BYE", to_tag="b")
    messages = [
        _sip(1, 0, UAC, UAS, INVITE),
        _sip(2, 900, UAC, UAS, cancel),
        _sip(3, 901, UAS, UAC, _response("200 OK", "z9hG4bKinv", "1 INVITE")),
        _sip(4, 902, UAS, UAC, _response("200 OK", "z9hG4bKinv", "1 CANCEL")),
        _sip(5, 910, UAC, UAS, ack),
        _sip(6, 950, UAC, UAS, bye),
        _sip(7, 960, UAS, UAC, _response("200 OK", "z9hG4bKbye", "2 BYE")),
    ]
    result = diagnose(messages)
    assert "cancel-race" in _codes(result)
    assert "cancel-race-no-bye" not in _codes(result)
    assert {p.method: p.outcome for p in result.paths} == {"ACK": "delivered", "BYE": "delivered"}


def test_a_proxy_changing_the_to_tag_is_found_when_a_code_repeats() -> None:
    """16.7: a proxy forwards a response with the To tag the UAS gave it. Here the proxy's
    copy of the 180 has another tag than the UAS's copy (same status code twice: a pair)."""
    two_vias = (
        f"SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKp\n"
        f"Via: SIP/2.0/UDP {UAC}:5060;branch=z9hG4bKinv\n"
        "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag=uas\n"
        "Call-ID: shortcut-1\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
    )
    forwarded = INVITE.replace("Via: ", f"Via: SIP/2.0/UDP {PROXY}:5060;branch=z9hG4bKp\nVia: ", 1)
    messages = [
        _sip(1, 0, UAC, PROXY, INVITE),
        _sip(2, 5, PROXY, UAS, forwarded),
        _sip(3, 50, UAS, PROXY, two_vias),
        _sip(4, 55, PROXY, UAC, _response("180 Ringing", "z9hG4bKinv", "1 INVITE", "changed")),
    ]
    result = diagnose(messages)
    (finding,) = [f for f in result.findings if f.code == "proxy-changed-to-tag"]
    assert finding.frames == (3, 4) and finding.element == f"{PROXY}:5060"
    assert "'changed'" in finding.summary and "'uas'" in finding.summary


@pytest.mark.parametrize(
    ("ack_uri", "differs"),
    [
        ("sip:bob@example.com", False),  # the INVITE's very text (not parsed again)
        ("sip:bob@EXAMPLE.com", False),  # another text of the same URI (19.1.4)
        ("sip:bob@example.com;lr", True),
        ("sip:carol@example.com", True),
    ],
)
def test_ack_to_a_non_2xx_request_uri_compared_as_uris(ack_uri: str, differs: bool) -> None:
    """17.1.1.3: the ACK to a 486 repeats the INVITE's Request-URI: the same URI, whatever
    its spelling; a finding only for another URI."""
    ack = _request("ACK", ack_uri, "z9hG4bKinv", "1 ACK", to_tag="b")
    messages = [
        _sip(1, 0, UAC, PROXY, INVITE),
        _sip(2, 50, PROXY, UAC, _response("486 Busy Here", "z9hG4bKinv", "1 INVITE")),
        _sip(3, 60, UAC, PROXY, ack),
    ]
    result = diagnose(messages)
    assert ("non2xx-ack-request-uri" in _codes(result)) is differs
    (path,) = [p for p in result.paths if p.method == "ACK (non-2xx)"]
    assert bool(path.steps[0].problems) is differs
