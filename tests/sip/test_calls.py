"""Calls and SIP statistics checked against tshark on the same captures.

References: ``tshark -q -z sip,stat`` (message, resent, per-status and per-method counts,
average/min/max setup time), ``tshark -Y sip -T fields`` (Call-IDs, status codes, CSeq,
``sip.resend`` and ``sip.resend-original`` per frame). Legs and INFO DTMF, which no shared
capture has, are checked on messages written here from RFC 3261 / RFC 7315 examples.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rtcscope.scan.files import sip_messages
from rtcscope.sip.calls import (
    CallsResult,
    CallState,
    summarize_calls,
    wireshark_status_row,
)
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, shared_capture, shared_captures
from tests.peers import run, tshark_fields


def _captures_with_sip() -> list[Path]:
    local = sorted(p for p in DATA.iterdir() if p.suffix == ".pcap" or p.name.endswith(".gz"))
    return [*shared_captures(), *local]


def tshark_sip_stat(path: Path) -> dict[str, object]:
    """Parse ``tshark -q -z sip,stat`` (ui/cli/tap-sipstat.c's text)."""
    out = run("tshark", ["-n", "-r", path, "-q", "-z", "sip,stat"]).stdout
    messages = int(re.search(r"Number of SIP messages: (\d+)", out).group(1))  # type: ignore[union-attr]
    resent = int(re.search(r"Number of resent SIP messages: (\d+)", out).group(1))  # type: ignore[union-attr]
    statuses: Counter[int] = Counter()
    methods: Counter[str] = Counter()
    section = ""
    for line in out.splitlines():
        if line.startswith("* SIP Status Codes"):
            section = "status"
        elif line.startswith("* List of SIP Request methods"):
            section = "method"
        elif line.startswith("* Average setup time"):
            section = ""
        elif section == "status" and (m := re.match(r"\s+SIP (\d+) .*:\s+(\d+) Packets", line)):
            statuses[int(m.group(1))] += int(m.group(2))
        elif section == "method" and (m := re.match(r"\s+(\S+)\s+:\s+(\d+) Packets", line)):
            methods[m.group(1)] += int(m.group(2))
    setup = re.search(r"Average setup time (\d+) ms\s+Min (\d+) ms\s+Max (\d+) ms", out)
    assert setup is not None, out
    return {
        "messages": messages,
        "resent": resent,
        "statuses": statuses,
        "methods": methods,
        "setup": tuple(int(x) for x in setup.groups()),
    }


def _calls(path: Path) -> CallsResult:
    return summarize_calls(list(sip_messages(path)))


@pytest.mark.peer
@pytest.mark.parametrize("path", _captures_with_sip(), ids=lambda p: p.name)
def test_statistics_and_call_ids_equal_tsharks(path: Path) -> None:
    result = _calls(path)
    theirs = tshark_sip_stat(path)
    ours = result.statistics
    assert ours.messages == theirs["messages"]
    assert ours.resent == theirs["resent"]
    assert dict(ours.status_counts) == dict(theirs["statuses"])  # type: ignore[call-overload]
    assert dict(ours.method_counts) == dict(theirs["methods"])  # type: ignore[call-overload]
    assert (ours.average_setup_ms, ours.min_setup_ms, ours.max_setup_ms) == theirs["setup"]
    # Every Call-ID tshark sees is a call (or a leg of one).
    rows = tshark_fields(path, ["sip.Call-ID"], "sip")
    seen = {cid for row in rows for cid in row[0].split(",") if cid}
    ours_ids = {cid for call in result.calls for cid in call.call_ids}
    assert seen <= ours_ids
    assert len(ours_ids) == len({m.message.call_id for m in result.messages if m.message.call_id})


@pytest.mark.peer
@pytest.mark.parametrize(
    "path",
    [p for p in _captures_with_sip() if p.name in {"aaa.pcap", "ipv6frag.pcap", "SIP_DTMF2.pcap"}]
    + [DATA / "testbed-good.pcap"],
    ids=lambda p: p.name,
)
def test_retransmission_marks_equal_tsharks_per_frame(path: Path) -> None:
    result = _calls(path)
    rows = tshark_fields(path, ["frame.number", "sip.resend", "sip.resend-original"], "sip")
    theirs = {int(r[0]): int(r[2]) for r in rows if r[1] in ("1", "True")}
    ours = {
        frame: mark.resent_of
        for call in result.calls
        for frame, mark in call.marks.items()
        if mark.resent_of
    }
    assert ours == theirs


def test_wireshark_groups_unknown_codes_in_their_class() -> None:
    # ui/cli/tap-sipstat.c: a code Wireshark does not name counts in the class's x99 row.
    assert wireshark_status_row(183) == 183
    assert wireshark_status_row(299) == 299
    assert wireshark_status_row(418) == 499
    assert wireshark_status_row(555) == 599
    assert wireshark_status_row(99) is None
    assert wireshark_status_row(700) is None


@pytest.mark.peer
def test_ipv6frag_is_one_answered_call_with_prack_and_update() -> None:
    path = shared_capture("ipv6frag.pcap")
    result = _calls(path)
    assert len(result.calls) == 1
    call = result.calls[0]
    theirs = tshark_sip_stat(path)
    assert (theirs["messages"], theirs["resent"]) == (32, 1)
    assert (result.statistics.messages, result.statistics.resent) == (32, 1)
    assert call.kind == "INVITE"
    assert call.statuses[183] == 4 and call.methods["PRACK"] == 4 and call.methods["UPDATE"] == 4
    assert call.state is CallState.ANSWERED
    assert call.final_status == 200
    assert call.ended_by == "caller"
    assert call.bye_source == "[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060"
    # ring = first 183, answer = first 200 to the INVITE, end = first BYE (tshark's times)
    rows = tshark_fields(
        path, ["frame.time_epoch", "sip.Status-Code", "sip.CSeq.method", "sip.Method"], "sip"
    )
    first_183 = min(float(r[0]) for r in rows if r[1] == "183")
    first_invite_200 = min(float(r[0]) for r in rows if r[1] == "200" and r[2] == "INVITE")
    first_bye = min(float(r[0]) for r in rows if r[3] == "BYE")
    assert call.ring_ns is not None and abs(call.ring_ns / 1e9 - first_183) < 1e-6
    assert call.answer_ns is not None and abs(call.answer_ns / 1e9 - first_invite_200) < 1e-6
    assert call.end_ns is not None and abs(call.end_ns / 1e9 - first_bye) < 1e-6
    assert call.duration_s == pytest.approx(first_bye - first_invite_200, abs=1e-6)


@pytest.mark.peer
def test_aaa_dialogs_get_tsharks_final_responses_and_states() -> None:
    path = shared_capture("aaa.pcap")
    result = _calls(path)
    rows = tshark_fields(
        path,
        ["frame.number", "sip.Call-ID", "sip.Method", "sip.Status-Code", "sip.CSeq.method"],
        "sip",
    )
    finals: dict[str, int] = {}
    invites: dict[str, int] = Counter()
    cancels: set[str] = set()
    provisional: set[str] = set()
    for _frame, call_id, method, status, cseq_method in rows:
        if method == "INVITE":
            invites[call_id] += 1
        if method == "CANCEL":
            cancels.add(call_id)
        if status and cseq_method == "INVITE":
            if int(status) >= 200:
                finals[call_id] = int(status)  # the last final response wins
            else:
                provisional.add(call_id)
    invite_calls = [c for c in result.calls if c.kind == "INVITE"]
    assert {c.call_id for c in invite_calls} == set(invites)
    for call in invite_calls:
        expected_final = finals.get(call.call_id)
        assert call.final_status == expected_final, call.call_id
        if expected_final is not None and 200 <= expected_final < 300:
            expected_state = CallState.ANSWERED
        elif call.call_id in cancels or expected_final == 487:
            expected_state = CallState.CANCELLED
        elif expected_final in (486, 600):
            expected_state = CallState.BUSY
        elif expected_final is not None:
            expected_state = CallState.FAILED
        else:
            expected_state = CallState.NO_RESPONSE
        assert call.state is expected_state, call.call_id
        assert call.answer_ns is None
        assert (call.ring_ns is not None) == (
            call.call_id in provisional
            and any(r[1] == call.call_id and r[3] in {"180", "183"} for r in rows)
        )
    # The unanswered INVITE copies are the retransmissions tshark marks.
    resend = tshark_fields(path, ["sip.Call-ID", "sip.resend", "sip.Method"], "sip.resend == 1")
    per_call = Counter(r[0] for r in resend)
    for call in invite_calls:
        assert call.resent == per_call.get(call.call_id, 0)


# -- legs and INFO DTMF on written messages ---------------------------------------------------


def _captured(frame: int, text: str, src: str = "192.0.2.1", dst: str = "192.0.2.2") -> CapturedSip:
    data = text.replace("\n", "\r\n").encode()
    return CapturedSip(
        frame, frame * 1_000_000, src, 5060, dst, 5060, "udp", SipMessage.parse(data)
    )


def _request(
    method: str,
    call_id: str,
    cseq: int,
    branch: str,
    extra: str = "",
    body: str = "",
    to_tag: str = "",
    ctype: str = "",
) -> str:
    headers = (
        f"{method} sip:bob@example.com SIP/2.0\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\n"
        "From: <sip:alice@example.com>;tag=a1\n"
        f"To: <sip:bob@example.com>{';tag=' + to_tag if to_tag else ''}\n"
        f"Call-ID: {call_id}\nCSeq: {cseq} {method}\nMax-Forwards: 70\n{extra}"
    )
    if body:
        headers += f"Content-Type: {ctype}\n"
    return headers + f"Content-Length: {len(body.replace(chr(10), chr(13) + chr(10)))}\n\n" + body


def test_legs_linked_by_x_call_id_and_icid() -> None:
    messages = [
        _captured(1, _request("INVITE", "leg-a", 1, "a1")),
        _captured(
            2, _request("INVITE", "leg-b", 1, "b1", "X-Call-ID: leg-a\n"), "192.0.2.2", "192.0.2.3"
        ),
        _captured(
            3,
            _request(
                "INVITE",
                "leg-c",
                1,
                "c1",
                'P-Charging-Vector: icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=";orig-ioi=home1.net\n',
            ),
        ),
        _captured(
            4,
            _request(
                "INVITE",
                "leg-d",
                1,
                "d1",
                "P-Charging-Vector: icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=\n",
            ),
            "192.0.2.2",
            "192.0.2.3",
        ),
        _captured(5, _request("INVITE", "alone", 1, "e1")),
    ]
    result = summarize_calls(messages)
    groups = sorted(sorted(c.call_ids) for c in result.calls)
    assert groups == [["alone"], ["leg-a", "leg-b"], ["leg-c", "leg-d"]]
    assert all(c.state is CallState.NO_RESPONSE for c in result.calls)


def test_info_dtmf_relay_and_dtmf_bodies() -> None:
    messages = [
        _captured(
            1,
            _request(
                "INFO",
                "c1",
                5,
                "i1",
                body="Signal=5\nDuration=160\n",
                to_tag="b9",
                ctype="application/dtmf-relay",
            ),
        ),
        _captured(
            2,
            _request(
                "INFO",
                "c1",
                5,
                "i1",
                body="Signal=5\nDuration=160\n",
                to_tag="b9",
                ctype="application/dtmf-relay",
            ),
        ),
        _captured(
            3, _request("INFO", "c1", 6, "i2", body="#", to_tag="b9", ctype="application/dtmf")
        ),
        _captured(
            4, _request("INFO", "c1", 7, "i3", body="hello", to_tag="b9", ctype="text/plain")
        ),
    ]
    result = summarize_calls(messages)
    (call,) = result.calls
    assert [(d.frame, d.signal, d.duration_ms) for d in call.dtmf] == [
        (1, "5", 160),
        (3, "#", None),
    ]
    # Frame 2 repeats frame 1 in the same direction with the same CSeq: tshark's resend rule.
    assert call.marks[2].resent_of == 1


@pytest.mark.peer
def test_streams_of_the_answered_call_have_tsharks_packet_counts() -> None:
    from rtcscope.scan.files import calls_from_capture

    path = DATA / "SIP_DTMF2.pcap"
    result, _ = calls_from_capture(path)
    (answered,) = [c for c in result.calls if c.kind == "INVITE" and c.answer_ns is not None]
    rows = tshark_fields(path, ["rtp.ssrc"], "rtp")
    theirs = Counter(int(r[0], 16) for r in rows if r[0])
    ours = {s.key.ssrc: s.stats.packets for s in answered.streams}
    assert ours and ours == {ssrc: theirs[ssrc] for ssrc in ours}
    assert set(ours) == set(theirs)
    others = [s for c in result.calls if c is not answered for s in c.streams]
    assert others == []


@pytest.mark.peer
@pytest.mark.parametrize("path", sorted(DATA.glob("testbed-*.pcap*")), ids=lambda p: p.name)
def test_ack_missing_when_no_ack_reaches_the_uas(path: Path) -> None:
    """tshark's view: the first 200 OK to the INVITE names the UAS; did an ACK go there?
    (In every test-bed scenario where it did not, the UAS retransmits its 2xx after.)"""
    rows = tshark_fields(
        path,
        [
            "ip.src",
            "tcp.srcport",
            "udp.srcport",
            "ip.dst",
            "tcp.dstport",
            "udp.dstport",
            "sip.Method",
            "sip.Status-Code",
            "sip.CSeq.method",
        ],
        "sip",
    )
    answers = [
        (r[0], r[1] or r[2]) for r in rows if r[7].startswith("2") and r[8].startswith("INVITE")
    ]
    if not answers:  # a rejected scenario: nothing to ACK with a 2xx
        (call,) = _calls(path).calls
        assert call.answer_ns is None and call.state is not CallState.ACK_MISSING
        return
    uas = answers[0]
    reached = any(r[6].split(",")[0] == "ACK" and (r[3], r[4] or r[5]) == uas for r in rows)
    (call,) = _calls(path).calls
    assert call.uas == f"{uas[0]}:{uas[1]}"
    assert (call.state is CallState.ACK_MISSING) == (not reached)
    if reached:
        assert call.state is CallState.ANSWERED


@pytest.mark.peer
def test_icmp_rows_are_tsharks_port_unreachables() -> None:
    from rtcscope.scan.files import calls_from_capture
    from rtcscope.sip.calls import call_ladder, icmp_for_call
    from rtcscope.sip.nodes import find_nodes

    path = DATA / "testbed-unreachable-contact.pcap"
    result, events = calls_from_capture(path, with_icmp=True)
    (call,) = result.calls
    ladder = call_ladder(call, find_nodes(result.messages), icmp=icmp_for_call(call, events))
    ours = [r.frame for r in ladder.rows if r.kind == "icmp"]
    theirs = [int(r[0]) for r in tshark_fields(path, ["frame.number"], "icmp.type == 3")]
    assert ours == theirs and ours


@pytest.mark.peer
def test_ack_to_a_contact_behind_nat_is_not_missing_when_the_2xx_stops() -> None:
    """heplify's WebSocket capture: the B leg's ACK goes to the 2xx's public Contact, not to
    the private address the 2xx came from, and the UAS never sends its 2xx again."""
    path = shared_capture("heplify-sip_tcp_websocket.pcap")
    rows = tshark_fields(
        path, ["frame.number", "ip.src", "sip.Call-ID", "sip.Status-Code", "sip.CSeq.method"], "sip"
    )
    call_id = "926ffd16-6154-1237-09ba-0270b3230128"
    answers = [r for r in rows if r[2] == call_id and r[3] == "200" and r[4] == "INVITE"]
    uas = answers[0][1]
    assert len([r for r in answers if r[1] == uas]) == 1  # one 2xx from the UAS: ACK arrived
    call = _calls(path).find(call_id)
    assert call is not None and call.state is CallState.ANSWERED
