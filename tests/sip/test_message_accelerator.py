"""The C scan of the parse step (rtcscope.sip._sipscan) against its specification, the
pure-Python road (message._plain_fields_py): the same fields, or False ("ask the Python
road"), on generated and mutated header blocks; the same messages, field by field, whichever
road parses them; built and active under CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtcscope.sip
from rtcscope.sip import message as message_module
from rtcscope.sip.message import SipMessage
from tests.conftest import IN_CI, c_module, needs_built
from tests.sip.test_message_shapes import fields, real_messages

_sipscan = c_module("rtcscope.sip._sipscan")

needs_c = needs_built(_sipscan)


@pytest.fixture(autouse=True)
def _c_set_up() -> Iterator[None]:
    """The C fill given the caches (message.py does it only when C is its road: not under
    RTCSCOPE_PURE=1, where these tests still compare both roads); given them again after
    each test (a copy of message.py imported by a test hands the C module its own)."""
    if _sipscan is not None:
        message_module._c_setup(_sipscan)
    yield
    if _sipscan is not None:
        message_module._c_setup(_sipscan)


# Header names and values as traffic writes them and as it should not: compact and odd-case
# names, whitespace before the colon (ASCII and what str.strip also takes: \x0b, \x1c,
# U+0085, U+00A0), non-ASCII and invalid UTF-8 names, NULs, folding, no colon, no name.
NAMES = [
    b"Via", b"v", b"VIA", b"vIa ", b"From", b"f", b"F", b"To", b"t", b"Call-ID", b"i", b"I",
    b"CALL-ID", b"CSeq", b"cseq", b"Content-Length", b"l", b"L", b"Content-Type", b"c",
    b"Contact", b"m", b"X-Odd", b"Via\x0b", b"\x0bVia", b"Via\x1c", b"Via\r", b"\x1ff",
    b"Via\xc2\x85", b"\xc2\xa0Via", b"Vi\xffa", b"\xc3\xa9t\xc3\xa9", b"Call-ID\x00", b"\x00",
    b"\x0b", b" Via", b"\tVia", b"", b"Via\t", b"Call-I", b"Content-Lengthx", b"Tos",
]  # fmt: skip
VALUES = [
    b" SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", b"SIP/2.0/UDP a;rport, SIP/2.0/TCP b",
    b' "A, B" <sip:a@b.example>;tag=f1', b" <sip:x@y>", b" 1 INVITE", b"  abc@host  ", b" 0",
    b" 12", b" nine", b" application/sdp", b"", b" \xff\xfe", b" caf\xc3\xa9", b" a\x00b",
    b" a\rb", b" x" * 300, b" \xc2\x85v\xc2\x85", b":::",
]  # fmt: skip
STARTS = [
    b"INVITE sip:bob@b.example SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 180 Ringing",
    b"ACK sip:[::1]:5060 SIP/2.0", b"SIP/3.0 200 OK", b"NOTSIP", b"SIP/2.0 99 Bad", b"",
    b"\xffINVITE x SIP/2.0", b"OPTIONS  sip:a  SIP/2.0 ",
]  # fmt: skip
ENDS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n", b"\r\n "]


@st.composite
def blocks(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 3)) == 0:
        data = draw(st.sampled_from(real_messages()))
    else:
        count = draw(st.integers(0, 80 if draw(st.integers(0, 9)) == 0 else 12))
        parts = [draw(st.sampled_from(STARTS))]
        for _ in range(count):
            name = draw(st.sampled_from(NAMES))
            colon = draw(st.sampled_from([b":", b":", b":", b" :", b""]))
            parts += [draw(st.sampled_from(ENDS)), name, colon, draw(st.sampled_from(VALUES))]
        body = draw(st.sampled_from([b"", b"v=0\r\n", b"\r\n\r\nafter"]))
        data = b"".join(parts) + b"\r\n\r\n" + body
    # Mutations: bytes replaced or inserted anywhere (lone CR/LF, NUL, >= 0x80, ':', space),
    # leading CRLFs, cut anywhere.
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.sampled_from([b"\r", b"\n", b"\x00", b"\x80", b"\xff", b":", b" ", b"\t"]))
        data = data[:at] + byte + data[at + draw(st.integers(0, 1)) :]
    if draw(st.booleans()):
        data = b"\r\n" * draw(st.integers(1, 2)) + data
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


def roads(data: bytes, pos: int) -> tuple[Any, Any]:
    assert _sipscan is not None
    return _sipscan.plain_fields(data, pos), message_module._plain_fields_py(data, pos)


@needs_c
@settings(max_examples=400)
@given(blocks(), st.integers(0, 4))
def test_c_scan_returns_what_the_python_road_returns(data: bytes, pos: int) -> None:
    c_fields, py_fields = roads(data, pos)
    assert c_fields is False or c_fields == py_fields
    if c_fields is False:
        # Left to the Python road only for a non-ASCII header name (or above 64 Via lines).
        assert py_fields is not None
        assert _may_be_left_to_python(data)


def _may_be_left_to_python(data: bytes) -> bool:
    """What the C scan may hand to Python, read from the bytes: a byte >= 0x80 somewhere
    (a non-ASCII name), or more than 64 lines that could be Via lines."""
    return not data.isascii() or data.lower().count(b"\nv") > 64


@needs_c
@settings(max_examples=300)
@given(st.binary(max_size=300), st.integers(0, 310))
def test_c_scan_of_any_bytes(data: bytes, pos: int) -> None:
    c_fields, py_fields = roads(data, pos)
    assert c_fields is False or c_fields == py_fields
    assert c_fields is not False or _may_be_left_to_python(data) or pos > len(data) or pos < 0


@needs_c
def test_c_scan_edges() -> None:
    block = b"INVITE sip:b SIP/2.0\r\nv: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b\r\ni: x\r\n\r\nbody"
    assert _sipscan is not None
    found = _sipscan.plain_fields(block, 0)
    assert found == (
        block.index(b"\r\n\r\n"),
        "INVITE sip:b SIP/2.0",
        *(None, None, "i: x", None, None, None),
        "v: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b",
    )
    assert found == message_module._plain_fields_py(block, 0)
    assert _sipscan.plain_fields(b"", 0) is None
    assert _sipscan.plain_fields(block, len(block) + 5) is None
    assert message_module._plain_fields_py(block, sys.maxsize) is None
    assert _sipscan.plain_fields(block, sys.maxsize) is None  # no overflow past the end
    assert _sipscan.fill(SipMessage(block), block, sys.maxsize) is None
    assert _sipscan.plain_fields(block, -1) is False  # bytes.find's negative start: Python's
    assert _sipscan.plain_fields(b"A\nB: c\r\n\r\n", 0) is None  # a bare LF
    assert _sipscan.plain_fields(b"A\r\n\xc3\xa9: c\r\n\r\n", 0) is False  # non-ASCII name
    many = b"A\r\n" + b"Via: SIP/2.0/UDP h\r\n" * 70 + b"\r\n"
    assert _sipscan.plain_fields(many, 0) is False
    assert message_module._plain_fields_py(many, 0) is not None
    with pytest.raises(TypeError):
        _sipscan.plain_fields(bytearray(block), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _sipscan.plain_fields(block)  # type: ignore[call-arg]


def _parsed_by(fill: Any, data: bytes, times: int, build: Any = None) -> dict[str, Any]:
    """fields() of ``data`` parsed ``times`` times (the last parse's) with ``fill`` (and
    ``build``: the C road's one-step maker, None for none), the value maps of other parses
    left out."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(message_module, "_fill", fill)
        patch.setattr(message_module, "_build", build)
        patch.setattr(message_module, "_VALUE_MAPS", {})
        for _ in range(times - 1):
            SipMessage.parse(data)
        return fields(SipMessage.parse(data))


@needs_c
@settings(max_examples=300)
@given(blocks())
def test_both_roads_give_the_same_message(data: bytes) -> None:
    """A message parsed once by each road, and the C road's second parse (its lines' values
    then in the caches: what fill() stores itself), equal field by field."""
    assert _sipscan is not None
    by_python = _parsed_by(message_module._fill_py, data, 1)
    assert _parsed_by(_sipscan.fill, data, 1) == by_python
    assert _parsed_by(_sipscan.fill, data, 2) == by_python
    assert _parsed_by(_sipscan.fill, data, 1, _sipscan.build) == by_python
    assert _parsed_by(_sipscan.fill, data, 2, _sipscan.build) == by_python


@needs_c
def test_fill_stores_the_cached_values() -> None:
    """A message's lines seen before: fill() stores every value and hands back None for each
    line; the values are those the Python road reads (the cached objects themselves)."""
    assert _sipscan is not None
    for data in real_messages()[:40]:
        with pytest.MonkeyPatch.context() as patch:  # the reference: the Python road
            patch.setattr(message_module, "_fill", message_module._fill_py)
            patch.setattr(message_module, "_build", None)
            first = SipMessage.parse(data)
        message = SipMessage(data)
        start = len(data) - len(data.lstrip(b"\r\n"))
        found = _sipscan.fill(message, data, start)
        assert isinstance(found, tuple)
        left = [line for line in found[1:] if line is not None]
        assert left == []  # nothing left for Python: every line was read before
        message.header_length = found[0] + 4
        for name in SipMessage.__slots__:
            if name not in ("_finished", "_headers", "_problems"):
                assert getattr(message, name) == getattr(first, name), name
        assert message.call_id is first.call_id and message.cseq is first.cseq
    with pytest.raises(TypeError):
        _sipscan.fill(SipMessage(b""), b"", 0, 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _sipscan.setup(())


def _slots(message: SipMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in SipMessage.__slots__}


@needs_c
@settings(max_examples=300)
@given(blocks())
def test_build_makes_what_init_and_fill_make(data: bytes) -> None:
    """build(raw, 0) = SipMessage(raw), fill(message, raw, 0), header_length from the scan:
    every slot the same object or an equal one, before any property reads it; the message
    alone exactly when fill() left no line (its lines' values cached: the second time)."""
    assert _sipscan is not None
    for _ in range(2):
        made = SipMessage(data)
        filled = _sipscan.fill(made, data, 0)
        if isinstance(filled, tuple):
            made.header_length = filled[0] + 4
        built = _sipscan.build(data, 0)
        if isinstance(built, tuple):
            message, rest = built
            assert rest == filled
            assert not isinstance(rest, tuple) or any(x is not None for x in rest[1:])
        else:
            message = built
            assert isinstance(filled, tuple) and all(x is None for x in filled[1:])
        assert type(message) is SipMessage
        assert _slots(message) == _slots(made)
        assert message.raw is data
        SipMessage.parse(data)  # its lines' values cached for the second round


@needs_c
def test_build_edges() -> None:
    """A start past the end, a negative one (bytes.find's: the Python road's), only bytes;
    a message made from a template must not share a changeable value with it."""
    assert _sipscan is not None
    data = real_messages()[0]
    built = _sipscan.build(data, 0)
    whole = built if isinstance(built, SipMessage) else built[0]
    assert whole.raw is data and whole.call_id == SipMessage.parse(data).call_id
    message, rest = _sipscan.build(data, sys.maxsize)
    assert rest is None and message.raw is data
    assert _sipscan.build(data, -1)[1] is False
    with pytest.raises(TypeError):
        _sipscan.build(bytearray(data), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _sipscan.build(data)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _sipscan.setup_build(object(), 10)
    template = SipMessage(b"")
    for name in SipMessage.__slots__:
        value = getattr(template, name)
        assert isinstance(value, str | bytes | int | bool | tuple | type(None)), name


# The caches the parse step reads and fills (what a line seen before gives).
CACHES = (
    "_TAGS", "_TOPS", "_CALL_IDS", "_CSEQ_LINES", "_TYPE_LINES", "_LENGTH_LINES",
    "_STATUS_LINES", "_NAME_ADDRS", "_VIAS", "_CSEQS", "_VIA_STACKS", "_VALUE_MAPS",
)  # fmt: skip


def _cold_parse(data: bytes, c_road: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """fields() of ``data`` parsed with empty caches by one road, and what the parse put in
    the caches of new lines (From/To, Via, Call-ID)."""
    for name in CACHES:
        getattr(message_module, name).clear()
    with pytest.MonkeyPatch.context() as patch:
        if c_road:
            assert _sipscan is not None
            patch.setattr(message_module, "_fill", _sipscan.fill)
            patch.setattr(message_module, "_build", _sipscan.build)
        else:
            patch.setattr(message_module, "_fill", message_module._fill_py)
            patch.setattr(message_module, "_build", None)
        message = SipMessage.parse(data)
        kept = {
            name: dict(getattr(message_module, name)) for name in ("_TAGS", "_TOPS", "_CALL_IDS")
        }
        return fields(message), kept


# From/To values and Via values in pieces, per piece the usual spellings (what the C road
# reads of a new line itself) and odd ones next to them: a value is usual pieces and at most
# one odd one, so that each odd piece is met next to usual ones.
PIECES: dict[str, tuple[list[bytes], list[bytes]]] = {
    "display": ([b"", b"Alice ", b'"Alice B" ', b'"a<b>" '],
                [b'"A\\" ', b"a\\b ", b'"open ', b"\x1c"]),
    "scheme": ([b"sip:", b"SIP:", b"sips:", b"sIpS:"], [b"sipx:", b"tel:", b"sip", b""]),
    "user": ([b"", b"alice@", b"a:b@", b"%41@"],
             [b"a@b@", b"a b@", b"a?b@", b"a\xc3\xa9@", b"a]b@"]),
    "host": ([b"a.example", b"10.0.0.1", b"[2001:db8::1]", b"h_o-s.t"], [b"[", b"[]", b"", b"h~"]),
    "port": ([b"", b":5060", b":65535", b":0", b":0000", b":9"],
             [b":65536", b":05060", b":", b":123456", b":70000", b":6x"]),
    "uri_params": ([b"", b";transport=udp", b";lr"], [b";a@b", b";", b";x=<", b";a b", b";a]"]),
    "close": ([b">"], [b"", b">>"]),
    "after": ([b"", b";tag=abc", b";tag=9f8e-1.x"],
              [b";tag=", b";tag=a;x=y", b';tag="q"', b" ;tag=abc", b";TAG=abc", b";x=1;tag=2",
               b";tag=a b", b";tag=\xc3\xa9", b";tag=a\x1cb", b"x", b";tagx=1", b";ta", b";tag"]),
    "via_start": ([b"SIP/2.0/UDP ", b"SIP/2.0/TCP\t", b"SIP / 2.0 / UDP  "],
                  [b"SIP/2.0/UDP/x ", b"SIP/2.0 ", b"SIP/2.0/UDP", b"\x1cSIP/2.0/UDP \x1c"]),
    "via_params": ([b"", b";branch=z9hG4bK1", b";branch=x;rport", b";branch=x;a=b;c"],
                   [b";branch=", b";rport;branch=x", b';branch=x;a="q"', b";BRANCH=x",
                    b" ;branch=x", b";branch=x y", b", SIP/2.0/UDP b", b";branch=x\x1c",
                    b";branch=\xc3\xa9", b"\t", b";branchx=1", b"x"]),
}  # fmt: skip


def _value(draw: st.DrawFn, names: list[str]) -> list[bytes]:
    """One piece per name: usual ones, at most one odd (which one, drawn)."""
    odd = draw(st.sampled_from([None, *names]))
    return [draw(st.sampled_from(PIECES[name][name == odd])) for name in names]


@st.composite
def address_values(draw: st.DrawFn) -> bytes:
    names = ["scheme", "user", "host", "port", "uri_params", "display", "close", "after"]
    scheme, user, host, port, params, display, close, after = _value(draw, names)
    uri = scheme + user + host + port + params
    if draw(st.integers(0, 4)):
        return display + b"<" + uri + close + after
    return uri + after


@st.composite
def via_values(draw: st.DrawFn) -> bytes:
    return b"".join(_value(draw, ["via_start", "host", "port", "via_params"]))


@needs_c
@settings(max_examples=400)
@given(address_values(), address_values(), st.lists(via_values(), min_size=1, max_size=2))
def test_c_road_reads_new_lines_as_the_python_road(
    from_: bytes, to: bytes, vias: list[bytes]
) -> None:
    """Lines no cache holds yet (a call's first From, a transaction's first Via, a new
    Call-ID): the C road's own reading of the usual shapes gives the same message and puts
    the same entries in the caches as the Python road; a second C parse (cached) too."""
    assert _sipscan is not None
    data = (
        b"INVITE sip:b@b.example SIP/2.0\r\n"
        + b"".join(b"Via: " + via + b"\r\n" for via in vias)
        + b"From: " + from_ + b"\r\nTo: " + to
        + b"\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )  # fmt: skip
    by_python = _cold_parse(data, c_road=False)
    assert _cold_parse(data, c_road=True) == by_python
    assert _parsed_by(_sipscan.fill, data, 1, _sipscan.build) == by_python[0]


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C scan."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _sipscan is not None
    assert message_module.ROAD == "c"


def _road_with(monkeypatch: pytest.MonkeyPatch, pure: str | None) -> str:
    """The ROAD of a fresh copy of rtcscope.sip.message imported with RTCSCOPE_PURE so."""
    if pure is None:
        monkeypatch.delenv("RTCSCOPE_PURE", raising=False)
    else:
        monkeypatch.setenv("RTCSCOPE_PURE", pure)
    spec = importlib.util.spec_from_file_location("_message_copy", message_module.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_message_copy", copy)  # its dataclasses look it up
    spec.loader.exec_module(copy)
    return str(copy.ROAD)


def test_an_older_accelerator_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A .so left from an older _sipscan.c (a later build failed: setuptools keeps going)
    lacks what message.py now calls: the import takes the Python road, no error."""
    older = types.ModuleType("rtcscope.sip._sipscan")
    older.setup = lambda caches: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rtcscope.sip._sipscan", older)
    monkeypatch.setattr(rtcscope.sip, "_sipscan", older, raising=False)
    assert _road_with(monkeypatch, None) == "python"


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _road_with(monkeypatch, "1") == "python"
    assert _road_with(monkeypatch, "0") == ("c" if _sipscan is not None else "python")
    assert _road_with(monkeypatch, None) == ("c" if _sipscan is not None else "python")


START_PIECES = [
    b"INVITE", b"SIP/2.0", b"SIP/12.30", b"SIP/2.", b"SIP/.0", b"sip/2.0", b"200", b"2000",
    b"20", b"OK", b"sip:bob@b", b"x!%*_+`'~-.9", b"9x", b"a/b", b"\xff", b"\x00", b"Ringing now",
]  # fmt: skip
GAPS = [b" ", b"\t", b"  \t", b"", b"\x0b", b"\x0c"]
LINE_ENDS = [b"\r\n", b"\n", b"\r", b"", b"\r\r\n", b" \r\n", b"\t\n", b"x\n"]


@st.composite
def start_lines(draw: st.DrawFn) -> bytes:
    lead = draw(st.sampled_from([b"", b"\r\n", b"\n\n\r"]))
    pieces = draw(st.lists(st.sampled_from(START_PIECES), min_size=1, max_size=4))
    line = lead + b"".join(p + draw(st.sampled_from(GAPS)) for p in pieces)
    data = line + draw(st.sampled_from(LINE_ENDS)) + draw(st.sampled_from([b"", b"Via: x\r\n"]))
    if draw(st.integers(0, 5)) == 0:  # around the 2048-byte window
        data = data.replace(b"sip:bob@b", b"sip:" + b"b" * draw(st.integers(2000, 2050)))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@needs_c
@settings(max_examples=500)
@given(st.one_of(start_lines(), st.binary(max_size=64), blocks()))
def test_c_start_line_test_is_the_regular_expressions(data: bytes) -> None:
    assert _sipscan is not None
    expected = message_module._looks_like_sip_py(data)
    assert _sipscan.looks_like_sip(data) is expected
    assert _sipscan.looks_like_sip(memoryview(data)) is expected
    assert _sipscan.looks_like_sip(bytearray(data)) is expected


@needs_c
def test_c_start_line_test_edges() -> None:
    assert _sipscan is not None
    yes = [
        b"INVITE sip:a SIP/2.0\r\n",
        b"\r\nSIP/2.0 200 OK\n",
        b"SIP/2.0 200\r\n",
        b"A b SIP/1.1 \n",
    ]
    no = [b"INVITE sip:a SIP/2.0", b"SIP/2.0 200 OK\r", b"SIP/2.0 2000\r\n", b"", b"\r\n"]
    for data in yes:
        assert _sipscan.looks_like_sip(data) and message_module._looks_like_sip_py(data)
    for data in no:
        assert not _sipscan.looks_like_sip(data) and not message_module._looks_like_sip_py(data)
    long_uri = b"INVITE sip:" + b"x" * 2030 + b" SIP/2.0\r\n"  # ends past byte 2048
    assert not _sipscan.looks_like_sip(long_uri) and not message_module._looks_like_sip_py(long_uri)
    with pytest.raises(TypeError):
        _sipscan.looks_like_sip("INVITE x SIP/2.0\r\n")  # type: ignore[arg-type]


def _one_call_message(i: int, tag: str = "f") -> bytes:
    return (
        f"BYE sip:b{i}@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.{i % 250}.1:5060;branch=z9{i}\r\n"
        f"From: <sip:a{i}@a.example>;tag={tag}{i}\r\nTo: <sip:b{i}@b.example>;tag=t{i}\r\n"
        f"Call-ID: c{i}@a\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _message_values(message: SipMessage) -> tuple[Any, ...]:
    return (
        message.call_id, message.from_tag, message.to_tag, message.branch, message.sent_by,
        message._from, message._to, message._vias, message.cseq, message.content_length,
        message.request_method, message.request_uri_text, message.header_length,
    )  # fmt: skip


@needs_c
def test_c_tables_give_what_the_caches_give_and_follow_them() -> None:
    """The C road's tables (the caches' values by the lines' bytes): a message whose lines
    they hold gets the caches' own objects; once Python empties a cache, its table is not
    read (what C stores is put in the cache again); many distinct lines (past the tables'
    bound, emptied then) give the Python road's values."""
    assert _sipscan is not None
    data = _one_call_message(1)
    values = []
    for _ in range(2):
        SipMessage.parse(data)  # its CSeq and Content-Length lines read by Python: cached
        message = _sipscan.build(data, 0)
        assert isinstance(message, SipMessage)  # every line's value from the caches
        assert message.call_id is message_module._CALL_IDS["c1@a"]
        from_line = "From: <sip:a1@a.example>;tag=f1"
        assert message._from is message_module._TAGS[from_line][0]
        assert message.cseq is message_module._CSEQ_LINES["CSeq: 2 BYE"]
        values.append(_message_values(message))
        for name in CACHES:  # Python empties its caches: the tables follow
            getattr(message_module, name).clear()
    assert values[0] == values[1]
    many = [
        _one_call_message(i % 300 if i % 50 == 0 else 300 + i, tag)
        for tag in ("f", "g")
        for i in range(20_000)  # past the tables' bound; every 50th message seen before
    ]
    with pytest.MonkeyPatch.context() as patch:  # the reference: the Python road
        patch.setattr(message_module, "_fill", message_module._fill_py)
        patch.setattr(message_module, "_build", None)
        expected = [_message_values(SipMessage.parse(data)) for data in many]
    for name in CACHES:  # the C road reads the new lines itself
        getattr(message_module, name).clear()
    assert [_message_values(SipMessage.parse(data)) for data in many] == expected
    assert SipMessage.parse(_one_call_message(7)).call_id is message_module._CALL_IDS["c7@a"]
