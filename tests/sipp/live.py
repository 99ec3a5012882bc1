"""Helpers for the sipp bed tests: a tcpdump capture on lo that is checked for kernel drops
(and taken again once when it dropped), sipp runs through tests.peers, tshark rows."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import peers

NETWORK = "127.0.60.0/24"


def _wait_for(log: Path, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text("utf-8", "replace"):
            return True
        time.sleep(0.05)
    return False


def capture_while(workdir: Path, name: str, body: Callable[[Path], None]) -> Path:
    """Run ``body(attempt_dir)`` while tcpdump writes ``name`` on lo; a capture whose
    tcpdump reports dropped packets is taken again once (no result may need a quiet machine)."""
    for attempt in (1, 2):
        here = workdir / f"attempt-{attempt}"
        here.mkdir(parents=True, exist_ok=True)
        capture = here / name
        log = here / "tcpdump.log"
        with peers.background(
            "tcpdump",
            [
                "-i",
                "lo",
                "-n",
                "-U",
                "--immediate-mode",
                "-B",
                "8192",
                "-w",
                capture,
                "net",
                NETWORK,
            ],
            log,
            max_seconds=60,
        ) as proc:
            if not _wait_for(log, "listening on", 10):
                pytest.fail(f"tcpdump did not start: {log.read_text('utf-8', 'replace')}")
            body(here)
            time.sleep(0.3)  # the last datagrams reach the capture
        assert proc.returncode is not None
        text = log.read_text("utf-8", "replace")
        if re.search(r"^0 packets dropped by kernel", text, re.MULTILINE):
            return capture
        assert "dropped by kernel" in text, text
    pytest.fail(f"tcpdump dropped packets twice: {text}")


def rtp_rows(capture: Path, display_filter: str, rtp_ports: list[int]) -> list[list[str]]:
    """(capture time, ssrc, seq, timestamp, marker, payload type, payload, whole datagram)
    per RTP packet, as tshark reads them."""
    extra: list[str] = []
    for port in rtp_ports:
        extra += ["-d", f"udp.port=={port},rtp"]
    return peers.tshark_fields(
        capture,
        [
            "frame.time_epoch",
            "rtp.ssrc",
            "rtp.seq",
            "rtp.timestamp",
            "rtp.marker",
            "rtp.p_type",
            "rtp.payload",
            "udp.payload",
        ],
        display_filter,
        extra,
    )


def wait_until_bound(ip: str, port: int, seconds: float = 15) -> None:
    """Wait until something (sipp) has bound the UDP address: our own bind then fails."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((ip, port))
        except OSError:
            return
        finally:
            probe.close()
        time.sleep(0.05)
    pytest.fail(f"nothing bound {ip}:{port} within {seconds:g} s")
