"""Severity discipline: every error the diagnosis gives on a real capture is a real fault.

``diagnose`` runs on every capture in tests/data and ../shared/captures; each error must be
in tests/data/diagnosis_real_errors.toml with the reason it is real, and each entry there must
still be found. A new error on a capture fails until someone writes down why it is true.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rtcscope.scan.files import diagnose_capture
from rtcscope.sip.diagnosis import Severity
from tests.conftest import DATA, SHARED_CAPTURES, shared_captures

TABLE = DATA / "diagnosis_real_errors.toml"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".pcap.gz")


def _captures() -> list[Path]:
    local = sorted(p for p in DATA.iterdir() if p.name.endswith(CAPTURE_SUFFIXES))
    return local + [p for p in shared_captures() if p.name.endswith(CAPTURE_SUFFIXES)]


def _listed() -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for entry in tomllib.loads(TABLE.read_text())["error"]:
        assert len(entry["reason"]) > 40, entry  # a reason, not a placeholder
        out.setdefault(entry["file"], set()).add((entry["code"], entry["element"]))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", _captures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_error_is_a_listed_real_fault(path: Path) -> None:
    result = diagnose_capture(path)
    errors = {(f.code, f.element) for f in result.findings if f.severity is Severity.ERROR}
    assert errors == _listed().get(path.name, set())
    assert result.has_errors == bool(errors)


def test_table_names_existing_captures_only() -> None:
    """A stale entry (a capture renamed or removed) would make its errors vanish unnoticed."""
    for name in _listed():
        assert (
            (DATA / name).exists()
            or (SHARED_CAPTURES / name).exists()
            or (not SHARED_CAPTURES.is_dir())
        ), name
