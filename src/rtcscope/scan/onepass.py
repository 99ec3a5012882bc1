"""``scan(source, options) -> CaptureModel``: ONE pass over a capture's records, many taps.

Wireshark's shape: one dissection, every statistic a tap listening to it. Here the records
come from :class:`~rtcscope.capture.reader.CaptureReader` as batches; per batch:

1. the counts tap (:func:`rtcscope.capture.fastscan.count_batch`) counts what NumPy can
   read at fixed offsets and names the rows it cannot (fragments, tunnels, options, SIP...);
2. the RTP tap (:class:`rtcscope.rtp.fastpath.FastRtpTap`) takes the RTP rows of streams it
   follows as arrays, and asks for every other row;
3. every row that either tap asked for is decoded ONCE (:func:`rtcscope.capture.decode.
   decode`), counted, reassembled (one :class:`~rtcscope.capture.defrag.Defragmenter`) and
   the packet it delivers goes, in capture order, to the per-packet taps: the stream scanner,
   the SIP framer (UDP, TCP reassembly, WebSocket, SCTP) and its SDP offer/answer tracker
   (whose announcements name streams from their frame on), the TLS flow finder, and the ICMP
   collector. The counts tap counts the frames carrying SIP over TCP/WebSocket/SCTP from
   what the SIP framer finds (``info`` alone runs a framer for that, over TCP and SCTP only).

``--dedup`` compares each packet with the ones before it, so with it every record takes the
per-packet way (decode, count, reassemble, drop copies, taps). Either way each record is
decoded at most once.

A fault in the file (truncation, a corrupt block) ends the pass: everything read before it is
in the model, and the fault is in ``model.faults`` (the CLI exits 3 unless ``--keep-going``).
Sources: a path, ``-`` (standard input), a FIFO or process substitution, gzipped or not; the
pass reads forward only, so a pipe is read once.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import numpy as np

from rtcscope.capture.decode import decode
from rtcscope.capture.dedup import Deduplicator
from rtcscope.capture.fastscan import BatchRows, count_batch
from rtcscope.capture.flowread import RecordIndex
from rtcscope.capture.info import CaptureInfo, PacketCounts
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.pipeline import default_defragmenter, reassemble
from rtcscope.capture.reader import CaptureReader, open_capture
from rtcscope.capture.tls import TlsFlowFinder
from rtcscope.errors import CaptureError
from rtcscope.rtp.fastpath import FastRtpTap, batch_linktype
from rtcscope.rtp.streams import StreamScanner
from rtcscope.scan.model import CaptureModel, collector_paused
from rtcscope.scan.options import ScanOptions, Tap
from rtcscope.sip.calls import IcmpEvent
from rtcscope.sip.capture import (
    CapturedSip,
    MediaAnnouncement,
    MediaAnnouncer,
    SipCaptureFramer,
)

Source = str | os.PathLike[str] | BinaryIO
# Called after each batch with the bytes of the (uncompressed) capture read so far.
Progress = Callable[[int], None]
# Takes each framed SIP message and the capture's first packet time, returns the messages the
# model keeps (rtcscope.sip.live: a call filter; a live consumer keeps them itself).
SipSelect = Callable[[CapturedSip, int | None], list[CapturedSip]]

STDIN_NAMES = frozenset({"-"})


def source_name(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def is_regular_file(source: Source) -> bool:
    if not isinstance(source, str | os.PathLike):
        return False
    if os.fspath(source) in STDIN_NAMES:
        return False
    try:
        return stat.S_ISREG(os.stat(source).st_mode)
    except OSError:
        return False


class _Tee:
    """A forward-only source that copies what it reads into a spool file."""

    def __init__(self, raw: BinaryIO, spool: BinaryIO) -> None:
        self.raw = raw
        self.spool = spool
        self.name = str(getattr(raw, "name", "<stream>"))

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.spool.write(data)
        return data


def open_source(source: Source, spool: BinaryIO | None = None) -> CaptureReader:
    """A reader over the source; ``-`` is standard input (read once, forward only).

    The scan always reads with ``keep_going``: a fault ends the pass and is kept in the
    model, so every section can show what the capture held before it. With ``spool``,
    everything read is copied there (for sources that cannot be read twice).
    """
    raw: Source = source
    if isinstance(source, str | os.PathLike) and os.fspath(source) in STDIN_NAMES:
        raw = sys.stdin.buffer
    if spool is None:
        reader = open_capture(raw, keep_going=True)
        if getattr(raw, "incremental", False):
            reader._chunk = 1  # a growing source (scan/follow.py): read no more than a record
        return reader
    if isinstance(raw, str | os.PathLike):
        raise CaptureError(f"{source_name(source)}: open the pipe and pass it with the spool")
    return open_capture(_Tee(raw, spool), keep_going=True)  # type: ignore[arg-type]


class _PacketTaps:
    """The per-packet taps: stream scanner, SIP framer + SDP tracker, ICMP collector."""

    def __init__(self, model: CaptureModel, options: ScanOptions, select: SipSelect | None) -> None:
        taps = options.taps
        self.model, self.select = model, select
        self.scanner: StreamScanner | None = None
        if Tap.RTP in taps:
            self.scanner = StreamScanner(
                rtp_ports=options.rtp_ports,
                heuristic=options.heuristic,
                with_rtcp=True,
                with_dtmf=True,
            )
        self.want_sip = Tap.SIP in taps or (Tap.RTP in taps and options.use_sdp)
        self.announce_to_scanner = options.use_sdp and self.scanner is not None
        self.keep_sip = Tap.SIP in taps
        self.framer = SipCaptureFramer(model.sip_report) if self.want_sip else None
        self.announcer = MediaAnnouncer()
        self.want_icmp = Tap.ICMP in taps
        # The announcements of messages keep_framed read already, by frame, until the
        # messages are fed (then they name streams).
        self.kept_ahead: dict[int, list[MediaAnnouncement]] = {}
        # The counts tap's SIP frames over TCP/WebSocket/SCTP and TLS flows: from the SIP
        # framer, or (``info`` alone) one fed TCP and SCTP packets only.
        self.counts = model.info.counts
        self.streams = Tap.COUNTS in taps or self.want_sip
        self.counts.decode_streams = self.streams
        self.tls = TlsFlowFinder(flows=model.tls_flows) if self.streams else None
        if self.framer is None and self.streams:
            self.stream_framer: SipCaptureFramer | None = SipCaptureFramer()
        else:
            self.stream_framer = self.framer
        # Whether any per-packet tap listens (``info`` alone needs none but TCP/SCTP's).
        self.wanted = self.scanner is not None or self.want_sip or self.want_icmp

    def feed(self, item: Packet | CapturedSip) -> None:
        """A delivered packet that no array path took, or a SIP message framed from a
        batch's columns (:func:`_deliver_rows`), in capture order."""
        if type(item) is CapturedSip:
            # The stream scanner's feed leaves a datagram starting with a letter, CR or LF
            # alone once it has its time origin, which it has before any message comes
            # framed from columns (_batched, FastRtpTap).
            self._sip(item)
            return
        packet: Packet = item  # type: ignore[assignment]
        if self.scanner is not None:
            self.scanner.feed(packet)
        proto = packet.ip_proto
        if proto == 17 or proto == 6 or proto == 132:
            if proto != 17:
                self._stream(packet)
                return
            framer = self.framer
            if framer is None:
                return
            payload = packet.payload
            if payload and payload[0] & 0xC0 == 0x80:
                return  # an RTP/RTCP first byte is never SIP
            captured = framer.datagram(packet)
            if captured is not None:
                self._sip(captured)
        elif packet.icmp is not None and self.want_icmp:
            self.model.icmp.append(IcmpEvent(packet.frame, packet.ts_ns, packet.src, packet.icmp))

    def _stream(self, packet: Packet) -> None:
        """A TCP or SCTP packet: TLS flows, SIP (counted by frame, kept when asked)."""
        if self.tls is not None and packet.tcp is not None:
            self.tls.feed(packet)
        framer = self.stream_framer
        if framer is None:
            return
        found = framer.feed(packet)
        if found:
            self.counts.add_sip_frame(found[-1].transport, packet.frame)
            if framer is self.framer:
                for captured in found:
                    self._sip(captured)

    def _sip(self, captured: CapturedSip) -> None:
        ahead = self.kept_ahead
        if ahead and (announced := ahead.pop(captured.frame, None)) is not None:
            # kept and read by the announcer already (keep_framed)
            assert self.scanner is not None
            self.scanner.announce(announced)
            return
        if self.select is not None:
            kept = self.select(captured, self.model.info.counts.first_ns)
            self.model.messages += kept if self.keep_sip else []
            if not kept and not self.announce_to_scanner:
                return  # nothing kept and no stream to name: no SDP to read
        elif self.keep_sip:
            self.model.messages.append(captured)
        if not MediaAnnouncer.reads(captured.message):
            return  # most messages: nothing the announcer reads
        announced = self.announcer.feed(captured)
        if announced:
            self.model.announcements.extend(announced)
            if self.announce_to_scanner:
                assert self.scanner is not None
                self.scanner.announce(announced)

    def keep_framed(self, messages: list[CapturedSip]) -> list[CapturedSip]:
        """A batch's SIP messages framed from its columns, when they are all it delivers
        and no call filter picks among them (``select``): each kept now, in capture order,
        as :meth:`_sip` keeps it, and read by the announcer in one step (nothing else feeds
        it before they would be fed: they are all the batch delivers); returned, the ones
        whose announcements name streams, to be fed in their places (their SDP names streams
        from their frame on; the announcements wait in :attr:`kept_ahead`, one message per
        frame: a datagram's row). The others would be fed for nothing: no other tap reads a
        message, and the RTP tap holds no rows to flush before one (the caller's
        condition)."""
        if self.keep_sip:
            self.model.messages += messages
        announced, announcing = self.announcer.feed_batch(
            messages, self.kept_ahead if self.announce_to_scanner else None
        )
        if announced:
            self.model.announcements += announced
        return announcing

    def finish(self) -> None:
        if self.framer is not None:
            for captured in self.framer.flush():
                self._sip(captured)
        elif self.stream_framer is not None:
            self.stream_framer.flush()


def scan(
    source: Source,
    options: ScanOptions | None = None,
    *,
    progress: Progress | None = None,
    select: SipSelect | None = None,
) -> CaptureModel:
    """Read ``source`` once and return what every tap found (module docstring; ``select``:
    :data:`SipSelect`)."""
    options = options or ScanOptions()
    spool: Any = None
    if options.spool and not is_regular_file(source):
        import tempfile  # (a piped capture with -o only)

        spool = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
            prefix="rtcscope-spool-", suffix=".pcap", delete=False
        )
    pipe: BinaryIO | None = None
    try:
        named = isinstance(source, str | os.PathLike) and os.fspath(source) not in STDIN_NAMES
        if spool is not None and named:
            try:
                pipe = open(source, "rb")  # type: ignore[arg-type,assignment]  # noqa: SIM115
            except OSError as exc:
                raise CaptureError(f"cannot open {source_name(source)}: {exc.strerror}") from exc
        with collector_paused():  # see there: most of the time on 20,000 calls otherwise
            model = _scan(source if pipe is None else pipe, options, progress, spool, select)
        if pipe is not None:
            model.source = source_name(source)
    except BaseException:
        if spool is not None:
            spool.close()
            os.unlink(spool.name)
        raise
    finally:
        if pipe is not None:
            pipe.close()
    if spool is not None:
        spool.close()
        model.payload_path = spool.name
        model.spooled = True
    elif is_regular_file(source):
        model.payload_path = os.fspath(source)  # type: ignore[arg-type]
    index = model.record_index
    if index is not None:
        if model.payload_path is None:
            index.abandon()
        else:
            index.finish(model.payload_path)
    return model


def _scan(
    source: Source,
    options: ScanOptions,
    progress: Progress | None,
    spool: BinaryIO | None,
    select: SipSelect | None = None,
) -> CaptureModel:
    counts = PacketCounts(
        defrag=default_defragmenter() if options.reassemble else None,
        dedup=Deduplicator() if options.dedup else None,
    )
    with open_source(source, spool) as reader:
        model = CaptureModel(
            source=source_name(source) if not isinstance(source, str) else source,
            options=options,
            info=CaptureInfo(
                file=reader.name,
                format="",
                compressed=False,
                byte_order="",
                interfaces=0,
                link_types=[],
                counts=counts,
                file_bytes=0,
            ),
        )
        taps = _PacketTaps(model, options, select)
        try:
            if options.dedup or not options.vectorized:
                _per_packet(reader, counts, taps, progress)
            else:
                if options.offsets and not reader.compressed:
                    # a later step reads packets again: note where they lie (offsets into a
                    # compressed file would not serve)
                    model.record_index = RecordIndex()
                _batched(reader, counts, taps, progress, model.record_index)
        except CaptureError as exc:  # the reader raises only without keep_going: defensive
            model.faults.append(exc)
        counts.finish()
        taps.finish()
        model.faults += reader.warnings
        if model.record_index is not None and model.faults:
            model.record_index.abandon()  # read the file again, as before (flowread)
        model.info = CaptureInfo(
            file=reader.name,
            format=reader.format,
            compressed=reader.compressed,
            byte_order=reader.byte_order,
            interfaces=len(reader.interfaces),
            link_types=reader.linktypes,
            counts=counts,
            file_bytes=reader.size,
            warnings=[str(w) for w in model.faults],
            tls_flows=model.tls_flows,
        )
    if taps.scanner is not None:
        model.rtp = taps.scanner.finish()
        if model.rtp.srtcp:
            # SRTCP read with the SDP's SDES keys (RFC 4568); imported only then: the SRTP
            # library's binding costs start-up time every other capture would pay for nothing.
            from rtcscope.rtp.srtcp import open_srtcp_with_sdp

            open_srtcp_with_sdp(model.rtp)
    return model


def _per_packet(
    reader: CaptureReader, counts: PacketCounts, taps: _PacketTaps, progress: Progress | None
) -> None:
    for n, record in enumerate(reader, 1):
        counts.packets += 1
        counts.bytes += len(record.data)
        counts.add_time(record.ts_ns)
        packet = counts.add_decoded(decode(record))
        if packet is not None:
            taps.feed(packet)
        if progress is not None and n % 65536 == 0:
            progress(record.offset)


def _batched(
    reader: CaptureReader,
    counts: PacketCounts,
    taps: _PacketTaps,
    progress: Progress | None,
    index: RecordIndex | None = None,
) -> None:
    scanner = taps.scanner
    rtp_tap = FastRtpTap(scanner, taps.feed) if scanner is not None else None
    per_packet = taps.wanted
    for batch in reader.batches():
        rows = BatchRows(batch)
        if index is not None:
            index.add(rows)
        left = count_batch(rows, counts, mark_not_sip=per_packet and rtp_tap is None)
        if not per_packet:
            # Counts only (``info``): decode just the rows the counts tap could not read
            # (TCP and SCTP among them, for the SIP frames and TLS flows counted over them).
            for packet in _deliver(rows.records(left), None, counts):
                taps.feed(packet)
        elif rtp_tap is not None and (linktype := batch_linktype(rows)) is not None:
            _rtp_batch(rows, linktype, left, counts, rtp_tap, taps)
        else:
            # Every row goes the per-packet way; only the counts tap's leftovers are counted.
            feed = rtp_tap.feed_packet if rtp_tap is not None else taps.feed
            wanted: list[int] = list(range(rows.count))
            if rtp_tap is None and rows.not_sip is not None:
                # No RTP tap: UDP rows that cannot be SIP (RTP, STUN...), counted above
                # already, go to no tap (the SIP framer would drop them).
                wanted = np.flatnonzero(~rows.not_sip).tolist()
            if batch.records:
                frames = rows.frames
                counted = {frames[row] for row in left}
                counted.update(record.frame for record in batch.records)
                delivered: Iterable[Packet | CapturedSip] = _deliver(
                    rows.records(wanted), counted, counts
                )
            else:
                # Until the stream scanner has its time origin (the first packet delivered,
                # whatever it holds: scanner.feed), rows go to it as Packets: the SIP framer's
                # column road would keep a datagram it drops (a keep-alive, a letter that is
                # not SIP) from the scanner.
                origin = scanner is None or scanner.first_ns is not None
                framer = taps.framer if origin else None
                delivered = _deliver_rows(
                    rows, wanted, set(left), counts, framer, _keeper(taps, rtp_tap)
                )
            for item in delivered:
                feed(item)
        if progress is not None:
            progress(batch.base + len(batch.buffer))
    if rtp_tap is not None:
        rtp_tap.finish()


def _rtp_batch(
    rows: BatchRows,
    linktype: int,
    left: list[int],
    counts: PacketCounts,
    rtp_tap: FastRtpTap,
    taps: _PacketTaps,
) -> None:
    """A batch the RTP tap reads: the rows it asks for are decoded once, counted when the
    counts tap left them too; the counts tap's other leftovers are decoded for counting."""
    to_count = set(left)
    asked: set[int] = set()
    keep = _keeper(taps, rtp_tap)

    def decode_rows(wanted: list[int]) -> Iterable[Packet | CapturedSip]:
        asked.update(wanted)
        return _deliver_rows(rows, wanted, to_count, counts, taps.framer, keep)

    rtp_tap.feed_batch(rows, linktype, decode_rows)
    rest = [row for row in left if row not in asked]
    if rest:
        for _ in _deliver(rows.records(rest, ready=False), None, counts):
            pass  # counted only: rows no tap but the counts reads (an RTP-looking row that
            # fails the RTP header checks, say)


def _keeper(
    taps: _PacketTaps, rtp_tap: FastRtpTap | None
) -> Callable[[list[CapturedSip]], list[CapturedSip]] | None:
    """The SIP tap's :meth:`~_PacketTaps.keep_framed` for a batch about to be read, when it
    may serve: no call filter, and no rows of the RTP tap waiting (a packet fed to it then
    flushes its stream's rows first, a SIP message framed from the columns among them:
    :meth:`rtcscope.rtp.fastpath.FastRtpTap.feed_packet`; rows wait only from the end of
    a batch's reading on)."""
    if taps.select is not None or (rtp_tap is not None and rtp_tap.buffers.parts):
        return None
    return taps.keep_framed


def _deliver_rows(
    rows: BatchRows,
    wanted: list[int],
    to_count: set[int],
    counts: PacketCounts,
    framer: SipCaptureFramer | None,
    keep: Callable[[list[CapturedSip]], list[CapturedSip]] | None = None,
) -> Iterable[Packet | CapturedSip]:
    """The ``wanted`` rows of a batch (no ready-made records among them), decoded once
    (counted when in ``to_count``), reassembled, in capture order. With a SIP framer, the
    plain UDP rows whose payload can start a SIP message (or a keep-alive) go to it as the
    batch's columns, a batch at a time, and their messages come out in their places: no
    Packet, no other tap for them (the stream scanner's feed leaves a datagram starting
    with a letter, CR or LF alone; the counts tap counted them already). When they are all
    the rows deliver, ``keep`` (:func:`_keeper`) takes them at once: then only the ones it
    gives back come out."""
    found = None
    if framer is not None:
        found = rows.sip_datagrams(
            [row for row in wanted if row not in to_count] if to_count else wanted
        )
    frames = rows.frames
    if found is None:
        counted = {frames[row] for row in wanted if row in to_count}
        return _deliver_packets(rows.packets(wanted, decode), counted, counts)
    assert framer is not None
    messages = framer.datagrams(rows.batch.buffer, found)
    rest: list[int] = []
    if len(found.rows) < len(wanted):  # (its rows are among the wanted ones: all when as many)
        taken = set(found.rows)
        rest = [row for row in wanted if row not in taken]
    if not rest:
        return messages if keep is None else keep(messages)
    counted = {frames[row] for row in rest if row in to_count}
    delivered = _deliver_packets(rows.packets(rest, decode), counted, counts)
    if not messages:
        return delivered
    # Both in capture order: merged by frame (a reassembled datagram is at the frame of the
    # fragment that completed it).
    out: list[Packet | CapturedSip] = []
    waiting: Packet | None = next(delivered, None)
    for captured in messages:
        frame = captured.frame
        while waiting is not None and waiting.frame < frame:
            out.append(waiting)
            waiting = next(delivered, None)
        out.append(captured)
    if waiting is not None:
        out.append(waiting)
        out.extend(delivered)
    return out


def _deliver(
    records: list[Record], counted: set[int] | None, counts: PacketCounts
) -> Iterator[Packet]:
    """Decode each record once; count the ones in ``counted`` (frames; None: all of them);
    reassemble; yield what each delivers."""
    return _deliver_packets(map(decode, records), counted, counts)


def _deliver_packets(
    packets: Iterable[Packet], counted: set[int] | None, counts: PacketCounts
) -> Iterator[Packet]:
    """:func:`_deliver` of records already decoded."""
    defrag = counts.defrag
    for packet in packets:
        if counted is None or packet.frame in counted:
            delivered = counts.add_decoded(packet)
            if delivered is not None:
                yield delivered
            continue
        if packet.fragment is not None and defrag is not None:
            whole = reassemble(defrag, packet)
            if whole is None:
                continue
            packet = whole
        yield packet
