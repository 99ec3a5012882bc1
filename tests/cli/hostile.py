"""A capture of hostile SIP built with our writer: every C0 and C1 control, terminal escape
sequences, bytes that are not UTF-8, bidi overrides, rich markup, IPv6 hosts in brackets, a
60 kB header value and a 1 MB body line (over TCP), in a call with an RTP stream so that
every command has something to print."""

from __future__ import annotations

import struct
from pathlib import Path

from rtcscope.capture.packet import LinkType
from rtcscope.capture.writer import PcapWriter, ethernet_frame
from rtcscope.sipp.pcapfile import udp_ethernet_frame

CALLER = "fd17::1"
CALLEE = "fd17::2"
# Every C0 control but CR and LF (which end a SIP line), DEL, the C1 controls written as
# UTF-8 characters, and the C1 range as raw bytes (not UTF-8).
C0 = bytes(c for c in range(0x20) if c not in (0x0A, 0x0D))
C1_CHARS = "".join(chr(c) for c in range(0x80, 0xA0)).encode("utf-8")
C1_BYTES = bytes(range(0x80, 0xA0))
TITLE = b"\x1b]0;pwned\x07"
CLEAR = b"\x1b[2J\x1b[1;1H"
CALL_ID = b"evil" + TITLE + CLEAR + b"\x8e\xff[bold]@[fd17::1]"
DISPLAY = b"Mallory " + C0 + b"\x7f" + C1_CHARS + C1_BYTES + "\u202egnp.exe".encode()
SUBJECT = b"[bold]loud[/bold] [fd17::1] [link=http://x]y[/link]"
CODEC = b"PCMU\x1b[31m"
BIG_BODY_BYTES = 1 << 20

# What a reader must find (the escaped form, rtcscope.text) where the value is shown.
CALL_ID_ESCAPED = r"evil\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\x8e\xff[bold]@[fd17::1]"
# The same Call-ID in JSON: the exact value, the bytes that are not UTF-8 as \xNN text.
CALL_ID_JSON = "evil\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\\x8e\\xff[bold]@[fd17::1]"


def _sdp(host: str, port: int, codec: bytes = b"PCMU") -> bytes:
    return (
        b"v=0\r\no=- 1 1 IN IP6 " + host.encode() + b"\r\ns=" + TITLE + b"\r\n"
        b"c=IN IP6 " + host.encode() + b"\r\nt=0 0\r\n"
        b"m=audio " + str(port).encode() + b" RTP/AVP 0\r\n"
        b"a=rtpmap:0 " + codec + b"/8000\r\n"
    )


def _message(start: bytes, cseq: bytes, extra: bytes = b"", body: bytes = b"") -> bytes:
    head = (
        start + b"\r\n"
        b"Via: SIP/2.0/UDP [fd17::1]:5060;branch=z9hG4bK-" + cseq.split()[0] + b"\r\n"
        b'From: "' + DISPLAY + b'" <sip:alice@[fd17::1]>;tag=a1\r\n'
        b"To: <sip:bob@[fd17::2]>"
        + (b";tag=b2" if not start.startswith(b"INVITE") else b"")
        + b"\r\n"
        b"Call-ID: " + CALL_ID + b"\r\n"
        b"CSeq: " + cseq + b"\r\n"
        b"Contact: <sip:alice@[fd17::1]:5060>\r\n"
        b"Subject: " + SUBJECT + b"\r\n"
        b"User-Agent: " + TITLE + CLEAR + b"\r\n" + extra
    )
    if body:
        head += b"Content-Type: application/sdp\r\n"
    return head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def _tcp_frame(src: str, sport: int, dst: str, dport: int, seq: int, payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp) + len(payload),
        0,
        0x4000,
        64,
        6,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 2]),
    )
    frame = ethernet_frame(LinkType.RAW, ip + tcp + payload)
    assert frame is not None
    return frame


def write_hostile_capture(path: Path) -> dict[str, int]:
    """Write the capture; returns the frame numbers of interest (``invite``, ``big``)."""
    t0 = 1_700_000_000_000_000_000
    ms = 1_000_000
    frames: list[tuple[bytes, int]] = []

    def sip(src: str, dst: str, data: bytes, at_ms: int) -> int:
        frames.append((udp_ethernet_frame(src, 5060, dst, 5060, data), t0 + at_ms * ms))
        return len(frames)

    invite = sip(
        CALLER,
        CALLEE,
        _message(
            b"INVITE sip:bob@[fd17::2] SIP/2.0",
            b"1 INVITE",
            b"X-Long: " + b"A" * 30000 + b"\r\n",
            _sdp(CALLER, 40000),
        ),
        0,
    )
    sip(CALLEE, CALLER, _message(b"SIP/2.0 180 Ring\x1bing", b"1 INVITE"), 100)
    sip(
        CALLEE,
        CALLER,
        _message(b"SIP/2.0 200 OK" + CLEAR, b"1 INVITE", body=_sdp(CALLEE, 50000, CODEC)),
        500,
    )
    sip(CALLER, CALLEE, _message(b"ACK sip:bob@[fd17::2] SIP/2.0", b"1 ACK"), 600)
    # 50 RTP packets each way, PCMU every 20 ms
    for n in range(50):
        for src, sport, dst, dport, ssrc in (
            (CALLER, 40000, CALLEE, 50000, 0x11111111),
            (CALLEE, 50000, CALLER, 40000, 0x22222222),
        ):
            rtp = struct.pack("!BBHII", 0x80, 0, n, n * 160, ssrc) + b"\xff" * 160
            frames.append(
                (udp_ethernet_frame(src, sport, dst, dport, rtp), t0 + (700 + 20 * n) * ms)
            )
    sip(CALLER, CALLEE, _message(b"BYE sip:bob@[fd17::2] SIP/2.0", b"2 BYE"), 2000)
    sip(CALLEE, CALLER, _message(b"SIP/2.0 200 OK", b"2 BYE"), 2050)
    # Over TCP, in segments of 1400 bytes: a 60 kB header value (the framer takes 64 kB of
    # headers) and a body of one 1 MB line.
    big = _message(
        b"MESSAGE sip:bob@127.0.0.2 SIP/2.0",
        b"3 MESSAGE",
        b"X-Huge: " + (TITLE + b"\x8e") * (60000 // 12) + b"\r\n",
        (TITLE + b"\x8e") * (BIG_BODY_BYTES // 12),
    ).replace(b"application/sdp", b"text/plain")
    for offset in range(0, len(big), 1400):
        segment = big[offset : offset + 1400]
        frames.append(
            (
                _tcp_frame("127.0.0.1", 5060, "127.0.0.2", 5060, 1000 + offset, segment),
                t0 + 3000 * ms,
            )
        )
    big_frame = len(frames)  # a TCP message is shown at the frame that completes it
    with PcapWriter(path, LinkType.ETHERNET) as writer:
        for frame, ts_ns in frames:
            writer.write(frame, ts_ns)
    return {"invite": invite, "big": big_frame}
