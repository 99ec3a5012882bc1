"""``rtcscope calls`` and ``rtcscope flow`` as a user runs them; filters checked against the
Call-IDs tshark's display filters select on the same file."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from rtcscope.cli import main
from tests.conftest import DATA, shared_capture
from tests.peers import rtcscope_cli, tshark_fields


def _calls_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["calls", *args, "--format", "json", "--no-streams"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _tshark_call_ids(path: object, display_filter: str) -> set[str]:
    return {r[0] for r in tshark_fields(path, ["sip.Call-ID"], display_filter) if r[0]}  # type: ignore[arg-type]


@pytest.mark.peer
@pytest.mark.parametrize(
    ("option", "display_filter"),
    [
        (["--status", "403"], "sip.Status-Code == 403"),
        (["--status", "4xx"], "sip.Status-Code >= 400 && sip.Status-Code < 500"),
        (["--method", "CANCEL"], 'sip.Method == "CANCEL"'),
        (["--from", "35104723"], 'sip.from.user == "35104723"'),
        (["--to", "0097239287044"], 'sip.to.user == "0097239287044"'),
        (["--call-id", "105090259"], 'sip.Call-ID contains "105090259"'),
    ],
)
def test_filters_select_what_tshark_selects(
    capsys: pytest.CaptureFixture[str], option: list[str], display_filter: str
) -> None:
    path = shared_capture("aaa.pcap")
    data = _calls_json(capsys, str(path), *option)
    ours = {cid for c in data["calls"] for cid in c["call_ids"]}  # type: ignore[attr-defined]
    assert ours == _tshark_call_ids(path, display_filter)


@pytest.mark.peer
def test_failed_calls_are_the_invites_without_a_2xx(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_capture("aaa.pcap")
    data = _calls_json(capsys, str(path), "--failed", "--method", "INVITE")
    answered = _tshark_call_ids(path, 'sip.Status-Code == 200 && sip.CSeq.method == "INVITE"')
    invites = _tshark_call_ids(path, 'sip.Method == "INVITE"')
    ours = {c["call_id"] for c in data["calls"]}  # type: ignore[attr-defined]
    assert ours == invites - answered


def test_csv_and_table_and_stats(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "SIP_DTMF2.pcap"
    assert main(["calls", str(path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kind"] for r in rows] == ["REGISTER", "REGISTER", "INVITE", "REGISTER", "INVITE"]
    assert main(["calls", str(path), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "Number of SIP messages: 29" in out


def test_flow_formats_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "testbed-good.pcap"
    assert main(["flow", str(path), "--format", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("sequenceDiagram\n")
    assert main(["flow", str(path), "--format", "html"]) == 0
    assert "<svg" in capsys.readouterr().out
    assert main(["flow", str(path)]) == 0
    text = capsys.readouterr().out
    assert "INVITE" in text and "BYE" in text and "\x1b[" not in text
    assert main(["flow", str(path), "--call", "no-such-call"]) == 2
    assert main(["flow", str(DATA / "SIP_DTMF2.pcap")]) == 2  # several calls: --call needed
    assert main(["flow", str(path), "--alias", "bad"]) == 2


@pytest.mark.peer
def test_flow_svg_through_the_installed_cli() -> None:
    path = DATA / "testbed-good.pcap"
    (call_id,) = _tshark_call_ids(path, "sip")
    proc = rtcscope_cli(["flow", path, "--call", call_id, "--format", "svg"], check=True)
    root = ET.fromstring(proc.stdout.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("testbed-busy-cut.pcap", "busy"),
        ("testbed-cancel-cut.pcap", "cancelled"),
        ("testbed-busy.pcap", "busy"),
        ("testbed-cancel.pcap", "cancelled"),
        ("testbed-prack-ringing.pcap", "ringing"),
    ],
)
def test_call_state_from_responses_when_the_invite_is_missing(
    name: str, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture started after the INVITE (editcap cut): tshark sees no INVITE request, but
    the responses to it (CSeq INVITE) and the final the caller got say what happened."""
    path = DATA / name
    invites = tshark_fields(path, ["frame.number"], 'sip.Method == "INVITE"')
    assert bool(invites) == ("-cut" not in name)
    to_caller = tshark_fields(
        path, ["sip.Status-Code"], "sip.CSeq.method == INVITE && ip.dst == 127.0.10.1"
    )
    finals = [int(code) for (code,) in to_caller if int(code) >= 200]
    assert finals[:1] == {"busy": [486], "cancelled": [487], "ringing": []}[state]
    assert main(["calls", str(path), "--format", "json"]) == 0
    (call,) = json.loads(capsys.readouterr().out)["calls"]
    assert call["kind"] == "INVITE" and call["state"] == state
    assert call["caller"] == "127.0.10.1:5060"
    assert call["final_status"] == (finals[0] if finals else None)
    assert main(["calls", str(path), "--failed", "--format", "json"]) == 0
    failed = json.loads(capsys.readouterr().out)["calls"]
    assert len(failed) == (0 if state == "ringing" else 1)


def test_calls_quality_is_the_streams_quality_of_its_worst_direction(
    capsys: pytest.CaptureFixture[str],
) -> None:

    path = str(DATA / "SIP_DTMF2.pcap")
    assert main(["streams", path, "--quality", "--format", "json", "-q"]) == 0
    streams = json.loads(capsys.readouterr().out)
    by_ssrc = {
        s["ssrc_hex"]: next(
            b["mos"] for b in s["quality"]["buffers"] if b["buffer"] == "adaptive-500"
        )
        for s in streams
    }
    assert main(["calls", path, "--quality", "--format", "json", "-q"]) == 0
    calls = json.loads(capsys.readouterr().out)["calls"]
    (call,) = [c for c in calls if c["streams"]]
    assert {s["ssrc_hex"]: s["mos"] for s in call["streams"]} == {
        k: round(v, 2) for k, v in by_ssrc.items()
    }
    assert call["quality"]["mos"] == min(round(v, 2) for v in by_ssrc.values())
