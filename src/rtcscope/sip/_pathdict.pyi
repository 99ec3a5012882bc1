"""Types of the optional C accelerator rtcscope.sip._pathdict (see _pathdict.c)."""

from collections.abc import Callable, Sequence
from typing import Any

def setup(
    delivered_class: type,
    captured_class: type,
    message_class: type,
    message_max_forwards: Callable[[Any], int | None],
    /,
) -> None: ...
def paths_json(paths: Sequence[Any], level: int, /) -> bytes | None: ...
