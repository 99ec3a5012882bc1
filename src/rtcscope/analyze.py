"""The main job: a registry of analyses run on one capture.

Each capability registers one :class:`Analysis` from its own module (listed in
``ANALYSIS_MODULES``); none knows the others. ``rtcscope analyze FILE -o DIR`` runs them in
order, prints each one's section and lets each write its files into DIR.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Modules that register an analysis when imported, in the order their sections print.
ANALYSIS_MODULES: tuple[str, ...] = (
    "rtcscope.capture.info",
    "rtcscope.media.analysis",
    "rtcscope.rtp.analysis",
    "rtcscope.sip.diagnosis",
    "rtcscope.calls_analysis",
)


@dataclass(slots=True)
class AnalysisContext:
    """What every analysis gets: the capture, where to write files, shared options."""

    path: Path
    out_dir: Path | None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Section:
    """One analysis' contribution: a titled text block, JSON-able data and written files."""

    name: str
    title: str
    text: str
    data: Any = None
    files: list[Path] = field(default_factory=list)
    problems: int = 0


AnalysisFunc = Callable[[AnalysisContext], Section]


@dataclass(frozen=True, slots=True)
class Analysis:
    name: str
    order: int
    run: AnalysisFunc


_REGISTRY: dict[str, Analysis] = {}


def register(name: str, order: int) -> Callable[[AnalysisFunc], AnalysisFunc]:
    """Decorator: register ``func`` as the analysis ``name`` (lower ``order`` prints first)."""

    def wrap(func: AnalysisFunc) -> AnalysisFunc:
        _REGISTRY[name] = Analysis(name, order, func)
        return func

    return wrap


def analyses() -> list[Analysis]:
    """Every registered analysis, in print order."""
    for module in ANALYSIS_MODULES:
        importlib.import_module(module)
    return sorted(_REGISTRY.values(), key=lambda a: (a.order, a.name))


def run_analyses(
    path: Path,
    out_dir: Path | None,
    only: list[str] | None = None,
    options: dict[str, Any] | None = None,
) -> list[Section]:
    """Run every registered analysis (or those named in ``only``) on ``path``."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    ctx = AnalysisContext(path=path, out_dir=out_dir, options=dict(options or {}))
    selected = [a for a in analyses() if only is None or a.name in only]
    return [a.run(ctx) for a in selected]
