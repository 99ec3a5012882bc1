"""Lines a command prints after its table: what the capture holds that it could not read.

Encrypted signalling (TLS on 5061, secure WebSocket on 443) must be named where a person
would otherwise see an empty call list and no reason for it. After a table the line goes to
standard output; with ``--format json``/``csv`` it goes to standard error, so the machine
output keeps its documented shape.
"""

from __future__ import annotations

import sys

from rtcscope.capture.tls import TlsFlow, format_tls_flows


def print_tls_flows(flows: list[TlsFlow], *, to_stderr: bool = False, prefix: str = "") -> None:
    """``N TLS flows on 5061 not decoded (...)`` when there are any (nothing otherwise)."""
    line = format_tls_flows(flows)
    if not line:
        return
    if to_stderr:
        print(f"rtcscope: note: {prefix}{line}", file=sys.stderr)
    else:
        print(f"{prefix}{line}")
