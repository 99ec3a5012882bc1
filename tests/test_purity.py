"""DESIGN rule 1: protocol code does no I/O and reads no clock.

Every module of the pure layers is read as source (not imported) and checked for imports of
``socket``, ``asyncio``, ``time``, ``subprocess``, ``threading``, ``select`` and for calls to
``open``/``datetime.now``. The edges that do I/O are listed by name, with why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

SRC = ROOT / "src" / "rtcscope"

PURE_PACKAGES = ("capture", "rtp", "sip", "media")
PURE_MODULES = (
    "hep/codec.py",
    "hep/framing.py",
    "hep/rtcp_json.py",
    "esl/protocol.py",
    "hepipe/mapping.py",
)

# Edges: the only places in the pure packages that touch files (never sockets or clocks).
FILE_EDGES = {
    "capture/reader.py": "the only place that opens a capture file",
    "capture/writer.py": "the only place that writes one",
    "media/wav.py": "the WAV writer's thin open/close",
    "media/ogg_opus.py": "the Ogg Opus writer's thin open/close",
    "media/silk.py": "the SILK bitstream writer's thin open/close",
    "media/extract.py": "writes the files extract asks for",
}

FORBIDDEN_IMPORTS = {"socket", "asyncio", "time", "subprocess", "threading", "select"}


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for pkg in PURE_PACKAGES:
        files += sorted((SRC / pkg).glob("*.py"))
    files += [SRC / m for m in PURE_MODULES if (SRC / m).exists()]
    return files


def _violations(path: Path, source: str | None = None) -> list[str]:
    rel = path.relative_to(SRC).as_posix()
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    found.append(f"{rel}:{node.lineno} imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                found.append(f"{rel}:{node.lineno} imports from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open" and rel not in FILE_EDGES:
                found.append(f"{rel}:{node.lineno} calls open()")
            if isinstance(func, ast.Attribute) and func.attr in {"now", "utcnow", "today"}:
                found.append(f"{rel}:{node.lineno} reads the clock ({func.attr})")
    return found


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_pure_module_does_no_io(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_catches_a_clock_read_and_a_file_open() -> None:
    probe = SRC / "rtp" / "probe.py"  # never written: the source is given
    found = _violations(probe, "import time\nx = open('f')\ny = datetime.now()\n")
    assert len(found) == 3
