"""Command-line entry point: imports the command modules and maps errors to exit codes.

Exit codes (DESIGN.md): 0 done, 1 the command ran and found problems, 2 usage error
(typer/click's own), 3 unreadable or invalid input, 4 a network peer failed. Bad input never
shows a traceback. A command that wants a non-zero code raises ``typer.Exit(code)``.
"""

from __future__ import annotations

import importlib
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
    _load_commands(args)
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
    return 0


def run() -> None:
    sys.exit(main())
