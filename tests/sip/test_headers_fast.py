"""The one-match roads of the key cutters agree with their step-by-step roads: the usual
name-addr and Via read by one regex give what reading them step by step gives, and the
usual first parameter gives what the parameter loop gives (test_keys checks both against
the full parse)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.sip.headers import (
    _SIMPLE_NAME_ADDR,
    _SIMPLE_VIA,
    _name_addr_tag_by_steps,
    _via_by_steps,
    name_addr_tag,
    param_value,
    split_params,
    via_sent_by_branch,
)
from tests.sip.test_keys import _FUZZ, _PARAMS, _name_addrs, _via_values

_SPACES = st.sampled_from(["", " ", "\t", "\x0b", "\u00a0", "\u2003", "\n"])
# Near the usual shapes, where the one-match road is taken: its edges.
_USUAL_PARAMS = st.lists(
    st.sampled_from(
        [";tag=x", ";tag=", ";TAG=y", ";tag=a b", ';tag="q"', ";tag=z ", ";x=1", ";lr",
         ";branch=z9hG4bK1", ";branch=", ";Branch=b", ";branch=a;", ";rport", ';x="1"',
         "; branch=c", ";branch =d", ";tag=\u00a0t", ";branch=\u2003e"]
    ),
    max_size=3,
).map("".join)  # fmt: skip
_USUAL_NAME_ADDRS = st.builds(
    lambda display, uri, params: f"{display}<{uri}>{params}",
    st.sampled_from(["", '"Alice 0" ', "Bob ", '"a<b" ', '"x;tag=1" ']),
    st.sampled_from(["sip:a@10.0.0.1", "sip:b@h.example:5060", "sips:c@[::1]:5061;lr"]),
    _USUAL_PARAMS,
)
_USUAL_VIAS = st.builds(
    lambda sent_by, params: f"SIP/2.0/UDP {sent_by}{params}",
    st.sampled_from(["10.0.0.1:5060", "h.example", "h:65536", "h :5060", "h:0050"]),
    _USUAL_PARAMS,
)


@settings(max_examples=500)
@given(st.one_of(_name_addrs(), _FUZZ, _USUAL_NAME_ADDRS), _SPACES, _SPACES)
def test_name_addr_one_match_equals_steps(text: str, before: str, after: str) -> None:
    text = before + text + after
    raw = text.strip()
    if _SIMPLE_NAME_ADDR.fullmatch(raw) is not None:
        assert name_addr_tag(text) == _name_addr_tag_by_steps(raw)


@settings(max_examples=500)
@given(
    st.one_of(_via_values(), _FUZZ.map(lambda t: "SIP/2.0/UDP " + t), _USUAL_VIAS),
    _SPACES,
    _SPACES,
)
def test_via_one_match_equals_steps(text: str, space: str, end: str) -> None:
    text = text.replace(" ", space or " ", 1) + end
    if _SIMPLE_VIA.fullmatch(text) is not None:
        assert via_sent_by_branch(text) == _via_by_steps(text)


def test_the_usual_values_take_the_one_match_road() -> None:
    """The usual values are read by the match alone (the tag, the branch in its group)."""
    found = _SIMPLE_NAME_ADDR.fullmatch('"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0')
    assert found is not None and found.groups() == ("fa0", None)
    found = _SIMPLE_NAME_ADDR.fullmatch("<sip:bob@10.2.0.1>")
    assert found is not None and found.groups() == (None, "")
    found = _SIMPLE_VIA.fullmatch("SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK0i;rport")
    assert found is not None and found.groups() == ("10.1.0.1", "5060", "z9hG4bK0i", None)


@given(_PARAMS, st.sampled_from(["tag", "branch", "x"]))
def test_param_value_equals_the_parameter_list(text: str, name: str) -> None:
    params = text[1:]
    found = (v if v is not None else "" for k, v in split_params(params) if k.lower() == name)
    expected = next(found, None)
    assert param_value(params, name) == expected
