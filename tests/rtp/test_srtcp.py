"""SRTCP is reported as encrypted, never read as RTCP; decrypted with the stream's key; round
trips only from an LSR that matches an SR the capture saw; RTCP values no stream could have
are left out.

Captures are made here (tests/rtp/srtcp_capture.py: libsrtp through pylibsrtp protects
what the test wrote), so the expected numbers are the test's own: the SRTCP index libsrtp
wrote (1, 2, 3 per sender), the SR counts and the round trip the test built in. Plain RTCP
is checked against tshark on the same file.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pylibsrtp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.pipeline import packets
from rtcscope.cli import main
from rtcscope.rtp import rtcp
from rtcscope.rtp.streams import StreamScanner
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields
from tests.rtp import srtcp_capture
from tests.rtp.srtcp_capture import SSRC_A, SSRC_B, SUITES, make_call
from tests.rtp.test_heuristic import udp

HMAC_SUITES = {"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}


def streams_json(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["streams", "--rtcp", "--format", "json", str(path), *extra]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def by_ssrc(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["ssrc"]: s for s in data["streams"]}


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_srtcp_without_key_is_encrypted_not_numbers(
    suite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = make_call(tmp_path / "call.pcap", suite)
    data = streams_json(capsys, call.path)
    streams = by_ssrc(data)
    assert set(streams) == {SSRC_A, SSRC_B}
    family = "aes-cm-hmac-sha1" if suite in HMAC_SUITES else "aead-gcm"
    for stream in streams.values():
        # Payload type 111 with no SDP: only the SRTCP says the call is SRTP.
        assert stream["encrypted"] is True
        view = stream["rtcp"]
        assert view["encrypted"] is True
        assert view["srtcp_layout"] == family
        assert view["srtcp_packets"] == view["srtcp_encrypted"] == call.srtcp_a + call.srtcp_b
        assert view["srtcp_decrypted"] == 0
        # Nothing of the encrypted part is shown as a number.
        for key in ("sender_packets", "cumulative_lost", "jitter_ms", "round_trip_ms"):
            assert view[key] is None
        assert view["implausible"] == []
    assert data["rtcp"] == []
    for ssrc, sent in ((SSRC_A, call.srtcp_a), (SSRC_B, call.srtcp_b)):
        rows = [r for r in data["srtcp"] if r["ssrc"] == ssrc]
        # libsrtp numbers a sender's SRTCP packets from 1 (RFC 3711 3.4 SRTCP index).
        assert [r["index"] for r in rows] == list(range(1, sent + 1))
        assert {r["first_type"] for r in rows} == {200}
        assert all(r["encrypted"] and not r["decrypted"] for r in rows)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_srtcp_with_key_is_decrypted(
    suite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = make_call(tmp_path / "call.pcap", suite)
    keys = ["--srtp-suite", suite, "--srtp-key", call.keys["a"], "--srtp-key", call.keys["b"]]
    data = streams_json(capsys, call.path, *keys)
    streams = by_ssrc(data)
    for stream in streams.values():
        view = stream["rtcp"]
        assert stream["encrypted"] is True
        assert view["encrypted"] is False
        assert view["srtcp_decrypted"] == view["srtcp_encrypted"] == 6
        assert view["sender_packets"] == call.last_sr_a_packets
        assert view["sender_octets"] == call.last_sr_a_packets * srtcp_capture.PAYLOAD_BYTES
        assert view["cumulative_lost"] == 0
    assert streams[SSRC_A]["rtcp"]["round_trip_ms"] == pytest.approx(call.round_trip_ms, abs=1e-3)
    assert streams[SSRC_B]["rtcp"]["round_trip_ms"] is None  # A's reports carry no LSR
    assert all(r["srtcp"] for r in data["rtcp"])
    assert all(r["decrypted"] for r in data["srtcp"])


def test_srtcp_with_a_wrong_key_stays_encrypted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = make_call(tmp_path / "call.pcap", "AES_CM_128_HMAC_SHA1_80")
    wrong = base64.b64encode(bytes([0x11]) * 30).decode()
    capsys.readouterr()
    # RTP that no key authenticates is invalid input (exit 3), as before; the RTCP view
    # is still honest about the SRTCP.
    assert main(["streams", "--rtcp", "--format", "json", str(call.path), "--srtp-key", wrong]) == 3
    view = json.loads(capsys.readouterr().out)["streams"][0]["rtcp"]
    assert (view["encrypted"], view["srtcp_decrypted"], view["sender_packets"]) == (True, 0, None)


def test_null_cipher_srtcp_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call = make_call(tmp_path / "call.pcap", None, null_cipher_rtcp=True)
    data = streams_json(capsys, call.path)
    for stream in by_ssrc(data).values():
        view = stream["rtcp"]
        assert stream["encrypted"] is False
        assert (view["srtcp_packets"], view["srtcp_encrypted"]) == (6, 0)
        assert view["sender_packets"] == call.last_sr_a_packets
    assert {r["index"] for r in data["srtcp"]} == {1, 2, 3}
    rtt = by_ssrc(data)[SSRC_A]["rtcp"]["round_trip_ms"]
    assert rtt == pytest.approx(call.round_trip_ms, abs=1e-3)


@pytest.mark.peer
def test_plain_rtcp_stays_plain_and_equals_tshark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = make_call(tmp_path / "call.pcap", None)
    data = streams_json(capsys, call.path)
    rows = tshark_fields(
        call.path, ["ip.src", "rtcp.sender.packetcount", "rtcp.sender.octetcount"], "rtcp"
    )
    assert len(rows) == call.srtcp_a + call.srtcp_b
    last = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    streams = by_ssrc(data)
    assert data["srtcp"] == []
    for ssrc, host in ((SSRC_A, srtcp_capture.A[0]), (SSRC_B, srtcp_capture.B[0])):
        view = streams[ssrc]["rtcp"]
        assert streams[ssrc]["encrypted"] is False
        assert view["encrypted"] is False
        assert (view["sender_packets"], view["sender_octets"]) == last[host]


@pytest.mark.peer
def test_round_trips_are_tsharks(capsys: pytest.CaptureFixture[str]) -> None:
    """tshark (show_roundtrip_calculation) gives a round trip only for a report whose LSR is
    the last SR it saw the other way; it counts whole milliseconds (gap and DLSR each cut
    to ms), so its value is within 2 ms of the exact one."""
    path = shared_capture("heplify-rtp_rtcp_sip_ipv4_udp.pcap")
    prefs = ["-o", "rtcp.show_roundtrip_calculation:TRUE", "-o", "rtcp.roundtrip_min_threshhold:0"]
    rows = tshark_fields(path, ["frame.number", "rtcp.roundtrip-delay"], "rtcp", prefs)
    theirs = {int(r[0]): float(r[1]) for r in rows if r[1]}
    assert len(theirs) == 8
    data = streams_json(capsys, path)
    ours = {
        r["frame"]: b["round_trip_ms"]
        for r in data["rtcp"]
        for b in r.get("reports", [])
        if b["round_trip_ms"] is not None
    }
    assert set(ours) == set(theirs)
    for frame, value in theirs.items():
        assert ours[frame] == pytest.approx(value, abs=2.0), frame
    assert data["srtcp"] == []


def test_meet_srtcp_is_encrypted() -> None:
    """Google Meet's RTCP (rtcp-mux, AEAD-GCM from DTLS-SRTP): every RTCP datagram is SRTCP,
    none is read as an SR or RR with random numbers."""
    path = shared_capture("ndpi-meet-srtp-ipv6.pcapng")
    scanner = StreamScanner(with_rtcp=True)
    for packet in packets(path):
        scanner.feed(packet)
    result = scanner.finish()
    assert result.rtcp_packets == []
    assert len(result.srtcp) == 11
    assert {d.layout.family for d in result.srtcp} == {rtcp.SrtcpFamily.AEAD_GCM}
    per_sender: dict[int, list[int]] = {}
    for datagram in result.srtcp:
        per_sender.setdefault(datagram.ssrc, []).append(datagram.index)
    assert per_sender[0x78691914] == [1, 2, 3, 4, 5]
    for stream in result.streams:
        assert stream.rtcp is not None and stream.rtcp.sender_packets is None


def _protected_rtcp(suite: str, count: int) -> list[bytes]:
    profile, length = SUITES[suite]
    policy = pylibsrtp.Policy(
        key=bytes(range(length)), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile
    )
    session = pylibsrtp.Session(policy)
    rr = rtcp.ReceiverReport(0x1234, (rtcp.ReportBlock(0x5678, 0, 0, 10, 0, 0, 0),)).encode()
    return [session.protect_rtcp(rr) for _ in range(count)]


@pytest.mark.parametrize("mki", [1, 2, 4])
def test_mki_is_found(mki: int) -> None:
    """An MKI sits between the index and the tag (RFC 3711 3.4): the layout with that MKI
    length is the one whose index grows."""
    datagrams = [
        d[:-10] + bytes([0xA5]) * mki + d[-10:]
        for d in _protected_rtcp("AES_CM_128_HMAC_SHA1_80", 5)
    ]
    layout = rtcp.find_srtcp_layout(datagrams)
    assert layout == rtcp.SrtcpLayout(rtcp.SrtcpFamily.HMAC_SHA1, mki)
    assert [layout.read(d).index for d in datagrams if layout.read(d)] == [1, 2, 3, 4, 5]


def test_plain_rtcp_with_trailing_bytes_is_not_srtcp() -> None:
    """Damaged RTCP (2 stray bytes after the last packet, as some captures here have) is no
    SRTCP: its headers run past where an SRTCP trailer would start."""
    sr = srtcp_capture.sender_report(SSRC_A, srtcp_capture.START_NS, 10)
    datagrams = [sr + b"\x00\x00" for _ in range(3)]
    assert rtcp.parse_plain_rtcp(datagrams[0]) is None
    assert rtcp.find_srtcp_layout(datagrams) is None


def test_round_trip_needs_the_sr() -> None:
    log = rtcp.SenderReportLog()
    sr = rtcp.SenderReport(SSRC_A, 0xAAAA_BBBB_CCCC_0000, 0, 1, 1)
    log.note(sr, 1_000_000_000, "a", "b")
    lsr = 0xBBBBCCCC
    dlsr = 65536 // 10  # 100 ms
    block = rtcp.ReportBlock(SSRC_A, 0, 0, 0, 0, lsr, dlsr)
    assert log.round_trip_ms(1_150_000_000, block, "b", "a") == pytest.approx(
        150 - dlsr * 1000 / 65536
    )
    # The same LSR in a report going the SR's own way, an LSR of no SR seen, no LSR.
    assert log.round_trip_ms(1_150_000_000, block, "a", "b") is None
    unknown = rtcp.ReportBlock(SSRC_A, 0, 0, 0, 0, lsr + 1, dlsr)
    assert log.round_trip_ms(1_150_000_000, unknown, "b", "a") is None
    assert (
        log.round_trip_ms(1_150_000_000, rtcp.ReportBlock(SSRC_A, 0, 0, 0, 0, 0, 0), "b", "a")
        is None
    )


def test_implausible_rtcp_values_are_left_out() -> None:
    """An SR claiming 4e9 packets and a report of -2,891,812 lost for a stream of 100 packets
    (the numbers of the issue: SRTCP read as RTCP) are not shown; they are listed."""
    scanner = StreamScanner(with_rtcp=True)
    frame = 0
    for n in range(100):
        frame += 1
        rtp = struct.pack("!BBHII", 0x80, 0, n, n * 160, SSRC_A) + bytes(160)
        scanner.feed(udp(frame, rtp, 4000, 5000))
    bogus_sr = rtcp.SenderReport(SSRC_A, 0, 0, 4_000_000_000, 5).encode()
    block = rtcp.ReportBlock(SSRC_A, 0, -2_891_812, 99, 0, 0, 0)
    bogus_rr = rtcp.ReceiverReport(SSRC_B, (block,)).encode()
    scanner.feed(udp(frame + 1, bogus_sr, 4001, 5001))
    scanner.feed(udp(frame + 2, bogus_rr, 4001, 5001))
    (stream,) = scanner.finish().streams
    view = stream.rtcp
    assert view is not None
    assert (view.sender_packets, view.cumulative_lost, view.sender_reports) == (None, None, 0)
    assert len(view.implausible) == 2 and view.encrypted
    assert "4000000000" in view.implausible[0] and "-2891812" in view.implausible[1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=8, max_size=120), min_size=1, max_size=6))
def test_any_bytes_give_a_layout_or_none(datagrams: list[bytes]) -> None:
    layout = rtcp.find_srtcp_layout(datagrams)
    if layout is not None:
        assert all(layout.read(d) is not None for d in datagrams)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=2, max_size=120), max_size=8))
def test_scanner_takes_any_rtcp_shaped_datagram(bodies: list[bytes]) -> None:
    scanner = StreamScanner(with_rtcp=True)
    for frame, body in enumerate(bodies, start=1):
        data = bytes([0x80, 200]) + body  # version 2, SR: the scanner's RTCP path
        scanner.feed(udp(frame, data, 4001, 5001))
    scanner.finish()


@pytest.mark.parametrize("damaged", [2, 12])  # decided at the end, or after 8 datagrams
def test_a_damaged_datagram_of_an_srtcp_sender_is_not_read(damaged: int) -> None:
    """One SRTCP datagram of 20 cut short (3 bytes lost): the sender is still SRTCP, and
    that datagram is counted as encrypted with an unknown index, never parsed as RTCP."""
    datagrams = _protected_rtcp("AES_CM_128_HMAC_SHA1_80", 20)
    datagrams[damaged] = datagrams[damaged][:-3]
    scanner = StreamScanner(with_rtcp=True)
    for frame, data in enumerate(datagrams, start=1):
        scanner.feed(udp(frame, data, 4001, 5001))
    result = scanner.finish()
    assert result.rtcp_packets == []
    expected = list(range(1, 21))
    expected[damaged] = -1
    assert [d.index for d in result.srtcp] == expected
    assert all(d.encrypted for d in result.srtcp)


def test_damaged_plain_rtcp_is_read_before_its_fault() -> None:
    """20 SRs each followed by 2 stray bytes: not SRTCP; every SR is read (as tshark reads
    them, its length check saying "Wrong")."""
    scanner = StreamScanner(with_rtcp=True)
    for frame in range(1, 21):
        sr = srtcp_capture.sender_report(SSRC_A, srtcp_capture.START_NS, frame)
        scanner.feed(udp(frame, sr + b"\x00\x00", 4001, 5001))
    result = scanner.finish()
    assert result.srtcp == []
    assert [r.packet.packet_count for r in result.rtcp_packets] == list(range(1, 21))


def test_shipped_capture_is_what_the_module_makes(tmp_path: Path) -> None:
    """tests/data/srtcp-call.pcap (the README's example) is make_call's output, byte for byte
    (AES-CM and the SRTCP index are deterministic for a given key)."""
    made = make_call(tmp_path / "call.pcap", "AES_CM_128_HMAC_SHA1_80")
    assert made.path.read_bytes() == (DATA / "srtcp-call.pcap").read_bytes()


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_sdes_keys_in_the_capture_open_srtcp(
    suite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the INVITE and 200 OK carrying each side's a=crypto key, no --srtp-key is
    needed: each side's key opens what that side sent (RFC 4568 6.1)."""
    call = make_call(tmp_path / "call.pcap", suite, signalled=True)
    streams = by_ssrc(streams_json(capsys, call.path))
    for stream in streams.values():
        assert stream["srtp_keying"] == "sdes"
        view = stream["rtcp"]
        assert (view["encrypted"], view["srtcp_decrypted"]) == (False, 6)
        assert view["sender_packets"] == call.last_sr_a_packets
    assert streams[SSRC_A]["rtcp"]["round_trip_ms"] == pytest.approx(call.round_trip_ms, abs=1e-3)


@pytest.mark.peer
def test_srtcp_index_equals_tsharks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tshark dissects SRTCP on the RTCP port of an RTP/SAVP SDP (E flag, index, 80-bit
    tag); our reading of the same datagrams agrees, frame by frame. (For _32 tshark 4.0
    takes a 32-bit SRTCP tag and misreads the index; RFC 4568 6.2 and libsrtp, which made
    the packets, use 80 bits: the tests above check that suite against libsrtp's index.)"""
    call = make_call(tmp_path / "call.pcap", "AES_CM_128_HMAC_SHA1_80", signalled=True)
    theirs = [
        (int(frame), e == "1", int(index))
        for frame, e, index in tshark_fields(
            call.path, ["frame.number", "srtcp.e", "srtcp.index"], "srtcp"
        )
    ]
    assert len(theirs) == call.srtcp_a + call.srtcp_b
    data = streams_json(capsys, call.path)
    assert [(r["frame"], r["encrypted"], r["index"]) for r in data["srtcp"]] == theirs


def test_table_lists_srtcp(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["streams", "--rtcp", str(DATA / "srtcp-call.pcap")]) == 0
    out = capsys.readouterr().out
    assert "SRTCP packets" in out and "aes-cm-hmac-sha1" in out and "0x0A0A0A0A" in out
