"""A CLI that reads well at 3 a.m.: tables fit 80 columns (``--wide`` for all), help without
typer's type labels, ``--version``, shell completion, ``--format`` offering only what a
command writes, no Python reprs, colour only where the terminal has it."""

from __future__ import annotations

import importlib
import os
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

from rtcscope.cli import COMMANDS, main
from rtcscope.cli.app import app
from rtcscope.cli.output import make_table
from tests.conftest import DATA

BUSY = DATA / "testbed-busy.pcap"  # one INVITE answered 486 Busy Here
SRTP = DATA / "srtp-sdes-call.pcap"  # two SRTP streams with their SDES keys


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


# Each: a command with tables, and values that must show whole (not folded) at 80 columns
# (tshark -Y rtp: SSRC 0x0ca11e55 in srtp-sdes-call, 0x9a7b5382 in SIP_DTMF2; tshark -Y
# rtpevent -e rtpevent.event_id: digits 6789123).
TABLES: list[tuple[list[object], list[str]]] = [
    (["info", BUSY, SRTP], ["srtp-sdes-call.pcap", " 205 "]),  # tshark: 205 frames
    (["calls", BUSY], ["486 Busy Here"]),
    (["calls", SRTP, "--stats"], ["200 OK"]),
    (["streams", SRTP], ["0x0CA11E55", "127.0.60.1:16000"]),
    (["streams", DATA / "SIP_DTMF2.pcap", "--rtcp", "--dtmf"], ["0x9A7B5382", "digits: 6789123"]),
    (["streams", DATA / "sip-rtp-opus.pcap"], ["opus"]),
    (["split", SRTP, "-o", "{tmp}"], ["0x0CA11E55"]),
]


@pytest.mark.parametrize(
    ("args", "whole"), TABLES, ids=lambda a: " ".join(str(x) for x in a[:1] + a[2:])
)
def test_default_tables_fit_80_columns(
    args: list[object], whole: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = _run([str(a).format(tmp=tmp_path) for a in args], capsys)
    assert code == 0
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, too_long
    for value in whole:
        assert value in out


def test_wide_shows_every_column_and_whole_lines_in_a_pipe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, narrow = _run(["streams", SRTP], capsys)
    _, wide = _run(["streams", SRTP, "--wide"], capsys)
    header = next(line for line in wide.splitlines() if "ssrc_hex" in line)
    for column in ("min_delta_ms", "mean_jitter_ms", "found_by", "packets"):
        assert column not in narrow
        assert column in header  # one line: a pipe gets the table at its natural width
    assert "0x0CA11E55" in narrow  # the stream's SSRC (tshark: rtp.ssrc == 0x0ca11e55)
    _, calls_wide = _run(["calls", BUSY, "--wide"], capsys)
    assert "ended_by" in calls_wide and "call_id" in calls_wide


def test_piped_tables_follow_columns_not_a_fixed_200(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    _, out = _run(["calls", BUSY], capsys)
    assert max(len(line) for line in out.splitlines()) <= 120
    monkeypatch.delenv("COLUMNS")
    _, out = _run(["calls", BUSY], capsys)
    assert max(len(line) for line in out.splitlines()) <= 80  # rich's width for a pipe


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["--version"], capsys)
    assert code == 0
    assert out == f"rtcscope {version('rtcscope')}\n"


def _every_help() -> list[list[str]]:
    """The --help of every command and of every command of a group."""
    from rtcscope.cli import _load_commands

    _load_commands([])
    helps = [[name, "--help"] for name in COMMANDS]
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        helps += [
            [str(group.name), c.name or c.callback.__name__.replace("_", "-"), "--help"]  # type: ignore[union-attr]
            for c in sub.registered_commands
        ]
    return helps


def test_help_has_no_type_artefacts(capsys: pytest.CaptureFixture[str]) -> None:
    helps = _every_help()
    assert len(helps) > len(COMMANDS)  # the groups' commands too
    for args in helps:
        code, out = _run(args, capsys)
        assert code == 0, args
        found = re.search(r"<(bool|int|str|float|path|list\[\w+\])>|\{\w+\}", out)
        assert found is None, (args, found.group() if found else "")
        usage = next(line for line in out.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
    _, streams_help = _run(["streams", "--help"], capsys)
    assert "[table|json|csv]" in streams_help
    assert "Usage: rtcscope streams [OPTIONS] FILE" in streams_help


@pytest.mark.parametrize("command", ["show", "analyze", "extract"])
def test_format_offers_only_what_the_command_writes(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out = _run([command, "--help"], capsys)
    assert "[table|json]" in out
    extra = {"show": ["--frame", "1"], "extract": ["-o", str(tmp_path / "x.wav")]}
    code = main([command, str(BUSY), "--format", "csv", *extra.get(command, [])])
    assert code == 2  # click's own usage error: csv is not a choice
    assert "csv" in capsys.readouterr().err


def _complete(
    words: str, cword: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], list[str]]:
    """What bash completion offers for ``words``, and the command modules imported for it."""
    imported: list[str] = []
    real = importlib.import_module

    def recording(name: str, package: str | None = None) -> ModuleType:
        if name in COMMANDS.values():
            imported.append(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", recording)
    monkeypatch.setenv("_RTCSCOPE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(cword))
    assert main([]) == 0
    return capsys.readouterr().out.splitlines(), imported


def test_completion_of_command_names_imports_no_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offered, imported = _complete("rtcscope st", 1, monkeypatch, capsys)
    assert offered == ["streams"]
    assert imported == []


def test_completion_of_options_and_choices_imports_only_that_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    offered, imported = _complete("rtcscope calls --for", 2, monkeypatch, capsys)
    assert offered == ["--format"]
    assert set(imported) <= {"rtcscope.cli.calls"}
    offered, _ = _complete("rtcscope calls --format ", 3, monkeypatch, capsys)
    assert offered == ["table", "json", "csv"]
    offered, _ = _complete("rtcscope show --format ", 3, monkeypatch, capsys)
    assert offered == ["table", "json"]


def test_show_completion_prints_a_script_for_the_shell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # typer finds the current shell among the process's ancestors (shellingham): a run
    # whose parent shell has gone (a detached job) has none; here the shell is bash.
    import shellingham

    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
    assert main(["--show-completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "_RTCSCOPE_COMPLETE=complete_bash" in script
    assert "complete -o default -F _rtcscope_completion rtcscope" in script


def test_failed_calls_are_red_only_where_the_terminal_has_colour(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    red = "\x1b[31m"
    _, piped = _run(["calls", BUSY], capsys)
    assert "\x1b[" not in piped
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich reads for a terminal with colour
    monkeypatch.setenv("TERM", "xterm-256color")
    _, coloured = _run(["calls", BUSY], capsys)
    assert red in coloured  # the 486 Busy Here call
    _, answered = _run(["calls", SRTP], capsys)
    assert red not in answered  # answered: plain
    _, findings = _run(["diagnose", DATA / "testbed-unreachable-contact.pcap"], capsys)
    assert "\x1b[1;31m[error]" in findings
    monkeypatch.setenv("NO_COLOR", "1")
    _, plain = _run(["calls", BUSY], capsys)
    assert red not in plain


def test_no_python_reprs_in_cells() -> None:
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    table = make_table([{"sources": {"127.0.0.1": 36, "::1": 2}, "encrypted": False, "mos": None}])
    console.print(table)
    text = console.export_text()
    assert "127.0.0.1: 36, ::1: 2" in text
    assert "{" not in text and "None" not in text and "False" not in text
    assert re.search(r"\bno\b", text)


def test_a_missing_max_forwards_is_a_dash_not_none(capsys: pytest.CaptureFixture[str]) -> None:
    """Some of aaa.pcap's requests carry no Max-Forwards (tshark -Y 'sip.Request-Line and
    not sip.Max-Forwards': frames 253, 327, 349, ...): the path shows "MF -", not None."""
    _, out = _run(["diagnose", DATA / "aaa.pcap", "--details"], capsys)
    lines = [line for line in out.splitlines() if line.lstrip().startswith("frame   253 ")]
    assert lines and lines[0].endswith("MF -"), lines
    assert "None" not in out
