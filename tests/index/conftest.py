"""One index of every capture (tests/data and ../shared/captures), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.index.build import IndexReport, build_index
from tests.conftest import DATA, shared_captures


def every_capture() -> list[Path]:
    local = sorted(p for p in DATA.iterdir() if p.suffix in {".pcap", ".pcapng", ".gz"})
    return [*local, *shared_captures()]


@pytest.fixture(scope="session")
def capture_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IndexReport]:
    index = tmp_path_factory.mktemp("index")
    report = build_index(every_capture(), index, jobs=2)
    return index, report
