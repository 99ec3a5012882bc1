"""The JSON writers: format_json (orjson, with the standard library for what orjson refuses)
and write_json_object (lists written element by element) give the standard library's
indent-2 text, byte for byte."""

from __future__ import annotations

import io
import json
from enum import StrEnum
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.cli.output import LazyJson, format_json, write_json, write_json_object
from rtcscope.text import json_safe

_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8)
# Floats compare by value only: orjson writes 1e-7 and 1e16 where the standard library
# writes 1e-07 and 1e+16 (both valid JSON, the same number).
_floats = st.floats(allow_nan=False, allow_infinity=False)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)

# Values where the two encoders differ: numbers orjson writes otherwise (0.00001, 1.5e-7)
# and text orjson refuses (a surrogate: bytes that were not UTF-8): a document holding one
# of the second is the standard library's text throughout, numbers included.
_odd = st.sampled_from([1e-05, 1.5e-07, 9.99e-05, 2.5, "x\udcff", "\ud800"])
_mixed_values = st.recursive(
    _scalars | _odd,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def _reference(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


@given(st.dictionaries(st.text(max_size=6), _values, max_size=4))
def test_format_json_is_the_standard_librarys_text(data: dict[str, Any]) -> None:
    text = format_json(data)
    assert json.loads(text) == data
    if "\\u" not in text and "\\x" not in text:  # no character escaped for terminals
        assert text == _reference(data)


@given(st.lists(_floats, max_size=6))
def test_floats_keep_their_value(values: list[float]) -> None:
    assert json.loads(format_json({"v": values})) == {"v": values}


@given(st.dictionaries(st.text(max_size=6), st.lists(_values, max_size=4) | _values, max_size=4))
def test_write_json_object_writes_what_format_json_writes(
    data: dict[str, Any],
) -> None:
    out = io.StringIO()
    streamed = {k: iter(v) if isinstance(v, list) else v for k, v in data.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        write_json_object(streamed)
    assert out.getvalue() == format_json(data) + "\n"


def _as_iterators(data: Any, flip: bool, depth: int) -> Any:
    """The same data with some lists turned into iterators (alternating by level) wherever
    write_json(depth=depth) reaches: members of what it writes member by member (the first
    ``depth`` levels, and iterators at any level)."""
    if isinstance(data, list) and (flip or depth > 0):
        items = [_as_iterators(v, not flip, depth - 1) for v in data]
        return iter(items) if flip else items
    if isinstance(data, dict) and depth > 0:
        return {k: _as_iterators(v, not flip, depth - 1) for k, v in data.items()}
    return data


@given(
    st.lists(_values, max_size=4) | st.dictionaries(st.text(max_size=5), _values, max_size=4),
    st.integers(0, 4),
    st.booleans(),
    st.sampled_from([0, 1, 2, 32]),
    st.sampled_from([1, 2, 3, 8]),
)
def test_write_json_streams_what_format_json_writes(
    data: Any, depth: int, flip: bool, long_list: int, run: int
) -> None:
    """Containers written member by member (lists longer than ``long_list``, and what
    holds them, to any depth; members written whole go to orjson ``run`` at a time),
    iterators anywhere: the text is format_json's."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        patch.setattr("rtcscope.cli.output._LONG_LIST", long_list)
        patch.setattr("rtcscope.cli.output._RUN", run)
        write_json(_as_iterators(data, flip, depth), depth=depth)
    assert out.getvalue() == format_json(data)


@given(
    st.lists(_mixed_values, max_size=40)
    | st.dictionaries(st.text(max_size=5), _mixed_values, max_size=4),
    st.integers(0, 4),
    st.sampled_from([0, 1, 2, 32]),
    st.sampled_from([1, 2, 3, 8]),
)
def test_write_json_writes_one_encoders_text_of_the_whole(
    data: Any, depth: int, long_list: int, run: int
) -> None:
    """Written in pieces, a document is still the text of one encoder: orjson's, or where
    orjson refuses any of it, the standard library's (numbers included: 1e-05, not orjson's
    0.00001 beside it), as format_json writes the whole."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        patch.setattr("rtcscope.cli.output._LONG_LIST", long_list)
        patch.setattr("rtcscope.cli.output._RUN", run)
        write_json(data, depth=depth)
    assert out.getvalue() == format_json(data)


def test_an_iterators_members_are_documents_of_their_own() -> None:
    """An iterator's members cannot be looked at before they are made: each is written as
    format_json writes it alone (here one with text orjson refuses, one orjson writes)."""
    first = {"t": 1e-05, "bad": "x\udcff", "long": list(range(40))}
    second = {"t": 1e-05, "long": list(range(40))}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        write_json(iter([first, second]))
    members = [format_json(m).replace("\n", "\n  ") for m in (first, second)]
    assert out.getvalue() == "[\n  " + ",\n  ".join(members) + "\n]"
    assert '"t": 1e-05' in members[0] and '"t": 0.00001' in members[1]


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12))
def test_ascii_text_with_del_is_escaped(text: str) -> None:
    """ASCII JSON text takes json_safe's short way: DEL (the one unsafe ASCII character a
    JSON encoder leaves raw) is still written as its JSON escape, the value kept."""
    out = format_json({"v": text})
    assert "\x7f" not in out
    assert json.loads(out) == {"v": text}


@given(
    st.lists(st.dictionaries(st.text(max_size=4), _values, max_size=3), max_size=40),
    st.sampled_from(["utf-8", "ascii"]),
    st.sampled_from([1, 3, 8]),
)
def test_write_json_to_a_byte_stream_writes_what_format_json_writes(
    members: list[dict[str, Any]], encoding: str, run: int
) -> None:
    """On a real text stream (a byte buffer below it, as standard output has) runs of ASCII
    members go to the buffer as orjson's bytes, the rest as text: the bytes are still
    format_json's text, in order, encoded as the stream encodes (``ascii`` with
    backslashreplace, as rtcscope sets it for a terminal that cannot show UTF-8)."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
    data = {"calls": members, "tail": "\x7f\u00e9"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", stream)
        patch.setattr("rtcscope.cli.output._RUN", run)
        write_json_object({"calls": iter(members), "tail": "\x7f\u00e9"})
    stream.flush()
    expected = (format_json(data) + "\n").encode(encoding, "backslashreplace")
    assert raw.getvalue() == expected


@given(
    st.lists(_values, max_size=40) | st.dictionaries(st.text(max_size=5), _values, max_size=4),
    st.integers(0, 4),
    st.booleans(),
    st.sampled_from(["utf-8", "ascii"]),
    st.sampled_from([0, 2, 32]),
    st.sampled_from([1, 3, 8]),
)
def test_write_json_streams_to_a_byte_stream_what_format_json_writes(
    data: Any, depth: int, flip: bool, encoding: str, long_list: int, run: int
) -> None:
    """write_json on a real text stream: every piece (keys, brackets, runs of members, the
    members orjson refused a run for because one holds an iterator) goes to the byte buffer
    in order, encoded as the stream encodes; the bytes are format_json's text."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
    stream.write("lead ")  # text written before: still first
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", stream)
        patch.setattr("rtcscope.cli.output._LONG_LIST", long_list)
        patch.setattr("rtcscope.cli.output._RUN", run)
        write_json(_as_iterators(data, flip, depth), depth=depth)
    stream.write("\n")
    stream.flush()
    expected = ("lead " + format_json(data) + "\n").encode(encoding, "backslashreplace")
    assert raw.getvalue() == expected


def _lazy(value: Any, give_text: bool, asked: list[int]) -> LazyJson:
    """A LazyJson of ``value`` whose text is orjson's at the level asked (or None)."""

    def text(level: int) -> bytes | None:
        asked.append(level)
        if not give_text:
            return None
        try:
            data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        except TypeError:
            return None
        return data.replace(b"\n", b"\n" + b"  " * level)

    return LazyJson(lambda: value, text)


@given(
    st.dictionaries(st.text(max_size=5), _mixed_values, max_size=4),
    st.lists(_mixed_values, max_size=40),
    st.booleans(),
    st.integers(0, 4),
    st.sampled_from(["utf-8", "ascii"]),
    st.sampled_from([0, 2, 32]),
)
def test_a_lazy_value_writes_the_text_of_its_value(
    data: dict[str, Any],
    value: list[Any],
    give_text: bool,
    depth: int,
    encoding: str,
    long_list: int,
) -> None:
    """A LazyJson anywhere in the data: write_json writes the text it gives at its level
    (or, given None, its value), format_json its value; the bytes are format_json's text of
    the data holding the value itself."""
    asked: list[int] = []
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace", newline="")
    lazy = {
        **data,
        "lazy": _lazy(value, give_text, asked),
        "in": [1, {"x": _lazy(value, give_text, asked)}],
    }
    plain = {**data, "lazy": value, "in": [1, {"x": value}]}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", stream)
        patch.setattr("rtcscope.cli.output._LONG_LIST", long_list)
        write_json(lazy, depth=depth)
    stream.flush()
    assert raw.getvalue() == format_json(plain).encode(encoding, "backslashreplace")
    assert format_json(lazy) == format_json(plain)
    assert set(asked) <= {0}  # (asked by the check before writing, then indented)


def test_members_holding_an_iterator_are_streamed_in_a_long_list() -> None:
    """A long list's members are not looked into one by one: a member that holds an
    iterator (which orjson refuses) is found when its run is refused, and written member by
    member; its neighbours in the run are written whole, in order."""
    members: list[Any] = [{"n": i, "tags": ["a", "b"]} for i in range(40)]
    streamed = [dict(m) for m in members]
    streamed[13]["tags"] = iter(["a", "b"])
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        write_json({"calls": streamed}, depth=3)
    assert out.getvalue() == format_json({"calls": members})


class _Kind(StrEnum):
    INVITE = "INVITE"


_keys = st.text(max_size=4) | st.integers(-(2**40), 2**40) | st.booleans() | st.none()
_keyed = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_keys | st.just(_Kind.INVITE), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(_keyed)
def test_keys_that_are_not_text_are_written_as_text(data: Any) -> None:
    """Keys that are not ``str`` (ints, booleans, None, an enum), in a dict at any depth
    beside text keys: format_json writes them as text as orjson's OPT_NON_STR_KEYS does
    (the option is taken only for the data that has such keys)."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    try:
        expected = json_safe(orjson.dumps(data, option=option).decode("utf-8"))
    except TypeError:  # an integer beyond 64 bits: the standard library's road
        return
    assert format_json(data) == expected
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        write_json([data], depth=2)
    assert out.getvalue() == format_json([data])


def test_other_type_errors_are_not_retried_with_the_key_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only orjson's refusal of a key that is not ``str`` makes format_json write the data
    again with OPT_NON_STR_KEYS; another TypeError (an integer beyond 64 bits) goes to the
    standard library at once, its text as before."""
    calls: list[int] = []
    dumps = orjson.dumps

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs.get("option", 0))
        return dumps(*args, **kwargs)

    monkeypatch.setattr(orjson, "dumps", counted)
    big = {"n": 2**70, "k": [1, 2]}
    assert format_json(big) == json.dumps(big, indent=2, ensure_ascii=False)
    assert calls == [orjson.OPT_INDENT_2]
    calls.clear()
    assert format_json({1: "a"}) == '{\n  "1": "a"\n}'
    assert calls == [orjson.OPT_INDENT_2, orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS]


def test_the_check_of_a_long_list_is_made_a_run_at_a_time() -> None:
    """The writer checks a document for what orjson refuses piece by piece (a long list's
    members a run at a time), never as one text of the whole: a 34,000-stream document
    held ~35 MB more at its peak that way. The text is format_json's all the same."""
    import types

    import rtcscope.cli.output as output

    longest: list[int] = []
    whole: list[Any] = []

    def dumps(value: Any, *args: Any, **kwargs: Any) -> bytes:
        dumped = value
        while isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
            value = value[0]  # (the check wraps a piece in the levels above it)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            longest.append(len(value))
        if isinstance(value, dict) and "streams" in value and value["streams"]:
            whole.append(value)  # the whole document in one call
        return orjson.dumps(dumped, *args, **kwargs)

    shim = types.SimpleNamespace(
        dumps=dumps, **{k: getattr(orjson, k) for k in dir(orjson) if k.startswith("OPT_")}
    )
    data = {"streams": [{"ssrc": i, "jitter": i / 7, "codec": "PCMA"} for i in range(500)]}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output, "orjson", shim)
        patch.setattr("sys.stdout", out)
        write_json(data)
    assert out.getvalue() == format_json(data)
    assert not whole
    assert longest and max(longest) <= output._RUN


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("nesting", [252, 253, 254, 255, 256])
def test_the_check_sees_orjsons_nesting_limit_as_the_whole_document(
    depth: int, nesting: int
) -> None:
    """A document orjson refuses only as a whole (its nesting limit, counted from the top)
    is written by the standard library as format_json writes it, though each piece the
    check looks at would pass alone (the check wraps a piece in the levels above it)."""
    deep: Any = 1
    for _ in range(nesting):
        deep = [deep]
    data = {"a": [1e-05] * 40, "b": deep}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        write_json(data, depth=depth)
    assert out.getvalue() == format_json(data)
