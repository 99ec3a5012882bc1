"""Which road the accelerated steps take: C (where the extension was built) or Python."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any


def c_wanted() -> bool:
    """False when RTCSCOPE_PURE is set (to anything but "" or "0"): every accelerated step
    then takes its pure-Python road (the specification the C roads are tested against)."""
    return os.environ.get("RTCSCOPE_PURE", "") in ("", "0")


def c_function(module: str, name: str, setup: Callable[[ModuleType], None] | None = None) -> Any:
    """The function ``name`` of the C accelerator ``module`` ("rtcscope.sip._pathdict") once
    ``setup`` (if any) has given the module what it reads; None (the Python road) where it
    was not built (no compiler or no Python headers), under RTCSCOPE_PURE, or from an older
    build of it (a .so left when a later build failed: its setup refuses these arguments,
    or it lacks what setup or ``name`` asks for)."""
    if not c_wanted():
        return None
    try:
        accelerator = importlib.import_module(module)
    except ImportError:
        return None
    try:
        if setup is not None:
            setup(accelerator)
    except (TypeError, AttributeError):
        return None
    return getattr(accelerator, name, None)
