"""SipMessage: RFC 3261 grammar corners, RFC 4475-style torture cases, tolerance of real traffic.

Expected values come from the RFC text (the grammar and its examples), not from our output.
"""

from __future__ import annotations

import pytest

from rtcscope.sip.headers import canonical_name, split_comma_list
from rtcscope.sip.message import SipMessage, looks_like_sip
from rtcscope.sip.status import StatusCode, reason_phrase

# After RFC 4475 3.1.1.1 "A Short Tortuous INVITE": odd case, LWS around colons and
# slashes, folding, compact forms, quoted display names with escapes, an empty Subject.
TORTUOUS_BODY = (
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC/90000\r\n"
)
TORTUOUS = (
    b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
    b"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
    b'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n'
    b"MaX-fOrWaRdS: 0068\r\n"
    b"Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
    b"Content-Length   : " + str(len(TORTUOUS_BODY)).encode() + b"\r\n"
    b"cseq: 0009\r\n  INVITE\r\n"
    b"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
    b"s :\r\n"
    b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
    b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
    b"v:  SIP  / 2.0  / SCTP  192.0.2.5 ;branch=z9hG4bK3d4d4d2;rport\r\n"
    b'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n'
    b"      newvalue ;\r\n  secondparam ; q = 0.33\r\n"
    b"\r\n" + TORTUOUS_BODY
)


def test_tortuous_invite() -> None:
    m = SipMessage.parse(TORTUOUS)
    assert m.problems == []
    assert m.is_request and m.method == "INVITE"
    assert m.request_uri is not None and m.request_uri.host == "chair-dnrc.example.com"
    assert m.request_uri.params == (("unknownparam", None),)
    assert m.to is not None and m.to.tag == "1918181833n"
    assert m.to.uri is not None and m.to.uri.user == "vivekg" and m.to.uri.params == ()
    assert m.from_ is not None and m.from_.tag == "98asjd8"
    assert m.from_.display_name == 'J Rosenberg \\"'
    assert m.max_forwards == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert m.cseq is not None and (m.cseq.number, m.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.port, v.branch) for v in m.vias] == [
        ("UDP", "192.0.2.2", None, "390skdjuw"),
        ("SCTP", "192.0.2.5", None, "z9hG4bK3d4d4d2"),
    ]
    assert m.vias[1].has_rport and m.vias[1].rport is None
    assert m.header("Subject") == ""
    assert m.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert len(m.routes) == 1 and m.routes[0].uri is not None
    assert m.routes[0].uri.lr and m.routes[0].uri.param("unknownwith") == "value"
    (contact,) = m.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.param("newparam") == "newvalue" and contact.q == 0.33
    assert contact.param("secondparam") == ""
    assert m.body == TORTUOUS_BODY
    assert m.sdp is not None and [md.media for md in m.sdp.media] == ["audio", "video"]
    # Names as written, order kept, raw bytes kept.
    assert [h.name for h in m.headers][:3] == ["TO", "from", "MaX-fOrWaRdS"]
    assert [h.canonical_name for h in m.headers][-2:] == ["Via", "Contact"]
    assert bytes(m) == TORTUOUS
    assert (
        m.headers[0].raw == b"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"
    )


def test_lf_only_line_ends() -> None:
    # The Content-Length still counts the CRs that were removed from the 8 body lines.
    data = TORTUOUS.replace(b"\r\n", b"\n")
    m = SipMessage.parse(data)
    size = len(TORTUOUS_BODY)
    assert m.problems == [f"body is cut: {size - 8} of {size} bytes (Content-Length)"]
    assert m.body == TORTUOUS_BODY.replace(b"\r\n", b"\n")
    assert m.cseq is not None and m.cseq.number == 9
    assert [v.branch for v in m.vias] == ["390skdjuw", "z9hG4bK3d4d4d2"]


def test_status_line_and_reason() -> None:
    m = SipMessage.parse(
        b"SIP/2.0 486 Busy Here\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa;received=198.51.100.7;rport=5062\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c1\r\n"
        b"CSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert m.is_response and m.status_code == StatusCode.BUSY_HERE == 486
    assert m.reason == "Busy Here" and m.method == "INVITE"
    via = m.vias[0]
    assert (via.received, via.rport, via.port) == ("198.51.100.7", 5062, 5060)
    assert m.problems == []


def test_status_phrases() -> None:
    assert StatusCode(183).phrase == "Session Progress"
    assert StatusCode(481).phrase == "Call/Transaction Does Not Exist"
    assert reason_phrase(499) == "Client Failure"  # RFC 3261 8.1.3.2: treated as 400


def test_compact_forms_expand() -> None:
    assert [canonical_name(c) for c in "ifmtvlcks"] == [
        "Call-ID",
        "From",
        "Contact",
        "To",
        "Via",
        "Content-Length",
        "Content-Type",
        "Supported",
        "Subject",
    ]


def test_comma_splitting_respects_quotes_and_brackets() -> None:
    value = '"Doe, John" <sip:j@a.example;x=1,2>;q=0.5, <sip:k@b.example>, sip:l@c.example'
    assert split_comma_list(value) == [
        '"Doe, John" <sip:j@a.example;x=1,2>;q=0.5',
        "<sip:k@b.example>",
        "sip:l@c.example",
    ]


def test_credentials_are_never_split() -> None:
    m = SipMessage.parse(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b'Authorization: Digest username="bob", realm="example.com", nonce="a,b"\r\n'
        b'WWW-Authenticate: Digest realm="x", qop="auth,auth-int"\r\n'
        b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        b"Route: <sip:p3.example.com>\r\n"
        b"Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n\r\n"
    )
    assert m.header_values("Authorization") == [
        'Digest username="bob", realm="example.com", nonce="a,b"'
    ]
    assert len(m.header_values("WWW-Authenticate")) == 1
    assert m.header_values("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]
    assert [r.uri.host for r in m.routes if r.uri] == [
        "p1.example.com",
        "p2.example.com",
        "p3.example.com",
    ]
    assert [r.uri.lr for r in m.routes if r.uri] == [True, True, False]


def test_addr_spec_parameters_belong_to_the_header() -> None:
    # RFC 3261 20.10: without <>, ";tag" and every other parameter are header parameters.
    m = SipMessage.parse(
        b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h:5070;branch=z9hG4bK2\r\n"
        b"From: sip:a@example.com;transport=tcp;tag=abc\r\n"
        b"To: <sip:b@example.com;transport=tcp>;tag=x\r\n"
        b"Contact: sip:a@192.0.2.9:5070;expires=60\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    assert m.from_ is not None and m.from_.uri is not None
    assert m.from_.uri.params == () and m.from_.param("transport") == "tcp" and m.from_tag == "abc"
    assert m.to is not None and m.to.uri is not None
    assert m.to.uri.transport == "tcp" and m.to_tag == "x"
    assert m.contacts[0].expires == 60 and m.contacts[0].uri is not None
    assert m.contacts[0].uri.port == 5070


def test_contact_wildcard() -> None:
    m = SipMessage.parse(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContact: *\r\n"
        b"Expires: 0\r\nFrom: <sip:a@example.com>;tag=1\r\n"
        b"To: <sip:a@example.com>\r\nCall-ID: r\r\n"
        b"CSeq: 2 REGISTER\r\n\r\n"
    )
    assert m.contacts[0].wildcard and m.contacts[0].uri is None


def test_ipv6_via_and_uri() -> None:
    m = SipMessage.parse(
        b"INVITE sip:[2001:db8::10]:5070;transport=udp SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas3-111;"
        b"received=[2001:db8::9:255]\r\n"
        b"From: <sip:a@[2001:db8::9:1]>;tag=t\r\nTo: <sip:b@[2001:db8::10]>\r\nCall-ID: v6\r\n"
        b"CSeq: 1 INVITE\r\n\r\n"
    )
    assert m.request_uri is not None
    assert (m.request_uri.host, m.request_uri.host_address, m.request_uri.port) == (
        "[2001:db8::10]",
        "2001:db8::10",
        5070,
    )
    via = m.vias[0]
    assert (via.host, via.port, via.received) == ("[2001:db8::9:1]", 5060, "[2001:db8::9:255]")


def test_malformed_input_is_flagged_not_raised() -> None:
    for data in (b"", b"\r\n\r\n", b"hello", b"INVITE\r\n\r\n", b"SIP/2.0 abc\r\n", b"\xff\xfe:"):
        m = SipMessage.parse(data)
        assert m.problems, data
        assert bytes(m) == data


def test_missing_headers_and_bad_values_are_listed() -> None:
    m = SipMessage.parse(
        b"BYE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP\r\nCSeq: x BYE\r\n"
        b"Max-Forwards: many\r\n"
        b"Content-Length: 10\r\n\r\nabc"
    )
    text = " | ".join(m.problems)
    for fault in ("no Call-ID", "CSeq", "Via", "Max-Forwards", "From", "To", "3 of 10"):
        assert fault in text
    assert m.method == "BYE"


def test_bytes_after_content_length_are_reported() -> None:
    m = SipMessage.parse(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:a@b>\r\nCall-ID: z\r\nCSeq: 1 OPTIONS\r\nl: 2\r\n\r\nhiJUNK"
    )
    assert m.body == b"hi" and m.trailing == b"JUNK" and m.content_length == 2
    assert any("after the body" in p for p in m.problems)


def test_multipart_sdp() -> None:
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 8\r\n"
    )
    body = (
        b"--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + b"\r\n--b1\r\n"
        b"Content-Type: application/isup\r\n\r\n\x01\x02\r\n--b1--\r\n"
    )
    m = SipMessage.parse(
        b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: mp\r\nCSeq: 1 INVITE\r\n"
        b'Content-Type: multipart/mixed;boundary="b1"\r\n'
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    assert [p.content_type for p in m.body_parts()] == ["application/sdp", "application/isup"]
    assert m.sdp is not None and m.sdp.media[0].port == 4000


def test_leading_crlf_is_ignored() -> None:
    # RFC 3261 7.5: implementations SHOULD ignore CRLFs before the start line.
    m = SipMessage.parse(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nCall-ID: k\r\n\r\n")
    assert m.is_request and m.call_id == "k"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"INVITE sip:a@b SIP/2.0\r\n", True),
        (b"SIP/2.0 200 OK\r\n", True),
        (b"SIP/2.0 100\r\n", True),
        (b"\r\nBYE sip:a@b SIP/2.0\n", True),
        (b"GET / HTTP/1.1\r\n", False),
        (b"INVITE sip:a@b SIP/2.0", False),
        (b"\x80\x08\x00\x01", False),
    ],
)
def test_looks_like_sip(data: bytes, expected: bool) -> None:
    assert looks_like_sip(data) is expected
