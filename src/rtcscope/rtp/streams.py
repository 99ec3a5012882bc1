"""Every RTP stream of a capture, with Wireshark's statistics, our own, RTCP and DTMF.

Contract for the audio and SRTP code::

    streams = find_streams(path)                 # list[RtpStream], in order of first packet
    for packet in stream_packets(path, streams[:1]):
        packet.frame, packet.ts_ns, packet.key, packet.rtp   # rtp: RtpPacket (payload, ...)
        packet.data                                          # the whole UDP payload (SRTP)

An :class:`RtpStream` has ``key`` (src, src_port, dst, dst_port, ssrc), ``payload_type``
(the most frequent), ``payload_types``, ``codec`` (encoding name or None), ``clock_rate``,
``channels``, ``stats`` (:class:`~rtcscope.rtp.stats.StatsSummary`), ``encrypted``,
``source`` ("sdp", "heuristic" or "forced"), the SDP it came from (``setup_frame``,
``call_id``, ``crypto`` lines), and with the options ``rtcp``/``dtmf`` filled in.

How packets are recognised as RTP (the same packets Wireshark 4.0 takes, where it can tell):

- **SDP** (through :mod:`rtcscope.sip`): a UDP datagram from or to an address and port that
  an SDP announced, from the SDP's frame on, is RTP if its version is 2 (RFC 3550 5.1) and it
  is not RTCP (second byte 192-223, RFC 5761 4). The rtpmap of that SDP names dynamic payload
  types and gives their clock. Re-INVITEs add announcements; the latest one at a packet's
  frame names it. NAT latching: media from an address the SDP did not announce is still
  found when it goes to an announced address (and the heuristic finds the rest).
- **--rtp-port** (``rtp_ports``): every version-2 datagram from or to that UDP port, as
  Wireshark's Decode As.
- **heuristic**, for the other UDP flows: like tshark's ``rtp_udp`` (version 2, payload type
  not 72-76, header, extension and padding inside the datagram) but checked across packets:
  a flow+SSRC becomes a stream only once two of its packets follow each other (sequence +1 to
  +100, timestamp moving forward by less than 2^24), so STUN, DTLS, DNS and SIP are never
  streams. RFC 7983 demultiplexing keeps STUN/DTLS/TURN apart; DTLS seen on a flow marks its
  streams as (DTLS-)SRTP.

Encrypted (SRTP): the SDP says SAVP or has a=crypto/fingerprint, DTLS shares the flow, or
for G.711 the payload is longer than the timestamp step by an authentication tag (4 or 10
bytes, RFC 3711 4.2), which plain G.711 never is.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from itertools import chain, compress, repeat
from operator import attrgetter, is_not, itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np
import numpy.typing as npt

from rtcscope._dataclass import dataclass
from rtcscope.capture.packet import Packet
from rtcscope.errors import RtpError
from rtcscope.rtp.packet import RtpPacket
from rtcscope.rtp.stats import (
    SMALL_BATCH,
    PacketColumns,
    StatsSummary,
    StreamStats,
    StreamSummaries,
    TimestampReset,
    add_new_streams,
    analysis_clock_hz,
    relative_ms,
    summary_values,
)
from rtcscope.sip.sdp import STATIC_PAYLOAD_TYPES
from rtcscope.slotted import (
    dataclass_defaults,
    dataclass_objects,
    dataclass_slots,
    default_columns,
    items,
    objects,
)

if TYPE_CHECKING:
    from rtcscope.quality import StreamQuality
    from rtcscope.rtp import rtcp as rtcp_mod
    from rtcscope.rtp.events import DtmfDetector, DtmfDigit
    from rtcscope.sip.capture import MediaAnnouncement

IntArray = npt.NDArray[np.int64]

# (encoding, clock rate, channels) of the RFC 3551 static payload types: sip.sdp's table.
STATIC_CODECS: dict[int, tuple[str, int, int]] = {
    pt: (codec.name, codec.clock_rate, codec.channels) for pt, codec in STATIC_PAYLOAD_TYPES.items()
}

PathLike = str | os.PathLike[str] | BinaryIO
Flow = tuple[str, int, str, int]
_HEADER = struct.Struct("!BBHII")
_PENDING_LIMIT = 8  # packets kept per unconfirmed flow+SSRC before it is dropped
_PENDING_KEYS_LIMIT = 20000  # unconfirmed flow+SSRC kept at once (random UDP makes many)
_UNCLEAR_RTCP_LIMIT = 100_000  # RTCP datagrams kept whole until SRTCP is told apart
_SRTCP_DECIDE_AFTER = 8  # a sender's datagrams looked at before its layout is decided
# Short streams resumed together through add_new_streams, at least (its NumPy costs per
# packet position, add() per packet: a batch resumes some fifty streams of short calls).
_RESUME_AT_ONCE = 256
# A short stream whose packets came in more than one batch keeps waiting as rows (its
# pieces: _Live.segments) up to this many packets; beyond, it gets its StreamStats.
_WAIT_LIMIT = 4 * SMALL_BATCH


@dataclass(frozen=True, slots=True, order=True)
class StreamKey:
    """A stream as Wireshark keys it: source and destination address and port, and SSRC."""

    src: str
    src_port: int
    dst: str
    dst_port: int
    ssrc: int

    @property
    def flow(self) -> Flow:
        return (self.src, self.src_port, self.dst, self.dst_port)

    def __str__(self) -> str:
        return f"{self.src}:{self.src_port} -> {self.dst}:{self.dst_port} 0x{self.ssrc:08X}"


_KEY_SLOTS = tuple(vars(StreamKey)[name] for name in ("src", "src_port", "dst", "dst_port", "ssrc"))


def _stream_keys(keys: list[tuple[str, int, str, int, int]]) -> list[StreamKey]:
    """``[StreamKey(*key) for key in keys]``, the slots filled from the fields' columns
    (:func:`rtcscope.slotted.objects`: a frozen dataclass's ``__init__`` goes through
    ``object.__setattr__``, several times the time; finish makes one per stream)."""
    return objects(StreamKey, _KEY_SLOTS, items(keys, (0, 1, 2, 3, 4), (None,) * 5, 5))


@dataclass(slots=True)
class RtcpReportView:
    """What RTCP says about one stream (the latest of each)."""

    sender_packets: int | None = None  # from the stream's own SRs
    sender_octets: int | None = None
    sender_reports: int = 0
    fraction_lost: float | None = None  # percent, from a report block about this SSRC
    cumulative_lost: int | None = None
    jitter_ms: float | None = None
    round_trip_ms: float | None = None
    receiver_reports: int = 0
    xr_blocks: list[dict[str, Any]] = field(default_factory=list)
    goodbye: bool = False
    cname: str | None = None
    # SRTCP from or about the stream (RFC 3711 3.4): datagrams, of them encrypted (E = 1),
    # of those decrypted with a key, and the trailer layout that carried the index.
    srtcp_packets: int = 0
    srtcp_encrypted: int = 0
    srtcp_decrypted: int = 0
    srtcp_layout: str | None = None
    # RTCP values left out because no real stream could have them ("frame 78: ...").
    implausible: list[str] = field(default_factory=list)

    @property
    def encrypted(self) -> bool:
        """RTCP about this stream that could not be read: SRTCP without its key, or values
        that are noise (SRTCP whose trailer the capture does not show, corruption)."""
        return self.srtcp_encrypted > self.srtcp_decrypted or bool(self.implausible)


@dataclass(slots=True)
class RtcpPlace:
    """Where an RTCP datagram was seen: frame, capture time and flow."""

    frame: int
    ts_ns: int
    src: str
    src_port: int
    dst: str
    dst_port: int


@dataclass(slots=True)
class RtcpPacketRecord(RtcpPlace):
    """One RTCP packet as seen in the capture (for ``streams --rtcp``). ``srtcp``: it came
    from an SRTCP datagram (null cipher, or decrypted); ``round_trips_ms``: per report
    block, the round trip tshark's rule gives (:class:`rtcscope.rtp.rtcp.SenderReportLog`),
    filled by :func:`attach_rtcp`."""

    packet: rtcp_mod.RtcpPacket
    srtcp: bool = False
    round_trips_ms: tuple[float | None, ...] = ()

    def round_trip_ms(self, position: int) -> float | None:
        """The round trip of the report block at ``position`` (None: not known)."""
        return self.round_trips_ms[position] if position < len(self.round_trips_ms) else None


@dataclass(slots=True)
class SrtcpDatagram(RtcpPlace):
    """One SRTCP datagram (RFC 3711 3.4), kept whole so a key can decrypt it later. Only the
    first 8 bytes are clear: the first packet's type and the sender's SSRC."""

    ssrc: int
    data: bytes
    layout: rtcp_mod.SrtcpLayout
    encrypted: bool
    index: int  # -1: the trailer does not read (the datagram is cut short or damaged)
    decrypted: bool = False


@dataclass(slots=True)
class RtpStream:
    """One RTP stream; see the module docstring for the contract."""

    key: StreamKey
    payload_type: int
    payload_types: list[int]
    payload_names: list[str]
    codec: str | None
    clock_rate: int | None
    channels: int | None
    # The statistics (see the ``stats`` property): made when first read from the columns of
    # many short streams' summaries (StreamScanner.finish), or given whole.
    _stats: StatsSummary | tuple[StreamSummaries, int] = field(repr=False, compare=False)
    encrypted: bool
    source: str
    first_frame: int
    last_frame: int
    start_ns: int
    end_ns: int
    start_rel_s: float
    end_rel_s: float
    setup_frame: int | None = None
    call_id: str | None = None
    crypto: tuple[str, ...] = ()
    ssrc_changes: int = 0
    comfort_noise_packets: int = 0
    payload_bytes: int = 0
    rtcp: RtcpReportView | None = None
    dtmf: list[DtmfDigit] = field(default_factory=list)
    index: int = 0
    # How an encrypted stream is keyed: "sdes" (a=crypto in the SDP, RFC 4568), "dtls"
    # (DTLS on the flow or a=fingerprint, RFC 5764: keys never in the capture), "unknown"
    # (looks like SRTP, nothing says how); "" when not encrypted.
    srtp_keying: str = ""
    # The SSRC this one took over from on the same flow (a restart, at this one's first_frame).
    restart_of_ssrc: int | None = None

    @property
    def stats(self) -> StatsSummary:
        """Wireshark's numbers and ours (:class:`~rtcscope.rtp.stats.StatsSummary`)."""
        found = self._stats
        if isinstance(found, tuple):
            summaries, position = found
            found = self._stats = summaries.summary(position)
        return found

    def summary_values(self) -> tuple[Any, ...]:
        """The statistics' fields in :class:`~rtcscope.rtp.stats.StatsSummary`'s order,
        read from the bulk columns when the summary was not made (no object kept)."""
        found = self._stats
        if isinstance(found, tuple):
            return found[0].values(found[1])
        return summary_values(found)

    @property
    def packets_lost(self) -> tuple[int, int]:
        """``stats.packets`` and ``stats.lost``, without making the summary when not made."""
        found = self._stats
        if isinstance(found, tuple):
            return found[0].packets_lost(found[1])
        return found.packets, found.lost

    @property
    def problems(self) -> list[str]:
        """Plain-words problems; non-empty when tshark prints "X", and for a timestamp reset
        (which tshark marks only when the jump lands behind the first timestamp). A reset is
        named once; packets behind their epoch's base are counted after it."""
        st = self.stats
        return _problem_words(
            st.sequence_errors,
            st.timestamp_resets,
            st.timestamp_errors,
            st.problems,
            st.out_of_time_packets,
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        """Timestamp resets and an SSRC restart, each once, with its frame (JSON rows)."""
        return _event_rows(self, self.stats.timestamp_resets)


def _problem_words(
    sequence_errors: int,
    resets: tuple[TimestampReset, ...],
    timestamp_errors: int,
    problems: bool,
    out_of_time_packets: int,
) -> list[str]:
    """RtpStream.problems from the statistics' numbers."""
    found = []
    if sequence_errors:
        found.append(f"{sequence_errors} sequence errors")
    found += [f"timestamp reset at frame {reset.frame}" for reset in resets]
    if timestamp_errors:
        found.append(f"{timestamp_errors} timestamps going backwards")
    if problems and not found:
        found.append(f"{out_of_time_packets} packets out of Wireshark's time sequence")
    return found


def _event_rows(stream: RtpStream, resets: tuple[TimestampReset, ...]) -> list[dict[str, Any]]:
    """RtpStream.events with the statistics' timestamp resets."""
    rows: list[dict[str, Any]] = []
    if stream.restart_of_ssrc is not None:
        rows.append(
            {
                "type": "ssrc-restart",
                "frame": stream.first_frame,
                "time_s": round(stream.start_rel_s, 6),
                "previous_ssrc": stream.restart_of_ssrc,
                "previous_ssrc_hex": f"0x{stream.restart_of_ssrc:08X}",
            }
        )
    for reset in resets:
        rows.append(
            {
                "type": "timestamp-reset",
                "frame": reset.frame,
                "time_s": round(reset.time_ms / 1000.0, 6),
                "seq": reset.seq,
                "from_timestamp": reset.from_timestamp,
                "to_timestamp": reset.to_timestamp,
            }
        )
    return rows


@dataclass(slots=True)
class ScanResult:
    """Everything one pass found: streams, RTCP packets, and what was skipped."""

    streams: list[RtpStream]
    rtcp_packets: list[RtcpPacketRecord]
    announcements: list[MediaAnnouncement]
    first_ns: int | None
    srtcp: list[SrtcpDatagram] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StreamPacket:
    """One packet of a stream, given back by :func:`stream_packets`."""

    frame: int
    ts_ns: int
    key: StreamKey
    rtp: RtpPacket
    data: bytes


def quick_rtp_header(data: bytes | memoryview) -> tuple[int, int, int, int, int] | None:
    """(marker+PT byte, seq, timestamp, ssrc, payload length) when ``data`` can be an RTP
    packet as tshark's heuristic checks it (version 2, CSRCs, extension and padding inside the
    datagram, payload type not 72-76); None otherwise."""
    size = len(data)
    if size < 12:
        return None
    first, second, seq, ts, ssrc = _HEADER.unpack_from(data, 0)
    if first & 0xC0 != 0x80:
        return None
    pt = second & 0x7F
    if 72 <= pt <= 76:
        return None
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if offset + 4 > size:
            return None
        offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3])
    if offset > size:
        return None
    end = size
    if first & 0x20:
        pad = data[size - 1]
        if pad == 0 or size - offset < pad:
            return None
        end -= pad
    return second, seq, ts, ssrc, end - offset


# A stream's payload-type info before it has a dynamic type (static ones are not kept).
_NO_PT_INFO: Mapping[int, tuple[int, bool, str | None, int]] = MappingProxyType({})


class _ShortRows(NamedTuple):
    """Short streams waiting at the scanner (StreamScanner.add_row_groups): their packets
    as :func:`~rtcscope.rtp.stats.add_new_streams` takes them (``columns``, stream i's
    rows ``bounds[i]:bounds[i + 1]``), what the rows give each (``edges``: first frame,
    start ns, last frame, end ns, last seq, last timestamp, payload bytes, comfort noise
    packets, SRTP tag votes; one column a stream) and their payload type counts (pairs of
    stream position, payload type, packets, by stream)."""

    bounds: list[int]
    columns: PacketColumns
    edges: IntArray
    pair_stream: IntArray
    pair_pt: IntArray
    pair_packets: IntArray

    def pt_counts(self) -> list[dict[int, int]]:
        """Each stream's packets per payload type."""
        counts: list[dict[int, int]] = [{} for _ in range(len(self.bounds) - 1)]
        for stream, pt, n in zip(
            self.pair_stream.tolist(),
            self.pair_pt.tolist(),
            self.pair_packets.tolist(),
            strict=True,
        ):
            counts[stream][pt] = n
        return counts

    def payload_types(self) -> list[tuple[tuple[int, ...], int]]:
        """Each stream's payload types and main type (:func:`_main_payload_type` of
        :meth:`pt_counts`): the streams of one type (most) without a dict."""
        streams = len(self.bounds) - 1
        pairs = np.bincount(self.pair_stream, minlength=streams)
        firsts = np.cumsum(pairs) - pairs  # each stream's first pair (a stream has one)
        single: dict[int, tuple[tuple[int, ...], int]] = {}
        found: list[tuple[tuple[int, ...], int]] = []
        for pt in self.pair_pt[firsts].tolist():
            one = single.get(pt)
            if one is None:
                one = single[pt] = ((pt,), pt)
            found.append(one)
        if (pairs > 1).any():
            counts = self.pt_counts()
            for stream in np.flatnonzero(pairs > 1).tolist():
                found[stream] = _main_payload_type(counts[stream])
        return found


class _Live:
    """A stream being collected.

    The fields every stream sets (a short call's stream sets no other) are slots: no
    dictionary is made for them, and thousands of streams are made at once from columns
    (:func:`_new_lives`). Every other field is a class-level default until the stream sets
    it (in the instance's ``__dict__``, made then), so making one costs three stores
    rather than twenty. ``pt_counts`` is None until the stream's first count (a shared
    default dict would be changed in place)."""

    __slots__ = ("__dict__", "announcement", "source", "summary_of")

    # Made when the stream's packets go one by one or it outgrows its first batch; a
    # stream whose packets all came in one batch (short calls) has none: its rows wait
    # as columns (summary_of: which rows) and are summarised with the others at finish.
    stats: StreamStats | None = None
    summary_of: tuple[int, int] | None
    # A short stream given more packets in a later batch (few): its rows in the chunks
    # (chunk, first row, end row), its fields in the fields below; waited: its packets.
    segments: list[tuple[int, int, int]] | None = None
    waited = 0
    pt_counts: dict[int, int] | None = None
    # pt -> (analysis clock, comfort noise, encoding, rtpmap rate): fixed for the stream
    # (its announcement does not change), so looked up once per payload type.
    pt_info: Mapping[int, tuple[int, bool, str | None, int]] = _NO_PT_INFO
    first_frame = 0
    last_frame = 0
    start_ns = 0
    end_ns = 0
    payload_bytes = 0
    cn_packets = 0
    srtp_tag_votes = 0
    last_seq = -1
    last_ts = 0
    # Made when the stream has a packet the DTMF detector reads.
    dtmf: dict[int, DtmfDetector] | None = None
    dtmf_shape: dict[int, bool] | None = None

    def __init__(self, source: str, announcement: MediaAnnouncement | None) -> None:
        self.source = source
        self.announcement = announcement
        self.summary_of = None


_LIVE_SLOTS = tuple(vars(_Live)[name] for name in ("source", "announcement", "summary_of"))


def _new_lives(source: str, announcements: list[MediaAnnouncement | None]) -> list[_Live]:
    """``[_Live(source, ann) for ann in announcements]``, made from columns
    (:func:`rtcscope.slotted.objects`: a batch of short calls starts thousands)."""
    count = len(announcements)
    return objects(_Live, _LIVE_SLOTS, ([source] * count, announcements, [None] * count))


class StreamScanner:
    """Sans-IO stream discovery: feed decoded packets in capture order, then :meth:`finish`.

    ``announcements`` are the SDP media sections of the capture
    (:class:`rtcscope.sip.capture.MediaAnnouncement`); only RTP ones with an address name streams;
    ``rtp_ports`` forces RTP on those UDP ports; ``heuristic`` finds unsignalled streams.
    """

    def __init__(
        self,
        announcements: Iterable[MediaAnnouncement] = (),
        rtp_ports: Iterable[int] = (),
        heuristic: bool = True,
        with_rtcp: bool = False,
        with_dtmf: bool = False,
    ) -> None:
        self.announcements: list[MediaAnnouncement] = []
        # The frame of the packet being fed by the RTP tap's batch (-1: none), and the
        # announcements it delivered with an earlier frame than its own (see announce()).
        self.feeding_frame = -1
        self._late: dict[int, int] = {}
        self._rtp_protos: dict[str, bool] = {}  # SDP profile -> RTP or not (announce())
        self._proto_keying = _ProtoKeying()  # SDP profile -> keying it implies (finish())
        self._by_endpoint: dict[tuple[str, int], list[MediaAnnouncement]] = {}
        # Announced RTCP (address, port), of self.announcements[:_rtcp_read] (the set is
        # brought up to date when an RTCP datagram is looked at: _rtcp; announce keeps
        # only announcements with an address: None is never in it).
        self._rtcp_endpoints: set[tuple[str | None, int]] = set()
        self._rtcp_read = 0
        self.announce(sorted(announcements, key=lambda a: a.frame))
        self.rtp_ports = frozenset(rtp_ports)
        self.heuristic = heuristic
        self.with_rtcp = with_rtcp
        self.with_dtmf = with_dtmf
        self._live: dict[tuple[str, int, str, int, int], _Live] = {}
        self._pending: dict[tuple[str, int, str, int, int], list[tuple[Any, ...]]] = {}
        self._rejected_flows: set[Flow] = set()
        self._dtls_flows: set[Flow] = set()
        self.rtcp_packets: list[RtcpPacketRecord] = []
        self.srtcp: list[SrtcpDatagram] = []
        # RTCP datagrams that are not plain RTCP (SRTCP, corrupt): whole, by sender.
        self._unclear_rtcp: dict[tuple[str, int, str, int, int], list[tuple[int, int, bytes]]] = {}
        self._unclear_count = 0
        # Senders decided: their SRTCP layout, or None for damaged plain RTCP.
        self._rtcp_layouts: dict[tuple[str, int, str, int, int], rtcp_mod.SrtcpLayout | None] = {}
        self.first_ns: int | None = None
        # Columns of short streams' packets (bounds, columns as add_new_streams takes them),
        # kept until finish summarises them all (_Live.summary_of: chunk and position).
        self._short_rows: list[_ShortRows] = []

    # -- feeding ---------------------------------------------------------------------

    def announce(self, announcements: Iterable[MediaAnnouncement]) -> None:
        """SDP media sections, in capture order (each applies from its own frame on).

        Sections that are not RTP (m=application, ...) or have no address are left out."""
        rtp_protos = self._rtp_protos
        by_endpoint = self._by_endpoint
        for ann in announcements:
            address = ann.address
            if address is None:
                continue
            proto = ann.proto
            is_rtp = rtp_protos.get(proto)
            if is_rtp is None:  # a few profiles in a capture: read once each
                is_rtp = rtp_protos[proto] = ann.is_rtp
            if not is_rtp:
                continue
            self.announcements.append(ann)
            if ann.port:
                endpoint = (address, ann.port)
                found = by_endpoint.get(endpoint)
                if found is None:
                    by_endpoint[endpoint] = [ann]
                else:
                    found.append(ann)
                if ann.frame < self.feeding_frame:
                    # Its message was completed by an earlier frame than the one that
                    # delivered it (TCP): RTP rows before that one must not see it.
                    self._late[id(ann)] = self.feeding_frame

    def feed(self, packet: Packet) -> None:
        if self.first_ns is None:
            self.first_ns = packet.ts_ns
        payload = packet.payload
        if not payload or 63 < payload[0] < 128 or payload[0] > 191:
            return  # neither RTP/RTCP nor DTLS (SIP: every packet of the pass comes here)
        if packet.ip_proto != 17 or packet.fragment is not None:
            return
        size = len(payload)
        if size < 4:
            return
        first = payload[0]
        if first & 0xC0 != 0x80:
            if 20 <= first <= 63:  # DTLS on this flow (RFC 7983): its RTP is DTLS-SRTP
                self._dtls_flows.add((packet.src, packet.sport, packet.dst, packet.dport))
            return
        second = payload[1]
        if 192 <= second <= 223:  # RFC 5761 4: RTCP packet types
            if self.with_rtcp:
                self._rtcp(packet, payload)
            return
        header = quick_rtp_header(payload)
        if header is None:
            return
        marker_pt, seq, ts, ssrc, payload_len = header
        src, sport, dst, dport = packet.src, packet.sport, packet.dst, packet.dport
        key = (src, sport, dst, dport, ssrc)
        live = self._live.get(key)
        if live is None:
            kept = bytes(payload) if self.with_dtmf and self.heuristic and size <= 64 else b""
            entry = (packet.frame, packet.ts_ns, marker_pt, seq, ts, payload_len, kept)
            if not self._unfollowed(key, entry):
                return
            live = self._live[key]
        self._add(live, key, packet.frame, packet.ts_ns, marker_pt, seq, ts, payload_len, payload)

    def feed_unfollowed(
        self, key: tuple[str, int, str, int, int], entry: tuple[int, int, int, int, int, int, bytes]
    ) -> bool:
        """An RTP packet (headers already checked as :func:`quick_rtp_header` checks them) of
        a flow+SSRC that is not a stream yet, from the fast path: what :meth:`feed` does with
        it, except when it starts a stream (SDP or forced port): then it is not added, and
        True asks the caller to hand it over with the stream's next rows. ``entry``: frame,
        capture time (ns), marker+PT byte, sequence, timestamp, payload length and the
        datagram when ``with_dtmf`` and ``heuristic`` and it is at most 64 bytes, else b""."""
        if self._start(key, entry[0]) is not None:  # _unfollowed, one call less per stream
            return True
        if self.heuristic:
            self._candidate(key, entry)
        return False

    def _unfollowed(
        self, key: tuple[str, int, str, int, int], entry: tuple[int, int, int, int, int, int, bytes]
    ) -> bool:
        """True when the packet starts a stream (its key is live then); else it is a
        candidate of the heuristic (when on)."""
        if self._start(key, entry[0]) is not None:
            return True
        if self.heuristic:
            self._candidate(key, entry)
        return False

    def _announcement_for(self, endpoint: tuple[str, int], frame: int) -> MediaAnnouncement | None:
        found = None
        late = self._late
        for ann in self._by_endpoint.get(endpoint, ()):
            if ann.frame > frame or (late and late.get(id(ann), -1) >= frame):
                break  # the list is in order of delivery: the rest came later still
            found = ann
        return found

    def _start(self, key: tuple[str, int, str, int, int], frame: int) -> _Live | None:
        src, sport, dst, dport, _ = key
        if self._by_endpoint:
            ann = self._announcement_for((dst, dport), frame) or self._announcement_for(
                (src, sport), frame
            )
            if ann is not None:
                self._pending.pop(key, None)
                live = self._live[key] = _Live("sdp", ann)
                return live
        if sport in self.rtp_ports or dport in self.rtp_ports:
            live = self._live[key] = _Live("forced", None)
            return live
        return None

    def start_streams(
        self, keys: list[tuple[str, int, str, int, int]], frames: list[int]
    ) -> list[bool]:
        """Whether SDP or a forced port makes each key a stream at its frame (the batch's
        flows+SSRCs not followed yet, at their first row; those that are become streams):
        what :meth:`feed_unfollowed` does first, for many keys in one call."""
        by_endpoint = self._by_endpoint
        if not by_endpoint or self._late or self.rtp_ports:
            start = self._start
            return [start(key, frame) is not None for key, frame in zip(keys, frames, strict=True)]
        # What _start does, inline (one call per key less): no late announcement and no
        # forced port, so a key starts when the latest announcement of its destination, else
        # of its source, at or before its frame names it (the lists are in frame order).
        pending = self._pending
        get = by_endpoint.get
        started: list[bool] = []
        append = started.append
        # The streams started, made together after the loop.
        started_keys: list[tuple[str, int, str, int, int]] = []
        found_anns: list[MediaAnnouncement | None] = []
        # The destinations' announcements looked up without a Python step per key.
        for key, frame, announced in zip(
            keys, frames, map(get, map(_DESTINATION, keys)), strict=True
        ):
            found = _latest_announcement(announced, frame) if announced is not None else None
            if found is None:  # else the source's (rare: NAT, one-sided SDP)
                found = _latest_announcement(get((key[0], key[1]), ()), frame)
            if found is None:
                append(False)
                continue
            if pending:
                pending.pop(key, None)
            started_keys.append(key)
            found_anns.append(found)
            append(True)
        self._live.update(zip(started_keys, _new_lives("sdp", found_anns), strict=True))
        return started

    def may_feed_first(
        self, packets: list[Packet], keys: list[tuple[str, int, str, int, int]]
    ) -> bool:
        """Whether feeding ``packets`` (a batch's other packets, in capture order) before
        the RTP rows of the flows+SSRCs ``keys`` (not followed yet) that lie among them
        gives the result of capture order: announcements carry their frame (and a late one
        is held back, see :meth:`announce`), so only an RTP datagram of one of those keys
        among the packets (its order among their rows counts) or the heuristic's bound on
        candidates (the oldest is dropped) could tell."""
        waiting = set(keys) if packets else ()  # (a batch of RTP and SIP rows: no packet)
        rtp_like = 0
        for packet in packets:
            if packet.ip_proto != 17:
                continue
            payload = packet.payload
            if len(payload) < 12 or payload[0] & 0xC0 != 0x80:
                continue
            rtp_like += 1
            ssrc = int.from_bytes(payload[8:12], "big")
            if (packet.src, packet.sport, packet.dst, packet.dport, ssrc) in waiting:
                return False
        return not self.heuristic or len(self._pending) + rtp_like + len(keys) < _PENDING_KEYS_LIMIT

    def is_live(self, key: tuple[str, int, str, int, int]) -> bool:
        """True once ``key`` is a stream (SDP, forced port or confirmed by the heuristic)."""
        return key in self._live

    def followed(self, keys: Iterable[tuple[str, int, str, int, int]]) -> list[bool]:
        """:meth:`is_live` of each key (one call for a batch's streams)."""
        return list(map(self._live.__contains__, keys))

    def _encoding(self, live: _Live, pt: int) -> tuple[str | None, int]:
        ann = live.announcement
        if pt >= 96 and ann is not None:
            rtpmap = ann.rtpmaps.get(pt)
            if rtpmap is not None:
                return rtpmap[0], rtpmap[1]
        return None, 0

    def add_rows(
        self,
        key: tuple[str, int, str, int, int],
        *,
        frames: IntArray,
        ts_ns: IntArray,
        times_ms: npt.NDArray[np.float64],
        marker_pt: IntArray,
        seqs: IntArray,
        tss: IntArray,
        payload_len: IntArray,
        first_words: IntArray,
    ) -> None:
        """Packets of a stream already followed, as arrays in capture order (the fast path
        of :mod:`rtcscope.rtp.fastpath`); the same effect as :meth:`feed` for each."""
        self.add_row_groups(
            [key],
            [0, len(frames)],
            (frames, ts_ns, times_ms, marker_pt, seqs, tss, payload_len, first_words),
        )

    def add_row_groups(
        self,
        keys: list[tuple[str, int, str, int, int]],
        bounds: list[int],
        columns: Sequence[npt.NDArray[Any]],
    ) -> None:
        """Packets of followed streams as arrays: the rows ``bounds[i]:bounds[i + 1]`` are
        stream ``keys[i]``'s next packets, in capture order; ``columns``: frame, capture time
        (ns), time since the first frame (ms), marker+PT byte, sequence, timestamp, payload
        length, first payload word (-1: none read). The same effect as :meth:`feed` for
        each packet. The bookkeeping runs with NumPy across all the streams at once, the
        statistics per stream: :meth:`StreamStats.add_many` for many rows, packet by packet
        for a handful (short calls: NumPy's cost per call would exceed the work). A stream
        given its first packets here, a handful of them, gets no StreamStats: its rows and
        bookkeeping wait as columns (:class:`_ShortRows`), summarised with all the others
        at :meth:`finish` (:meth:`~rtcscope.rtp.stats.StreamSummaries.pending`); if a few
        more come in later batches, they wait too (:attr:`_Live.segments`), and a stream
        that outgrows that is resumed into a StreamStats. The scanner may keep the arrays
        of ``columns`` (not copied when every stream is new): they must not change after."""
        frames, ts_ns, times_ms, marker_pt, seqs, tss, payload_len, first_words = columns
        count = len(frames)
        lives = list(map(self._live.__getitem__, keys))
        fresh = [
            live.stats is None and live.summary_of is None and live.segments is None
            for live in lives
        ]
        waited: list[int] = []
        if self._short_rows:
            resumed = [live for live in lives if live.summary_of is not None]
            if resumed:  # more packets of short streams: their fields back, rows waiting
                self._reopen(resumed)
            waited = [-1 if live.segments is None else live.waited for live in lives]
        every_bound = np.array(bounds, dtype=np.int64)
        starts = every_bound[:-1]
        sizes = np.diff(every_bound)
        group = np.repeat(np.arange(len(keys)), sizes)
        pts = marker_pt & 0x7F
        # Each (stream, payload type) pair once: counts, the stream's clock and CN for it,
        # and whether the DTMF detector reads its rows (dynamic types named
        # telephone-event, or unnamed). Static types from a table, dynamic ones by the
        # stream's rtpmap.
        # present: the pairs (stream * 128 + payload type) in order, pair_counts: their
        # rows, pair_at: each row's pair's place in present.
        present, pair_at, pair_counts = _pairs(group * 128 + pts)
        present_pt = present & 0x7F
        static = present_pt < 96
        pair_clock = np.zeros(len(present), dtype=np.int64)
        pair_clock[static] = _STATIC_CLOCKS[present_pt[static]]
        pair_cn = (present_pt == 13).astype(np.int64)  # the dynamic ones set below
        pair_dtmf = np.zeros(len(present), dtype=bool)
        for place, pair in zip(
            np.flatnonzero(~static).tolist(), present[~static].tolist(), strict=True
        ):
            live, pt = lives[pair >> 7], pair & 0x7F
            clock, is_cn, encoding, _ = live.pt_info.get(pt) or self._pt_info(live, pt)
            pair_clock[place] = clock
            pair_cn[place] = is_cn
            pair_dtmf[place] = encoding is None or encoding.lower() == "telephone-event"
        clocks = pair_clock[pair_at]
        sums = [np.add.reduceat(payload_len, starts), np.add.reduceat(pair_cn[pair_at], starts)]
        # RFC 3711 4.2: an SRTP authentication tag makes a G.711 payload longer than the
        # samples the timestamp advanced by (one byte per sample); a stream's first row
        # follows its previous packet (from an earlier call, or none: -1).
        g711 = (pts == 0) | (pts == 8)
        if g711.any():
            prev_seq = np.empty(count, dtype=np.int64)
            prev_seq[1:] = seqs[:-1]
            prev_seq[starts] = -1  # a stream without packets yet (_Live's)
            prev_ts = np.empty(count, dtype=np.int64)
            prev_ts[1:] = tss[:-1]
            prev_ts[starts] = 0
            had = [index for index, is_fresh in enumerate(fresh) if not is_fresh]
            if had:
                prev_seq[starts[had]] = [lives[index].last_seq for index in had]
                prev_ts[starts[had]] = [lives[index].last_ts for index in had]
            follows = g711 & (prev_seq >= 0) & (seqs == ((prev_seq + 1) & 0xFFFF))
            extra = payload_len - ((tss - prev_ts) & 0xFFFFFFFF)
            votes = (follows & ((extra == 4) | (extra == 10))).astype(np.int64) - (
                follows & (extra == 0)
            )
            sums.append(np.add.reduceat(votes, starts))
        else:
            sums.append(np.zeros(len(keys), dtype=np.int64))
        ends = starts + sizes - 1
        # first frame, start (ns), last frame, end (ns), last seq, last timestamp, payload
        # bytes, comfort noise packets, SRTP tag votes: what the rows give each stream.
        edges = np.stack(
            (frames[starts], ts_ns[starts], frames[ends], ts_ns[ends], seqs[ends], tss[ends], *sums)
        )
        markers = marker_pt >= 0x80
        # Streams given their first packets here, a handful each: their rows and what they
        # give the stream wait as columns, summarised all at once at finish (or replayed
        # into the stream if more packets come: _stats_of).
        small = sizes <= SMALL_BATCH
        clock_ok = np.add.reduceat((clocks > 0) & (clocks < 1000), starts) == 0
        new = small & np.array(fresh, dtype=bool) & clock_ok
        # Short streams with rows waiting whose next few rows wait with them (their fields
        # go on below, as any stream's).
        if waited:
            before = np.array(waited, dtype=np.int64)
            more = (before >= 0) & clock_ok & (before + sizes <= _WAIT_LIMIT)
        else:
            more = np.zeros(len(keys), dtype=bool)
        old_pairs = ~new[present >> 7]
        for pair, n in zip(
            present[old_pairs].tolist(), pair_counts[old_pairs].tolist(), strict=True
        ):
            live = lives[pair >> 7]
            counts = live.pt_counts
            if counts is None:
                counts = live.pt_counts = {}
            counts[pair & 0x7F] = counts.get(pair & 0x7F, 0) + n
        any_more = bool(more.any())
        if new.any() or any_more:
            # The new streams' rows, then those of the streams whose rows wait (all the
            # rows, as they are, when every stream is new: a batch of short calls).
            every_new = not any_more and bool(new.all())
            picked = None if every_new else np.flatnonzero(new[group])
            new_streams = np.flatnonzero(new)
            chunk = len(self._short_rows)
            for position, index in enumerate(new_streams.tolist()):
                lives[index].summary_of = (chunk, position)
            chunk_bounds = np.concatenate(([0], np.cumsum(sizes[new]))).tolist()
            if any_more:
                assert picked is not None
                picked = np.concatenate((picked, np.flatnonzero(more[group])))
                at = chunk_bounds[-1]
                for index, size in zip(
                    np.flatnonzero(more).tolist(), sizes[more].tolist(), strict=True
                ):
                    live = lives[index]
                    assert live.segments is not None
                    live.segments.append((chunk, at, at + size))
                    live.waited += size
                    at += size
            position_of = np.cumsum(new) - 1
            new_pairs = present[~old_pairs]
            kept: PacketColumns = (frames, times_ms, seqs, tss, pts, markers, clocks)
            if picked is not None:
                kept = (
                    frames[picked],
                    times_ms[picked],
                    seqs[picked],
                    tss[picked],
                    pts[picked],
                    markers[picked],
                    clocks[picked],
                )
            self._short_rows.append(
                _ShortRows(
                    chunk_bounds,
                    kept,
                    edges if every_new else edges[:, new_streams],
                    position_of[new_pairs >> 7],
                    new_pairs & 0x7F,
                    pair_counts[~old_pairs],
                )
            )
        # Streams with a handful of rows that had packets before: add() packet by packet.
        one_by_one = small & ~new & ~more
        rows: list[list[Any]] = []
        if one_by_one.any():
            # Only their rows as lists (the others may be most of the batch), stream after
            # stream in the order of ``keys``.
            few_rows = np.flatnonzero(one_by_one[group])
            rows = [
                c[few_rows].tolist() for c in (frames, times_ms, seqs, tss, pts, markers, clocks)
            ]
        few_at = 0
        old = np.flatnonzero(~new)
        if waited:
            # Streams whose rows waited and which outgrow that: their StreamStats first.
            outgrown = [
                lives[index]
                for index in np.flatnonzero(~new & ~more).tolist()
                if waited[index] >= 0
            ]
            if outgrown:
                self._replay(outgrown)
        for index, edge, few, waits in zip(
            old.tolist(),
            edges[:, old].T.tolist(),
            one_by_one[old].tolist(),
            more[old].tolist(),
            strict=True,
        ):
            live = lives[index]
            first_frame, start_ns, last_frame, end_ns, last_seq, last_ts, paid, cn, votes = edge
            if live.first_frame == 0:
                live.first_frame = first_frame
                live.start_ns = start_ns
            live.last_frame = last_frame
            live.end_ns = end_ns
            live.last_seq = last_seq
            live.last_ts = last_ts
            live.payload_bytes += paid
            live.cn_packets += cn
            live.srtp_tag_votes += votes
            if waits:
                continue
            a, b = bounds[index], bounds[index + 1]
            stats = live.stats or self._stats_of(live)
            if few:
                add = stats.add
                end = few_at + b - a
                for packet in zip(*(column[few_at:end] for column in rows), strict=True):
                    add(*packet)
                few_at = end
                continue
            stats.add_many(
                frames[a:b],
                times_ms[a:b],
                seqs[a:b],
                tss[a:b],
                pts[a:b],
                markers[a:b],
                clocks[a:b],
            )
        if self.with_dtmf and pair_dtmf.any():
            at = np.flatnonzero(pair_dtmf[pair_at])
            for stream, frame, ns, pt, ts, length, word in zip(
                group[at].tolist(),
                *(column[at].tolist() for column in (frames, ts_ns, pts, tss, payload_len)),
                first_words[at].tolist(),
                strict=True,
            ):
                self._dtmf(
                    lives[stream],
                    keys[stream][4],
                    frame,
                    ns,
                    pt,
                    ts,
                    length,
                    word.to_bytes(4, "big") if word >= 0 else None,
                )

    def _add(
        self,
        live: _Live,
        key: tuple[str, int, str, int, int],
        frame: int,
        ts_ns: int,
        marker_pt: int,
        seq: int,
        ts: int,
        payload_len: int,
        payload: memoryview | bytes,
    ) -> None:
        body = None
        # ``payload`` is empty for a heuristic stream's first packets when they were too long
        # to be events (see feed()): those reach the DTMF detector in no case.
        if self.with_dtmf and marker_pt & 0x7F >= 96 and payload:
            start = len(payload) - payload_len - _padding(payload)
            body = bytes(payload[start : start + 4])
        assert self.first_ns is not None
        time_ms = relative_ms(ts_ns - self.first_ns)
        self._add_one(live, key, frame, ts_ns, time_ms, marker_pt, seq, ts, payload_len, body)

    def _stats_of(self, live: _Live) -> StreamStats:
        """The stream's StreamStats, made now (its waiting short rows, if any, replayed)."""
        if live.summary_of is not None:
            self._reopen([live])
        stats = live.stats
        if stats is None:
            if live.segments is not None:
                self._replay([live])
                assert live.stats is not None
                return live.stats
            stats = live.stats = StreamStats()
        return stats

    def _reopen(self, lives: list[_Live]) -> None:
        """Short streams whose rows wait (_ShortRows) get more packets: what their rows gave
        each stream back in its fields, and the rows go on waiting as its first segment
        (:attr:`_Live.segments`); a chunk's streams at once."""
        by_chunk: dict[int, list[tuple[_Live, int]]] = {}
        for live in lives:
            assert live.summary_of is not None
            chunk, position = live.summary_of
            live.summary_of = None
            by_chunk.setdefault(chunk, []).append((live, position))
        for chunk, members in by_chunk.items():
            rows = self._short_rows[chunk]
            positions = np.array([position for _, position in members], dtype=np.int64)
            counts: dict[int, dict[int, int]] = {position: {} for _, position in members}
            picked = np.flatnonzero(np.isin(rows.pair_stream, positions))
            for position, pt, n in zip(
                rows.pair_stream[picked].tolist(),
                rows.pair_pt[picked].tolist(),
                rows.pair_packets[picked].tolist(),
                strict=True,
            ):
                counts[position][pt] = n
            bounds = rows.bounds
            for (live, position), edge in zip(
                members, rows.edges[:, positions].T.tolist(), strict=True
            ):
                (
                    live.first_frame,
                    live.start_ns,
                    live.last_frame,
                    live.end_ns,
                    live.last_seq,
                    live.last_ts,
                    live.payload_bytes,
                    live.cn_packets,
                    live.srtp_tag_votes,
                ) = edge
                live.pt_counts = counts[position]
                first, end = bounds[position], bounds[position + 1]
                live.segments = [(chunk, first, end)]
                live.waited = end - first

    def _replay(self, lives: list[_Live]) -> None:
        """Streams whose rows wait in segments get their StreamStats with those rows in it:
        many at once through add_new_streams, a few packet by packet (NumPy would cost more
        than the work)."""
        chunks = self._short_rows
        stats = [StreamStats() for _ in lives]
        if len(lives) >= _RESUME_AT_ONCE:
            pieces: list[tuple[npt.NDArray[Any], ...]] = []
            ends = [0]
            for live in lives:
                assert live.segments is not None
                for chunk, first, end in live.segments:
                    pieces.append(tuple(c[first:end] for c in chunks[chunk].columns))
                ends.append(ends[-1] + live.waited)
            frames, times, seqs, tss, pts, markers, clocks = (
                np.concatenate(column) for column in zip(*pieces, strict=True)
            )
            add_new_streams(stats, ends, (frames, times, seqs, tss, pts, markers, clocks))
        else:
            for live, stat in zip(lives, stats, strict=True):
                assert live.segments is not None
                add = stat.add
                for chunk, first, end in live.segments:
                    columns = (c[first:end].tolist() for c in chunks[chunk].columns)
                    for packet in zip(*columns, strict=True):
                        add(*packet)
        for live, stat in zip(lives, stats, strict=True):
            live.stats = stat
            live.segments = None

    def _summarize_short_rows(
        self, waiting: list[_Live]
    ) -> tuple[StreamSummaries | None, list[int]]:
        """The summaries of every short stream whose rows wait (one table: NumPy's cost is
        per step, not per stream; made when first read beyond packets and lost, which a
        call list reads alone): each chunk's streams, then the ``waiting`` streams (their
        segments), and where each chunk's streams begin in it (and the waiting ones, last)."""
        chunks = self._short_rows
        self._short_rows = []
        if not chunks:
            return None, []
        chunk_at = [0]
        bounds = [0]
        # The rows taken: each chunk's streams', then the waiting streams' segments, as
        # (first row, rows) in the chunks' columns end to end.
        firsts: list[int] = []
        lengths: list[int] = []
        base = 0
        for rows in chunks:
            chunk_bounds = rows.bounds
            bounds.extend((np.array(chunk_bounds[1:]) + bounds[-1]).tolist())
            chunk_at.append(chunk_at[-1] + len(chunk_bounds) - 1)
            firsts.append(base)
            lengths.append(chunk_bounds[-1])
            base += len(rows.columns[0])
        chunk_base = firsts.copy()
        for live in waiting:
            assert live.segments is not None
            for chunk, first, end in live.segments:
                firsts.append(chunk_base[chunk] + first)
                lengths.append(end - first)
            bounds.append(bounds[-1] + live.waited)
        parts = zip(*(c.columns for c in chunks), strict=True)
        if bounds[-1] == base:
            every = [np.concatenate(column) for column in parts]
        else:  # rows of later segments among them, or waiting streams: taken out
            sizes = np.array(lengths, dtype=np.int64)
            ends = np.cumsum(sizes)
            taken = np.repeat(np.array(firsts, dtype=np.int64) - ends + sizes, sizes)
            taken += np.arange(ends[-1])
            every = [np.concatenate(column)[taken] for column in parts]  # a column at a time
        frames, times, seqs, tss, pts, markers, clocks = every
        columns = (frames, times, seqs, tss, pts, markers, clocks)
        return StreamSummaries.pending(bounds, columns), chunk_at

    def _pt_info(self, live: _Live, pt: int) -> tuple[int, bool, str | None, int]:
        if pt < 96:
            return _STATIC_PT_INFO[pt]
        encoding, rate = self._encoding(live, pt)
        is_cn = pt == 13 or (encoding is not None and encoding.upper() == "CN")
        info = (analysis_clock_hz(pt, encoding, rate), is_cn, encoding, rate)
        live.pt_info = {**live.pt_info, pt: info}  # a few dynamic types per stream at most
        return info

    def _add_one(
        self,
        live: _Live,
        key: tuple[str, int, str, int, int],
        frame: int,
        ts_ns: int,
        time_ms: float,
        marker_pt: int,
        seq: int,
        ts: int,
        payload_len: int,
        body: bytes | None,
    ) -> None:
        """One packet of a stream. ``body``: the first 4 payload bytes of a dynamic payload
        type's packet when DTMF is looked for (None: not fed to the DTMF detector)."""
        pt = marker_pt & 0x7F
        stats = live.stats
        if stats is None or live.summary_of is not None:
            # a new stream, or more packets of a short stream: its rows replayed first
            stats = self._stats_of(live)
        if live.first_frame == 0:
            live.first_frame = frame
            live.start_ns = ts_ns
        live.last_frame = frame
        live.end_ns = ts_ns
        counts = live.pt_counts
        if counts is None:
            counts = live.pt_counts = {}
        counts[pt] = counts.get(pt, 0) + 1
        live.payload_bytes += payload_len
        clock, is_cn, _, _ = live.pt_info.get(pt) or self._pt_info(live, pt)
        stats.add(frame, time_ms, seq, ts, pt, marker_pt >= 0x80, clock)
        if is_cn:
            live.cn_packets += 1
        if (pt == 0 or pt == 8) and live.last_seq >= 0 and seq == (live.last_seq + 1) & 0xFFFF:
            # RFC 3711 4.2: an SRTP authentication tag makes a G.711 payload longer than the
            # samples the timestamp advanced by (one byte per sample).
            step = (ts - live.last_ts) & 0xFFFFFFFF
            if payload_len - step in (4, 10):
                live.srtp_tag_votes += 1
            elif payload_len == step:
                live.srtp_tag_votes -= 1
        live.last_seq = seq
        live.last_ts = ts
        if self.with_dtmf and pt >= 96:
            self._dtmf(live, key[4], frame, ts_ns, pt, ts, payload_len, body)

    def _dtmf(
        self,
        live: _Live,
        ssrc: int,
        frame: int,
        ts_ns: int,
        pt: int,
        ts: int,
        payload_len: int,
        body: bytes | None,
    ) -> None:
        """A dynamic payload type's packet, when DTMF is looked for."""
        _, _, encoding, rate = live.pt_info.get(pt) or self._pt_info(live, pt)
        is_event = encoding is not None and encoding.lower() == "telephone-event"
        if encoding is None:
            # No rtpmap: RFC 4733 2.3 payloads are 4 bytes (or 4 per redundant block).
            shape_ok = payload_len == 4
            if live.dtmf_shape is None:
                live.dtmf_shape = {}
            live.dtmf_shape[pt] = live.dtmf_shape.get(pt, True) and shape_ok
            is_event = shape_ok
        if is_event and body is not None:
            if live.dtmf is None:
                live.dtmf = {}
            detector = live.dtmf.get(pt)
            if detector is None:
                from rtcscope.rtp.events import DtmfDetector  # (RTP events only: at first use)

                detector = live.dtmf[pt] = DtmfDetector()
            detector.feed(frame, ts_ns, ssrc, ts, body, rate)

    def _rtcp(self, packet: Packet, payload: memoryview) -> None:
        from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

        endpoints = self._rtcp_endpoints
        announced_now = self.announcements
        for ann in announced_now[self._rtcp_read :]:
            if ann.rtcp_port:
                endpoints.add((ann.address, ann.rtcp_port))
        self._rtcp_read = len(announced_now)
        announced = (packet.dst, packet.dport) in endpoints or (
            packet.src,
            packet.sport,
        ) in endpoints
        if not announced and payload[1] not in (rtcp_mod.RtcpType.SR, rtcp_mod.RtcpType.RR):
            # RFC 3550 A.2: a compound packet starts with an SR or RR (in SRTCP too: the
            # first header is clear); others are not counted unless the port is an
            # announced RTCP port.
            return
        flow = (packet.src, packet.sport, packet.dst, packet.dport)
        parsed = rtcp_mod.parse_plain_rtcp(payload)
        if parsed is not None:
            self._keep_rtcp(packet.frame, packet.ts_ns, flow, parsed, srtcp=False)
        elif len(payload) < 8:
            self._keep_damaged_rtcp(packet.frame, packet.ts_ns, flow, payload)
        else:
            # Not RTCP to its last byte: SRTCP or damage. Which one shows only across the
            # sender's datagrams (the SRTCP index grows): a few are kept until it is decided.
            (ssrc,) = struct.unpack_from("!I", payload, 4)
            sender = (*flow, ssrc)
            entry = (packet.frame, packet.ts_ns, bytes(payload))
            if sender in self._rtcp_layouts:
                self._place_unclear(sender, self._rtcp_layouts[sender], entry)
                return
            pending = self._unclear_rtcp.setdefault(sender, [])
            pending.append(entry)
            self._unclear_count += 1
            if len(pending) >= _SRTCP_DECIDE_AFTER or self._unclear_count >= _UNCLEAR_RTCP_LIMIT:
                self._decide_sender(sender)

    def _keep_rtcp(
        self,
        frame: int,
        ts_ns: int,
        flow: Flow,
        parsed: list[rtcp_mod.RtcpPacket],
        *,
        srtcp: bool,
    ) -> None:
        for item in parsed:
            self.rtcp_packets.append(RtcpPacketRecord(frame, ts_ns, *flow, item, srtcp))

    def _keep_damaged_rtcp(
        self, frame: int, ts_ns: int, flow: Flow, payload: bytes | memoryview
    ) -> None:
        """The packets before the first fault (tshark dissects those too); their values
        meet the plausibility checks of :func:`attach_rtcp`."""
        from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

        try:
            parsed = rtcp_mod.parse_compound(payload, strict=False)
        except RtpError:
            return
        self._keep_rtcp(frame, ts_ns, flow, parsed, srtcp=False)

    def _decide_sender(self, sender: tuple[str, int, str, int, int]) -> None:
        """Tell SRTCP from damaged RTCP for one sender (flow and SSRC) from the datagrams
        kept so far; the sender's later datagrams follow the same decision."""
        from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

        entries = self._unclear_rtcp.pop(sender)
        self._unclear_count -= len(entries)
        layout = rtcp_mod.find_srtcp_layout([data for _, _, data in entries])
        self._rtcp_layouts[sender] = layout
        for entry in entries:
            self._place_unclear(sender, layout, entry)

    def _place_unclear(
        self,
        sender: tuple[str, int, str, int, int],
        layout: rtcp_mod.SrtcpLayout | None,
        entry: tuple[int, int, bytes],
    ) -> None:
        from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

        frame, ts_ns, data = entry
        src, sport, dst, dport, ssrc = sender
        flow = (src, sport, dst, dport)
        if layout is None:
            self._keep_damaged_rtcp(frame, ts_ns, flow, data)
            return
        trailer = layout.read(data)
        if trailer is None:  # a damaged datagram of an SRTCP sender: index unknown
            trailer = rtcp_mod.SrtcpTrailer(True, -1, len(data))
        self.srtcp.append(
            SrtcpDatagram(frame, ts_ns, *flow, ssrc, data, layout, trailer.encrypted, trailer.index)
        )
        if not trailer.encrypted:  # E = 0: the null cipher, readable (RFC 3711 3.4)
            parsed = rtcp_mod.parse_compound(data[: trailer.rtcp_end])
            self._keep_rtcp(frame, ts_ns, flow, parsed, srtcp=True)

    def _resolve_unclear_rtcp(self) -> None:
        """Decide the senders still undecided; RTCP and SRTCP back in capture order."""
        for sender in list(self._unclear_rtcp):
            self._decide_sender(sender)
        self.srtcp.sort(key=lambda d: d.frame)
        self.rtcp_packets.sort(key=lambda r: r.frame)

    # -- heuristic -------------------------------------------------------------------

    def _candidate(
        self,
        key: tuple[str, int, str, int, int],
        entry: tuple[int, int, int, int, int, int, bytes],
    ) -> None:
        """A datagram no SDP or forced port claimed: keep it until a second packet of the
        same flow and SSRC follows it (sequence +1..+100, timestamp forward < 2^24)."""
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= _PENDING_KEYS_LIMIT:
                del self._pending[next(iter(self._pending))]
            self._pending[key] = [entry]
            return
        previous = pending[-1]
        seq_step = (entry[3] - previous[3]) & 0xFFFF
        ts_step = (entry[4] - previous[4]) & 0xFFFFFFFF
        if 1 <= seq_step <= 100 and ts_step < 1 << 24:
            del self._pending[key]
            live = self._live[key] = _Live("heuristic", None)
            for frame, ts_ns, marker_pt, seq, ts, payload_len, data in pending:
                self._add(live, key, frame, ts_ns, marker_pt, seq, ts, payload_len, data)
            frame, ts_ns, marker_pt, seq, ts, payload_len, data = entry
            self._add(live, key, frame, ts_ns, marker_pt, seq, ts, payload_len, data)
            return
        if len(pending) >= _PENDING_LIMIT:
            # Eight packets and never two in sequence: not RTP; start again from this one.
            pending.clear()
        pending.append(entry)

    # -- results ---------------------------------------------------------------------

    def finish(self) -> ScanResult:
        first_ns = self.first_ns or 0  # None: no packet, so no stream either
        # Short streams whose rows still wait: summarised in bulk, all in one table.
        chunks = self._short_rows
        # Short streams given more packets in later batches whose rows still wait too.
        waiting = [live for live in self._live.values() if live.segments is not None]
        bulk, chunk_at = self._summarize_short_rows(waiting)
        waiting_at = (
            {id(live): at for at, live in enumerate(waiting, start=chunk_at[-1])} if waiting else {}
        )
        # The streams as columns, a list per field (thousands of short calls: a Python step
        # per stream and field costs more than the work), made at the end in one go. First
        # the short streams whose rows wait in the chunks (their fields from the chunks'
        # edges, all at once), then the others (from their _Live). The order made does not
        # count: the streams are put in order below.
        kept: list[tuple[str, int, str, int, int]] = []
        lives: list[_Live] = []
        summaries: list[StatsSummary | tuple[StreamSummaries, int]] = []
        types: list[tuple[tuple[int, ...], int]] = []
        # first frame, start (ns), last frame, end (ns), payload bytes, comfort noise
        # packets, SRTP tag votes: a row each, a column a stream.
        edges = np.zeros((7, 0), dtype=np.int64)
        items = self._live.items()
        if chunks:
            assert bulk is not None
            # (C-level steps over the thousands of them: compress, map)
            places_of = list(map(_SUMMARY_OF, self._live.values()))
            short = list(map(is_not, places_of, repeat(None)))
            short_lives = list(compress(self._live.values(), short))
            if short_lives:
                kept.extend(compress(self._live, short))
                lives.extend(short_lives)
                # Each one's place in the bulk: its chunk's first, plus its position.
                places = np.fromiter(
                    chain.from_iterable(compress(places_of, short)),
                    dtype=np.int64,
                    count=2 * len(short_lives),
                ).reshape(-1, 2)
                ats = np.array(chunk_at, dtype=np.int64)[places[:, 0]] + places[:, 1]
                every_edge = np.concatenate([rows.edges for rows in chunks], axis=1)
                edges = every_edge[_SHORT_EDGES][:, ats]
                at_list = ats.tolist()
                short_types = [found for rows in chunks for found in rows.payload_types()]
                types.extend(map(short_types.__getitem__, at_list))
                summaries.extend(zip(repeat(bulk), at_list))
        other_edges: list[tuple[int, ...]] = []
        for key, live in items:
            if live.summary_of is not None:
                continue
            stats = live.stats
            if live.segments is not None:
                assert bulk is not None
                summaries.append((bulk, waiting_at[id(live)]))
            elif stats is None or stats.total_nr == 0:
                continue
            else:
                summaries.append(stats.summary())
            kept.append(key)
            lives.append(live)
            types.append(_main_payload_type(live.pt_counts or {}))
            other_edges.append(
                (
                    live.first_frame,
                    live.start_ns,
                    live.last_frame,
                    live.end_ns,
                    live.payload_bytes,
                    live.cn_packets,
                    live.srtp_tag_votes,
                )
            )
        if other_edges:
            edges = np.concatenate((edges, np.array(other_edges, dtype=np.int64).T), axis=1)
        made = self._streams(kept, lives, summaries, types, edges, first_ns)
        firsts = edges[0].tolist()
        # By first frame (a frame starts one stream at most: ties, if any, by key).
        first_of = np.array(firsts, dtype=np.int64)
        by_frame = np.argsort(first_of, kind="stable")
        if len(firsts) > 1 and not (np.diff(first_of[by_frame]) > 0).all():
            by_frame = np.array(
                sorted(range(len(made)), key=lambda at: (firsts[at], kept[at])), dtype=np.int64
            )
        ranks = by_frame.tolist()
        streams = [made[rank] for rank in ranks]
        deque(map(_SET_INDEX, streams, range(1, len(streams) + 1)), 0)
        # Other SSRCs seen on the same flow (a restart, a new source behind an SBC) and a
        # restart: the SSRC before it on the flow had stopped when this one began. (Flow
        # numbers only group: any numbering gives the same.) The flows counted in one go:
        # numbered only when some flow has more than one SSRC.
        if len(set(map(_FLOW_OF_KEY, kept))) < len(streams):
            flow_ids: dict[Flow, int] = {}
            flow_id = flow_ids.setdefault
            flows = [flow_id(flow, len(flow_ids)) for flow in map(_FLOW_OF_KEY, kept)]
            flow_of = np.array(flows, dtype=np.int64)[by_frame]
            # Each stream after the one before it on its flow (capture order within a flow).
            by_flow = np.argsort(flow_of, kind="stable")
            same = flow_of[by_flow[1:]] == flow_of[by_flow[:-1]]
            later, earlier = by_flow[1:][same], by_flow[:-1][same]
            first_frames, last_frames = edges[0][by_frame], edges[2][by_frame]
            restarts = last_frames[earlier] < first_frames[later]
            for at, before in zip(
                later[restarts].tolist(), earlier[restarts].tolist(), strict=True
            ):
                streams[at].restart_of_ssrc = streams[before].key.ssrc
            others = np.bincount(flow_of) - 1
            for stream, changes in zip(streams, others[flow_of].tolist(), strict=True):
                stream.ssrc_changes = changes
        self._resolve_unclear_rtcp()
        mark_srtcp_streams(streams, self.srtcp)
        if self.with_rtcp:
            attach_rtcp(streams, self.rtcp_packets, self.srtcp)
        return ScanResult(
            streams,
            self.rtcp_packets,
            self.announcements,
            self.first_ns,
            self.srtcp,
        )

    def _streams(
        self,
        keys: list[tuple[str, int, str, int, int]],
        lives: list[_Live],
        summaries: list[StatsSummary | tuple[StreamSummaries, int]],
        types: list[tuple[tuple[int, ...], int]],
        edges: IntArray,
        first_ns: int,
    ) -> list[RtpStream]:
        """The RtpStreams of ``keys`` (each stream's _Live, summary, payload types and main
        type, and its column of ``edges``: see finish), field by field over all of them."""
        if not keys:
            return []
        count = len(keys)
        # What the streams read of their announcements (None: the heuristic's, a forced
        # port's), a column each, read in one pass.
        announced_at, announcement_width = _announced_at()
        rtpmaps_of, protos, cryptos, fingerprints, setup_frames, call_ids = items(
            list(map(_ANNOUNCEMENT, lives)), announced_at, _NOT_ANNOUNCED, announcement_width
        )
        # What a stream takes from its announcement and payload types, worked out once per
        # (announcement's rtpmaps, payload types, main type): thousands of short calls share
        # a few. (Media sections with the same formats share their rtpmaps: sip.capture.)
        described: dict[
            tuple[int, tuple[int, ...], int],
            tuple[tuple[str, ...], str | None, int | None, int | None],
        ] = {}
        whats = []
        for rtpmaps, (payload_types, main_pt) in zip(rtpmaps_of, types, strict=True):
            described_as = (id(rtpmaps), payload_types, main_pt)
            what = described.get(described_as)
            if what is None:
                what = described[described_as] = _describe(rtpmaps, payload_types, main_pt)
            whats.append(what)
        names, codecs, clock_rates, channels = zip(*whats, strict=True)
        payload_types_of, main_pts = items(types, (0, 1), (None, None), 2)
        del rtpmaps_of, whats  # (the columns read are let go as soon as done with: finish
        # makes the streams at the scan's peak of memory)
        # How an encrypted stream is keyed: a=crypto, else a=fingerprint, else an SRTP
        # profile (RTP/SAVP, UDP/TLS/RTP/SAVPF, ...) (no announcement: ""); then DTLS seen
        # on the flow, else the SRTP tag's votes.
        keyings = list(map(self._proto_keying.__getitem__, protos))
        for at in compress(range(count), fingerprints) if any(fingerprints) else ():
            keyings[at] = "dtls"
        crypto_lines: list[tuple[str, ...]] = [()] * count
        if any(cryptos):
            for at in compress(range(count), cryptos):
                keyings[at] = "sdes"
                crypto_lines[at] = tuple(c.raw for c in cryptos[at])
        del protos, fingerprints, cryptos
        votes = edges[6]
        dtls_flows = self._dtls_flows
        for at in range(len(keys)) if dtls_flows else np.flatnonzero(votes > 0).tolist():
            key, keying = keys[at], keyings[at]
            if (
                dtls_flows
                and keying != "sdes"
                and (
                    (key[0], key[1], key[2], key[3]) in dtls_flows
                    or (key[2], key[3], key[0], key[1]) in dtls_flows
                )
            ):
                keyings[at] = "dtls"
            elif not keying and votes[at] > 0:
                keyings[at] = "unknown"
        first_frames, start_ns, last_frames, end_ns, paid, cn, _ = edges.tolist()
        return dataclass_objects(
            RtpStream,
            _STREAM_SLOTS,
            {
                "key": _stream_keys(keys),
                "payload_type": main_pts,
                "payload_types": list(map(list, payload_types_of)),
                "payload_names": list(map(list, names)),
                "codec": codecs,
                "clock_rate": clock_rates,
                "channels": channels,
                "_stats": summaries,
                "encrypted": list(map(bool, keyings)),
                "source": list(map(_SOURCE, lives)),
                "first_frame": first_frames,
                "last_frame": last_frames,
                "start_ns": start_ns,
                "end_ns": end_ns,
                "start_rel_s": ((edges[1] - first_ns) / 1e9).tolist(),
                "end_rel_s": ((edges[3] - first_ns) / 1e9).tolist(),
                "setup_frame": setup_frames,
                "call_id": call_ids,
                "crypto": crypto_lines,
                "comfort_noise_packets": cn,
                "payload_bytes": paid,
                "dtmf": [_digits(live) if live.dtmf else [] for live in lives],
                "srtp_keying": keyings,
                # (what finish does not know yet: the dataclass's defaults)
                **default_columns(_STREAM_LATER, count),
            },
        )


_SET_INDEX = vars(RtpStream)["index"].__set__  # the slot, set without a Python loop
_STREAM_SLOTS = dataclass_slots(RtpStream)
_VIEW_SLOTS = dataclass_slots(RtcpReportView)
_VIEW_DEFAULTS = dataclass_defaults(RtcpReportView)
_STREAM_LATER = dataclass_defaults(RtpStream, ("ssrc_changes", "rtcp", "index", "restart_of_ssrc"))
_SUMMARY_OF = attrgetter("summary_of")
_ANNOUNCEMENT = attrgetter("announcement")
# What finish reads of a stream's announcement (a MediaAnnouncement: a NamedTuple, read by
# position: _announced_at), and what a stream without one reads instead (the profile "" is
# keyed by nothing).
_ANNOUNCED = ("rtpmaps", "proto", "crypto", "fingerprints", "frame", "call_id")
_NOT_ANNOUNCED = (None, "", (), (), None, None)


def _announced_at() -> tuple[tuple[int, ...], int]:
    """The positions of ``_ANNOUNCED`` in a MediaAnnouncement, and its width (sip.capture
    is imported when announcements are read: not with this module)."""
    from rtcscope.sip.capture import MediaAnnouncement

    fields = MediaAnnouncement._fields
    return tuple(map(fields.index, _ANNOUNCED)), len(fields)


_SOURCE = attrgetter("source")
# The rows of _ShortRows.edges that finish reads: first frame, start (ns), last frame, end
# (ns), payload bytes, comfort noise packets, SRTP tag votes.
_SHORT_EDGES = [0, 1, 2, 3, 6, 7, 8]


class _ProtoKeying(dict[str, str]):
    """SDP profile -> how a stream it announces is keyed without a=crypto or a=fingerprint:
    "unknown" for an SRTP profile (RTP/SAVP, UDP/TLS/RTP/SAVPF, ...), else "" (once per
    profile: a capture has a few)."""

    def __missing__(self, proto: str) -> str:
        keying = self[proto] = "unknown" if "SAVP" in proto.upper() else ""
        return keying


def _pairs(pair_of_row: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """``np.unique(pair_of_row, return_inverse=True, return_counts=True)``; without a sort
    when the values never go down (a batch's rows are stream after stream: each stream of
    one payload type, the usual case, or its types in rising order)."""
    count = len(pair_of_row)
    if count and bool((pair_of_row[1:] >= pair_of_row[:-1]).all()):
        change = np.empty(count, dtype=bool)
        change[0] = True
        np.not_equal(pair_of_row[1:], pair_of_row[:-1], out=change[1:])
        firsts = np.flatnonzero(change)
        return pair_of_row[firsts], np.cumsum(change) - 1, np.diff(np.append(firsts, count))
    present, at, counts = np.unique(pair_of_row, return_inverse=True, return_counts=True)
    return present, at.reshape(-1), counts


_FLOW_OF_KEY = itemgetter(0, 1, 2, 3)  # a stream key's flow: src, sport, dst, dport
_DESTINATION = itemgetter(2, 3)  # a stream key's destination address and port


def _latest_announcement(
    announced: Iterable[MediaAnnouncement], frame: int
) -> MediaAnnouncement | None:
    """The last of an endpoint's announcements (in frame order) at or before ``frame``."""
    found = None
    for ann in announced:
        if ann.frame > frame:
            break
        found = ann
    return found


def _main_payload_type(counts: dict[int, int]) -> tuple[tuple[int, ...], int]:
    """A stream's payload types (in order) and its main one (the most packets; of equals,
    the lowest) from its packets per type."""
    if len(counts) == 1:
        (main_pt,) = counts
        return (main_pt,), main_pt
    return tuple(sorted(counts)), max(counts.items(), key=lambda item: (item[1], -item[0]))[0]


def _describe(
    rtpmaps: dict[int, tuple[str, int, int]] | None, payload_types: tuple[int, ...], main_pt: int
) -> tuple[tuple[str, ...], str | None, int | None, int | None]:
    """Payload names, and the main type's encoding, clock rate and channels."""
    codec: tuple[str, int, int] | None = None
    if rtpmaps is not None and main_pt in rtpmaps:
        codec = rtpmaps[main_pt]
    elif main_pt in STATIC_CODECS:
        codec = STATIC_CODECS[main_pt]
    names = tuple(_payload_name(rtpmaps, pt) for pt in payload_types)
    if codec is None:
        return names, None, None, None
    return names, codec[0], codec[1], codec[2]


def _digits(live: _Live) -> list[DtmfDigit]:
    """The DTMF digits of a stream, in order of their first frame."""
    digits: list[DtmfDigit] = []
    assert live.dtmf is not None
    shapes = live.dtmf_shape or {}
    for pt, detector in live.dtmf.items():
        # Without an rtpmap, the packets must have the shape of events (RFC 4733 2.5.1).
        shape = shapes.get(pt)
        if shape is None or (shape and detector.shape.looks_like_events):
            digits.extend(detector.digits)
    digits.sort(key=lambda d: d.first_frame)
    return digits


# What StreamScanner._pt_info says of a static payload type (no rtpmap applies below 96).
_STATIC_PT_INFO = {pt: (analysis_clock_hz(pt, None, 0), pt == 13, None, 0) for pt in range(96)}
_STATIC_CLOCKS = np.array([_STATIC_PT_INFO[pt][0] for pt in range(96)], dtype=np.int64)


def _payload_name(rtpmaps: dict[int, tuple[str, int, int]] | None, pt: int) -> str:
    """The rtpmap's encoding name, else the RFC 3551 static name, else ``PT<n>``."""
    if rtpmaps is not None and pt in rtpmaps:
        return rtpmaps[pt][0]
    if pt in STATIC_CODECS:
        return STATIC_CODECS[pt][0]
    return f"PT{pt}"


def _padding(payload: memoryview | bytes) -> int:
    return payload[-1] if payload[0] & 0x20 else 0


def srtcp_streams(streams: list[RtpStream], datagram: SrtcpDatagram) -> list[RtpStream]:
    """The streams an SRTCP datagram belongs to: its sender's (the SSRC), and the streams
    between the same two hosts on the RTP ports its RTCP ports serve (the same port with
    rtcp-mux, RFC 5761; the port below otherwise, RFC 3550 11), either way."""
    here = {(datagram.src, datagram.src_port), (datagram.src, datagram.src_port - 1)}
    there = {(datagram.dst, datagram.dst_port), (datagram.dst, datagram.dst_port - 1)}
    found = []
    for stream in streams:
        k = stream.key
        ends = ((k.src, k.src_port), (k.dst, k.dst_port))
        if (
            k.ssrc == datagram.ssrc
            or (ends[0] in here and ends[1] in there)
            or (ends[0] in there and ends[1] in here)
        ):
            found.append(stream)
    return found


def mark_srtcp_streams(streams: list[RtpStream], srtcp: list[SrtcpDatagram]) -> None:
    """A stream whose RTCP is encrypted SRTCP is SRTP (RFC 3711 3.4: one crypto context
    protects both): ``encrypted`` whatever its payload looked like."""
    for datagram in srtcp:
        if not datagram.encrypted:
            continue
        for stream in srtcp_streams(streams, datagram):
            if not stream.encrypted:
                stream.encrypted = True
                stream.srtp_keying = stream.srtp_keying or "unknown"


def attach_rtcp(
    streams: list[RtpStream],
    records: list[RtcpPacketRecord],
    srtcp: Iterable[SrtcpDatagram] = (),
) -> None:
    """Give each stream what RTCP said about it (by SSRC, RFC 3550 6.4), the SRTCP that
    belongs to it, and each record its round trips (only from an SR the capture saw, as
    tshark). Values no stream of this size could have are left out and listed in the view's
    ``implausible`` (random bytes: SRTCP read as RTCP, or corruption)."""
    by_ssrc: dict[int, list[RtpStream]] = {}
    deque(map(_SET_RTCP, streams, _empty_views(len(streams))), 0)
    for stream in streams if records else ():  # no RTCP packet: nothing to look up
        by_ssrc.setdefault(stream.key.ssrc, []).append(stream)
    for datagram in srtcp:
        for stream in srtcp_streams(streams, datagram):
            view = stream.rtcp
            assert view is not None
            view.srtcp_packets += 1
            view.srtcp_encrypted += int(datagram.encrypted)
            view.srtcp_decrypted += int(datagram.decrypted)
            view.srtcp_layout = view.srtcp_layout or _layout_name(datagram.layout)
    if not records:
        return  # (no RTCP packet: the RTCP module is not even imported)
    from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

    sent = rtcp_mod.SenderReportLog()
    for record in records:
        packet = record.packet
        if isinstance(packet, rtcp_mod.SenderReport):
            sent.note(packet, record.ts_ns, record.src, record.dst)
            for stream in by_ssrc.get(packet.ssrc, ()):
                view = stream.rtcp
                assert view is not None
                why = rtcp_mod.implausible_sender_report(packet, stream.stats.packets)
                if why is not None:
                    view.implausible.append(f"frame {record.frame}: {why}")
                    continue
                view.sender_packets = packet.packet_count
                view.sender_octets = packet.octet_count
                view.sender_reports += 1
        if isinstance(packet, rtcp_mod.SenderReport | rtcp_mod.ReceiverReport):
            record.round_trips_ms = tuple(
                sent.round_trip_ms(record.ts_ns, block, record.src, record.dst)
                for block in packet.reports
            )
            for block, rtt in zip(packet.reports, record.round_trips_ms, strict=True):
                for stream in by_ssrc.get(block.ssrc, ()):
                    view = stream.rtcp
                    assert view is not None
                    why = rtcp_mod.implausible_report_block(
                        block, stream.stats.packets, stream.clock_rate
                    )
                    if why is not None:
                        view.implausible.append(f"frame {record.frame}: {why}")
                        continue
                    view.receiver_reports += 1
                    view.fraction_lost = block.fraction_lost_percent
                    view.cumulative_lost = block.cumulative_lost
                    if stream.clock_rate:
                        view.jitter_ms = block.jitter * 1000.0 / stream.clock_rate
                    if rtt is not None:
                        view.round_trip_ms = rtt
        elif isinstance(packet, rtcp_mod.ExtendedReport):
            for xr_block in packet.blocks:
                about = xr_block.fields.get("ssrc")
                targets = by_ssrc.get(about, []) if about is not None else []
                targets = targets or by_ssrc.get(packet.ssrc, [])
                for stream in targets:
                    assert stream.rtcp is not None
                    stream.rtcp.xr_blocks.append(
                        {"frame": record.frame, "type": xr_block.block_type, **xr_block.fields}
                    )
        elif isinstance(packet, rtcp_mod.Goodbye):
            for ssrc in packet.ssrcs:
                for stream in by_ssrc.get(ssrc, ()):
                    assert stream.rtcp is not None
                    stream.rtcp.goodbye = True
        elif isinstance(packet, rtcp_mod.SourceDescription):
            for chunk in packet.chunks:
                cname = chunk.item(rtcp_mod.SdesItem.CNAME)
                for stream in by_ssrc.get(chunk.ssrc, ()):
                    assert stream.rtcp is not None
                    if cname is not None:
                        stream.rtcp.cname = cname


_SET_RTCP = vars(RtpStream)["rtcp"].__set__


def _empty_views(count: int) -> list[RtcpReportView]:
    """``[RtcpReportView() for _ in range(count)]``, the slots filled from columns (a
    stream's view before its RTCP: thousands of short streams have none)."""
    return dataclass_objects(RtcpReportView, _VIEW_SLOTS, default_columns(_VIEW_DEFAULTS, count))


def _layout_name(layout: rtcp_mod.SrtcpLayout) -> str:
    mki = f", MKI {layout.mki_length} bytes" if layout.mki_length else ""
    return f"{layout.family.value}{mki}"


def stream_packets(
    path: PathLike, streams: Iterable[RtpStream | StreamKey], *, dedup: bool = False
) -> Iterator[StreamPacket]:
    """The packets of the given streams, in capture order, parsed. ``dedup``: as the scan
    that found the streams (``--dedup``), so a copy is not read as a packet of its own.

    For a stream found by discovery, only packets between its first and last frame are
    given (the ones its statistics counted). A packet whose padding does not parse (an SRTP
    packet's last byte is its authentication tag) is given with its payload to the end.
    """
    from rtcscope.capture.flowread import udp_flow_packets

    bounds: dict[tuple[str, int, str, int, int], tuple[int, int]] = {}
    for item in streams:
        if isinstance(item, RtpStream):
            k = item.key
            bounds[(k.src, k.src_port, k.dst, k.dst_port, k.ssrc)] = (
                item.first_frame,
                item.last_frame,
            )
        else:
            bounds[(item.src, item.src_port, item.dst, item.dst_port, item.ssrc)] = (0, 1 << 62)
    flows = {key[:4] for key in bounds}
    if not flows:
        return
    last_frame = max(b[1] for b in bounds.values())
    # Other flows' records skipped by an array test (every packet decoded with --dedup).
    source = udp_flow_packets(path, flows, dedup=dedup)
    for packet in source:
        if packet.frame > last_frame:
            break
        if packet.ip_proto != 17 or len(packet.payload) < 12:
            continue
        flow = (packet.src, packet.sport, packet.dst, packet.dport)
        if flow not in flows:
            continue
        data = bytes(packet.payload)
        key = (*flow, struct.unpack_from("!I", data, 8)[0])
        frame_bounds = bounds.get(key)
        if frame_bounds is None or not frame_bounds[0] <= packet.frame <= frame_bounds[1]:
            continue
        if data[0] & 0xC0 != 0x80 or 192 <= data[1] <= 223:
            continue
        try:
            rtp = RtpPacket.parse(data)
        except RtpError:
            try:
                rtp = RtpPacket.parse(data[:-1] + b"\x01" if data[0] & 0x20 else data)
            except RtpError:
                continue
        yield StreamPacket(packet.frame, packet.ts_ns, StreamKey(*key), rtp, data)


def stream_to_dict(stream: RtpStream, quality: StreamQuality | None = None) -> dict[str, Any]:
    """The documented JSON object of one stream (``rtcscope streams --format json``).

    Wireshark's columns first, under the issue's names, then ours; with ``quality``
    (:func:`rtcscope.quality.assess_stream`) its keys under "quality".
    """
    numbers = stream.summary_values()
    return _stream_rows(
        [stream],
        [[value] for value in numbers],
        # Milliseconds with three decimals: tshark prints three, and JSON gives the same
        # rounding so that scripts compare equal.
        [[round(numbers[at], 3)] for at in _ROUNDED_FIELDS],
        [round(stream.start_rel_s, 6)],
        [round(stream.end_rel_s, 6)],
        [quality],
        True,
    )[0]


# The statistics' fields a stream's JSON rounds to three decimals (StatsSummary's order):
# lost percent, min/mean/max delta, min/mean/max jitter, DTX ms.
_ROUNDED_FIELDS = (2, 4, 5, 6, 7, 8, 9, 18)


def stream_dicts(
    streams: Sequence[RtpStream],
    qualities: Sequence[StreamQuality | None] | None = None,
    *,
    rtcp: bool = True,
) -> list[dict[str, Any]]:
    """``[stream_to_dict(s, q) for s, q in zip(streams, qualities)]``, made a block of
    streams at a time from columns: the statistics read a column at a time (those that wait
    as bulk columns, short calls' tens of thousands, without a StatsSummary), their numbers
    rounded by :func:`round_like_python`. ``rtcp=False``: without the "rtcp" objects (for
    output that does not show them)."""
    out: list[Any] = [None] * len(streams)
    # The streams by where their numbers are: the bulk columns (one group each) or their
    # own StatsSummary (None).
    groups: dict[int, tuple[StreamSummaries | None, list[int], list[int]]] = {}
    loose: tuple[None, list[int], list[int]] = (None, [], [])
    every_found = list(map(_STATS_OF, streams))
    if set(map(type, every_found)) == {tuple} and len(set(map(_FIRST, every_found))) == 1:
        # All in one bulk (short calls): grouped without a Python step per stream.
        summaries = every_found[0][0]
        groups[id(summaries)] = (
            summaries,
            list(range(len(streams))),
            list(map(_SECOND, every_found)),
        )
        every_found = []
    for at, found in enumerate(every_found):
        if type(found) is tuple:
            summaries, position = found
            group = groups.get(id(summaries))
            if group is None:
                group = groups[id(summaries)] = (summaries, [], [])
            group[1].append(at)
            group[2].append(position)
        else:
            loose[1].append(at)
    if loose[1]:
        groups[id(None)] = loose
    for summaries, every_at, every_position in groups.values():
        # A block at a time: the numbers read in bulk are held only while their objects are
        # made (the objects stay; the numbers would add to the peak).
        for first in range(0, len(every_at), _DICTS_BLOCK):
            ats = every_at[first : first + _DICTS_BLOCK]
            picked = [streams[at] for at in ats]
            if summaries is None:
                rows = [summary_values(stream.stats) for stream in picked]
                columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
                floats = np.array([[row[at] for at in _ROUNDED_FIELDS] for row in rows])
            else:
                columns, floats = summaries.columns_of(every_position[first : first + _DICTS_BLOCK])
            made = _stream_rows(
                picked,
                columns,
                [round_like_python(floats[:, column], 3) for column in range(8)],
                round_like_python(np.array([s.start_rel_s for s in picked]), 6),
                round_like_python(np.array([s.end_rel_s for s in picked]), 6),
                [qualities[at] for at in ats] if qualities else [None] * len(ats),
                rtcp,
            )
            for at, row in zip(ats, made, strict=True):
                out[at] = row
    return out


_DICTS_BLOCK = 2048  # streams whose numbers stream_dicts reads at once
_KEY_FIELDS = attrgetter("src", "src_port", "dst", "dst_port", "ssrc")
_KEY = attrgetter("key")
_STATS_OF = attrgetter("_stats")
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
# The statistics' fields a stream's JSON shows as they are (StatsSummary's order): packets,
# lost, problems, sequence errors, timestamp errors, out of time, resets, expected, lost vs
# highest, duplicates, reordered, DTX periods, markers, payload type changes, max delta frame.
_ROW_NUMBERS = (0, 1, 11, 12, 13, 25, 26, 3, 14, 15, 16, 17, 19, 20, 10)
# A stream's JSON object's keys, in order (_stream_rows copies and fills it).
_ROW_KEYS: dict[str, Any] = dict.fromkeys(
    (
        "src",
        "src_port",
        "dst",
        "dst_port",
        "ssrc",
        "payload_type",
        "codec",
        "clock_rate",
        "packets",
        "lost",
        "lost_percent",
        "min_delta_ms",
        "mean_delta_ms",
        "max_delta_ms",
        "min_jitter_ms",
        "mean_jitter_ms",
        "max_jitter_ms",
        "problems",
        "index",
        "ssrc_hex",
        "payload_types",
        "payload_names",
        "channels",
        "source",
        "encrypted",
        "srtp_keying",
        "start_s",
        "end_s",
        "first_frame",
        "last_frame",
        "setup_frame",
        "call_id",
        "expected",
        "lost_vs_highest_seq",
        "duplicates",
        "reordered",
        "dtx_periods",
        "dtx_ms",
        "markers",
        "ssrc_changes",
        "payload_type_changes",
        "comfort_noise_packets",
        "sequence_errors",
        "timestamp_errors",
        "events",
        "max_delta_frame",
        "payload_bytes",
    )
)
_ROW_FIELDS = attrgetter(
    "payload_type",
    "codec",
    "clock_rate",
    "index",
    "payload_types",
    "payload_names",
    "channels",
    "source",
    "encrypted",
    "srtp_keying",
    "first_frame",
    "last_frame",
    "setup_frame",
    "call_id",
    "ssrc_changes",
    "comfort_noise_packets",
    "payload_bytes",
    "restart_of_ssrc",
)


def round_like_python(values: npt.NDArray[np.float64], digits: int) -> list[float]:
    """``[round(v, digits) for v in values]``, bit for bit: Python rounds the exact binary
    value to ``digits`` decimals (half to even) and gives the double nearest that decimal;
    ``rint(v * 10**digits) / 10**digits`` is that double whenever the scaled product is
    provably on the same side of the half as the exact one (the division of an exact
    integer is correctly rounded). The rest - within a few units in the last place of a
    half, huge or not finite - take Python's round."""
    scale = 10.0**digits
    with np.errstate(all="ignore"):  # inf and NaN are Python's below
        scaled = values * scale
        size = np.abs(scaled)
        from_half = np.abs(scaled - np.floor(scaled) - 0.5)
        # The product is within 2**-53 of its size from the exact one: a margin of 2**-48.
        safe = (size < 2.0**50) & (from_half > size * 2.0**-48)
        result: list[float] = (np.rint(scaled) / scale).tolist()
    if not safe.all():
        for at in np.flatnonzero(~safe).tolist():
            result[at] = round(float(values[at]), digits)
    return result


def _stream_rows(
    streams: Sequence[RtpStream],
    numbers: Sequence[Sequence[Any]],
    rounded: Sequence[Sequence[float]],
    starts_s: Sequence[float],
    ends_s: Sequence[float],
    qualities: Sequence[StreamQuality | None],
    rtcp: bool,
) -> list[dict[str, Any]]:
    """stream_to_dict's objects from columns: the statistics' fields (``numbers``, a column
    each in StatsSummary's order), those of them shown rounded (``rounded``: _ROUNDED_FIELDS'
    order) and the streams' starts and ends rounded to microseconds (``rtcp``: with the
    "rtcp" objects). A row is filled from the columns zipped (no attribute read or call per
    field)."""
    rows: list[dict[str, Any]] = []
    append = rows.append
    new_row = _ROW_KEYS.copy
    for (
        stream,
        (src, src_port, dst, dst_port, ssrc),
        (
            payload_type,
            codec,
            clock_rate,
            index,
            payload_types,
            payload_names,
            channels,
            source,
            encrypted,
            srtp_keying,
            first_frame,
            last_frame,
            setup_frame,
            call_id,
            ssrc_changes,
            comfort_noise_packets,
            payload_bytes,
            restart_of_ssrc,
        ),
        packets_n,
        lost_n,
        problems_n,
        sequence_errors_n,
        timestamp_errors_n,
        out_of_time_n,
        resets_n,
        expected_n,
        lost_vs_highest_n,
        duplicates_n,
        reordered_n,
        dtx_periods_n,
        markers_n,
        payload_type_changes_n,
        max_delta_frame_n,
        lost_percent_shown,
        min_delta_shown,
        mean_delta_shown,
        max_delta_shown,
        min_jitter_shown,
        mean_jitter_shown,
        max_jitter_shown,
        dtx_ms_shown,
        start_s,
        end_s,
        quality,
    ) in zip(
        streams,
        map(_KEY_FIELDS, map(_KEY, streams)),
        map(_ROW_FIELDS, streams),
        *(numbers[at] for at in _ROW_NUMBERS),
        *rounded,
        starts_s,
        ends_s,
        qualities,
        strict=True,
    ):
        # A copy of the keys in order, filled in place: about a third cheaper than a
        # literal of 47 keys, whose every key is inserted into a new table.
        row = new_row()
        row["src"] = src
        row["src_port"] = src_port
        row["dst"] = dst
        row["dst_port"] = dst_port
        row["ssrc"] = ssrc
        row["payload_type"] = payload_type
        row["codec"] = codec
        row["clock_rate"] = clock_rate
        row["packets"] = packets_n
        row["lost"] = lost_n
        row["lost_percent"] = lost_percent_shown
        row["min_delta_ms"] = min_delta_shown
        row["mean_delta_ms"] = mean_delta_shown
        row["max_delta_ms"] = max_delta_shown
        row["min_jitter_ms"] = min_jitter_shown
        row["mean_jitter_ms"] = mean_jitter_shown
        row["max_jitter_ms"] = max_jitter_shown
        row["problems"] = (
            _problem_words(
                sequence_errors_n, resets_n, timestamp_errors_n, problems_n, out_of_time_n
            )
            if sequence_errors_n or resets_n or timestamp_errors_n or problems_n
            else []
        )
        row["index"] = index
        row["ssrc_hex"] = f"0x{ssrc:08X}"
        row["payload_types"] = payload_types
        row["payload_names"] = payload_names
        row["channels"] = channels
        row["source"] = source
        row["encrypted"] = encrypted
        row["srtp_keying"] = srtp_keying
        row["start_s"] = start_s
        row["end_s"] = end_s
        row["first_frame"] = first_frame
        row["last_frame"] = last_frame
        row["setup_frame"] = setup_frame
        row["call_id"] = call_id
        row["expected"] = expected_n
        row["lost_vs_highest_seq"] = lost_vs_highest_n
        row["duplicates"] = duplicates_n
        row["reordered"] = reordered_n
        row["dtx_periods"] = dtx_periods_n
        row["dtx_ms"] = dtx_ms_shown
        row["markers"] = markers_n
        row["ssrc_changes"] = ssrc_changes
        row["payload_type_changes"] = payload_type_changes_n
        row["comfort_noise_packets"] = comfort_noise_packets
        row["sequence_errors"] = sequence_errors_n
        row["timestamp_errors"] = timestamp_errors_n
        row["events"] = (
            _event_rows(stream, resets_n) if resets_n or restart_of_ssrc is not None else []
        )
        row["max_delta_frame"] = max_delta_frame_n
        row["payload_bytes"] = payload_bytes
        if rtcp and stream.rtcp is not None:
            row["rtcp"] = _rtcp_row(stream.rtcp)
        if stream.dtmf:
            row["dtmf"] = [digit_to_dict(d, stream) for d in stream.dtmf]
            row["digits"] = "".join(d.digit for d in stream.dtmf if d.digit is not None)
        if quality is not None:
            row["quality"] = quality.as_dict()
        append(row)
    return rows


def _rtcp_row(view: RtcpReportView) -> dict[str, Any]:
    """What RTCP said about a stream, in its JSON object (key "rtcp")."""
    return {
        "sender_packets": view.sender_packets,
        "sender_octets": view.sender_octets,
        "sender_reports": view.sender_reports,
        "receiver_reports": view.receiver_reports,
        "fraction_lost_percent": view.fraction_lost,
        "cumulative_lost": view.cumulative_lost,
        "jitter_ms": None if view.jitter_ms is None else round(view.jitter_ms, 3),
        "round_trip_ms": None if view.round_trip_ms is None else round(view.round_trip_ms, 3),
        "xr_blocks": view.xr_blocks,
        "goodbye": view.goodbye,
        "cname": view.cname,
        "encrypted": view.encrypted,
        "srtcp_packets": view.srtcp_packets,
        "srtcp_encrypted": view.srtcp_encrypted,
        "srtcp_decrypted": view.srtcp_decrypted,
        "srtcp_layout": view.srtcp_layout,
        "implausible": view.implausible,
    }


def digit_to_dict(digit: DtmfDigit, stream: RtpStream) -> dict[str, Any]:
    first_ns = stream.start_ns - round(stream.start_rel_s * 1e9)
    return {
        "digit": digit.digit,
        "event": digit.event,
        "name": digit.name,
        "kind": str(digit.kind),
        "ssrc": digit.ssrc,
        "frame": digit.first_frame,
        "start_s": round((digit.start_ns - first_ns) / 1e9, 6),
        "end_s": round((digit.end_ns - first_ns) / 1e9, 6),
        "duration_ms": round(digit.duration_ms, 3),
        "volume": digit.volume,
        "packets": digit.packets,
        "ended": digit.ended,
    }


def rtcp_record_to_dict(record: RtcpPacketRecord, first_ns: int) -> dict[str, Any]:
    """One RTCP packet as a flat row (``rtcscope streams --rtcp``)."""
    from rtcscope.rtp import rtcp as rtcp_mod  # (RTCP only: at first use)

    packet = record.packet
    row: dict[str, Any] = {
        "frame": record.frame,
        "time_s": round((record.ts_ns - first_ns) / 1e9, 6),
        "src": record.src,
        "src_port": record.src_port,
        "dst": record.dst,
        "dst_port": record.dst_port,
        "type": type(packet).__name__,
        "srtcp": record.srtcp,
    }
    if isinstance(packet, rtcp_mod.SenderReport):
        row.update(
            ssrc=packet.ssrc,
            sender_packets=packet.packet_count,
            sender_octets=packet.octet_count,
            ntp_timestamp=packet.ntp_timestamp,
            rtp_timestamp=packet.rtp_timestamp,
        )
    if isinstance(packet, rtcp_mod.SenderReport | rtcp_mod.ReceiverReport):
        row["ssrc"] = packet.ssrc
        row["reports"] = [
            {
                "ssrc": b.ssrc,
                "fraction_lost": b.fraction_lost,
                "cumulative_lost": b.cumulative_lost,
                "highest_sequence": b.highest_sequence,
                "jitter": b.jitter,
                "lsr": b.lsr,
                "dlsr": b.dlsr,
                "round_trip_ms": record.round_trip_ms(i),
            }
            for i, b in enumerate(packet.reports)
        ]
    elif isinstance(packet, rtcp_mod.SourceDescription):
        row["chunks"] = [
            {"ssrc": c.ssrc, "cname": c.item(rtcp_mod.SdesItem.CNAME)} for c in packet.chunks
        ]
    elif isinstance(packet, rtcp_mod.Goodbye):
        row["ssrcs"] = list(packet.ssrcs)
        row["reason"] = packet.reason.decode("utf-8", "replace")
    elif isinstance(packet, rtcp_mod.ApplicationDefined):
        row.update(
            ssrc=packet.ssrc,
            subtype=packet.subtype,
            name=packet.name.decode("latin-1"),
            data=packet.data.hex(),
        )
    elif isinstance(packet, rtcp_mod.ExtendedReport):
        row["ssrc"] = packet.ssrc
        row["blocks"] = [
            {"type": b.block_type, **b.fields, "dlrr": [vars_dlrr(i) for i in b.dlrr]}
            for b in packet.blocks
        ]
    elif isinstance(packet, rtcp_mod.Feedback):
        row.update(ssrc=packet.sender_ssrc, media_ssrc=packet.media_ssrc, fmt=packet.fmt)
    return row


def srtcp_to_dict(datagram: SrtcpDatagram, first_ns: int) -> dict[str, Any]:
    """One SRTCP datagram as a flat row (``rtcscope streams --rtcp``, key "srtcp"): what is
    clear in it (RFC 3711 3.4) and whether a key opened it."""
    return {
        "frame": datagram.frame,
        "time_s": round((datagram.ts_ns - first_ns) / 1e9, 6),
        "src": datagram.src,
        "src_port": datagram.src_port,
        "dst": datagram.dst,
        "dst_port": datagram.dst_port,
        "ssrc": datagram.ssrc,
        "first_type": datagram.data[1],
        "encrypted": datagram.encrypted,
        "index": datagram.index,
        "layout": _layout_name(datagram.layout),
        "decrypted": datagram.decrypted,
    }


def vars_dlrr(item: rtcp_mod.DlrrItem) -> dict[str, int]:
    return {"ssrc": item.ssrc, "lrr": item.lrr, "dlrr": item.dlrr}
