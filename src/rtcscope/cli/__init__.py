"""Command-line entry point: imports the command modules and maps errors to exit codes.

Exit codes (DESIGN.md): 0 done, 1 the command ran and found problems, 2 usage error
(typer/click's own), 3 unreadable or invalid input, 4 a network peer failed. Bad input never
shows a traceback. A command that wants a non-zero code raises ``typer.Exit(code)``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import sys

# typer (rtcscope.cli.app) is imported by main() once it is needed: `rtcscope --help`
# prints the command table without it (~50 ms of CPU saved, measured).
from rtcscope.cli.commands import COMMANDS, SUMMARIES
from rtcscope.errors import EXIT_INVALID_INPUT, RtcscopeError

# The root's own options: they need no command module.
ROOT_OPTIONS = frozenset({"--version", "--install-completion", "--show-completion"})
# Set by the completion scripts of --install-completion (click's _<PROG>_COMPLETE).
COMPLETE_VAR = "_RTCSCOPE_COMPLETE"

# What the command read and keeps until the process ends (see keep_until_exit), when it runs
# as its own process (run()); None in-process (tests call main(): nothing is kept there).
_kept: list[object] | None = None


def keep_until_exit(value: object) -> None:
    """Keep ``value`` (a capture model) alive until the process ends, and end it without
    freeing it: a model of 20,000 calls holds millions of small objects, and freeing them
    one by one costs ~10% of `calls` on such a capture (0.9 s of 9.8 s CPU, measured), for a
    process about to end anyway. Only when rtcscope runs as its own process (``run``): its
    output is flushed first, and every file the commands write is closed by then (they write
    through ``with`` blocks). In-process callers (``main``, the tests) keep nothing."""
    if _kept is not None:
        _kept.append(value)


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
        "Options: --version, --install-completion (shell completion), --show-completion.",
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


def main(argv: list[str] | None = None, *, restore_collector: bool = True) -> int:
    """Run the CLI and return its exit code (tests call this in-process).

    A command may pause the cyclic garbage collector (cli/capture.py); it is enabled again at
    the end unless ``restore_collector`` is False (:func:`run`, which ends the process next:
    the first collection after a pass walks every object the pass made, ~0.5 s on 20,000
    calls, for nothing)."""
    args = sys.argv[1:] if argv is None else argv
    completing = COMPLETE_VAR in os.environ  # the shell asks for completions (no argv)
    if not completing and (not args or args in (["--help"], ["-h"])):
        sys.stdout.write(top_level_help())
        return 0
    from rtcscope.cli.app import OutputClosed, app

    if not completing and args[0] not in ROOT_OPTIONS:
        _load_commands(args)  # (the root options and completion import commands on lookup)
    collecting = restore_collector and gc.isenabled()
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
        from rtcscope.cli.errors import describe_error
        from rtcscope.text import LINE_LIMIT, terminal_text

        print(
            terminal_text(describe_error(exc, args), limit=LINE_LIMIT, multiline=True),
            file=sys.stderr,
        )
        return exc.exit_code
    except (BrokenPipeError, OutputClosed):
        # What is still buffered for the closed pipe would fail again when the process ends.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        # An OS error no layer turned into an OutputError/InputError: a path the command
        # could not open or write. Still no traceback (DESIGN rule 4).
        where = f" {exc.filename}" if exc.filename else ""
        print(f"rtcscope: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        print("rtcscope: interrupted", file=sys.stderr)
        return 130
    finally:
        if collecting:
            gc.enable()
    return 0


def _escape_what_the_terminal_cannot_encode() -> None:
    """A terminal whose encoding is not UTF-8 (LANG=en_US.ISO-8859-1, PYTHONIOENCODING=ascii)
    gets ``\\u2026`` for a character it cannot show, not a UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def run() -> None:
    global _kept
    _escape_what_the_terminal_cannot_encode()
    # NumPy's OpenBLAS starts a thread per core when NumPy is imported; rtcscope does no
    # linear algebra, and those threads cost ~25 ms of CPU at every start (measured: import
    # numpy 0.11 s -> 0.08 s CPU). A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _kept = []
    code = main(restore_collector=False)
    if _kept:
        # Skip freeing what the command kept (keep_until_exit): flush, then end.
        for stream in (sys.stdout, sys.stderr):
            # a closed pipe (OSError) or stream (ValueError): nothing more can be written
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
