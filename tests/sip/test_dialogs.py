"""Calls, legs and dialogs (RFC 3261 12) from real captures, checked against tshark."""

from __future__ import annotations

from rtcscope.scan.files import sip_messages
from rtcscope.sip.dialogs import DialogState, find_calls
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields


def test_legs_follow_the_invite_hop_by_hop_over_udp_and_tcp() -> None:
    path = DATA / "testbed-tcp.pcap"
    (call,) = find_calls(sip_messages(path))
    rows = tshark_fields(
        path,
        ["ip.src", "udp.srcport", "tcp.srcport", "ip.dst", "udp.dstport", "tcp.dstport"],
        "sip.Method == INVITE",
    )
    expected = [
        (f"{r[0]}:{r[1] or r[2]}", f"{r[3]}:{r[4] or r[5]}", "udp" if r[1] else "tcp") for r in rows
    ]
    assert [(leg.client, leg.server, leg.transport) for leg in call.legs] == expected
    assert [leg.transport for leg in call.legs] == ["udp", "tcp", "tcp", "udp"]
    assert all(leg.final_status == 200 for leg in call.legs)


def test_good_call_dialog_is_confirmed_then_terminated_by_bye() -> None:
    path = DATA / "testbed-good.pcap"
    (call,) = find_calls(sip_messages(path))
    (dialog,) = call.dialogs
    rows = tshark_fields(path, ["sip.from.tag", "sip.to.tag"], "sip.Status-Code == 200")
    assert dialog.id.caller_tag == rows[0][0] and dialog.id.callee_tag == rows[0][1]
    assert dialog.state is DialogState.TERMINATED
    assert sorted({t.method for t in dialog.transactions}) == ["ACK", "BYE"]
    assert len(dialog.answers) == 4  # the 2xx on each of the four hops


def test_forked_early_dialogs_have_one_dialog_per_to_tag() -> None:
    """ipv6frag.pcap: the callee answers 183 with two To tags (two early dialogs), PRACK and
    UPDATE run in each of them (RFC 3262/3311 requests inside early dialogs)."""
    path = shared_capture("ipv6frag.pcap")
    (call,) = [c for c in find_calls(sip_messages(path)) if c.is_invite_call]
    tags = {r[0] for r in tshark_fields(path, ["sip.to.tag"], "sip.Status-Code == 183")}
    assert {d.id.callee_tag for d in call.dialogs} == tags
    assert len(tags) == 2
    for dialog in call.dialogs:
        assert {"PRACK", "UPDATE"} <= {t.method for t in dialog.transactions}


def test_calls_are_split_by_call_id() -> None:
    path = shared_capture("aaa.pcap")
    calls = find_calls(sip_messages(path))
    call_ids = {r[0] for r in tshark_fields(path, ["sip.Call-ID"], "sip")}
    assert {c.call_id for c in calls} == call_ids
    invite_calls = {r[0] for r in tshark_fields(path, ["sip.Call-ID"], "sip.CSeq.method == INVITE")}
    assert {c.call_id for c in calls if c.is_invite_call} == invite_calls
