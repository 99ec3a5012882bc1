"""The diagnosis on the test bed's captures (real kamailio + sipp) and on the shared captures.

Every capture states the findings expected of it. Facts the findings rest on (the 2xx
copies and their times, ICMP errors and the datagram they quote, Max-Forwards at the end of
a loop) are read again with tshark, not taken from our own output.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.analyze import analyze_capture
from rtcscope.cli import main
from rtcscope.scan.files import diagnose_capture, sip_messages
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import Diagnosis, Severity, diagnose
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields

A, B, B2, C, D, E = (
    "127.0.10.1:5060",
    "127.0.10.2:5060",
    "127.0.10.12:5060",
    "127.0.10.3:5060",
    "127.0.10.4:5060",
    "127.0.10.5:5060",
)

# capture -> the (severity, code, element) of every error and warning the diagnosis must give.
TESTBED_EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "testbed-good.pcap": set(),
    "testbed-tcp.pcap": set(),
    "testbed-strict-router.pcap": {("warning", "strict-router", C)},
    # 486 Busy Here: a failed call (info), every hop ACKs it: nothing wrong.
    "testbed-busy.pcap": set(),
    "testbed-unreachable-contact.pcap": {
        ("error", "ack-not-received", E),
        # The ACK died at E's advertised Contact: E is the element at fault.
        ("error", "icmp-unreachable", E),
    },
    "testbed-no-loose-route.pcap.gz": {
        ("error", "ack-not-received", E),
        ("error", "proxy-route-not-removed", C),
        ("error", "request-loop", f"{C}, {D}"),
    },
    "testbed-rewrite-ruri.pcap": {
        ("error", "ack-not-received", E),
        ("error", "proxy-rewrote-request-uri", C),
        # D forwarded on the rewritten Request-URI and got ICMP: C is at fault.
        ("error", "icmp-unreachable", C),
    },
    "testbed-no-record-route.pcap": {
        ("error", "uas-dropped-record-route", E),
        ("error", "ack-not-received", E),
        ("error", "ack-dropped", B),
        # With no route set A should send the ACK to E's Contact; it used its outbound proxy.
        ("warning", "ua-request-to-other-hop", A),
    },
    # Target refreshes (RFC 3261 12.2.1.2, 12.2.2; RFC 3311): E's BYE to A's new Contact A2.
    "testbed-reinvite-target.pcap": set(),
    "testbed-update-target.pcap": set(),
    # Nobody at A2: B gets ICMP for the BYE; A advertised that Contact in its re-INVITE.
    "testbed-reinvite-target-unreachable.pcap": {("error", "icmp-unreachable", A)},
    # C's Record-Route lacks ;lr but it routes loosely (16.4 restore): one warning.
    "testbed-strict-middle.pcap": {("warning", "strict-router", C)},
    # D resolves E's Contact host by local policy: to E (arrives), to a dead address (fails).
    "testbed-alias-last-hop.pcap": set(),
    "testbed-alias-dead.pcap": {
        ("error", "ack-not-received", E),
        ("error", "icmp-unreachable", D),
        ("error", "proxy-wrong-next-hop", D),
    },
    "testbed-prack-ringing.pcap": set(),
    "testbed-reinvite-488.pcap": {("warning", "reinvite-rejected", E)},
    "testbed-cancel.pcap": set(),
    # The same calls with the INVITE cut away (editcap): nothing to diagnose, nothing false.
    "testbed-busy-cut.pcap": set(),
    "testbed-cancel-cut.pcap": set(),
}

# Shared captures: what an engineer reading them finds (checked by hand with tshark, see the
# comments); nothing else may be raised at error or warning level.
SHARED_EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    # Plain two-party calls: ACK and BYE reach their peer.
    "sip-rtp-opus.pcap": set(),
    "sip-rtp-g722.pcap": set(),
    "sip-rtp-speex.pcap": set(),
    # Both directions of RTP, as the SDP says (tshark: two streams 6000 <-> 6050).
    "heplify-rtp_rtcp_sip_ipv4_udp.pcap": set(),
    "heplify-sip_ipv4_tcp.pcap": set(),
    # The caller's ACK reuses the INVITE's branch; it still reaches the callee.
    "heplify-sip_ipv6_udp.pcap": set(),
    # The proxy puts itself in the 200's Contact and retargets the ACK (info only); a 603.
    # Media (tshark -z rtp,streams): both SDPs say 192.168.105.110 (4374 caller, 4376
    # callee), but RTP runs .110:4374 -> .172:4376 and .172:4376 -> .110:4376: the callee's
    # port gets RTP from an address nobody announced, the caller's port gets none.
    "SIP_DTMF2.pcap": {
        ("warning", "media-from-other-address", "192.168.105.172:4376"),
        ("warning", "media-one-way", "192.168.105.110:4374"),
    },
    # INVITE cancelled, the proxy never answers the CANCEL (11 copies) and ends both with 408.
    # The last call: early media (183) from 212.242.33.36, the caller announced its private
    # 192.168.1.2:30000: its 9 RTP packets go out, nothing comes back (NAT one-way audio).
    "aaa.pcap": {
        ("warning", "invite-408", "200.68.120.81:5060"),
        ("warning", "cancel-not-accepted", "200.68.120.81:5060"),
        ("warning", "media-one-way", "192.168.1.2:30000"),
    },
    # B's double Record-Route advertises a public address; the ACK to the far proxy leaves the
    # capture (its 2xx is not retransmitted): info only.
    "heplify-sip_tcp_websocket.pcap": set(),
    # The callee's 200 OK carries To tag ...02, the proxy forwards it with tag ...01 (frames
    # 26-28): the callee's 2xx is retransmitted and only ever gets an ACK for the other tag.
    "ipv6frag.pcap": {
        ("error", "proxy-changed-to-tag", "[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062"),
        ("warning", "ack-for-other-dialog", "[fd17:625c:f037:2:a00:27ff:feb9:4222]:25060"),
        # The 2xx's Record-Route is <origz@3519>, <08019200028@4222> (the caller itself put
        # the second into its INVITE, frame 2); the caller routes with it unreversed (12.1.2).
        ("warning", "ua-route-set-reversed", "[fd17:625c:f037:2:a00:27ff:feb9:1521]:15060"),
    },
    # 200 OK seen, the ACK is not in the capture (SIP over TCP in IP-in-IP): info only.
    "ipip.pcap": set(),
}


def _significant(result: Diagnosis) -> set[tuple[str, str, str]]:
    return {
        (f.severity.value, f.code, f.element)
        for f in result.findings
        if f.severity is not Severity.INFO
    }


@pytest.mark.parametrize("name", sorted(TESTBED_EXPECTED))
def test_testbed_capture_findings(name: str) -> None:
    result = diagnose_capture(DATA / name)
    assert result.calls == 1
    assert _significant(result) == TESTBED_EXPECTED[name], [
        f.summary for f in result.findings if f.severity is not Severity.INFO
    ]
    assert result.has_errors == any(s == "error" for s, _, _ in TESTBED_EXPECTED[name])


@pytest.mark.parametrize("name", sorted(SHARED_EXPECTED))
def test_shared_capture_findings(name: str) -> None:
    result = diagnose_capture(shared_capture(name))
    assert _significant(result) == SHARED_EXPECTED[name]


def _finding(result: Diagnosis, code: str):  # type: ignore[no-untyped-def]
    return next(f for f in result.findings if f.code == code)


def test_no_ack_schedule_and_bye_against_tshark() -> None:
    """The callee's 200 OK copies and its BYE, timed by tshark."""
    path = DATA / "testbed-unreachable-contact.pcap"
    result = diagnose_capture(path)
    finding = _finding(result, "ack-not-received")
    oks = tshark_fields(
        path,
        ["frame.number", "frame.time_relative"],
        "ip.src == 127.0.10.5 && sip.Status-Code == 200 && sip.CSeq.method == INVITE",
    )
    first = float(oks[0][1])
    offsets = [round(float(t) - first, 1) for _, t in oks]
    assert offsets == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5]
    assert f"sent {len(oks)} time(s)" in finding.summary
    assert "follows T1 = 500 ms doubling to T2 = 4 s" in finding.detail
    bye = tshark_fields(
        path, ["frame.number", "frame.time_relative"], "ip.src == 127.0.10.5 && sip.Method == BYE"
    )[0]
    after = float(bye[1]) - first
    assert abs(after - 32.0) < 0.5
    assert f"(frame {bye[0]})" in finding.summary and "64*T1" in finding.summary
    # The last hop that carried the ACK: D to the Contact's port.
    assert finding.last_hop.startswith(f"{D} -> 127.0.10.5:5090")


def test_icmp_quotes_the_ack_datagram_against_tshark() -> None:
    path = DATA / "testbed-unreachable-contact.pcap"
    finding = _finding(diagnose_capture(path), "icmp-unreachable")
    icmp = tshark_fields(
        path,
        ["frame.number", "ip.src", "ip.dst", "udp.srcport", "udp.dstport"],
        "icmp.type == 3 && icmp.code == 3",
    )[0]
    # tshark lists outer then quoted addresses: the quoted datagram is D -> E:5090.
    assert icmp[1] == "127.0.10.5,127.0.10.4" and icmp[2] == "127.0.10.4,127.0.10.5"
    assert int(icmp[0]) in finding.frames
    assert "127.0.10.4:5060 -> 127.0.10.5:5090" in finding.detail
    assert "port unreachable" in finding.summary and "frame 9" in finding.summary


def test_loop_ends_at_max_forwards_zero_against_tshark() -> None:
    path = DATA / "testbed-no-loose-route.pcap.gz"
    result = diagnose_capture(path)
    loop = next(f for f in result.findings if f.code == "request-loop" and "ACK" in f.summary)
    acks = tshark_fields(
        path,
        ["frame.number", "sip.Max-Forwards"],
        'sip.Method == ACK && sip.Via.branch contains "z9hG4bK" && frame.number < 84',
    )
    assert acks[-1][1] == "0"
    assert f"{len(acks)} hops" in loop.summary
    assert "Max-Forwards 70 -> 0" in loop.summary
    path_ack = next(p for p in result.paths if p.method == "ACK")
    assert path_ack.outcome == "loop"
    assert len(path_ack.steps) == len(acks)
    # The BYEs loop too; each ends with a 483 relayed back to the UA that sent it (tshark).
    back = tshark_fields(
        path,
        ["frame.number", "ip.dst"],
        "sip.Status-Code == 483 && (ip.dst == 127.0.10.5 || ip.dst == 127.0.10.1)",
    )
    first_back: dict[str, str] = {}
    for frame, dst in back:
        first_back.setdefault(dst, frame)
    bye_loops = [f for f in result.findings if f.code == "request-loop" and "BYE" in f.summary]
    assert len(bye_loops) == len(first_back) == 2
    for finding in bye_loops:
        assert any(
            f"relayed back to {dst}:5060 (frame {frame})" in finding.summary
            for dst, frame in first_back.items()
        )


def test_good_call_paths_are_delivered_hop_by_hop() -> None:
    result = diagnose_capture(DATA / "testbed-good.pcap")
    ack = next(p for p in result.paths if p.method == "ACK")
    assert ack.outcome == "delivered"
    assert [s.dst for s in ack.steps] == [B, C, D, E]
    assert [s.src for s in ack.steps] == [A, B2, C, D]
    assert all(not s.problems for s in ack.steps)


def test_call_filter_and_empty_input() -> None:
    path = shared_capture("aaa.pcap")
    result = diagnose_capture(path, call_id="105090259-446faf7a@192.168.1.2")
    assert result.calls == 1
    assert {f.call_id for f in result.findings} == {"105090259-446faf7a@192.168.1.2"}
    assert diagnose([]).calls == 0


def test_diagnose_is_pure_over_captured_messages() -> None:
    """The same findings from messages read once and handed over (no file access needed)."""
    path = DATA / "testbed-rewrite-ruri.pcap"
    messages = list(sip_messages(path))
    without_icmp = diagnose(messages)
    assert "icmp-unreachable" not in {f.code for f in without_icmp.findings}
    assert "proxy-rewrote-request-uri" in {f.code for f in without_icmp.findings}


def test_cli_exit_codes_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(DATA / "testbed-good.pcap")]) == 0
    capsys.readouterr()
    assert (
        main(["diagnose", str(DATA / "testbed-unreachable-contact.pcap"), "--format", "json"]) == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"calls", "errors", "warnings", "findings", "groups", "paths", "notes"}
    assert data["notes"] == []  # media was checked
    assert data["errors"] == 2
    assert set(data["findings"][0]) == {
        "severity",
        "code",
        "call_id",
        "summary",
        "element",
        "last_hop",
        "frames",
        "time_s",
        "time_iso",
        "rfc",
        "fix",
        "detail",
    }
    assert main(["diagnose", str(DATA / "testbed-strict-router.pcap"), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("severity,code,summary")
    assert lines[1].startswith("warning,strict-router,")


def test_cli_unreadable_input_is_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    assert main(["diagnose", str(bad)]) == 3


def test_analyze_has_a_diagnosis_section() -> None:
    (section,) = analyze_capture(DATA / "testbed-no-record-route.pcap", None, only=["diagnosis"])
    assert section.name == "diagnosis"
    assert section.problems == 3
    assert "did not copy Record-Route" in section.text
    assert section.data["errors"] == 3
    # The API's data is JSON-able (analyze's own writer is handed json_data(): a LazyJson).
    assert json.loads(json.dumps(section.data)) == section.data
    (fresh,) = analyze_capture(DATA / "testbed-no-record-route.pcap", None, only=["diagnosis"])
    assert fresh.json_data()["paths"].make() == section.data["paths"]


def test_one_way_media_against_tshark_streams() -> None:
    """aaa.pcap's last call: tshark's RTP streams (heuristic on) hold one stream from the
    caller's 192.168.1.2:30000 and none towards it; the SDP announced that private address."""
    path = shared_capture("aaa.pcap")
    rows = tshark_fields(
        path,
        ["ip.src", "udp.srcport", "ip.dst", "udp.dstport"],
        "rtp",
        extra=["--enable-heuristic", "rtp_udp"],
    )
    flows = {(r[0], r[1], r[2], r[3]) for r in rows}
    assert ("192.168.1.2", "30000", "212.242.33.36", "40392") in flows
    assert not any(dst == "192.168.1.2" and dport == "30000" for _, _, dst, dport in flows)
    finding = _finding(diagnose_capture(path), "media-one-way")
    assert "192.168.1.2:30000 -> 212.242.33.36:40392" in finding.summary
    assert "private" in finding.summary


def test_ack_to_non_2xx_hop_by_hop_with_the_invite_branch_against_tshark() -> None:
    """Real kamailio: each hop's client ACKs the 486 itself, with its INVITE's branch."""
    path = DATA / "testbed-busy.pcap"
    result = diagnose_capture(path)
    (acks,) = [p for p in result.paths if p.method == "ACK (non-2xx)"]
    assert acks.outcome == "hop-by-hop"
    invites = tshark_fields(path, ["ip.src", "ip.dst", "sip.Via.branch"], "sip.Method == INVITE")
    ack_rows = tshark_fields(
        path, ["frame.number", "ip.src", "ip.dst", "sip.Via.branch"], "sip.Method == ACK"
    )
    top_branch = {(r[0], r[1]): r[2].split(",")[0] for r in invites}
    assert len(ack_rows) == len(invites) == len(acks.steps) == 4
    for frame, src, dst, branch in ack_rows:
        assert top_branch[(src, dst)] == branch, frame
    assert sorted(s.frame for s in acks.steps) == sorted(int(r[0]) for r in ack_rows)
    assert all(not s.problems for s in acks.steps)


# -- robustness ------------------------------------------------------------------------------

_BED_MESSAGES: dict[str, list[CapturedSip]] = {}


def _bed_messages(name: str) -> list[CapturedSip]:
    if name not in _BED_MESSAGES:
        _BED_MESSAGES[name] = list(sip_messages(DATA / name))
    return _BED_MESSAGES[name]


def _mutate(captured: CapturedSip, drop_line: int) -> CapturedSip:
    """The same message with one header line removed (Via, CSeq, Contact, Route, ...)."""
    lines = bytes(captured.message).split(b"\r\n")
    header_end = lines.index(b"") if b"" in lines else len(lines)
    if header_end > 1:
        del lines[1 + drop_line % (header_end - 1)]
    return replace(captured, message=SipMessage.parse(b"\r\n".join(lines)))


@settings(max_examples=60)
@given(
    name=st.sampled_from(
        [
            "testbed-good.pcap",
            "testbed-strict-router.pcap",
            "testbed-busy.pcap",
            "testbed-tcp.pcap",
            "testbed-reinvite-target.pcap",
            "testbed-prack-ringing.pcap",
            "testbed-cancel-cut.pcap",
        ]
    ),
    picks=st.lists(st.tuples(st.integers(0, 200), st.integers(-1, 30)), max_size=40),
)
def test_diagnosis_never_crashes_on_partial_or_damaged_captures(
    name: str, picks: list[tuple[int, int]]
) -> None:
    """Any subset of a real call's messages, repeated, reordered, with header lines missing
    (a capture that lost packets, a broken element) still gives a diagnosis."""
    messages = _bed_messages(name)
    chosen = []
    for index, drop in picks:
        captured = messages[index % len(messages)]
        chosen.append(captured if drop < 0 else _mutate(captured, drop))
    result = diagnose(chosen)
    assert result.calls <= 1
    for finding in result.findings:
        assert finding.summary and finding.severity in Severity


def test_private_contact_behind_a_public_source() -> None:
    """A 2xx from a public address whose Contact is an RFC 1918 address: the last proxy
    cannot reach it (the classic NAT case); documentation addresses stand for public ones."""

    def msg(text: str) -> SipMessage:
        return SipMessage.parse(text.replace("\n", "\r\n").encode())

    invite = msg(
        "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa\n"
        "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>\nCall-ID: nat-1\n"
        "CSeq: 1 INVITE\nContact: <sip:alice@192.0.2.10:5060>\nContent-Length: 0\n\n"
    )
    ok = msg(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa\n"
        "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag=b\nCall-ID: nat-1\n"
        "CSeq: 1 INVITE\nContact: <sip:bob@192.168.1.50:5060>\nContent-Length: 0\n\n"
    )
    messages = [
        CapturedSip(1, 1_000_000_000, "192.0.2.10", 5060, "203.0.113.5", 5060, "udp", invite),
        CapturedSip(2, 1_100_000_000, "203.0.113.5", 5060, "192.0.2.10", 5060, "udp", ok),
    ]
    result = diagnose(messages)
    finding = _finding(result, "private-contact")
    assert finding.severity is Severity.WARNING
    assert "192.168.1.50" in finding.summary and finding.element == "203.0.113.5:5060"


def test_strict_router_handling_is_reported_hop_by_hop() -> None:
    """B applies 16.6 step 6 for the strict router C, C routes strictly, D applies 16.4: the
    Request-URIs tshark shows on frames 14-16 are the ones these rules give."""
    path = DATA / "testbed-strict-router.pcap"
    infos = {
        (f.code, f.element, f.frames)
        for f in diagnose_capture(path).findings
        if f.severity is Severity.INFO and "ACK" in f.summary
    }
    assert infos == {
        ("strict-next-hop-handled", B, (13, 14)),
        ("strict-router-step", C, (14, 15)),
        ("strict-previous-hop-handled", D, (15, 16)),
    }
    ruris = tshark_fields(path, ["frame.number", "sip.r-uri"], "sip.Method == ACK")
    assert [r[1] for r in ruris] == [
        "sip:service@127.0.10.5:5060;transport=UDP",
        "sip:127.0.10.3:5060",
        "sip:127.0.10.4;lr",
        "sip:service@127.0.10.5:5060;transport=UDP",
    ]


def test_target_refresh_paths_against_tshark() -> None:
    """tshark: the re-INVITE from A carries Contact A2; E's BYE has that Request-URI and the
    INVITE's Record-Route as Route; it reaches A2, which answers 200. The diagnosis follows it
    to A2 (delivered) and says where the target moved, naming the re-INVITE's frame."""
    path = DATA / "testbed-reinvite-target.pcap"
    reinvite = tshark_fields(
        path,
        ["frame.number", "sip.Contact"],
        'sip.Method == "INVITE" && ip.src == 127.0.10.1 && sip.CSeq.seq == 2',
    )[0]
    assert "127.0.10.11" in reinvite[1]
    byes = tshark_fields(path, ["ip.dst", "sip.r-uri"], 'sip.Method == "BYE"')
    assert byes[-1] == ["127.0.10.11", "sip:alice@127.0.10.11:5060"]
    answered = tshark_fields(path, ["ip.src"], "sip.Status-Code == 200 && sip.CSeq.method == BYE")
    assert answered[0] == ["127.0.10.11"]
    result = diagnose_capture(path)
    bye = next(p for p in result.paths if p.method == "BYE")
    assert bye.outcome == "delivered" and bye.steps[-1].dst == "127.0.10.11:5060"
    refresh = _finding(result, "target-refresh")
    assert f"(frame {reinvite[0]})" in refresh.summary and refresh.element == A
    broken = diagnose_capture(DATA / "testbed-reinvite-target-unreachable.pcap")
    icmp = _finding(broken, "icmp-unreachable")
    assert f"(frame {reinvite[0]})" in icmp.summary


def test_strict_middle_restores_the_request_uri_against_tshark() -> None:
    """C's own Record-Route value (no ;lr) is the ACK's Request-URI on frame 14; C sends the
    ACK on with E's Contact restored from the last Route (16.4), as tshark shows."""
    path = DATA / "testbed-strict-middle.pcap"
    ruris = tshark_fields(path, ["frame.number", "sip.r-uri"], 'sip.Method == "ACK"')
    assert [r[1] for r in ruris][:3] == [
        "sip:service@127.0.10.5:5060;transport=UDP",
        "sip:127.0.10.3:5060",
        "sip:service@127.0.10.5:5060;transport=UDP",
    ]
    infos = {(f.code, f.element) for f in diagnose_capture(path).findings}
    assert ("strict-next-hop-handled", B) in infos
    assert ("strict-previous-hop-handled", C) in infos


def test_early_media_ringing_is_not_a_timeout() -> None:
    """tshark: a 183 with Require 100rel, a PRACK answered 200, no final response to the
    INVITE; the capture ends while ringing: info only, not Timer B."""
    path = DATA / "testbed-prack-ringing.pcap"
    assert tshark_fields(path, ["sip.Require"], "sip.Status-Code == 183")[0] == ["100rel"]
    assert tshark_fields(path, ["ip.src"], "sip.Status-Code == 200 && sip.CSeq.method == PRACK")
    assert not tshark_fields(
        path, ["frame.number"], "sip.Status-Code >= 200 && sip.CSeq.method == INVITE"
    )
    finding = _finding(diagnose_capture(path), "invite-ringing-at-capture-end")
    assert finding.severity is Severity.INFO and "PRACKed" in finding.summary


def test_dead_alias_blames_the_resolving_proxy() -> None:
    path = DATA / "testbed-alias-dead.pcap"
    icmp = tshark_fields(path, ["ip.src", "ip.dst"], "icmp.type == 3")[0]
    assert icmp == ["127.0.10.6,127.0.10.4", "127.0.10.4,127.0.10.6"]
    finding = _finding(diagnose_capture(path), "icmp-unreachable")
    assert (
        finding.element == D and "resolved by 127.0.10.4:5060 to 127.0.10.6:5060" in finding.summary
    )
    alive = diagnose_capture(DATA / "testbed-alias-last-hop.pcap")
    assert {f.code for f in alive.findings} >= {"proxy-resolved-next-hop"}
