"""Reads by name through the bounded header map give what the general parser gives.

``header``, ``header_values`` and ``header_lines`` read a message's header block once into
a map kept in a bounded module cache (``_VALUE_MAPS``), later reads of the same message
from it. The reference is the general line-by-line parser on the same bytes (the shape
road turned off, a map of its own): the lines it reads as :class:`Header` objects, each
value of a name's lines in order. Every name is read twice, from a cold and a warm cache,
in a drawn order, for generated and mutated messages (folding, LF-only, compact and odd-case
names, ``Name :``, duplicates, cut bytes) and for a cache so small it is cleared between
reads.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.sip import message as message_module
from rtcscope.sip.headers import header_key
from rtcscope.sip.message import SipMessage
from tests.sip.test_message_shapes import messages

# Every name of the generated lines in several spellings, and names no line has.
NAMES = [
    "Via", "v", "VIA", "From", "f", "to", "T", "Call-ID", "i", "call-id", "CSeq",
    "Content-Length", "l", "Content-Type", "c", "Contact", "m", "Max-Forwards", "Route",
    "Record-Route", "X-Odd", "Subject", "s", "no colon", "été", "X-Bad", "Allow", "k", "",
]  # fmt: skip


def reference(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(lookup key, value) of every header line as the general parser reads them."""
    with monkeypatch.context() as patch:
        patch.setattr(message_module, "_shape_of", lambda lines: None)
        patch.setattr(message_module, "_fill", message_module._fill_py)
        patch.setattr(message_module, "_build", None)
        patch.setattr(message_module, "_VALUE_MAPS", {})
        return [(header_key(h.name), h.value) for h in SipMessage.parse(data).headers]


def reads(m: SipMessage, name: str) -> tuple[object, ...]:
    return (
        m.header(name),
        m.header_values(name),
        [(h.name, h.value, h.raw) for h in m.header_lines(name)],
    )


def expected(m: SipMessage, name: str, lines: list[tuple[str, str]]) -> tuple[object, ...]:
    key = header_key(name)
    values = [value for k, value in lines if k == key]
    return (
        values[0] if values else None,
        message_module._list_values(key, values),
        [(h.name, h.value, h.raw) for h in m.headers if header_key(h.name) == key],
    )


@given(messages(), st.permutations(NAMES), st.sampled_from([1, 2, 4096]))
def test_reads_through_the_map_agree_with_the_general_parser(
    data: bytes, names: list[str], limit: int
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        lines = reference(data, monkeypatch)
        monkeypatch.setattr(message_module, "_VALUE_MAPS", {})
        monkeypatch.setattr(message_module, "VALUE_MAPS_LIMIT", limit)
        m = SipMessage.parse(data)
        other = SipMessage.parse(data)  # the same bytes: the same map
        for name in names:
            want = expected(m, name, lines)
            assert reads(m, name) == want  # cold for the first name found
            assert reads(m, name) == want  # from the map
            assert reads(other, name) == want
        # The checks of every header read from the same map agree with the reference too.
        fresh = SipMessage.parse(data)
        assert fresh.max_forwards == (
            int(mf.strip())
            if (mf := next((v for k, v in lines if k == "max-forwards"), None)) is not None
            and mf.strip().isdigit()
            and mf.strip().isascii()
            else None
        )
        assert len(message_module._VALUE_MAPS) <= limit


def test_the_map_is_bounded_and_kept_only_where_the_lines_are_folded() -> None:
    """A plain line is read where the search finds it (no map kept); a folded one needs the
    map, kept bounded."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        maps: dict[bytes, object] = {}
        monkeypatch.setattr(message_module, "_VALUE_MAPS", maps)
        monkeypatch.setattr(message_module, "VALUE_MAPS_LIMIT", 3)
        found = []
        for n in range(10):
            m = SipMessage.parse(f"BYE sip:b SIP/2.0\r\nRoute: <sip:r{n};lr>\r\n\r\n".encode())
            assert m.header("Max-Forwards") is None  # no such line: nothing kept
            found.append(m.header_values("Route"))
            assert m.raw not in maps
            folded = SipMessage.parse(
                f"BYE sip:b SIP/2.0\r\nRoute: <sip:r{n};lr>,\r\n <sip:x>\r\n\r\n".encode()
            )
            assert folded.header_values("Route") == [f"<sip:r{n};lr>", "<sip:x>"]
            assert folded.raw in maps and len(maps) <= 3
        assert found == [[f"<sip:r{n};lr>"] for n in range(10)]


# Every character str.strip() takes off a header name (str.isspace), LF aside (it ends the
# line), computed here: the probe must allow each of them around a name.
BLANKS = [c for c in map(chr, range(0x110000)) if c.isspace() and c != "\n"]


def test_the_probe_allows_every_blank_strip_takes_off() -> None:
    blank = re.compile(message_module._NAME_BLANK + rb"\Z")
    assert all(blank.match(c.encode()) for c in BLANKS)
    others = (chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert not [c for c in others if not c.isspace() and blank.match(c.encode())]


ODD_NAMES = ["Via", "v", "VIA", "Max-Forwards", "MAX-FORWARDS", "Contact", "m", "Route",
             "Supported", "k", "\u212a", "Allow-Events", "u", "X-Kind", "X-\u212aind"]  # fmt: skip


@st.composite
def odd_blank_messages(draw: st.DrawFn) -> bytes:
    """Header lines whose names carry blanks str.strip() takes off (VT, FF, CR, FS, NBSP,
    U+3000, ...) before or after them, the Kelvin sign for "k", any case, some folded."""
    lines = [b"INVITE sip:b@example.com SIP/2.0"]
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(ODD_NAMES))
        before = draw(st.text(st.sampled_from(BLANKS), max_size=2))
        after = draw(st.text(st.sampled_from(BLANKS), max_size=2))
        value = draw(st.sampled_from(["70", "<sip:a@b;lr>", "SIP/2.0/UDP h;branch=z9hG4bKx", ""]))
        lines.append(f"{before}{name}{after}: {value}".encode())
        if draw(st.integers(0, 5)) == 0:
            lines.append(b" ;folded")
    return b"\r\n".join(lines) + b"\r\n\r\n"


@given(odd_blank_messages(), st.permutations([*NAMES, "Supported", "X-Kind", "Allow-Events"]))
def test_names_between_odd_blanks_read_the_same_cold_and_warm(
    data: bytes, names: list[str]
) -> None:
    """``Via\\x0b:`` is a Via line (the general parser strips the name): ``header`` finds it
    before the message's header map exists (cold) as after (warm), as the parser reads it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        lines = reference(data, monkeypatch)
        monkeypatch.setattr(message_module, "_VALUE_MAPS", {})
        m = SipMessage.parse(data)
        for name in names:
            want = expected(m, name, lines)
            assert reads(SipMessage.parse(data), name) == want  # cold: no map
            m._kept_value_map()
            assert reads(m, name) == want  # warm: from the map
            message_module._VALUE_MAPS.clear()


def test_a_vertical_tab_before_the_colon_is_found_cold() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(message_module, "_VALUE_MAPS", {})
        data = (
            b"ACK sip:b SIP/2.0\r\nVia\x0b: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
            b"Max-Forwards\x0c: 69\r\n\r\n"
        )
        m = SipMessage.parse(data)
        assert m.header("Via") == "SIP/2.0/UDP h;branch=z9hG4bKa"
        assert m.header("Max-Forwards") == "69"
        assert [h.name for h in m.headers] == ["Via", "Max-Forwards"]


@given(messages())
def test_the_via_count_is_the_number_of_via_values(data: bytes) -> None:
    """``via_value_count`` (from the Via lines the parse step kept) is the number of values
    ``header_values("Via")`` gives, before and after the stack is parsed."""
    m = SipMessage.parse(data)
    want = len(SipMessage.parse(data).header_values("Via"))
    assert m.via_value_count() == want
    m.vias  # noqa: B018 - the stack parsed: the count is read from the header values
    assert m.via_value_count() == want


def test_a_value_read_is_a_copy() -> None:
    m = SipMessage.parse(b"INVITE sip:b SIP/2.0\r\nAllow: INVITE\r\nAllow: BYE\r\n\r\n")
    m.header_values("Allow").append("changed")
    assert m.header_values("Allow") == ["INVITE", "BYE"]
