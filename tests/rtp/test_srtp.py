"""SRTP decryption checked against the RFCs, not against pylibsrtp itself.

The reference implementation here is written from RFC 3711 (4.1.1 AES-CM keystream, 4.2
HMAC-SHA1 authentication, 4.3 key derivation) and RFC 7714 (8.1 AEAD IV) with the
``cryptography`` package's AES primitives; its own correctness is pinned by the RFCs' test
vectors (RFC 3711 B.3, RFC 7714 16.1.1 and 17.2).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import struct

import pylibsrtp
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import SrtpError
from rtcscope.rtp.srtp import (
    KeyedEndpoint,
    SrtcpDecryptor,
    SrtpKey,
    SrtpStreamDecryptor,
    SrtpSuite,
    keys_for_stream,
)
from rtcscope.sip.sdp import parse_crypto
from tests.conftest import shared_capture

MARSEILLAISE_KEY = "aSBrbm93IGFsbCB5b3VyIGxpdHRsZSBzZWNyZXRz"  # published with the capture


# --- a reference SRTP written from RFC 3711 -------------------------------------------------


def aes_cm_keystream(key: bytes, iv16: bytes, length: int) -> bytes:
    """RFC 3711 4.1.1: AES in counter mode, the counter being IV + block number."""
    enc = Cipher(algorithms.AES(key), modes.CTR(iv16)).encryptor()
    return enc.update(b"\x00" * length) + enc.finalize()


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 4.3.1 with key_derivation_rate 0: x = label << 48 XOR master_salt, PRF=AES-CM."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    iv = (x << 16).to_bytes(16, "big")
    return aes_cm_keystream(master_key, iv, length)


def reference_decrypt_rtp(
    master_key: bytes, master_salt: bytes, packet: bytes, roc: int, tag_len: int = 10
) -> bytes:
    """RFC 3711 4.1.1 and 4.2 for AES_CM_128_HMAC_SHA1_*; returns the clear RTP packet."""
    k_e = kdf(master_key, master_salt, 0, 16)
    k_a = kdf(master_key, master_salt, 1, 20)
    k_s = kdf(master_key, master_salt, 2, 14)
    authenticated, tag = packet[:-tag_len], packet[-tag_len:]
    expected = hmac.new(k_a, authenticated + struct.pack("!I", roc), hashlib.sha1).digest()
    assert tag == expected[:tag_len], "the reference says this packet does not authenticate"
    cc = packet[0] & 0x0F
    header_len = 12 + 4 * cc
    if packet[0] & 0x10:
        (ext_words,) = struct.unpack_from("!H", packet, header_len + 2)
        header_len += 4 + 4 * ext_words
    (seq,) = struct.unpack_from("!H", packet, 2)
    (ssrc,) = struct.unpack_from("!I", packet, 8)
    index = (roc << 16) | seq
    iv = (int.from_bytes(k_s, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    body = authenticated[header_len:]
    stream = aes_cm_keystream(k_e, iv.to_bytes(16, "big"), len(body))
    return authenticated[:header_len] + bytes(a ^ b for a, b in zip(body, stream, strict=True))


# --- the reference's own correctness, from the RFCs' vectors ------------------------------


def test_reference_key_derivation_matches_rfc3711_b3() -> None:
    master_key = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
    master_salt = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")
    assert kdf(master_key, master_salt, 0, 16).hex().upper() == "C61E7A93744F39EE10734AFE3FF7A087"
    assert kdf(master_key, master_salt, 2, 14).hex().upper() == "30CBBC08863D8C85D49DB34A9AE1"
    assert kdf(master_key, master_salt, 1, 94).hex().upper() == (
        "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
        "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
        "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
    )


RFC7714_KEY_128 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
RFC7714_KEY_256 = RFC7714_KEY_128 + bytes.fromhex("101112131415161718191a1b1c1d1e1f")
RFC7714_SALT = bytes.fromhex("517569642070726f2071756f")  # "Quid pro quo"


def rfc7714_iv(salt: bytes, ssrc: int, index_bytes: bytes) -> bytes:
    """RFC 7714 8.1 (SRTP) and 9.1 (SRTCP): 0x0000 || SSRC || index fields, XOR the salt."""
    raw = b"\x00\x00" + struct.pack("!I", ssrc) + index_bytes
    return bytes(a ^ b for a, b in zip(raw, salt, strict=True))


def test_rfc7714_16_1_1_rtp_aead_aes_128_gcm() -> None:
    header = bytes.fromhex("8040f17b8041f8d35501a0b2")
    plaintext = b"Gallia est omnis divisa in partes tres"
    iv = rfc7714_iv(RFC7714_SALT, 0x5501A0B2, struct.pack("!IH", 0, 0xF17B))
    assert iv.hex() == "51753c6580c2726f20718414"
    sealed = AESGCM(RFC7714_KEY_128).encrypt(iv, plaintext, header)
    assert sealed.hex() == (
        "f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833"
        "899d7f27beb16a9152cf765ee4390cce"
    )


def test_rfc7714_17_2_rtcp_aead_aes_256_gcm() -> None:
    rtcp = bytes.fromhex(
        "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61" + "deadbeef" * 5
    )
    index = 0x5D4
    iv = rfc7714_iv(RFC7714_SALT, 0x4D617273, struct.pack("!HI", 0, index))
    assert iv.hex() == "517524055203726f207170bb"
    esrtcp_word = struct.pack("!I", 0x80000000 | index)
    sealed = AESGCM(RFC7714_KEY_256).encrypt(iv, rtcp[8:], rtcp[:8] + esrtcp_word)
    assert (rtcp[:8] + sealed + esrtcp_word).hex() == (
        "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50"
        "a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6c"
        "b26ac3be800005d4"
    )


# --- pylibsrtp against the reference ----------------------------------------------------------


def _rtp(seq: int, ssrc: int = 0x11223344, payload: bytes = b"\xd5" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) + payload


def _sender(key: SrtpKey) -> pylibsrtp.Session:
    return pylibsrtp.Session(
        pylibsrtp.Policy(
            key=key.master_key + key.master_salt,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
        )
    )


def test_pylibsrtp_session_keys_equal_rfc3711_derivation() -> None:
    """What pylibsrtp protects, the reference (RFC 3711 4.3 keys) authenticates and decrypts."""
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    sender = _sender(key)
    for seq in (1, 2, 3, 500):
        clear = _rtp(seq)
        protected = sender.protect(clear)
        assert reference_decrypt_rtp(key.master_key, key.master_salt, protected, roc=0) == clear


def test_marseillaise_decrypts_every_packet_and_matches_the_reference() -> None:
    from rtcscope.capture.pipeline import packets

    path = shared_capture("marseillaise-srtp.pcap")
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    decryptor = SrtpStreamDecryptor([key])
    compared = 0
    total = 0
    for pkt in packets(path):
        if not pkt.is_udp or len(pkt.payload) < 12:
            continue
        data = bytes(pkt.payload)
        total += 1
        clear = decryptor.decrypt(data)
        assert clear is not None, f"frame {pkt.frame} did not authenticate"
        if compared < 50:
            assert clear == reference_decrypt_rtp(key.master_key, key.master_salt, data, roc=0)
            compared += 1
    assert total == 11888
    assert decryptor.stats.authenticated == 11888
    assert decryptor.stats.auth_failures == 0
    assert compared == 50


def test_wrong_key_authenticates_nothing() -> None:
    from rtcscope.capture.pipeline import packets

    path = shared_capture("marseillaise-srtp.pcap")
    wrong = SrtpKey.from_base64(base64.b64encode(bytes(range(30))).decode())
    decryptor = SrtpStreamDecryptor([wrong], max_roc=2)
    for n, pkt in enumerate(packets(path)):
        if n == 300:
            break
        if pkt.is_udp:
            assert decryptor.decrypt(bytes(pkt.payload)) is None
    assert decryptor.stats.authenticated == 0
    assert decryptor.stats.auth_failures == 300


def test_a_stream_captured_after_a_rollover_decrypts() -> None:
    """The capture starts at index 2 * 65536 + 100: ROC 2 is guessed, every packet decrypts."""
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    sender = _sender(key)
    start = 2 * 65536 + 100
    protected = {}
    for index in range(0, start - 96, 97):  # the sender's own index tracking, in steps
        sender.protect(_rtp(index))
    for index in range(start - 96, start + 400):
        protected[index] = sender.protect(_rtp(index, payload=struct.pack("!I", index) * 40))
    decryptor = SrtpStreamDecryptor([key])
    for index in range(start, start + 300):
        clear = decryptor.decrypt(protected[index])
        assert clear == _rtp(index, payload=struct.pack("!I", index) * 40)
        assert clear == reference_decrypt_rtp(
            key.master_key, key.master_salt, protected[index], roc=index >> 16
        )
    assert decryptor.stats.roc == 2
    assert decryptor.stats.auth_failures == 0


def test_second_key_is_used_when_the_first_fails() -> None:
    right = SrtpKey.from_base64(MARSEILLAISE_KEY, tag=2)
    wrong = SrtpKey.from_base64(base64.b64encode(bytes(30)).decode(), tag=1)
    sender = _sender(right)
    decryptor = SrtpStreamDecryptor([wrong, right], max_roc=1)
    for seq in range(10, 20):
        assert decryptor.decrypt(sender.protect(_rtp(seq))) == _rtp(seq)
    assert decryptor.stats.key == right


def test_duplicates_are_replays_not_failures() -> None:
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    sender = _sender(key)
    first = sender.protect(_rtp(7))
    decryptor = SrtpStreamDecryptor([key])
    assert decryptor.decrypt(first) == _rtp(7)
    assert decryptor.decrypt(first) is None
    assert (decryptor.stats.replayed, decryptor.stats.auth_failures) == (1, 0)


def test_srtcp_decrypts() -> None:
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    sender = _sender(key)
    rtcp = struct.pack("!BBHI", 0x80, 200, 6, 0x11223344) + bytes(20)
    decryptor = SrtcpDecryptor([key])
    assert decryptor.decrypt(sender.protect_rtcp(rtcp)) == rtcp
    assert decryptor.stats.authenticated == 1


# --- keys -------------------------------------------------------------------------------------


def test_rfc4568_key_params_with_lifetime_and_mki() -> None:
    # RFC 4568 section 4's example line.
    key = SrtpKey.from_crypto(
        parse_crypto(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
        )
    )
    assert key.suite is SrtpSuite.AES_CM_128_HMAC_SHA1_80
    assert key.tag == 1
    assert key.lifetime == 2**20
    assert (key.mki, key.mki_length) == (1, 4)
    raw = base64.b64decode("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    assert key.master_key + key.master_salt == raw
    assert len(key.master_key) == 16


def test_unsupported_suite_is_named_in_the_error() -> None:
    key = SrtpKey.from_base64(base64.b64encode(bytes(46)).decode(), "AES_256_CM_HMAC_SHA1_80")
    with pytest.raises(SrtpError, match=r"pylibsrtp 1\.0"):
        SrtpStreamDecryptor([key])


def test_wrong_key_length_is_an_error() -> None:
    with pytest.raises(SrtpError, match="30 bytes"):
        SrtpKey.from_base64(base64.b64encode(bytes(16)).decode())


def test_each_side_key_decrypts_what_that_side_sends() -> None:
    offer = KeyedEndpoint("10.0.0.1", 4000, (SrtpKey.from_base64(MARSEILLAISE_KEY, tag=1),), "c")
    answer_key = SrtpKey.from_base64(base64.b64encode(bytes(range(30))).decode(), tag=1)
    answer = KeyedEndpoint("10.0.0.2", 5000, (answer_key,), "c")
    assert keys_for_stream("10.0.0.1", 4000, "10.0.0.2", 5000, [offer, answer]) == list(offer.keys)
    assert keys_for_stream("10.0.0.2", 5000, "10.0.0.1", 4000, [offer, answer]) == [answer_key]
    # The answerer is behind NAT: its stream comes from elsewhere, to the offerer's port.
    assert keys_for_stream("192.0.2.9", 31000, "10.0.0.1", 4000, [offer, answer]) == [answer_key]


@given(st.text(max_size=80), st.sampled_from([s.value for s in SrtpSuite] + ["BOGUS"]))
def test_keys_from_any_crypto_line_never_crash(text: str, suite: str) -> None:
    try:
        crypto = parse_crypto(f"1 {suite} {text}")
    except ValueError:
        return  # the SDP parser flags the line; no key to build
    with contextlib.suppress(SrtpError):
        SrtpKey.from_crypto(crypto)


@given(st.binary(max_size=64))
def test_decrypting_garbage_never_crashes(data: bytes) -> None:
    decryptor = SrtpStreamDecryptor([SrtpKey.from_base64(MARSEILLAISE_KEY)], max_roc=1)
    try:
        assert decryptor.decrypt(data) is None
    except SrtpError:
        assert len(data) < 12
