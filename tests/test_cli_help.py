"""`rtcscope --help` is printed without importing the commands (start-up well under 0.5 s):
its one-line summaries must stay what each command's own help says."""

from __future__ import annotations

import pytest

from rtcscope.cli import COMMANDS, SUMMARIES, _load_commands, main, top_level_help
from rtcscope.cli.app import app


def _helps() -> dict[str, str]:
    _load_commands([])
    found = {}
    for command in app.registered_commands:
        name = command.name or command.callback.__name__  # type: ignore[union-attr]
        found[name] = command.help or command.callback.__doc__ or ""  # type: ignore[union-attr]
    for group in app.registered_groups:
        found[str(group.name)] = group.typer_instance.info.help or ""  # type: ignore[union-attr]
    return {name: " ".join(text.split()) for name, text in found.items()}


def test_every_command_has_a_summary_taken_from_its_help() -> None:
    helps = _helps()
    assert set(SUMMARIES) == set(COMMANDS) == set(helps)
    for name, summary in SUMMARIES.items():
        assert helps[name].startswith(summary), name


def test_help_imports_no_command_module(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rtcscope.cli as cli

    def refuse(argv: list[str]) -> None:
        raise AssertionError(f"--help imported the command modules ({argv})")

    monkeypatch.setattr(cli, "_load_commands", refuse)
    for args in (["--help"], ["-h"], []):
        assert main(args) == 0
        assert capsys.readouterr().out == top_level_help()
