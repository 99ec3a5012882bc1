"""Independently of our commands: per capture, the index's INVITE dialogs and RTP streams
against tshark on the same file (one tshark pass for both taps and the INVITE Call-IDs).

- INVITE requests in ``messages`` = the INVITE row of ``tshark -z sip,stat``; the distinct
  Call-IDs of those INVITEs (one per INVITE dialog set) = the distinct ``sip.Call-ID`` of
  tshark's INVITE requests; every INVITE call of ``calls`` (legs linked) accounts for its
  Call-IDs, together exactly those.
- RTP streams in ``streams`` = the streams of ``tshark -z rtp,streams`` (its heuristic on
  where the file has no SIP, as tests/rtp/test_tshark_streams.py runs it), plus the streams
  tests/data/tshark_exceptions.toml lists, with reasons, as ones tshark does not show.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from rtcscope.index.build import IndexReport
from rtcscope.index.store import read_manifest
from tests.index.conftest import every_capture
from tests.peers import run, tshark_fields
from tests.rtp.test_tshark_streams import _ROW, exceptions, tshark_streams

Key = tuple[str, int, str, int, int]


def tshark_counts(path: Path) -> tuple[set[str], int, int, set[Key]]:
    """INVITE Call-IDs, INVITE requests, SIP messages and RTP stream keys, one tshark run."""
    args = ["-n", "-r", path, "-Y", 'sip.Method == "INVITE"', "-T", "fields"]
    args += ["-e", "sip.Call-ID", "-z", "sip,stat", "-z", "rtp,streams"]
    out = run("tshark", args).stdout
    rows, _, taps = out.partition("=====")
    call_ids = {cid for line in rows.splitlines() for cid in line.split(",") if cid}
    invites = re.search(r"^\s+INVITE\s+:\s+(\d+) Packets", taps, re.M)
    messages = re.search(r"Number of SIP messages: (\d+)", taps)
    assert messages is not None, out
    streams = set()
    for line in taps.splitlines():
        if m := _ROW.match(line):
            g = m.groups()
            streams.add((g[0], int(g[1]), g[2], int(g[3]), int(g[4], 16)))
    return call_ids, int(invites.group(1)) if invites else 0, int(messages.group(1)), streams


def select(index: Path, table: str, sql: str, capture: Path) -> list[tuple[object, ...]]:
    parts = [str(index / p) for p in read_manifest(index).parts(table)]
    if not parts:
        return []
    view = f"(SELECT * FROM read_parquet({parts!r}) WHERE capture = ?)"
    return duckdb.execute(sql.format(t=view), [str(capture.absolute())]).fetchall()


@pytest.mark.peer
@pytest.mark.parametrize("path", every_capture(), ids=lambda p: p.name)
def test_invite_dialogs_and_rtp_streams_match_tshark(
    path: Path, capture_index: tuple[Path, IndexReport]
) -> None:
    index, _ = capture_index
    call_ids, invites, sip_messages, tshark_rtp = tshark_counts(path)

    ours = select(index, "messages", "SELECT call_id FROM {t} WHERE method = 'INVITE'", path)
    assert len(ours) == invites
    assert {r[0] for r in ours} == call_ids
    legs = select(index, "calls", "SELECT call_ids FROM {t} WHERE kind = 'INVITE'", path)
    flat = [cid for (ids,) in legs for cid in ids]  # type: ignore[attr-defined]
    # An INVITE call is one with an INVITE transaction: its request, or (a capture started
    # after the INVITE) only responses or an ACK/CANCEL with CSeq method INVITE.
    invite_transactions = {
        row[0]
        for row in tshark_fields(path, ["sip.Call-ID"], 'sip.CSeq.method == "INVITE"')
        if row[0]
    }
    assert len(flat) == len(set(flat)) and set(flat) == invite_transactions
    assert call_ids <= invite_transactions

    if not sip_messages:  # no SIP: tshark finds RTP only with its heuristic
        tshark_rtp = set(tshark_streams(path, heuristic=True))
    expected = tshark_rtp | {
        (e["src"], e["src_port"], e["dst"], e["dst_port"], e["ssrc"])
        for e in exceptions().get("extra", [])
        if e["file"] == path.name
    }
    streams = select(index, "streams", "SELECT src, src_port, dst, dst_port, ssrc FROM {t}", path)
    assert len(streams) == len(expected)
    assert set(streams) == expected
