"""What a scan of a capture does: the options every command takes with the same meaning.

``--dedup``, ``--no-reassembly``, ``--keep-going``, ``--rtp-port`` and the SDP/heuristic
switches are the same words on every command (the CLI builds one :class:`ScanOptions` from
them), so ``analyze``'s sections and the command of the same name agree on the same options.
"""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum

from rtcscope._dataclass import dataclass


class Tap(StrEnum):
    """What one pass feeds (Wireshark's taps: one dissection, many listeners)."""

    COUNTS = "counts"  # packet/protocol counts and time span (``info``)
    RTP = "rtp"  # RTP stream discovery and statistics, RTCP, DTMF
    SIP = "sip"  # SIP framing (UDP, TCP, WebSocket) and SDP offer/answer
    ICMP = "icmp"  # ICMP errors quoting a datagram (diagnosis, ladders)


ALL_TAPS = frozenset(Tap)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """One scan's options.

    ``dedup``: drop the second copy of a packet captured twice within 5 ms (two interfaces,
    a SPAN of both directions); ``reassemble``: IP fragments reassembled (Wireshark's
    default); ``keep_going``: a truncated or corrupt capture is a warning, not an error (the
    scan always keeps what it read before the fault; this says how the CLI exits);
    ``rtp_ports``: UDP ports whose datagrams are RTP whatever the signalling says (tshark's
    Decode As); ``heuristic``: find RTP without signalling; ``use_sdp``: name streams from
    the SDP; ``taps``: what the pass feeds (fewer taps, less work: ``info`` needs counts only);
    ``spool``: a later step reads packets again (audio, split): a source that cannot be read
    twice (standard input, a FIFO, process substitution) is copied to a temporary file as the
    pass reads it (disk: the capture's size; no extra memory); ``offsets``: a later step
    will read some flows' packets again: note where each record lies, so that it reads only
    those records (capture/flowread.py: 36 bytes per record while the model lives).
    """

    dedup: bool = False
    reassemble: bool = True
    keep_going: bool = False
    rtp_ports: tuple[int, ...] = ()
    heuristic: bool = True
    use_sdp: bool = True
    taps: frozenset[Tap] = field(default=ALL_TAPS)
    spool: bool = False  # a later step reads payloads again: keep a copy of a piped source
    offsets: bool = False  # ... and reads them by their offsets (capture/flowread.py)
    vectorized: bool = True  # False: every record the per-packet way (the reference path)
