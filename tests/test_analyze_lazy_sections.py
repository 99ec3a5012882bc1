"""``analyze`` prints each section's text or its data, never both: the data (the calls' JSON
objects, the streams' absolute times, the diagnosis' objects) is made only for the JSON, the
diagnosis' text only for the text; and what is printed is what the commands of the same
name print."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from rtcscope.analyses import streams as streams_section
from rtcscope.analyses.section import Section
from rtcscope.cli import main
from rtcscope.sip import calls as calls_module
from rtcscope.sip import diagnosis as diagnosis_module
from tests.conftest import DATA

CAPTURE = DATA / "SIP_DTMF2.pcap"


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    made: Counter[str] = Counter()
    as_dict = calls_module.CallSummary.as_dict
    formatted = diagnosis_module.format_diagnosis

    def counting_as_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        made["call objects"] += 1
        return as_dict(self, *args, **kwargs)

    def counting_format(*args: Any, **kwargs: Any) -> Any:
        made["diagnosis text"] += 1
        return formatted(*args, **kwargs)

    line = streams_section._line

    def counting_line(row: dict[str, Any]) -> str:
        made["stream lines"] += 1
        return line(row)

    monkeypatch.setattr(calls_module.CallSummary, "as_dict", counting_as_dict)
    monkeypatch.setattr("rtcscope.analyses.diagnosis.format_diagnosis", counting_format)
    monkeypatch.setattr(streams_section, "_line", counting_line)
    return made


def test_text_output_makes_no_json_objects(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _counting(monkeypatch)
    assert main(["analyze", str(CAPTURE)]) == 0
    text = capsys.readouterr().out
    assert made["call objects"] == 0
    assert made["diagnosis text"] == 1
    assert made["stream lines"] > 0
    # The call lines carry the times the call list gives (its JSON, computed independently).
    assert main(["calls", str(CAPTURE), "--format", "json"]) == 0
    calls = json.loads(capsys.readouterr().out)["calls"]
    for call in calls:
        line = next(x for x in text.splitlines() if x.startswith(f"{call['index']:3d} "))
        assert f"{call['start_s']:10.3f}s" in line
        if call["duration_s"] is not None:
            assert f", {call['duration_s']:.3f} s" in line


def test_json_output_makes_no_diagnosis_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _counting(monkeypatch)
    assert main(["analyze", str(CAPTURE), "--format", "json"]) == 0
    sections = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert made["diagnosis text"] == 0
    assert made["stream lines"] == 0
    # (the calls' text written in C from their slots: no object made; the Python road
    # writes each call's object)
    listed = len(sections["calls"]["data"]["calls"])
    assert listed > 0
    assert made["call objects"] == (0 if calls_module.CALLS_TEXT_ROAD == "c" else listed)
    # The sections' data are the commands' JSON.
    assert main(["calls", str(CAPTURE), "--format", "json"]) == 0
    assert sections["calls"]["data"]["calls"] == json.loads(capsys.readouterr().out)["calls"]
    assert main(["streams", str(CAPTURE), "--rtcp", "--dtmf", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["streams"]
    assert sections["streams"]["data"] == rows
    assert all("start_iso" in row for row in rows)
    # The section's count of streams with problems, from the streams command's rows.
    assert sections["streams"]["problems"] == sum(
        1 for r in rows if r["problems"] or r["lost_vs_highest_seq"] > 0
    )


def test_a_lazy_section_makes_each_part_once_and_can_be_set() -> None:
    made: Counter[str] = Counter()

    def text() -> str:
        made["text"] += 1
        return "t"

    def data() -> list[int]:
        made["data"] += 1
        return [1]

    section = Section(name="x", title="X", make_text=text, make_data=data)
    assert made == Counter()
    assert section.text == section.text == "t"
    assert section.data == section.data == [1]
    assert made == Counter(text=1, data=1)
    section.data = [2]
    section.text = "u"
    assert (section.text, section.data) == ("u", [2])
    plain = Section(name="y", title="Y", text="v", data={"k": 1})
    assert (plain.text, plain.data, plain.files, plain.problems) == ("v", {"k": 1}, [], 0)
