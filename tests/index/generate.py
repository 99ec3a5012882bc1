"""Captures made from real ones for the index tests: copies with shifted times and new
Call-IDs and SSRCs, written with the project's writer (capture/writer.py).

A copy keeps every record's bytes except: each Call-ID the capture's SIP carries is
replaced, wherever it occurs, by another of the same length (its first four characters
become the copy number in hex), so no length or offset changes; each RTP packet's SSRC
(found by decoding the record) becomes four bytes of SHA-256(copy, SSRC); and times move by
``shift_ns`` per copy. UDP checksums are left as they were (neither rtcscope nor tshark
checks them by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from rtcscope.capture.decode import decode
from rtcscope.capture.packet import Record
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.scan.files import find_streams, sip_messages

SEVEN_HOURS_NS = 7 * 3600 * 1_000_000_000


def _call_ids(path: Path) -> list[bytes]:
    found = {m.message.call_id for m in sip_messages(path) if m.message.call_id}
    return sorted((cid.encode() for cid in found if len(cid) > 4), key=len, reverse=True)


def _rewritten(record: Record, copy: int, call_ids: Sequence[bytes], ssrcs: set[int]) -> bytes:
    data = bytes(record.data)
    for cid in call_ids:
        if cid in data:
            data = data.replace(cid, f"{copy:04x}".encode() + cid[4:])
    packet = decode(record)
    payload = bytes(packet.payload)
    if packet.ip_proto == 17 and len(payload) >= 12 and payload[0] & 0xC0 == 0x80:
        ssrc = int.from_bytes(payload[8:12], "big")
        if ssrc in ssrcs:
            start = len(data) - len(payload) if data.endswith(payload) else data.find(payload)
            new = hashlib.sha256(f"{copy}:{ssrc}".encode()).digest()[:4]
            data = data[: start + 8] + new + data[start + 12 :]
    return data


def copy_records(source: Path, copy: int, shift_ns: int) -> Iterator[tuple[bytes, int, int]]:
    """(bytes, time, original length) of each record of copy number ``copy``."""
    call_ids = _call_ids(source)
    ssrcs = {s.key.ssrc for s in find_streams(source)}
    with open_capture(source) as reader:
        for record in reader:
            data = _rewritten(record, copy, call_ids, ssrcs)
            yield data, record.ts_ns + copy * shift_ns, record.orig_len


def make_copies(
    sources: Sequence[Path], count: int, out_dir: Path, shift_ns: int = SEVEN_HOURS_NS
) -> list[Path]:
    """``count`` pcap files, copy k made from ``sources[k % len(sources)]``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for copy in range(count):
        source = sources[copy % len(sources)]
        with open_capture(source) as reader:
            next(iter(reader), None)
            header = reader.pcap_header
        target = out_dir / f"copy-{copy:03d}-{source.name}"
        with PcapWriter(target, header=header) as writer:
            for data, ts_ns, orig_len in copy_records(source, copy, shift_ns):
                writer.write(data, ts_ns, orig_len)
        made.append(target)
    return made


def concatenate_copies(source: Path, count: int, target: Path, gap_ns: int) -> Path:
    """One pcap of ``count`` copies of ``source`` one after the other, ``gap_ns`` apart."""
    with open_capture(source) as reader:
        first = next(iter(reader))
        header = reader.pcap_header
    span = 0
    with open_capture(source) as reader:
        for record in reader:
            span = max(span, record.ts_ns - first.ts_ns)
    with PcapWriter(target, header=header) as writer:
        for copy in range(count):
            for data, ts_ns, orig_len in copy_records(source, copy, span + gap_ns):
                writer.write(data, ts_ns, orig_len)
    return target
