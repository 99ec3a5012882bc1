"""announced_media (the announcer's SDP reading, one parse per SDP text with its session id,
addresses and ports as holes) against SessionDescription.parse, the full parser, read field
by field here: generated SDPs whose changing values differ from call to call, and the same
SDPs mutated (odd line breaks, NULs, cut bytes, ports out of range, multicast addresses)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.sip.capture import MediaAnnouncement
from rtcscope.sip.sdp import (
    STATIC_PAYLOAD_TYPES,
    SessionDescription,
    announced_media,
)


def expected(raw: bytes) -> list[tuple[Any, ...]]:
    """What each media section announces, read here from the full parse."""
    out: list[tuple[Any, ...]] = []
    for index, m in enumerate(SessionDescription.parse(raw).media):
        pts = tuple(int(f) for f in m.formats if f.isascii() and f.isdigit() and int(f) < 128)
        codecs = {}
        for pt in pts:
            rtpmap = m.rtpmaps.get(pt)
            codec = rtpmap.codec if rtpmap is not None else STATIC_PAYLOAD_TYPES.get(pt)
            if codec is not None:
                codecs[pt] = codec
        address = m.connection.address if m.connection is not None else None
        if m.port == 0:
            rtcp_port = None
        elif m.rtcp_mux:
            rtcp_port = m.port
        elif m.rtcp is not None:
            rtcp_port = m.rtcp.port
        else:
            rtcp_port = m.port + 1
        out.append(
            (
                index,
                m.media,
                m.proto,
                address,
                m.port,
                m.rtcp.address if m.rtcp is not None and m.rtcp.address else address,
                rtcp_port,
                m.rtcp_mux,
                m.direction,
                address in ("0.0.0.0", "::") or m.direction in ("sendonly", "inactive"),
                codecs,
                pts,
                tuple(m.crypto),
                tuple(m.fingerprints),
                m.setup,
                tuple(dict.fromkeys(s.ssrc for s in m.ssrcs)),
                m.mid,
                m.fmtp,
                m.ptime,
                m.extmaps,
                {pt: (r.encoding, r.clock_rate, r.channels) for pt, r in m.rtpmaps.items()},
            )
        )
    return out


def check(raw: bytes) -> None:
    assert list(announced_media(raw)) == expected(raw)


ADDRESSES = st.sampled_from(
    ["10.1.0.1", "192.0.2.7", "0.0.0.0", "::", "2001:db8::1", "224.2.1.1/127", "h\x00st", "a.b"]
)
PORTS = st.sampled_from(["0", "20000", "020000", "65535", "65536", "99999", "5/2", "x"])
ATTRIBUTES = st.sampled_from(
    [
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendonly",
        "a=inactive",
        "a=recvonly",
        "a=rtcp-mux",
        "a=rtcp:40001",
        "a=rtcp:40001 IN IP4 192.0.2.9",
        "a=mid:0",
        "a=setup:actpass",
        "a=fingerprint:sha-256 AB:CD",
        "a=ssrc:1234 cname:x",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        "b=AS:64",
    ]
)
BREAKS = st.sampled_from(["\r\n", "\r\n", "\n", "\r", "\x0b", "\x85", "\r\n "])


@st.composite
def sdp_shapes(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """An SDP as lines with holes ``{o}``, ``{c0}``, ``{p0}``..., and the hole names."""
    lines = ["v=0", "o={o}", "s=-"]
    holes = ["o"]
    if draw(st.booleans()):
        lines.append("c=IN IP4 {c0}")
        holes.append("c0")
    lines.append("t=0 0")
    lines += draw(st.lists(st.sampled_from(["a=sendonly", "a=setup:active", "a=recvonly"])))
    for n in range(draw(st.integers(0, 3))):
        media = draw(st.sampled_from(["audio", "video", "application", "AUDIO"]))
        proto = draw(st.sampled_from(["RTP/AVP 8 101", "RTP/SAVP 0", "UDP/BFCP *", ""]))
        lines.append(f"m={media} {{p{n}}} {proto}".rstrip())
        holes.append(f"p{n}")
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["IN IP4", "IN IP6", "IN  IP4"]))
            lines.append(f"c={kind} {{c{n + 1}}}")
            holes.append(f"c{n + 1}")
        lines += draw(st.lists(ATTRIBUTES, max_size=5))
    return lines, holes


@st.composite
def calls(draw: st.DrawFn) -> list[bytes]:
    """Bodies of the same SDP shape: the same text with other session ids, addresses, ports."""
    lines, holes = draw(sdp_shapes())
    breaks = [draw(BREAKS) for _ in lines]
    bodies = []
    for _ in range(3):
        values = {
            h: draw(st.from_regex(r"[0-9 a-zIN]{0,20}", fullmatch=True))
            if h == "o"
            else draw(ADDRESSES if h.startswith("c") else PORTS)
            for h in holes
        }
        text = "".join(line.format(**values) + brk for line, brk in zip(lines, breaks, strict=True))
        bodies.append(text.encode("utf-8", "surrogateescape"))
    return bodies


@settings(max_examples=300, deadline=None)
@given(calls())
def test_announced_media_reads_every_call_as_the_parser_does(bodies: list[bytes]) -> None:
    for raw in bodies:  # the first makes the template, the others fill it
        check(raw)


@settings(max_examples=300, deadline=None)
@given(calls(), st.integers(0, 400), st.binary(max_size=3), st.integers(0, 3))
def test_mutated_sdps_are_read_as_the_parser_does(
    bodies: list[bytes], at: int, inserted: bytes, dropped: int
) -> None:
    for raw in bodies:
        cut = min(at, len(raw))
        check(raw[:cut] + inserted + raw[cut + dropped :])


def test_a_port_the_parser_rejects_does_not_shift_the_sections() -> None:
    """Found by the property above: the first SDP of a text has a port above 65535 (its
    section dropped) and a section after a lone CR (no hole): the same count of sections,
    not the same sections. The next SDP of that text must still be read as the parser does."""
    text = (
        "v=0\r\no=\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r"
        "m=audio 0 RTP/AVP 8\r\nc=IN IP4 10.1.0.1\r\nm=audio {} RTP/AVP 8\r\na=mid:0\r\n"
    )
    for port in (65536, 20000):
        check(text.format(port).encode())


def test_the_holes_are_filled_from_each_sdp() -> None:
    """Two calls of one SDP text: the second's session id, address and port, not the
    first's (an RFC 3264 8.4 hold address gives on_hold)."""
    first = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 20000 RTP/AVP 0\r\n"
    )
    second = first.replace(b"10.0.0.1", b"0.0.0.0").replace(b"20000", b"30000")
    sip = (1, 0, "c", "offer", "caller", "INVITE", "1 INVITE", "a", 5060, "b", 5060)
    a = MediaAnnouncement._make(sip + announced_media(first)[0])
    b = MediaAnnouncement._make(sip + announced_media(second)[0])
    assert (a.address, a.port, a.rtcp_port, a.on_hold) == ("10.0.0.1", 20000, 20001, False)
    assert (b.address, b.port, b.rtcp_port, b.on_hold) == ("0.0.0.0", 30000, 30001, True)
    assert (b.media_index, b.media, b.proto, b.payload_types, b.codecs[0].name) == (
        0,
        "audio",
        "RTP/AVP",
        (0,),
        "PCMU",
    )
    assert (b.rtpmaps, b.fmtp, b.extmaps, b.ptime, b.rtcp_address) == ({}, {}, {}, None, "0.0.0.0")


def test_every_field_of_an_announcement_by_name() -> None:
    """The announcement's named fields hold the section's values (the section is a tuple in
    the announcement's order: a shift would swap values)."""
    raw = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"a=setup:actpass\r\nm=audio 40000 RTP/SAVPF 96 0\r\na=rtpmap:96 opus/48000/2\r\n"
        b"a=fmtp:96 useinbandfec=1\r\na=rtcp:40009 IN IP4 192.0.2.9\r\na=recvonly\r\na=mid:a1\r\n"
        b"a=ssrc:77 cname:x\r\na=ptime:20\r\na=fingerprint:sha-256 AB:CD\r\n"
        b"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    )
    sip = (1, 0, "c", "offer", "caller", "INVITE", "1 INVITE", "a", 5060, "b", 5060)
    (m,) = SessionDescription.parse(raw).media
    for _ in range(2):  # the template, then a fill of it
        a = MediaAnnouncement._make(sip + announced_media(raw)[0])
        assert {f: getattr(a, f) for f in MediaAnnouncement._fields[11:]} == {
            "media_index": 0,
            "media": "audio",
            "proto": "RTP/SAVPF",
            "address": "192.0.2.1",
            "port": 40000,
            "rtcp_address": "192.0.2.9",
            "rtcp_port": 40009,
            "rtcp_mux": False,
            "direction": "recvonly",
            "on_hold": False,
            "codecs": {96: m.rtpmaps[96].codec, 0: STATIC_PAYLOAD_TYPES[0]},
            "payload_types": (96, 0),
            "crypto": tuple(m.crypto),
            "fingerprints": tuple(m.fingerprints),
            "setup": "actpass",
            "ssrcs": (77,),
            "mid": "a1",
            "fmtp": {96: "useinbandfec=1"},
            "ptime": 20.0,
            "extmaps": {3: "urn:ietf:params:rtp-hdrext:sdes:mid"},
            "rtpmaps": {96: ("opus", 48000, 2)},
        }
    assert a.crypto[0].suite == "AES_CM_128_HMAC_SHA1_80" and a.fingerprints[0].value == "AB:CD"
