"""The call list's shortcuts give what the general road gives.

``summarize_calls`` finds the retransmission marks call by call and adds the statistics up
from the calls when every message has a Call-ID and a frame of its own; otherwise it feeds
the whole capture through the tracker message by message (the road test_calls.py checks
against ``tshark -z sip,stat``). The From and To URIs of a call are cut from the header
line when it has the usual shape, else read from the message's parsed header.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip.calls import (
    _LINK_PROBE,
    SipStatistics,
    WiresharkSipTracker,
    summarize_calls,
)
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, shared_capture

NO_CALL_ID = (
    b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKnocallid\r\n"
    b"From: <sip:probe@example.com>;tag=p1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _capture_wide(messages: list[CapturedSip]) -> tuple[SipStatistics, dict[int, int]]:
    """Statistics and retransmission marks (frame -> frame repeated) fed message by message
    in capture order, as tshark's tap sees them."""
    statistics = SipStatistics()
    tracker = WiresharkSipTracker()
    resent: dict[int, int] = {}
    for captured in messages:
        mark = tracker.feed(captured)
        statistics.add(captured, mark)
        if mark.resent_of:
            resent[captured.frame] = mark.resent_of
    return statistics, resent


@pytest.mark.parametrize(
    "path",
    [DATA / "aaa.pcap", DATA / "SIP_DTMF2.pcap", DATA / "testbed-unreachable-contact.pcap"],
    ids=lambda p: p.name,
)
def test_marks_and_statistics_call_by_call_equal_the_capture_wide_feed(path: Path) -> None:
    messages = list(sip_messages(path))
    result = summarize_calls(messages)
    statistics, resent = _capture_wide(messages)
    assert result.statistics.as_dict() == statistics.as_dict()
    assert sorted(result.statistics.setup_times_ms) == sorted(statistics.setup_times_ms)
    ours = {f: m.resent_of for c in result.calls for f, m in c.marks.items() if m.resent_of}
    assert ours == resent
    assert resent or statistics.setup_times_ms  # something to compare in each


def test_a_message_without_call_id_takes_the_capture_wide_road() -> None:
    """A message without Call-ID is in no call, but tshark's statistics count it: the
    general road is taken, and the calls keep the marks the calls alone give."""
    path = shared_capture("ipv6frag.pcap")
    messages = list(sip_messages(path))
    alone = summarize_calls(messages)
    extra = CapturedSip(
        10**6, messages[-1].ts_ns + 1, "192.0.2.9", 5060, "192.0.2.2", 5060, "udp",
        SipMessage.parse(NO_CALL_ID),
    )  # fmt: skip
    result = summarize_calls([*messages, extra])
    expected = alone.statistics.as_dict()
    expected["messages"] += 1
    expected["methods"] = dict(sorted({**expected["methods"], "OPTIONS": 1}.items()))
    assert result.statistics.as_dict() == expected
    assert [(c.call_ids, c.marks, c.resent) for c in result.calls] == [
        (c.call_ids, c.marks, c.resent) for c in alone.calls
    ]


def test_times_out_of_capture_order_are_sorted() -> None:
    """A call whose messages were captured out of time order (two interfaces) is read in
    time order: the BYE seen first in the capture but sent last ends the call."""
    path = DATA / "testbed-good.pcap"
    messages = list(sip_messages(path))
    in_order = summarize_calls(messages).calls[0]
    # The first message stamped after the last: it is the last one in time.
    first = messages[0]
    late = CapturedSip(
        first.frame, messages[-1].ts_ns + 1, first.src, first.sport, first.dst, first.dport,
        first.transport, first.message,
    )  # fmt: skip
    moved = summarize_calls([late, *messages[1:]]).calls[0]
    assert moved.messages[-1] is late
    assert moved.start_ns == messages[1].ts_ns != in_order.start_ns
    assert [m.frame for m in moved.messages] == [m.frame for m in messages[1:]] + [first.frame]


@pytest.mark.parametrize(
    "path",
    [DATA / "aaa.pcap", DATA / "SIP_DTMF2.pcap", DATA / "testbed-good.pcap",
     DATA / "testbed-cancel.pcap", DATA / "testbed-prack-ringing.pcap", DATA / "testbed-busy.pcap"],
    ids=lambda p: p.name,
)  # fmt: skip
def test_counts_are_the_messages_own_in_either_capture_order(path: Path) -> None:
    """The one walk over a call's messages counts what they hold (counted here, message by
    message, in time order); the capture read backwards (every call out of time order: the
    sorted road) gives the same counts."""
    messages = list(sip_messages(path))
    for read in (messages, messages[::-1]):
        calls = summarize_calls(read).calls
        assert sum(len(c.messages) for c in calls) == len(messages)
        for call in calls:
            ordered = sorted(call.messages, key=lambda m: (m.ts_ns, m.frame))
            assert call.messages == ordered
            methods = Counter(
                m.message.request_method for m in ordered if m.message.request_method is not None
            )
            statuses = Counter(
                m.message.status_code for m in ordered if m.message.status_code is not None
            )
            assert list(call.methods.items()) == list(methods.items())  # order of first sight
            assert list(call.statuses.items()) == list(statuses.items())
            byes = [m for m in ordered if m.message.request_method == "BYE"]
            assert call.bye_source == (f"{byes[0].src}:{byes[0].sport}" if byes else None)
            assert call.resent == sum(1 for mark in call.marks.values() if mark.resent_of)
        assert any(c.methods for c in calls) and any(c.statuses for c in calls)


_NAME = st.sampled_from(["", '"Alice" ', "Alice ", '"A \\"q\\"" ', '"a<b" ', "\t"])
_USER = st.sampled_from(["alice", "+1555", "a%20b", "a:pw", "", "a;b"])
_HOST = st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "2001:db8::1", "h_x"])
_PORT = st.sampled_from(["", ":5060", ":99999", ":"])
_PARAMS = st.sampled_from(["", ";transport=tcp", ";lr", "?subject=x", ";a=<b>"])
_TAIL = st.sampled_from(["", ";tag=x1", " ;tag=x1", ";tag", ';foo="a;b"'])
_SCHEME = st.sampled_from(["sip", "SIPS", "tel", "urn", ""])


@st.composite
def _address(draw: st.DrawFn) -> str:
    user = draw(_USER)
    uri = f"{draw(_SCHEME)}:{user + '@' if user else ''}{draw(_HOST)}{draw(_PORT)}"
    uri += draw(_PARAMS)
    if draw(st.booleans()):
        return f"{draw(_NAME)}<{uri}>{draw(_TAIL)}"
    return uri + draw(_TAIL)


@settings(max_examples=300, deadline=None)
@given(_address(), st.sampled_from(["From", "f", "To", "t"]), st.text(max_size=3))
def test_address_uri_equals_the_parsed_headers_uri(value: str, name: str, noise: str) -> None:
    """Any From/To value, usual or not: the URI text the call list reads
    (SipMessage.from_uri_text / to_uri_text: one match for a usual shape) is the parsed
    header's URI text (None where the header cannot be read)."""
    value = value + noise.replace("\r", "").replace("\n", "")
    text = (
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n"
        f"{name}: {value}\r\n"
        "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    data = text.encode("utf-8", "surrogateescape")
    text_of, parsed = (
        ("from_uri_text", "from_") if name.lower().startswith("f") else ("to_uri_text", "to")
    )
    cut = getattr(SipMessage.parse(data), text_of)
    address = getattr(SipMessage.parse(data), parsed)
    expected = str(address.uri) if address is not None and address.uri is not None else None
    assert cut == expected


def _invite(call_id: str, tag: str, extra: str = "") -> bytes:
    return (
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{tag}\r\n"
        f"From: <sip:alice@example.com>;tag={tag}\r\n"
        "To: <sip:bob@example.com>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _any_case(draw: st.DrawFn, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if up else c.lower() for c, up in zip(name, flips, strict=True))


@st.composite
def _link_headers(draw: st.DrawFn) -> tuple[str, str]:
    """X-Call-ID naming leg "a", or a P-Charging-Vector, header names in any case (RFC 3261
    7.3.1: field names are case-insensitive)."""
    if draw(st.booleans()):
        return _any_case(draw, "X-Call-ID") + ": leg-a\r\n", "leg-a"
    name = _any_case(draw, "P-Charging-Vector")
    return name + ": icid-value=abc123;orig-ioi=home1.net\r\n", "icid"


@given(_link_headers())
@settings(max_examples=60)
def test_link_headers_in_any_case_link_the_legs(header: tuple[str, str]) -> None:
    """The quick byte search that passes calls over finds the header names in any case:
    leg "b" carrying X-Call-ID (or the same icid-value as "a") is one call with "a"."""
    line, kind = header
    a_extra = "P-Charging-Vector: icid-value=abc123\r\n" if kind == "icid" else ""
    messages = [
        CapturedSip(1, 10**9, "192.0.2.1", 5060, "192.0.2.2", 5060, "udp",
                    SipMessage.parse(_invite("leg-a", "a1", a_extra))),
        CapturedSip(2, 2 * 10**9, "192.0.2.2", 5060, "192.0.2.3", 5060, "udp",
                    SipMessage.parse(_invite("leg-b", "b1", line))),
        CapturedSip(3, 3 * 10**9, "192.0.2.1", 5060, "192.0.2.2", 5060, "udp",
                    SipMessage.parse(_invite("alone", "c1"))),
    ]  # fmt: skip
    result = summarize_calls(messages)
    assert sorted(sorted(c.call_ids) for c in result.calls) == [["alone"], ["leg-a", "leg-b"]]


# Bytes near the names: cut, case-flipped, hyphen-less, split by a byte, or whole.
_NEAR_NAMES = st.sampled_from(
    [b"x-call-i", b"X-CALL-ID", b"xcall-id", b"x-call_id", b"p-charging-vecto", b"-CALL-ID",
     b"P-Charging-Vector", b"p-chargingvector", b"call-id", b"-charging-vector", b"x-call\0-id"]
)  # fmt: skip


@given(
    st.lists(st.one_of(st.binary(max_size=20), _NEAR_NAMES), max_size=8).map(b"".join),
    st.sampled_from([b"x-call-id", b"p-charging-vector"]),
)
def test_link_probe_never_misses_a_name(noise: bytes, name: bytes) -> None:
    """Whatever the bytes around it and the case, a header name there is found (the probe
    may find lookalikes; the headers are then read for real)."""
    for variant in (name, name.upper(), name.title(), name.swapcase()):
        raw = noise + b"\r\n" + variant + b": x\r\n" + noise
        assert _LINK_PROBE.search(raw) is not None
    lowered = noise.lower()
    if _LINK_PROBE.search(noise) is None:
        assert b"x-call-id" not in lowered and b"p-charging-vector" not in lowered
