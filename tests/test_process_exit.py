"""A command that read a capture ends its process without freeing the model
(cli.keep_until_exit): what it printed and every file it wrote must be the same as when the
same command runs in-process (cli.main, which frees everything as usual)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from rtcscope.cli import main
from tests.conftest import DATA
from tests.peers import rtcscope_cli, rtcscope_piped

CAPTURE = DATA / "sip-rtp-opus.pcap"


def _in_process(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "command",
    [
        ["calls", "--format", "json"],
        ["diagnose", "--format", "json"],
        ["streams", "--rtcp", "--format", "json"],
        ["analyze"],
    ],
)
def test_printed_output_is_complete(command: list[str]) -> None:
    code, text = _in_process([*command, str(CAPTURE)])
    proc = rtcscope_cli([*command, CAPTURE])
    assert (proc.returncode, proc.stdout) == (code, text)
    assert proc.stderr == ""
    assert text  # the comparison is about something


def test_written_files_are_complete(tmp_path: Path) -> None:
    own, theirs = tmp_path / "in-process", tmp_path / "process"
    code, _ = _in_process(["analyze", str(CAPTURE), "-o", str(own)])
    proc = rtcscope_cli(["analyze", CAPTURE, "-o", theirs])
    assert proc.returncode == code == 0
    written = _files(own)
    assert any(name.endswith(".wav") for name in written)
    assert _files(theirs) == written


@pytest.mark.parametrize(
    ("command", "capture"),
    [
        (["streams", "--rtcp", "--format", "json"], CAPTURE),
        # 115 kB of JSON: more than a pipe holds, so the write itself meets the closed pipe
        (["analyze", "--format", "json"], DATA / "testbed-no-loose-route.pcap.gz"),
        (["calls"], DATA / "testbed-no-loose-route.pcap.gz"),
    ],
)
def test_a_closed_pipe_ends_quietly(command: list[str], capture: Path) -> None:
    """`rtcscope calls X | head -c 20`: the reader goes away; exit 0, no traceback, no
    complaint (click alone would exit 1 on EPIPE)."""
    proc = rtcscope_piped([*command, capture])
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(20)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert head
    assert b"Traceback" not in err and b"Exception ignored" not in err, err
