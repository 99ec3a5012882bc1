"""bench/hep: SIP over HEP3/UDP on loopback at rising rates, into ``rtcscope hep listen``
(SQLite store + pcap of the SIP) and into ``sngrep -N -q -L ... -O`` (pcap only), same run.

For each rate, a fresh receiver is started, then this process offers ``rate * seconds`` HEP3
packets (a 600-byte SIP INVITE each; a Call-ID per message, or per ``--per-call`` messages)
paced in 1 ms ticks from one UDP socket; once the receiver has been idle for a second it is
stopped (SIGTERM) and what it stored is counted: rows in ``hep.sqlite`` for rtcscope (plus
its pcap frames), frames in the ``-O`` pcap for sngrep (capinfos). Loss = offered - stored.
The highest rate stored with zero loss (and zero loss at every lower rate) is printed for
both. Target: rtcscope >= 50,000 messages/s with zero loss on this 2-core machine (and at
least sngrep's figure).

rtcscope's collector asks the kernel for a 64 MB receive buffer (SO_RCVBUFFORCE as root);
sngrep keeps the default. Columns: "drain s" is how long after the last packet was offered
the receiver still stored (a receiver slower than the offer catches up from its buffer);
"stored/s" is what was stored over the offer time plus the drain (the pace the receiver
really kept); "pcap" the frames in the receiver's pcap; "kdrops" the kernel's drop counter
for the receiving socket (/proc/net/udp).

Run: ``.venv/bin/python bench/hep/run.py [--seconds 4] [--rates 20000,40000,...]``.
"""

from __future__ import annotations

import argparse
import re
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.peers import background, rtcscope_background, run  # noqa: E402

from rtcscope.hep.codec import HepPacket, ProtocolType, encode  # noqa: E402

HOST = "127.0.20.30"
DEFAULT_RATES = (20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 100_000)


COUNTER_DIGITS = 9  # message number, written into the Call-ID and the branch of a template


def sip_message(number: str) -> bytes:
    return (
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK-{number}\r\n"
        "Max-Forwards: 70\r\n"
        "From: Alice <sip:alice@example.com>;tag=bench1\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        f"Call-ID: {number}@rtcscope.example\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:alice@10.1.1.1:5060>\r\n"
        "User-Agent: rtcscope-bench\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 147\r\n\r\n"
        "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=sendrecv\r\n"
    ).encode()


def hep_template() -> tuple[bytearray, list[int]]:
    """One HEP3 packet (our encoder) and the offsets of the message number in it: every
    offered message gets its own Call-ID (sngrep keeps one dialog per Call-ID)."""
    marker = "9" * COUNTER_DIGITS
    wire = encode(
        HepPacket(
            ip_family=2,
            ip_proto=17,
            src="10.1.1.1",
            dst="10.1.1.2",
            sport=5060,
            dport=5060,
            ts_sec=int(time.time()),
            ts_usec=0,
            proto_type=ProtocolType.SIP,
            capture_id=2001,
            payload=sip_message(marker),
        )
    )
    offsets = [m.start() for m in re.finditer(marker.encode(), wire)]
    assert len(offsets) == 2
    return bytearray(wire), offsets


def offer(port: int, rate: int, seconds: float, first: int, per_call: int = 1) -> tuple[int, float]:
    """Send rate*seconds packets paced in 1 ms ticks, ``per_call`` messages per Call-ID;
    returns (sent, seconds taken)."""
    template, offsets = hep_template()
    total = int(rate * seconds)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((HOST, port))
    send = sock.send
    sent = 0
    start = time.perf_counter()
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            number = first + sent
            branch_at, call_id_at = offsets  # the Via comes before the Call-ID
            template[branch_at : branch_at + COUNTER_DIGITS] = b"%09d" % number
            template[call_id_at : call_id_at + COUNTER_DIGITS] = b"%09d" % (number // per_call)
            try:
                send(template)
            except ConnectionRefusedError:
                continue  # an ICMP error from before the receiver was up
            sent += 1
        if sent < total:
            time.sleep(0.0005)
    elapsed = time.perf_counter() - start
    sock.close()
    return sent, elapsed


def wait_idle(measure: object, idle_s: float = 1.0, limit_s: float = 120.0) -> float:
    """Wait until ``measure()`` stops growing for idle_s; returns seconds spent after start."""
    start = time.perf_counter()
    last = -1
    last_change = start
    while time.perf_counter() - start < limit_s:
        value = measure()  # type: ignore[operator]
        now = time.perf_counter()
        if value != last:
            last, last_change = value, now
        elif now - last_change >= idle_s:
            return last_change - start
        time.sleep(0.1)
    return time.perf_counter() - start


def kernel_drops(port: int) -> int:
    """Datagrams the kernel dropped for the UDP socket bound to HOST:port (/proc/net/udp)."""
    want = "%08X:%04X" % (  # noqa: UP031 - /proc/net/udp's little-endian hex
        int.from_bytes(socket.inet_aton(HOST), "little"),
        port,
    )
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want:
            return int(fields[-1])
    return -1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def db_count(store: Path) -> int:
    path = store / "hep.sqlite"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return -1


def pcap_frames(path: Path) -> int:
    if not path.exists() or path.stat().st_size <= 24:
        return 0
    out = run("capinfos", ["-M", "-c", path], check=False).stdout
    match = re.search(r"Number of packets:\s+(\d+)", out)
    return int(match.group(1)) if match else 0


def bench_rtcscope(
    work: Path, rate: int, seconds: float, pcap: bool, writer: str, per_call: int
) -> tuple[int, int, float, int, int]:
    port = free_port()
    store = work / f"rtcscope-{rate}"
    log = work / f"rtcscope-{rate}.log"
    args = ["hep", "listen", "--bind", f"{HOST}:{port}", "--store", store, "--format", "json"]
    if not pcap:
        args.append("--no-pcap")
    args.append(f"--store-{writer}")
    with rtcscope_background(args, log):
        deadline = time.monotonic() + 20
        while "listening" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        sent, _ = offer(port, rate, seconds, rate * 1000, per_call)
        drain = wait_idle(lambda: db_count(store))
        drops = kernel_drops(port)
    stored = db_count(store)
    frames = pcap_frames(store / "sip.pcap") if pcap else -1
    return sent, stored, drain, frames, drops


def bench_sngrep(
    work: Path, rate: int, seconds: float, per_call: int
) -> tuple[int, int, float, int, int]:
    port = free_port()
    out = work / f"sngrep-{rate}.pcap"
    args = ["-N", "-q", "-l", "1000000", "-L", f"udp:{HOST}:{port}", "-O", out]
    with background("sngrep", args, work / f"sngrep-{rate}.log", 600) as proc:
        time.sleep(0.5)
        sent, _ = offer(port, rate, seconds, rate * 1000, per_call)
        drain = wait_idle(lambda: out.stat().st_size if out.exists() else 0)
        drops = kernel_drops(port)
        proc.terminate()
        proc.wait(30)
    stored = pcap_frames(out)
    return sent, stored, drain, stored, drops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rates", default=",".join(str(r) for r in DEFAULT_RATES))
    parser.add_argument("--no-pcap", action="store_true", help="rtcscope without sip.pcap")
    parser.add_argument("--only", choices=["rtcscope", "sngrep"])
    parser.add_argument("--per-call", type=int, default=1, help="messages per Call-ID")
    parser.add_argument(
        "--writer", choices=["process", "thread"], default="process", help="rtcscope's store"
    )
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    print(
        f"HEP3/UDP on {HOST}, {len(hep_template()[0])}-byte packets, {args.seconds:g} s per rate, "
        f"rates {rates}"
    )
    best: dict[str, int] = {}
    lossy: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="bench-hep-") as tmp:
        work = Path(tmp)
        print(
            f"{'receiver':<9} {'offered/s':>9} {'offered':>8} {'stored':>8} {'loss':>8} "
            f"{'loss %':>7} {'drain s':>7} {'stored/s':>8} {'pcap':>8} {'kdrops':>8}"
        )
        for rate in rates:
            for name in ("rtcscope", "sngrep"):
                if args.only and name != args.only:
                    continue
                if name == "rtcscope":
                    sent, stored, drain, frames, drops = bench_rtcscope(
                        work, rate, args.seconds, not args.no_pcap, args.writer, args.per_call
                    )
                else:
                    sent, stored, drain, frames, drops = bench_sngrep(
                        work, rate, args.seconds, args.per_call
                    )
                loss = sent - stored
                if loss == 0 and name not in lossy:
                    best[name] = max(best.get(name, 0), rate)
                elif loss:
                    lossy.add(name)  # a higher lossless rate after a loss is luck, not capacity
                print(
                    f"{name:<9} {rate:>9} {sent:>8} {stored:>8} {loss:>8} "
                    f"{100 * loss / sent:>7.3f} {drain:>7.2f} "
                    f"{stored / (args.seconds + drain):>8.0f} {frames:>8} {drops:>8}",
                    flush=True,
                )
    for name in ("rtcscope", "sngrep"):
        if args.only and name != args.only:
            continue
        print(f"highest rate stored with zero loss, {name}: {best.get(name, 0)} messages/s")


if __name__ == "__main__":
    main()
