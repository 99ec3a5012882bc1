"""The store's pcap of received SIP, read back by tshark (checksums checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.hep.store import PCAP_NAME, HepStore, Row, search
from tests.peers import tshark_fields


def _row(i: int, src: str, dst: str, ip_proto: int, proto_type: int = 1) -> Row:
    payload = (
        f"BYE sip:b@example.com SIP/2.0\r\nCall-ID: row-{i}\r\nCSeq: 2 BYE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    return (
        1_700_000_000_000_000_000 + i * 1_000_000,
        0,
        src,
        5060 + i,
        dst,
        5070,
        ip_proto,
        3,
        proto_type,
        1,
        None,
        None,
        f"row-{i}",
        "BYE",
        None,
        payload,
    )


@pytest.mark.peer
def test_pcap_frames_read_back_by_tshark(tmp_path: Path) -> None:
    rows = [
        _row(0, "10.0.0.1", "10.0.0.2", 17),
        _row(1, "2001:db8::1", "2001:db8::2", 17),
        _row(2, "10.0.0.1", "10.0.0.2", 6),
        _row(2, "10.0.0.1", "10.0.0.2", 6),  # same TCP flow: the sequence number runs on
        _row(4, "10.0.0.1", "10.0.0.2", 17, proto_type=5),  # not SIP: not in the pcap
        _row(5, "192.0.2.1", "2001:db8::9", 17),  # mixed families: IPv4-mapped IPv6
    ]
    with HepStore(tmp_path) as store:
        store.add(rows)
    assert len(list(search(tmp_path))) == 6
    fields = tshark_fields(
        tmp_path / PCAP_NAME,
        ["frame.time_epoch", "ip.src", "ipv6.src", "ip.checksum.status", "tcp.seq_raw",
         "udp.srcport", "tcp.srcport", "sip.Call-ID"],
        extra=["-o", "ip.check_checksum:TRUE"],
    )  # fmt: skip
    assert [f[-1] for f in fields] == ["row-0", "row-1", "row-2", "row-2", "row-5"]
    assert [f[1] or f[2] for f in fields] == [
        "10.0.0.1",
        "2001:db8::1",
        "10.0.0.1",
        "10.0.0.1",
        "::ffff:192.0.2.1",
    ]
    assert {f[3] for f in fields if f[1]} == {"1"}  # tshark: 0 bad, 1 good, 2 unverified
    first_seq, second_seq = int(fields[2][4]), int(fields[3][4])
    assert second_seq - first_seq == len(rows[2][15])
    assert fields[0][0] == "1700000000.000000000"
