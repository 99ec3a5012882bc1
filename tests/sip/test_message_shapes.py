"""The parse step's two roads agree: a header block of a known shape (its values read where
the shape says) and the general line-by-line parser give the same message, field by field.

The shape road is taken for CRLF blocks whose every header line has a name and a colon; the
test turns it off (``_shape_of`` answers None, as it does for any other block) to get the
general parser's answer for the same bytes, and compares everything a caller can read.
Messages are real ones from the shipped captures, mutated the ways real traffic differs:
LF-only line ends, folding, compact and odd-case names, ``Name :``, quoted commas and
semicolons in display names, duplicated headers, IPv6 Via hosts, cut bytes.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import message as message_module
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA


@cache
def real_messages() -> tuple[bytes, ...]:
    out: list[bytes] = []
    for name in ("SIP_DTMF2.pcap", "aaa.pcap", "sip-rtp-speex.pcap"):
        out += [m.message.raw for m in sip_messages(DATA / name)]
    return tuple(out)


def fields(m: SipMessage) -> dict[str, Any]:
    """Everything a caller reads of a message."""
    return {
        "start": (m.is_request, m.is_response, m.request_method, m.request_uri_text),
        "status": (m.status_code, m.reason, m.sip_version, m.start_line),
        "keys": (m.call_id, m.cseq, m.from_tag, m.to_tag, m.branch, m.sent_by),
        "from_to": (m.from_, m.to),
        "vias": m.vias,
        "body": (m.header_length, m.content_length, m.content_type, m.body, m.trailing),
        "headers": [(h.name, h.value, h.raw) for h in m.headers],
        "finished": (m.contacts, m.routes, m.record_routes, m.max_forwards),
        "request_uri": m.request_uri,
        "problems": m.problems,
    }


def general(data: bytes, monkeypatch: pytest.MonkeyPatch) -> SipMessage:
    with monkeypatch.context() as patch:
        patch.setattr(message_module, "_shape_of", lambda lines: None)
        # The C scan (when it is the road) is the shape road too: the Python one answers.
        patch.setattr(message_module, "_fill", message_module._fill_py)
        patch.setattr(message_module, "_build", None)
        # Its own header map: the shape road's map of the same bytes is not read.
        patch.setattr(message_module, "_VALUE_MAPS", {})
        parsed = SipMessage.parse(data)
        fields(parsed)  # everything read while the general parser is the only road
        return parsed


# Header lines as real traffic writes them, the parse step's headers in all their forms.
LINES = [
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
    b"v: SIP/2.0/TCP [2001:db8::1]:5061;branch=b", b"VIA : SIP/2.0/UDP 2001:db8::2;branch=z9hG4bKx",
    b"Via: SIP/2.0/UDP a.example;rport, SIP/2.0/UDP b",
    b'From: "Smith, John; jr" <sip:j@a.example>;tag=f1', b"f: sip:a@b;tag=2", b"FROM:<sip:x@y>",
    b'To: "a\\"b" <sip:b@c.example>', b"t: <sip:b@c>;tag=t9", b"to : <sip:[::1]:5060>;Tag=T",
    b"Call-ID: abc@host", b"i: other-id", b"CALL-ID :  spaced ", b"CSeq: 1 INVITE", b"cseq: x",
    b"Content-Length: 4", b"l: 0", b"content-length: nine", b"Content-Type: application/sdp",
    b"c: multipart/mixed;boundary=z", b"Contact: <sip:c@d>, *", b"Max-Forwards: 70",
    b"Route: <sip:r;lr>", b"X-Odd: a:b:c", b"Subject:", b" folded on", b"\tfolded tab", b"no colon",
    b": no name", b"Record-Route: <sip:rr;lr>", b"\xc3\xa9t\xc3\xa9: utf8 name", b"X-Bad: \xff\xfe",
]  # fmt: skip
STARTS = [
    b"INVITE sip:bob@b.example SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 180 Ringing",
    b"BYE sip:[::1]:5060 SIP/2.0", b"SIP/3.0 200 OK", b"NOTSIP", b"SIP/2.0 99 Bad",
]  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        start = draw(st.sampled_from(STARTS))
        lines = draw(st.lists(st.sampled_from(LINES), max_size=14))
        body = draw(st.sampled_from([b"", b"v=0\r\n", b"abcd", b"--z\r\nc: a/b\r\n\r\nx\r\n--z--"]))
        crlf = b"\r\n"
        data = crlf.join([start, *lines]) + crlf + crlf + body
    else:
        data = draw(st.sampled_from(real_messages()))
    # Mutations real traffic shows: LF-only, duplicated lines, leading CRLFs, cut bytes.
    if draw(st.booleans()):
        data = data.replace(b"\r\n", b"\n")
    if draw(st.booleans()):
        head, sep, rest = data.partition(b"\r\n")
        data = head + sep + rest.split(b"\r\n", 1)[0] + b"\r\n" + rest
    if draw(st.booleans()):
        data = b"\r\n" + data
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@given(messages())
def test_shape_road_and_general_parser_agree(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert fields(SipMessage.parse(data)) == fields(general(data, monkeypatch))


@pytest.mark.parametrize("index", range(0, 200, 7))
def test_real_messages_take_the_shape_road(index: int) -> None:
    """The shipped captures' messages are of the common shape (the road being fast is what
    it is for), and agree with the general parser."""
    raws = real_messages()
    data = raws[index % len(raws)]
    start = len(data) - len(data.lstrip(b"\r\n"))
    # The active road's parse step (C or Python) and the Python scan both read it as the
    # common shape.
    assert isinstance(message_module._fill(SipMessage(data), data, start), tuple)
    assert message_module._plain_fields_py(data, start) is not None
    with pytest.MonkeyPatch.context() as monkeypatch:
        parsed = SipMessage.parse(data)
        assert fields(parsed) == fields(general(data, monkeypatch))


def test_a_shape_is_recognised_only_by_the_same_names() -> None:
    """Two blocks with the same number of lines but another name (or a line without its
    colon) are not read with the first block's shape."""
    first = b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 BYE\r\n\r\n"
    other = b"SIP/2.0 200 OK\r\nCall-IDs: a\r\nCSeq: 1 BYE\r\n\r\n"
    colonless = b"SIP/2.0 200 OK\r\nCall-ID a\r\nCSeq: 1 BYE\r\n\r\n"
    assert SipMessage.parse(first).call_id == "a"
    assert SipMessage.parse(other).call_id is None
    m = SipMessage.parse(colonless)
    assert m.call_id is None
    assert any("no colon" in p for p in m.problems)
