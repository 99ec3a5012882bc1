from collections.abc import Callable, Sequence

_Instant = tuple[float | None, str | None]

def instants(
    fallback: Callable[[int, int], _Instant],
    none_pair: _Instant,
    stamps: Sequence[int | None],
    first_ns: int,
    /,
) -> dict[int | None, _Instant]: ...
