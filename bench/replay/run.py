"""bench/replay: how closely ``rtcscope replay`` follows a capture's pacing.

A 60 s PCMA stream (20 ms packets, 1 % lost, up to 3 ms of capture jitter, written by the
replay test's generator) is replayed at speed 1 to a UDP receiver on loopback
(127.0.60.30). The kernel stamps each arrival (SO_TIMESTAMPNS); the timing error of packet i is
``(arrival_i - arrival_0) - (t_i - t_0)``, against the capture's deltas. Printed: median,
p99 and max of the error's magnitude at the receiver, and the sender's own lateness report.
Target: median below 1 ms. The machine's load shows in p99/max, so this is a bench, not a
test.

Run: ``.venv/bin/python bench/replay/run.py [--seconds 60] [--speed 1]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import struct
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.peers import rtcscope_cli  # noqa: E402
from tests.sipp.test_replay import make_stream  # noqa: E402

from rtcscope.capture.reader import open_capture  # noqa: E402
from rtcscope.replay import percentile  # noqa: E402

RECEIVER = ("127.0.60.30", 7030)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # the Linux value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "stream.pcap"
        sent = make_stream(capture, args.seconds)
        with open_capture(capture) as reader:
            times = [record.ts_ns for record in reader]
        arrivals: list[int] = []
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # The kernel stamps each datagram as it arrives (SO_TIMESTAMPNS): the receiving
        # thread's own scheduling delays stay out of the figures.
        receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        receiver.bind(RECEIVER)
        receiver.settimeout(3.0)

        def receive() -> None:
            try:
                while len(arrivals) < len(sent):
                    _, ancillary, _, _ = receiver.recvmsg(2048, socket.CMSG_SPACE(16))
                    for level, kind, data in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            seconds, nanoseconds = struct.unpack("qq", data[:16])
                            arrivals.append(seconds * 1_000_000_000 + nanoseconds)
            except TimeoutError:
                pass

        thread = threading.Thread(target=receive)
        thread.start()
        proc = rtcscope_cli(
            [
                "replay",
                capture,
                "--to",
                f"{RECEIVER[0]}:{RECEIVER[1]}",
                "--speed",
                str(args.speed),
                "--format",
                "json",
            ],
            timeout=args.seconds / args.speed + 60,
            check=True,
        )
        thread.join()
        receiver.close()
    report = json.loads(proc.stdout)
    # Arrival minus the capture's schedule; a constant delivery delay is not a pacing error,
    # so the error is measured from the median of these (packet 0 alone may be late).
    drift = [
        (a - arrivals[0]) - (t - times[0]) / args.speed
        for a, t in zip(arrivals, times, strict=False)
    ]
    centre = statistics.median(drift)
    errors = [abs(d - centre) / 1e6 for d in drift]
    print(f"stream: {len(sent)} packets, {args.seconds} s, speed {args.speed:g}")
    print(f"received: {len(arrivals)} of {len(sent)}")
    print(
        "receiver timing error vs capture deltas: "
        f"median {statistics.median(errors):.3f} ms, p99 {percentile(errors, 0.99):.3f} ms, "
        f"max {max(errors):.3f} ms"
    )
    print(
        "sender lateness: "
        f"median {report['timing_error_median_ms']:.3f} ms, "
        f"p99 {report['timing_error_p99_ms']:.3f} ms, max {report['timing_error_max_ms']:.3f} ms"
    )
    print("target: median below 1 ms:", "met" if statistics.median(errors) < 1 else "NOT met")


if __name__ == "__main__":
    main()
