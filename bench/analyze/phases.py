"""Where the time of ``calls``/``diagnose``/``analyze`` goes on a SIP-heavy capture, phase by
phase (CPU seconds of this process; the cyclic garbage collector off, as the commands that
read a capture turn it off: cli/capture.py).

Run: ``.venv/bin/python bench/analyze/phases.py [--calls N | FILE] [--taps sip|sip,rtp|
sip,rtp,diag]``. Without FILE it writes issue 14's capture (b) of ``--calls`` calls (default
5,000: ``b5k.pcap`` in the README's figures; 20,000 is ``b.pcap``) with callgen.py. Phases:
the one pass (``scan``: reading, SIP framing and parsing, SDP, the RTP tap), dialogs, the
call list, the calls' JSON as the calls command writes it, and (``diag``) the diagnosis.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "analyze"))

from callgen import generate  # noqa: E402

from rtcscope.cli.output import write_json_object  # noqa: E402
from rtcscope.scan import ScanOptions, Tap, scan  # noqa: E402
from rtcscope.sip.calls import calls_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--taps", default="sip,rtp,diag")
    opts = parser.parse_args()
    gc.disable()
    with tempfile.TemporaryDirectory(prefix="rtcscope-phases-") as tmp:
        path = opts.file
        if path is None:
            path = Path(tmp) / "b.pcap"
            generate(path, opts.calls)
        taps = {Tap.COUNTS, Tap.SIP}
        if "rtp" in opts.taps:
            taps.add(Tap.RTP)
        t0 = time.process_time()
        model = scan(path, ScanOptions(taps=frozenset(taps)))
        t1 = time.process_time()
        print(
            f"scan      {t1 - t0:6.2f} s  ({len(model.messages):,} SIP messages, "
            f"{len(model.streams):,} RTP streams)"
        )
        model.dialogs()
        t2 = time.process_time()
        print(f"dialogs   {t2 - t1:6.2f} s")
        result = model.calls()
        t3 = time.process_time()
        print(f"calls     {t3 - t2:6.2f} s  ({len(result.calls):,} calls)")
        # What `rtcscope calls --format json` writes (rtcscope.cli.calls): the calls' text
        # through the JSON writer (their C text where built), to /dev/null.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            write_json_object(
                {
                    "calls": calls_json(result.calls, result.first_ns),
                    "statistics": result.statistics.as_dict(),
                    "tls_flows": [flow.as_dict() for flow in model.tls_flows],
                }
            )
        t5 = time.process_time()
        print(f"json      {t5 - t3:6.2f} s  (calls' JSON written as the calls command does)")
        if "diag" in opts.taps:
            model.diagnosis()
            print(f"diagnosis {time.process_time() - t5:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS  {peak:6.1f} MB")


if __name__ == "__main__":
    main()
