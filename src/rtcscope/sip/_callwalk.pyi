"""Types of the optional C accelerator rtcscope.sip._callwalk (see _callwalk.c)."""

from collections.abc import Callable
from typing import Any

def setup(
    captured_class: type,
    message_class: type,
    cseq_class: type,
    marks_class: type,
    walked_class: type,
    counter_class: type,
    whole_ms: Callable[[int, int], int],
) -> None: ...
def walk(messages: Any, state: dict[Any, list[Any]]) -> Any: ...
def setup_group(
    captured_class: type,
    message_class: type,
    cseq_class: type,
    transaction_class: type,
    key_class: type,
    rfc2543_key: Callable[..., str],
    answered_2xx: Callable[..., bool],
) -> None: ...
def group(messages: Any) -> Any: ...
def setup_calls(call_class: type) -> None: ...
def find_calls(messages: Any) -> Any: ...
def setup_sdp(
    announcement_class: type,
    exchange_class: type,
    codec_names: Callable[[Any, tuple[int, ...]], tuple[str, ...]],
) -> None: ...
def sdp_exchanges(
    announcements: Any, names: dict[Any, Any]
) -> tuple[list[Any], dict[tuple[str, int], int]]: ...
def mention_link_headers(texts: Any) -> bool: ...
def setup_summary(
    summary_class: type,
    field_names: tuple[str, ...],
    message_class: type,
    states: tuple[Any, ...],
    info_digits: Any,
    endpoint: Any,
) -> None: ...
def summarize_one(index: int, legs: Any, announcements: Any, names: dict[Any, Any]) -> Any: ...
def name_addr_uri(raw: str) -> str | None: ...
