"""``python -m rtcscope.testbed SCENARIO [-o FILE]``: run one scenario and keep its capture."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rtcscope.errors import RtcscopeError
from rtcscope.testbed.runner import plan, run_plan, start_process
from rtcscope.testbed.scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rtcscope.testbed",
        description="Run a SIP test-bed scenario on 127.0.10.0/24 and capture it.",
    )
    parser.add_argument("scenario", choices=sorted(SCENARIOS), help="scenario to run")
    parser.add_argument(
        "-o", "--output", type=Path, help="capture file (default testbed-SCENARIO.pcap)"
    )
    parser.add_argument(
        "--retransmissions",
        type=int,
        default=None,
        help="2xx retransmissions before the callee gives up (default 9: 64*T1 = 32 s)",
    )
    parser.add_argument("--keep", type=Path, help="keep configs and logs in this directory")
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    if args.retransmissions is not None:
        scenario = scenario.shortened(args.retransmissions)
    output: Path = args.output or Path(f"testbed-{scenario.name}.pcap")
    print(f"{scenario.name}: {scenario.summary}", file=sys.stderr)
    print(f"running for at most {scenario.max_seconds:.0f} s", file=sys.stderr)
    try:
        if args.keep is not None:
            result = run_plan(plan(scenario, args.keep, output), start_process)
        else:
            with tempfile.TemporaryDirectory(prefix="rtcscope-testbed-") as tmp:
                result = run_plan(plan(scenario, Path(tmp), output), start_process)
    except RtcscopeError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"wrote {result.capture} (caller exit {result.caller_exit}, "
        f"callee exit {result.callee_exit})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
