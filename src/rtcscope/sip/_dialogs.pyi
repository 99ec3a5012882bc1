"""Types of the optional C accelerator rtcscope.sip._dialogs (see _dialogs.c)."""

from typing import Any

def setup(
    call_class: type,
    transaction_class: type,
    captured_class: type,
    message_class: type,
    dialog_class: type,
    dialog_id_class: type,
    early: Any,
    confirmed: Any,
    terminated: Any,
    /,
) -> None: ...
def dialogs(call: Any, /) -> list[Any] | None: ...
