"""What a section of ``rtcscope analyze`` gets and gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """What the sections may do besides reading the model."""

    out_dir: Path | None = None  # where sections write files (ladders, audio); None: none
    # With -o: ladders and audio for INVITE calls only, and beyond this many calls only for
    # the failed or flagged ones (a busy capture would give tens of thousands of files);
    # all_files writes them for every call and stream.
    max_call_files: int = 200
    all_files: bool = False


@dataclass(slots=True)
class Section:
    """One analysis' contribution: a titled text block, JSON-able data and written files."""

    name: str
    title: str
    text: str
    data: Any = None
    files: list[Path] = field(default_factory=list)
    problems: int = 0
