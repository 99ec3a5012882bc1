"""Every external program the tests and benches call comes from the Makefile's apt line.

CI machines keep packages installed by hand in earlier sessions, which would hide a missing
install step; this test reads the Makefile instead of the machine.
"""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.peers import PROGRAM_PACKAGES


def _apt_packages() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^APT_PACKAGES := (.*?)(?<!\\)\n", text, re.S | re.M)
    assert match, "Makefile has no APT_PACKAGES line"
    return set(match.group(1).replace("\\\n", " ").split())


def test_every_program_package_is_installed_by_make_test() -> None:
    missing = {p for p in PROGRAM_PACKAGES.values() if p not in _apt_packages()}
    assert not missing, f"add to APT_PACKAGES in the Makefile: {sorted(missing)}"


def test_make_test_installs_noninteractively() -> None:
    text = (ROOT / "Makefile").read_text()
    assert "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends" in text
    assert "apt-get update" in text


def test_no_test_calls_a_program_around_peers() -> None:
    """subprocess is used only in tests/peers.py, so every program goes through ``program``."""
    offenders = []
    for path in list((ROOT / "tests").rglob("*.py")) + list((ROOT / "bench").rglob("*.py")):
        if path.name == "peers.py" and path.parent.name == "tests":
            continue
        if path.name == "test_install_line.py":
            continue
        text = path.read_text()
        if re.search(r"\bsubprocess\.(run|Popen|call|check_output|check_call)\b", text) or (
            "os.system(" in text
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"call programs through tests/peers.py: {offenders}"
