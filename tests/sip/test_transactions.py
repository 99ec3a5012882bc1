"""Transactions (RFC 3261 17) grouped from real captures, checked against tshark's fields."""

from __future__ import annotations

from pathlib import Path

from rtcscope.scan.files import sip_messages
from rtcscope.sip.transactions import Transaction, group_transactions, via_branches
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields


def _transactions(path: Path) -> list[Transaction]:
    return group_transactions(sip_messages(path))


def _frames(txn_messages: list) -> list[int]:  # type: ignore[type-arg]
    return [m.frame for m in txn_messages]


def test_every_hop_is_a_transaction_and_ack_to_2xx_is_its_own() -> None:
    """In the test bed the INVITE crosses four hops (four branches) and so does the ACK to
    the 2xx, each with a branch of its own (RFC 3261 17.1.1.3)."""
    path = DATA / "testbed-good.pcap"
    txns = _transactions(path)
    invites = [t for t in txns if t.method == "INVITE"]
    acks = [t for t in txns if t.method == "ACK"]
    rows = tshark_fields(path, ["frame.number", "sip.Via.branch"], "sip.Method == INVITE")
    assert sorted(t.request.frame for t in invites if t.request) == [int(r[0]) for r in rows]
    assert len(acks) == 4
    invite_branches = {t.key.branch.split("|")[0] for t in invites}
    assert not invite_branches & {t.key.branch.split("|")[0] for t in acks}
    # Each INVITE hop got its 100 and 200 (tshark: one 200 OK per hop, 4 in all).
    oks = tshark_fields(
        path, ["frame.number"], "sip.Status-Code == 200 && sip.CSeq.method == INVITE"
    )
    assert sorted(f.frame for t in invites for f in t.finals) == [int(r[0]) for r in oks]
    assert all(t.final_status == 200 for t in invites)


def test_retransmitted_2xx_and_repeated_acks_are_counted() -> None:
    """The callee retransmits its 200 OK; tshark counts the copies on the D -> E hop."""
    path = DATA / "testbed-unreachable-contact.pcap"
    txns = _transactions(path)
    rows = tshark_fields(
        path,
        ["frame.number"],
        "ip.src == 127.0.10.5 && sip.Status-Code == 200 && sip.CSeq.method == INVITE",
    )
    hop_de = next(t for t in txns if t.method == "INVITE" and t.server == "127.0.10.5:5060")
    assert [f.frame for f in hop_de.finals] == [int(r[0]) for r in rows]
    assert len(rows) == 10
    ack_from_a = next(t for t in txns if t.method == "ACK" and t.client == "127.0.10.1:5060")
    acks = tshark_fields(path, ["frame.number"], "ip.src == 127.0.10.1 && sip.Method == ACK")
    assert _frames(ack_from_a.requests) == [int(r[0]) for r in acks]
    assert ack_from_a.request_retransmissions == len(acks) - 1


def test_ack_to_non_2xx_belongs_to_the_invite_and_cancel_is_separate() -> None:
    """aaa.pcap: INVITE (3 copies), CANCEL (11 copies), 408 to the INVITE, its ACK with the
    INVITE's branch (17.1.1.3), and a 408 to the CANCEL."""
    path = shared_capture("aaa.pcap")
    txns = [t for t in _transactions(path) if t.key.call_id.startswith("105090259")]
    invite = next(t for t in txns if t.method == "INVITE")
    cancel = next(t for t in txns if t.method == "CANCEL")
    ack_rows = tshark_fields(
        path,
        ["frame.number", "sip.Via.branch"],
        'sip.Call-ID contains "105090259" && sip.Method == ACK',
    )
    assert [a.frame for a in invite.acks] == [int(r[0]) for r in ack_rows]
    assert invite.key.branch.split("|")[0] == ack_rows[0][1]
    assert invite.request_retransmissions == 2
    assert invite.final_status == 408
    cancels = tshark_fields(
        path, ["frame.number"], 'sip.Call-ID contains "105090259" && sip.Method == CANCEL'
    )
    assert _frames(cancel.requests) == [int(r[0]) for r in cancels]
    assert cancel.final_status == 408
    assert not any(t.method == "ACK" for t in txns)


def test_ack_reusing_the_invite_branch_after_a_2xx_is_an_ack_to_the_2xx() -> None:
    """heplify-sip_ipv6_udp.pcap: the caller's ACK to the 200 OK reuses the INVITE's branch
    (tshark shows both); it is still the ACK to a 2xx, not part of the INVITE transaction."""
    path = shared_capture("heplify-sip_ipv6_udp.pcap")
    rows = tshark_fields(path, ["frame.number", "sip.Method", "sip.Via.branch"], "sip.Method")
    branches = {r[1]: r[2] for r in rows}
    assert branches["ACK"] == branches["INVITE"]
    txns = _transactions(path)
    invite = next(t for t in txns if t.method == "INVITE")
    assert invite.acks == []
    assert any(t.method == "ACK" for t in txns)


def test_via_branches_top_first() -> None:
    path = DATA / "testbed-good.pcap"
    ack = next(c for c in sip_messages(path) if c.frame == 16)
    rows = tshark_fields(path, ["sip.Via.branch"], "frame.number == 16")
    assert ",".join(via_branches(ack.message)) == rows[0][0]
