from collections.abc import Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")

def objects(
    cls: type[_T], fields: tuple[Any, ...], columns: tuple[Sequence[Any], ...], /
) -> list[_T]: ...
def items(
    rows: list[Any], positions: tuple[int, ...], defaults: tuple[Any, ...], /
) -> tuple[list[Any], ...]: ...
