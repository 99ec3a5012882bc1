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
    _via_parts_by_steps,
    name_addr_tag,
    param_value,
    split_params,
)
from tests.sip.test_keys import _FUZZ, _PARAMS, _name_addrs, _via_values

_SPACES = st.sampled_from(["", " ", "\t", "\x0b", "\u00a0", "\u2003", "\n"])


@settings(max_examples=500)
@given(st.one_of(_name_addrs(), _FUZZ), _SPACES, _SPACES)
def test_name_addr_one_match_equals_steps(text: str, before: str, after: str) -> None:
    text = before + text + after
    raw = text.strip()
    if _SIMPLE_NAME_ADDR.fullmatch(raw) is not None:
        assert name_addr_tag(text) == _name_addr_tag_by_steps(raw)


@settings(max_examples=500)
@given(st.one_of(_via_values(), _FUZZ.map(lambda t: "SIP/2.0/UDP " + t)), _SPACES, _SPACES)
def test_via_one_match_equals_steps(text: str, space: str, end: str) -> None:
    text = text.replace(" ", space or " ", 1) + end
    match = _SIMPLE_VIA.fullmatch(text)
    if match is not None:
        host, port, params = match.groups()
        assert _via_parts_by_steps(text) == (host, port, params or "")


def test_the_usual_values_take_the_one_match_road() -> None:
    assert _SIMPLE_NAME_ADDR.fullmatch('"Alice 0" <sip:alice0@10.1.0.1>;tag=fa0') is not None
    assert _SIMPLE_NAME_ADDR.fullmatch("<sip:bob@10.2.0.1>") is not None
    assert _SIMPLE_VIA.fullmatch("SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK0i") is not None


@given(_PARAMS, st.sampled_from(["tag", "branch", "x"]))
def test_param_value_equals_the_parameter_list(text: str, name: str) -> None:
    params = text[1:]
    found = (v if v is not None else "" for k, v in split_params(params) if k.lower() == name)
    expected = next(found, None)
    assert param_value(params, name) == expected
