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

# One module per command group; each registers its commands on ``app`` when imported.
COMMAND_MODULES: tuple[str, ...] = (
    "rtcscope.cli.analyze",
    "rtcscope.cli.hepipe",
    "rtcscope.cli.hep",
    "rtcscope.cli.info",
    "rtcscope.cli.extract",
    "rtcscope.cli.streams",
    "rtcscope.cli.diagnose",
    "rtcscope.cli.route",
    "rtcscope.cli.calls",
    "rtcscope.cli.flow",
)


def _load_commands() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    _load_commands()
    try:
        app(args=argv, prog_name="rtcscope")
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
