"""The C road of rtcscope.sip.routing's reads on a message's bytes as they are
(rtcscope.sip._routescan: may_hold_route, usual_max_forwards, usual_contact_text), and of
plain_sip_target on a URI's text, against their specification, the Python road
(raw_may_hold_route_py, usual_max_forwards_py, usual_contact_text_py, plain_sip_target_py)
and the message's own reading, on any bytes or text; built and active under
CI=true; RTCSCOPE_PURE=1 selects the Python road.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope.sip import routing
from rtcscope.sip.message import SipMessage
from rtcscope.sip.routing import (
    may_hold_route,
    message_contact_text,
    message_max_forwards,
    plain_sip_target_py,
    raw_may_hold_route_py,
    usual_contact_text_py,
    usual_max_forwards_py,
)
from tests.conftest import IN_CI, c_module, needs_built
from tests.sip.test_calls_walk_c import road_of_copy
from tests.sip.test_routing import _URI_PIECES

_routescan = c_module("rtcscope.sip._routescan")

needs_c = needs_built(_routescan)

# Pieces near the shapes the reads must decide or leave to the Python road: both names in
# any case, lookalikes, blanks, colons, digits, line ends, empty and folded lines, and
# characters that lower-case to nothing ASCII ('\r' | 0x20 is '-').
_PIECES = st.sampled_from(
    [
        *(b"Max-Forwards", b"max-forwards", b"MAX-FORWARDS", b"mAx-fOrWaRdS", b"max\rforwards"),
        *(b"Max_Forwards", b"X-Max-Forwards", b"route", b"Record-Route", b"ROUTE", b"rOuTe"),
        *(b"rout", b"oute", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\n\n"),
        *(b"\n\r\n", b"\r\n ", b"\r\n\t", b"70", b"0", b"007", b"9" * 19, b"-1", b"x", b"\xc4"),
        *(b"ACK sip:b@h SIP/2.0\r\n", b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"),
    ]
)
_RAW = st.one_of(st.lists(_PIECES, max_size=12).map(b"".join), st.binary(max_size=120))


@needs_c
@pytest.mark.parametrize("name", [b"route", b"rOUTE", b"Max-Forwards", b"max-forwardS"])
def test_the_names_are_found_at_every_place_of_the_search_words(name: bytes) -> None:
    """The C search reads eight bytes at a time: the name (or its first letter alone, or the
    name cut short) at every place across and around those words, at the end of the bytes
    and past it, is found where the Python road finds it."""
    assert _routescan is not None
    for before in range(20):
        for after in range(10):
            for filler in (b"x", b"R", b"M", b"\xd2", b"\xf2", b"r"):
                for piece in (name, name[:-1], name[:1], name.upper()):
                    raw = filler * before + piece + b"x" * after
                    assert _routescan.may_hold_route(raw) is raw_may_hold_route_py(raw)
                    line = b"ACK x\r\n" + raw + b": 70\r\n"
                    assert _same(_routescan.usual_max_forwards(line), usual_max_forwards_py(line))


def _same(a: object, b: object) -> bool:
    """Equal and of one type (False == 0 in Python: a decision is not a number)."""
    return type(a) is type(b) and a == b


@example(b"\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nMax-Forwards: 70")
@example(b"ACK x\r\nMax-Forwards: 70\r\n ")
@example(b"ACK x\r\n\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nmax\rforwards: 70\r\nMax-Forwards: 1\r\n")
@example(b"Max-Forwards: 70\r\n")
@given(raw=_RAW)
def test_the_python_road_is_the_message_s_reading(raw: bytes) -> None:
    assert raw_may_hold_route_py(raw) is may_hold_route(raw.lower())
    usual = usual_max_forwards_py(raw)
    expected = SipMessage.parse(raw).max_forwards
    if usual is None:
        assert expected is None
    elif usual is not False:
        assert _same(usual, expected)
    # message_max_forwards reads the same with or without the lowered bytes (either road)
    assert _same(message_max_forwards(SipMessage.parse(raw)), expected)
    assert _same(message_max_forwards(SipMessage.parse(raw), raw.lower()), expected)


@needs_c
@example(b"\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\r\nMax-Forwards: 70")
@example(b"ACK x\r\nMax-Forwards: " + b"9" * 19 + b"\r\n")
@example(b"ACK x\r\nMax-Forwards: " + b"9" * 18 + b"\r\n")
@example(b"ACK x\r\nMax-Forwards: " + b"0" * 19 + b"70\r\n")
@example(b"ACK x\r\nMax-Forwards: 000\r\n")
@example(b"ACK x\r\nMax-Forwards: 70\r\n\t")
@example(b"ACK x\r\nMax-Forwards: 70\n\n")
@example(b"ACK x\n\nMax-Forwards: 70\r\n")
@example(b"ACK x\n\r\nMax-Forwards: 70\r\n")
@example(b"ACK x\n\rMax-Forwards: 70\r\n")
@example(b"ACK x\r\nmax\rforwards: 1\r\n")
@example(b"ACK x\r\nMAX-FORWARDS :\t70 \r \r\n")
@example(b"")
@given(raw=_RAW)
def test_the_c_road_reads_as_the_python_road(raw: bytes) -> None:
    assert _routescan is not None
    assert _routescan.may_hold_route(raw) is raw_may_hold_route_py(raw)
    found = _routescan.usual_max_forwards(raw)
    usual = usual_max_forwards_py(raw)
    # (more digits, leading zeros aside, than a long long holds: the Python road reads them)
    assert _same(found, usual) or (found is False and isinstance(usual, int) and usual >= 10**18)


@needs_c
def test_the_c_road_takes_bytes_only() -> None:
    assert _routescan is not None
    for read in (
        _routescan.may_hold_route,
        _routescan.usual_max_forwards,
        _routescan.usual_contact_text,
    ):
        with pytest.raises(TypeError):
            read("Max-Forwards: 70")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            read(bytearray(b"route"))  # type: ignore[arg-type]


# Contact lines near the usual shape the C road decides and the shapes it leaves to the
# Python road: both names in any case, lookalikes, blanks and bytes outside ASCII around the
# name, every part of the usual URI and its near misses (ports at the 65535 edge, leading
# zeros, IPv6, parameters, characters the regex classes turn away), what follows the '>',
# folded, empty and bare-LF lines, the end of the bytes.
_CONTACT_NAME = st.sampled_from(
    [b"Contact", b"contact", b"CONTACT", b"m", b"M", b"Contacts", b"Mx", b"X-Contact", b"Via"]
)
_CONTACT_BLANK = st.sampled_from([b"", b"", b"", b" ", b"\t", b"\x0b", b"\r", b"\x1c", b"\xc2\xa0"])
_CONTACT_VALUE = st.tuples(
    st.sampled_from([b" ", b"", b"  \t", b"\x0b", b' "Bob" ', b"Bob ", b" sip:a@h", b" *"]),
    st.sampled_from([b"<", b"<", b""]),
    st.sampled_from([b"sip:", b"SIPS:", b"sIp:", b"sipx:", b"tel:", b"sip", b"si:"]),
    st.sampled_from([b"", b"alice@", b"a.b-c%41@", b"@", b"a:pw@", b"a b@", b"\xc3\xa4@", b"a@b@"]),
    st.sampled_from(
        [b"192.0.2.1", b"h", b"Host_1.example", b"", b"[::1]", b"[]", b"[::1", b"h\xc3"]
    ),
    st.sampled_from(
        [b"", b":5060", b":0", b":0000", b":65535", b":65536", b"::1", b":01234", b":123456", b":"]
    ),
    st.sampled_from(
        [b"", b";lr", b";transport=tcp;ob", b";", b';a="b"', b";a@b", b";x,y", b";\xc3"]
    ),
    st.sampled_from([b">", b">", b"", b">;q=1", b">, <sip:b@h>", b'>;x="a,b"', b"> \xff", b">>"]),
)
_CONTACT_END = st.sampled_from(
    [b"\r\n", b"\r\n", b"\n", b"\r\n ", b"\r\n\t", b"\r\n\r\n", b"\n\n", b"\n\r\n", b""]
)
_CONTACT_LINE = st.tuples(
    _CONTACT_BLANK,
    _CONTACT_NAME,
    _CONTACT_BLANK,
    st.sampled_from([b":", b":", b""]),
    _CONTACT_VALUE.map(b"".join),
    _CONTACT_END,
).map(b"".join)
_CONTACT_RAW = st.one_of(
    st.tuples(
        st.sampled_from([b"SIP/2.0 200 OK\r\n", b"INVITE sip:b@h SIP/2.0\n", b"\r\n", b""]),
        st.lists(_CONTACT_LINE, max_size=4).map(b"".join),
        st.sampled_from([b"", b"Via: x\r\n", b"\r\nm: <sip:body@h>\r\n"]),
    ).map(b"".join),
    _RAW,
)


@needs_c
@given(raw=_CONTACT_RAW)
def test_the_c_road_reads_the_contact_as_the_python_road(raw: bytes) -> None:
    """The C road answers as the Python road (its specification) or leaves the bytes to it
    (False); message_contact_text, either road, answers as the Python road."""
    assert _routescan is not None
    found = _routescan.usual_contact_text(raw)
    expected = usual_contact_text_py(raw)
    assert found is False or _same(found, expected)
    if routing.ROUTE_SCAN_ROAD == "c":  # the Python road is usual_contact_text_py itself
        assert _same(message_contact_text(raw), expected)
        assert _same(message_contact_text(raw, raw.lower()), expected)


@needs_c
@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"Contact: <sip:alice@192.0.2.1:5060>", "sip:alice@192.0.2.1:5060"),
        (b"m:<SIPS:h;transport=tls>;expires=60", "SIPS:h;transport=tls"),
        (b"CONTACT :\t<sip:[2001:db8::1]:65535>, <sip:b@h>", "sip:[2001:db8::1]:65535"),
        (b"contact: <sip:0000@h:0>", "sip:0000@h:0"),
    ],
)
def test_the_c_road_decides_the_usual_contact(line: bytes, text: str) -> None:
    """What the diagnosis asks of every call's 2xx and INVITE is read in C, not left over."""
    assert _routescan is not None
    for raw in (b"SIP/2.0 200 OK\r\n" + line + b"\r\n\r\n", b"SIP/2.0 200 OK\r\n" + line):
        assert _routescan.usual_contact_text(raw) == text == usual_contact_text_py(raw)
    assert _routescan.usual_contact_text(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\nm: <sip:b@h>") is None


@needs_c
@pytest.mark.parametrize(
    ("raw", "c", "python"),
    [
        # the port's edge, a name with more than blanks around it, a folded line, no '>'
        (b"OK\r\nContact: <sip:a@h:65536>\r\n", False, False),
        (b"OK\r\nContact: <sip:a@h:01234>\r\n", False, False),
        (b"OK\r\nContact\x0b: <sip:a@h>\r\n", False, False),
        (b"OK\r\nContact: <sip:a@h>\r\n folded\r\n", False, False),
        (b"OK\r\nContact: <sip:a@h", False, False),
        # left to the Python road, which reads them
        (b"OK\r\nContact: Bob <sip:a@h>\r\n", False, "sip:a@h"),
        (b"OK\r\nContact: sip:a@h;x=1\r\n", False, "sip:a@h"),
        (b"OK\r\nContact:\r\nm: <sip:b@h>\r\n", False, "sip:b@h"),
        # no Contact line before the header lines end
        (b"OK\r\n\r\nContact: <sip:a@h>\r\n", None, None),
        (b"OK\n\nContact: <sip:a@h>\r\n", None, None),
        (b"", None, None),
    ],
)
def test_the_c_road_leaves_the_near_misses(raw: bytes, c: object, python: object) -> None:
    assert _routescan is not None
    assert _same(_routescan.usual_contact_text(raw), c)
    assert _same(usual_contact_text_py(raw), python)
    assert _same(message_contact_text(raw), python)


@needs_c
@example(text="sips:h")
@example(text="sip:Bob@Host.EXAMPLE:05060")
@example(text="sip:a@h:65536")
@example(text="sip:a\u3000b@h")
@example(text="sip:\xe9@h")
@given(
    text=st.one_of(
        _URI_PIECES.map("".join),
        st.text(max_size=30),
        st.text(max_size=30).map("sip:".__add__),
        st.text(alphabet='sip:@.-;?<>" \t\x1c\x85\xa0\u3000aZ09\xe9', max_size=20),
    )
)
def test_the_c_road_reads_the_plain_sip_target_as_the_python_road(text: str) -> None:
    assert _routescan is not None
    assert _routescan.plain_sip_target(text) == plain_sip_target_py(text)


@needs_c
def test_the_plain_sip_target_c_road_takes_text_only() -> None:
    assert _routescan is not None
    with pytest.raises(TypeError):
        _routescan.plain_sip_target(b"sip:h")  # type: ignore[arg-type]


def test_the_accelerator_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: there `make install` must have built the C road."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _routescan is not None
    assert routing.ROUTE_SCAN_ROAD == "c"
    assert routing.plain_sip_target is _routescan.plain_sip_target
    assert routing._c_usual_contact_text is _routescan.usual_contact_text
    assert routing._c_usual_max_forwards is _routescan.usual_max_forwards


def _road_with(monkeypatch: pytest.MonkeyPatch, pure: str | None) -> str:
    return road_of_copy(monkeypatch, routing, pure, "ROUTE_SCAN_ROAD")


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    built = "c" if _routescan is not None else "python"
    assert _road_with(monkeypatch, "1") == "python"
    assert _road_with(monkeypatch, "0") == built
    assert _road_with(monkeypatch, None) == built


def test_rtcscope_pure_reads_every_message_on_the_python_road(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not only ROUTE_SCAN_ROAD: RTCSCOPE_PURE=1 leaves no C read in the copy's roads."""
    monkeypatch.setenv("RTCSCOPE_PURE", "1")
    name = "_routing_pure_copy"
    spec = importlib.util.spec_from_file_location(name, routing.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, copy)  # its dataclasses look it up
    spec.loader.exec_module(copy)
    assert copy.ROUTE_SCAN_ROAD == "python"
    assert copy.plain_sip_target is copy.plain_sip_target_py
    assert copy.raw_may_hold_route is copy.raw_may_hold_route_py
    assert copy._c_usual_contact_text is None
    assert copy._c_usual_max_forwards is None
