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

import functools
import importlib
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer import _click
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_choice, coerce_cli_path
from typer.core import TyperArgument, TyperGroup, TyperOption, _TyperParameter
from typer.main import get_group

from rtcscope import __version__
from rtcscope._dataclass import dataclass
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


class _Undecided(Exception):
    """The plain road cannot tell what typer's own (pydantic) road would give."""


# Values whose meaning is beyond doubt; anything else (spaces, '1_000', '+1', '1e3', 'inf',
# huge numbers) goes to typer's own road.
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_PLAIN_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


def _within(number: float, descriptor: TypeDescriptor) -> float:
    """``number`` if inside the parameter's min/max (typer's ``Field(ge=, le=)``)."""
    info = descriptor.parameter_info
    if info.clamp or (info.min is not None and number < info.min):
        raise _Undecided
    if info.max is not None and number > info.max:
        raise _Undecided
    return number


def _plain_text(value: Any) -> str:
    """A plain str (not a subclass: a StrEnum member) that is valid Unicode as it stands."""
    if type(value) is not str:
        raise _Undecided
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Undecided from None
    return value


def _plain_leaf(
    value: Any, annotation: Any, descriptor: TypeDescriptor, param: Any, ctx: _click.Context
) -> Any:
    """One value of a parameter as typer's pydantic adapter gives it, for the types our
    commands use, or _Undecided."""
    info = descriptor.parameter_info
    if info.parser is not None:
        raise _Undecided
    if annotation is str:
        return _plain_text(value)
    if annotation is bool:
        if type(value) is bool:
            return value
    elif annotation is int:
        if type(value) is int:
            return _within(value, descriptor)
        if _PLAIN_INT.fullmatch(_plain_text(value)):
            return _within(int(value), descriptor)
    elif annotation is float:
        if type(value) is float:
            return _within(value, descriptor)
        if type(value) is int and abs(value) < 2**53:
            return _within(float(value), descriptor)
        if _PLAIN_FLOAT.fullmatch(_plain_text(value)):
            return _within(float(value), descriptor)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(
                value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError:
            raise _Undecided from None
    elif annotation is Path and info.path_type is None:
        if not isinstance(value, Path):
            value = Path(_plain_text(value))
        try:
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        except (ValueError, BadParameter):
            # typer's road words the refusal with the value as typed ("./x", not "x")
            raise _Undecided from None
    raise _Undecided


@dataclass(frozen=True)
class _PlainRuntimeParam(RuntimeParam):
    """typer 0.29 coerces every parameter's value through a pydantic TypeAdapter it builds
    on first use, for every parameter of the command, set or not: importing pydantic and
    building ~20 adapters is most of a command's start-up (~60 ms CPU of ~0.3 s on a tiny
    capture, measured). This road gives the same values for the plain types the commands
    use (str, int, float, bool, Path, enums, lists of them) without pydantic; whatever it
    cannot decide, every refusal included, goes to typer's own road, which gives the value
    or the error message. tests/cli/test_plain_params.py holds both roads side by side."""

    descriptor: TypeDescriptor

    @classmethod
    def of(cls, descriptor: TypeDescriptor) -> _PlainRuntimeParam:
        return cls(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )

    @functools.cached_property
    def _typer_road(self) -> RuntimeParam:
        """typer's own road for this parameter, built the first time a value needs it."""
        return build_runtime_param(self.descriptor)

    def _coerce_value(self, value: Any, param: Any, ctx: _click.Context) -> Any:
        annotation = self.annotation
        try:
            if self.descriptor.file_annotation is None:
                if getattr(annotation, "__origin__", None) is list:
                    (item_type,) = annotation.__args__
                    items = value if isinstance(value, list | tuple) else [value]
                    return [
                        _plain_leaf(item, item_type, self.descriptor, param, ctx) for item in items
                    ]
                return _plain_leaf(value, annotation, self.descriptor, param, ctx)
        except _Undecided:
            pass
        return self._typer_road._coerce_value(value, param=param, ctx=ctx)


def _runtime_param(self: _TyperParameter) -> RuntimeParam:
    if self._runtime_param is None:
        self._runtime_param = _PlainRuntimeParam.of(self.type_descriptor)
    return self._runtime_param


_TyperParameter.get_runtime_param = _runtime_param  # type: ignore[method-assign]
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
