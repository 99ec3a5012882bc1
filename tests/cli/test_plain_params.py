"""The CLI's plain parameter road (cli/app.py, no pydantic) against typer's own road (a
pydantic TypeAdapter per parameter): for every parameter of every command, the same value
of the same type, or the same error with the same message."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer import _click
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter
from typer.main import get_command, get_group

from rtcscope.cli.app import _PlainRuntimeParam, app
from rtcscope.cli.commands import COMMANDS


def _commands(group: _click.Command, prefix: str = "") -> Iterator[tuple[str, _click.Command]]:
    for name, command in getattr(group, "commands", {}).items():
        yield prefix + name, command
        yield from _commands(command, prefix + name + " ")


def _parameters() -> list[tuple[str, _click.Command, _TyperParameter]]:
    for module in sorted(set(COMMANDS.values())):
        importlib.import_module(module)
    found = []
    for name, command in _commands(get_group(app)):
        for param in command.params:
            if isinstance(param, _TyperParameter):
                found.append((name, command, param))
    return found


# Kinds no command uses today, each refused or decided by typer's road: a path that must
# exist (its message names the value as typed), a file-only path, clamped and bounded
# numbers, a Literal choice.
_demo = typer.Typer()


@_demo.command()
def _demo_command(
    must_exist: Annotated[Path | None, typer.Option(exists=True)] = None,
    file_only: Annotated[Path | None, typer.Option(dir_okay=False)] = None,
    clamped: Annotated[int | None, typer.Option(min=1, max=9, clamp=True)] = None,
    bounded: Annotated[float | None, typer.Option(min=-1.5, max=2)] = None,
    literal: Annotated[Literal["a", "b"] | None, typer.Option()] = None,
) -> None:
    """For the test only."""


_DEMO = get_command(_demo)
PARAMETERS = _parameters() + [
    ("demo", _DEMO, p) for p in _DEMO.params if isinstance(p, _TyperParameter)
]
_TYPER_ROAD: dict[int, Any] = {}


def _outcome(road: Any, value: Any, param: _TyperParameter, ctx: _click.Context) -> tuple:
    try:
        result = road.coerce(value, param=param, ctx=ctx)
    except Exception as exc:
        message = exc.format_message() if isinstance(exc, _click.ClickException) else str(exc)
        return ("error", type(exc), message)
    return ("value", type(result), repr(result))  # repr: nan equals nan


def _check(index: int, value: Any) -> None:
    name, command, param = PARAMETERS[index]
    descriptor = param.type_descriptor
    typer_road = _TYPER_ROAD.get(index)
    if typer_road is None:
        typer_road = _TYPER_ROAD[index] = build_runtime_param(descriptor)
    plain = _PlainRuntimeParam.of(descriptor)
    ctx = _click.Context(command, info_name=name.split()[-1])
    expected = _outcome(typer_road, value, param, ctx)
    got = _outcome(plain, value, param, ctx)
    assert got == expected, (name, param.name, descriptor.annotation, value)


def _tricky_values(tmp: Path) -> list[Any]:
    (tmp / "file.pcap").write_bytes(b"")
    values: list[Any] = [
        "",
        " ",
        "0",
        "-0",
        "7",
        "007",
        "-12",
        " 5",
        "5 ",
        "+5",
        "1_000",
        "1e3",
        "1.5",
        "-1.25",
        "0.5",
        "10.",
        ".5",
        "inf",
        "nan",
        "-inf",
        "99999999999999999999999",
        "abc",
        "é",
        "\udcff",
        "x\x00y",
        "TRUE",
        "true",
        "yes",
        "0x10",
        "١٢",
        "table",
        "JSON",
        "json",
        "Csv",
        "html",
        "left",
        "both",
        "error",
        "warning",
        "-",
        str(tmp / "file.pcap"),
        str(tmp),
        str(tmp / "missing.pcap"),
        "~/x",
        str(tmp) + "//file.pcap/",
        str(tmp) + "//missing.pcap",
        str(tmp) + "/",
        "a",
        "B",
        True,
        False,
        0,
        1,
        5,
        -3,
        2**60,
        0.0,
        2.5,
        Path("x.pcap"),
        tmp / "file.pcap",
        (),
        ("1", "2"),
        ["5060", "x"],
        (str(tmp),),
    ]
    for param in {p.type_descriptor.annotation for _, _, p in PARAMETERS}:
        if isinstance(param, type) and issubclass(param, Enum):
            values += list(param)
    return values


def test_every_parameter_gives_what_typer_gives_on_tricky_values(tmp_path: Path) -> None:
    values = _tricky_values(tmp_path)
    for index in range(len(PARAMETERS)):
        for value in values:
            _check(index, value)


def test_the_commands_have_parameters_of_every_plain_kind() -> None:
    """The test above covers the kinds the plain road decides (else it shows nothing)."""
    kinds = {repr(p.type_descriptor.annotation) for _, _, p in PARAMETERS}
    assert {"<class 'int'>", "<class 'float'>", "<class 'str'>", "<class 'pathlib.Path'>"} <= (
        kinds
    )
    assert {"list[int]", "list[str]", "list[pathlib.Path]"} <= kinds
    assert any(p.type_descriptor.parameter_info.min is not None for _, _, p in PARAMETERS)


@pytest.mark.parametrize("kind", ["text", "number"])
@given(data=st.data())
def test_any_value_gives_what_typer_gives(kind: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(PARAMETERS) - 1))
    if kind == "text":
        text = st.text(max_size=12)
    else:
        text = st.from_regex(r"\s?[-+]?[0-9_]{0,22}(\.[0-9]{0,18})?([eE][-+]?[0-9]{1,3})?\s?")
    value = data.draw(
        st.one_of(
            text,
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
            st.booleans(),
            st.lists(text, max_size=3).map(tuple),
        )
    )
    _check(index, value)
