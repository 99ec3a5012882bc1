"""The findings catalogue: every code the checks can emit is in it (and nothing else), and the
CLI prints it, groups findings by code and filters them."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import rtcscope.sip.diagnosis as diagnosis_package
from rtcscope.cli import main
from rtcscope.sip.diagnosis import CATALOGUE, Severity, catalogue_rows
from rtcscope.sip.diagnosis.catalogue import DELIVERED_VARIANT
from tests.conftest import DATA

_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _emitted_codes() -> set[str]:
    """Every string literal the checks pass as a code: the first argument of ``add`` and
    ``defer`` (and of ``make_finding``, which ``add`` calls and the finding shared with the
    usual refused call's C road is made with), read from the sources (both arms of a
    conditional), plus the delivered twins."""
    found: set[str] = set()
    computed = 0
    folder = Path(diagnosis_package.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "make_finding"
                and node.args
            ):  # (add's own call passes its code on: only literals here)
                first = node.args[0]
                options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
                found.update(o.value for o in options if isinstance(o, ast.Constant))
                continue
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"
                and node.func.attr in ("add", "defer")
                and node.args
            ):
                continue
            first = node.args[0]
            options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            constants = [o.value for o in options if isinstance(o, ast.Constant)]
            found.update(constants)
            if len(constants) < len(options):
                computed += 1  # the flush of deferred path findings (DELIVERED_VARIANT)
    assert computed == 1
    return found | set(DELIVERED_VARIANT.values())


def test_catalogue_lists_exactly_the_codes_the_checks_emit() -> None:
    emitted = _emitted_codes()
    assert emitted == set(CATALOGUE)
    for row in catalogue_rows():
        assert _CODE.match(row.code)
        assert row.rule.startswith("RFC"), row.code
        assert row.explanation and not row.explanation.endswith(".")
        # Errors and warnings say what to change; info is context.
        assert bool(row.fix) == (row.severity is not Severity.INFO), row.code
    for failing, delivered in DELIVERED_VARIANT.items():
        assert CATALOGUE[failing].severity is Severity.ERROR
        assert CATALOGUE[delivered].severity is not Severity.ERROR


def test_list_codes_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--list-codes", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in rows] == [r.code for r in catalogue_rows()]
    assert set(rows[0]) == {"code", "severity", "concern", "rule", "explanation", "fix"}
    assert main(["diagnose", "--list-codes"]) == 0
    text = capsys.readouterr().out
    assert all(code in text for code in CATALOGUE)


def test_grouped_output_filters_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "testbed-no-loose-route.pcap.gz")
    assert main(["diagnose", path]) == 1
    grouped = capsys.readouterr().out
    # One block per code, with its count.
    assert re.search(r"^\[error\] request-loop x\d+ in 1 call\(s\)", grouped, re.M)
    assert grouped.count("[error] request-loop") == 1
    assert main(["diagnose", path, "--details"]) == 1
    detailed = capsys.readouterr().out
    loops = detailed.count("loops between")
    assert loops >= 2
    # --limit caps findings per code; the exit code still reflects the whole capture.
    assert main(["diagnose", path, "--details", "--code", "request-loop", "--limit", "1"]) == 1
    assert capsys.readouterr().out.count("loops between") == 1
    assert main(["diagnose", path, "--format", "json", "--severity", "error"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {f["severity"] for f in data["findings"]} == {"error"}
    assert {g["code"] for g in data["groups"]} == {f["code"] for f in data["findings"]}
    counts = {g["code"]: g["count"] for g in data["groups"]}
    assert sum(counts.values()) == len(data["findings"])
    assert main(["diagnose", path, "--code", "no-such-code"]) == 2


def test_readme_codes_are_generated_from_the_catalogue() -> None:
    from rtcscope.sip.diagnosis import format_catalogue_markdown
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- diagnose-codes:begin -->\n", "\n<!-- diagnose-codes:end -->"
    block = readme[readme.index(begin) + len(begin) : readme.index(end)]
    assert block == format_catalogue_markdown(catalogue_rows())


def _replicated(name: str, copies: int) -> list[object]:
    """The calls of a real capture repeated ``copies`` times under new Call-IDs."""
    from dataclasses import replace

    from rtcscope.scan.files import sip_messages
    from rtcscope.sip.message import SipMessage

    base = list(sip_messages(DATA / name))
    call_id = base[0].message.call_id
    assert call_id is not None
    out: list[object] = []
    for n in range(copies):
        for captured in base:
            data = bytes(captured.message).replace(call_id.encode(), f"copy-{n}-{call_id}".encode())
            out.append(
                replace(
                    captured,
                    frame=captured.frame + n * len(base),
                    ts_ns=captured.ts_ns + n * 10**9,
                    message=SipMessage.parse(data),
                )
            )
    return out


def test_grouped_text_does_not_grow_with_repeated_findings() -> None:
    """Issue 15: 3,000 calls with the same warnings printed 72,005 lines. Grouped by code, the
    text is as long for 120 calls as for 30; with --details it grows with the calls."""
    from rtcscope.sip.diagnosis import diagnose, format_diagnosis

    small = diagnose(_replicated("testbed-strict-router.pcap", 30))  # type: ignore[arg-type]
    large = diagnose(_replicated("testbed-strict-router.pcap", 120))  # type: ignore[arg-type]
    assert (small.calls, large.calls) == (30, 120)
    assert large.count(Severity.WARNING) == 120
    grouped_small = format_diagnosis(small).splitlines()
    grouped_large = format_diagnosis(large).splitlines()
    assert len(grouped_small) == len(grouped_large) < 40
    assert "[warning] strict-router x120 in 120 call(s)" in grouped_large[1]
    detailed_small = len(format_diagnosis(small, details=True).splitlines())
    detailed_large = len(format_diagnosis(large, details=True).splitlines())
    assert detailed_large > 3 * detailed_small
