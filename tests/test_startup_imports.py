"""Start-up imports only what the command and its output need (issue 14: `rtcscope --help`
well under 0.5 s; a command on a tiny capture ~0.15 s of CPU above a bare Python).

Each case runs the CLI in a fresh interpreter and lists the modules loaded once the command
is done; what must not load is named per case. The speed itself is shown by bench figures,
not asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.peers import run

CAPTURE = str(DATA / "testbed-busy.pcap")  # one INVITE call, busy, with RTP

_PROBE = """
import json, sys
from rtcscope.cli import main
code = main(json.loads(sys.argv[1]))
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _loaded(args: list[str], tmp: Path) -> set[str]:
    probe = tmp / "probe.py"
    probe.write_text(_PROBE)
    # bash runs it: tests start programs through tests/peers.py
    done = run("bash", ["-c", 'exec "$0" "$1" "$2"', sys.executable, probe, json.dumps(args)])
    report = json.loads(done.stderr.rsplit("\n", 1)[-1])
    assert report["code"] == 0, done.stderr
    assert done.stdout
    return set(report["modules"])


def _present(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


# Never for these commands: pydantic (typer's parameter adapters), the HTML report, the
# audio codecs and writers (PyAV), the other commands' machinery.
NEVER = ["pydantic", "rtcscope.report", "av", "rtcscope.media", "importlib.metadata"]
# Standard library modules only some runs need: CSV output (csv), a compressed capture
# (gzip), a spool for a piped capture with -o or a live capture (tempfile, and random
# below it), ladder file names with -o (hashlib).
ON_DEMAND = ["csv", "gzip", "tempfile", "random", "hashlib"]
# What analyze loads only when -o asks for audio and the report: the per-packet arrays the
# audio read keeps for the report, and the quality model they bring.
AUDIO_FILES = ["rtcscope.rtp.columns", "rtcscope.rtp.series", "rtcscope.quality"]

# What only --follow or -i needs (a command reading a whole capture checks its options
# without it: rtcscope.cli.live_options).
LIVE = ["rtcscope.cli.live", "rtcscope.scan.follow", "rtcscope.scan.live_source"]
# What only RTCP packets and RTP events need (the test capture has neither).
RTCP_EVENTS = ["rtcscope.rtp.rtcp", "rtcscope.rtp.events"]

CASES = {
    "calls": (
        ["calls", CAPTURE, "--format", "json"],
        ["rich", "rtcscope.sip.diagnosis", *ON_DEMAND, *LIVE, *RTCP_EVENTS],
    ),
    "calls with options": (
        ["calls", CAPTURE, "--format", "json", "--dedup", "--rtp-port", "5004", "-q"],
        ["rich", "rtcscope.sip.diagnosis", *LIVE],
    ),
    "diagnose": (["diagnose", CAPTURE, "--format", "json"], ["rich", *LIVE]),
    "streams": (
        ["streams", CAPTURE, "--format", "json"],
        [
            "rich",
            "rtcscope.sip.diagnosis",
            "rtcscope.sip.live",
            "pylibsrtp",
            "rtcscope.rtp.srtp",
            "rtcscope.quality",
        ],
    ),
    "info": (
        ["info", CAPTURE, "--format", "json"],
        ["rich", "rtcscope.sip.diagnosis", "rtcscope.sip.live"],  # (the call filters)
    ),
    "analyze": (
        ["analyze", CAPTURE, "--format", "json"],
        # files: with -o only
        ["rich", "rtcscope.outfile", "rtcscope.sip.ladder", *AUDIO_FILES, *ON_DEMAND],
    ),
    "calls table": (["calls", CAPTURE], ["rtcscope.sip.diagnosis"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_command_imports_only_what_it_uses(case: str, tmp_path: Path) -> None:
    args, also_absent = CASES[case]
    modules = _loaded(args, tmp_path)
    assert "rtcscope.scan" in modules  # the probe sees what the command loaded
    for package in NEVER + also_absent:
        assert not _present(modules, package), (case, package, _present(modules, package))


def test_a_table_is_printed_with_rich(tmp_path: Path) -> None:
    """The other side of the cases above: the absence of rich is the JSON road's own."""
    assert _present(_loaded(["calls", CAPTURE], tmp_path), "rich.table")


def test_top_level_help_imports_no_command_machinery(tmp_path: Path) -> None:
    modules = _loaded(["--help"], tmp_path)
    for package in ["typer", "numpy", "rich", "pydantic", "rtcscope.scan", "rtcscope.sip"]:
        assert not _present(modules, package), package


@pytest.mark.parametrize("preset", [None, "4"])
def test_the_process_asks_openblas_for_one_thread(
    preset: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run() (the process's entry point) sets OPENBLAS_NUM_THREADS=1 before any command
    imports NumPy, unless the user set it."""
    import os

    import rtcscope.cli as cli

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset or "x")  # restored after the test
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setattr(cli, "_kept", None)
    seen: list[str | None] = []

    def command(restore_collector: bool = True) -> int:
        seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        return 0

    monkeypatch.setattr(cli, "main", command)
    with pytest.raises(SystemExit) as ended:
        cli.run()
    assert ended.value.code == 0
    assert seen == [preset or "1"]


def test_extract_does_not_load_the_quality_model(tmp_path: Path) -> None:
    """extract writes audio (the media package, PyAV) but never grades it: the quality model
    (which the per-packet arrays of rtp.columns bring) stays out."""
    out = tmp_path / "one.wav"
    dtmf = str(DATA / "SIP_DTMF2.pcap")
    modules = _loaded(["extract", dtmf, "--stream", "1", "-o", str(out)], tmp_path)
    assert out.stat().st_size > 44
    assert _present(modules, "rtcscope.media.extract")
    assert not _present(modules, "rtcscope.quality")
    assert not _present(modules, "rtcscope.rtp.columns")
