"""SIP/SIPS/tel URIs: RFC 3261 19.1.3 examples, RFC 3966, RFC 5118 IPv6 references."""

from __future__ import annotations

import pytest

from rtcscope.errors import SipError
from rtcscope.sip.uri import parse_uri


def test_rfc3261_examples() -> None:
    u = parse_uri("sip:alice:secretword@atlanta.com;transport=tcp")
    assert (u.user, u.password, u.host, u.transport) == (
        "alice",
        "secretword",
        "atlanta.com",
        "tcp",
    )
    u = parse_uri("sips:alice@atlanta.com?subject=project%20x&priority=urgent")
    assert u.scheme == "sips" and u.headers == (("subject", "project%20x"), ("priority", "urgent"))
    u = parse_uri("sip:+1-212-555-1212:1234@gateway.com;user=phone")
    assert (u.user, u.password, u.user_param) == ("+1-212-555-1212", "1234", "phone")
    u = parse_uri("sip:alice;day=tuesday@atlanta.com")
    assert (u.user, u.host) == ("alice;day=tuesday", "atlanta.com")
    u = parse_uri("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com")
    assert u.user is None and u.param("method") == "REGISTER"
    assert u.headers == (("to", "alice%40atlanta.com"),)
    u = parse_uri("sip:%61lice@atlanta.com;transport=TCP")
    assert u.user == "%61lice" and u.user_unescaped == "alice" and u.transport == "tcp"


def test_loose_route_params_and_maddr() -> None:
    u = parse_uri("sip:10.243.0.157:5060;r2=on;lr;ftag=8pamukqsoe;did=acc.642f5953")
    assert (u.host, u.port, u.lr, u.param("r2")) == ("10.243.0.157", 5060, True, "on")
    assert u.params[1] == ("lr", None) and str(u) == u.format()
    u = parse_uri("sip:proxy.example.com;maddr=239.255.255.1;ttl=15")
    assert u.maddr == "239.255.255.1"


def test_ipv6_reference() -> None:
    u = parse_uri("sip:[2001:db8::10]:5070;transport=udp")
    assert (u.host, u.host_address, u.port) == ("[2001:db8::10]", "2001:db8::10", 5070)
    u = parse_uri("sip:user@[2001:db8::10]")
    assert u.port is None and u.user == "user"


def test_tel_and_other_schemes() -> None:
    u = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (u.scheme, u.user, u.host, u.param("phone-context")) == (
        "tel",
        "+1-201-555-0123",
        "",
        "example.com",
    )
    assert str(u) == "tel:+1-201-555-0123;phone-context=example.com" == u.format()
    u = parse_uri("urn:service:sos")
    assert (u.scheme, u.opaque) == ("urn", "service:sos")


@pytest.mark.parametrize(
    "text", ["", "nohost", "sip:", "sip:a@", "sip:[::1", "sip:h:99999", "tel:"]
)
def test_bad_uris_raise_sip_error(text: str) -> None:
    with pytest.raises(SipError):
        parse_uri(text)
