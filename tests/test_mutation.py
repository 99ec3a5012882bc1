"""The mutation campaign, bounded for CI (the long one is bench/fuzz/run.py): every capture
of tests/data and ../shared/captures, cut to its first records, mutated (truncations, bit
flips, byte insertions and deletions, resized records, absurd pcap/pcapng lengths, file
header lies, extreme numbers in SIP/SDP text, duplicated records, gzip), then run through
info/streams/calls/diagnose/extract/analyze/split/``hep send`` by their library entry points
and, for a sample, through the CLI. A crash is any exception that is not an RtcscopeError, an
exit code outside {0, 1, 2, 3} or a traceback (tests/mutation.py). Then gzip bombs, and the
inputs the campaign found, minimized, each with the fault it showed."""

from __future__ import annotations

import gzip
import io
import itertools
import random
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcscope.capture.reader import CaptureReader
from rtcscope.errors import CaptureError
from rtcscope.report.plots import svg_plot
from rtcscope.rtp.series import StreamPackets, stream_series
from rtcscope.scan import ScanOptions, scan
from rtcscope.scan.files import capture_info
from tests import mutation
from tests.mutation import (
    Crash,
    exercise_cli,
    exercise_library,
    gzip_bomb,
    gzip_bombs,
    hep_sink,
    load,
    mutate,
    pcap_header,
    run_cli,
    units,
)

# Inputs are cut to this many records (and bytes): the campaign's time goes to the mutations,
# not to reading long captures whole (bench/fuzz/run.py reads them whole).
MAX_RECORDS = 64
MAX_BYTES = 64 * 1024


def _seed_inputs() -> list[tuple[str, bytes]]:
    inputs = []
    for path in mutation.corpus():
        data = load(path)
        found = units(data)
        cut = [u for u in found[:MAX_RECORDS] if u.end <= MAX_BYTES] or found[:1]
        inputs.append((path.name, data[: cut[-1].end] if cut else data[:MAX_BYTES]))
    return inputs


SEEDS = _seed_inputs()


@pytest.fixture(scope="module")
def hep() -> Iterator[tuple[str, int]]:
    with hep_sink() as address:
        yield address


def test_the_walker_covers_every_capture_exactly() -> None:
    """The mutators' record/block walker (test code, not the reader) reaches the end of
    every capture: its length fields are the ones the mutators make lie."""
    for path in mutation.corpus():
        data = load(path)
        found = units(data)
        assert found, path.name
        assert found[-1].end == len(data), path.name
        assert all(a.end == b.start for a, b in itertools.pairwise(found)), path.name


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    which=st.integers(0, len(SEEDS) - 1),
    rng=st.randoms(use_true_random=False),
    rounds=st.integers(1, 3),
    per_packet=st.booleans(),
    gzipped=st.booleans(),
    variant=st.sampled_from([None, 0, 1]),
)
def test_mutated_captures_give_results_or_typed_errors(
    which: int,
    rng: random.Random,
    rounds: int,
    per_packet: bool,
    gzipped: bool,
    variant: int | None,
) -> None:
    name, original = SEEDS[which]
    data, names = mutate(original, rng, rounds)
    if gzipped:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    with tempfile.TemporaryDirectory(prefix="rtcscope-mutation-") as tmp:
        path = Path(tmp) / "input.pcap"
        path.write_bytes(data)
        try:
            exercise_library(path, Path(tmp), per_packet=per_packet, variant=variant)
        except Crash as exc:
            raise AssertionError(f"{name} after {names}: {exc}") from exc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(SEEDS) - 1),
    rng=st.randoms(use_true_random=False),
    command=st.integers(0, len(mutation.cli_commands(Path(), Path(), ("", 0))) - 1),
)
def test_mutated_captures_through_the_cli(
    which: int, rng: random.Random, command: int, hep: tuple[str, int]
) -> None:
    name, original = SEEDS[which]
    data, names = mutate(original, rng, 2)
    with tempfile.TemporaryDirectory(prefix="rtcscope-mutation-") as tmp:
        path = Path(tmp) / "input.pcap"
        path.write_bytes(data)
        try:
            exercise_cli(path, Path(tmp), hep, command)
        except Crash as exc:
            raise AssertionError(f"{name} after {names}: {exc}") from exc


def test_every_command_runs_on_an_unmutated_capture(tmp_path: Path, hep: tuple[str, int]) -> None:
    """The oracle itself: every command line of the sample runs and exits 0 or 1 on a good
    capture (a campaign whose commands all fail on usage would find nothing)."""
    path = mutation.DATA / "sip-rtp-opus.pcap"
    for index in range(len(mutation.cli_commands(path, tmp_path, hep))):
        run = exercise_cli(path, tmp_path, hep, index)
        assert run.code in (0, 1), (run.args, run.stderr.decode(errors="replace"))


def _first_packet_unit(found: list[mutation.Unit]) -> int:
    """The index of the third pcap record, or of the first pcapng packet block."""
    if not found[0].pcapng:
        return min(2, len(found) - 1)
    return next(i for i, u in enumerate(found) if u.data_start - u.start == 28)


@pytest.mark.parametrize("path", mutation.corpus(), ids=lambda p: p.name)
def test_absurd_lengths_are_reported_at_the_record_that_lies(path: Path, tmp_path: Path) -> None:
    """pcap incl_len 0xFFFFFFFF, 2^31-1 or 16 MiB + 1; a pcapng block total length of 4 GB or
    8, or leading and trailing lengths that differ: a CaptureError at the byte offset of the
    record or block the test broke (record number from 1, as Wireshark's frame numbers)."""
    data = load(path)
    found = units(data)
    k = _first_packet_unit(found)
    unit = found[k]
    size = unit.end - unit.start
    lies = (
        [(0, 0xFFFFFFFC), (0, 8), (0, size + 4), (1, size + 4)]
        if unit.pcapng
        else [(0, 0xFFFFFFFF), (0, 0x7FFFFFFF), (0, 16 * 1024 * 1024 + 1)]
    )
    for field, value in lies:
        broken = bytearray(data)
        struct.pack_into(unit.endian + "I", broken, unit.length_fields[field], value)
        capture = tmp_path / "broken.pcap"
        capture.write_bytes(broken)
        with pytest.raises(CaptureError) as caught:
            capture_info(capture)
        assert caught.value.offset == unit.start, (field, value, str(caught.value))
        if not unit.pcapng:
            assert caught.value.record == k + 1, (value, str(caught.value))


# --- gzip bombs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return gzip_bombs()


def test_gzip_of_10_gb_of_zeros_is_refused_at_once(tmp_path: Path, bombs: dict[str, bytes]) -> None:
    bomb = tmp_path / "zeros.pcap.gz"
    bomb.write_bytes(bombs["zeros"])
    assert bomb.stat().st_size < 11 * 10**6  # about 1,000:1
    with pytest.raises(CaptureError, match="pcap"):
        capture_info(bomb)
    run = run_cli(["info", str(bomb)])
    assert run.code == 3 and b"Traceback" not in run.stderr, run.stderr


class _Enough(Exception):
    """Raised from the progress callback once the reader has gone far enough."""


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_gzip_bomb_of_a_capture_is_read_in_flat_memory(
    tmp_path: Path, bombs: dict[str, bytes]
) -> None:
    """A 10 GB bomb that is a valid pcap (64 KiB frames of zeros) is read as a stream:
    resident memory after 64 MiB and after 576 MiB inflated differ by less than the 512 MiB
    read in between could take (the scan is stopped there). bench/fuzz/run.py reads the
    whole 10 GB of this and of the other bombs."""
    bomb = tmp_path / "bomb.pcap.gz"
    bomb.write_bytes(bombs["pcap-zero-frames"])
    marks: dict[int, float] = {}

    def progress(offset: int) -> None:
        for mark in (64 << 20, 576 << 20):
            if offset >= mark and mark not in marks:
                marks[mark] = _rss_mb()
        if len(marks) == 2:
            raise _Enough

    with pytest.raises(_Enough):
        scan(bomb, ScanOptions(), progress=progress)
    assert marks[576 << 20] - marks[64 << 20] < 64, marks


def test_gzip_bomb_members_inflate_to_the_size_asked() -> None:
    """The bomb builder (test code) gives what it says: prefix, whole units, total size."""
    data = gzip.decompress(gzip_bomb(3 * (1 << 20) + 5, b"head", b"ab"))
    assert data[:4] == b"head" and len(data) == 4 + 3 * (1 << 20) + 4
    assert set(data[4:]) == {ord("a"), ord("b")}


# --- what the campaign found, minimized --------------------------------------------------------


def _udp_frame(payload: bytes, src: str, dst: str, sport: int, dport: int) -> bytes:
    """Ethernet + IPv4 + UDP around ``payload`` (checksums 0: not checked by readers)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        1,
        0,
        64,
        17,
        0,
        bytes(int(x) for x in src.split(".")),
        bytes(int(x) for x in dst.split(".")),
    )
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp


def _pcap(frames: list[tuple[int, bytes]]) -> bytes:
    out = io.BytesIO()
    out.write(pcap_header())
    for ts_ns, frame in frames:
        out.write(
            struct.pack("<IIII", ts_ns // 10**9, ts_ns % 10**9 // 1000, len(frame), len(frame))
        )
        out.write(frame)
    return out.getvalue()


RTP_FLOW = ("127.0.84.1", "127.0.84.2", 40002, 40000)


def _rtp(seq: int, ts: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 8, seq, ts, 0x1234ABCD) + b"\xd5" * 160


def test_one_timestamp_decades_away_gives_rows_only_where_packets_are() -> None:
    """Found by bit flips (a MemoryError building 10^9 empty rows): a packet whose capture
    time is 30 years after the others. The per-second series keeps its dense rows for the
    real span and one row for the stray packet."""
    n = 50
    arrival = [i * 20_000_000 for i in range(n)] + [30 * 365 * 86400 * 10**9]
    count = len(arrival)
    packets = StreamPackets(
        frame=np.arange(1, count + 1, dtype=np.int64),
        arrival_ns=np.array(arrival, dtype=np.int64),
        seq=np.arange(count, dtype=np.int64),
        ts=np.arange(count, dtype=np.int64) * 160,
        pt=np.full(count, 8, dtype=np.int64),
        marker=np.zeros(count, dtype=np.bool_),
        size=np.full(count, 172, dtype=np.int64),
        clock_hz=np.full(count, 8000, dtype=np.int64),
    )
    rows = stream_series(packets, 0)
    assert [r.packets for r in rows] == [50, 1]  # 0..0.98 s in the first second
    assert sum(r.packets for r in rows) == count
    dense = stream_series(
        StreamPackets(
            **{
                **{f: getattr(packets, f)[:2] for f in StreamPackets.__dataclass_fields__},
                "arrival_ns": np.array([0, 5 * 10**9], dtype=np.int64),
            }
        ),
        0,
    )
    assert [r.packets for r in dense] == [1, 0, 0, 0, 0, 1]  # a 5 s gap keeps its rows


def test_a_plot_of_one_instant_far_from_zero_draws() -> None:
    """Found by duplicating a record: a stream whose intervals all start at one large time
    (t + 1e-9 == t in floating point) divided by zero in the plot's x scale."""
    svg = svg_plot("max delta", "ms", [1.7e9, 1.7e9], [20.0, 21.0])
    assert svg.startswith("<svg") and "polyline" in svg and "nan" not in svg


def test_undecodable_bytes_in_sip_reach_report_and_terminal_escaped(tmp_path: Path) -> None:
    """Found by byte insertions: a Call-ID with the byte 0xA3 made ``analyze -o`` fail writing
    report.html and ``calls``/``diagnose`` fail writing to a UTF-8 terminal (strict errors,
    as typer's CliRunner and an en_US.UTF-8 locale have). Both now write valid UTF-8 with the
    byte escaped."""
    invite = (
        b"INVITE sip:bob@127.0.84.2 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.84.1:5060;branch=z9hG4bK-1\r\n"
        b"From: <sip:alice@127.0.84.1>;tag=a\r\nTo: <sip:bob@127.0.84.2>\r\n"
        b"Call-ID: bad\xa3id@127.0.84.1\r\nCSeq: 1 INVITE\r\n"
        b"Contact: <sip:alice@127.0.84.1>\r\nContent-Length: 0\r\n\r\n"
    )
    busy = (
        b"SIP/2.0 486 Busy Here\r\n"
        b"Via: SIP/2.0/UDP 127.0.84.1:5060;branch=z9hG4bK-1\r\n"
        b"From: <sip:alice@127.0.84.1>;tag=a\r\nTo: <sip:bob@127.0.84.2>;tag=b\r\n"
        b"Call-ID: bad\xa3id@127.0.84.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    capture = tmp_path / "call.pcap"
    capture.write_bytes(
        _pcap(
            [
                (10**18, _udp_frame(invite, "127.0.84.1", "127.0.84.2", 5060, 5060)),
                (10**18 + 10**8, _udp_frame(busy, "127.0.84.2", "127.0.84.1", 5060, 5060)),
            ]
        )
    )
    out = tmp_path / "analyze"
    for args in (
        ["analyze", str(capture), "-o", str(out)],
        ["calls", str(capture), "--wide"],  # the Call-ID column is among the wide ones
        ["diagnose", str(capture), "--details"],
    ):
        run = run_cli(args)
        assert run.code in (0, 1), (args, run.stderr)
        text = run.stdout.decode("utf-8")  # strict: valid UTF-8
        if args[0] != "analyze":
            assert "\\udca3" in text or "\\xa3" in text, text
    page = (out / "report.html").read_bytes().decode("utf-8")
    assert "bad\\xa3id@127.0.84.1" in page


def test_an_ack_without_via_that_took_another_path_is_diagnosed(tmp_path: Path) -> None:
    """Found by bit flips and by a hostile Via line (the ACK then has no Via): its hop chain had no
    root and the diagnosis indexed an empty list. Now the ACK that went to 127.0.84.3 while
    the UAS 127.0.84.2 retransmitted its 2xx is the path shown."""
    a, b, c = "127.0.84.1", "127.0.84.2", "127.0.84.3"
    dialog = b"From: <sip:alice@127.0.84.1>;tag=a\r\nCall-ID: noack@127.0.84.1\r\n"
    via = b"Via: SIP/2.0/UDP 127.0.84.1:5060;branch=z9hG4bK-1\r\n"
    invite = (
        b"INVITE sip:bob@127.0.84.2 SIP/2.0\r\n" + via + dialog + b"To: <sip:bob@127.0.84.2>\r\n"
        b"CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.84.1>\r\nContent-Length: 0\r\n\r\n"
    )
    ok = (
        b"SIP/2.0 200 OK\r\n" + via + dialog + b"To: <sip:bob@127.0.84.2>;tag=b\r\n"
        b"CSeq: 1 INVITE\r\nContact: <sip:bob@127.0.84.2>\r\nContent-Length: 0\r\n\r\n"
    )
    ack = (
        b"ACK sip:bob@127.0.84.2 SIP/2.0\r\n" + dialog + b"To: <sip:bob@127.0.84.2>;tag=b\r\n"
        b"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    )
    t = 10**18
    capture = tmp_path / "ack.pcap"
    capture.write_bytes(
        _pcap(
            [
                (t, _udp_frame(invite, a, b, 5060, 5060)),
                (t + 10**8, _udp_frame(ok, b, a, 5060, 5060)),
                (t + 2 * 10**8, _udp_frame(ack, a, c, 5060, 5060)),
                (t + 6 * 10**8, _udp_frame(ok, b, a, 5060, 5060)),
                (t + 16 * 10**8, _udp_frame(ok, b, a, 5060, 5060)),
            ]
        )
    )
    run = run_cli(["diagnose", str(capture), "--details"])
    assert run.code == 1, run.stderr  # found problems
    assert b"127.0.84.1:5060 -> 127.0.84.3:5060" in run.stdout, run.stdout


def _pcapng(frames: list[tuple[int, bytes]]) -> bytes:
    """SHB, one Ethernet IDB (microseconds), an EPB per (timestamp in units, frame)."""

    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 262144))
    for ticks, frame in frames:
        head = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        out += block(6, head + frame)
    return out


def test_a_pcapng_time_past_year_2262_is_pinned_not_a_crash(tmp_path: Path) -> None:
    """Found by time lies: an EPB timestamp of 2^64-1 microseconds is 1.8e22 ns, past what
    int64 holds; the per-stream arrays (series, quality, report) raised OverflowError. The
    time is now pinned at 2^63-1 ns and the stream's other packets keep theirs."""
    frames = [
        (1_700_000_000_000_000 + i * 20_000, _udp_frame(_rtp(i, i * 160), *RTP_FLOW))
        for i in range(50)
    ]
    frames[25] = (2**64 - 1, frames[25][1])
    capture = tmp_path / "late.pcapng"
    capture.write_bytes(_pcapng(frames))
    with CaptureReader(capture) as reader:
        times = [record.ts_ns for record in reader]
    assert times[25] == 2**63 - 1
    assert times[24] == (1_700_000_000_000_000 + 24 * 20_000) * 1000
    for args in (
        ["streams", str(capture), "--rtp-port", "40000", "--series", "--format", "csv"],
        ["analyze", str(capture), "--rtp-port", "40000", "-o", str(tmp_path / "out")],
    ):
        run = run_cli(args)
        assert run.code == 0, (args, run.stderr)
