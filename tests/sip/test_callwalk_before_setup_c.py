"""Every entry point of rtcscope.sip._callwalk called before the setup it needs, in a fresh
interpreter that imports the C module directly (no rtcscope.sip module has set it up): a
RuntimeError (count_calls: None, the Python road), never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.peers import run
from tests.sip.test_calls_walk_c import _callwalk, needs_c

_PROBE = """
import rtcscope.sip._callwalk as cw
given = {
    "walk": ([object()], {}),
    "group": ([object()],),
    "find_calls": ([object()],),
    "sdp_exchanges": ([object()], {}),
    "messages_mention_link_headers": ([object()],),
    "frames_rise": ([object()],),
    "summarize_one": (1, [object()], [], {}),
    "count_calls": ([object()],),
    "mention_link_headers": ([b"x"],),
    "name_addr_uri": ("<sip:a@b>",),
}
for name in sorted(dir(cw)):
    if name.startswith(("_", "setup")) or not callable(getattr(cw, name)):
        continue
    try:
        print(name, "->", repr(getattr(cw, name)(*given[name])))
    except RuntimeError as error:
        print(name, "RuntimeError", "before" in str(error))
"""

_EXPECTED = {
    "count_calls": "-> None",
    "mention_link_headers": "-> False",
    "name_addr_uri": "-> 'sip:a@b'",
}


@needs_c
def test_every_entry_point_before_its_setup_refuses() -> None:
    assert _callwalk is not None
    src = str(Path(_callwalk.__file__).parents[2])
    # bash starts it (tests start programs through tests/peers.py): this interpreter's own
    # executable, RTCSCOPE_PURE unset, the tree of the built module first on the path.
    done = run(
        "bash",
        [
            "-c",
            'unset RTCSCOPE_PURE; export PYTHONPATH="$2"; exec "$0" -X faulthandler -c "$1"',
            sys.executable,
            _PROBE,
            src,
        ],
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert "summarize_one" in lines and "frames_rise" in lines
    for name, outcome in lines.items():
        assert outcome == _EXPECTED.get(name, "RuntimeError True"), name
