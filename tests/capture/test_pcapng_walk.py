"""The pcapng batch walk (a tight loop over runs of Enhanced Packet Blocks) gives exactly the
records, times and faults of the record-by-record walk, on real and on damaged files."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcscope.capture.fastscan import BatchRows
from rtcscope.capture.reader import open_capture
from tests.capture import convert
from tests.conftest import DATA
from tests.peers import run

pytestmark = pytest.mark.peer

Row = tuple[int, int, int, int, int, bytes]


@functools.cache
def _pcapng(name: str, tsresol: int | None = None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="rtcscope-walk-") as tmp:
        out = Path(tmp) / "made.pcapng"
        run("editcap", ["-F", "pcapng", DATA / name, out])
        data = out.read_bytes()
    return data if tsresol is None else convert.with_idb_options(data, None, tsresol)


def _one_by_one(data: bytes) -> tuple[list[Row], list[str]]:
    with open_capture(io.BytesIO(data), keep_going=True) as reader:
        rows = [
            (r.frame, r.ts_ns, r.interface, r.linktype, r.orig_len, bytes(r.data)) for r in reader
        ]
        return rows, [str(w) for w in reader.warnings]


def _batched(data: bytes) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    with open_capture(io.BytesIO(data), keep_going=True) as reader:
        for batch in reader.batches():
            batch_rows = BatchRows(batch)
            for r in batch_rows.records(list(range(batch_rows.count))):
                rows.append((r.frame, r.ts_ns, r.interface, r.linktype, r.orig_len, bytes(r.data)))
        return rows, [str(w) for w in reader.warnings]


@pytest.mark.parametrize("tsresol", [None, 9, 3, 0x80 | 20])
def test_batches_are_the_records(tsresol: int | None) -> None:
    data = _pcapng("SIP_DTMF2.pcap", tsresol)
    expected = _one_by_one(data)
    assert len(expected[0]) > 1000 and not expected[1]
    assert _batched(data) == expected


def _block_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    while pos + 8 <= len(data):
        starts.append(pos)
        pos += int.from_bytes(data[pos + 4 : pos + 8], "little")
    return starts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_pcapng_batches_are_the_records(data: st.DataObject) -> None:
    """Bytes changed where the walks read (block type and length, interface, captured
    length, the trailing length), then the file cut anywhere in its second half."""
    original = bytearray(_pcapng("sip-rtp-opus.pcap"))
    starts = _block_starts(bytes(original))
    for _ in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.sampled_from(starts))
        end = start + int.from_bytes(original[start + 4 : start + 8], "little")
        at = data.draw(st.sampled_from([0, 1, 4, 5, 8, 9, 20, 21, end - start - 4]))
        if start + at < len(original):
            original[start + at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(original) // 2, len(original)))
    damaged = bytes(original[:cut])
    assert _batched(damaged) == _one_by_one(damaged)
