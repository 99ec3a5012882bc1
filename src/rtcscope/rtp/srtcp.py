"""SRTCP decryption for a scan's result (RFC 3711 3.4): the glue between the stream scanner
(:mod:`rtcscope.rtp.streams`, which keeps encrypted SRTCP whole) and the keys
(:mod:`rtcscope.rtp.srtp`). Its own module because it needs both and they must not need
each other (``srtp.verify_streams`` reads stream packets).

The scan opens SRTCP with the SDES keys of the capture's SDP (:func:`open_srtcp_with_sdp`);
``rtcscope streams`` again with ``--srtp-key`` (:func:`decrypt_srtcp`).
"""

from __future__ import annotations

from collections.abc import Sequence

from rtcscope.errors import RtpError, SrtpError
from rtcscope.rtp.rtcp import parse_compound
from rtcscope.rtp.srtp import DecryptStats, SrtcpDecryptor, SrtpKey, SrtpKeyring
from rtcscope.rtp.streams import (
    RtcpPacketRecord,
    RtpStream,
    ScanResult,
    SrtcpDatagram,
    StreamKey,
    attach_rtcp,
    srtcp_streams,
)


def _srtcp_decryptor(
    keyring: SrtpKeyring, streams: Sequence[RtpStream], datagram: SrtcpDatagram
) -> SrtcpDecryptor | None:
    """A decryptor with the keys of the datagram's sender: SRTCP is protected with the
    master key of the sender's SRTP (RFC 3711 4.3: one master key, per-label session keys),
    so the keys are those of its RTP stream (same SSRC), else those of its flow."""
    own = StreamKey(datagram.src, datagram.src_port, datagram.dst, datagram.dst_port, datagram.ssrc)
    senders = [s.key for s in srtcp_streams(list(streams), datagram) if s.key.ssrc == own.ssrc]
    keys: list[SrtpKey] = []
    for address in [*senders, own]:
        keys.extend(k for k in keyring.keys_for(address) if k not in keys)
    try:
        return SrtcpDecryptor(keys)
    except SrtpError:
        return None


def decrypt_srtcp(result: ScanResult, keyring: SrtpKeyring) -> dict[int, DecryptStats]:
    """Decrypt the scan's encrypted SRTCP (:attr:`ScanResult.srtcp`) with the keys the
    keyring offers, add the RTCP packets that authenticate to ``result.rtcp_packets`` and
    give the streams their RTCP again. Returns the decryption counts by sender SSRC."""
    decryptors: dict[tuple[str, int, str, int, int], SrtcpDecryptor | None] = {}
    added: list[RtcpPacketRecord] = []
    stats: dict[int, DecryptStats] = {}
    for datagram in result.srtcp:
        if not datagram.encrypted or datagram.decrypted:
            continue
        sender = (datagram.src, datagram.src_port, datagram.dst, datagram.dst_port, datagram.ssrc)
        if sender not in decryptors:
            decryptors[sender] = _srtcp_decryptor(keyring, result.streams, datagram)
        decryptor = decryptors[sender]
        if decryptor is None:
            continue
        stats[datagram.ssrc] = decryptor.stats
        clear = decryptor.decrypt(datagram.data)
        if clear is None:
            continue
        try:
            parsed = parse_compound(clear, strict=False)
        except RtpError:
            continue
        datagram.decrypted = True
        flow = (datagram.src, datagram.src_port, datagram.dst, datagram.dst_port)
        added.extend(
            RtcpPacketRecord(datagram.frame, datagram.ts_ns, *flow, item, True) for item in parsed
        )
    if added:
        result.rtcp_packets = sorted([*result.rtcp_packets, *added], key=lambda r: r.frame)
    if decryptors and any(s.rtcp is not None for s in result.streams):
        attach_rtcp(result.streams, result.rtcp_packets, result.srtcp)
    return stats


def open_srtcp_with_sdp(result: ScanResult) -> None:
    """Decrypt the scan's SRTCP with the ``a=crypto`` keys of its SDP, when it has both."""
    if any(d.encrypted for d in result.srtcp) and any(a.crypto for a in result.announcements):
        decrypt_srtcp(result, SrtpKeyring(result.announcements))
