"""Make an SDES-keyed SRTP call with real tools, captured by tcpdump on loopback.

sipp plays caller and callee with SDP that carries ``a=crypto`` lines (each side its own
key, RFC 4568); while the call is up, this module sends G.711 A-law RTP protected by pylibsrtp
with each side's key, from each side's SDP address and port to the other's. tcpdump captures
it all (the call is made again once if the kernel dropped a packet). Addresses: 127.0.60.1
(caller) and 127.0.60.2 (callee), the SRTP tests' own range.

``tests/data/srtp-sdes-call.pcap`` was made by :func:`make_call_capture`; the peer test
makes a fresh one each run.
"""

from __future__ import annotations

import math
import shutil
import socket
import struct
import time
from pathlib import Path

import pylibsrtp

from tests.live_capture import capture_while
from tests.peers import background

CALLER = "127.0.60.1"
CALLEE = "127.0.60.2"
SIP_PORT = 5090
CALLER_RTP = 16000
CALLEE_RTP = 16002
CALLER_SSRC = 0x0CA11E55
CALLEE_SSRC = 0x0CA11EE5
# Two different keys: each side's key protects only what that side sends.
CALLER_KEY = "Y2FsbGVyIGtleStzYWx0IGZvciBTREVTIHRlc3Qh"  # 30 bytes, base64
CALLEE_KEY = "Y2FsbGVlIGhhcyBpdHMgb3duIGtleSAmIHNhbHQh"
PACKETS_PER_SIDE = 100

_SDP = (
    "v=0\n"
    "o=- 1 1 IN IP4 {ip}\n"
    "s=-\n"
    "c=IN IP4 {ip}\n"
    "t=0 0\n"
    "m=audio {port} RTP/SAVP 8 101\n"
    "a=rtpmap:8 PCMA/8000\n"
    "a=rtpmap:101 telephone-event/8000\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\n"
    "a=sendrecv\n"
)

CALLER_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="srtp caller">
  <send retrans="500"><![CDATA[
INVITE sip:callee@{CALLEE}:{SIP_PORT} SIP/2.0
Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:callee@{CALLEE}:{SIP_PORT}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP.format(ip=CALLER, port=CALLER_RTP, key=CALLER_KEY)}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:callee@{CALLEE}:{SIP_PORT} SIP/2.0
Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:callee@{CALLEE}:{SIP_PORT}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <pause milliseconds="3000"/>
  <send retrans="500"><![CDATA[
BYE sip:callee@{CALLEE}:{SIP_PORT} SIP/2.0
Via: SIP/2.0/UDP [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:callee@{CALLEE}:{SIP_PORT}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""

CALLEE_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="srtp callee">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:callee@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP.format(ip=CALLEE, port=CALLEE_RTP, key=CALLEE_KEY)}
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>
"""


def alaw_tone(seq: int) -> bytes:
    """160 A-law bytes of a 440 Hz tone (G.711 A-law from the ITU segment table)."""
    out = bytearray()
    for i in range(160):
        sample = int(8000 * math.sin(2 * math.pi * 440 * (seq * 160 + i) / 8000))
        sign = 0x80 if sample >= 0 else 0
        mag = min(abs(sample), 32767) >> 3
        if mag < 32:
            code = mag >> 1
        else:
            exp = mag.bit_length() - 5
            code = (exp << 4) | ((mag >> exp) & 0x0F)
        out.append((code | sign) ^ 0x55)
    return bytes(out)


def clear_rtp(seq: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 8, seq, seq * 160, ssrc) + alaw_tone(seq)


def _protector(key_b64: str) -> pylibsrtp.Session:
    import base64

    return pylibsrtp.Session(
        pylibsrtp.Policy(
            key=base64.b64decode(key_b64), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND
        )
    )


def send_media() -> None:
    """Each side sends PACKETS_PER_SIDE SRTP packets from its SDP port to the other's."""
    caller_tx = _protector(CALLER_KEY)
    callee_tx = _protector(CALLEE_KEY)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
    ):
        a.bind((CALLER, CALLER_RTP))
        b.bind((CALLEE, CALLEE_RTP))
        for seq in range(1, PACKETS_PER_SIDE + 1):
            a.sendto(caller_tx.protect(clear_rtp(seq, CALLER_SSRC)), (CALLEE, CALLEE_RTP))
            b.sendto(callee_tx.protect(clear_rtp(seq, CALLEE_SSRC)), (CALLER, CALLER_RTP))
            time.sleep(0.01)


def make_call_capture(out: Path, workdir: Path) -> Path:
    """Run the call and return the capture ``out`` (tcpdump on lo, this range only; the call
    is made again once if the kernel dropped a packet: tests/live_capture.py)."""
    (workdir / "caller.xml").write_text(CALLER_XML.replace("\n", "\r\n"))
    (workdir / "callee.xml").write_text(CALLEE_XML.replace("\n", "\r\n"))

    def call(here: Path) -> None:
        callee_args = ["-sf", workdir / "callee.xml", "-i", CALLEE, "-p", str(SIP_PORT)]
        callee_args += ["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"]
        with background("sipp", callee_args, here / "callee.log", max_seconds=25) as callee:
            time.sleep(0.3)
            caller_args = ["-sf", workdir / "caller.xml", "-i", CALLER, "-p", str(SIP_PORT)]
            caller_args += ["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"]
            caller_args += [f"{CALLEE}:{SIP_PORT}"]
            with background("sipp", caller_args, here / "caller.log", max_seconds=25) as c:
                time.sleep(0.5)
                send_media()
                c.wait(timeout=20)
            callee.wait(timeout=20)

    capture = capture_while(workdir, out.name, call, ["net", "127.0.60.0/24"])
    shutil.copyfile(capture, out)
    return out
