"""The index's tables: their columns, types, and how a row dict becomes an Arrow table.

Every table starts with ``capture`` (the file's absolute path) and ``capture_id`` (16 hex
digits of the SHA-256 of that path), so each row names the file it came from. Column names
are the JSON keys of the matching command where there is one, except where SQL would need
quotes: ``index`` is ``call_index`` / ``stream_index``, ``from``/``to`` are ``from_uri`` /
``to_uri``. Nested JSON values (a call's ``sdp``, ``streams``, ``hops``, ...; a stream's
``srtp``) are kept as JSON text, readable with DuckDB's ``json`` functions. Absolute times
are ``timestamp[ns, UTC]``; ``*_s`` columns are seconds from the capture's first SIP message
(``calls``, ``findings``, ``messages``) or first packet (``streams``), as the commands print
them.

The ``day`` partition (``YYYY-MM-DD``, UTC) is the directory a row's part lives in
(``calls/day=2024-05-01/part-....parquet``), taken from the row's own time: the capture's first
packet, a call's start, a stream's first packet, a finding's or message's time (``unknown``
when there is none). ``errors`` is not partitioned.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from rtcscope.text import valid_utf8

TS = pa.timestamp("ns", tz="UTC")
NO_DAY = "unknown"
_EPOCH = dt.datetime(1970, 1, 1)

# (column, type, key in the row dict); a JSON-text column takes the key's value as JSON.
Column = tuple[str, pa.DataType, str]
_JSON = pa.string()  # marker identity is by the JSON_COLUMNS set below

_HEAD: list[Column] = [("capture", pa.string(), "capture"), ("capture_id", pa.string(), "id")]

CAPTURES: list[Column] = [
    *_HEAD,
    ("size", pa.int64(), "size"),
    ("mtime_ns", pa.int64(), "mtime_ns"),
    ("hash", pa.string(), "hash"),
    ("format", pa.string(), "format"),
    ("compressed", pa.bool_(), "compressed"),
    ("link_types", pa.list_(pa.string()), "link_types"),
    ("packets", pa.int64(), "packets"),
    ("bytes", pa.int64(), "bytes"),
    ("first_time", TS, "first_ns"),
    ("last_time", TS, "last_ns"),
    ("duration_s", pa.float64(), "duration_s"),
    *[
        (name, pa.int64(), name)
        for name in ("ipv4", "ipv6", "udp", "tcp", "icmp", "sip", "rtp", "rtcp", "stun", "dtls")
    ],
    ("hep", pa.int64(), "hep"),
    ("calls", pa.int64(), "calls"),
    ("streams", pa.int64(), "streams"),
    ("findings", pa.int64(), "findings"),
    ("messages", pa.int64(), "messages"),
    ("warnings", pa.list_(pa.string()), "warnings"),
    ("checkpoint_frames", pa.list_(pa.int64()), "checkpoint_frames"),
    ("checkpoint_offsets", pa.list_(pa.int64()), "checkpoint_offsets"),
]

CALLS: list[Column] = [
    *_HEAD,
    ("call_index", pa.int32(), "index"),
    ("call_id", pa.string(), "call_id"),
    ("call_ids", pa.list_(pa.string()), "call_ids"),
    ("kind", pa.string(), "kind"),
    ("from_uri", pa.string(), "from"),
    ("from_user", pa.string(), "from_user"),
    ("from_host", pa.string(), "from_host"),
    ("to_uri", pa.string(), "to"),
    ("to_user", pa.string(), "to_user"),
    ("to_host", pa.string(), "to_host"),
    ("caller", pa.string(), "caller"),
    ("callee", pa.string(), "callee"),
    ("start_time", TS, "start_time"),
    ("end_time", TS, "end_time"),
    ("start_s", pa.float64(), "start_s"),
    ("ring_s", pa.float64(), "ring_s"),
    ("answer_s", pa.float64(), "answer_s"),
    ("end_s", pa.float64(), "end_s"),
    ("duration_s", pa.float64(), "duration_s"),
    ("setup_ms", pa.int64(), "setup_ms"),
    ("final_status", pa.int32(), "final_status"),
    ("final_reason", pa.string(), "final_reason"),
    ("state", pa.string(), "state"),
    ("failed", pa.bool_(), "failed"),
    ("ended_by", pa.string(), "ended_by"),
    ("answered_by", pa.string(), "answered_by"),
    ("bye_source", pa.string(), "bye_source"),
    ("messages", pa.int64(), "messages"),
    ("resent", pa.int64(), "resent"),
    ("mos", pa.float64(), "mos"),
    ("findings_error", pa.int32(), "findings_error"),
    ("findings_warning", pa.int32(), "findings_warning"),
    ("findings_info", pa.int32(), "findings_info"),
    ("frames", pa.list_(pa.int64()), "frames"),
    ("hops", _JSON, "hops"),
    ("methods", _JSON, "methods"),
    ("statuses", _JSON, "statuses"),
    ("sdp", _JSON, "sdp"),
    ("streams", _JSON, "streams"),
    ("dtmf", _JSON, "dtmf"),
]

_STREAM_FLOATS = (
    "lost_percent",
    "min_delta_ms",
    "mean_delta_ms",
    "max_delta_ms",
    "min_jitter_ms",
    "mean_jitter_ms",
    "max_jitter_ms",
)
STREAMS: list[Column] = [
    *_HEAD,
    ("stream_index", pa.int32(), "index"),
    ("call_index", pa.int32(), "call_index"),
    ("src", pa.string(), "src"),
    ("src_port", pa.int32(), "src_port"),
    ("dst", pa.string(), "dst"),
    ("dst_port", pa.int32(), "dst_port"),
    ("ssrc", pa.int64(), "ssrc"),
    ("ssrc_hex", pa.string(), "ssrc_hex"),
    ("payload_type", pa.int32(), "payload_type"),
    ("codec", pa.string(), "codec"),
    ("clock_rate", pa.int32(), "clock_rate"),
    ("packets", pa.int64(), "packets"),
    ("lost", pa.int64(), "lost"),
    *[(name, pa.float64(), name) for name in _STREAM_FLOATS],
    ("problems", pa.list_(pa.string()), "problems"),
    ("mos", pa.float64(), "mos"),
    ("start_time", TS, "start_time"),
    ("end_time", TS, "end_time"),
    ("payload_types", pa.list_(pa.int32()), "payload_types"),
    ("payload_names", pa.list_(pa.string()), "payload_names"),
    ("channels", pa.int32(), "channels"),
    ("source", pa.string(), "source"),
    ("encrypted", pa.bool_(), "encrypted"),
    ("srtp_keying", pa.string(), "srtp_keying"),
    ("start_s", pa.float64(), "start_s"),
    ("end_s", pa.float64(), "end_s"),
    ("first_frame", pa.int64(), "first_frame"),
    ("last_frame", pa.int64(), "last_frame"),
    ("setup_frame", pa.int64(), "setup_frame"),
    ("call_id", pa.string(), "call_id"),
    *[
        (name, pa.int64(), name)
        for name in (
            "expected",
            "lost_vs_highest_seq",
            "duplicates",
            "reordered",
            "dtx_periods",
        )
    ],
    ("dtx_ms", pa.float64(), "dtx_ms"),
    *[
        (name, pa.int64(), name)
        for name in (
            "markers",
            "ssrc_changes",
            "payload_type_changes",
            "comfort_noise_packets",
            "sequence_errors",
            "timestamp_errors",
            "max_delta_frame",
            "payload_bytes",
        )
    ],
    ("srtp", _JSON, "srtp"),
    ("events", _JSON, "events"),  # timestamp resets and SSRC restarts (streams' JSON)
]

FINDINGS: list[Column] = [
    *_HEAD,
    ("call_index", pa.int32(), "call_index"),
    ("severity", pa.string(), "severity"),
    ("code", pa.string(), "code"),
    ("call_id", pa.string(), "call_id"),
    ("summary", pa.string(), "summary"),
    ("element", pa.string(), "element"),
    ("last_hop", pa.string(), "last_hop"),
    ("frames", pa.list_(pa.int64()), "frames"),
    ("time", TS, "time"),
    ("time_s", pa.float64(), "time_s"),
    ("rfc", pa.string(), "rfc"),
    ("fix", pa.string(), "fix"),
    ("detail", pa.string(), "detail"),
]

MESSAGES: list[Column] = [
    *_HEAD,
    ("frame", pa.int64(), "frame"),
    ("time", TS, "time"),
    ("time_s", pa.float64(), "time_s"),
    ("method", pa.string(), "method"),
    ("status", pa.int32(), "status"),
    ("reason", pa.string(), "reason"),
    ("cseq", pa.int64(), "cseq"),
    ("cseq_method", pa.string(), "cseq_method"),
    ("call_id", pa.string(), "call_id"),
    ("call_index", pa.int32(), "call_index"),
    ("src", pa.string(), "src"),
    ("sport", pa.int32(), "sport"),
    ("dst", pa.string(), "dst"),
    ("dport", pa.int32(), "dport"),
    ("transport", pa.string(), "transport"),
]

ERRORS: list[Column] = [
    *_HEAD,
    ("size", pa.int64(), "size"),
    ("mtime_ns", pa.int64(), "mtime_ns"),
    ("hash", pa.string(), "hash"),
    ("exit_code", pa.int32(), "exit_code"),
    ("message", pa.string(), "message"),
]

TABLES: dict[str, list[Column]] = {
    "captures": CAPTURES,
    "calls": CALLS,
    "streams": STREAMS,
    "findings": FINDINGS,
    "messages": MESSAGES,
    "errors": ERRORS,
}
# The time each table's rows are partitioned by (a key of the row dict); errors: none.
DAY_KEYS: dict[str, str | None] = {
    "captures": "first_ns",
    "calls": "start_time",
    "streams": "start_time",
    "findings": "time",
    "messages": "time",
    "errors": None,
}
JSON_COLUMNS: dict[str, frozenset[str]] = {
    "calls": frozenset({"hops", "methods", "statuses", "sdp", "streams", "dtmf"}),
    "streams": frozenset({"srtp", "events"}),
}


def schema(table: str) -> pa.Schema:
    return pa.schema([(name, kind) for name, kind, _ in TABLES[table]])


def day_of(ts_ns: int | None) -> str:
    """The ``YYYY-MM-DD`` (UTC) of a time in nanoseconds, ``unknown`` for none."""
    if ts_ns is None:
        return NO_DAY
    return (_EPOCH + dt.timedelta(microseconds=ts_ns // 1000)).strftime("%Y-%m-%d")


def _json_text(value: Any) -> str | None:
    return None if value is None else valid_utf8(json.dumps(value, ensure_ascii=False))


def _stored(value: Any) -> Any:
    """Arrow strings are UTF-8: packet bytes that are not take rtcscope.text's \\xNN form."""
    if isinstance(value, str):
        return valid_utf8(value)
    if isinstance(value, list):
        return [_stored(item) for item in value]
    return value


def to_arrow(table: str, rows: Sequence[dict[str, Any]], head: dict[str, Any]) -> pa.Table:
    """Rows of one table (plus ``head``: ``capture`` and ``id``) as an Arrow table."""
    json_columns = JSON_COLUMNS.get(table, frozenset())
    columns: dict[str, list[Any]] = {}
    for name, _, key in TABLES[table]:
        if key in head:
            columns[name] = [head[key]] * len(rows)
        elif name in json_columns:
            columns[name] = [_json_text(row.get(key)) for row in rows]
        else:
            columns[name] = [_stored(row.get(key)) for row in rows]
    return pa.table(columns, schema=schema(table))


def from_arrow_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from the index with the command's JSON keys (what the tests compare
    with ``rtcscope calls/streams/diagnose --format json``); JSON-text columns parsed."""
    json_columns = JSON_COLUMNS.get(table, frozenset())
    out: dict[str, Any] = {}
    for name, _, key in TABLES[table]:
        if name not in row:
            continue
        value = row[name]
        out[key] = json.loads(value) if name in json_columns and value is not None else value
    return out
