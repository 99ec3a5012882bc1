"""Errors by layer (DESIGN rule 4, errors.py): the library raises typed errors that name its
own parameters, the CLI words them with its flags and maps them to exit codes.

Two kinds of check:

* the library's sources (everything outside ``cli/``) are read: no ``UsageError`` anywhere,
  and no raised message names a command-line flag (``--ssrc``);
* every command of ``cli/__init__.py`` COMMANDS (and every subcommand) is run with a bad input
  file (garbage bytes), a bad option value, and an unwritable output where it has one: the
  exit code is what DESIGN.md says (2 usage, 3 input/output) and nothing prints a traceback.
"""

from __future__ import annotations

import ast
import importlib
import re
import wave
from pathlib import Path
from typing import Any

import pytest
import typer

from rtcscope.cli import COMMANDS, main
from rtcscope.cli.app import app
from rtcscope.errors import (
    EXIT_FOUND_PROBLEMS,
    EXIT_INVALID_INPUT,
    EXIT_USAGE,
    ConfigError,
    InputError,
    InvalidArgument,
    OutputError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "rtcscope"
DATA = Path(__file__).resolve().parent / "data"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")


def _library_sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "cli" not in p.relative_to(SRC).parts)


def _strings(node: ast.AST) -> list[str]:
    """The literal text of every string in an expression (f-strings' literal parts too)."""
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_the_library_never_raises_usage_error() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in _library_sources()
        if path.name != "errors.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bUsageError\b", line)
    ]
    assert offenders == []


def test_library_error_messages_name_no_flag() -> None:
    offenders = []
    for path in _library_sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for text in _strings(node.exc):
                    if FLAG.search(text):
                        offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {text!r}")
    assert offenders == []


def test_the_source_check_can_fail() -> None:
    """The two checks above see a flag and a UsageError when there is one."""
    tree = ast.parse('raise UsageError(f"--ssrc {x}: no stream")')
    raised = next(n for n in ast.walk(tree) if isinstance(n, ast.Raise))
    assert raised.exc is not None
    assert any(FLAG.search(t) for t in _strings(raised.exc))


def test_invalid_argument_is_typed_and_names_the_parameter() -> None:
    from rtcscope.sipp.source import parse_ssrc

    with pytest.raises(InvalidArgument) as caught:
        parse_ssrc("0x1FFFFFFFF")
    assert caught.value.param == "ssrc"
    assert isinstance(caught.value, ValueError)
    assert caught.value.exit_code == EXIT_USAGE
    assert issubclass(OutputError, InputError) and issubclass(ConfigError, InputError)


# -- every command --------------------------------------------------------------------------


def _leaf_commands() -> dict[str, Any]:
    for module in sorted(set(COMMANDS.values())):
        importlib.import_module(module)
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


# For each command: (a) arguments that feed it garbage bytes (GARBAGE is replaced by such a
# file), (b) arguments with a bad option value, (c) arguments with an unwritable output
# (None: the command writes no file). Every leaf command must be here (checked below).
GOOD = str(DATA / "sip-rtp-opus.pcap")
BAD_OUT = "/proc/rtcscope-cannot-write-here"
CASES: dict[str, tuple[list[str] | None, list[str], list[str] | None]] = {
    "analyze": (["GARBAGE"], [GOOD, "--only", "bogus"], [GOOD, "-o", BAD_OUT]),
    "info": (["GARBAGE"], [GOOD, "--format", "yaml"], None),
    "streams": (["GARBAGE"], [GOOD, "--rtp-port", "70000"], None),
    "split": (
        ["GARBAGE", "-o", "OUTDIR"],
        [GOOD, "-o", "OUTDIR", "--ssrc", "zz"],
        [GOOD, "-o", BAD_OUT],
    ),
    "extract": (
        ["GARBAGE", "-o", "OUTDIR/x.wav"],
        [GOOD, "--ssrc", "0x1", "-o", "OUTDIR/x.wav"],
        [GOOD, "-o", BAD_OUT + "/x.wav"],
    ),
    "calls": (["GARBAGE"], [GOOD, "--status", "abc"], None),
    "flow": (["GARBAGE"], [GOOD, "--alias", "nonsense"], [GOOD, "-o", BAD_OUT + "/x.svg"]),
    "diagnose": (["GARBAGE"], [GOOD, "--call", "no-such-call"], None),
    "route": (["GARBAGE"], [GOOD, "--frame", "1", "--proxy", "B="], None),
    "show": (["GARBAGE", "--frame", "1"], [GOOD, "--frame", "99999"], None),
    "report": (
        ["GARBAGE", "-o", "OUTDIR/r.html"],
        [GOOD, "-o", "OUTDIR/r.html", "--dedup", "x"],
        [GOOD, "-o", BAD_OUT + "/r.html"],
    ),
    "hep listen": (
        None,
        ["--store", "OUTDIR/st", "--rotate", "5parsecs"],
        ["--store", BAD_OUT, "--duration", "0.2", "--bind", "127.0.86.1:0"],
    ),
    "hep search": (["GARBAGE"], ["OUTDIR", "--since", "yesterday-ish"], None),
    "hep decode": (["GARBAGE"], [GOOD, "--format", "yaml"], None),
    "hep send": (["GARBAGE", "--to", "udp://127.0.86.1:9"], [GOOD, "--to", "http://x"], None),
    "hepipe": (["--config", "GARBAGE"], ["--hep-transport", "sctp", "--esl-port", "1"], None),
    "sipp uas": (
        ["GARBAGE", "-o", "OUTDIR/bed"],
        [GOOD, "-o", "OUTDIR/bed", "--ssrc", "nope"],
        [GOOD, "-o", BAD_OUT],
    ),
    "sipp uac": (
        ["GARBAGE", "-o", "OUTDIR/bed", "--to", "127.0.86.1:5060"],
        [GOOD, "-o", "OUTDIR/bed", "--to", "127.0.86.1:5060", "--auth", "nocolon"],
        [GOOD, "-o", BAD_OUT, "--to", "127.0.86.1:5060"],
    ),
    "sipp audio": (
        ["GARBAGE", "-o", "OUTDIR/a.al"],
        ["WAV", "-o", "OUTDIR/a.pcap", "--dtmf", "12@x"],
        ["WAV", "-o", BAD_OUT + "/a.al"],
    ),
    "replay": (["GARBAGE", "--to", "127.0.86.1:9"], [GOOD, "--to", "nowhere"], None),
    "dockerfile lint": (
        ["--config", "GARBAGE", "DOCKERFILE"],
        ["DOCKERFILE", "--failure-threshold", "bogus"],
        None,
    ),
    "dockerfile rules": (None, ["--markdown", "x"], None),
    "index": (
        ["GARBAGE", "-o", "OUTDIR/idx"],
        ["GARBAGE", "-o", "OUTDIR/idx", "--jobs", "0"],
        [GOOD, "-o", BAD_OUT],
    ),
    "query": (["GARBAGE", "SELECT 1"], ["OUTDIR", "SELECT 1", "--since", "never"], None),
}


def test_every_command_has_its_cases() -> None:
    assert sorted(_leaf_commands()) == sorted(CASES)


def _run(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(bytes(range(256)) * 7 + b"\xff\x00" * 300)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12\nRUN apt-get update\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x10" * 1600)
    words = {
        "GARBAGE": str(garbage),
        "OUTDIR": str(out_dir),
        "DOCKERFILE": str(dockerfile),
        "WAV": str(wav),
    }
    real = []
    for arg in args:
        for word, value in words.items():
            arg = arg.replace(word, value)
        real.append(arg)
    code = main(real)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _params() -> list[Any]:
    out = []
    for command, (bad_input, bad_option, bad_output) in CASES.items():
        path = command.split()
        if bad_input is not None:
            # index is a batch: an unreadable capture is listed among the failed ones and the
            # run exits 1 (it ran and found problems), as lint does for a bad Dockerfile
            code = EXIT_FOUND_PROBLEMS if command == "index" else EXIT_INVALID_INPUT
            out.append(pytest.param(path + bad_input, code, id=f"{command}-input"))
        out.append(pytest.param(path + bad_option, EXIT_USAGE, id=f"{command}-option"))
        if bad_output is not None:
            out.append(pytest.param(path + bad_output, EXIT_INVALID_INPUT, id=f"{command}-output"))
    return out


@pytest.mark.parametrize(("args", "expected"), _params())
def test_bad_input_option_and_output(
    args: list[str],
    expected: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = _run(args, tmp_path, capsys)
    assert "Traceback" not in text
    assert code == expected, text
    assert text.strip(), "an error says what is wrong"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--stream", "1", "-o", "x.opus"], "'--out'"),
        (["--stream", "1", "-o", "x.wav", "--to", "opus"], "'--to'"),
        (["--ssrc", "0x1234", "-o", "x.wav"], "'--ssrc'"),
        (["--stream", "9", "-o", "x.wav"], "'--stream'"),
    ],
)
def test_the_cli_names_the_option_the_user_typed(
    args: list[str],
    flag: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The library said which parameter (kind, ssrc, index); the CLI says which option."""
    monkeypatch.chdir(tmp_path)
    code = main(["extract", str(DATA / "SIP_DTMF2.pcap"), *args])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert f"Invalid value for {flag}" in err
    assert "Try 'rtcscope extract --help' for help." in err
