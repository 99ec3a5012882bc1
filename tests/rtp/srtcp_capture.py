"""Captures made here for the SRTCP tests: a two-way call whose RTP and RTCP are protected by
pylibsrtp (libsrtp) with each side's own key, or left plain, written with the project's pcap
writer (Ethernet, IPv4, UDP), so every number the tests expect is one this module put in.

Side A 10.81.0.1:40000 (RTCP 40001) and side B 10.81.0.2:50000 (RTCP 50001) each send
``PACKETS`` RTP packets of payload type 111 every 20 ms (a payload type no G.711 heuristic
looks at: only the RTCP can tell that the call is SRTP). Every ``SR_EVERY`` packets A sends
an SR with a report block about B; ``REPLY_DELAY_S`` later B sends an SR whose report block
about A names A's SR (LSR) and says it held it ``HOLD_S`` (DLSR): the round trip seen at the
capture point is REPLY_DELAY_S - HOLD_S (RFC 3550 6.4.1).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pylibsrtp

from rtcscope.sipp.pcapfile import udp_ethernet_frame, write_frames

A = ("10.81.0.1", 40000)
B = ("10.81.0.2", 50000)
SSRC_A = 0x0A0A0A0A
SSRC_B = 0x0B0B0B0B
PACKETS = 150
SR_EVERY = 50
PAYLOAD_BYTES = 60
START_NS = 1_700_000_000 * 10**9
REPLY_DELAY_S = 0.2
HOLD_S = 0.18
HOLD = int(HOLD_S * 65536)  # DLSR in 1/65536 s
NTP_UNIX_OFFSET_S = 2_208_988_800  # 1900 to 1970 (RFC 5905)

# (libsrtp profile, key + salt bytes) of the four suites pylibsrtp offers.
SUITES = {
    "AES_CM_128_HMAC_SHA1_80": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "AES_CM_128_HMAC_SHA1_32": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
    "AEAD_AES_128_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "AEAD_AES_256_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
}


def ntp(ts_ns: int) -> int:
    seconds, rest = divmod(ts_ns, 10**9)
    return ((seconds + NTP_UNIX_OFFSET_S) << 32) | (rest * 2**32 // 10**9)


def sender_report(ssrc: int, ts_ns: int, packets: int, block: bytes = b"") -> bytes:
    """An SR (RFC 3550 6.4.1) written out by hand, with at most one report block."""
    count = len(block) // 24
    body = struct.pack("!IQIII", ssrc, ntp(ts_ns), packets * 960, packets, packets * PAYLOAD_BYTES)
    body += block
    return struct.pack("!BBH", 0x80 | count, 200, (4 + len(body)) // 4 - 1) + body


def report_block(about: int, lost: int, highest: int, lsr: int = 0, dlsr: int = 0) -> bytes:
    return struct.pack("!IIIIII", about, lost & 0xFFFFFF, highest, 3, lsr, dlsr)


@dataclass
class Call:
    """What the capture holds, as the test knows it."""

    path: Path
    keys: dict[str, str] = field(default_factory=dict)  # side -> base64 key||salt
    srtcp_a: int = 0  # SRTCP datagrams each side sent
    srtcp_b: int = 0
    last_sr_a_packets: int = 0
    round_trip_ms: float = (REPLY_DELAY_S - HOLD / 65536) * 1000


class _Plain:
    def protect(self, packet: bytes) -> bytes:
        return packet

    def protect_rtcp(self, packet: bytes) -> bytes:
        return packet


def sip_message(first_line: str, side: str, port: int, suite: str, key: str) -> bytes:
    """An INVITE or its 200 OK with an SDP offering SRTP with this side's SDES key."""
    host = A[0] if side == "a" else B[0]
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/SAVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        f"a=crypto:1 {suite} inline:{key}\r\n"
    )
    headers = (
        f"{first_line}\r\n"
        f"Via: SIP/2.0/UDP {A[0]}:5060;branch=z9hG4bK-srtcp\r\n"
        f"From: <sip:a@{A[0]}>;tag=a1\r\n"
        f"To: <sip:b@{B[0]}>{';tag=b1' if side == 'b' else ''}\r\n"
        "Call-ID: srtcp-call@10.81.0.1\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:{side}@{host}:5060>\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n"
    )
    return (headers + sdp).encode()


def make_call(
    path: Path,
    suite: str | None,
    *,
    null_cipher_rtcp: bool = False,
    with_rtcp: bool = True,
    signalled: bool = False,
) -> Call:
    """Write the call to ``path``: SRTP/SRTCP with ``suite``, or plain when None. With
    ``null_cipher_rtcp`` the RTCP is SRTCP with E = 0 (RFC 3711 3.4: not encrypted; the
    index and a tag follow the RTCP; the tag is not checked here, so it is filler); without
    ``with_rtcp``, RTP only; with ``signalled``, an INVITE and its 200 OK first, whose SDPs
    carry each side's key (``a=crypto``, RFC 4568)."""
    call = Call(path)
    sessions: dict[str, pylibsrtp.Session | _Plain] = {"a": _Plain(), "b": _Plain()}
    if suite is not None:
        profile, length = SUITES[suite]
        for side, filler in (("a", b"A"), ("b", b"B")):
            raw = bytes((filler[0] + i) % 256 for i in range(length))
            call.keys[side] = base64.b64encode(raw).decode()
            policy = pylibsrtp.Policy(
                key=raw, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile
            )
            sessions[side] = pylibsrtp.Session(policy)
    null_index = {"a": 0, "b": 0}

    def rtcp(side: str, packet: bytes) -> bytes:
        if null_cipher_rtcp:
            null_index[side] += 1
            return packet + struct.pack("!I", null_index[side]) + bytes(range(10))
        return sessions[side].protect_rtcp(packet)

    records: list[tuple[int, bytes]] = []
    if signalled and suite is not None:
        invite = sip_message(f"INVITE sip:b@{B[0]} SIP/2.0", "a", A[1], suite, call.keys["a"])
        ok = sip_message("SIP/2.0 200 OK", "b", B[1], suite, call.keys["b"])
        records.append((START_NS, udp((A[0], 5060), (B[0], 5060), invite)))
        records.append((START_NS + 5_000_000, udp((B[0], 5060), (A[0], 5060), ok)))
    for n in range(1, PACKETS + 1):
        ts_ns = START_NS + n * 20_000_000
        for side, src, dst, ssrc in (("a", A, B, SSRC_A), ("b", B, A, SSRC_B)):
            header = struct.pack("!BBHII", 0x80, 111, n, n * 960, ssrc)
            payload = bytes((n * 7 + i) % 251 for i in range(PAYLOAD_BYTES))
            data = sessions[side].protect(header + payload)
            records.append((ts_ns + (side == "b") * 1_000_000, udp(src, dst, data)))
        if n % SR_EVERY or not with_rtcp:
            continue
        sr_ns = ts_ns + 5_000_000
        sr = sender_report(SSRC_A, sr_ns, n, report_block(SSRC_B, 0, n))
        records.append((sr_ns, udp((A[0], A[1] + 1), (B[0], B[1] + 1), rtcp("a", sr))))
        call.srtcp_a += 1
        call.last_sr_a_packets = n
        reply_ns = sr_ns + round(REPLY_DELAY_S * 1e9)
        lsr = (ntp(sr_ns) >> 16) & 0xFFFFFFFF
        reply = sender_report(SSRC_B, reply_ns, n, report_block(SSRC_A, 0, n, lsr, HOLD))
        records.append((reply_ns, udp((B[0], B[1] + 1), (A[0], A[1] + 1), rtcp("b", reply))))
        call.srtcp_b += 1
    records.sort(key=lambda record: record[0])
    write_frames(path, ((frame, ts_ns) for ts_ns, frame in records))
    return call


def udp(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    return udp_ethernet_frame(src[0], src[1], dst[0], dst[1], payload)
