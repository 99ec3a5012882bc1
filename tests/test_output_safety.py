"""Packet text never reaches a terminal raw, and JSON is always valid UTF-8 with exact values.

The capture (tests/cli/hostile.py, written with our pcap writer) holds every C0 and C1
control, terminal escape sequences (retitle, clear screen, colour), bytes that are not UTF-8,
a bidi override, rich markup, IPv6 hosts in brackets, a 60 kB header and a 1 MB body line.
Every command that prints packet text runs on it, in each of its output forms.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.cli import main
from rtcscope.cli.output import format_csv, format_json
from rtcscope.text import CELL_LIMIT, json_safe, terminal_text, valid_utf8
from tests.cli.hostile import (
    CALL_ID,
    CALL_ID_ESCAPED,
    CALL_ID_JSON,
    write_hostile_capture,
)
from tests.peers import rtcscope_cli

# What a terminal acts on: C0 but tab/LF, DEL, C1, bidi embeddings/overrides/isolates, the
# line and paragraph separators. None may be in what rtcscope prints.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def assert_clean(out: bytes) -> str:
    text = out.decode("utf-8")  # raises on invalid UTF-8
    # (a lone surrogate that reached stdout as backslashreplace's \udc8e)
    assert re.search(r"\\udc[89a-f][0-9a-f]", text) is None
    found = UNSAFE.search(text)
    where = 0 if found is None else found.start()
    assert found is None, f"raw {found.group()!r} at {where}: {text[where - 80 : where + 40]!r}"
    return text


# ---------------------------------------------------------------------------- text.py


def test_escaped_forms_are_the_documented_ones() -> None:
    raw = b"a\x1b]0;t\x07b\x8e\xffc\x7f" + "\u0085\u202e".encode()
    text = raw.decode("utf-8", "surrogateescape")
    assert terminal_text(text) == r"a\x1b]0;t\x07b\x8e\xffc\x7f\u0085\u202e"
    assert terminal_text("a\tb\nc") == r"a\x09b\x0ac"
    assert terminal_text("l1\r\nl2\tx\rz", multiline=True) == "l1\nl2\tx\\x0dz"
    # a backslash is left as it is (as backslashreplace does)
    assert terminal_text("C:\\x") == "C:\\x"


def test_long_values_are_cut_with_the_bytes_left_out() -> None:
    value = "é" * 1000  # two UTF-8 bytes each
    shown = terminal_text(value, limit=10)
    assert shown == "é" * 10 + f"…[+{990 * 2} bytes]"
    # escapes count towards the limit and are never split
    shown = terminal_text("\x1b" * 100, limit=10)
    assert shown == "\\x1b" * 2 + "…[+98 bytes]"
    assert len(terminal_text("x" * (1 << 20))) < CELL_LIMIT + 20
    assert terminal_text("x" * 5000, limit=None) == "x" * 5000


@given(st.binary(max_size=300))
def test_any_packet_bytes_print_clean(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    for shown in (terminal_text(text), terminal_text(text, multiline=True, limit=50)):
        assert_clean(shown.encode("utf-8"))
    # JSON: valid UTF-8, no raw control, and the value read back is exact wherever the
    # bytes were UTF-8 (the others are \xNN text)
    out = json_safe(json.dumps({"v": text}, ensure_ascii=False))
    assert_clean(out.encode("utf-8"))
    assert json.loads(out)["v"] == valid_utf8(text)
    assert valid_utf8(text).encode("utf-8").decode("utf-8") == valid_utf8(text)


@given(st.text(max_size=200))
def test_json_keeps_every_unicode_value_exact(text: str) -> None:
    out = format_json([text, {text: 1}])
    assert_clean(out.encode("utf-8"))
    assert json.loads(out) == [valid_utf8(text), {valid_utf8(text): 1}]


def test_csv_cells_are_escaped_not_cut() -> None:
    out = format_csv([{"call_id": CALL_ID.decode("utf-8", "surrogateescape") + "x" * 5000}])
    assert_clean(out.encode("utf-8"))
    assert CALL_ID_ESCAPED + "x" * 5000 in out


# ---------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("hostile") / "hostile.pcap"
    return path, write_hostile_capture(path)


# Each entry: the command line ({pcap}, {out} and the frame names {invite} and {big} filled
# in) and whether it also has --format json (exact values, valid UTF-8).
EXTRACT = "extract {pcap} -o {out}/a.wav --stream 1 --codec pcmu --pt 0 --report"
COMMANDS: list[tuple[str, bool]] = [
    ("info {pcap}", True),
    ("streams {pcap} --rtcp --dtmf --wide", False),
    ("streams {pcap} --rtcp --dtmf", True),
    ("streams {pcap}", False),
    ("calls {pcap} --stats --wide", False),
    ("calls {pcap}", True),
    ("flow {pcap} --messages", True),
    ("flow {pcap} --format mermaid", False),
    ("diagnose {pcap} --details", False),
    ("diagnose {pcap}", True),
    ("route {pcap} --frame 3", True),
    ("show {pcap} --frame {invite}", True),
    ("show {pcap} --frame {big}", True),
    ("analyze {pcap}", True),
    ("analyze {pcap} -o {out}/analyze", False),
    (EXTRACT, True),
    ("split {pcap} -o {out}/split", False),
    ("report {pcap} -o {out}/report.html", False),
]
TEXT_COMMANDS = [line.split() for line, _ in COMMANDS]
DATA_COMMANDS = [line.split() for line, has_json in COMMANDS if has_json]
CSV_COMMANDS = ["info", "streams", "calls", "diagnose", "route"]


def _filled(args: list[str], pcap: Path, frames: dict[str, int], out: Path) -> list[str]:
    values = {"pcap": str(pcap), "out": str(out), **{k: str(v) for k, v in frames.items()}}
    return [a.format(**values) for a in args]


def _run(args: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsysbinary.readouterr()
    return code, assert_clean(captured.out), assert_clean(captured.err)


@pytest.mark.parametrize("args", TEXT_COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:]))
def test_tables_and_text_are_clean(
    args: list[str],
    hostile: tuple[Path, dict[str, int]],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no cell folded: the values are whole
    monkeypatch.setenv("NO_COLOR", "1")  # (colour would be escapes of our own)
    pcap, frames = hostile
    code, out, _err = _run(_filled(args, pcap, frames, tmp_path), capsysbinary)
    assert code == 0, out
    if (args[0] == "calls" and "--wide" in args) or args[-1] == "{invite}":
        assert CALL_ID_ESCAPED in out
    if args[0] == "show" and args[-1] == "{big}":
        assert "…[+" in out  # the 1 MB line is cut, with its mark
        assert max(len(line) for line in out.splitlines()) < 2100
    if args[0] == "calls":
        assert "[fd17::1]" in out  # markup does not eat bracketed IPv6 hosts
    for written in tmp_path.rglob("*.html"):
        assert_clean(written.read_bytes())


@pytest.mark.parametrize("args", DATA_COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:]))
def test_json_is_valid_utf8_with_exact_values(
    args: list[str],
    hostile: tuple[Path, dict[str, int]],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    pcap, frames = hostile
    code, out, _err = _run(
        [*_filled(args, pcap, frames, tmp_path), "--format", "json"], capsysbinary
    )
    assert code == 0
    data = json.loads(out)
    if args[0] == "calls":
        assert data["calls"][0]["call_id"] == CALL_ID_JSON
    if args[0] == "show":
        text = data["text"] if isinstance(data, dict) else data[0]["text"]
        assert "\x1b]0;pwned\x07" in text  # the exact value, JSON-escaped on the wire
        assert "\\x8e" in text
        if args[-1] == "{big}":
            assert len(text) > 1 << 20  # JSON is not cut


@pytest.mark.parametrize("command", CSV_COMMANDS)
def test_csv_is_clean(
    command: str,
    hostile: tuple[Path, dict[str, int]],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    pcap, _frames = hostile
    args = [command, str(pcap), "--format", "csv"] + (
        ["--frame", "3"] if command == "route" else []
    )
    code, out, _err = _run(args, capsysbinary)
    assert code == 0
    if command == "calls":
        assert CALL_ID_ESCAPED in out


def test_real_stdout_and_stderr_are_clean(
    hostile: tuple[Path, dict[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process of its own, as a user runs it: stdout's own error handler would
    otherwise write the undecodable bytes as they are; an error naming packet text (here
    an unknown codec name with a colour escape in it) reaches stderr escaped."""
    pcap, frames = hostile
    monkeypatch.setenv("COLUMNS", "1000")
    proc = rtcscope_cli(["calls", pcap, "--wide"])
    assert proc.returncode == 0, proc.stderr
    assert CALL_ID_ESCAPED in proc.stdout
    assert_clean(proc.stdout.encode("utf-8", "surrogateescape"))
    proc = rtcscope_cli(["extract", pcap, "-o", tmp_path / "x.wav", "--stream", "2"])
    assert proc.returncode == 3
    err = assert_clean(proc.stderr.encode("utf-8", "surrogateescape"))
    assert r"pcmu\x1b[31m" in err
    # a terminal that cannot show UTF-8 gets escapes, not a traceback
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    proc = rtcscope_cli(["show", pcap, "--frame", str(frames["big"])])
    assert proc.returncode == 0, proc.stderr
    assert r"\u2026[+" in proc.stdout


def test_the_index_stores_and_query_prints_hostile_text_clean(
    hostile: tuple[Path, dict[str, int]],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parquet strings are UTF-8: the index stores the bytes that are not as \\xNN (it
    failed with UnicodeEncodeError before); query prints them escaped."""
    monkeypatch.setenv("COLUMNS", "1000")
    pcap, _frames = hostile
    index = tmp_path / "index"
    code, _out, _err = _run(["index", str(pcap), "-o", str(index), "--jobs", "1"], capsysbinary)
    assert code == 0
    code, out, _err = _run(["query", str(index), "SELECT call_id FROM calls"], capsysbinary)
    assert code == 0
    assert CALL_ID_ESCAPED in out
    code, out, _err = _run(
        ["query", str(index), "SELECT call_id FROM calls", "--format", "json"], capsysbinary
    )
    assert code == 0
    assert json.loads(out)[0]["call_id"] == CALL_ID_JSON
