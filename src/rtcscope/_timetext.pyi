from collections.abc import Callable, Mapping, Sequence
from typing import Any

_Instant = tuple[float | None, str | None]

def instants(
    fallback: Callable[[int, int], _Instant],
    none_pair: _Instant,
    stamps: Sequence[int | None],
    first_ns: int,
    /,
) -> dict[int | None, _Instant]: ...
def sdp_entries(
    fallback: Callable[[Any, Any], dict[str, Any]],
    sdps: Sequence[Any],
    at: Mapping[int | None, _Instant],
    /,
) -> list[Any]: ...
def stream_entries(
    fallback: Callable[[Any, Any], dict[str, Any]],
    streams: Sequence[Any],
    at: Mapping[int | None, _Instant],
    /,
) -> list[Any]: ...
def call_dict(
    roads: tuple[
        Callable[[Any, int, bool], dict[str, Any]],
        Callable[[Any, Any], dict[str, Any]],
        Callable[[Any, Any], dict[str, Any]],
        Callable[[Any, Any], list[Any]],
        type,
    ],
    call: Any,
    first_ns: int,
    detail: bool,
    /,
) -> dict[str, Any]: ...
def calls_text(
    classes: tuple[type, type],
    first_ns: int,
    calls: Sequence[Any],
    level: int,
    /,
) -> tuple[bytes, int]: ...
