"""The usual name-addr shapes read by one match agree with the step-by-step parser.

``parse_name_addr`` builds the usual From/To/Contact/Route values (``"D" <sip:u@h:p;x>;tag=t``,
``<sip:u@h>;tag=t``, ``sip:u@h;tag=t``) from one regex match and reads everything else step
by step (``_name_addr_by_steps``, with ``parse_uri``). Both roads must give equal objects
field by field, or the same error: checked on generated values built from the pieces real
traffic and RFC 3261/4475 show (display names with quotes, escapes, commas, semicolons and
'<', ``<>`` with parameters inside and outside, IPv6 ``[::1]`` and unbracketed, no scheme,
tel:, sips:, odd case, whitespace, passwords, ``?headers``, bad ports) and on mutated text.
The step-by-step road gets an empty URI cache of its own (the match road's URIs are kept
there), so nothing the match road built is read back as the reference.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope.errors import SipError
from rtcscope.sip import headers as headers_module
from rtcscope.sip import uri as uri_module
from rtcscope.sip.headers import NameAddr, parse_name_addr
from tests.conftest import IN_CI

# Each piece: what the usual shapes hold, then what they do not.
DISPLAYS = (
    ["", '"Alice 0" ', '"Alice 0"', "Bob ", "Bob", '"a,b;c" ', '"x<y>" ', '""', "a>b ", '"é" '],
    ['"a\\"b" ', '"tab\there" \t', "  spaced  ", '"a" b ', "a<b ", '"unclosed ', "\\bs ",
     '"a\\\\" ', "é ", "a\x0bb\x0c "],
)  # fmt: skip
SCHEMES = (["sip:", "SIP:", "sIpS:", "sips:"], ["tel:", "TEL:", "http:", "", "urn:x:"])
USERS = (
    ["alice0@", "", "@", "%20x@", "+12125550100@"],
    ["a;b@", "a:pw@", "a b@", "a?x=1@", "a@b@"],
)
HOSTS = (
    ["10.1.0.1", "b.example", "[::1]", "[2001:db8::1]", "h_o-st", "B.Example."],
    ["::1", "2001:db8::1", "", "[::1", "[::1]x", "+1-201-555-0123", "h st", "é.example"],
)
PORTS = ([":5060", ":65535", ":0060", ":0"], [":65536", ":", ":x", ":06553", ": 5060"])
URI_PARAMS = ([";lr", ";transport=tcp", ";LR;x", ";", ";a=;b"], [";maddr=x@y", ";a=b?c", ";x=[1]"])
HEADERS = ([], ["?subject=x", "?a=b&c", "?"])
HEADER_PARAMS = (
    ["", ";tag=fa0", ";tag=a;expires=3", ';q="0.5;x"', " ; tag = y", ";Tag=T", ";", ";tag",
     ';x="a,b"', ";expires=60;q=0.7", "junk", " ;tag=x "],
    [],
)  # fmt: skip
SPACES = ["", " ", "\t", " \r\n "]
PIECES = {
    "displays": DISPLAYS,
    "schemes": SCHEMES,
    "users": USERS,
    "hosts": HOSTS,
    "ports": PORTS,
    "uri_params": URI_PARAMS,
    "headers": HEADERS,
    "header_params": HEADER_PARAMS,
}
NAMES = list(PIECES)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    # Near the usual shapes: every piece usual but at most one (named here), or any pieces.
    odd = draw(st.sampled_from([None, "any", *NAMES]))

    def piece(name: str, optional: bool = True) -> str:
        usual, other = PIECES[name]
        if odd == name and other:
            return draw(st.sampled_from(other))
        if optional and draw(st.booleans()):
            return ""
        choices = usual + other if odd == "any" else usual
        return draw(st.sampled_from(choices)) if choices else ""

    uri = (
        piece("schemes", optional=False)
        + piece("users")
        + piece("hosts", optional=False)
        + piece("ports")
        + piece("uri_params")
        + piece("headers")
    )
    params = piece("header_params")
    form = draw(st.sampled_from(["name-addr", "name-addr", "addr-spec", "spaced brackets"]))
    if form == "name-addr":
        text = piece("displays") + "<" + uri + ">" + params
    elif form == "addr-spec":
        text = uri + params
    else:
        text = piece("displays") + "< " + uri + " >" + params
    text = draw(st.sampled_from(SPACES)) + text + draw(st.sampled_from(SPACES))
    # A mutation: a character replaced, inserted or dropped.
    if odd == "any" and draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(["", "<", ">", '"', "\\", ";", ",", "@", ":", " ", "x"]))
        text = text[:at] + char + text[at + draw(st.integers(0, 1)) :]
    return text


def both_roads(text: str) -> tuple[NameAddr | str, NameAddr | str]:
    """(the answer of parse_name_addr, the step-by-step road's): an object or the error."""

    def answer(parse: object) -> NameAddr | str:
        try:
            return parse(text)  # type: ignore[operator, no-any-return]
        except SipError as exc:
            return f"error: {exc}"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uri_module, "_URIS", {})
        got = answer(parse_name_addr)
        patch.setattr(uri_module, "_URIS", {})
        reference = answer(lambda t: headers_module._name_addr_by_steps(t.strip()))
    return got, reference


# More examples than the profile's: a piece off the usual shapes is drawn ~2% of the time.
@settings(max_examples=1000)
@given(addresses())
@example('"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0')
@example("<sip:bob0@10.2.0.1:5060;transport=udp>;tag=tb0")
@example("sip:alice@a.example;tag=x")
@example("<sips:[::1]:5061>")
@example("Bob <sip:b@b.example>;tag=1")
@example("sIp:B@10.0.0.1:5060;tag=x;q=1")
def test_the_usual_road_and_the_steps_agree(text: str) -> None:
    got, reference = both_roads(text)
    assert got == reference
    if isinstance(got, NameAddr) and isinstance(reference, NameAddr) and got.uri is not None:
        assert reference.uri is not None
        # Field by field, types too (a port "5060" is not 5060).
        for name in got.uri.__slots__:
            assert type(getattr(got.uri, name)) is type(getattr(reference.uri, name)), name


@given(st.text(alphabet='<>";,@:[]\\ \tsipSIP.0123abc=tag', max_size=40))
def test_the_roads_agree_on_any_text(text: str) -> None:
    got, reference = both_roads(text)
    assert got == reference


@pytest.mark.parametrize(
    "text",
    [
        '"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0',
        "<sip:bob0@10.2.0.1>",
        "<sip:bob0@10.2.0.1>;tag=tb0",
        "sip:alice@a.example;tag=x",
        "Bob <SIPS:b@[::1]:5061;transport=tls>;tag=1;x",
        "<sip:10.0.0.1;lr>",
    ],
)
def test_the_usual_shapes_take_the_one_match_road(text: str) -> None:
    """The shapes the road is for are read by it (its being fast is what it is for)."""
    assert headers_module._usual_name_addr(text.strip()) is not None


@pytest.mark.parametrize(
    "text", ['"a\\"b" <sip:x@y>', "<sip:a:pw@h>", "<tel:+1>", "< sip:a@b >", "<sip:a@b?x=1>"]
)
def test_other_shapes_are_read_step_by_step(text: str) -> None:
    assert headers_module._usual_name_addr(text) is None
    got, reference = both_roads(text)
    assert got == reference


def _name_addr_cut() -> object:
    try:
        from rtcscope.sip._callwalk import name_addr_uri
    except ImportError:
        pytest.skip("the C accelerator is not built here")
    return name_addr_uri


@settings(max_examples=1000)
@given(
    addresses()
    | st.text(alphabet='<>";,@:[]\\ \tsipSIP.0123abc=tag\x01\x1c\x7f\u00e9', max_size=40)
)
@example('"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0')
@example("a\x01b <sip:h>")
@example("<sip:a\x1c@h>")
@example("<sip:h;x\x01>")
@example("<sip:h:65535>")
@example("<sip:h:065535>")
@example("<sip:h:65536>")
@example("<sip:[::1]x>")
def test_the_c_cut_of_a_usual_name_addr_is_the_match(text: str) -> None:
    """rtcscope.sip._callwalk.name_addr_uri answers only where the _USUAL_NAME_ADDR match
    does, with its URI group (None: not sure, the match decides), and answers wherever the
    match does on a printable-ASCII text (the shapes it is for)."""
    cut = _name_addr_cut()
    got = cut(text)  # type: ignore[operator]
    match = headers_module._USUAL_NAME_ADDR.fullmatch(text)
    if match is not None and all(" " <= c <= "~" for c in text):
        assert got is not None
    if got is not None:
        assert match is not None
        assert got == match.group(3)
        assert type(got) is str


def test_the_c_cut_takes_the_usual_shapes() -> None:
    cut = _name_addr_cut()
    for text in ('"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0', "<sip:b@h:5060;lr>", "B <sips:[::1]>"):
        assert cut(text) == headers_module._USUAL_NAME_ADDR.fullmatch(text).group(3)  # type: ignore[operator, union-attr]


def test_the_name_addr_road(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCSCOPE_PURE", "1")
    assert headers_module._name_addr_cut() is None
    monkeypatch.delenv("RTCSCOPE_PURE")
    if IN_CI:
        assert headers_module._name_addr_cut() is not None
        assert headers_module.NAME_ADDR_ROAD == "c"
