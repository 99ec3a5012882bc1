"""sipmessage (PyPI) as an independent reference, and the inputs where it gives up.

On every real message sipmessage can parse, its reading of the start line, Call-ID, CSeq,
From/To tags, Via, Contact, Route, Record-Route and Max-Forwards must equal ours. Where it
fails (folding, LF-only lines, ``Via :``, compact forms, URIs with ``?headers``) the expected
values come from RFC 3261's grammar, written out by hand in the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sipmessage import Message

from rtcscope.scan.files import sip_messages
from rtcscope.sip.headers import NameAddr
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, shared_captures


def _captures() -> list[Path]:
    shared = [p for p in shared_captures() if p.name not in {"aaa.pcap", "SIP_DTMF2.pcap"}]
    return [DATA / "aaa.pcap", DATA / "SIP_DTMF2.pcap", DATA / "sip-rtp-speex.pcap", *shared]


def _uri(u: Any) -> tuple[Any, ...]:
    return (u.scheme, u.user or None, u.host.strip("[]").lower(), u.port)


def _ours_uri(a: NameAddr) -> tuple[Any, ...]:
    assert a.uri is not None
    u = a.uri
    # sipmessage unescapes the user part (RFC 3261 19.1.4 compares it unescaped).
    return (u.scheme, u.user_unescaped or None, u.host_address.lower(), u.port)


def reference_fields(raw: bytes) -> dict[str, Any] | None:
    """sipmessage's reading, or None when it refuses the message (it parses some headers
    only when asked, so every field is read here)."""
    try:
        ref = Message.parse(raw)
        start = (ref.method,) if hasattr(ref, "method") else (ref.code, ref.phrase)
        return {
            "start": start,
            "call_id": ref.call_id,
            "cseq": (ref.cseq.sequence, ref.cseq.method),
            "tags": (
                ref.from_address.parameters.get("tag") or None,
                ref.to_address.parameters.get("tag") or None,
            ),
            "from": _uri(ref.from_address.uri),
            "via": [
                (v.transport, v.host.strip("[]").lower(), v.port, v.parameters.get("branch"))
                for v in ref.via
            ],
            "contact": [_uri(c.uri) for c in ref.contact],
            "route": [_uri(r.uri) for r in ref.route],
            "record_route": [_uri(r.uri) for r in ref.record_route],
            "max_forwards": ref.max_forwards,
        }
    except (ValueError, KeyError):
        return None


def our_fields(m: SipMessage) -> dict[str, Any]:
    assert m.from_ is not None and m.cseq is not None
    return {
        "start": (m.method,) if m.is_request else (m.status_code, m.reason),
        "call_id": m.call_id,
        "cseq": (m.cseq.number, m.cseq.method),
        "tags": (m.from_tag, m.to_tag),
        "from": _ours_uri(m.from_),
        "via": [(v.transport, v.host_address.lower(), v.port, v.branch) for v in m.vias],
        "contact": [_ours_uri(c) for c in m.contacts],
        "route": [_ours_uri(r) for r in m.routes],
        "record_route": [_ours_uri(r) for r in m.record_routes],
        "max_forwards": m.max_forwards,
    }


def _real_messages() -> Iterator[tuple[str, int, bytes]]:
    for path in _captures():
        if path.exists():
            for item in sip_messages(path):
                yield path.name, item.frame, item.message.raw


def test_agrees_with_sipmessage_on_every_message_it_parses() -> None:
    compared = refused = 0
    for name, frame, raw in _real_messages():
        expected = reference_fields(raw)
        if expected is None:
            refused += 1
            continue
        assert our_fields(SipMessage.parse(raw)) == expected, f"{name} frame {frame}"
        compared += 1
    assert compared >= 150, (compared, refused)


FOLDED = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Subject: lunch\r\n at noon\r\n"
    b"To: Bob\r\n <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>\r\n\t;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)
LF_ONLY = FOLDED.replace(b"\r\n", b"\n")
SPACE_BEFORE_COLON = FOLDED.replace(b"Via: ", b"Via : ").replace(b"CSeq: ", b"CSeq  : ")
COMPACT = (
    FOLDED.replace(b"Via: ", b"v: ")
    .replace(b"From: ", b"f: ")
    .replace(b"To: ", b"t: ")
    .replace(b"Call-ID: ", b"i: ")
    .replace(b"Content-Length: ", b"l: ")
)
URI_HEADERS = FOLDED.replace(
    b"INVITE sip:bob@biloxi.example.com SIP/2.0",
    b"INVITE sip:bob@biloxi.example.com?subject=project%20x&priority=urgent SIP/2.0",
)


def sipmessage_reading(data: bytes) -> tuple[Any, ...] | None:
    """What sipmessage makes of the fields checked below (None when it refuses)."""
    try:
        m = Message.parse(data)
    except (ValueError, KeyError):
        return None
    return (
        m.call_id,
        [v.parameters.get("branch") for v in m.via],
        m.from_address.parameters.get("tag") if m.from_address else None,
        m.cseq.sequence if m.cseq else None,
    )


EXPECTED = (
    "a84b4c76e66710@pc33.atlanta.example.com",
    ["z9hG4bK776asdhds"],
    "1928301774",
    314159,
)


@pytest.mark.parametrize(
    "data",
    [FOLDED, LF_ONLY, SPACE_BEFORE_COLON, COMPACT, URI_HEADERS],
    ids=["folded", "lf-only", "space-before-colon", "compact-forms", "uri-headers"],
)
def test_where_sipmessage_fails_we_parse_right(data: bytes) -> None:
    # The reference refuses these inputs or reads them wrong ...
    assert sipmessage_reading(data) != EXPECTED
    # ... while RFC 3261 7.3.1 (folding, HCOLON), 7.3.3 (compact forms), 7.5 and 19.1.1
    # (URI headers) make them the same message as the plain one.
    m = SipMessage.parse(data)
    assert m.problems == []
    assert (m.call_id, [v.branch for v in m.vias], m.from_tag) == EXPECTED[:3]
    assert m.cseq is not None and m.cseq.number == EXPECTED[3]
    assert m.to is not None and m.to.uri is not None and m.to.uri.user == "bob"
    assert m.to.display_name == "Bob"
    assert m.header("Subject") == "lunch at noon"
    assert bytes(m) == data


def test_uri_headers_are_read() -> None:
    m = SipMessage.parse(URI_HEADERS)
    assert m.request_uri is not None
    assert m.request_uri.headers == (("subject", "project%20x"), ("priority", "urgent"))
