"""SRTP/SRTCP decryption with SDES keys (RFC 3711, RFC 4568, RFC 7714).

The cryptography itself is libsrtp's, through pylibsrtp (DESIGN rule 6): key derivation,
AES-CM/AES-GCM, HMAC-SHA1, replay windows. What this module adds is what a capture needs:

- keys as SDP carries them (``a=crypto`` key-params, RFC 4568 6.1: ``inline:`` base64 of
  master key || master salt, optional ``|lifetime`` and ``|MKI:length``) or as a user gives them;
- which key belongs to which stream (each side's ``a=crypto`` protects what that side sends,
  RFC 4568 6.1), several candidate keys tried in order, the one that authenticates kept;
- the rollover counter of a capture that starts mid-call. libsrtp starts every receiving
  stream at ROC 0 and pylibsrtp cannot set it, so a stream captured after 65,536 packets would
  never authenticate. We guess: for ROC k, a receiving session is first fed packets that a
  sending session with the same key protected, with sequence numbers stepping by 0x4000 up to
  just below the first captured packet's index k * 65536 + seq; libsrtp's own index estimation
  (RFC 3711 3.3.1) then carries the receiver to ROC k. The guess that authenticates the first
  packet wins; the authentication tag is the proof (RFC 3711 3.4);
- counting: packets authenticated, authentication failures, replays, which key matched.

libsrtp 2 as pylibsrtp 1.0 builds it offers AES_CM_128_HMAC_SHA1_80/32 and
AEAD_AES_128_GCM/AEAD_AES_256_GCM; the other RFC 4568/6188 suites are named, so a capture that
asks for them gets a clear error, not noise.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import pylibsrtp

from rtcscope.errors import SrtpError


class SrtpSuite(StrEnum):
    """Crypto-suite names as SDES writes them (RFC 4568 6.2, RFC 6188, RFC 7714 14.2)."""

    AES_CM_128_HMAC_SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    AES_CM_128_HMAC_SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    AEAD_AES_128_GCM = "AEAD_AES_128_GCM"
    AEAD_AES_256_GCM = "AEAD_AES_256_GCM"
    AES_192_CM_HMAC_SHA1_80 = "AES_192_CM_HMAC_SHA1_80"
    AES_192_CM_HMAC_SHA1_32 = "AES_192_CM_HMAC_SHA1_32"
    AES_256_CM_HMAC_SHA1_80 = "AES_256_CM_HMAC_SHA1_80"
    AES_256_CM_HMAC_SHA1_32 = "AES_256_CM_HMAC_SHA1_32"
    F8_128_HMAC_SHA1_80 = "F8_128_HMAC_SHA1_80"


@dataclass(frozen=True, slots=True)
class SuiteParams:
    """Key and salt lengths of a suite, and the libsrtp profile when pylibsrtp has it."""

    key_len: int
    salt_len: int
    profile: int | None


SUITES: dict[SrtpSuite, SuiteParams] = {
    SrtpSuite.AES_CM_128_HMAC_SHA1_80: SuiteParams(
        16, 14, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    ),
    SrtpSuite.AES_CM_128_HMAC_SHA1_32: SuiteParams(
        16, 14, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32
    ),
    # RFC 7714 12: a 96-bit master salt for the AEAD suites.
    SrtpSuite.AEAD_AES_128_GCM: SuiteParams(16, 12, pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM),
    SrtpSuite.AEAD_AES_256_GCM: SuiteParams(32, 12, pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM),
    SrtpSuite.AES_192_CM_HMAC_SHA1_80: SuiteParams(24, 14, None),
    SrtpSuite.AES_192_CM_HMAC_SHA1_32: SuiteParams(24, 14, None),
    SrtpSuite.AES_256_CM_HMAC_SHA1_80: SuiteParams(32, 14, None),
    SrtpSuite.AES_256_CM_HMAC_SHA1_32: SuiteParams(32, 14, None),
    SrtpSuite.F8_128_HMAC_SHA1_80: SuiteParams(16, 14, None),
}


def suite_from_name(name: str) -> SrtpSuite:
    """The suite called ``name`` (case-insensitive), or SrtpError naming the known ones."""
    try:
        return SrtpSuite(name.strip().upper())
    except ValueError:
        known = ", ".join(s.value for s in SrtpSuite)
        raise SrtpError(f"unknown SRTP crypto-suite {name!r} (known: {known})") from None


def _require_supported(suite: SrtpSuite) -> int:
    profile = SUITES[suite].profile
    if profile is None:
        supported = ", ".join(s.value for s, p in SUITES.items() if p.profile is not None)
        raise SrtpError(
            f"SRTP suite {suite.value} is not offered by pylibsrtp 1.0 (libsrtp as it is built "
            f"there); supported: {supported}"
        )
    return profile


_LIFETIME = re.compile(r"^(?:2\^(\d+)|(\d+))$")
_MKI = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True, slots=True)
class SrtpKey:
    """One SDES master key: where it came from, and what it protects."""

    suite: SrtpSuite
    master_key: bytes
    master_salt: bytes
    lifetime: int | None = None  # packets (RFC 4568 6.1), None when not given
    mki: int | None = None  # MKI value, when the key-params carry one
    mki_length: int = 0  # MKI length in bytes on the wire
    tag: int | None = None  # the a=crypto tag
    origin: str = "command line"  # "SDP offer, frame 12", ...

    @property
    def inline(self) -> str:
        """The base64 key||salt, as SDES writes it."""
        return base64.b64encode(self.master_key + self.master_salt).decode()

    @property
    def supported(self) -> bool:
        return SUITES[self.suite].profile is not None

    @classmethod
    def from_base64(
        cls,
        key_and_salt_b64: str,
        suite: SrtpSuite | str = SrtpSuite.AES_CM_128_HMAC_SHA1_80,
        *,
        tag: int | None = None,
        origin: str = "command line",
    ) -> SrtpKey:
        """A key from base64 of master key || master salt (``--srtp-key``)."""
        suite = suite if isinstance(suite, SrtpSuite) else suite_from_name(suite)
        params = SUITES[suite]
        try:
            raw = base64.b64decode(key_and_salt_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SrtpError(f"SRTP key {key_and_salt_b64!r} is not valid base64") from None
        want = params.key_len + params.salt_len
        if len(raw) != want:
            raise SrtpError(
                f"SRTP key for {suite.value} must be {want} bytes of key and salt "
                f"({params.key_len} + {params.salt_len}) in base64; got {len(raw)} bytes"
            )
        return cls(suite, raw[: params.key_len], raw[params.key_len :], tag=tag, origin=origin)

    @classmethod
    def from_key_params(
        cls,
        suite: SrtpSuite | str,
        key_params: str,
        *,
        tag: int | None = None,
        origin: str = "SDP",
    ) -> SrtpKey:
        """A key from SDES key-params (RFC 4568 6.1): ``inline:KEYSALT[|LIFETIME][|MKI:LEN]``.

        Only the first key of a ``;``-separated list is taken: several keys in one line are
        for successive lifetimes, which no capture tool can order without the MKI.
        """
        first = key_params.split(";")[0].strip()
        method, sep, info = first.partition(":")
        if not sep or method.lower() != "inline":
            raise SrtpError(f"SDES key-params {key_params!r}: only the inline method exists")
        parts = info.split("|")
        key = cls.from_base64(parts[0], suite, tag=tag, origin=origin)
        lifetime: int | None = None
        mki: int | None = None
        mki_length = 0
        for extra in parts[1:]:
            extra = extra.strip()
            if m := _MKI.match(extra):
                mki, mki_length = int(m.group(1)), int(m.group(2))
            elif m := _LIFETIME.match(extra):
                lifetime = 2 ** int(m.group(1)) if m.group(1) else int(m.group(2))
            else:
                raise SrtpError(f"SDES key-params {key_params!r}: cannot read {extra!r}")
        return cls(
            key.suite,
            key.master_key,
            key.master_salt,
            lifetime=lifetime,
            mki=mki,
            mki_length=mki_length,
            tag=tag,
            origin=origin,
        )

    @classmethod
    def from_crypto_attribute(cls, value: str, *, origin: str = "SDP") -> SrtpKey:
        """A key from an ``a=crypto`` value: ``TAG SUITE KEY-PARAMS [SESSION-PARAMS]``."""
        fields = value.split()
        if len(fields) < 3 or not fields[0].isdigit():
            raise SrtpError(f"a=crypto:{value} is not 'tag suite key-params'")
        return cls.from_key_params(fields[1], fields[2], tag=int(fields[0]), origin=origin)


def _policy(key: SrtpKey, outbound: bool) -> pylibsrtp.Policy:
    profile = _require_supported(key.suite)
    if key.mki is not None:
        # pylibsrtp 1.0 has no MKI setting: packets carry MKI bytes it would read as the tag.
        raise SrtpError(
            f"SRTP key with MKI ({key.origin}) cannot be used: pylibsrtp 1.0 has no MKI support"
        )
    policy = pylibsrtp.Policy(
        key=key.master_key + key.master_salt,
        ssrc_type=(
            pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND
        ),
        srtp_profile=profile,
    )
    # A capture reorders and duplicates: a wide replay window keeps late packets.
    policy.window_size = 4096
    policy.allow_repeat_tx = True
    return policy


def _rtp_index_parts(packet: bytes) -> tuple[int, int]:
    if len(packet) < 12:
        raise SrtpError(f"SRTP packet of {len(packet)} bytes is shorter than an RTP header")
    (seq,) = struct.unpack_from("!H", packet, 2)
    (ssrc,) = struct.unpack_from("!I", packet, 8)
    return seq, ssrc


_PRIME_STEP = 0x4000
_PRIME_MARGIN = 4200  # keeps the primed index below the window of late packets we accept


def _session_at_roc(key: SrtpKey, ssrc: int, roc: int, seq: int) -> pylibsrtp.Session:
    """A receiving session whose next expected index is just below roc * 65536 + seq."""
    session = pylibsrtp.Session(_policy(key, outbound=False))
    target = roc * 65536 + seq - _PRIME_MARGIN
    if roc == 0 or target <= 0:
        return session
    sender = pylibsrtp.Session(_policy(key, outbound=True))
    index = 1
    while True:
        header = struct.pack("!BBHII", 0x80, 0, index & 0xFFFF, 0, ssrc)
        session.unprotect(sender.protect(header + b"\x00"))
        if index >= target:
            return session
        index = min(index + _PRIME_STEP, target)


@dataclass(slots=True)
class DecryptStats:
    """What happened to one stream's packets."""

    authenticated: int = 0
    auth_failures: int = 0
    replayed: int = 0  # duplicates libsrtp's replay window refused (the capture saw them twice)
    key: SrtpKey | None = None
    roc: int | None = None  # the rollover counter of the first authenticated packet


@dataclass(slots=True)
class SrtpStreamDecryptor:
    """Decrypts one SRTP stream (one SSRC, one direction) in capture order.

    Until a packet authenticates, each new packet is tried with every candidate key and
    rollover counter; once one does, the stream keeps that key. Packets that fail before
    then count as authentication failures.
    """

    keys: Sequence[SrtpKey]
    max_roc: int = 64
    stats: DecryptStats = field(default_factory=DecryptStats)
    _session: pylibsrtp.Session | None = None
    _trials_left: int = 32

    def __post_init__(self) -> None:
        if not self.keys:
            raise SrtpError("no SRTP key given for this stream")
        for key in self.keys:
            _require_supported(key.suite)

    def decrypt(self, packet: bytes) -> bytes | None:
        """The RTP packet in clear, or None when it does not authenticate (counted)."""
        if self._session is not None:
            return self._unprotect(self._session, packet)
        if self._trials_left <= 0:
            self.stats.auth_failures += 1
            return None
        self._trials_left -= 1
        seq, ssrc = _rtp_index_parts(packet)
        for key in self.keys:
            for roc in range(self.max_roc + 1):
                session = _session_at_roc(key, ssrc, roc, seq)
                try:
                    clear: bytes = session.unprotect(packet)
                except pylibsrtp.Error:
                    continue
                self._session = session
                self.stats.key = key
                self.stats.roc = roc
                self.stats.authenticated += 1
                return clear
        self.stats.auth_failures += 1
        return None

    def _unprotect(self, session: pylibsrtp.Session, packet: bytes) -> bytes | None:
        try:
            clear: bytes = session.unprotect(packet)
        except pylibsrtp.Error as exc:
            if "replay" in str(exc):
                self.stats.replayed += 1
            else:
                self.stats.auth_failures += 1
            return None
        self.stats.authenticated += 1
        return clear


@dataclass(slots=True)
class SrtcpDecryptor:
    """Decrypts SRTCP (the index travels in the packet: RFC 3711 3.4, no guessing)."""

    keys: Sequence[SrtpKey]
    stats: DecryptStats = field(default_factory=DecryptStats)
    _sessions: list[tuple[SrtpKey, pylibsrtp.Session]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.keys:
            raise SrtpError("no SRTP key given for this stream")
        self._sessions = [(k, pylibsrtp.Session(_policy(k, outbound=False))) for k in self.keys]

    def decrypt(self, packet: bytes) -> bytes | None:
        """The RTCP compound packet in clear, or None when it does not authenticate."""
        for key, session in self._sessions:
            try:
                clear: bytes = session.unprotect_rtcp(packet)
            except pylibsrtp.Error as exc:
                if "replay" in str(exc):
                    self.stats.replayed += 1
                    return None
                continue
            if self.stats.key is None:
                self.stats.key = key
                self._sessions = [(key, session)]
            self.stats.authenticated += 1
            return clear
        self.stats.auth_failures += 1
        return None


@dataclass(frozen=True, slots=True)
class KeyedEndpoint:
    """An SDP's media endpoint with the keys its side sends with (RFC 4568 6.1)."""

    address: str
    port: int
    keys: tuple[SrtpKey, ...]
    call_id: str = ""


def keys_for_stream(
    src: str,
    src_port: int,
    dst: str,
    dst_port: int,
    endpoints: Iterable[KeyedEndpoint],
) -> list[SrtpKey]:
    """Candidate keys for the stream src:src_port -> dst:dst_port, best first.

    Each side's ``a=crypto`` key protects what that side sends. With symmetric RTP a side
    sends from the address and port its SDP announces, so the sender's own endpoint gives
    its keys; when the sender is behind NAT, its peer's SDP announces the stream's destination,
    and the keys are those of the other endpoint of the same call.
    """
    endpoints = list(endpoints)
    by_source = [e for e in endpoints if e.address == src and e.port == src_port]
    keys: list[SrtpKey] = [k for e in by_source for k in e.keys]
    for dest in (e for e in endpoints if e.address == dst and e.port == dst_port):
        for other in endpoints:
            if other.call_id == dest.call_id and other is not dest and other not in by_source:
                keys.extend(k for k in other.keys if k not in keys)
    return keys
