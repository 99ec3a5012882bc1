"""Helpers for the sipp bed tests: a tcpdump capture of the bed's range on lo (checked for
kernel drops, tests/live_capture.py), sipp runs through tests.peers, tshark rows."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import live_capture, peers

NETWORK = "127.0.60.0/24"


def capture_while(workdir: Path, name: str, body: Callable[[Path], None]) -> Path:
    """Run ``body(attempt_dir)`` while tcpdump writes ``name`` on lo for the bed's range;
    taken again once when tcpdump reports dropped packets (tests/live_capture.py)."""
    return live_capture.capture_while(workdir, name, body, ["net", NETWORK])


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
