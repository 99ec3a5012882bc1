"""orjson's text of JSON data as rtcscope writes it (two-space indent; bytes as hex, enums
as their values, paths as text: :func:`jsonable`), for the JSON writer
(rtcscope.cli.output) and the protocol code that writes part of its text itself (the
diagnosis's request paths), which must not import the command line's modules."""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson

from rtcscope.lazyjson import LazyJson, LazyJsonList


def jsonable(value: Any) -> Any:
    """orjson's ``default``: what is written for a value it does not know."""
    if isinstance(value, LazyJson):
        return value.make()
    if isinstance(value, LazyJsonList):
        return value.values()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# orjson's message when a key is not str and OPT_NON_STR_KEYS is not given.
_NON_STR_KEY = "Dict key must be str"


def dumps(data: Any) -> bytes:
    """orjson's text of ``data`` as rtcscope.cli.output.format_json writes it (TypeError:
    what orjson refuses).

    Keys that are not ``str`` (an int, an enum) are written as text with OPT_NON_STR_KEYS,
    which makes orjson check every key's type by the slow road: a third of the time of a
    call list's text. Data whose keys are all ``str`` (nearly all) is written without the
    option, its text the same; orjson refuses another key (its TypeError "Dict key must be
    str") and the data is written again with it. Any other TypeError (an integer beyond 64
    bits, a str that is not UTF-8) is raised as it is: with the option the same error would
    come again."""
    try:
        return orjson.dumps(data, default=jsonable, option=orjson.OPT_INDENT_2)
    except TypeError as exc:
        if str(exc) != _NON_STR_KEY:
            raise
        return orjson.dumps(
            data, default=jsonable, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        )
