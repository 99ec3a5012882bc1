"""The one way everything above the capture layer reads a capture.

records (reader.py) -> decode (decode.py, which hands tunnels to tunnels.py) -> IP
defragmentation -> duplicate removal. This first version chains the reader and the decoder;
the defragmentation and dedup stages (capture/defrag.py, capture/dedup.py) are added here
by the TCP/defragmentation work, behind the ``defragment`` and ``dedup`` flags that callers
already pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from rtcscope.capture.decode import decode
from rtcscope.capture.packet import Packet
from rtcscope.capture.reader import open_capture
from rtcscope.errors import CaptureError


def packets(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    defragment: bool = True,
    dedup: bool = False,
    keep_going: bool = False,
    warnings: list[CaptureError] | None = None,
) -> Iterator[Packet]:
    """Decoded packets of a capture, in file order.

    A truncated or corrupt file yields every good packet, then raises
    :class:`~rtcscope.errors.CaptureError`; with ``keep_going`` the fault is appended to
    ``warnings`` (when given) and iteration ends there.
    """
    with open_capture(path, keep_going=keep_going) as reader:
        for record in reader:
            yield decode(record)
        if warnings is not None:
            warnings.extend(reader.warnings)
