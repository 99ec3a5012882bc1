"""CaptureReader.batches() with the record walk in a helper process equals the in-process walk.

On the Python road of the walk (the C road, rtcscope.capture._records, walks in-process:
tests/capture/test_records_c.py), large native-order pcap files have their record
boundaries found by a forked child (reader.PIPELINE_MIN_BYTES); here every test takes the
Python road, the threshold is set to 0 to force that path on every eligible capture, and to
"never" for the reference. Everything a consumer can see is compared:
each batch (window offset, bytes, positions, frames, bias, ...), the reader's state afterwards,
and the fault (message, record number, byte offset) or, with keep_going, the warning.
"""

from __future__ import annotations

import array
import hashlib
import os
import random
import signal
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from rtcscope.capture import reader
from rtcscope.errors import CaptureError
from rtcscope.scan.files import capture_info, find_streams
from tests.conftest import DATA, shared_captures

NEVER = 1 << 62
NATIVE = "<" if sys.byteorder == "little" else ">"


@pytest.fixture(autouse=True)
def _python_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python road of the record walk, the one that forks (whatever was built)."""
    monkeypatch.setattr(reader, "_walk_pcap", reader._walk_pcap_py)
    monkeypatch.setattr(reader, "_walk_epbs", reader._walk_epbs_py)


def _eligible(path: Path) -> bool:
    head = path.read_bytes()[:4]
    return len(head) == 4 and struct.unpack("=I", head)[0] in (0xA1B2C3D4, 0xA1B23C4D)


CAPTURES = [*shared_captures(), *sorted(p for p in DATA.iterdir() if ".pcap" in p.name)]
ELIGIBLE = [p for p in CAPTURES if _eligible(p)]


def _observe(path: Path, pipelined: bool, keep_going: bool = False) -> dict[str, Any]:
    """Everything batches() shows: the batches, the reader afterwards, the fault."""
    saved = reader.PIPELINE_MIN_BYTES
    reader.PIPELINE_MIN_BYTES = 0 if pipelined else NEVER
    seen: list[tuple[Any, ...]] = []
    fault: tuple[str, str, int | None, int | None] | None = None
    walker_types: set[type] = set()
    try:
        with reader.open_capture(path, keep_going=keep_going) as capture:
            try:
                for batch in capture.batches():
                    walker_types.add(type(batch.positions))
                    seen.append(
                        (
                            batch.base,
                            len(batch.buffer),
                            hashlib.sha1(bytes(batch.buffer)).hexdigest(),
                            list(batch.positions),
                            batch.kind,
                            batch.endian,
                            batch.linktype,
                            batch.frac_ns,
                            batch.first_frame,
                            batch.bias,
                            batch.interfaces,
                            [(r.frame, r.ts_ns, bytes(r.data), r.offset) for r in batch.records],
                        )
                    )
            except CaptureError as exc:
                fault = (type(exc).__name__, str(exc), exc.offset, exc.record)
            assert capture._walker is None  # reaped once the batches are done
            return {
                "batches": seen,
                "fault": fault,
                "warnings": [(str(w), w.offset, w.record) for w in capture.warnings],
                "records": capture.records,
                "size": capture.size,
                "format": capture.format,
                "byte_order": capture.byte_order,
                "pcap_header": capture.pcap_header,
                "interfaces": capture.interfaces,
                "positions_type": walker_types,
            }
    finally:
        reader.PIPELINE_MIN_BYTES = saved


def _assert_same(path: Path, keep_going: bool = False) -> dict[str, Any]:
    inline = _observe(path, pipelined=False, keep_going=keep_going)
    piped = _observe(path, pipelined=True, keep_going=keep_going)
    if _eligible(path) and inline["batches"]:
        # The helper process really walked: its positions arrive as array('q').
        assert piped.pop("positions_type") == {array.array}
        assert inline.pop("positions_type") == {list}
    else:
        assert piped.pop("positions_type") == inline.pop("positions_type")
    assert piped == inline
    return inline


def _pcap(records: list[bytes], nsec: bool = False, linktype: int = 1) -> bytes:
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(NATIVE + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for number, data in enumerate(records):
        out.append(
            struct.pack(
                NATIVE + "IIII",
                1_700_000_000 + number,
                number % 999_999,
                len(data),
                len(data) + number % 3,
            )
        )
        out.append(data)
    return b"".join(out)


def _random_records(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [
        rng.choice((0, 1, 3, 60, 172, 214, 1514, rng.randrange(0, 9000))) for _ in range(count)
    ]
    return [rng.randbytes(size) for size in sizes]


def _boundaries(data: bytes) -> list[int]:
    """Offsets of each record header of a native-order pcap."""
    at, found = 24, []
    while at + 16 <= len(data):
        found.append(at)
        at += 16 + struct.unpack_from(NATIVE + "I", data, at + 8)[0]
    return found


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_capture_gives_the_same_batches(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default 4 MB windows and 8 KB ones (records across window edges)."""
    _assert_same(path)
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    _assert_same(path)


@pytest.mark.parametrize("path", ELIGIBLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cut_captures_give_the_same_records_then_the_same_fault(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut inside a record header, inside a record body, at a record boundary; corrupt."""
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    data = path.read_bytes()
    starts = _boundaries(data)
    middle = starts[len(starts) // 2]
    last = starts[-1]
    cuts = {
        "in-header": middle + 7,
        "in-body": middle + 16 + max(1, struct.unpack_from(NATIVE + "I", data, middle + 8)[0] // 2),
        "at-boundary": middle,
        "last-header": last + 15,
        "last-body": len(data) - 1,
        "file-header": 20,
    }
    for name, cut in cuts.items():
        cut_file = tmp_path / f"{name}.pcap"
        cut_file.write_bytes(data[:cut])
        strict = _assert_same(cut_file)
        lenient = _assert_same(cut_file, keep_going=True)
        if name == "at-boundary":
            assert strict["fault"] is None and not lenient["warnings"]
        else:
            assert strict["fault"] is not None and strict["fault"][3] is not None
            assert [strict["fault"][1:]] == lenient["warnings"]
    corrupt = bytearray(data)
    struct.pack_into(NATIVE + "I", corrupt, middle + 8, reader.MAX_RECORD_BYTES + 1)
    corrupt_file = tmp_path / "corrupt.pcap"
    corrupt_file.write_bytes(corrupt)
    fault = _assert_same(corrupt_file)["fault"]
    assert fault is not None and fault[2] == middle and "impossible" in fault[1]
    _assert_same(corrupt_file, keep_going=True)


@pytest.mark.parametrize("nsec", [False, True], ids=["usec", "nsec"])
def test_big_generated_files(nsec: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """About 10 MB of records of mixed sizes (empty ones too): several 4 MB windows, then the
    same file cut in a header, in a body and at a boundary near its end, and one record
    declaring a length that runs past the end of the file."""
    data = _pcap(_random_records(14000, seed=7 + nsec), nsec=nsec)
    whole = tmp_path / "big.pcap"
    whole.write_bytes(data)
    seen = _assert_same(whole)
    assert len(seen["batches"]) >= 3 and seen["records"] == 14000 and seen["fault"] is None
    assert seen["batches"][0][8] == 1 and seen["size"] == len(data)
    starts = _boundaries(data)
    near_end = starts[-40]
    for cut in (near_end, near_end + 5, near_end + 16 + 1, starts[len(starts) // 2] + 3):
        cut_file = tmp_path / f"cut-{cut}.pcap"
        cut_file.write_bytes(data[:cut])
        _assert_same(cut_file)
        _assert_same(cut_file, keep_going=True)
    too_long = bytearray(data)
    struct.pack_into(NATIVE + "I", too_long, starts[-3] + 8, 1 << 20)
    long_file = tmp_path / "too-long.pcap"
    long_file.write_bytes(too_long)
    fault = _assert_same(long_file)["fault"]
    assert fault is not None and fault[3] == len(starts) - 2 and fault[2] == starts[-3]


def test_other_files_keep_the_in_process_walk(tmp_path: Path) -> None:
    """Big-endian pcap, pcapng, gzip and streams are not sent to a helper process."""
    swapped = "<" if NATIVE == ">" else ">"
    foreign = tmp_path / "foreign.pcap"
    foreign.write_bytes(
        struct.pack(swapped + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        + struct.pack(swapped + "IIII", 1, 2, 4, 4)
        + b"abcd"
    )
    observed = _assert_same(foreign)
    assert observed["records"] == 1 and observed["byte_order"] != sys.byteorder
    reader.PIPELINE_MIN_BYTES, saved = 0, reader.PIPELINE_MIN_BYTES
    try:
        with foreign.open("rb") as stream, reader.open_capture(stream) as capture:
            batches = list(capture.batches())
            assert [type(b.positions) for b in batches] == [list]
    finally:
        reader.PIPELINE_MIN_BYTES = saved


def test_the_helper_is_reaped_when_batches_are_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer that stops early (scan_fast on an unsupported first batch, an exception)
    leaves no process behind: closing the generator, or the reader, kills and reaps it."""
    monkeypatch.setattr(reader, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    path = tmp_path / "big.pcap"
    path.write_bytes(_pcap(_random_records(3000, seed=11)))
    for how in ("generator", "reader"):
        with reader.open_capture(path) as capture:
            batches = capture.batches()
            next(batches)
            pid = capture._walker
            assert pid is not None and os.path.exists(f"/proc/{pid}")
            if how == "generator":
                batches.close()
            else:
                capture.close()
            assert capture._walker is None
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize(
    "name",
    ["sip-rtp-opus.pcap", "SIP_DTMF2.pcap", "testbed-good.pcap", "srtp-sdes-call.pcap"],
)
def test_consumers_give_the_same_results(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """rtcscope info's counts and the streams fast path, both walks, small windows."""
    path = DATA / name
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    results = []
    for threshold in (NEVER, 0):
        monkeypatch.setattr(reader, "PIPELINE_MIN_BYTES", threshold)
        results.append(
            (capture_info(path).as_dict(), repr(find_streams(path, with_rtcp=True, with_dtmf=True)))
        )
    assert results[0] == results[1]


def test_a_helper_that_dies_is_an_error_not_a_short_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More positions than the pipe holds (300,000 empty records), the helper killed after the
    first batch: the batches already sent arrive, then a CaptureError, never a silent end."""

    monkeypatch.setattr(reader, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    path = tmp_path / "many.pcap"
    path.write_bytes(_pcap([b""] * 300_000))
    with reader.open_capture(path) as capture:
        batches = capture.batches()
        first = next(batches)
        assert first.first_frame == 1 and capture._walker is not None
        os.kill(capture._walker, signal.SIGKILL)
        frames = len(first.positions)
        with pytest.raises(CaptureError, match="record walk process ended unexpectedly"):
            for batch in batches:
                assert batch.first_frame == frames + 1
                frames += len(batch.positions)
        assert frames < 300_000 and capture._walker is None
