"""The mutation campaign's pieces, shared by tests/test_mutation.py (bounded, hypothesis) and
bench/fuzz/run.py (long, one child process per input): the corpus, the mutators, and the
oracle that runs every command that reads a capture on one input.

A mutator knows the container: pcap records and pcapng blocks are walked here (by this test
code, not by the reader under test) so that a length can be made to lie on purpose, and bytes
inserted into or deleted from one record keep the records after it in step (the record's
lengths are fixed up; the IP/UDP lengths inside then lie instead, which is what a truncating
capture tool or a bad NIC produces).

The oracle (:func:`exercise_library`, :func:`exercise_cli`) defines a crash: any exception
that is not an :class:`~rtcscope.errors.RtcscopeError`, a CLI exit code outside {0, 1, 2, 3}
or a traceback on stderr. Hangs are the caller's business (a time bound on the child in
bench/, a small input in the tests).
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.conftest import DATA, shared_captures

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
# Lengths a corrupt or hostile file puts in a length field.
ABSURD_LENGTHS = (0, 1, 3, 11, 0x7FFF, 0xFFFF, 0x10000, 0x1000001, 0x7FFFFFFF, 0xFFFFFFFF)
# The commands the campaign runs (the list).
COMMANDS = ("info", "streams", "calls", "diagnose", "extract", "analyze", "split", "hep send")
HEP_HOST = "127.0.84.1"  # this campaign's loopback address (127.0.84.0/24)
CLI_EXIT_CODES = frozenset({0, 1, 2, 3})


def corpus() -> list[Path]:
    """Every capture of tests/data and ../shared/captures (the latter when present)."""
    own = sorted(p for p in DATA.iterdir() if p.suffix in {".pcap", ".pcapng", ".gz"})
    return own + shared_captures()


def load(path: Path) -> bytes:
    """A capture's bytes, decompressed (mutations work on the container, not on gzip)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


# --- the container, walked by the test ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One pcap record or pcapng block: where its header starts, where its data starts and
    ends, the offsets of its length fields and their byte order."""

    start: int
    data_start: int
    end: int
    length_fields: tuple[int, ...]
    endian: str
    pcapng: bool


def units(data: bytes) -> list[Unit]:
    """The records (pcap) or blocks (pcapng) of a capture, as far as they are well formed."""
    found: list[Unit] = []
    endian = PCAP_MAGICS.get(data[:4])
    if endian is not None:
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
            if pos + 16 + incl > len(data):
                break
            found.append(Unit(pos, pos + 16, pos + 16 + incl, (pos + 8, pos + 12), endian, False))
            pos += 16 + incl
        return found
    if data[:4] != PCAPNG_SHB:
        return found
    pos = 0
    endian = "<"
    while pos + 12 <= len(data):
        if data[pos : pos + 4] == PCAPNG_SHB and pos + 12 <= len(data):
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        length = struct.unpack_from(endian + "I", data, pos + 4)[0]
        if length < 12 or length % 4 or pos + length > len(data):
            break
        kind = struct.unpack_from(endian + "I", data, pos)[0]
        data_start = pos + 28 if kind == 6 else pos + 8  # EPB: its packet after 20 bytes
        fields = (pos + 4, pos + length - 4) + ((pos + 20, pos + 24) if kind == 6 else ())
        found.append(Unit(pos, data_start, pos + length, fields, endian, True))
        pos += length
    return found


def _set_u32(data: bytearray, offset: int, endian: str, value: int) -> None:
    struct.pack_into(endian + "I", data, offset, value & 0xFFFFFFFF)


def _resize_unit(data: bytes, unit: Unit, at: int, remove: int, insert: bytes) -> bytes:
    """Replace ``remove`` bytes at ``at`` (inside the unit's data) by ``insert`` and fix the
    unit's own lengths so that the units after it are still where the header says."""
    out = bytearray(data[:at] + insert + data[at + remove :])
    delta = len(insert) - remove
    if unit.pcapng:
        # pcapng blocks are 32-bit aligned: pad the change to a multiple of 4
        pad = (-delta) % 4
        out[at + len(insert) : at + len(insert)] = b"\0" * pad
        delta += pad
        length = unit.end - unit.start + delta
        _set_u32(out, unit.start + 4, unit.endian, length)
        _set_u32(out, unit.start + length - 4, unit.endian, length)
        if len(unit.length_fields) == 4:  # EPB captured and original lengths
            for offset in unit.length_fields[2:]:
                old = struct.unpack_from(unit.endian + "I", data, offset)[0]
                _set_u32(out, offset, unit.endian, max(0, old + len(insert) - remove))
    else:
        for offset in unit.length_fields:
            old = struct.unpack_from(unit.endian + "I", data, offset)[0]
            _set_u32(out, offset, unit.endian, max(0, old + delta))
    return bytes(out)


# --- mutators -------------------------------------------------------------------------------

Mutator = Callable[[bytes, random.Random], bytes]


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the file anywhere (a capture copied while written, a full disk)."""
    return data[: rng.randrange(len(data) + 1)]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    """Flip 1 to 8 bits anywhere."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _random_bytes(rng: random.Random, size: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(size))


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    """Insert 1 to 64 random bytes anywhere in the file (the records after it shift)."""
    at = rng.randrange(len(data) + 1)
    return data[:at] + _random_bytes(rng, rng.randint(1, 64)) + data[at:]


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    """Delete 1 to 64 bytes anywhere in the file."""
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 64) :]


def _pick_unit(data: bytes, rng: random.Random, with_data: bool = False) -> Unit | None:
    found = [u for u in units(data) if not with_data or u.end > u.data_start]
    return rng.choice(found) if found else None


def record_insert(data: bytes, rng: random.Random) -> bytes:
    """Insert bytes inside one packet and fix the record's lengths (the IP/UDP/SIP lengths
    inside now lie; the records after it still parse)."""
    unit = _pick_unit(data, rng, with_data=True)
    if unit is None:
        return insert_bytes(data, rng)
    at = rng.randrange(unit.data_start, unit.end)
    filler = rng.choice([_random_bytes(rng, rng.randint(1, 32)), b"\r\n", b"\x00" * 4, b":;,<>"])
    return _resize_unit(data, unit, at, 0, filler)


def record_delete(data: bytes, rng: random.Random) -> bytes:
    """Delete bytes inside one packet and fix the record's lengths."""
    unit = _pick_unit(data, rng, with_data=True)
    if unit is None:
        return delete_bytes(data, rng)
    at = rng.randrange(unit.data_start, unit.end)
    return _resize_unit(data, unit, at, min(rng.randint(1, 32), unit.end - at), b"")


def length_lie(data: bytes, rng: random.Random) -> bytes:
    """Put an absurd value in one length field: pcap incl_len/orig_len, pcapng block total
    length (leading or trailing), EPB captured/original length."""
    unit = _pick_unit(data, rng)
    if unit is None:
        return bit_flips(data, rng)
    out = bytearray(data)
    offset = rng.choice(unit.length_fields)
    old = struct.unpack_from(unit.endian + "I", data, offset)[0]
    value = rng.choice([*ABSURD_LENGTHS, old + 1, old - 1, old + 4, old * 2, old // 2])
    _set_u32(out, offset, unit.endian, value)
    return bytes(out)


def header_lie(data: bytes, rng: random.Random) -> bytes:
    """An absurd value in the file header: pcap snaplen/link type/version, pcapng section
    length, interface link type and snaplen, or an option's length."""
    out = bytearray(data)
    if len(out) < 24:
        return bit_flips(data, rng)
    endian = PCAP_MAGICS.get(data[:4])
    if endian is not None:
        offset = rng.choice([4, 6, 16, 20])
        value = rng.choice([*ABSURD_LENGTHS, 1, 101, 113, 228, 276])
        code, mask = ("H", 0xFFFF) if offset in (4, 6) else ("I", 0xFFFFFFFF)
        struct.pack_into(endian + code, out, offset, value & mask)
        return bytes(out)
    unit = _pick_unit(data, rng)
    if unit is None or unit.end - unit.start < 20:
        return bit_flips(data, rng)
    # any 16-bit word of the block's body: option codes and lengths, link type, snaplen
    offset = rng.randrange(unit.start + 8, unit.end - 5, 2)
    struct.pack_into(unit.endian + "H", out, offset, rng.choice([0, 1, 9, 14, 0x7FFF, 0xFFFF]))
    return bytes(out)


def number_swap(data: bytes, rng: random.Random) -> bytes:
    """Replace a run of ASCII digits (Content-Length, CSeq, an SDP port or payload type, a
    ptime) by an extreme number of the same length, so the container still parses."""
    if not data:
        return data
    start = rng.randrange(len(data))
    digits = list(_digit_runs(data, start))
    if not digits:
        return bit_flips(data, rng)
    begin, end = digits[0]
    width = end - begin
    value = rng.choice(["9" * width, "0" * width, "1", "4294967296"[:width]]).rjust(width, "0")
    return data[:begin] + value.encode()[:width] + data[end:]


def _digit_runs(data: bytes, start: int) -> Iterator[tuple[int, int]]:
    """Runs of 1 to 10 ASCII digits after ``start`` preceded by a space, colon, slash or
    equals sign (a header or SDP value), then wrapping to the start of the file."""
    for origin in (start, 0):
        pos = origin
        while True:
            pos = _next_digit(data, pos)
            if pos < 0:
                break
            end = pos
            while end < len(data) and 0x30 <= data[end] <= 0x39:
                end += 1
            if pos > 0 and data[pos - 1] in b" :/=" and end - pos <= 10:
                yield pos, end
                return
            pos = end
        if origin == 0:
            return


def _next_digit(data: bytes, pos: int) -> int:
    found = [i for i in (data.find(bytes([d]), pos) for d in range(0x30, 0x3A)) if i >= 0]
    return min(found) if found else -1


def time_lie(data: bytes, rng: random.Random) -> bytes:
    """An extreme capture time on one record: seconds 0 or 2^32-1, a fraction past one
    second (pcap), a 64-bit pcapng timestamp of all ones or zero."""
    unit = _pick_unit(data, rng)
    if unit is None:
        return bit_flips(data, rng)
    out = bytearray(data)
    if unit.pcapng:
        if len(unit.length_fields) < 4:  # not an EPB: no timestamp
            return length_lie(data, rng)
        high, low = rng.choice([(0xFFFFFFFF, 0xFFFFFFFF), (0, 0), (0x7FFFFFFF, 0), (1 << 20, 0)])
        struct.pack_into(unit.endian + "II", out, unit.start + 12, high, low)
    else:
        seconds = rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF])
        fraction = rng.choice([0, 999_999, 1_000_000, 999_999_999, 0xFFFFFFFF])
        struct.pack_into(unit.endian + "II", out, unit.start, seconds, fraction)
    return bytes(out)


# Lines a hostile or broken peer puts in SIP or SDP: zero and huge numbers where a divisor
# or a count is read, odd addresses, terminal escapes, invalid UTF-8, very long values.
HOSTILE_LINES = (
    b"Content-Length: 4294967296",
    b"Content-Length: -1",
    b"CSeq: 99999999999999999999 INVITE",
    b"Max-Forwards: -5",
    b"Call-ID: \x1b]0;owned\x07\x1b[2J\x8e\xff",
    b"Via: SIP/2.0/UDP [fd17::1]:99999;branch=z9hG4bK;rport=0",
    b"Record-Route: <sip:;lr>, <>, <sip:[::1>",
    b"Route: " + b"<sip:a@b;lr>," * 2000,
    b"X-Long: " + b"\x9b" * 70000,
    b"m=audio 0 RTP/AVP " + b"96 " * 500,
    b"m=audio 65536 RTP/SAVP 96 97 101",
    b"c=IN IP4 999.1.1.1/0/0",
    b"c=IN IP6 ::ffff:zz",
    b"a=rtpmap:96 opus/0/2",
    b"a=rtpmap:97 telephone-event/0",
    b"a=rtpmap:8 PCMA/4294967296",
    b"a=rtpmap:96 G726-32/8000/0",
    b"a=fmtp:101 0-16,32-",
    b"a=ptime:0",
    b"a=maxptime:-20",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA|2^99|1:0",
    b"a=crypto:1 AEAD_AES_256_GCM inline:" + b"A" * 60,
    b"a=rtcp:0 IN IP4",
)


def hostile_line(data: bytes, rng: random.Random) -> bytes:
    """Insert one of :data:`HOSTILE_LINES` after a line break inside one packet that has
    text lines (SIP, SDP), fixing the record's lengths."""
    found = [u for u in units(data) if data.find(b"\r\n", u.data_start, u.end) >= 0]
    if not found:
        return record_insert(data, rng)
    unit = rng.choice(found)
    breaks = []
    pos = data.find(b"\r\n", unit.data_start, unit.end)
    while pos >= 0 and len(breaks) < 64:
        breaks.append(pos + 2)
        pos = data.find(b"\r\n", pos + 2, unit.end)
    at = rng.choice(breaks)
    return _resize_unit(data, unit, at, 0, rng.choice(HOSTILE_LINES) + b"\r\n")


def duplicate_record(data: bytes, rng: random.Random) -> bytes:
    """Repeat one record right after itself (a packet captured twice, a retransmission)."""
    unit = _pick_unit(data, rng)
    if unit is None:
        return data + data[-64:]
    return data[: unit.end] + data[unit.start : unit.end] + data[unit.end :]


MUTATORS: dict[str, Mutator] = {
    "truncate": truncate,
    "bit_flips": bit_flips,
    "insert_bytes": insert_bytes,
    "delete_bytes": delete_bytes,
    "record_insert": record_insert,
    "record_delete": record_delete,
    "length_lie": length_lie,
    "header_lie": header_lie,
    "number_swap": number_swap,
    "duplicate_record": duplicate_record,
    "hostile_line": hostile_line,
    "time_lie": time_lie,
}


def mutate(data: bytes, rng: random.Random, rounds: int = 1) -> tuple[bytes, list[str]]:
    """Apply ``rounds`` mutators chosen at random; the names say what was done."""
    names: list[str] = []
    for _ in range(rounds):
        name = rng.choice(sorted(MUTATORS))
        data = MUTATORS[name](data, rng)
        names.append(name)
    return data, names


def maybe_gzip(data: bytes, rng: random.Random) -> bytes:
    """Sometimes gzip the mutated capture (the reader decompresses on the fly), sometimes
    cut the gzip itself."""
    roll = rng.random()
    if roll < 0.85:
        return data
    packed = gzip.compress(data, compresslevel=1, mtime=0)
    if roll < 0.95:
        return packed
    return packed[: rng.randrange(len(packed) + 1)]


# --- gzip bombs -----------------------------------------------------------------------------


def gzip_bomb(size: int, prefix: bytes = b"", unit: bytes = b"\0") -> bytes:
    """A gzip file inflating to ``prefix`` then ``unit`` repeated to ``size`` bytes (whole
    units), built in time and memory proportional to the output: one deflate stream of about
    1 MiB of units is repeated as gzip members (a file of concatenated members is one gzip
    file, RFC 1952 2.2). 10 GB of zeros -> about 10 MB."""
    block = unit * max(1, (1 << 20) // len(unit))
    units_left = size // len(unit)
    per_block = len(block) // len(unit)
    head = _gzip_member(prefix) if prefix else b""
    tail = _gzip_member(unit * (units_left % per_block)) if units_left % per_block else b""
    return head + _gzip_member(block) * (units_left // per_block) + tail


def _gzip_member(payload: bytes) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(payload) + deflate.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)


def pcap_header(linktype: int = 1, snaplen: int = 262144) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def gzip_bombs(size: int = 10 * 10**9) -> dict[str, bytes]:
    """Compression bombs of ``size`` inflated bytes: zeros alone (no capture magic); a pcap
    header then 64 KiB frames of zeros; a pcap header then zeros (records of length 0, 16
    bytes each); a record announcing 16 MiB then zeros; a pcapng SHB whose block claims 4 GB."""
    frame = struct.pack("<IIII", 0, 0, 0xFFFF, 0xFFFF) + b"\0" * 0xFFFF
    record = struct.pack("<IIII", 0, 0, 16 * 1024 * 1024, 16 * 1024 * 1024)
    shb = PCAPNG_SHB + struct.pack("<II", 0xFFFFFFFC, 0x1A2B3C4D)
    return {
        "zeros": gzip_bomb(size),
        "pcap-zero-frames": gzip_bomb(size, pcap_header(), frame),
        "pcap-zeros": gzip_bomb(size, pcap_header()),
        "pcap-big-record": gzip_bomb(size, pcap_header() + record),
        "pcapng-big-block": gzip_bomb(size, shb),
    }


# --- the oracle -----------------------------------------------------------------------------


class Crash(AssertionError):
    """What the oracle raises when a command crashed: the step and what happened."""


@contextmanager
def hep_sink() -> Iterator[tuple[str, int]]:
    """A UDP socket on 127.0.84.1 that takes whatever ``hep send`` sends (never read: the
    kernel drops what overflows its buffer, which a UDP sender does not see)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sink:
        sink.bind((HEP_HOST, 0))
        yield sink.getsockname()


def _run(step: str, func: Callable[[], object]) -> object:
    from rtcscope.errors import RtcscopeError

    try:
        return func()
    except RtcscopeError:
        return None
    except Exception as exc:  # the thing the campaign looks for
        raise Crash(f"{step}: {type(exc).__name__}: {exc}") from exc


def scan_variants(model: Any) -> list[dict[str, Any]]:
    """Other ScanOptions to read the same capture with: packets captured twice dropped and no
    IP reassembly; and every UDP port that carried SIP or RTP forced to be RTP (tshark's
    Decode As: SIP text and RTCP go through the RTP parsers)."""
    ports = {m.sport for m in model.messages} | {m.dport for m in model.messages}
    ports |= {s.key.src_port for s in model.streams} | {s.key.dst_port for s in model.streams}
    return [
        {"dedup": True, "reassemble": False},
        {"rtp_ports": tuple(sorted(ports))[:32], "heuristic": False, "use_sdp": False},
    ]


def exercise_library(
    capture: Path, workdir: Path, per_packet: bool = False, variant: int | None = None
) -> None:
    """Every capture-reading command's library path on one file: ``info`` (counts), one full
    scan, ``calls``, ``diagnose``, ``streams`` with quality, every ``analyze`` section with
    files (``extract``'s WAV writing for every stream, the report), ``split`` and the HEP
    packets ``hep send`` would send (encoded). ``per_packet``: the reference path instead of
    the vectorized one (both must hold); ``variant``: then the same with the options of
    :func:`scan_variants` [variant]. Raises :class:`Crash`."""
    from rtcscope.hep.codec import encode
    from rtcscope.hep.from_capture import capture_hep_packets
    from rtcscope.scan import ScanOptions, Tap, scan

    vectorized = not per_packet
    counts = ScanOptions(keep_going=True, taps=frozenset({Tap.COUNTS}), vectorized=vectorized)
    _run("info", lambda: scan(capture, counts).info)
    options = ScanOptions(keep_going=True, vectorized=vectorized)
    model = _run("scan", lambda: scan(capture, options))
    if model is None:
        return
    try:
        _commands_on_model(model, capture, workdir)
        # what `hep send --rtcp` sends: the model's SIP and readable RTCP as HEP packets
        _run(
            "hep send",
            lambda: [
                encode(p)
                for p in capture_hep_packets(
                    model.messages, announcements=model.announcements, rtcp=model.rtp
                )
            ],
        )
        if variant is not None:
            other = replace(options, **scan_variants(model)[variant % 2])
            again = _run(f"scan {other}", lambda: scan(capture, other))
            if again is not None:
                try:
                    _commands_on_model(again, capture, workdir / "variant")
                finally:
                    again.close()
    finally:
        model.close()


def _commands_on_model(model: Any, capture: Path, workdir: Path) -> None:
    from rtcscope.analyze import AnalyzeOptions, run_sections
    from rtcscope.rtp.split import split_streams

    _run("calls", lambda: model.calls())
    _run("diagnose", lambda: model.diagnosis(None))
    out = workdir / "analyze"
    sections = _run("analyze", lambda: run_sections(model, AnalyzeOptions(out, all_files=True)))
    if isinstance(sections, list):
        _run("analyze json", lambda: json.dumps([s.data for s in sections], default=str))
    _run("split", lambda: split_streams(capture, model.streams, workdir / "split"))


def cli_commands(capture: Path, workdir: Path, hep: tuple[str, int]) -> list[list[str]]:
    """The command lines the CLI sample runs on one capture."""
    path = str(capture)
    return [
        ["info", path, "--format", "json"],
        ["info", path, "--keep-going"],
        ["streams", path, "--rtcp", "--dtmf", "--quality", "--keep-going"],
        ["streams", path, "--format", "json"],
        ["calls", path, "--stats", "--keep-going"],
        ["calls", path, "--format", "json", "--quality"],
        ["diagnose", path, "--details", "--keep-going"],
        ["diagnose", path, "--format", "json"],
        ["extract", path, "--stream", "1", "--report", "-o", str(workdir / "x.wav")],
        ["extract", path, "-o", str(workdir / "extract")],  # a folder: every stream
        ["analyze", path, "-o", str(workdir / "analyze-cli"), "--keep-going"],
        ["analyze", path, "--format", "json"],
        ["split", path, "-o", str(workdir / "split-cli"), "--keep-going"],
        ["hep", "send", path, "--to", f"udp://{hep[0]}:{hep[1]}", "--rtcp"],
        # beyond the list: the other commands that read a whole capture
        ["streams", path, "--series", "--format", "csv", "--keep-going"],
        ["flow", path, "--format", "text", "--messages"],
        ["show", path, "--frame", "1", "--format", "json"],
        ["report", path, "-o", str(workdir / "report.html"), "--embed-audio"],
    ]


@dataclass(frozen=True, slots=True)
class CliRun:
    args: list[str]
    code: int
    stdout: bytes
    stderr: bytes


def run_cli(args: list[str]) -> CliRun:
    """``rtcscope ARGS`` in this process through typer's CliRunner (output captured as
    bytes). An exception that escapes ``main`` is a :class:`Crash`."""
    from typer.testing import CliRunner

    from rtcscope.cli import main

    runner = CliRunner()
    with runner.isolation() as (out, err, _mixed):
        try:
            code = main(args)
        except Exception as exc:
            raise Crash(f"rtcscope {' '.join(args)}: {type(exc).__name__}: {exc}") from exc
        sys.stdout.flush()
        sys.stderr.flush()
        stdout = out.getvalue()
        stderr = err.getvalue()
    return CliRun(args, code, stdout, stderr)


def check_cli(run: CliRun) -> None:
    """A crash: an exit code outside {0, 1, 2, 3} or a traceback."""
    text = run.stderr + run.stdout
    if run.code not in CLI_EXIT_CODES or b"Traceback (most recent call last)" in text:
        raise Crash(
            f"rtcscope {' '.join(run.args)} exited {run.code}: "
            + run.stderr.decode("utf-8", "replace")[-2000:]
        )


def exercise_cli(capture: Path, workdir: Path, hep: tuple[str, int], which: int) -> CliRun:
    """One command line of :func:`cli_commands` (index ``which``, wrapping) through the CLI."""
    commands = cli_commands(capture, workdir, hep)
    (workdir / "extract").mkdir(exist_ok=True)
    run = run_cli(commands[which % len(commands)])
    check_cli(run)
    return run


def write_input(workdir: Path, data: bytes, name: str = "input.pcap") -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path
