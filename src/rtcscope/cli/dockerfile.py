"""``rtcscope dockerfile``: lint Dockerfiles for the apt cache-busting mistakes, fix the safe ones.

``lint FILE...`` prints findings (``--format tty|json|sarif|checkstyle|gnu``; JSON keys in
``rtcscope.dockerfile.render``), ``--fix`` rewrites the files (``--diff`` prints a unified
diff instead), ``--hadolint`` merges hadolint's findings. Exit codes: 0 clean, 1 findings at
or above ``--failure-threshold``, 2 usage, 3 a file that is not a Dockerfile.
``rules`` lists the catalogue.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.errors import EXIT_FOUND_PROBLEMS, InputError, UsageError
from rtcscope.outfile import write_output

dockerfile_app = typer.Typer(
    help="Lint Dockerfiles (apt cache busting, package lists, clean-up) and fix the safe cases.",
    no_args_is_help=True,
)
app.add_typer(dockerfile_app, name="dockerfile")


def _read(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a Dockerfile (not UTF-8 at byte {exc.start})") from None


def _write(path: Path, text: str) -> None:
    # Through a temporary name and a rename (a full disk leaves the Dockerfile as it was);
    # resolve() so a symlinked Dockerfile is edited where it lives.
    write_output(path.resolve(), text.encode("utf-8"))


@dockerfile_app.command("lint")
def lint_command(
    files: Annotated[list[Path], typer.Argument(help="Dockerfiles ('-' reads stdin)")],
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="tty, json, sarif, checkstyle or gnu")
    ] = "tty",
    fix: Annotated[
        bool, typer.Option("--fix", help="rewrite the files with the safe fixes")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="with --fix: print a unified diff, write nothing")
    ] = False,
    hadolint: Annotated[
        bool, typer.Option("--hadolint", help="also run hadolint and merge its findings")
    ] = False,
    failure_threshold: Annotated[
        str | None,
        typer.Option(help="error, warning, info, style, ignore or none (default: info)"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="hadolint-style YAML (default: ./.hadolint.yaml)")
    ] = None,
    enable: Annotated[list[str] | None, typer.Option(help="turn on an opt-in rule (DF012)")] = None,
) -> None:
    """Lint Dockerfiles; with --fix, rewrite what is safe to rewrite."""
    from rtcscope.dockerfile.config import THRESHOLDS, load_config
    from rtcscope.dockerfile.lint import fails, fix_text, lint_text
    from rtcscope.dockerfile.render import FORMATS, format_report

    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if diff and not fix:
        raise UsageError("--diff goes with --fix")
    if failure_threshold is not None and failure_threshold not in THRESHOLDS:
        raise UsageError(f"--failure-threshold must be one of {', '.join(THRESHOLDS)}")
    from rtcscope.dockerfile.catalogue import RULES

    unknown = sorted(set(enable or ()) - set(RULES))
    if unknown:
        raise UsageError(
            f"--enable: no rule {', '.join(unknown)} (see `rtcscope dockerfile rules`)"
        )
    settings = load_config(config)
    settings.enabled |= set(enable or ())
    threshold = failure_threshold or settings.failure_threshold
    report = []
    for path in files:
        name = str(path)
        text = _read(path)
        if fix:
            fixed = fix_text(text, name, settings)
            if diff:
                sys.stdout.write(
                    "".join(
                        difflib.unified_diff(
                            text.splitlines(keepends=True),
                            fixed.splitlines(keepends=True),
                            f"a/{name}",
                            f"b/{name}",
                        )
                    )
                )
            elif fixed != text:
                if name == "-":
                    sys.stdout.write(fixed)
                else:
                    _write(path, fixed)
            text = fixed
        findings = lint_text(text, name, settings)
        if hadolint and name != "-":
            from rtcscope.dockerfile.hadolint import run_hadolint

            findings = sorted(
                findings + run_hadolint(path, settings.path), key=lambda f: (f.line, f.code)
            )
        report.append((name, findings))
    if not (fix and (diff or files == [Path("-")])):
        sys.stdout.write(format_report(report, output_format))
    if fails((f for _, fs in report for f in fs), threshold):
        raise typer.Exit(EXIT_FOUND_PROBLEMS)


@dockerfile_app.command("rules")
def rules_command(
    markdown: Annotated[bool, typer.Option(help="as the README's rule sections")] = False,
) -> None:
    """List the rules: code, level, name, hadolint twin, whether --fix handles it."""
    from rtcscope.dockerfile.catalogue import RULES, format_rules_markdown

    if markdown:
        sys.stdout.write(format_rules_markdown())
        return
    for rule in RULES.values():
        twin = rule.hadolint or "-"
        fix = "fix" if rule.fix else "-"
        opt = " (opt-in)" if not rule.default else ""
        sys.stdout.write(
            f"{rule.code}  {rule.severity.name:<7}  {twin:<6}  {fix:<3}  {rule.name}{opt}\n"
        )
