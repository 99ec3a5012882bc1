"""`rtcscope hep listen|search|send|decode` under hostile use, as separate processes (issue 21).

Loopback only, 127.0.70.0/24; every collector is stopped by its PID (or process group) and
bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest

from rtcscope.hep.codec import HepPacket, ProtocolType, encode
from rtcscope.hep.store import DATABASE_NAME, PCAP_NAME, HepStore, count
from tests.peers import rtcscope_background, rtcscope_cli, tshark_fields


def _packet(i: int, pad: int = 0) -> bytes:
    payload = (
        f"OPTIONS sip:b@example.com SIP/2.0\r\nCall-ID: cli-{i}@h\r\nCSeq: 1 OPTIONS\r\n"
        f"Content-Length: {pad}\r\n\r\n" + "x" * pad
    ).encode()
    return encode(
        HepPacket(
            ip_family=2,
            ip_proto=17,
            src="10.0.0.1",
            dst="10.0.0.2",
            sport=5060,
            dport=5060,
            ts_sec=1700000000 + i,
            ts_usec=0,
            proto_type=ProtocolType.SIP,
            payload=payload,
        )
    )


@contextlib.contextmanager
def _collector(
    args: list[str], log: Path, nofile: int | None = None
) -> Iterator[tuple[Popen[bytes], dict[str, int], Path]]:
    """`hep listen` in a process group of its own; yields it, its ports and its stdout file."""
    out = log.with_suffix(".out")
    with rtcscope_background(
        ["hep", "listen", *args, "--format", "json"],
        log,
        stdout=out,
        new_session=True,
        max_open_files=nofile,
    ) as proc:
        ports: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.findall(r"(udp|tcp) [\d.]+:(\d+)", log.read_text(errors="replace"))
            if found:
                ports = {transport: int(port) for transport, port in found}
                break
            time.sleep(0.05)
        assert ports, log.read_text(errors="replace")
        yield proc, ports, out


def _wait_for_rows(store: Path, wanted: int, seconds: float = 20) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        have = count(store)
        if have >= wanted:
            return have
        time.sleep(0.05)
    return count(store)


def test_ctrl_c_to_the_process_group_stops_cleanly(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _collector(
        ["--store", str(store), "--bind", "127.0.70.10:0", "--tcp"], tmp_path / "listen.log"
    ) as (proc, ports, out):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.70.10", 0))
            for i in range(5):
                sock.sendto(_packet(i), ("127.0.70.10", ports["udp"]))
        with socket.create_connection(
            ("127.0.70.10", ports["tcp"]), timeout=5, source_address=("127.0.70.10", 0)
        ) as tcp:
            tcp.sendall(_packet(5))
        assert _wait_for_rows(store, 6) == 6
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(30) == 0
    counts = json.loads(out.read_text())
    assert (counts["received"], counts["stored"]) == (6, 6)
    db = sqlite3.connect(store / DATABASE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    call_ids = tshark_fields(store / PCAP_NAME, ["sip.Call-ID"])
    assert sorted(c[0] for c in call_ids) == [f"cli-{i}@h" for i in range(6)]


@pytest.mark.slow
def test_2000_idle_tcp_clients_under_1024_descriptors_do_not_block_a_sender(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    idle: list[socket.socket] = []
    with _collector(
        ["--store", str(store), "--bind", "127.0.70.11:0", "--tcp", "--no-pcap"],
        tmp_path / "listen.log",
        nofile=1024,
    ) as (proc, ports, out):
        try:
            for _ in range(2000):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.70.11", 0))
                sock.setblocking(False)
                sock.connect_ex(("127.0.70.11", ports["tcp"]))
                idle.append(sock)
            time.sleep(1.0)
            started = time.monotonic()
            with socket.create_connection(
                ("127.0.70.11", ports["tcp"]), timeout=20, source_address=("127.0.70.11", 0)
            ) as tcp:
                tcp.sendall(_packet(1))
                assert _wait_for_rows(store, 1, seconds=30) == 1
            waited = time.monotonic() - started
        finally:
            for sock in idle:
                sock.close()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
    counts = json.loads(out.read_text())
    assert counts["stored"] == 1
    assert counts["tcp_closed"]["connection_cap"] > 0  # idle ones made room for the sender
    assert waited < 60  # the default idle timeout: the sender got in well before it
    assert "Traceback" not in (tmp_path / "listen.log").read_text()


def test_unusable_store_is_refused_before_listening(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = rtcscope_cli(["hep", "listen", "--store", blocker / "x", "--bind", "127.0.70.12:0"])
    assert result.returncode == 3
    assert "cannot create a HEP store" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "inf"],
        ["--since", "nan"],
        ["--limit", "0"],
        ["--limit", "99999999999999999999"],
        ["--type", "99999999999999999999"],
        ["--type", "-1"],
    ],
)
def test_search_arguments_are_validated(tmp_path: Path, args: list[str]) -> None:
    HepStore(tmp_path).close()
    result = rtcscope_cli(["hep", "search", tmp_path, *args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["st#x", "st?mode=rwc", "st%20y"])
def test_search_store_names_with_uri_characters(tmp_path: Path, name: str) -> None:
    missing = tmp_path / name
    result = rtcscope_cli(["hep", "search", missing])
    assert result.returncode == 3
    assert list(tmp_path.iterdir()) == []  # nothing created (no `st` file)
    with HepStore(missing, write_pcap=False) as store:
        row = (1, 0, "10.0.0.1", 1, "10.0.0.2", 2, 17, 3, 1, None, None, None, "c@h", "BYE")
        store.add([(*row, None, b"BYE sip:x SIP/2.0\r\n\r\n")])
    found = json.loads(rtcscope_cli(["hep", "search", missing, "--format", "json"]).stdout)
    assert [m["call_id"] for m in found] == ["c@h"]


def test_search_limit_streams_and_bounds(tmp_path: Path) -> None:
    rows = [
        (i, 0, "10.0.0.1", 1, "10.0.0.2", 2, 17, 3, 1, None, None, None, f"c{i}", "BYE", None, b"x")
        for i in range(1500)
    ]
    with HepStore(tmp_path, write_pcap=False) as store:
        store.add(rows)
    default = json.loads(rtcscope_cli(["hep", "search", tmp_path, "--format", "json"]).stdout)
    assert len(default) == 1000  # bounded by default
    some = rtcscope_cli(["hep", "search", tmp_path, "--format", "csv", "--limit", "3"]).stdout
    assert some.splitlines()[1:] == [
        line for line in some.splitlines()[1:] if line.startswith(("0,", "1,", "2,", "3,"))
    ]
    assert len(some.splitlines()) == 4


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "udp://no-such-host.invalid:9060"],
        ["--to", "udp://127.0.70.13:9060", "--rate", "nan"],
        ["--to", "udp://127.0.70.13:99999"],
    ],
)
def test_send_bad_destination_or_rate_is_an_error_not_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    from tests.conftest import DATA

    capture = next(iter(sorted(DATA.glob("*.pcap"))))
    result = rtcscope_cli(["hep", "send", capture, *args])
    assert result.returncode in (2, 4), result.stderr
    assert "Traceback" not in result.stderr


def test_decode_time_out_of_range_is_printed_not_raised() -> None:
    from rtcscope.cli.hep import _iso

    assert _iso(1_100_000_000_000 * 10**9).endswith("(out of range)")
    assert _iso(0) == "1970-01-01T00:00:00.000000+00:00"


def test_rotation_gives_complete_files_while_the_collector_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _collector(
        ["--store", str(store), "--bind", "127.0.70.14:0", "--rotate", "8KiB"],
        tmp_path / "listen.log",
    ) as (proc, ports, _out):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.70.14", 0))
            for i in range(30):
                sock.sendto(_packet(i, pad=1000), ("127.0.70.14", ports["udp"]))
                time.sleep(0.06)  # a batch each: the pcap rotates as the batches come
        assert _wait_for_rows(store, 30) == 30
        # The pcap is written after the rows commit: wait for it to settle (a busy machine)
        # rather than sampling it mid-rotation.
        deadline = time.monotonic() + 20
        while len(list(store.glob("sip-*.pcap.part"))) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(store.glob("sip-*.pcap.part"))) == 1
        done_while_running = sorted(store.glob("sip-*.pcap"))
        assert len(done_while_running) >= 2
        # a complete file is never written again: an indexer may read it now
        first = done_while_running[0].read_bytes()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
    assert done_while_running[0].read_bytes() == first
    files = sorted(store.glob("sip-*.pcap"))
    assert not list(store.glob("*.part"))
    call_ids = [row[0] for f in files for row in tshark_fields(f, ["sip.Call-ID"])]
    assert call_ids == [f"cli-{i}@h" for i in range(30)]


def test_rotate_with_a_bad_value_is_a_usage_error(tmp_path: Path) -> None:
    result = rtcscope_cli(["hep", "listen", "--store", tmp_path, "--rotate", "5 parsecs"])
    assert result.returncode == 2
    assert "--rotate" in result.stderr
