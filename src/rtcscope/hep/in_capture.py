"""The HEP packets a capture carries: UDP datagrams on any port, HEP3 frames in TCP streams.

What ``rtcscope hep decode`` lists. A UDP datagram is HEP when it starts with ``HEP3``/``EEP3``,
or when it decodes as HEPv1/v2 around a SIP message (v1/v2 have no magic). A TCP direction is
HEP when its first bytes are a HEP3 magic; it is cut into frames by :class:`HepFramer` and
given up after a gap or a frame that does not start with the magic (no safe resynchronisation).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from rtcscope.errors import HepError
from rtcscope.hep.codec import EEP3_MAGIC, HEP3_MAGIC, decode_fields
from rtcscope.hep.store import sip_index_fields


def hep_in_capture(
    path: str | os.PathLike[str],
) -> Iterator[tuple[int, int, str, str, int, str, int, bytes]]:
    """(frame, ts_ns, transport, src, sport, dst, dport, hep bytes) for each HEP packet of a
    capture: UDP datagrams on any port, and HEP3 frames in reassembled TCP streams."""
    from rtcscope.capture.pipeline import packets
    from rtcscope.capture.tcp import TcpReassembler
    from rtcscope.hep.framing import CONNECTION_CLOSED, NEED_DATA, HepFramer

    reassembler = TcpReassembler()
    framers: dict[tuple[str, int, str, int], HepFramer | None] = {}
    for packet in packets(path):
        if packet.is_udp:
            data = bytes(packet.payload)
            if data[:4] in (HEP3_MAGIC, EEP3_MAGIC) or (
                data[:1] in (b"\x01", b"\x02") and _is_hep_v12_sip(data)
            ):
                yield (
                    packet.frame,
                    packet.ts_ns,
                    "udp",
                    packet.src,
                    packet.sport,
                    packet.dst,
                    packet.dport,
                    data,
                )
        elif packet.is_tcp:
            for chunk in reassembler.feed(packet):
                flow = chunk.flow
                key = (flow[0], flow[1], flow[2], flow[3])
                if not chunk.data and not chunk.gap_before:
                    continue  # SYN, FIN, bare ACK
                framer = framers.get(key, ...)
                if framer is ...:
                    # a direction is HEP when its first bytes are a HEP3 magic
                    framer = HepFramer() if chunk.data[:4] in (HEP3_MAGIC, EEP3_MAGIC) else None
                    framers[key] = framer
                if framer is None or not chunk.data or chunk.gap_before:
                    if chunk.gap_before:
                        framers[key] = None  # cannot find frame boundaries after a gap
                    continue
                framer.receive_data(chunk.data)
                while True:
                    try:
                        event = framer.next_event()
                    except HepError:
                        framers[key] = None
                        break
                    if event is NEED_DATA or event is CONNECTION_CLOSED:
                        break
                    assert isinstance(event, bytes)
                    yield (chunk.frame, chunk.ts_ns, "tcp", key[0], key[1], key[2], key[3], event)


def _is_hep_v12_sip(data: bytes) -> bool:
    try:
        fields = decode_fields(data)
    except HepError:
        return False
    payload = fields["payload"]
    return bool(payload) and sip_index_fields(payload) != (None, None, None)
