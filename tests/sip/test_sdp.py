"""SessionDescription against RFC examples (RFC 8866, 3264, 3605, 4568, 5576, 8843)."""

from __future__ import annotations

import base64

from rtcscope.sip.sdp import STATIC_PAYLOAD_TYPES, SessionDescription, parse_crypto

# RFC 4568 section 4's example offer (the key and salt are the RFC's).
SDES_OFFER = (
    b"v=0\r\no=sam 2890844526 2890842807 IN IP4 10.47.16.5\r\ns=SRTP Discussion\r\n"
    b"i=A discussion about Secure RTP\r\nu=http://www.example.com/seminars/srtp.pdf\r\n"
    b"e=marge@example.com (Marge Simpson)\r\nc=IN IP4 168.2.17.12\r\nt=2873397496 2873404696\r\n"
    b"m=audio 49170 RTP/SAVP 0\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP\r\n"
)


def test_rfc4568_offer() -> None:
    sdp = SessionDescription.parse(SDES_OFFER)
    assert sdp.problems == []
    assert sdp.origin is not None and sdp.origin.address == "10.47.16.5"
    (m,) = sdp.media
    assert (m.media, m.port, m.proto, m.payload_types) == ("audio", 49170, "RTP/SAVP", [0])
    assert m.is_srtp and m.address == "168.2.17.12" and m.direction == "sendrecv"
    assert m.codec(0) == STATIC_PAYLOAD_TYPES[0] and str(m.codec(0)) == "PCMU/8000"
    (crypto,) = m.crypto
    assert (crypto.tag, crypto.suite, crypto.session_params) == (
        1,
        "AES_CM_128_HMAC_SHA1_80",
        ("FEC_ORDER=FEC_SRTP",),
    )
    key = crypto.key
    assert key is not None
    assert key.key_salt == "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    assert (key.lifetime, key.lifetime_text, key.mki_value, key.mki_length) == (2**20, "2^20", 1, 4)
    raw = base64.b64decode("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    assert crypto.master_key_salt() == (raw[:16], raw[16:])


def test_crypto_with_several_keys_and_no_lifetime() -> None:
    # RFC 4568 9.1: key-params separated by ';', lifetime and MKI optional.
    c = parse_crypto(
        "2 AES_CM_128_HMAC_SHA1_32 inline:YUJDZGVmZ2hpSktMbW9QUXJzVFVWd3l6MTIzNDU2|1:1;"
        "inline:YUJDZGVmZ2hpSktMbW9QUXJzVFVWd3l6MTIzNDU2"
    )
    assert [(k.lifetime, k.mki_value, k.mki_length) for k in c.keys] == [
        (None, 1, 1),
        (None, None, None),
    ]


def test_rtcp_attribute_and_hold() -> None:
    # RFC 3605 2.1 example; RFC 3264 8.4 hold forms.
    sdp = SessionDescription.parse(
        "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\na=sendonly\n"
        "m=audio 49170 RTP/AVP 0 101\na=rtcp:53020 IN IP4 126.16.64.4\n"
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:20\n"
        "m=video 51372 RTP/AVP 99\nc=IN IP4 192.0.2.7\na=inactive\na=rtpmap:99 h263-1998/90000\n"
        "m=audio 0 RTP/AVP 8\n"
    )
    assert sdp.problems == []
    audio, video, rejected = sdp.media
    assert audio.rtcp is not None and (audio.rtcp.port, audio.rtcp.address) == (
        53020,
        "126.16.64.4",
    )
    assert audio.rtcp_port == 53020 and audio.ptime == 20.0
    assert audio.direction == "sendonly" and audio.is_hold
    assert audio.connection is not None and audio.connection.is_hold and not audio.own_connection
    assert audio.fmtp == {101: "0-15"} and str(audio.codec(101)) == "telephone-event/8000"
    assert video.address == "192.0.2.7" and video.direction == "inactive"
    assert video.rtcp_port == 51373  # RFC 3550 11: the next higher port
    assert rejected.is_rejected and rejected.rtcp_port is None


def test_webrtc_bundle_mux_ssrc_fingerprint() -> None:
    sdp = SessionDescription.parse(
        b"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        b"a=group:BUNDLE 0 1\r\na=fingerprint:sha-256 AB:CD:EF\r\n"
        b"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
        b"a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
        b"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
        b"a=ssrc:3735928559 cname:abc\r\na=ssrc:3735928559 msid:s t\r\n"
        b"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
        b"a=extmap:3/sendonly http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
        b"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=setup:active\r\n"
        b"a=rtpmap:96 VP8/90000\r\n"
    )
    assert sdp.problems == []
    assert sdp.groups == [("BUNDLE", ["0", "1"])] and sdp.bundle_mids == ["0", "1"]
    audio, video = sdp.media
    assert audio.rtcp_mux and audio.rtcp_port == 9 and audio.mid == "0"
    assert audio.codec(111) is not None and audio.codec(111).channels == 2  # type: ignore[union-attr]
    assert [(s.ssrc, s.attribute, s.value) for s in audio.ssrcs] == [
        (3735928559, "cname", "abc"),
        (3735928559, "msid", "s t"),
    ]
    # RFC 8122 5: a session-level fingerprint applies to every media section.
    assert (
        audio.fingerprints[0].hash_function == "sha-256"
        and video.fingerprints == audio.fingerprints
    )
    assert (audio.setup, video.setup) == ("actpass", "active")
    # RFC 8285 5: extension ids, with an optional direction after the id.
    assert audio.extmaps == {
        1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        3: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    }
    assert video.extmaps == {}


def test_bad_lines_are_listed() -> None:
    sdp = SessionDescription.parse(
        b"v=x\r\no=short\r\nm=audio notaport RTP/AVP 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        b"a=rtpmap:zz\r\ngarbage\r\na=crypto:nonsense\r\n"
    )
    assert len(sdp.problems) >= 6
    assert [m.port for m in sdp.media] == [4000]


def test_static_table_rfc3551() -> None:
    assert str(STATIC_PAYLOAD_TYPES[9]) == "G722/8000"  # RFC 3551 4.5.2: clock 8000
    assert str(STATIC_PAYLOAD_TYPES[10]) == "L16/44100/2"
    assert STATIC_PAYLOAD_TYPES[18].name == "G729" and 2 not in STATIC_PAYLOAD_TYPES
