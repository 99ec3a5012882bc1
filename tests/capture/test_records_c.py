"""The batch record walk in C (rtcscope.capture._records) against its specification, the
pure-Python road (reader._walk_pcap_py, reader._walk_epbs_py): the same records and the same
stop on made buffers (random bytes, records of random lengths, cut ends, lengths near 2^32,
both byte orders, any start) and the same batches, reader state and faults on every capture
of tests/data and ../shared/captures (whole, cut, corrupt); built and active under CI=true;
RTCSCOPE_PURE=1 selects the Python road; on the C road no helper process is forked.
"""

from __future__ import annotations

import array
import struct
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope.capture import reader
from tests.capture.test_reader_pipelined import (
    CAPTURES,
    ELIGIBLE,
    _boundaries,
    _observe,
    _pcap,
    _random_records,
)
from tests.conftest import IN_CI, c_module, needs_built
from tests.peers import fresh_python

_records = c_module("rtcscope.capture._records")

needs_c = needs_built(_records)

_orders = st.sampled_from("<>")


def _python_pcap(buf: bytes, pos: int, endian: str) -> tuple[list[int], int]:
    positions, stop, bias = reader._walk_pcap_py(buf, pos, endian)
    return [at - bias for at in positions], stop


def _c_pcap(buf: bytes, pos: int, endian: str) -> tuple[list[int], int]:
    assert _records is not None
    found, stop = _records.walk_pcap(buf, pos, endian == ">")
    positions = array.array("q")
    positions.frombytes(found)
    return list(positions), stop


# Record lengths: small, around the buffer's size, near and at 2^32.
_lengths = st.one_of(
    st.integers(0, 40),
    st.integers(0, 300),
    st.sampled_from([(1 << 32) - 1, (1 << 32) - 16, (1 << 31), reader.MAX_RECORD_BYTES + 1]),
)


@st.composite
def _pcap_buffers(draw: st.DrawFn) -> tuple[bytes, str]:
    """Records of drawn lengths (the captured bytes cut short at the end), or random bytes."""
    endian = draw(_orders)
    if draw(st.booleans()):
        return draw(st.binary(max_size=200)), endian
    out = []
    for length in draw(st.lists(_lengths, max_size=12)):
        body = draw(st.binary(min_size=min(length, 64), max_size=min(length, 64)))
        out.append(struct.pack(endian + "IIII", 1, 2, length, length) + body)
    data = b"".join(out)
    return data[: draw(st.integers(0, len(data)))], endian


@needs_c
@settings(max_examples=2000, deadline=None)
@given(_pcap_buffers(), st.integers(0, 260))
@example((b"", "<"), 0)
@example((struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 0), "<"), 0)
@example((struct.pack(">IIII", 0, 0, 4, 0) + b"abcd" + b"x" * 15, ">"), 0)
def test_the_c_pcap_walk_finds_what_the_python_walk_finds(
    made: tuple[bytes, str], pos: int
) -> None:
    buf, endian = made
    for start in (0, pos, len(buf), len(buf) + 3):
        expected = _python_pcap(buf, start, endian)
        assert _c_pcap(buf, start, endian) == expected
        assert _c_pcap(memoryview(buf), start, endian) == expected  # type: ignore[arg-type]


_block_types = st.sampled_from([6, 6, 6, 2, 3, 1, 0x0A0D0D0A, 0x06000000])
_block_lengths = st.one_of(
    st.sampled_from([28, 32, 33, 34, 36, 40, 64, reader.MAX_RECORD_BYTES + 4, (1 << 32) - 4]),
    st.integers(0, 120),
)


_right = st.sampled_from([True] * 7 + [False])


def _mostly(draw: st.DrawFn, right: int, wrong: st.SearchStrategy[int]) -> int:
    """``right`` about seven times in eight, else a drawn (maybe wrong) value."""
    return right if draw(_right) else draw(wrong)


@st.composite
def _epb_buffers(draw: st.DrawFn) -> tuple[bytes, str]:
    """Blocks near the Enhanced Packet Block's shape: each field (type, length, interface id,
    captured length, trailing length) mostly right, else drawn; the whole sometimes cut
    short at a drawn end; or random bytes."""
    endian = draw(_orders)
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=200)), endian
    out = []
    for _ in range(draw(st.integers(0, 8))):
        btype = _mostly(draw, reader.PCAPNG_EPB, _block_types)
        blen = _mostly(draw, 32 + 4 * draw(st.integers(0, 10)), _block_lengths)
        iface = _mostly(draw, 0, st.sampled_from([1, 2, 3, 0xFFFFFFFF]))
        room = max(blen - 32, 0)
        caplen = _mostly(
            draw,
            draw(st.integers(0, room)),
            st.sampled_from([room + 1, room + 4, 5, (1 << 32) - 1]),
        )
        trailer = _mostly(draw, blen, st.integers(0, (1 << 32) - 1))
        body = max(0, min(blen, 200) - 32)
        # Type, length, interface id, timestamp (2 words), captured and original lengths (28
        # bytes), the packet, the trailing length: a block of exactly blen bytes (when 32 <=
        # blen <= 200), what the walk accepts when the fields are right.
        out.append(
            struct.pack(endian + "IIIIIII", btype, blen, iface, 1, 2, caplen, blen)
            + draw(st.binary(min_size=body, max_size=body))
            + struct.pack(endian + "I", trailer)
        )
    data = b"".join(out)
    if draw(st.integers(0, 2)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data, endian


@settings(max_examples=2000, deadline=None, database=None)
@given(_epb_buffers(), st.sampled_from([-1, 0, 1, 1, 2, 4]), st.integers(0, 120))
def _check_epb_walks(
    accepted: list[bool], made: tuple[bytes, str], interfaces: int, pos: int
) -> None:
    assert _records is not None
    buf, endian = made
    for start in (0, pos, len(buf)):
        expected = array.array("q")
        stop = reader._walk_epbs_py(buf, start, endian, interfaces, expected)
        if start == 0:
            accepted.append(len(expected) > 0)
        found, c_stop = _records.walk_epbs(
            buf, start, endian == ">", interfaces, reader.MAX_RECORD_BYTES
        )
        positions = array.array("q")
        positions.frombytes(found)
        assert (list(positions), c_stop) == (list(expected), stop)
        # What the reader's C road gives: appended to the positions already found.
        appended = array.array("q", [7])
        # (the reader binds _records on the C road only: under RTCSCOPE_PURE=1 it is given here)
        with mock.patch.object(reader, "_c_walk_epbs", _records.walk_epbs):
            assert reader._walk_epbs_c(buf, start, endian, interfaces, appended) == stop
        assert list(appended) == [7, *expected]


@needs_c
def test_the_c_epb_walk_finds_what_the_python_walk_finds() -> None:
    """On made buffers; a good share of them have blocks accepted (else the walks' checks
    were never tried: every block failed one)."""
    accepted: list[bool] = []
    _check_epb_walks(accepted)
    assert sum(accepted) * 10 >= len(accepted), (sum(accepted), len(accepted))  # ~20% seen


@needs_c
@pytest.mark.parametrize("endian", "<>")
def test_many_records_in_one_buffer(endian: str) -> None:
    """Counts around each power of two to 2^17 (the C walk keeps its room for positions from
    call to call and grows it when a buffer holds more), a cut record after them."""
    for power in range(12, 18):
        for count in ((1 << power) - 1, 1 << power, (1 << power) + 1):
            empty = struct.pack(endian + "IIII", 1, 2, 0, 0)
            buf = empty * count + struct.pack(endian + "IIII", 1, 2, 9, 9) + b"abc"
            found = _c_pcap(buf, 0, endian)
            assert found == _python_pcap(buf, 0, endian)
            assert len(found[0]) == count and found[1] == 16 * count
            blocks = struct.pack(endian + "8I", 6, 32, 0, 0, 0, 0, 0, 32) * count + b"\0" * 40
            assert _records is not None
            positions, stop = _records.walk_epbs(blocks, 0, endian == ">", 1, 1 << 24)
            assert (len(positions), stop) == (8 * count, 32 * count)
            expected = array.array("q")
            assert reader._walk_epbs_py(blocks, 0, endian, 1, expected) == stop
            assert positions == expected.tobytes()


@needs_c
def test_bad_arguments_give_a_typed_error() -> None:
    assert _records is not None
    with pytest.raises(TypeError):
        _records.walk_pcap(b"x", 0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _records.walk_pcap("text", 0, False)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _records.walk_pcap(b"x", "0", False)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _records.walk_pcap(b"x", -1, False)
    with pytest.raises(TypeError):
        _records.walk_epbs(b"x", 0, False, 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _records.walk_epbs(b"x", 0, False, "1", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _records.walk_epbs(b"x", -4, False, 1, 5)
    assert _records.walk_pcap(b"", 0, True) == (b"", 0)
    assert _records.walk_epbs(b"", 9, True, 1, 5) == (b"", 9)


def _road(monkeypatch: pytest.MonkeyPatch, c: bool) -> None:
    """The reader's walks on the C road (bound here also under RTCSCOPE_PURE=1) or Python's."""
    assert _records is not None
    monkeypatch.setattr(reader, "_c_walk_pcap", _records.walk_pcap)
    monkeypatch.setattr(reader, "_c_walk_epbs", _records.walk_epbs)
    monkeypatch.setattr(reader, "_walk_pcap", reader._walk_pcap_c if c else reader._walk_pcap_py)
    monkeypatch.setattr(reader, "_walk_epbs", reader._walk_epbs_c if c else reader._walk_epbs_py)


def _seen(path: Path, monkeypatch: pytest.MonkeyPatch, c: bool, keep_going: bool) -> Any:
    """Everything batches() shows on one road (never forked), each batch's positions as the
    record headers' offsets (whatever the road's bias)."""
    _road(monkeypatch, c)
    observed = _observe(path, pipelined=False, keep_going=keep_going)
    observed.pop("positions_type")
    observed["batches"] = [
        (*batch[:3], [at - batch[9] for at in batch[3]], *batch[4:9], *batch[10:])
        for batch in observed["batches"]
    ]
    return observed


def _assert_same_roads(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The strict observation (the fault raised); with keep_going too (the warning)."""
    seen = []
    for keep_going in (False, True):
        python = _seen(path, monkeypatch, False, keep_going)
        assert _seen(path, monkeypatch, True, keep_going) == python
        seen.append(python)
    return seen[0]


@needs_c
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_capture_gives_the_same_batches_on_both_roads(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default 4 MB windows and 8 KB ones (records across window edges)."""
    _assert_same_roads(path, monkeypatch)
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    _assert_same_roads(path, monkeypatch)


@needs_c
@pytest.mark.parametrize("path", ELIGIBLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cut_and_corrupt_captures_give_the_same_faults_on_both_roads(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut inside a record header, a record body, at a boundary; a length past the file's
    end; an impossible length; a length near 2^32."""
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    data = path.read_bytes()
    starts = _boundaries(data)
    middle = starts[len(starts) // 2]
    native = "<" if sys.byteorder == "little" else ">"
    variants = {
        "in-header": data[: middle + 7],
        "in-body": data[: middle + 17],
        "at-boundary": data[:middle],
        "file-header": data[:20],
    }
    for name, length in (
        ("past-end", len(data)),
        ("impossible", reader.MAX_RECORD_BYTES + 1),
        ("near-2-32", (1 << 32) - 1),
    ):
        changed = bytearray(data)
        struct.pack_into(native + "I", changed, middle + 8, length)
        variants[name] = bytes(changed)
    for name, content in variants.items():
        variant = tmp_path / f"{name}.pcap"
        variant.write_bytes(content)
        seen = _assert_same_roads(variant, monkeypatch)
        assert (seen["fault"] is None) == (name == "at-boundary"), name


PCAPNG = [p for p in CAPTURES if p.read_bytes()[:4] == b"\n\r\r\n"]


def _epbs(data: bytes) -> tuple[str, list[int]]:
    """The byte order of a one-section pcapng and the offsets of its Enhanced Packet Blocks."""
    endian = "<" if struct.unpack_from("<I", data, 8)[0] == 0x1A2B3C4D else ">"
    at, found = 0, []
    while at + 12 <= len(data):
        btype, blen = struct.unpack_from(endian + "II", data, at)
        if btype == reader.PCAPNG_EPB:
            found.append(at)
        at += blen
    return endian, found


@needs_c
@pytest.mark.parametrize("path", PCAPNG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cut_and_corrupt_pcapng_give_the_same_faults_on_both_roads(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block in the middle cut (in its header, its body, at its start), or failing one
    check of the EPB walk: an unknown interface id, a captured length past its block, a
    block length not a multiple of 4 (the trailing length matching it), a wrong trailing
    length, a length past the file's end."""
    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    data = path.read_bytes()
    endian, blocks = _epbs(data)
    assert len(blocks) > 4
    middle = blocks[len(blocks) // 2]
    blen = struct.unpack_from(endian + "I", data, middle + 4)[0]
    variants = {
        "in-header": data[: middle + 7],
        "in-body": data[: middle + 33],
        "at-boundary": data[:middle],
    }
    for name, field, value in (
        ("interface", 8, 1000),
        ("captured-length", 20, blen - 31),
        ("trailing-length", blen - 4, blen + 4),
        ("past-end", 4, len(data)),
    ):
        changed = bytearray(data)
        struct.pack_into(endian + "I", changed, middle + field, value)
        variants[name] = bytes(changed)
    # Two bytes more before the trailing length, both lengths blen + 2.
    odd = struct.pack(endian + "I", blen + 2)
    variants["not-multiple-of-4"] = (
        data[: middle + 4] + odd + data[middle + 8 : middle + blen - 4] + b"\0\0" + odd
    ) + data[middle + blen :]
    for name, content in variants.items():
        variant = tmp_path / f"{name}.pcapng"
        variant.write_bytes(content)
        seen = _assert_same_roads(variant, monkeypatch)
        assert (seen["fault"] is None) == (name == "at-boundary"), name


@needs_c
@pytest.mark.parametrize("endian", "<>")
def test_big_files_are_walked_in_process_on_the_c_road(
    endian: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the helper's threshold, either byte order: no process forked, the same batches."""
    monkeypatch.setattr(reader, "PIPELINE_MIN_BYTES", 0)
    data = _pcap(_random_records(3000, seed=5))
    if endian != ("<" if sys.byteorder == "little" else ">"):
        data = _swapped(data)
    path = tmp_path / "big.pcap"
    path.write_bytes(data)
    _road(monkeypatch, True)
    with reader.open_capture(path) as capture:
        batches = capture.batches()
        first = next(batches)
        assert capture._walker is None and isinstance(first.positions, array.array)
        assert first.bias == 0
        frames = len(first.positions) + sum(len(batch.positions) for batch in batches)
    assert frames == 3000 == capture.records
    _assert_same_roads(path, monkeypatch)


def _swapped(data: bytes) -> bytes:
    """A native-order pcap made by _pcap in the other byte order."""
    native = "<" if sys.byteorder == "little" else ">"
    other = ">" if native == "<" else "<"
    out = [struct.pack(other + "IHHiIII", *struct.unpack_from(native + "IHHiIII", data))]
    for at in _boundaries(data):
        header = struct.unpack_from(native + "IIII", data, at)
        out.append(struct.pack(other + "IIII", *header))
        out.append(data[at + 16 : at + 16 + header[2]])
    return b"".join(out)


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _records is not None
    assert reader.RECORD_WALK_ROAD == "c"


def test_rtcscope_pure_selects_the_python_road() -> None:
    built = "c" if _records is not None else "python"
    probe = "import rtcscope.capture.reader as r; print(r.RECORD_WALK_ROAD)"
    assert fresh_python(probe, "1") == "python"
    assert fresh_python(probe, "0") == built
    assert fresh_python(probe, None) == built
