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


def test_the_map_is_bounded_and_kept_only_for_a_found_name() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        maps: dict[bytes, object] = {}
        monkeypatch.setattr(message_module, "_VALUE_MAPS", maps)
        monkeypatch.setattr(message_module, "VALUE_MAPS_LIMIT", 3)
        found = []
        for n in range(10):
            m = SipMessage.parse(f"BYE sip:b SIP/2.0\r\nRoute: <sip:r{n};lr>\r\n\r\n".encode())
            assert m.header("Max-Forwards") is None  # no such line: nothing kept
            assert not maps or m.raw not in maps
            found.append(m.header_values("Route"))
            assert m.raw in maps and len(maps) <= 3
        assert found == [[f"<sip:r{n};lr>"] for n in range(10)]


def test_a_value_read_is_a_copy() -> None:
    m = SipMessage.parse(b"INVITE sip:b SIP/2.0\r\nAllow: INVITE\r\nAllow: BYE\r\n\r\n")
    m.header_values("Allow").append("changed")
    assert m.header_values("Allow") == ["INVITE", "BYE"]
