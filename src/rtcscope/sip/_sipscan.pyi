from typing import Literal

_Line = str | None

def plain_fields(
    raw: bytes, pos: int, /
) -> tuple[int, str, _Line, _Line, _Line, _Line, _Line, _Line, _Line] | Literal[False] | None: ...
def looks_like_sip(data: bytes | bytearray | memoryview, /) -> bool: ...
