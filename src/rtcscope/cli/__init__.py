"""Command-line entry point: imports the command modules and maps errors to exit codes.

Exit codes (DESIGN.md): 0 done, 1 the command ran and found problems, 2 usage error
(typer/click's own), 3 unreadable or invalid input, 4 a network peer failed. Bad input never
shows a traceback. A command that wants a non-zero code raises ``typer.Exit(code)``.
"""

from __future__ import annotations

import gc
import importlib
import io
import sys

from rtcscope.cli.app import app
from rtcscope.errors import RtcscopeError

# The module that registers each command (or command group) on ``app`` when imported.
# Only the module of the command being run is imported, so start-up stays short: the
# commands pull in PyAV, NumPy and the SIP machinery, which `info` does not need.
COMMANDS: dict[str, str] = {
    "analyze": "rtcscope.cli.analyze",
    "info": "rtcscope.cli.info",
    "streams": "rtcscope.cli.streams",
    "split": "rtcscope.cli.streams",
    "extract": "rtcscope.cli.extract",
    "calls": "rtcscope.cli.calls",
    "flow": "rtcscope.cli.flow",
    "diagnose": "rtcscope.cli.diagnose",
    "route": "rtcscope.cli.route",
    "hep": "rtcscope.cli.hep",
    "hepipe": "rtcscope.cli.hepipe",
    "sipp": "rtcscope.cli.sipp",
    "replay": "rtcscope.cli.replay",
    "dockerfile": "rtcscope.cli.dockerfile",
    "index": "rtcscope.cli.index",
    "query": "rtcscope.cli.query",
    "report": "rtcscope.cli.report",
    "show": "rtcscope.cli.show",
}


# The first line of each command's help, for `rtcscope --help` without importing every
# command module (PyAV, NumPy, DuckDB, Dask...: most of a second). A test checks these
# against the commands' own help.
SUMMARIES: dict[str, str] = {
    "analyze": "The main job: capture summary, calls, streams, audio, diagnosis, from ONE pass",
    "info": "Format, link types, time span, bytes, and IPv4/IPv6/UDP/TCP/ICMP/SIP/RTP/... counts",
    "streams": "Every RTP stream with Wireshark's statistics (tshark -z rtp,streams) and ours",
    "split": "One pcap per RTP stream (Ethernet, replayable by sipp's play_pcap_audio)",
    "extract": "Audio from RTP: WAV for any supported codec, Ogg Opus and SILK bitstreams",
    "calls": "Every call of a capture: from, to, ring/answer/end times, final response, state",
    "flow": "A call's ladder: one column per element with its addresses, retransmissions marked",
    "diagnose": "Findings for every INVITE call, grouped by code: ACK/BYE paths hop by hop",
    "route": "The ACK's path for a 2xx (or the callee's BYE for an INVITE), hop by hop",
    "show": "Print the SIP message of one frame: start line, headers and body (SDP) as captured",
    "report": "Calls, their ladders, findings and messages, streams with jitter/delta/loss plots",
    "hep": "HEP (Homer): send a capture's SIP, run a collector, search it, decode HEP",
    "hepipe": "Send FreeSWITCH call events, RTCP reports and per-leg QoS to a HEP collector",
    "sipp": "sipp test beds: re-play a captured stream (play_pcap_audio), audio for rtp_stream",
    "replay": "Send the stream's RTP (and RTCP) payloads byte for byte from an ordinary UDP socket",
    "index": "Index captures (calls, streams, findings, SIP messages) into Parquet, in parallel",
    "query": "Calls, streams, findings and messages of many captures, by SQL or canned filters",
    "dockerfile": "Lint Dockerfiles (apt cache busting, package lists, clean-up) and fix the safe",
}


def top_level_help() -> str:
    """What `rtcscope` and `rtcscope --help` print: the commands, one line each."""
    width = max(len(name) for name in SUMMARIES)
    lines = [
        "Usage: rtcscope COMMAND [ARGS]...",
        "",
        "Captures, RTP streams, audio, SIP calls and HEP for people who run VoIP services.",
        "Every command that reads a capture takes a path, '-' (standard input) or a FIFO, and",
        "--dedup, --reassembly/--no-reassembly, --keep-going, --rtp-port N, --quiet.",
        "",
        "Commands (rtcscope COMMAND --help for one):",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in SUMMARIES.items()]
    return "\n".join(lines) + "\n"


def _load_commands(argv: list[str]) -> None:
    """Import the module of the command named in ``argv``, or all of them (for --help,
    a mistyped command, or no command)."""
    named = next((arg for arg in argv if not arg.startswith("-")), None)
    modules = [COMMANDS[named]] if named in COMMANDS else sorted(set(COMMANDS.values()))
    for module in modules:
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args in (["--help"], ["-h"]):
        sys.stdout.write(top_level_help())
        return 0
    _load_commands(args)
    for stream in (sys.stdout, sys.stderr):
        # packet text keeps undecodable bytes as surrogates: escape them (\udc8e) rather
        # than die on a UTF-8 terminal whose errors mode is strict
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    collecting = gc.isenabled()  # a command may pause the cyclic collector (cli/capture.py)
    try:
        app(args=args, prog_name="rtcscope")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except RtcscopeError as exc:
        print(f"rtcscope: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("rtcscope: interrupted", file=sys.stderr)
        return 130
    finally:
        if collecting:
            gc.enable()
    return 0


def run() -> None:
    sys.exit(main())
