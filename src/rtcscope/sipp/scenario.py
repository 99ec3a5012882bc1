"""sipp scenarios that re-play a captured stream: pure text from a :class:`MediaDescription`.

:func:`uas_scenario` is sipp's standard UAS flow (INVITE -> 100, 180, 200 with an SDP answer
offering the stream's own payload types, rtpmaps, fmtp and ptime) with
``<exec play_pcap_audio>`` right after the ACK. sipp's play_pcap_audio does not block and
sipp treats a request arriving during a ``<pause>`` as unexpected, so the pause is a
``<recv request="BYE">`` whose timeout is the stream's length: the caller may hang up at any
time, else the UAS sends the BYE when the stream has played. With ``require_auth`` the first
INVITE is challenged with a 401 (RFC 3261 22.2) and the second checked with
``<verifyauth>``; a wrong answer gets a 403. (A 401, not a 407: sipp 3.6's verifyauth reads
only the Authorization header, and a Proxy-Authorization answer would always fail.)

:func:`uac_scenario` is the matching caller: INVITE with the same SDP, a digest answer to a
401/407 (``[authentication]``, credentials from ``-au``/``-ap``), ACK, the stream played after
the 200/ACK, then BYE handling from either side. A 403 to the authenticated INVITE is ACKed
(the ACK of a non-2xx belongs to the INVITE transaction, RFC 3261 17.1.1.3) and the call
then fails on purpose (a receive that times out with nowhere to go), so sipp exits 1.

Text in ``[...]`` is a sipp keyword; SDP text from the capture may not contain brackets, and
goes in CDATA sections (which may not contain ``]]>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from rtcscope.errors import InputError, InvalidArgument
from rtcscope.sipp.media import MediaDescription

REALM = "rtcscope"
# How long each side waits past the stream's own length before giving up on the other.
HANGUP_MARGIN_MS = 2000
# The UAS hangs up this long after the stream's length, so its last packets leave first.
PLAYOUT_MARGIN_MS = 500
BYE_ANSWER_WAIT_MS = 4000


@dataclass(frozen=True, slots=True)
class Credentials:
    """``USER:PASS`` for digest authentication (RFC 3261 22.4)."""

    user: str
    password: str

    @classmethod
    def parse(cls, text: str, param: str) -> Credentials:
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise InvalidArgument(param, f"expected USER:PASS, not {text!r}")
        for part in (user, password):
            if any(c in part for c in '[]"\r\n') or not part.isprintable():
                raise InvalidArgument(param, "brackets, quotes and control characters cannot go in")
        return cls(user, password)


def _check_sdp_text(lines: list[str]) -> None:
    for line in lines:
        if "[" in line or "]" in line or not line.isprintable() or not line.isascii():
            raise InputError(f"SDP line {line!r} from the capture cannot go into a sipp scenario")


def sdp_body(media: MediaDescription, direction: str = "sendrecv") -> str:
    """The SDP (RFC 4566) with sipp's keywords for this side's addresses and port."""
    lines = media.sdp_lines()
    _check_sdp_text(lines)
    pts = " ".join(str(pt) for pt in media.payload_types)
    return "\n".join(
        [
            "v=0",
            "o=rtcscope [pid] [call_number] IN IP[local_ip_type] [local_ip]",
            "s=rtcscope replay",
            "c=IN IP[media_ip_type] [media_ip]",
            "t=0 0",
            f"m=audio [media_port] {media.proto} {pts}",
            *lines,
            f"a={direction}",
        ]
    )


def _send(text: str, *, retrans: bool = False, next_label: str | None = None) -> str:
    attributes = (' retrans="500"' if retrans else "") + (
        f' next="{next_label}"' if next_label else ""
    )
    body = "\n".join("      " + line if line else "" for line in text.strip("\n").split("\n"))
    return f"  <send{attributes}>\n    <![CDATA[\n\n{body}\n\n    ]]>\n  </send>\n"


def _response(status: str, *, tag: bool = True, extra: str = "", sdp: str | None = None) -> str:
    to = "[last_To:];tag=[pid]SIPpTag01[call_number]" if tag else "[last_To:]"
    head = f"""SIP/2.0 {status}
[last_Via:]
[last_From:]
{to}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:rtcscope@[local_ip]:[local_port];transport=[transport]>
{extra}"""
    if sdp is None:
        return head.rstrip("\n") + "\nContent-Length: 0\n"
    return head.rstrip("\n") + f"\nContent-Type: application/sdp\nContent-Length: [len]\n\n{sdp}\n"


def _play(pcap: str) -> str:
    return (
        "  <nop>\n    <action>\n"
        f"      <exec play_pcap_audio={quoteattr(pcap)}/>\n"
        "    </action>\n  </nop>\n"
    )


def _play_then_hang_up(pcap: str, wait_ms: int, dialog: str, cseq: int) -> list[str]:
    """Play the stream, wait ``wait_ms`` for the other side's BYE (answered), else send
    ours: ``dialog`` is its From and To lines; R-URI and Route from the dialog (rrs)."""
    return [
        _play(pcap),
        f'  <recv request="BYE" timeout="{wait_ms}" ontimeout="hangup"/>\n',
        _send(_response("200 OK", tag=False), next_label="end"),
        '  <label id="hangup"/>\n',
        _send(
            f"""BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{dialog}
Call-ID: [call_id]
CSeq: {cseq} BYE
[routes]
Contact: <sip:rtcscope@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0
""",
            retrans=True,
        ),
        f'  <recv response="200" timeout="{BYE_ANSWER_WAIT_MS}" ontimeout="end" next="end"/>\n',
    ]


def _header(name: str, comment: str) -> str:
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
        f"<!-- {comment} -->\n"
        f'<scenario name="{name}">\n'
    )


def uas_scenario(
    media: MediaDescription, pcap: str, require_auth: Credentials | None = None
) -> str:
    """The answering side (see the module docstring); ``pcap`` is the stream.pcap's path."""
    parts = [
        _header(
            "rtcscope uas replay",
            f"rtcscope sipp uas: answers and plays SSRC 0x{media.ssrc:08X} "
            f"({media.packets} packets, {media.duration_ms} ms) after the ACK",
        ),
        '  <recv request="INVITE" rrs="true">\n    <action>\n'
        '      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" '
        'assign_to="caller_from"/>\n'
        '      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" '
        'assign_to="callee_to"/>\n    </action>\n  </recv>\n',
    ]
    if require_auth is not None:
        parts += [
            _send(
                _response(
                    "401 Unauthorized",
                    extra=f'WWW-Authenticate: Digest realm="{REALM}", '
                    'nonce="[pid][call_number]rtcscope", algorithm=MD5\n',
                )
            ),
            '  <recv request="ACK"/>\n',
            '  <recv request="INVITE" rrs="true">\n    <action>\n'
            f'      <verifyauth assign_to="authvalid" username={quoteattr(require_auth.user)} '
            f"password={quoteattr(require_auth.password)}/>\n    </action>\n  </recv>\n",
            '  <nop hide="true" test="authvalid" next="authorized"/>\n',
            _send(_response("403 Forbidden")),
            '  <recv request="ACK" next="end"/>\n',
            '  <label id="authorized"/>\n',
        ]
    parts += [
        _send(_response("100 Trying", tag=False)),
        _send(_response("180 Ringing")),
        _send(_response("200 OK", sdp=sdp_body(media)), retrans=True),
        '  <recv request="ACK" crlf="true"/>\n',
        *_play_then_hang_up(
            pcap,
            media.duration_ms + PLAYOUT_MARGIN_MS,
            "From:[$callee_to];tag=[pid]SIPpTag01[call_number]\nTo:[$caller_from]",
            cseq=1,
        ),
        '  <label id="end"/>\n</scenario>\n',
    ]
    return "".join(parts)


_CALLER = """From: <sip:rtcscope@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"""


def _invite(media: MediaDescription, cseq: int, auth: bool) -> str:
    authorization = "[authentication]\n" if auth else ""
    return f"""INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{_CALLER}
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:rtcscope@[local_ip]:[local_port];transport=[transport]>
{authorization}Max-Forwards: 70
Subject: rtcscope replay
Content-Type: application/sdp
Content-Length: [len]

{sdp_body(media)}
"""


def _ack_error(cseq: int) -> str:
    # RFC 3261 17.1.1.3: the INVITE's Request-URI, its Via (the response's), the response's To.
    return f"""ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
{_CALLER}
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0
"""


def _provisional_recvs() -> str:
    return (
        '  <recv response="100" optional="true"/>\n'
        '  <recv response="180" optional="true"/>\n'
        '  <recv response="183" optional="true"/>\n'
    )


def uac_scenario(media: MediaDescription, pcap: str, auth: bool = False) -> str:
    """The calling side (see the module docstring); with ``auth`` it answers challenges."""
    parts = [
        _header(
            "rtcscope uac replay",
            f"rtcscope sipp uac: calls and plays SSRC 0x{media.ssrc:08X} "
            f"({media.packets} packets, {media.duration_ms} ms) after the 200/ACK",
        ),
        _send(_invite(media, 1, auth=False), retrans=True),
        _provisional_recvs(),
    ]
    if auth:
        parts += [
            '  <recv response="401" optional="true" auth="true" next="challenged"/>\n',
            '  <recv response="407" optional="true" auth="true" next="challenged"/>\n',
        ]
    parts.append('  <recv response="200" rrs="true" next="answered"/>\n')
    if auth:
        parts += [
            '  <label id="challenged"/>\n',
            _send(_ack_error(1)),
            _send(_invite(media, 2, auth=True), retrans=True),
            _provisional_recvs(),
            '  <recv response="403" optional="true" next="refused"/>\n',
            '  <recv response="200" rrs="true"/>\n',
        ]
    parts += [
        '  <label id="answered"/>\n',
        _send(
            f"""ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{_CALLER}
[last_To:]
Call-ID: [call_id]
CSeq: [last_cseq_number] ACK
[routes]
Contact: <sip:rtcscope@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0
"""
        ),
        *_play_then_hang_up(
            pcap, media.duration_ms + HANGUP_MARGIN_MS, f"{_CALLER}\n[last_To:]", cseq=3
        ),
    ]
    if auth:
        parts += [
            '  <label id="refused"/>\n',
            _send(_ack_error(2)),
            "  <!-- The call must count as failed (sipp exits 1): wait briefly for nothing. -->\n",
            '  <recv request="NOTIFY" timeout="200"/>\n',
        ]
    parts.append('  <label id="end"/>\n</scenario>\n')
    return "".join(parts)
