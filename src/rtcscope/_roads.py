"""Which road the accelerated steps take: C (where the extension was built) or Python."""

from __future__ import annotations

import os


def c_wanted() -> bool:
    """False when RTCSCOPE_PURE is set (to anything but "" or "0"): every accelerated step
    then takes its pure-Python road (the specification the C roads are tested against)."""
    return os.environ.get("RTCSCOPE_PURE", "") in ("", "0")
