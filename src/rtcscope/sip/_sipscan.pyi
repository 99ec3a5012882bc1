from typing import Any, Literal

_Line = str | None

def plain_fields(
    raw: bytes, pos: int, /
) -> tuple[int, str, _Line, _Line, _Line, _Line, _Line, _Line, _Line] | Literal[False] | None: ...
def fill(
    message: object, raw: bytes, pos: int, /
) -> tuple[int, _Line, _Line, _Line, _Line, _Line, _Line, _Line, _Line] | Literal[False] | None: ...
def setup(caches: tuple[object, ...], /) -> None: ...
def sdp_holes(raw: bytes, /) -> tuple[bytes, list[bytes]]: ...
def looks_like_sip(data: bytes | bytearray | memoryview, /) -> bool: ...
def setup_build(template: object, cache_limit: int, /) -> None: ...
def build(
    raw: bytes, pos: int, /
) -> (
    object
    | tuple[object, tuple[int, _Line, _Line, _Line, _Line, _Line, _Line, _Line, _Line]]
    | tuple[object, Literal[False] | None]
): ...
def setup_captured(captured_class: type, transport: str, /) -> None: ...
def datagrams(
    buffer: bytes | bytearray | memoryview | object,
    starts: list[int],
    stops: list[int],
    frames: list[int],
    times: list[int],
    srcs: list[str],
    sports: list[int],
    dsts: list[str],
    dports: list[int],
    flows: dict[tuple[str, int, str, int], tuple[str, int, str, int]],
    make_flow: object,
    /,
) -> tuple[list[object], int, int]: ...
def sdp_announce(
    raw: bytes,
    templates: dict[Any, Any],
    head: tuple[object, ...],
    make: type[tuple[Any, ...]],
    addresses: dict[bytes, str],
    limit: int,
    /,
) -> list[Any] | None: ...
def setup_announcer(given: tuple[Any, ...], /) -> None: ...
def announcer_feed(
    item: Any,
    caller_tags: dict[Any, Any],
    offers: set[Any],
    pending: set[Any],
    /,
) -> list[Any] | None: ...
def announcer_batch(
    items: list[Any],
    caller_tags: dict[Any, Any],
    offers: set[Any],
    pending: set[Any],
    feed_py: Any,
    ahead: dict[Any, Any] | None,
    /,
) -> tuple[list[Any], list[Any]]: ...
