"""The SIP-heavy capture of bench/analyze: ``--calls`` short calls, one starting every 5 ms.

Mix (fixed seed): 80% answered (INVITE with SDP, 100, 180, 200 with SDP, ACK, 10 PCMA packets
of 20 ms each way, BYE, 200), 4% answered with the 200 resent once, 10% busy (486, ACK), 5%
timing out (INVITE resent at 0.5 and 1.5 s, then 408, ACK), 1% with the INVITE resent before
the 100. Ethernet/IPv4/UDP, written with struct (fast generation); every caller and callee
has addresses of its own block so calls never share media ports.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

MAC = bytes.fromhex("020000000002020000000001")
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
T0_US = 1_700_000_000_000_000


def _frame(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    return MAC + b"\x08\x00" + ip + udp


def _addr(net: int, n: int) -> bytes:
    return bytes([10, net, (n >> 8) & 0xFF, n & 0xFF])


def _text(addr: bytes) -> str:
    return ".".join(map(str, addr))


class _Call:
    def __init__(self, n: int) -> None:
        self.n = n
        self.a = _addr(1, n % 60000 + 1)
        self.b = _addr(2, n % 60000 + 1)
        self.call_id = f"c{n}-{n * 7919 % 100003}@{_text(self.a)}"
        self.port_a = 20000 + 2 * (n % 20000)
        self.port_b = 40000 + 2 * (n % 10000)

    def sdp(self, addr: bytes, port: int) -> bytes:
        ip = _text(addr)
        return (
            f"v=0\r\no=- {self.n} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n"
        ).encode()

    def request(self, method: str, cseq: int, branch: str, to_tag: str, body: bytes = b"") -> bytes:
        a, b = _text(self.a), _text(self.b)
        head = (
            f"{method} sip:bob{self.n}@{b}:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {a}:5060;branch=z9hG4bK{branch}\r\n"
            f"Max-Forwards: 70\r\n"
            f'From: "Alice {self.n}" <sip:alice{self.n}@{a}>;tag=fa{self.n}\r\n'
            f"To: <sip:bob{self.n}@{b}>{to_tag}\r\n"
            f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice{self.n}@{a}:5060>\r\nUser-Agent: bench-uac\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def response(
        self, status: str, method: str, cseq: int, branch: str, to_tag: str, body: bytes = b""
    ) -> bytes:
        a, b = _text(self.a), _text(self.b)
        head = (
            f"SIP/2.0 {status}\r\n"
            f"Via: SIP/2.0/UDP {a}:5060;branch=z9hG4bK{branch}\r\n"
            f'From: "Alice {self.n}" <sip:alice{self.n}@{a}>;tag=fa{self.n}\r\n'
            f"To: <sip:bob{self.n}@{b}>{to_tag}\r\n"
            f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
            + (f"Contact: <sip:bob{self.n}@{b}:5060>\r\n" if status[0] == "2" else "")
            + "Server: bench-uas\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


def generate(path: Path, calls: int, seed: int = 11) -> dict[str, int]:
    """Write the capture; returns counts (packets, sip, rtp, and calls by outcome)."""
    rng = random.Random(seed)
    events: list[tuple[int, int, bytes]] = []  # (time us, order, frame)
    counts = {"answered": 0, "answered_resent": 0, "busy": 0, "timeout": 0, "invite_resent": 0}
    counts.update(sip=0, rtp=0)
    order = 0

    def emit(ts_us: int, frame: bytes, kind: str = "sip") -> None:
        nonlocal order
        events.append((ts_us, order, frame))
        order += 1
        counts[kind] += 1

    for n in range(calls):
        c = _Call(n)
        t = T0_US + n * 5_000
        draw = rng.random()
        kind = (
            "answered"
            if draw < 0.80
            else "answered_resent"
            if draw < 0.84
            else "busy"
            if draw < 0.94
            else "timeout"
            if draw < 0.99
            else "invite_resent"
        )
        counts[kind] += 1
        up = (c.a, c.b, 5060, 5060)
        down = (c.b, c.a, 5060, 5060)
        br = f"{n}i"
        invite = _frame(*up, c.request("INVITE", 1, br, "", c.sdp(c.a, c.port_a)))
        emit(t, invite)
        tag = f";tag=tb{n}"
        if kind == "timeout":
            emit(t + 500_000, invite)
            emit(t + 1_500_000, invite)
            emit(
                t + 3_000_000,
                _frame(*down, c.response("408 Request Timeout", "INVITE", 1, br, tag)),
            )
            emit(t + 3_000_400, _frame(*up, c.request("ACK", 1, br, tag)))
            continue
        if kind == "invite_resent":
            emit(t + 500_000, invite)
            t += 500_000
        emit(t + 300, _frame(*down, c.response("100 Trying", "INVITE", 1, br, "")))
        emit(t + 2_000, _frame(*down, c.response("180 Ringing", "INVITE", 1, br, tag)))
        if kind == "busy":
            emit(t + 40_000, _frame(*down, c.response("486 Busy Here", "INVITE", 1, br, tag)))
            emit(t + 40_400, _frame(*up, c.request("ACK", 1, br, tag)))
            continue
        ok = _frame(*down, c.response("200 OK", "INVITE", 1, br, tag, c.sdp(c.b, c.port_b)))
        emit(t + 50_000, ok)
        ack_at = t + 50_500
        if kind == "answered_resent":
            emit(t + 550_000, ok)
            ack_at = t + 550_400
        emit(ack_at, _frame(*up, c.request("ACK", 1, f"{n}a", tag)))
        ssrc_a, ssrc_b = rng.randrange(2**32), rng.randrange(2**32)
        seq_a, seq_b = rng.randrange(65536), rng.randrange(65536)
        ts_a, ts_b = rng.randrange(2**32), rng.randrange(2**32)
        payload = bytes([0xD5]) * 160
        media_at = ack_at + 1_000
        for i in range(10):
            for src, dst, sp, dp, ssrc, seq, ts, skew in (
                (c.a, c.b, c.port_a, c.port_b, ssrc_a, seq_a, ts_a, 0),
                (c.b, c.a, c.port_b, c.port_a, ssrc_b, seq_b, ts_b, 7_000),
            ):
                rtp = struct.pack(
                    "!BBHII",
                    0x80,
                    0x88 if i == 0 else 8,
                    (seq + i) & 0xFFFF,
                    (ts + 160 * i) & 0xFFFFFFFF,
                    ssrc,
                )
                jitter = rng.randrange(0, 2_000)
                emit(
                    media_at + skew + 20_000 * i + jitter,
                    _frame(src, dst, sp, dp, rtp + payload),
                    "rtp",
                )
        bye_at = media_at + 220_000
        emit(bye_at, _frame(*up, c.request("BYE", 2, f"{n}b", tag)))
        emit(bye_at + 400, _frame(*down, c.response("200 OK", "BYE", 2, f"{n}b", tag)))
    events.sort()
    with open(path, "wb") as out:
        out.write(PCAP_HEADER)
        buf = bytearray()
        for ts_us, _, frame in events:
            buf += struct.pack(
                "<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)
            )
            buf += frame
            if len(buf) > 1 << 22:
                out.write(buf)
                buf.clear()
        out.write(buf)
    counts["packets"] = len(events)
    counts["calls"] = calls
    return counts
