"""SQL over the index: DuckDB (embedded) reading the committed Parquet parts.

:func:`connect` opens an in-memory DuckDB database with one view per table (``captures``,
``calls``, ``streams``, ``findings``, ``messages``, ``errors``) over the parts the manifest
lists, then shuts the door before any user SQL runs:

- ``allowed_directories`` is the index, and ``enable_external_access`` is off: no file
  outside the index can be read, no extension loaded, nothing attached;
- ``lock_configuration`` is on, so SQL cannot switch those back;
- only SELECT statements run (:func:`check_select`, by the type DuckDB's own parser gives
  each statement, ``duckdb.extract_statements``). DuckDB's settings alone would still let
  ``COPY ... TO`` write inside the index.

The canned filters of ``rtcscope query`` build one SELECT over ``calls``
(:func:`calls_sql`), with parameters, never pasting the user's text into SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from rtcscope.errors import InputError, InvalidArgument
from rtcscope.index.schema import DAY_KEYS, TABLES, schema
from rtcscope.index.store import MANIFEST, read_manifest

# The columns the canned filters return: each row names the capture, the call and its frames.
CALL_COLUMNS = (
    "capture",
    "call_index",
    "start_time",
    "from_uri",
    "to_uri",
    "state",
    "final_status",
    "setup_ms",
    "duration_s",
    "mos",
    "findings_error",
    "findings_warning",
    "call_id",
    "frames",
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(index: str | Path) -> duckdb.DuckDBPyConnection:
    """A locked-down connection with the index's tables as views (module docstring)."""
    index_dir = Path(index).absolute()
    if not (index_dir / MANIFEST).is_file():
        raise InputError(
            f"{index}: not an rtcscope index (no {MANIFEST}; build one with `rtcscope index`)"
        )
    manifest = read_manifest(index_dir)
    con = duckdb.connect(":memory:")
    for table in TABLES:
        parts = manifest.parts(table)
        partitioned = DAY_KEYS[table] is not None
        if parts:
            files = "[" + ", ".join(_quote(str(index_dir / p)) for p in parts) + "]"
            options = "union_by_name = true"
            if partitioned:
                options += ", hive_partitioning = true, hive_types = {'day': VARCHAR}"
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({files}, {options})")
        else:
            empty = schema(table).empty_table()
            if partitioned:
                empty = empty.append_column("day", duckdb_empty_strings())
            con.register(f"_empty_{table}", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _empty_{table}")
    con.execute(f"SET allowed_directories = [{_quote(str(index_dir))}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def duckdb_empty_strings() -> Any:
    import pyarrow as pa

    return pa.array([], pa.string())


def check_select(sql: str) -> str:
    """The one SELECT statement ``sql`` holds; anything else is a usage error."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidArgument("sql", f"SQL does not parse: {exc}") from exc
    if len(statements) != 1:
        raise InvalidArgument("sql", f"give one SELECT statement ({len(statements)} given)")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise InvalidArgument(
            "sql", f"only SELECT statements are accepted, not {statement.type.name}"
        )
    return statement.query


@dataclass(slots=True)
class CallFilter:
    """The canned filters of ``rtcscope query`` (each optional; all must hold)."""

    from_: str | None = None  # From URI contains (any case)
    to: str | None = None
    since: dt.datetime | None = None  # call start at or after
    until: dt.datetime | None = None  # call start before
    failed: bool = False
    finding: list[str] = field(default_factory=list)  # the call has a finding with a code
    mos_below: float | None = None


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 date or date and time (``2024-05-01``, ``2024-05-01T10:00``, with an
    offset or ``Z``); a time without offset is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError as exc:
        raise InvalidArgument(
            "time", f"{text!r} is not a time (2024-05-01 or 2024-05-01T10:00:00Z)"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def calls_sql(chosen: CallFilter) -> tuple[str, list[Any]]:
    """One SELECT over ``calls`` for the filters, and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if chosen.from_:
        where.append("from_uri ILIKE ?")
        params.append("%" + _like_escape(chosen.from_) + "%")
    if chosen.to:
        where.append("to_uri ILIKE ?")
        params.append("%" + _like_escape(chosen.to) + "%")
    if chosen.since is not None:
        # the day partition first, so DuckDB reads only the days that can match
        where += ["day >= ?", "start_time >= ?"]
        params += [chosen.since.strftime("%Y-%m-%d"), chosen.since]
    if chosen.until is not None:
        where += ["day <= ?", "start_time < ?"]
        params += [chosen.until.strftime("%Y-%m-%d"), chosen.until]
    if chosen.failed:
        where.append("failed")
    for code in chosen.finding:
        where.append(
            "EXISTS (SELECT 1 FROM findings f WHERE f.capture_id = calls.capture_id "
            "AND f.call_index = calls.call_index AND f.code = ?)"
        )
        params.append(code)
    if chosen.mos_below is not None:
        if not math.isfinite(chosen.mos_below):
            raise InvalidArgument("mos_below", "needs a number")
        where.append("mos < ?")
        params.append(chosen.mos_below)
    sql = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_time, capture, call_index"
    return sql, params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(slots=True)
class QueryResult:
    columns: list[str]
    rows: list[dict[str, Any]]


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON-able Python (times as ISO 8601 UTC text)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, Decimal):
        # sum() of integers is a HUGEINT, a decimal of scale 0 in Arrow: a whole number
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as JSON-able Python, converted column by column in Arrow where it can be
    (timestamps to ISO 8601 UTC text with their nanoseconds), value by value otherwise."""
    plain_types = (pa.types.is_string, pa.types.is_integer, pa.types.is_floating)
    slow: list[str] = []
    for i, column in enumerate(table.schema):
        kind = column.type
        if pa.types.is_timestamp(kind):
            utc = table.column(i).cast(pa.timestamp(kind.unit, tz="UTC"))
            table = table.set_column(i, column.name, pc.strftime(utc, "%Y-%m-%dT%H:%M:%SZ"))
        elif not (
            pa.types.is_boolean(kind)
            or any(test(kind) for test in plain_types)
            or (pa.types.is_list(kind) and any(test(kind.value_type) for test in plain_types))
        ):
            slow.append(column.name)
    rows: list[dict[str, Any]] = table.to_pylist()
    for name in slow:
        for row in rows:
            row[name] = _plain(row[name])
    return rows


def run_query(
    index: str | Path, sql: str, params: Sequence[Any] = (), *, checked: bool = True
) -> QueryResult:
    """Run one SELECT on the index; ``checked`` (user SQL) checks it is a SELECT first."""
    statement = check_select(sql) if checked else sql
    con = connect(index)
    try:
        table = con.sql(statement, params=list(params)).to_arrow_table()
        columns = table.column_names
        rows = _rows(table)
    except duckdb.PermissionException as exc:
        raise InvalidArgument("sql", f"not allowed: {exc}") from exc
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        raise InvalidArgument("sql", f"SQL error: {exc}") from exc
    except duckdb.Error as exc:
        raise InputError(f"query failed: {exc}") from exc
    finally:
        con.close()
    return QueryResult(columns, rows)
