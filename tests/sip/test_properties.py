"""Property tests: any bytes give a value (or a typed SipError), never another exception;
framers give the same messages however the bytes are cut; raw bytes survive round trips."""

from __future__ import annotations

import contextlib
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import SipError
from rtcscope.scan.files import sip_messages
from rtcscope.sip.framing import NEED_DATA, Garbage, KeepAlive, SipStreamFramer
from rtcscope.sip.headers import (
    _find_unquoted,
    parse_cseq,
    parse_name_addr,
    parse_via,
    split_comma_list,
)
from rtcscope.sip.message import SipMessage
from rtcscope.sip.sdp import SessionDescription
from rtcscope.sip.uri import parse_uri
from rtcscope.sip.websocket import (
    NEED_DATA as WS_NEED_DATA,
)
from rtcscope.sip.websocket import (
    Opcode,
    WebSocketFramer,
    WebSocketMessage,
    encode_frame,
)
from tests.conftest import DATA


@cache
def real_messages() -> tuple[bytes, ...]:
    """SIP messages from the shipped captures (UDP: each a whole message with its body)."""
    out: list[bytes] = []
    for name in ("SIP_DTMF2.pcap", "aaa.pcap", "sip-rtp-speex.pcap"):
        out += [m.message.raw for m in sip_messages(DATA / name)]
    assert len(out) > 100
    return tuple(out)


@cache
def stream_messages() -> tuple[bytes, ...]:
    """Real messages that carry a Content-Length, as a stream transport requires."""
    return tuple(m for m in real_messages() if SipMessage.parse(m).content_length is not None)


PIECES = [
    b"INVITE sip:a@b SIP/2.0", b"SIP/2.0 200 OK", b"Via: SIP/2.0/UDP h;branch=z9hG4bK",
    b"v: SIP/2.0/TCP [::1]:5060", b"Content-Length: 5", b"l: 2", b"Route: <sip:x;lr>, <",
    b'From: "a\\"b" <sip:a@[::1]>;tag=1', b"\r\n", b"\n", b" folded", b"CSeq: x", b":", b";",
    b",", b"<", b">", b'"', b"\xff", b"m=audio 0 RTP/AVP 0", b"a=crypto:1 X inline:%%%",
    b"Content-Type: multipart/mixed;boundary=z", b"--z", b"Contact: *",
]  # fmt: skip
SIPISH = st.lists(st.sampled_from(PIECES) | st.binary(max_size=30), max_size=40).map(b"".join)


@given(st.binary(max_size=600) | SIPISH)
def test_parse_never_raises_and_keeps_raw(data: bytes) -> None:
    message = SipMessage.parse(data)
    assert bytes(message) == data
    assert message.is_request or message.is_response or message.problems
    _ = (message.sdp, message.body_parts(), message.summary, message.method)


@given(st.binary(max_size=600))
def test_sdp_parse_never_raises(data: bytes) -> None:
    sdp = SessionDescription.parse(data)
    assert bytes(sdp) == data
    for m in sdp.media:
        _ = (m.codecs(), m.rtcp_port, m.is_hold)


@given(st.text(max_size=120))
def test_header_value_parsers_raise_only_sip_error(text: str) -> None:
    for parser in (parse_uri, parse_name_addr, parse_via, parse_cseq):
        with contextlib.suppress(SipError):
            parser(text)


@given(st.data())
def test_real_messages_cut_anywhere(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(real_messages()))
    cut = data.draw(st.integers(0, len(raw)))
    message = SipMessage.parse(raw[:cut])
    assert bytes(message) == raw[:cut]


def feed_stream(chunks: list[bytes]) -> list[bytes]:
    framer = SipStreamFramer()
    out: list[bytes] = []
    for chunk in [*chunks, None]:
        if chunk is None:
            framer.receive_eof()
        else:
            framer.receive_data(chunk)
        while (event := framer.next_event()) is not NEED_DATA:
            assert isinstance(event, SipMessage | KeepAlive), event
            out.append(event.data if isinstance(event, KeepAlive) else bytes(event))
    return out


@given(st.data())
def test_tcp_framer_whatever_the_segmentation(data: st.DataObject) -> None:
    picked = data.draw(st.lists(st.sampled_from(stream_messages()), min_size=1, max_size=4))
    pieces: list[bytes] = []
    for raw in picked:
        pieces.append(raw)
        pieces.append(data.draw(st.sampled_from([b"", b"\r\n", b"\r\n\r\n"])))
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    events = feed_stream(chunks)
    assert b"".join(events) == stream  # round trip: nothing lost, nothing added
    assert [e for e in events if e.strip(b"\r\n")] == picked


@pytest.mark.slow
def test_tcp_framer_one_byte_at_a_time() -> None:
    stream = b"\r\n\r\n".join(stream_messages()[:40])
    assert feed_stream([stream[i : i + 1] for i in range(len(stream))]) == feed_stream([stream])


@given(st.lists(st.binary(max_size=200), max_size=8))
def test_tcp_framer_never_raises_on_arbitrary_chunks(chunks: list[bytes]) -> None:
    framer = SipStreamFramer()
    seen = b""
    for chunk in chunks:
        framer.receive_data(chunk)
        while (event := framer.next_event()) is not NEED_DATA:
            seen += event.data if isinstance(event, KeepAlive | Garbage) else bytes(event)  # type: ignore[arg-type]
    framer.receive_eof()
    while (event := framer.next_event()) is not NEED_DATA:
        seen += event.data if isinstance(event, KeepAlive | Garbage) else bytes(event)  # type: ignore[arg-type]
    assert seen == b"".join(chunks)  # every byte comes out once, as a message or skipped
    framer = SipStreamFramer()
    for chunk in chunks:
        framer.receive_data(chunk)
        framer.receive_gap(3)
        while framer.next_event() is not NEED_DATA:
            pass


def feed_ws(chunks: list[bytes]) -> list[WebSocketMessage]:
    framer = WebSocketFramer()
    out: list[WebSocketMessage] = []
    for chunk in chunks:
        framer.receive_data(chunk)
        while (event := framer.next_event()) is not WS_NEED_DATA:
            if isinstance(event, WebSocketMessage):
                out.append(event)
    return out


@given(st.data())
def test_websocket_framer_whatever_the_segmentation(data: st.DataObject) -> None:
    picked = data.draw(st.lists(st.sampled_from(real_messages()), min_size=1, max_size=3))
    frames = b""
    for raw in picked:
        masked = data.draw(st.booleans())
        mask = data.draw(st.binary(min_size=4, max_size=4)) if masked else None
        split = data.draw(st.integers(0, len(raw)))
        parts = [raw[:split], raw[split:]] if data.draw(st.booleans()) else [raw]
        for i, part in enumerate(parts):
            opcode = Opcode.TEXT if i == 0 else Opcode.CONTINUATION
            frames += encode_frame(opcode, part, fin=i == len(parts) - 1, mask_key=mask)
        if data.draw(st.booleans()):
            frames += encode_frame(Opcode.PING, b"k", mask_key=mask)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(frames)), max_size=10)))
    chunks = [frames[a:b] for a, b in zip([0, *cuts], [*cuts, len(frames)], strict=True)]
    assert [m.payload for m in feed_ws(chunks)] == picked


@pytest.mark.slow
def test_websocket_framer_one_byte_at_a_time() -> None:
    picked = real_messages()[:30]
    frames = b"".join(encode_frame(Opcode.TEXT, m, mask_key=b"\x11\x22\x33\x44") for m in picked)
    assert [m.payload for m in feed_ws([frames[i : i + 1] for i in range(len(frames))])] == list(
        picked
    )


@given(st.lists(st.binary(max_size=300), max_size=6))
def test_websocket_framer_never_raises(chunks: list[bytes]) -> None:
    framer = WebSocketFramer()
    for chunk in chunks:
        framer.receive_data(chunk)
        while framer.next_event() is not WS_NEED_DATA:
            pass


URI_TEXT = st.builds(
    lambda scheme, user, host, port, params, headers: (
        f"{scheme}:{user + '@' if user else ''}{host}{':' + str(port) if port is not None else ''}"
        + "".join(f";{n}" if v is None else f";{n}={v}" for n, v in params)
        + ("?" + "&".join(f"{n}={v}" for n, v in headers) if headers else "")
    ),
    st.sampled_from(["sip", "sips", "SIP"]),
    st.from_regex(r"[a-z0-9%+\-.]{0,8}", fullmatch=True),
    st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "h"]),
    st.none() | st.integers(0, 65535),
    st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9\-]{0,6}", fullmatch=True),
                  st.none() | st.from_regex(r"[a-z0-9.]{0,6}", fullmatch=True)),
        max_size=4,
    ),
    st.lists(st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True),
                       st.from_regex(r"[a-z0-9%]{0,5}", fullmatch=True)), max_size=2),
)  # fmt: skip


@given(URI_TEXT)
def test_uri_format_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert uri.format() == text == str(uri)
    again = parse_uri(uri.format())
    assert (again.user, again.host, again.port, again.params, again.headers) == (
        uri.user,
        uri.host,
        uri.port,
        uri.params,
        uri.headers,
    )


def test_real_uris_format_as_written() -> None:
    checked = 0
    for raw in real_messages():
        m = SipMessage.parse(raw)
        addresses = [m.from_, m.to, *m.contacts, *m.routes, *m.record_routes]
        for uri in [m.request_uri, *(a.uri for a in addresses if a is not None)]:
            if uri is not None and uri.is_sip:
                assert uri.format() == uri.raw
                checked += 1
    assert checked > 400


def _find_unquoted_by_walking(text: str, targets: str, start: int) -> int:
    """RFC 3261 25.1 read one character at a time: ``"..."`` is a quoted string in which a
    backslash escapes the next character; the first target outside one, or -1."""
    in_quotes = False
    i = start
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch in targets:
            return i
        i += 1
    return -1


@given(
    st.text(alphabet='ab"\\<>,; ', max_size=40),
    st.sampled_from([",<", ">", ";", "<"]),
    st.integers(0, 6),
)
def test_find_unquoted_jumps_to_what_a_character_walk_finds(
    text: str, targets: str, start: int
) -> None:
    assert _find_unquoted(text, targets, start) == _find_unquoted_by_walking(text, targets, start)


@given(st.binary(max_size=600) | SIPISH | st.sampled_from(real_messages()))
def test_parse_step_agrees_with_the_full_header_list(data: bytes) -> None:
    """What parse() reads in one sweep (Call-ID, CSeq, From, To, Via, Content-Length/Type;
    start line, body and trailing bytes derived from ``raw``) equals what the header lines,
    read in full, give."""
    m = SipMessage.parse(data)
    headers = m.headers
    firsts: dict[str, str] = {}
    for h in headers:
        firsts.setdefault(h.key, h.value)
    assert m.call_id == firsts.get("call-id")
    for key, parser, value in (
        ("cseq", parse_cseq, m.cseq),
        ("from", parse_name_addr, m.from_),
        ("to", parse_name_addr, m.to),
    ):
        expected = None
        if key in firsts:
            with contextlib.suppress(SipError):
                expected = parser(firsts[key])
        assert value == expected
    vias = []
    for h in headers:
        if h.key == "via":
            for value in split_comma_list(h.value):
                with contextlib.suppress(SipError):
                    vias.append(parse_via(value))
    assert m.vias == tuple(vias)
    first_line = data.lstrip(b"\r\n").split(b"\n", 1)[0]
    assert m.start_line.encode("utf-8", "surrogateescape") == first_line.removesuffix(b"\r")
    if m.content_length is not None:
        assert m.body + m.trailing == data[m.header_length :]
        assert len(m.body) == min(m.content_length, len(data) - m.header_length)
    elif m.is_request or m.is_response:
        assert m.body == data[m.header_length :] and m.trailing == b""
