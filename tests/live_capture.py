"""The one way a test captures live loopback traffic: tcpdump, checked for kernel drops.

A loaded machine (CI, eight engineers on two cores) can make tcpdump's kernel buffer
overflow; a lost packet then looks like a fault of the code under test (a SILK bitstream
that differs at byte 3808, a call missing its ACK). So every live capture goes through
:func:`capture_while`: tcpdump with an 8 MiB buffer and immediate mode, stopped by PID
(SIGTERM, after which it prints "N packets dropped by kernel"); a capture whose count is not 0
is taken again once, with the traffic sent again, and a second drop fails the test with
tcpdump's own words. The traffic (``body``) must therefore be repeatable: it gets a fresh
directory per attempt and must close what it opens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests import peers

ATTEMPTS = 2
NO_DROPS = re.compile(r"^0 packets dropped by kernel", re.MULTILINE)


def wait_for_text(log: Path, text: str, seconds: float) -> bool:
    """True once ``text`` is in the file ``log`` (False after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text("utf-8", "replace"):
            return True
        time.sleep(0.05)
    return False


def kernel_dropped_none(log_text: str) -> bool:
    """Whether tcpdump's closing statistics say the kernel dropped nothing. A log without
    the line (tcpdump killed before it could print it) is an error, not a pass."""
    if NO_DROPS.search(log_text):
        return True
    assert "dropped by kernel" in log_text, f"tcpdump printed no drop count: {log_text}"
    return False


def capture_while(
    workdir: Path,
    name: str,
    body: Callable[[Path], None],
    capture_filter: Sequence[str],
    settle_s: float = 0.3,
) -> Path:
    """Run ``body(attempt_dir)`` while tcpdump writes ``name`` on lo (``capture_filter``: a
    BPF expression as words, e.g. ``["net", "127.0.60.0/24"]``); returns the capture of the
    first attempt whose tcpdump reports no packet dropped by the kernel (module docstring)."""
    text = ""
    for attempt in range(1, ATTEMPTS + 1):
        here = workdir / f"attempt-{attempt}"
        here.mkdir(parents=True, exist_ok=True)
        capture = here / name
        log = here / "tcpdump.log"
        args = ["-i", "lo", "-n", "-U", "--immediate-mode", "-B", "8192", "-w", capture]
        with peers.background("tcpdump", [*args, *capture_filter], log, max_seconds=90) as proc:
            if not wait_for_text(log, "listening on", 10):
                pytest.fail(f"tcpdump did not start: {log.read_text('utf-8', 'replace')}")
            body(here)
            time.sleep(settle_s)  # the last datagrams reach the capture
            assert proc.poll() is None, f"tcpdump stopped early: {log.read_text()}"
        text = log.read_text("utf-8", "replace")
        if kernel_dropped_none(text):
            return capture
    pytest.fail(f"tcpdump dropped packets in {ATTEMPTS} attempts: {text}")
