"""Shared fixtures: where the captures are, and hypothesis settings for CI."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED_CAPTURES = ROOT.parent / "shared" / "captures"
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI") == "true"

# CI draws the same examples on every run (derandomize): a landing is not decided by the luck
# of one draw; the dev profile draws anew each run, so new cases keep being found locally.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=150,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if IN_CI else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def c_module(name: str) -> Any:
    """The C accelerator ``name`` (``"rtcscope.sip._routescan"``) where it was built, else
    None (no compiler or no Python headers where rtcscope was installed)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def needs_built(module: ModuleType | None) -> pytest.MarkDecorator:
    """The mark that skips a test of a C accelerator :func:`c_module` did not find."""
    return pytest.mark.skipif(module is None, reason="the C accelerator is not built here")


def shared_capture(name: str) -> Path:
    """A capture from ../shared/captures: skip when absent, except under CI=true (fail)."""
    path = SHARED_CAPTURES / name
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing (CI needs ../shared/captures)")
        pytest.skip(f"{path} is not here (../shared/captures is absent)")
    return path


def shared_captures() -> list[Path]:
    """Every capture in ../shared/captures (empty when the folder is absent)."""
    if not SHARED_CAPTURES.is_dir():
        return []
    return sorted(
        p
        for p in SHARED_CAPTURES.iterdir()
        if p.suffix in {".pcap", ".pcapng"} or p.name.endswith(".gz")
    )


def count_capture_opens(monkeypatch: pytest.MonkeyPatch, *modules: object) -> list[object]:
    """The sources the given modules (capture.pipeline, capture.fastscan...) open with
    ``open_capture`` from now on, in order."""
    from rtcscope.capture.reader import open_capture

    opens: list[object] = []

    def counting(source: object, keep_going: bool = False) -> object:
        opens.append(source)
        return open_capture(source, keep_going=keep_going)  # type: ignore[arg-type]

    for module in modules:
        monkeypatch.setattr(module, "open_capture", counting)
    return opens


def count_offset_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records each read by offsets (capture.flowread.RecordIndex.records) gave,
    one entry per read, from now on."""
    from rtcscope.capture.flowread import RecordIndex

    reads: list[int] = []
    original = RecordIndex.records

    def counting(self: RecordIndex, path: str, wanted: Any) -> Any:
        reads.append(0)
        for record in original(self, path, wanted):
            reads[-1] += 1
            yield record

    monkeypatch.setattr(RecordIndex, "records", counting)
    return reads
