"""The typer application every command module registers on.

The root group knows every command by name (``rtcscope.cli.COMMANDS``) without importing
it: a command's module is imported when the command is looked up, so ``rtcscope streams``
imports only the streams module and shell completion of command names imports none
(``--install-completion`` / ``--show-completion``, typer's, for bash, zsh, fish and
PowerShell).

Help shows value names the way click and man pages do (``FILE``, ``PATH``, ``INTEGER``,
``[table|json|csv]``), not typer's type labels (``{file}``, ``<bool>``, ``<list[Path]>``).
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption, _TyperParameter
from typer.main import get_group

from rtcscope import __version__
from rtcscope.cli.commands import COMMANDS, SUMMARIES


class OutputClosed(Exception):
    """Standard output's reader closed it (``rtcscope calls x --format json | head``)."""


class LazyGroup(TyperGroup):
    """The root group: commands listed from rtcscope.cli.COMMANDS, imported on lookup."""

    def invoke(self, ctx: _click.Context) -> Any:
        # click's main() turns a broken pipe into exit 1; rtcscope.cli.main() ends quietly
        # with 0, as for every other way the output can be cut short.
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise OutputClosed from exc

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(SUMMARIES)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        if cmd_name not in COMMANDS:
            return None
        importlib.import_module(COMMANDS[cmd_name])
        # the module registered its command on ``app``: build the group again to get it
        found = get_group(app).commands.get(cmd_name)
        if found is not None:
            self.commands[cmd_name] = found
        return found

    def shell_complete(self, ctx: _click.Context, incomplete: str) -> list[Any]:
        """Command names with their summaries (no command module imported), then options."""
        from typer._click.shell_completion import CompletionItem

        names = [
            CompletionItem(name, help=summary)
            for name, summary in SUMMARIES.items()
            if name.startswith(incomplete)
        ]
        return names + _click.Command.shell_complete(self, ctx, incomplete)


def _click_type_name(param: _TyperParameter, ctx: _click.Context) -> str | None:
    """A parameter's value name as click shows it; None for a flag (it takes no value)."""
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    if param.metavar is not None:
        return param.metavar
    label = param.display_type(ctx).strip("<>")
    if "|" in label:  # a choice
        return f"[{label.removeprefix('list[').removesuffix(']')}]"
    label = label.removeprefix("list[").removesuffix("]")
    names = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}
    return names.get(label, label.upper())


def _argument_usage(self: TyperArgument) -> str:
    """``FILE``, ``[SQL]``, ``FILES...`` in the usage line (typer 0.29 writes ``{file}``)."""
    name = self.display_name_raw.upper()
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def _argument_type(self: TyperArgument, ctx: _click.Context) -> str | None:
    return _click_type_name(self, ctx)


def _option_type(self: TyperOption, ctx: _click.Context) -> str | None:
    return _click_type_name(self, ctx)


TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]
TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]


def installed_version() -> str:
    """The installed distribution's version (importlib.metadata), else the package's own."""
    # Imported here: importlib.metadata costs ~30 ms at start-up and only --version reads it.
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("rtcscope")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rtcscope {installed_version()}")
        raise typer.Exit()


app = typer.Typer(
    name="rtcscope",
    help="Captures, RTP streams, audio, SIP calls and HEP for people who run VoIP services.",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """rtcscope: read captures, list streams and calls, extract audio, explain SIP failures."""
