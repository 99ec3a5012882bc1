"""The HEP collector fed as an attacker would, longer than the tests (issue 21).

Starts ``rtcscope hep listen --tcp --password`` (its own process group, loopback
127.0.70.30) and sends, over UDP and TCP, a mix of: valid HEP, non-UTF-8 Call-ID /
correlation id / node name, compressed payloads larger than an IP packet, compression bombs
(~4.4 KB inflating to 4 MB each), random mutations of valid packets (bit flips, cuts,
chunk-length lies), wrong and missing passwords; then one valid message. Then it checks:

- every valid message is in the database and in the pcap (tshark), ``PRAGMA
  integrity_check`` is ok, every refusal is counted by reason;
- peak RSS (VmHWM) of the receiver and of the store process stay below ``--rss-mb``;
- with ``ulimit -n 1024``, N idle TCP clients do not keep a legitimate sender out;
- the collector is still running at the end (no crash) and its log has no traceback;
- Ctrl-C to the process group stops it with exit 0.

Usage: ``.venv/bin/python bench/hostile/run.py [--bombs 2000] [--mutations 20000]
[--idle 2000] [--rss-mb 300]``. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.peers import rtcscope_background, tshark_fields  # noqa: E402

from rtcscope.hep.codec import HepPacket, ProtocolType, compress, encode  # noqa: E402
from rtcscope.hep.store import DATABASE_NAME, PCAP_NAME, count  # noqa: E402

HOST = "127.0.70.30"
PASSWORD = "bench-pw"


def sip(call_id: bytes, body: bytes = b"") -> bytes:
    return (
        b"MESSAGE sip:b@example.com SIP/2.0\r\nCall-ID: "
        + call_id
        + b"\r\nCSeq: 1 MESSAGE\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def packet(i: int, payload: bytes, **extra: object) -> HepPacket:
    fields: dict[str, object] = {
        "ip_family": 2,
        "ip_proto": 17,
        "src": "10.0.0.1",
        "dst": "10.0.0.2",
        "sport": 5060,
        "dport": 5060,
        "ts_sec": 1_700_000_000 + i,
        "ts_usec": 0,
        "proto_type": ProtocolType.SIP,
        "capture_id": 9,
        "auth_key": PASSWORD,
        "payload": payload,
    }
    fields.update(extra)
    return HepPacket(**fields)  # type: ignore[arg-type]


def valid(i: int) -> bytes:
    return encode(packet(i, sip(f"valid-{i}@bench".encode())))


def non_utf8(i: int) -> bytes:
    raw = b"\xff\xfe" + str(i).encode()
    text = raw.decode("utf-8", "surrogateescape")
    return encode(
        packet(i, sip(b"bad-" + raw + b"@bench"), correlation_id=text, node_name="n" + text)
    )


def oversized(i: int) -> bytes:
    # 100 KB of SIP body, compressed: beyond the default 64 KiB payload limit
    return encode(compress(packet(i, sip(f"big-{i}".encode(), b"a" * 100_000))))


BOMB = encode(compress(packet(0, sip(b"bomb", b"\0" * 4_000_000))))  # gzip, ~4 KB


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del out[rng.randrange(6, len(out)) :]
    elif kind == 2 and len(out) > 12:
        at = rng.randrange(6, len(out) - 6)
        out[at : at + 2] = rng.randrange(65536).to_bytes(2, "big")
    else:
        out += rng.randbytes(rng.randint(1, 64))
    return bytes(out)


def vm_hwm_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_ports(log: Path) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.findall(r"(udp|tcp) [\d.]+:(\d+)", log.read_text(errors="replace"))
        if found:
            return {transport: int(port) for transport, port in found}
        time.sleep(0.05)
    raise SystemExit(f"collector did not start: {log.read_text()}")


def wait_call_id(store: Path, call_id: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (store / DATABASE_NAME).exists():
            db = sqlite3.connect(f"{(store / DATABASE_NAME).as_uri()}?mode=ro", uri=True)
            try:
                found = db.execute("SELECT 1 FROM messages WHERE call_id = ?", (call_id,))
                if found.fetchone():
                    return True
            except sqlite3.OperationalError:
                pass
            finally:
                db.close()
        time.sleep(0.1)
    return False


def process_name(pid: int) -> str:
    words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(w.decode(errors="replace") for w in words if w)
    return "store process" if "spawn_main" in text else "helper"


def wait_rows(store: Path, wanted: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if count(store) >= wanted:
            break
        time.sleep(0.1)
    return count(store)


def hostile_mix(args: argparse.Namespace, folder: Path) -> None:
    store = folder / "store"
    log = folder / "listen.log"
    out = folder / "listen.json"
    rng = random.Random(21)
    sent: dict[str, int] = {}
    valid_ids: list[int] = []
    cmd = ["hep", "listen", "--store", store, "--bind", f"{HOST}:0", "--tcp"]
    cmd += ["--password", PASSWORD, "--format", "json"]
    with rtcscope_background(cmd, log, stdout=out, new_session=True) as proc:
        ports = wait_ports(log)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        tcp = socket.create_connection((HOST, ports["tcp"]), timeout=10, source_address=(HOST, 0))
        started = time.monotonic()

        def send(kind: str, data: bytes, over_tcp: bool = False) -> None:
            sent[kind] = sent.get(kind, 0) + 1
            if over_tcp:
                tcp.sendall(data)
            else:
                udp.sendto(data, (HOST, ports["udp"]))

        base_valid = [valid(i) for i in range(50)]
        for n in range(args.bombs):
            send("bomb", BOMB)
            if n % 10 == 0:
                i = len(valid_ids)
                valid_ids.append(i)
                send("valid", valid(i), over_tcp=(i % 2 == 1))
                send("non_utf8", non_utf8(100_000 + n))
                send("oversized", oversized(n))
                send("wrong_password", encode(packet(n, sip(b"pw"), auth_key="nope")))
                send("no_password", encode(packet(n, sip(b"pw"), auth_key=None)))
            if n % 200 == 0:
                time.sleep(0.05)  # let the receiver drain: UDP loss is not what is measured
        for n in range(args.mutations):
            send("mutation", mutate(rng.choice(base_valid), rng))
            if n % 500 == 0:
                time.sleep(0.02)
        last = len(valid_ids)
        valid_ids.append(last)
        send("valid", valid(last))
        tcp.close()
        last_arrived = wait_call_id(store, f"valid-{last}@bench", 120)
        stored = count(store)
        elapsed = time.monotonic() - started
        alive = proc.poll() is None
        store_pids = children(proc.pid)
        rss = {"receiver": vm_hwm_mb(proc.pid)}
        for pid in store_pids:
            rss[f"{process_name(pid)} (pid {pid})"] = vm_hwm_mb(pid)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    counts = json.loads(out.read_text())
    db = sqlite3.connect(store / DATABASE_NAME)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    ids = {row[0] for row in db.execute("SELECT call_id FROM messages")}
    db.close()
    missing = [i for i in valid_ids if f"valid-{i}@bench" not in ids]
    pcap_ids = {r[0] for r in tshark_fields(store / PCAP_NAME, ["sip.Call-ID"])}
    missing_pcap = [i for i in valid_ids if f"valid-{i}@bench" not in pcap_ids]
    executions = sum(sent.values())
    traceback = "Traceback" in log.read_text(errors="replace")
    print(f"sent: {executions} packets in {elapsed:.1f} s: {json.dumps(sent)}")
    print(f"collector alive at the end: {alive}; exit code after Ctrl-C: {code}")
    print(f"tracebacks in its log: {traceback}")
    print(
        f"stored: {stored} rows (valid, non-UTF-8 and mutations that still decode); last "
        f"valid message stored: {last_arrived}; refused: {json.dumps(counts['refused'])}"
    )
    print(
        f"valid messages missing from the database: {len(missing)}, from the pcap: "
        f"{len(missing_pcap)}; integrity_check: {integrity}"
    )
    for name, mb in rss.items():
        verdict = "ok" if mb < args.rss_mb else "OVER"
        print(f"peak RSS {name}: {mb:.0f} MB ({verdict}, bound {args.rss_mb} MB)")
    crashes = int(not alive) + int(code != 0) + int(traceback)
    print(f"crashes: {crashes}")


def idle_clients(args: argparse.Namespace, folder: Path) -> None:
    store = folder / "idle-store"
    log = folder / "idle.log"
    out = folder / "idle.json"
    cmd = ["hep", "listen", "--store", store, "--bind", f"{HOST}:0", "--tcp", "--no-pcap"]
    cmd += ["--format", "json"]
    idle: list[socket.socket] = []
    with rtcscope_background(cmd, log, stdout=out, new_session=True, max_open_files=1024) as proc:
        ports = wait_ports(log)
        for _ in range(args.idle):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            sock.connect_ex((HOST, ports["tcp"]))
            idle.append(sock)
        time.sleep(2)
        started = time.monotonic()
        with socket.create_connection(
            (HOST, ports["tcp"]), timeout=60, source_address=(HOST, 0)
        ) as legit:
            legit.sendall(valid(1))
            stored = wait_rows(store, 1, 90)
        waited = time.monotonic() - started
        for sock in idle:
            sock.close()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    counts = json.loads(out.read_text())
    print(
        f"{args.idle} idle TCP clients under ulimit -n 1024: the sender's message stored "
        f"after {waited:.2f} s ({stored} row); tcp_closed {json.dumps(counts['tcp_closed'])}; "
        f"accept_errors {counts['accept_errors']}; exit code {code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bombs", type=int, default=2000)
    parser.add_argument("--mutations", type=int, default=20000)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--rss-mb", type=int, default=300)
    args = parser.parse_args()
    print(f"bomb packet: {len(BOMB)} bytes, inflating to 4,000,000+ bytes")
    with tempfile.TemporaryDirectory(prefix="rtcscope-hostile-") as folder:
        hostile_mix(args, Path(folder))
        idle_clients(args, Path(folder))


if __name__ == "__main__":
    main()
