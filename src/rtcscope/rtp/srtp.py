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
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pylibsrtp

from rtcscope.errors import SrtpError
from rtcscope.sip.sdp import SUITE_KEY_SALT_LENGTHS, Crypto

if TYPE_CHECKING:
    from rtcscope.rtp.streams import RtpStream
    from rtcscope.sip.capture import MediaAnnouncement


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


# The libsrtp profile of each suite pylibsrtp 1.0 offers; key and salt lengths of every suite
# come from the SDP module's table (RFC 4568 6.2, RFC 6188, RFC 7714 12).
PYLIBSRTP_PROFILES: dict[SrtpSuite, int] = {
    SrtpSuite.AES_CM_128_HMAC_SHA1_80: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    SrtpSuite.AES_CM_128_HMAC_SHA1_32: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    SrtpSuite.AEAD_AES_128_GCM: pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    SrtpSuite.AEAD_AES_256_GCM: pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}


def key_salt_lengths(suite: SrtpSuite) -> tuple[int, int]:
    """(master key, master salt) lengths in bytes of ``suite``."""
    return SUITE_KEY_SALT_LENGTHS[suite.value]


def suite_from_name(name: str) -> SrtpSuite:
    """The suite called ``name`` (case-insensitive), or SrtpError naming the known ones."""
    try:
        return SrtpSuite(name.strip().upper())
    except ValueError:
        known = ", ".join(s.value for s in SrtpSuite)
        raise SrtpError(f"unknown SRTP crypto-suite {name!r} (known: {known})") from None


def _require_supported(suite: SrtpSuite) -> int:
    profile = PYLIBSRTP_PROFILES.get(suite)
    if profile is None:
        supported = ", ".join(s.value for s in PYLIBSRTP_PROFILES)
        raise SrtpError(
            f"SRTP suite {suite.value} is not offered by pylibsrtp 1.0 (libsrtp as it is built "
            f"there); supported: {supported}"
        )
    return profile


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
        key_len, salt_len = key_salt_lengths(suite)
        try:
            raw = base64.b64decode(key_and_salt_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SrtpError(f"SRTP key {key_and_salt_b64!r} is not valid base64") from None
        if len(raw) != key_len + salt_len:
            raise SrtpError(
                f"SRTP key for {suite.value} must be {key_len + salt_len} bytes of key and "
                f"salt ({key_len} + {salt_len}) in base64; got {len(raw)} bytes"
            )
        return cls(suite, raw[:key_len], raw[key_len:], tag=tag, origin=origin)

    @classmethod
    def from_crypto(cls, crypto: Crypto, *, origin: str = "SDP") -> SrtpKey:
        """The key of an ``a=crypto`` line as :mod:`rtcscope.sip.sdp` parsed it.

        Only the first key of the line is taken: several keys in one line are for successive
        lifetimes (RFC 4568 6.1), which cannot be ordered without the MKI.
        """
        suite = suite_from_name(crypto.suite)
        first = crypto.key
        if first is None or first.method.lower() != "inline" or first.key_salt_bytes is None:
            raise SrtpError(f"a=crypto:{crypto.raw} ({origin}) has no inline base64 key")
        key = cls.from_base64(first.key_salt, suite, tag=crypto.tag, origin=origin)
        return cls(
            key.suite,
            key.master_key,
            key.master_salt,
            lifetime=first.lifetime,
            mki=first.mki_value,
            mki_length=first.mki_length or 0,
            tag=crypto.tag,
            origin=origin,
        )


def usable_keys(keys: Sequence[SrtpKey]) -> list[SrtpKey]:
    """The keys pylibsrtp can use: those without an MKI. pylibsrtp 1.0 has no MKI setting,
    and the MKI bytes after the payload would be read as the tag."""
    return [key for key in keys if key.mki is None]


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
        self.keys = usable_keys(self.keys)
        if not self.keys:
            raise SrtpError("the SRTP keys of this stream all carry an MKI, which cannot be used")
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
        keys = usable_keys(self.keys)
        if not keys:
            raise SrtpError("the SRTCP keys of this stream all carry an MKI, which cannot be used")
        self._sessions = [(k, pylibsrtp.Session(_policy(k, outbound=False))) for k in keys]

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


class Keying(StrEnum):
    """How a stream's SRTP keys can be had."""

    USER = "user"  # --srtp-key
    SDES = "sdes"  # a=crypto in the capture's SDP (RFC 4568)
    DTLS = "dtls"  # a=fingerprint: keyed by a DTLS handshake (RFC 5764), not in the capture
    NONE = "none"  # no key anywhere


class StreamAddress(Protocol):
    """What names a stream: :class:`rtcscope.rtp.streams.StreamKey` is one."""

    @property
    def src(self) -> str: ...
    @property
    def src_port(self) -> int: ...
    @property
    def dst(self) -> str: ...
    @property
    def dst_port(self) -> int: ...
    @property
    def ssrc(self) -> int: ...


@dataclass(frozen=True, slots=True)
class UserKey:
    """A key given on the command line, for every stream or for one SSRC."""

    key: SrtpKey
    ssrc: int | None = None


@dataclass(slots=True)
class SrtpKeyring:
    """Every key a capture and the user offer, and which stream each one may decrypt.

    ``announcements`` are what :class:`rtcscope.sip.capture.MediaAnnouncer` found (the
    streams scan and :func:`rtcscope.sip.capture.media_announcements` both give them); a
    key's origin names the SDP's frame.
    User keys come first; then the SDP keys of the stream's sender (:func:`keys_for_stream`).
    A line whose key cannot be used is kept in ``problems``, not fatal.
    """

    announcements: Sequence[MediaAnnouncement] = ()
    user_keys: Sequence[UserKey] = ()
    endpoints: list[KeyedEndpoint] = field(default_factory=list)
    dtls_endpoints: set[tuple[str, int]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for ann in self.announcements:
            if ann.address is None:
                continue
            keys: list[SrtpKey] = []
            for crypto in ann.crypto:
                try:
                    keys.append(SrtpKey.from_crypto(crypto, origin=f"SDP in frame {ann.frame}"))
                except SrtpError as exc:
                    self.problems.append(str(exc))
            if keys:
                endpoint = KeyedEndpoint(ann.address, ann.port, tuple(keys), ann.call_id or "")
                self.endpoints.append(endpoint)
            elif ann.fingerprints:
                self.dtls_endpoints.add((ann.address, ann.port))

    def keys_for(self, stream: StreamAddress) -> list[SrtpKey]:
        keys = [u.key for u in self.user_keys if u.ssrc is None or u.ssrc == stream.ssrc]
        sdp_keys = keys_for_stream(
            stream.src, stream.src_port, stream.dst, stream.dst_port, self.endpoints
        )
        for key in sdp_keys:
            if key not in keys:
                keys.append(key)
        return keys

    def keying(self, stream: StreamAddress) -> Keying:
        if any(u.ssrc is None or u.ssrc == stream.ssrc for u in self.user_keys):
            return Keying.USER
        if keys_for_stream(
            stream.src, stream.src_port, stream.dst, stream.dst_port, self.endpoints
        ):
            return Keying.SDES
        ends = {(stream.src, stream.src_port), (stream.dst, stream.dst_port)}
        if ends & self.dtls_endpoints:
            return Keying.DTLS
        return Keying.NONE

    def decryptor(self, stream: StreamAddress, *, dtls_flow: bool = False) -> SrtpStreamDecryptor:
        """A decryptor for ``stream``, or SrtpError saying plainly why there is none. Keys
        with an MKI are left out (see :func:`usable_keys`): a stream that has only such keys
        is refused with that reason, which leaves that stream unverified, not the command."""
        ssrc = stream.ssrc
        offered = self.keys_for(stream)
        keys = usable_keys(offered)
        if keys:
            return SrtpStreamDecryptor(keys)
        if offered:
            raise SrtpError(
                f"stream 0x{ssrc:08X}: its SRTP key(s) carry an MKI (RFC 3711 3.1; "
                f"{offered[0].origin}), which pylibsrtp 1.0 cannot use: left unverified"
            )
        if dtls_flow or self.keying(stream) is Keying.DTLS:
            raise SrtpError(
                f"stream 0x{ssrc:08X} is SRTP keyed by DTLS (a=fingerprint, RFC 5764): its keys "
                "never cross the network, so it cannot be decrypted from the capture, unless the "
                "endpoint logged them"
            )
        raise SrtpError(
            f"stream 0x{ssrc:08X} looks like SRTP: its key is needed (SDES, base64) or the SDP "
            "with a=crypto in the capture"
        )


def require_authenticated(ssrc: int, stats: DecryptStats) -> None:
    """SrtpError (exit 3) when not one packet of a stream authenticated: a wrong key."""
    if stats.authenticated == 0:
        raise SrtpError(
            f"stream 0x{ssrc:08X}: no packet authenticated with the key(s) given "
            f"({stats.auth_failures} authentication failures): wrong key or wrong suite"
        )


@dataclass(slots=True)
class StreamSrtpResult:
    """What decrypting one stream's packets gave (``rtcscope streams`` reports it)."""

    stats: DecryptStats | None = None
    refusal: str | None = None  # why no decryption was tried (no key, DTLS)

    def as_dict(self) -> dict[str, object]:
        if self.stats is None:
            return {"decrypted": False, "reason": self.refusal}
        key = self.stats.key
        return {
            "decrypted": self.stats.authenticated > 0,
            "authenticated": self.stats.authenticated,
            "auth_failures": self.stats.auth_failures,
            "replayed": self.stats.replayed,
            "key": key.origin if key else None,
            "suite": key.suite.value if key else None,
            "rollover_counter": self.stats.roc,
        }


def verify_streams(
    path: str | os.PathLike[str],
    streams: Sequence[RtpStream],
    keyring: SrtpKeyring,
    *,
    dedup: bool = False,
) -> dict[int, StreamSrtpResult]:
    """Decrypt every encrypted stream's packets with the keys the keyring offers for it.

    ``streams`` are :class:`rtcscope.rtp.streams.RtpStream` objects; the result is keyed by
    their position in ``streams``. Streams that are not encrypted are left out.
    """
    from rtcscope.rtp.streams import stream_packets

    results: dict[int, StreamSrtpResult] = {}
    decryptors: dict[tuple[str, int, str, int, int], tuple[int, SrtpStreamDecryptor]] = {}
    for position, stream in enumerate(streams):
        if not stream.encrypted:
            continue
        try:
            decryptor = keyring.decryptor(stream.key, dtls_flow=stream.srtp_keying == "dtls")
        except SrtpError as exc:
            results[position] = StreamSrtpResult(refusal=str(exc))
            continue
        k = stream.key
        decryptors[(k.src, k.src_port, k.dst, k.dst_port, k.ssrc)] = (position, decryptor)
        results[position] = StreamSrtpResult(stats=decryptor.stats)
    if decryptors:
        wanted = [streams[position] for position, _ in decryptors.values()]
        for packet in stream_packets(path, wanted, dedup=dedup):
            k = packet.key
            entry = decryptors.get((k.src, k.src_port, k.dst, k.dst_port, k.ssrc))
            if entry is not None:
                entry[1].decrypt(packet.data)
    return results


# Judging payloads without signalling (RFC 3711 makes SRTP payloads indistinguishable from
# random bytes). Two tests must both say "random": the byte values of all payloads are
# uniform (chi-square against 256 equal bins within 6 standard deviations of its mean,
# 255 +- 6 * sqrt(2 * 255)), and the first byte of each payload (Opus TOC, G.729/GSM frame
# header, the first G.711 sample of a 20 ms frame) takes about as many values as random
# bytes would. Speech in G.711 fails the first test (its samples crowd near silence); Opus,
# GSM, G.729, iLBC and Speex fail the second (their first byte is a mode or a header).
JUDGE_PACKETS = 500  # packets looked at
JUDGE_MIN_PACKETS = 30
JUDGE_MIN_BYTES = 2048  # at least 8 per chi-square bin
_CHI_SQUARE_UNIFORM_MAX = 255 + 6 * (2 * 255) ** 0.5


def encrypted_payload_evidence(payloads: Sequence[bytes]) -> str | None:
    """Why these RTP payloads (one stream's audio, in capture order) look encrypted, or
    None when they do not or are too few to tell."""
    sample = [p for p in payloads[:JUDGE_PACKETS] if p]
    total = sum(len(p) for p in sample)
    if len(sample) < JUDGE_MIN_PACKETS or total < JUDGE_MIN_BYTES:
        return None
    counts = np.bincount(np.frombuffer(b"".join(sample), dtype=np.uint8), minlength=256)
    expected = total / 256
    chi_square = float(((counts - expected) ** 2).sum() / expected)
    if chi_square > _CHI_SQUARE_UNIFORM_MAX:
        return None
    firsts = len({p[0] for p in sample})
    random_firsts = 256 * (1 - (255 / 256) ** len(sample))
    if firsts < 0.6 * random_firsts:
        return None
    return (
        f"their bytes are uniform (chi-square {chi_square:.0f} over {total} bytes, random "
        f"bytes give 255 +- 23) and their first byte takes {firsts} values in "
        f"{len(sample)} packets (random bytes: about {random_firsts:.0f})"
    )
