"""``rtcscope hep send`` reads its capture through the one pass, with the capture options
every command takes, and sends no encrypted SRTCP as RTCP.

The collector here is a plain UDP socket on 127.0.88.x: what it receives is decoded and
counted, and compared with tshark's count of SIP in the same file, or with the numbers the
SRTCP capture generator (tests/rtp/srtcp_capture.py) put in.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcscope.hep.codec import HepPacket, ProtocolType, decode
from rtcscope.hep.from_capture import CaptureHepStats, capture_hep_packets
from rtcscope.scan import ScanOptions, scan
from rtcscope.sipp.pcapfile import udp_ethernet_frame, write_frames
from tests.conftest import DATA, shared_capture
from tests.peers import rtcscope_cli, run, tshark_fields
from tests.rtp import srtcp_capture

HOST = "127.0.88.1"
SIP_CAPTURE = DATA / "testbed-good.pcap"  # SIP over UDP, one message per frame
# srtcp-call.pcap: side A sends an SR every 50 of its 150 RTP packets, B answers each
SRTCP_DATAGRAMS = 2 * (srtcp_capture.PACKETS // srtcp_capture.SR_EVERY)


def _records(path: Path) -> list[tuple[bytes, int]]:
    """(frame, capture time in ns) of a classic little-endian microsecond pcap, read here
    with struct (not with the reader under test)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    out = []
    offset = 24
    while offset + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, offset)
        out.append((data[offset + 16 : offset + 16 + caplen], sec * 10**9 + usec * 1000))
        offset += 16 + caplen
    return out


@contextmanager
def collector() -> Iterator[tuple[str, list[HepPacket]]]:
    """A UDP socket on 127.0.88.1 (a port of its own); the HEP packets it received are in the
    list once the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
    sock.bind((HOST, 0))
    received: list[HepPacket] = []
    try:
        yield f"udp://{HOST}:{sock.getsockname()[1]}", received
        sock.setblocking(False)
        while True:
            try:
                received.append(decode(sock.recv(65536)))
            except BlockingIOError:
                break
    finally:
        sock.close()


def _sip_frames(path: Path) -> int:
    return len(tshark_fields(path, ["frame.number"], "sip"))


def _sip_frames_of_cut_capture(path: Path) -> int:
    """tshark's SIP frames of a capture cut mid-record: it prints the whole records before
    the cut, then exits 2 naming the cut."""
    result = run(
        "tshark", ["-n", "-r", path, "-Y", "sip", "-T", "fields", "-e", "frame.number"], check=False
    )
    assert result.returncode == 2 and "cut short" in result.stderr, result.stderr
    return len(result.stdout.split())


def _send(
    source: Path | str, *options: str, stdin: bytes | None = None
) -> tuple[int, dict[str, int], list[HepPacket], str]:
    with collector() as (url, received):
        result = rtcscope_cli(
            ["hep", "send", source, "--to", url, "--format", "json", *options], stdin=stdin
        )
    assert "Traceback" not in result.stderr, result.stderr
    counts = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, counts, received, result.stderr


@pytest.mark.peer
def test_dedup_sends_each_message_of_a_doubled_capture_once(tmp_path: Path) -> None:
    expected = _sip_frames(SIP_CAPTURE)
    assert expected > 0
    doubled = tmp_path / "doubled.pcap"
    # every frame again 1 µs later: what a SPAN of both directions records
    write_frames(
        doubled,
        (
            (frame, ts)
            for record in _records(SIP_CAPTURE)
            for frame, ts in (record, (record[0], record[1] + 1000))
        ),
    )
    code, counts, received, _ = _send(doubled, "--dedup")
    assert code == 0
    assert counts["sip"] == counts["sent"] == expected
    assert [p.proto_type for p in received] == [ProtocolType.SIP] * expected
    code, counts, received, _ = _send(doubled)
    assert code == 0 and counts["sip"] == len(received) == 2 * expected


@pytest.mark.peer
def test_stdin_fifo_and_gzip_sources_send_what_the_file_sends(tmp_path: Path) -> None:
    expected = _sip_frames(SIP_CAPTURE)
    _, _, from_file, _ = _send(SIP_CAPTURE)
    code, counts, from_stdin, _ = _send("-", stdin=SIP_CAPTURE.read_bytes())
    assert code == 0 and counts["sip"] == expected
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as out:
            out.write(SIP_CAPTURE.read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    code, counts, from_fifo, _ = _send(fifo)
    writer.join(timeout=30)
    assert code == 0 and counts["sip"] == expected
    gz = tmp_path / "capture.pcap.gz"
    gz.write_bytes(gzip.compress(SIP_CAPTURE.read_bytes()))
    code, counts, from_gz, _ = _send(gz)
    assert code == 0 and counts["sip"] == expected
    payloads = [p.payload for p in from_file]
    # the same bytes as tshark's UDP payloads (one SIP message a datagram in this capture)
    tshark_payloads = tshark_fields(SIP_CAPTURE, ["udp.payload"], "sip")
    assert payloads == [bytes.fromhex(row[0]) for row in tshark_payloads]
    assert [p.payload for p in from_stdin] == [p.payload for p in from_fifo] == payloads
    assert [p.payload for p in from_gz] == payloads


@pytest.mark.peer
def test_a_truncated_capture_sends_what_was_read_then_exits_3(tmp_path: Path) -> None:
    data = SIP_CAPTURE.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    # tshark reads the whole records before the cut (it reports the cut record as an error)
    expected = _sip_frames_of_cut_capture(cut)
    assert 0 < expected < _sip_frames(SIP_CAPTURE)
    code, counts, received, stderr = _send(cut)
    assert code == 3
    assert "error" in stderr and "truncated" in stderr
    assert counts["sip"] == len(received) == expected
    code, counts, received, stderr = _send(cut, "--keep-going", "--no-reassembly", "--quiet")
    assert code == 0 and "warning" in stderr
    assert counts["sip"] == len(received) == expected


def _sdp_message(first_line: str, side: str) -> bytes:
    """An INVITE or 200 OK for srtcp-call.pcap's two sides, offering DTLS-SRTP: the keys are
    never in the SDP (RFC 5763), so the SRTCP stays unreadable to a capture."""
    host, port = srtcp_capture.A if side == "a" else srtcp_capture.B
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} UDP/TLS/RTP/SAVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=setup:actpass\r\na=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
    )
    a_host = srtcp_capture.A[0]
    b_host = srtcp_capture.B[0]
    headers = (
        f"{first_line}\r\nVia: SIP/2.0/UDP {a_host}:5060;branch=z9hG4bK-dtls\r\n"
        f"From: <sip:a@{a_host}>;tag=a1\r\n"
        f"To: <sip:b@{b_host}>{';tag=b1' if side == 'b' else ''}\r\n"
        "Call-ID: dtls-call@10.81.0.1\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:{side}@{host}:5060>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n"
    )
    return (headers + sdp).encode()


def _signalling(start_ns: int) -> list[tuple[bytes, int]]:
    """The INVITE and 200 OK of the DTLS-SRTP call (A's RTCP on 40001, B's on 50001)."""
    a, b = srtcp_capture.A[0], srtcp_capture.B[0]
    invite = _sdp_message(f"INVITE sip:b@{b} SIP/2.0", "a")
    ok = _sdp_message("SIP/2.0 200 OK", "b")
    return [
        (udp_ethernet_frame(a, 5060, b, 5060, invite), start_ns),
        (udp_ethernet_frame(b, 5060, a, 5060, ok), start_ns + 5_000_000),
    ]


def _dtls_srtp_call(path: Path) -> None:
    """srtcp-call.pcap (SRTP and encrypted SRTCP) with an INVITE and its 200 OK first."""
    records = _records(DATA / "srtcp-call.pcap")
    signalling = _signalling(records[0][1] - 10_000_000)
    write_frames(path, [*signalling, *records])


def _rtcp_of(path: Path) -> tuple[list[HepPacket], CaptureHepStats]:
    model = scan(path, ScanOptions())
    stats = CaptureHepStats()
    packets = list(
        capture_hep_packets(
            model.messages, announcements=model.announcements, rtcp=model.rtp, stats=stats
        )
    )
    return [p for p in packets if p.proto_type == ProtocolType.RTCP_JSON], stats


def test_encrypted_srtcp_is_not_sent_as_rtcp(tmp_path: Path) -> None:
    path = tmp_path / "dtls-srtp.pcap"
    _dtls_srtp_call(path)
    rtcp, stats = _rtcp_of(path)
    assert rtcp == []
    # every SRTCP datagram the generator wrote is counted as encrypted, none as a report
    assert stats.rtcp_encrypted == SRTCP_DATAGRAMS
    assert stats.sip == 2 and stats.rtcp == stats.rtcp_without_report == 0
    assert stats.rtcp_unmatched == 0  # the SDP explains every one: they are not "unknown"


def _sender_reports(rtcp: list[HepPacket]) -> list[tuple[int, int, str | None]]:
    out = []
    for packet in rtcp:
        body = json.loads(packet.payload)
        assert body["type"] == 200
        out.append((body["ssrc"], body["sender_information"]["packets"], packet.correlation_id))
    return out


def _expected_reports() -> list[tuple[int, int, str]]:
    """The SRs make_call writes: A's after its packet n, then B's (both say n packets)."""
    out = []
    for n in range(srtcp_capture.SR_EVERY, srtcp_capture.PACKETS + 1, srtcp_capture.SR_EVERY):
        out += [
            (srtcp_capture.SSRC_A, n, "srtcp-call@10.81.0.1"),
            (srtcp_capture.SSRC_B, n, "srtcp-call@10.81.0.1"),
        ]
    return out


def test_srtcp_decrypted_with_the_sdp_keys_is_sent_as_its_reports(tmp_path: Path) -> None:
    path = tmp_path / "sdes.pcap"
    srtcp_capture.make_call(path, "AES_CM_128_HMAC_SHA1_80", signalled=True)
    rtcp, stats = _rtcp_of(path)
    assert _sender_reports(rtcp) == _expected_reports()
    assert stats.rtcp_encrypted == 0


def test_null_cipher_srtcp_is_sent_as_its_reports(tmp_path: Path) -> None:
    path = tmp_path / "null.pcap"
    srtcp_capture.make_call(path, "AES_CM_128_HMAC_SHA1_80", signalled=True, null_cipher_rtcp=True)
    rtcp, stats = _rtcp_of(path)
    assert _sender_reports(rtcp) == _expected_reports()
    assert stats.rtcp_encrypted == 0


@pytest.mark.peer
def test_send_cli_sends_no_encrypted_srtcp(tmp_path: Path) -> None:
    path = tmp_path / "dtls-srtp.pcap"
    _dtls_srtp_call(path)
    code, counts, received, _ = _send(path, "--rtcp")
    assert code == 0
    assert [p.proto_type for p in received] == [ProtocolType.SIP, ProtocolType.SIP]
    assert counts["rtcp"] == 0 and counts["rtcp_encrypted"] == SRTCP_DATAGRAMS
    # srtcp-call.pcap alone: no SDP, so nothing is sent for its RTCP either way
    code, counts, received, _ = _send(DATA / "srtcp-call.pcap", "--rtcp")
    assert code == 0 and received == [] and counts["rtcp_encrypted"] == SRTCP_DATAGRAMS


def _cseq_and_call_id(payload: bytes) -> tuple[str, str]:
    text = payload.decode("utf-8", "replace")
    call_id = re.search(r"^(?:Call-ID|i)\s*:\s*(.+?)\r?$", text, re.M | re.I)
    cseq = re.search(r"^CSeq\s*:\s*(.+?)\r?$", text, re.M | re.I)
    assert call_id and cseq, text[:200]
    return call_id.group(1), cseq.group(1)


@pytest.mark.peer
def test_sip_over_udp_and_websocket_is_sent_as_tshark_sees_it() -> None:
    path = shared_capture("heplify-sip_tcp_websocket.pcap")
    rows = tshark_fields(path, ["sip.Call-ID", "sip.CSeq", "ip.proto"], "sip")
    expected = [(call_id, cseq, int(proto)) for call_id, cseq, proto in rows]
    assert {p for _, _, p in expected} == {6, 17}  # SIP over WebSocket (TCP) and UDP
    code, counts, received, _ = _send(path, "--quiet")
    assert code == 0 and counts["sip"] == len(expected)
    sent = [(*_cseq_and_call_id(p.payload), p.ip_proto) for p in received]
    assert sorted(sent) == sorted(expected)


@pytest.mark.peer
def test_plain_rtcp_reports_are_tsharks() -> None:
    """Each RTCP report sent names the SSRC, type and packet count tshark reads in the
    datagram of the same time and ports; every RTCP datagram is counted once."""
    path = shared_capture("heplify-rtp_rtcp_sip_ipv4_udp.pcap")
    fields = ["frame.time_epoch", "udp.srcport", "udp.dstport", "rtcp.pt", "rtcp.senderssrc"]
    fields.append("rtcp.sender.packetcount")
    # port 4801 carries RTCP no SDP names: tshark decodes it when told to
    rows = tshark_fields(path, fields, "rtcp", ["-d", "udp.port==4801,rtcp"])
    by_place = {}
    for epoch, sport, dport, pt, ssrc, count in rows:
        micros = round(float(epoch) * 1e6)
        by_place[(micros, int(sport), int(dport))] = (
            int(pt.split(",")[0]),
            int(ssrc.split(",")[0], 16),
            int(count.split(",")[0]),
        )
    rtcp, stats = _rtcp_of(path)
    assert stats.rtcp == len(rtcp) > 0 and stats.rtcp_encrypted == 0
    assert stats.rtcp + stats.rtcp_unmatched + stats.rtcp_without_report == len(rows)
    for packet in rtcp:
        assert packet.time_ns is not None
        body = json.loads(packet.payload)
        place = (packet.time_ns // 1000, packet.sport, packet.dport)
        info = body.get("sender_information", {})
        assert (body["type"], body["ssrc"], info.get("packets")) == by_place[place]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(200, 206), st.integers(0, 31), st.binary(min_size=2, max_size=90)),
        min_size=1,
        max_size=4,
    )
)
def test_any_rtcp_like_datagram_gives_a_report_or_a_count(
    tmp_path: Path, datagrams: list[tuple[int, int, bytes]]
) -> None:
    """Whatever an announced RTCP port carries (RTCP, SRTCP, damage), sending never fails:
    each datagram is a report, or counted as unmatched, without report or encrypted."""
    path = tmp_path / "rtcp-like.pcap"
    a, b = srtcp_capture.A, srtcp_capture.B
    start = srtcp_capture.START_NS
    frames = _signalling(start - 10_000_000)
    for n, (pt, count, body) in enumerate(datagrams):
        data = bytes([0x80 | count, pt]) + body
        frames.append((udp_ethernet_frame(a[0], a[1] + 1, b[0], b[1] + 1, data), start + 10 + n))
    write_frames(path, frames)
    rtcp, stats = _rtcp_of(path)
    for packet in rtcp:
        assert json.loads(packet.payload)["type"] in (200, 201)
        assert packet.correlation_id == "dtls-call@10.81.0.1"
    assert stats.rtcp == len(rtcp) <= len(datagrams)
