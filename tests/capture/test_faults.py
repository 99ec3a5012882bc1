"""Truncated and corrupt captures: every good record, then one typed error, never a crash."""

from __future__ import annotations

import gzip
import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.decode import decode
from rtcscope.capture.reader import open_capture
from rtcscope.errors import CaptureError
from rtcscope.scan.files import capture_info
from tests.capture.test_shared_captures import CAPTURES
from tests.conftest import DATA
from tests.peers import rtcscope_cli

UNIQUE = sorted({p.read_bytes(): p for p in CAPTURES if not p.name.endswith(".gz")}.values())


def _read(
    data: bytes, keep_going: bool = False
) -> tuple[list[tuple[int, int, bytes]], Exception | None, list[CaptureError]]:
    records = []
    error: Exception | None = None
    reader = open_capture(io.BytesIO(data), keep_going=keep_going)
    try:
        for record in reader:
            decode(record)
            records.append((record.frame, record.ts_ns, bytes(record.data)))
    except Exception as exc:
        error = exc
    return records, error, reader.warnings


def _boundaries(data: bytes) -> list[int]:
    """Offsets where a whole structure (file header, record, block) ends."""
    ends = []
    if data[:4] == b"\n\r\r\n":
        pos = 0
        while pos + 8 <= len(data):
            pos += struct.unpack_from("<I", data, pos + 4)[0]
            ends.append(pos)
    else:
        pos = 24
        ends.append(pos)
        while pos + 16 <= len(data):
            pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
            ends.append(pos)
    return ends


def _check_prefix(
    data: bytes, full: list[tuple[int, int, bytes]], boundaries: set[int], size: int
) -> None:
    prefix = data[:size]
    records, error, _ = _read(prefix)
    assert records == full[: len(records)]
    if size in boundaries:
        assert error is None, (size, error)
        return
    assert isinstance(error, CaptureError), (size, repr(error))
    assert error.record == len(records) + 1, (size, str(error))
    assert f"record {len(records) + 1}" in str(error) or size < 24, str(error)
    assert error.offset is not None and error.offset <= size
    # --keep-going: the same records, the fault as a warning.
    kept, kept_error, warnings = _read(prefix, keep_going=True)
    assert kept == records and kept_error is None and [str(w) for w in warnings] == [str(error)]


@pytest.mark.parametrize("path", UNIQUE, ids=lambda p: p.name)
def test_truncations_give_the_good_records_then_a_capture_error(path: Path) -> None:
    data = path.read_bytes()
    full, error, _ = _read(data)
    assert error is None
    boundaries = set(_boundaries(data))
    if len(data) < 10_000:
        sizes = range(len(data))
    else:
        rng = random.Random(path.name)
        ends = sorted(boundaries)
        chosen = rng.sample(ends, min(12, len(ends)))
        sizes = sorted(
            {
                0,
                1,
                23,
                24,
                25,
                *(e + d for e in chosen for d in (-1, 0, 1) if 0 <= e + d < len(data)),
            }
            | {rng.randrange(len(data)) for _ in range(12)}
        )
    for size in sizes:
        _check_prefix(data, full, boundaries, size)


def test_message_names_record_and_offset() -> None:
    data = (DATA / "aaa.pcap").read_bytes()
    ends = _boundaries(data)
    cut = ends[100] + 16 + 10  # 10 bytes into record 101's data
    records, error, _ = _read(data[:cut])
    length = struct.unpack_from("<I", data, ends[100] + 8)[0]
    assert len(records) == 100
    assert str(error) == (
        f"pcap record 101 at offset {ends[100]} is truncated: 10 of {length} bytes"
    )


def test_corrupt_length_is_reported_not_read() -> None:
    data = bytearray((DATA / "aaa.pcap").read_bytes())
    ends = _boundaries(bytes(data))
    struct.pack_into("<I", data, ends[5] + 8, 0xFFFFFFF0)
    records, error, _ = _read(bytes(data))
    assert len(records) == 5
    assert isinstance(error, CaptureError)
    assert str(error) == (
        f"pcap record 6 at offset {ends[5]} is corrupt: captured length 4294967280 is impossible"
    )


def test_cli_reports_a_truncated_file_and_keep_going_warns(tmp_path: Path) -> None:
    data = (DATA / "aaa.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: _boundaries(data)[300] + 20])
    result = rtcscope_cli(["info", cut])
    assert result.returncode == 3
    assert "pcap record 301 at offset" in result.stderr and "Traceback" not in result.stderr
    result = rtcscope_cli(["info", "--keep-going", "--format", "json", cut])
    assert result.returncode == 0
    assert '"packets": 300' in result.stdout and "pcap record 301" in result.stdout


def _both_paths(data: bytes) -> None:
    """Per-record path and vectorized info path: records then CaptureError, same counts."""
    _read(data)
    results = []
    for fast in (True, False):
        try:
            results.append(capture_info(io.BytesIO(data), fast=fast).as_dict())
        except CaptureError as exc:
            results.append({"error": str(exc)})
    assert results[0] == results[1]


@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    _both_paths(data)


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=120)), max_size=8),
    st.integers(0, 7),
)
def test_arbitrary_records_in_a_pcap(
    records: list[tuple[int, bytes]], linktype_choice: int
) -> None:
    linktype = (1, 113, 276, 101, 228, 229, 0, 108)[linktype_choice]
    header = PCAP_HEADER[:20] + struct.pack("<I", linktype)
    body = b"".join(struct.pack("<IIII", ts, 0, len(d), len(d)) + d for ts, d in records)
    _both_paths(header + body)


@given(st.binary(min_size=1, max_size=400))
def test_arbitrary_blocks_after_a_section_header(tail: bytes) -> None:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 0) + struct.pack("<I", 20)
    _both_paths(shb + idb + tail)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.97])
def test_truncated_gzip_gives_every_record_it_still_holds(fraction: float) -> None:
    data = (DATA / "SIP_DTMF2.pcap").read_bytes()
    compressed = gzip.compress(data)[: int(len(gzip.compress(data)) * fraction)]
    recovered = zlib.decompressobj(31).decompress(compressed)  # what any gunzip gets out
    whole = sum(1 for end in _boundaries(recovered)[1:] if end <= len(recovered))
    records, error, _ = _read(compressed)
    assert len(records) == whole > 0
    assert isinstance(error, CaptureError) and error.record == whole + 1
    assert "compressed stream is corrupt" in str(error)
    fast = capture_info(io.BytesIO(compressed), keep_going=True).as_dict()
    assert fast == capture_info(io.BytesIO(compressed), keep_going=True, fast=False).as_dict()
    assert fast["packets"] == whole
