"""What the user types into ``rtcscope query`` (SQL, times) gives a value or a usage error,
never another exception; and only a lone SELECT passes the statement check."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.errors import InvalidArgument
from rtcscope.index.query import check_select, parse_time

SQL_WORDS = st.sampled_from(
    [
        "SELECT",
        "COPY",
        "FROM",
        "calls",
        "TO",
        "'x'",
        ";",
        "(",
        ")",
        "1",
        "*",
        "WITH",
        "a",
        "AS",
        "ATTACH",
        "SET",
        "PRAGMA",
        "INSERT",
        "INTO",
        "VALUES",
        "--",
        "/*",
        "*/",
        "EXPLAIN",
        ",",
    ]
)


@given(st.lists(SQL_WORDS, max_size=12).map(" ".join) | st.text(max_size=80))
def test_any_text_is_one_select_or_an_invalid_argument(text: str) -> None:
    try:
        statement = check_select(text)
    except InvalidArgument:
        return
    assert statement.strip()
    assert check_select(statement) == statement  # a lone SELECT stays one


@pytest.mark.parametrize(
    "sql",
    [
        "COPY calls TO 'x.csv'",
        "SELECT 1; SELECT 2",
        "ATTACH 'x.db'",
        "SET threads = 1",
        "INSERT INTO t VALUES (1)",
        "EXPLAIN SELECT 1",
        "",
        "   ",
        "-- nothing",
    ],
)
def test_statements_other_than_one_select_are_refused(sql: str) -> None:
    with pytest.raises(InvalidArgument):
        check_select(sql)


@given(st.text(max_size=40))
def test_any_time_text_is_a_utc_time_or_an_invalid_argument(text: str) -> None:
    try:
        value = parse_time(text)
    except InvalidArgument:
        return
    assert value.utcoffset() == dt.timedelta(0)


def test_times_without_offset_are_utc_and_offsets_are_applied() -> None:
    assert parse_time("2024-05-01") == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert parse_time("2024-05-01 10:00+02:00") == dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)
    assert parse_time("2024-05-01T10:00:00Z") == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
