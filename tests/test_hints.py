"""Hints that work as printed: every command line an error message offers is run literally
(split as a shell would) and must succeed; ``--call`` takes the index ``rtcscope calls``
shows in every command that takes a Call-ID.
"""

from __future__ import annotations

import re
import shlex
import wave
from pathlib import Path

import pytest

from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.errors import EXIT_INVALID_INPUT, EXIT_USAGE

DATA = Path(__file__).resolve().parent / "data"
COMMAND = re.compile(r"(?:e\.g\.|listed by:|\):) (rtcscope [^\n]+)|Try '(rtcscope [^']+)'")


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _hints(text: str) -> list[list[str]]:
    """Every command line in ``text``, split as a shell splits it."""
    return [shlex.split(a or b) for a, b in COMMAND.findall(text)]


def _run_hints(capsys: pytest.CaptureFixture[str], err: str, expected: int) -> None:
    hints = _hints(err)
    assert len(hints) == expected, err
    for hint in hints:
        assert hint[0] == "rtcscope"
        code, out, hint_err = _run(capsys, *hint[1:])
        assert code == 0, f"{shlex.join(hint)} exited {code}: {hint_err}"
        assert out.strip()


def test_choose_a_stream_hints_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "extract", DATA / "SIP_DTMF2.pcap", "-o", "x.wav")
    assert code == EXIT_USAGE
    assert "the capture has 2 RTP streams" in err
    _run_hints(capsys, err, 2)  # `rtcscope streams FILE`, and the command with --stream 1
    assert (tmp_path / "x.wav").stat().st_size > 44


def test_choose_a_call_hint_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "flow", DATA / "aaa.pcap")
    assert code == EXIT_USAGE
    assert "6 calls: choose one with --call" in err
    _run_hints(capsys, err, 1)


def test_unknown_call_hint_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "extract", DATA / "sip-rtp-opus.pcap", "--call", "99", "-o", tmp_path / "x.wav"
    )
    assert code == EXIT_USAGE
    assert "--call '99': no call of" in err
    _run_hints(capsys, err, 1)  # rtcscope calls FILE


def test_codec_hint_runs_and_decodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Opus stream whose SDP is not in the capture (the SIP is dropped here): its dynamic
    payload type has no rtpmap; the hint names --codec and runs, and --codec alone (no --pt)
    is enough for a stream with one audio payload type."""
    monkeypatch.chdir(tmp_path)
    with PcapWriter(tmp_path / "no-sip.pcap") as writer:
        for record in open_capture(DATA / "sip-rtp-opus.pcap"):
            if b"SIP/2.0" not in bytes(record.data):
                writer.write_record(record)
    code, _, err = _run(capsys, "extract", "no-sip.pcap", "-o", "x.wav")
    assert code == EXIT_INVALID_INPUT
    assert "payload type 99 has no rtpmap" in err
    _run_hints(capsys, err, 1)
    with wave.open(str(tmp_path / "x.wav")) as decoded:
        # 425 Opus packets of 20 ms, as the capture with its SDP gives (test_extract_cli)
        assert (decoded.getframerate(), decoded.getnframes()) == (48000, 425 * 960)


def test_usage_error_help_hint_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "hep", "listen", "--store", "x", "--rotate", "5parsecs")
    assert code == EXIT_USAGE
    assert "Invalid value for '--rotate'" in err
    _run_hints(capsys, err, 1)  # Try 'rtcscope hep listen --help'


@pytest.mark.parametrize("wanted", ["1", "#1", "1-4237@10.0.2.20", "1-42"])
def test_call_takes_the_index_everywhere(
    wanted: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """flow, diagnose, extract and sipp take the same --call: index, Call-ID or prefix."""
    capture = DATA / "sip-rtp-opus.pcap"  # one call, Call-ID 1-4237@10.0.2.20 (tshark)
    code, _, err = _run(capsys, "flow", capture, "--call", wanted, "--format", "json")
    assert code == 0, err
    code, _, err = _run(capsys, "diagnose", capture, "--call", wanted, "--format", "json")
    assert code in (0, 1), err
    code, _, err = _run(capsys, "extract", capture, "--call", wanted, "-o", tmp_path / "c")
    assert code == 0, err
    assert len(list((tmp_path / "c").glob("*.wav"))) == 1
    code, _, err = _run(capsys, "sipp", "uas", capture, "--call", wanted, "-o", tmp_path / "b")
    assert code == 0, err
    assert (tmp_path / "b" / "stream.pcap").is_file()


def test_a_call_that_matches_nothing_is_said_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "diagnose", DATA / "sip-rtp-opus.pcap", "--call", "nope")
    assert code == EXIT_USAGE
    assert "--call 'nope': no call of" in err and not out


def test_a_capture_without_calls_is_input_not_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PcapWriter(tmp_path / "rtp-only.pcap") as writer:
        for record in open_capture(DATA / "sip-rtp-opus.pcap"):
            if b"SIP/2.0" not in bytes(record.data):
                writer.write_record(record)
    code, _, err = _run(capsys, "flow", tmp_path / "rtp-only.pcap")
    assert code == EXIT_INVALID_INPUT
    assert "no SIP calls" in err


def test_diagnose_says_when_the_call_is_not_an_invite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # SIP_DTMF2: call 1 is a REGISTER (tshark: the first SIP request, frame 1, is REGISTER)
    code, out, _ = _run(capsys, "diagnose", DATA / "SIP_DTMF2.pcap", "--call", "1")
    assert code == 0
    assert "is a REGISTER: diagnose checks INVITE calls" in out
