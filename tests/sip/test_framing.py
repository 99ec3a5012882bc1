"""Stream and WebSocket framing: RFC 6455 5.7 and RFC 7692 7.2.3 examples, TCP corner cases."""

from __future__ import annotations

import struct

from rtcscope.sip.framing import (
    NEED_DATA,
    Garbage,
    KeepAlive,
    SipStreamFramer,
    StreamEvent,
    parse_datagram,
)
from rtcscope.sip.message import SipMessage
from rtcscope.sip.websocket import (
    HttpHandshake,
    Opcode,
    WebSocketControl,
    WebSocketError,
    WebSocketEvent,
    WebSocketFramer,
    WebSocketMessage,
    encode_frame,
    looks_like_websocket_frame,
)


def sip(call_id: str, body: bytes = b"", compact: bool = False) -> bytes:
    length = "l" if compact else "Content-Length"
    head = (
        f"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK{call_id}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\n"
        f"To: <sip:b@example.com>\r\n{length}: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def drain(framer: SipStreamFramer) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    while (event := framer.next_event()) is not NEED_DATA:
        assert not isinstance(event, type(NEED_DATA))
        out.append(event)
    return out


def call_ids(events: list[StreamEvent]) -> list[str | None]:
    return [e.call_id for e in events if isinstance(e, SipMessage)]


def test_several_messages_in_one_segment_and_keepalives() -> None:
    framer = SipStreamFramer()
    framer.receive_data(sip("a", b"hello") + b"\r\n\r\n" + sip("b", compact=True) + b"\r\n")
    framer.receive_data(sip("c", b"x"))
    events = drain(framer)
    assert call_ids(events) == ["a", "b", "c"]
    keepalives = [e for e in events if isinstance(e, KeepAlive)]
    assert [k.is_ping for k in keepalives] == [True, False]  # RFC 5626 4.4.1 ping, pong
    assert [e.body for e in events if isinstance(e, SipMessage)] == [b"hello", b"", b"x"]


def test_one_message_over_many_segments() -> None:
    data = sip("long", b"v=0\r\n" * 300)
    framer = SipStreamFramer()
    events: list[StreamEvent] = []
    for i in range(0, len(data), 100):
        framer.receive_data(data[i : i + 100])
        events += drain(framer)
        if i + 100 < len(data):
            assert events == []
    assert call_ids(events) == ["long"] and bytes(events[0]) == data  # type: ignore[arg-type]


def test_resynchronises_after_a_gap_and_midstream_start() -> None:
    framer = SipStreamFramer()
    framer.receive_data(b"ntent-Length: 0\r\n\r\n" + sip("after"))
    events = drain(framer)
    assert isinstance(events[0], Garbage) and call_ids(events) == ["after"]
    framer.receive_data(sip("cut", b"0123456789")[:-4])
    assert drain(framer) == []
    garbage = framer.receive_gap(100)
    assert garbage is not None and garbage.data.endswith(b"012345")
    framer.receive_data(b"6789" + sip("next"))
    assert call_ids(drain(framer)) == ["next"]


def test_end_of_stream_delivers_a_cut_message() -> None:
    framer = SipStreamFramer()
    framer.receive_data(sip("cut", b"0123456789")[:-3])
    assert drain(framer) == []
    framer.receive_data(b"")  # an empty chunk is not the end
    assert drain(framer) == []
    framer.receive_eof()
    (event,) = drain(framer)
    assert isinstance(event, SipMessage) and event.problems == [
        "body is cut: 7 of 10 bytes (Content-Length)"
    ]


def test_missing_content_length_over_a_stream_is_flagged() -> None:
    framer = SipStreamFramer()
    framer.receive_data(b"OPTIONS sip:x@y SIP/2.0\r\nCall-ID: n\r\n\r\n")
    (event,) = drain(framer)
    assert isinstance(event, SipMessage)
    assert any("RFC 3261 18.3" in p for p in event.problems)


def test_datagrams() -> None:
    assert isinstance(parse_datagram(b"\r\n\r\n"), KeepAlive)
    assert parse_datagram(b"\x80\x08junkjunkjunk") is None
    message = parse_datagram(sip("u"))
    assert isinstance(message, SipMessage) and message.call_id == "u"


# RFC 6455 5.7 examples, byte for byte.
HELLO_UNMASKED = bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
HELLO_MASKED = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
HEL_LO_FRAGMENTS = bytes([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
PING_UNMASKED = bytes([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
PONG_MASKED = bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
# RFC 7692 7.2.3.1: "Hello" compressed in one frame.
HELLO_DEFLATED = bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])


def ws_events(data: bytes) -> list[WebSocketEvent]:
    framer = WebSocketFramer()
    framer.receive_data(data)
    out: list[WebSocketEvent] = []
    while (event := framer.next_event()) is not NEED_DATA:
        assert not isinstance(event, type(NEED_DATA))
        out.append(event)
    return out


def test_rfc6455_examples() -> None:
    assert ws_events(HELLO_UNMASKED) == [WebSocketMessage(Opcode.TEXT, b"Hello")]
    assert ws_events(HELLO_MASKED) == [WebSocketMessage(Opcode.TEXT, b"Hello")]
    assert ws_events(HEL_LO_FRAGMENTS) == [WebSocketMessage(Opcode.TEXT, b"Hello", frames=2)]
    assert ws_events(PING_UNMASKED + PONG_MASKED) == [
        WebSocketControl(Opcode.PING, b"Hello"),
        WebSocketControl(Opcode.PONG, b"Hello"),
    ]
    big = bytes(range(256))
    assert ws_events(bytes([0x82, 0x7E]) + struct.pack("!H", 256) + big) == [
        WebSocketMessage(Opcode.BINARY, big)
    ]
    huge = b"\x00" * 65536
    frame = bytes([0x82, 0x7F]) + struct.pack("!Q", 65536) + huge
    assert ws_events(frame) == [WebSocketMessage(Opcode.BINARY, huge)]
    # The encoder lays frames out as the RFC does.
    assert encode_frame(Opcode.TEXT, b"Hello") == HELLO_UNMASKED
    assert encode_frame(Opcode.TEXT, b"Hello", mask_key=bytes([0x37, 0xFA, 0x21, 0x3D])) == (
        HELLO_MASKED
    )


def test_rfc7692_deflated_message() -> None:
    assert ws_events(HELLO_DEFLATED) == [
        WebSocketMessage(Opcode.TEXT, b"Hello", frames=1, compressed=True)
    ]


def test_handshake_then_sip_frames() -> None:
    request = (
        b"GET / HTTP/1.1\r\nHost: proxy.example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    message = sip("ws1")
    data = request + encode_frame(Opcode.TEXT, message, mask_key=b"\x01\x02\x03\x04")
    handshake, frame = ws_events(data)
    assert isinstance(handshake, HttpHandshake) and handshake.is_websocket_upgrade
    assert handshake.subprotocols == ["sip"]  # RFC 7118 4
    assert frame == WebSocketMessage(Opcode.TEXT, message)
    assert looks_like_websocket_frame(encode_frame(Opcode.TEXT, message, mask_key=b"abcd"))
    assert not looks_like_websocket_frame(b"\x81\x05hello")


def test_protocol_errors_are_events() -> None:
    (error,) = ws_events(bytes([0x80, 0x02, 0x6C, 0x6F]))  # continuation with no start
    assert isinstance(error, WebSocketError) and "5.4" in error.reason
    (error,) = ws_events(bytes([0xB3, 0x00]))  # reserved opcode 0x3, RSV bits
    assert isinstance(error, WebSocketError)


def test_huge_content_length_is_not_waited_for() -> None:
    framer = SipStreamFramer(max_body_bytes=1000)
    bad = sip("big").replace(b"Content-Length: 0", b"Content-Length: 99999999")
    framer.receive_data(bad + b"0123456789" + sip("after"))
    events = drain(framer)
    assert call_ids(events) == ["big", "after"]
    assert any("above the framer's limit" in p for p in events[0].problems)  # type: ignore[union-attr]
