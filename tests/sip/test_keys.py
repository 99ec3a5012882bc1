"""The matching keys cut from header text at parse (From/To tag, top Via sent-by and branch)
equal what the full parse gives (parse_name_addr / parse_via), on hand-checked values and on
generated, hostile headers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.errors import SipError
from rtcscope.sip.headers import (
    name_addr_tag,
    param_value,
    parse_name_addr,
    parse_via,
    split_comma_list,
    via_sent_by_branch,
)
from rtcscope.sip.message import SipMessage


def _full_tag(text: str) -> str | None:
    try:
        return parse_name_addr(text).tag
    except SipError:
        return None


def _full_via(text: str) -> tuple[str, str | None] | None:
    try:
        via = parse_via(text)
    except SipError:
        return None
    return via.sent_by, via.branch


# Values worked out by hand from RFC 3261 20.10/20.20/20.42 and 25.1 (not by our parser).
TAGS = [
    ("Alice <sip:alice@a.example>;tag=1928301774", "1928301774"),
    ('"A;tag=x" <sip:a@a.example>;TAG = abc ;x', "abc"),  # quoted ';', LWS, upper case
    ('"Bob \\" ;tag=no" <sip:b@b.example>;tag=yes', "yes"),  # escaped quote
    ("<sip:a@a.example>;tag", None),  # a tag without value
    ("<sip:a@a.example>", None),
    ("sip:a@a.example;tag=7", "7"),  # addr-spec: every ';' parameter is the header's
    ("<sip:a@a.example;tag=inside>", None),  # a URI parameter, not the header's
    ('<sip:a@a.example>;tag="q;r"', '"q;r"'),
    ("<sip:a@a.example>;x=1;tag=;tag=2", None),  # the first tag counts, and it is empty
    ("<tel:+1-201-555-0123>;tag=t", "t"),
    ("<sip:[2001:db8::1]:5060>;tag=v6", "v6"),
    ("<sip:a@a.example:99999>;tag=1", None),  # the full parse refuses the port
    ("<sip:a@a.example;tag=1", None),  # '<' without '>'
    ("Bob sip:b@b.example;tag=1", None),  # a display name without <URI>
    ("*", None),
]


def test_tags_by_hand() -> None:
    for text, tag in TAGS:
        assert name_addr_tag(text) == tag, text
        assert _full_tag(text) == tag, text


VIAS = [
    ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds", ("10.0.0.1:5060", "z9hG4bK776asdhds")),
    ("SIP / 2.0 / TCP  pc33.example ; BRANCH = z9hG4bKx ; rport", ("pc33.example", "z9hG4bKx")),
    ("SIP/2.0/UDP h.example:05060;branch", ("h.example:5060", None)),
    ("SIP/2.0/UDP h.example;received=1.2.3.4", ("h.example", None)),
    ('SIP/2.0/UDP h.example;x="a;branch=no";branch=yes', ("h.example", "yes")),
]


def test_vias_by_hand() -> None:
    for text, expected in VIAS:
        assert via_sent_by_branch(text) == expected, text
        assert _full_via(text) == expected, text
    # Shapes the shortcut leaves to the full parse (IPv6, a bad port, no sent-by).
    for text in ("SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa", "SIP/2.0/UDP h:70000", "SIP/2.0/UDP"):
        assert via_sent_by_branch(text) is None, text


_NAMES = st.sampled_from(["tag", "TAG", "Tag", " tag ", "tag ", "x", "branch", "BRANCH", "rport"])
_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "abc", " v ", '"q;tag=1"', '"e\\";x"', "z9hG4bK1", "a=b", '"open']),
    st.text(alphabet='az09;="\\ ,<>', max_size=6),
)
_PARAM = st.builds(
    lambda n, v, eq: n if v is None else f"{n}{eq}{v}",
    _NAMES,
    _VALUES,
    st.sampled_from(["=", " = ", "= ", " ="]),
)
_PARAMS = st.lists(_PARAM, max_size=4).map(lambda ps: "".join(";" + p for p in ps))
_URIS = st.sampled_from(
    [
        "sip:a@a.example",
        "SIP:u:pw@h.example:5060",
        "sips:h.example;transport=tcp",
        "sip:h:99999",
        "sip:h:",
        "sip:[::1]:5060",
        "sip:fe80::1:5060",
        "sip:a@b?x=y",
        "sip:a@",
        "sip:",
        "tel:+1",
        "tel:",
        "urn:x",
        "nonsense",
        " sip:a@b ",
        "sip:a;b@h.example;lr",
    ]
)
_DISPLAYS = st.sampled_from(
    ["", "Bob ", '"A;tag=x" ', '"q\\" ;tag=y <z>" ', '"unclosed ', "Al ice", '"<" ']
)


@st.composite
def _name_addrs(draw: st.DrawFn) -> str:
    uri = draw(_URIS)
    if draw(st.booleans()):
        return f"{draw(_DISPLAYS)}<{uri}>{draw(_PARAMS)}"
    return f"{uri}{draw(_PARAMS)}"


_SENT_BYS = st.sampled_from(
    [
        "10.0.0.1:5060",
        "h.example",
        "H.Example:05060",
        "h:65535",
        "h:65536",
        "h:",
        "[::1]:5060",
        "[::1",
        "fe80::1:5060",
        "",
        "a b",
    ]
)


@st.composite
def _via_values(draw: st.DrawFn) -> str:
    transport = draw(st.sampled_from(["UDP", "tcp", "WS", ""]))
    slash = draw(st.sampled_from(["/", " / "]))
    return f"SIP{slash}2.0{slash}{transport} {draw(_SENT_BYS)}{draw(_PARAMS)}"


_FUZZ = st.text(alphabet='<>";\\ =tagsip:@,.\t1', max_size=30)


@settings(max_examples=400)
@given(st.one_of(_name_addrs(), _FUZZ))
def test_tag_equals_full_parse(text: str) -> None:
    assert name_addr_tag(text) == _full_tag(text)


@settings(max_examples=400)
@given(st.one_of(_via_values(), _FUZZ.map(lambda t: "SIP/2.0/UDP " + t)))
def test_via_equals_full_parse(text: str) -> None:
    fast = via_sent_by_branch(text)
    assert fast is None or fast == _full_via(text)


@given(_PARAMS)
def test_param_value_equals_split(text: str) -> None:
    try:
        via = parse_via("SIP/2.0/UDP h" + text)
    except SipError:
        return
    assert param_value(text[1:] if text else "", "branch") == via.param("branch")


@settings(max_examples=300)
@given(
    _name_addrs(),
    _name_addrs(),
    st.lists(st.lists(_via_values(), min_size=1, max_size=3), max_size=3),
    st.booleans(),
)
def test_message_keys_equal_parsed_headers(
    from_: str, to: str, via_lines: list[list[str]], compact: bool
) -> None:
    """Whole messages (full or compact header names, several Via lines, several values in
    one line): the plain strings equal the lazily parsed objects' values."""
    f, t, v = ("f", "t", "v") if compact else ("From", "To", "Via")
    lines = [f"{v}: {', '.join(values)}" for values in via_lines]
    end = ["Call-ID: c", "CSeq: 1 INVITE", "Content-Length: 0", "", ""]
    text = "\r\n".join(
        ["INVITE sip:b@b.example SIP/2.0", *lines, f"{f}: {from_}", f"{t}: {to}", *end]
    )
    message = SipMessage.parse(text.encode("utf-8", "surrogateescape"))
    assert message.from_tag == (message.from_.tag if message.from_ is not None else None)
    assert message.to_tag == (message.to.tag if message.to is not None else None)
    top = message.top_via
    assert message.branch == (top.branch if top is not None else None)
    assert message.sent_by == (top.sent_by if top is not None else None)
    # The objects are those of a full parse of the first From/To line and every Via value.
    assert message.from_tag == _full_tag(from_.strip())
    values = [x for line in lines for x in split_comma_list(line.partition(":")[2])]
    readable = [v for v in map(_full_via, values) if v]
    assert (message.sent_by, message.branch) == (readable[0] if readable else (None, None))
