"""Property tests: any bytes give a value or a typed RtpError, never another exception; what
we encode parses back to the same value. RFC examples where the RFC gives bytes."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import ParseError, RtpError
from rtcscope.rtp import rtcp
from rtcscope.rtp.demux import ChannelData, Kind, StunClass, StunMessage, classify
from rtcscope.rtp.events import ComfortNoise, TelephoneEvent
from rtcscope.rtp.extensions import (
    AudioLevel,
    HeaderExtension,
    encode_header_extensions,
    parse_header_extensions,
)
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.streams import quick_rtp_header

u32 = st.integers(0, 2**32 - 1)


@given(st.binary(max_size=300))
def test_rtp_parse_never_crashes(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError as exc:
        assert isinstance(exc, ParseError)
        return
    # quick_rtp_header (the scanner's check) accepts what the full parser accepts, unless
    # the payload type is one the heuristic refuses.
    if not 72 <= packet.payload_type <= 76:
        assert quick_rtp_header(data) is not None
    _ = packet.header_extensions if packet.extension_profile in (0xBEDE,) else None


@given(
    pt=st.integers(0, 127),
    seq=st.integers(0, 65535),
    ts=u32,
    ssrc=u32,
    marker=st.booleans(),
    csrcs=st.lists(u32, max_size=15),
    ext=st.one_of(st.none(), st.binary(max_size=40).map(lambda b: b + bytes(-len(b) % 4))),
    payload=st.binary(max_size=200),
    padding=st.integers(0, 255),
)
def test_rtp_round_trip(
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    marker: bool,
    csrcs: list[int],
    ext: bytes | None,
    payload: bytes,
    padding: int,
) -> None:
    packet = RtpPacket(
        pt,
        seq,
        ts,
        ssrc,
        marker,
        tuple(csrcs),
        0xBEDE if ext is not None else None,
        ext or b"",
        payload,
        padding,
    )
    assert RtpPacket.parse(packet.encode()) == packet
    header = quick_rtp_header(packet.encode())
    if not 72 <= pt <= 76:
        assert header is not None and header[4] == len(payload)


def test_rtp_rejects_bad_padding_and_version() -> None:
    good = RtpPacket(0, 1, 2, 3, payload=b"abcd").encode()
    with pytest.raises(RtpError):
        RtpPacket.parse(bytes([0x40]) + good[1:])  # version 1
    with pytest.raises(RtpError):
        RtpPacket.parse(bytes([good[0] | 0x20]) + good[1:-1] + b"\x09")  # padding 9 > 4
    with pytest.raises(RtpError):
        RtpPacket.parse(good[:11])


@given(st.binary(max_size=300))
def test_rtcp_parse_never_crashes(data: bytes) -> None:
    for strict in (True, False):
        with contextlib.suppress(RtpError):
            rtcp.parse_compound(data, strict=strict)


report_blocks = st.builds(
    rtcp.ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-(2**23), 2**23 - 1),
    highest_sequence=u32,
    jitter=u32,
    lsr=u32,
    dlsr=u32,
)
rtcp_packets = st.one_of(
    st.builds(
        rtcp.SenderReport,
        ssrc=u32,
        ntp_timestamp=st.integers(0, 2**64 - 1),
        rtp_timestamp=u32,
        packet_count=u32,
        octet_count=u32,
        reports=st.lists(report_blocks, max_size=3).map(tuple),
    ),
    st.builds(
        rtcp.ReceiverReport, ssrc=u32, reports=st.lists(report_blocks, max_size=3).map(tuple)
    ),
    st.builds(
        rtcp.SourceDescription,
        chunks=st.lists(
            st.builds(
                rtcp.SdesChunk,
                ssrc=u32,
                items=st.lists(
                    st.tuples(st.integers(1, 8), st.binary(min_size=1, max_size=40)), max_size=3
                ).map(tuple),
            ),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(
        rtcp.Goodbye, ssrcs=st.lists(u32, max_size=4).map(tuple), reason=st.binary(max_size=30)
    ),
    st.builds(
        rtcp.ApplicationDefined,
        subtype=st.integers(0, 31),
        ssrc=u32,
        name=st.binary(min_size=4, max_size=4),
        data=st.binary(max_size=16).map(lambda b: b + bytes(-len(b) % 4)),
    ),
    st.builds(
        rtcp.Feedback,
        packet_type=st.sampled_from([205, 206]),
        fmt=st.integers(0, 31),
        sender_ssrc=u32,
        media_ssrc=u32,
        fci=st.binary(max_size=16).map(lambda b: b + bytes(-len(b) % 4)),
    ),
)


@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_rtcp_compound_round_trip(packets: list[rtcp.RtcpPacket]) -> None:
    data = b"".join(p.encode() for p in packets)
    assert rtcp.parse_compound(data) == packets


def test_round_trip_time_rfc3550_example() -> None:
    # RFC 3550 6.4.1 figure: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    # DLSR = 0x0005:4000 (5.250 s) -> RTT 0x0006:2000 = 6.125 s.
    block = rtcp.ReportBlock(1, 0, 0, 0, 0, 0xB7052000, 0x00054000)
    arrival_ntp_middle = 0xB7108000
    seconds = (arrival_ntp_middle >> 16) - rtcp.NTP_UNIX_OFFSET_S
    fraction = (arrival_ntp_middle & 0xFFFF) / 65536
    # An arrival time whose NTP middle 32 bits are 0xb7108000, 2^32 s periods aside.
    arrival_ns = round((seconds + (1 << 32) + fraction) * 1e9)
    assert (rtcp.ntp_from_unix_ns(arrival_ns) >> 16) & 0xFFFFFFFF == arrival_ntp_middle
    assert rtcp.round_trip_ms(arrival_ns, block) == pytest.approx(6125.0)


@given(st.binary(max_size=120))
def test_stun_and_channel_data_never_crash(data: bytes) -> None:
    for parser in (StunMessage.parse, ChannelData.parse):
        with contextlib.suppress(RtpError):
            parser(data)
    assert isinstance(classify(data), Kind)


@given(
    method=st.integers(0, 0xFF),  # RFC 7983: a STUN first byte is 0-3
    klass=st.sampled_from(list(StunClass)),
    tid=st.binary(min_size=12, max_size=12),
    attrs=st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)), max_size=5),
)
def test_stun_round_trip(
    method: int, klass: StunClass, tid: bytes, attrs: list[tuple[int, bytes]]
) -> None:
    message = StunMessage(method, klass, tid, tuple(attrs))
    data = message.encode()
    assert classify(data) is Kind.STUN
    assert StunMessage.parse(data) == message


def test_stun_binding_request_rfc5769_header() -> None:
    # RFC 5769 2.1 sample request: type 0x0001, length 0x0058, magic cookie, transaction id.
    header = bytes.fromhex("000100582112a442b7e7a701bc34d686fa87dfae")
    body = bytes.fromhex("80220010") + b"STUN test client" + bytes.fromhex("00240004") + bytes(4)
    body += bytes.fromhex("80290008") + bytes(8) + bytes.fromhex("00060009") + b"evtj:h6vY"
    body += bytes(3) + bytes.fromhex("00080014") + bytes(20) + bytes.fromhex("80280004") + bytes(4)
    message = StunMessage.parse(header + body)
    assert (message.method_name, message.stun_class) == ("Binding", StunClass.REQUEST)
    assert dict(message.attributes)[0x0006] == b"evtj:h6vY"


def test_rfc7983_first_byte_ranges() -> None:
    assert classify(b"\x00\x01") is Kind.STUN
    assert classify(b"\x16\xfe\xfd") is Kind.DTLS
    assert classify(b"\x40\x00\x00\x04abcd") is Kind.TURN_CHANNEL
    assert classify(b"\x80\x08") is Kind.RTP
    assert classify(b"\x80\xc8") is Kind.RTCP
    assert classify(b"\x81\xdf") is Kind.RTCP
    assert classify(b"\x80\xe0") is Kind.RTP  # marker + PT 96
    assert ChannelData.parse(b"\x40\x00\x00\x02hi").data == b"hi"


@given(st.binary(max_size=64), st.sampled_from([0xBEDE, 0x1000, 0x100F, 0x1234]))
def test_header_extensions_never_crash(data: bytes, profile: int) -> None:
    with contextlib.suppress(RtpError):
        parse_header_extensions(profile, data)


@given(
    st.lists(
        st.builds(HeaderExtension, id=st.integers(1, 14), data=st.binary(min_size=1, max_size=16)),
        max_size=5,
    ),
    st.booleans(),
)
def test_header_extensions_round_trip(elements: list[HeaderExtension], two_byte: bool) -> None:
    profile, data = encode_header_extensions(elements, two_byte=two_byte)
    assert len(data) % 4 == 0
    assert parse_header_extensions(profile, data) == elements


def test_rfc8285_one_byte_example_and_audio_level() -> None:
    # RFC 8285 4.2 figure: ID 1 L=0 (1 byte), ID 2 L=1 (2 bytes), padding, ID 3 L=3 (4 bytes).
    data = bytes([0x10, 0xAA, 0x21, 0xBB, 0xBB, 0x00, 0x00, 0x33, 0xCC, 0xCC, 0xCC, 0xCC])
    assert parse_header_extensions(0xBEDE, data) == [
        HeaderExtension(1, b"\xaa"),
        HeaderExtension(2, b"\xbb\xbb"),
        HeaderExtension(3, b"\xcc" * 4),
    ]
    level = AudioLevel.parse(b"\x9e")  # V=1, level 30 -> -30 dBov (RFC 6464 3)
    assert (level.voice, level.level_dbov) == (True, -30)
    assert level.encode() == b"\x9e"


@given(st.binary(max_size=12))
def test_events_never_crash(data: bytes) -> None:
    for parser in (TelephoneEvent.parse, ComfortNoise.parse):
        with contextlib.suppress(RtpError):
            parser(data)


def test_telephone_event_rfc4733_fields() -> None:
    # Event 1, E=1, volume 10, duration 1280 (RFC 4733 2.3 layout).
    event = TelephoneEvent.parse(struct.pack("!BBH", 1, 0x80 | 10, 1280))
    assert (event.name, event.end, event.volume, event.duration) == ("1", True, 10, 1280)
    assert ComfortNoise.parse(b"\x40").level_dbov == -64
