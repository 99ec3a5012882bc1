"""The routing engine against RFC 3261's own example and against real kamailio proxies.

References, none of them our output: the strict-routing example of RFC 3261 16.12.1.2 (the
callee's BYE through P4, P3 (strict), P2, P1), and the ACKs that three real kamailio 5.6
proxies forwarded in the test bed (tests/data/testbed-*.pcap, read with tshark).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcscope.errors import InvalidArgument, SipError
from rtcscope.scan.files import sip_messages
from rtcscope.sip.headers import COMPACT_FORMS, parse_name_addr
from rtcscope.sip.message import SipMessage
from rtcscope.sip.routing import (
    Proxy,
    _max_forwards_name,
    _max_forwards_value,
    addresses_of,
    forward_as_proxy,
    header_via_branches,
    in_dialog_request,
    is_unroutable_address,
    may_hold_route,
    normal_host,
    plain_contact_text,
    plain_sip_target,
    plan_route,
    proxies_from_route_set,
    route_set_from_record_route,
    routing_header_values,
    same_uri,
    uri_endpoint,
    uri_host,
    uri_port,
)
from rtcscope.sip.uri import Uri
from tests.conftest import DATA, shared_capture, shared_captures
from tests.peers import tshark_fields

RFC_RECORD_ROUTE = [
    parse_name_addr(v)
    for v in (
        "<sip:p4.domain.com;lr>",
        "<sip:p3.middle.com>",
        "<sip:p2.example.com;lr>",
        "<sip:p1.example.com;lr>",
    )
]


def _u(text: str) -> Uri:
    return Uri.parse(text)


def _texts(values: tuple[Uri, ...] | list[Uri]) -> list[str]:
    return [str(v) for v in values]


def test_route_set_is_reversed_at_the_uac_and_kept_at_the_uas() -> None:
    # RFC 3261 12.1.1 (UAS: as received) and 12.1.2 (UAC: reversed).
    assert _texts(route_set_from_record_route(RFC_RECORD_ROUTE, uac=False)) == [
        "sip:p4.domain.com;lr",
        "sip:p3.middle.com",
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr",
    ]
    assert _texts(route_set_from_record_route(RFC_RECORD_ROUTE, uac=True))[0] == (
        "sip:p1.example.com;lr"
    )


def test_in_dialog_request_loose_and_strict_first_hop() -> None:
    # 12.2.1.1: loose -> R-URI = remote target; strict -> R-URI = first route, target last.
    target = _u("sip:callee@u2.domain.com")
    loose = in_dialog_request([_u("sip:p1.example.com;lr"), _u("sip:p2.example.com")], target)
    assert str(loose.request_uri) == "sip:callee@u2.domain.com"
    assert _texts(loose.routes) == ["sip:p1.example.com;lr", "sip:p2.example.com"]
    strict = in_dialog_request([_u("sip:p1.example.com"), _u("sip:p2.example.com;lr")], target)
    assert str(strict.request_uri) == "sip:p1.example.com"
    assert _texts(strict.routes) == ["sip:p2.example.com;lr", "sip:callee@u2.domain.com"]
    assert strict.strict_first_hop
    empty = in_dialog_request([], target)
    assert empty.routes == () and same_uri(empty.next_hop, target)


def _owned_by(host: str):  # type: ignore[no-untyped-def]
    return lambda uri: uri.host_address == host


def test_rfc3261_16_12_1_2_strict_router_example_hop_by_hop() -> None:
    """The callee's BYE of RFC 3261 16.12.1.2, one proxy step at a time."""
    route_set = route_set_from_record_route(RFC_RECORD_ROUTE, uac=False)
    bye = in_dialog_request(route_set, _u("sip:caller@u1.example.com"))
    # The callee sends to P4 with R-URI = caller's Contact and the whole route set.
    assert str(bye.request_uri) == "sip:caller@u1.example.com"
    recorded = [v.uri for v in RFC_RECORD_ROUTE if v.uri is not None]

    p4 = forward_as_proxy(bye.request_uri, bye.routes, 70, _owned_by("p4.domain.com"), recorded)
    # P4 removes itself; P3 is strict: R-URI = P3, old R-URI appended (16.6 step 6).
    assert str(p4.request_uri) == "sip:p3.middle.com"
    assert _texts(p4.routes) == [
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr",
        "sip:caller@u1.example.com",
    ]
    assert p4.strict_next_hop and p4.max_forwards == 69

    p3 = forward_as_proxy(p4.request_uri, p4.routes, 69, _owned_by("p3.middle.com"), recorded)
    assert p3.acts_as_strict_router
    assert str(p3.request_uri) == "sip:p2.example.com;lr"
    assert _texts(p3.routes) == ["sip:p1.example.com;lr", "sip:caller@u1.example.com"]

    p2 = forward_as_proxy(p3.request_uri, p3.routes, 68, _owned_by("p2.example.com"), recorded)
    # 16.4: the R-URI is P2's own Record-Route value: the last Route becomes the R-URI.
    assert p2.strict_previous_hop
    assert str(p2.request_uri) == "sip:caller@u1.example.com"
    assert _texts(p2.routes) == ["sip:p1.example.com;lr"]
    assert str(p2.next_hop) == "sip:p1.example.com;lr"

    p1 = forward_as_proxy(p2.request_uri, p2.routes, 67, _owned_by("p1.example.com"), recorded)
    assert str(p1.request_uri) == "sip:caller@u1.example.com"
    assert p1.routes == ()
    assert str(p1.next_hop) == "sip:caller@u1.example.com"


def _ack_hops_from_tshark(capture: str, frames: list[int]) -> list[tuple[str, str, str, str]]:
    rows = tshark_fields(
        DATA / capture,
        ["frame.number", "ip.dst", "sip.r-uri", "sip.Route"],
        display_filter="sip.Method == ACK",
    )
    by_frame = {int(r[0]): r for r in rows}
    return [
        (by_frame[f][1], by_frame[f][2], by_frame[f][3].replace(" ", ""), str(f)) for f in frames
    ]


def _answer(capture: str, frame: int) -> SipMessage:
    return next(c.message for c in sip_messages(DATA / capture) if c.frame == frame)


@pytest.mark.peer
def test_classic_example_double_record_route_matches_real_kamailio() -> None:
    """B double-Record-Routes (two interfaces), C and D single: the ACK's Route at A is B, B,
    C, D; B removes both and leaves from its C-facing address; D forwards on the R-URI. The
    expected hops are compared with the ACK the real proxies forwarded (frames 13-16)."""
    proxies = [
        Proxy.parse("B=127.0.10.2,127.0.10.12"),
        Proxy.parse("C=127.0.10.3"),
        Proxy.parse("D=127.0.10.4"),
    ]
    plan = plan_route(_answer("testbed-good.pcap", 12), proxies)
    assert [uri_endpoint(u) for u in plan.route_set] == [
        "127.0.10.2:5060",
        "127.0.10.12:5060",
        "127.0.10.3:5060",
        "127.0.10.4:5060",
    ]
    assert [h.sender for h in plan.hops] == ["UAC", "B", "C", "D"]
    assert plan.hops[1].sends_from == "127.0.10.12:5060"  # B leaves from its C-facing side
    assert "forward on the Request-URI" in " ".join(plan.hops[3].actions)
    assert plan.problems == ()
    real = _ack_hops_from_tshark("testbed-good.pcap", [13, 14, 15, 16])
    for hop, (dst, ruri, route, frame) in zip(plan.hops, real, strict=True):
        assert hop.to == f"{dst}:5060", frame
        assert str(hop.request_uri) == ruri, frame
        assert ",".join(f"<{u}>" for u in hop.routes) == route, frame


@pytest.mark.peer
def test_strict_router_plan_matches_real_kamailio() -> None:
    """C records <sip:127.0.10.3:5060> without ;lr: B applies 16.6 step 6, C routes strictly,
    D applies 16.4; the real proxies did the same (frames 13-16)."""
    plan = plan_route(_answer("testbed-strict-router.pcap", 12))
    real = _ack_hops_from_tshark("testbed-strict-router.pcap", [13, 14, 15, 16])
    assert [h.to for h in plan.hops] == [f"{dst}:5060" for dst, *_ in real]
    for hop, (_dst, ruri, route, frame) in zip(plan.hops, real, strict=True):
        assert str(hop.request_uri) == ruri, frame
        assert ",".join(f"<{u}>" for u in hop.routes) == route, frame
    # Without --proxy, the two r2=on values are grouped as one proxy.
    assert plan.hops[1].sends_from == "127.0.10.12:5060"


def test_route_without_contact_is_a_usage_error() -> None:
    answer = SipMessage.parse(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n"
        b"Call-ID: x\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:b@b>;tag=2\r\n\r\n"
    )
    with pytest.raises(SipError):
        plan_route(answer)


def test_proxy_parse_and_ownership() -> None:
    b = Proxy.parse("B=127.0.10.2,127.0.10.12:5060")
    assert b.owns(_u("sip:127.0.10.2;lr")) and b.owns(_u("sip:127.0.10.12:5060;lr"))
    assert not b.owns(_u("sip:127.0.10.12:5070;lr"))
    assert Proxy.parse("127.0.10.3").name == "127.0.10.3"
    with pytest.raises(InvalidArgument):
        Proxy.parse("B=")


def test_proxies_from_route_set_groups_double_record_route() -> None:
    route_set = [
        _u("sip:127.0.10.2;r2=on;lr"),
        _u("sip:127.0.10.12;r2=on;lr"),
        _u("sip:127.0.10.3;lr"),
    ]
    proxies = proxies_from_route_set(route_set)
    assert [p.addresses for p in proxies] == [
        ("127.0.10.2:5060", "127.0.10.12:5060"),
        ("127.0.10.3:5060",),
    ]


def test_unroutable_addresses() -> None:
    assert is_unroutable_address("192.168.1.20") == "private (RFC 1918)"
    assert is_unroutable_address("172.31.0.1") == "private (RFC 1918)"
    assert is_unroutable_address("172.32.0.1") is None
    assert is_unroutable_address("fd17:625c::1") == "unique local (RFC 4193)"
    assert is_unroutable_address("203.0.113.5") is None  # documentation, stands for public
    assert is_unroutable_address("100.64.3.4") == "carrier-grade NAT (RFC 6598)"
    assert is_unroutable_address("127.0.0.1") == "loopback"
    assert is_unroutable_address("[fe80::1]") == "link-local"
    assert is_unroutable_address("8.8.8.8") is None
    assert is_unroutable_address("proxy.example.com") is None


# The named IPv4 ranges, from their RFCs: loopback (RFC 1122 3.2.1.3), link-local (RFC 3927),
# this host (0.0.0.0), shared address space (RFC 6598), private (RFC 1918).
_NAMED_IPV4 = [
    (ipaddress.IPv4Network(net), name)
    for net, name in (
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("0.0.0.0/32", "unspecified"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
    )
]


def _unroutable_by_ipaddress(text: str) -> str | None:
    ip = ipaddress.IPv4Address(text)
    return next((name for net, name in _NAMED_IPV4 if ip in net), None)


def test_ipv4_classified_as_ipaddress_does() -> None:
    """normal_host and is_unroutable_address read a dotted IPv4 by its octets (no ipaddress
    object): the answers are ipaddress's, for every first octet and the second octets where a
    range starts or ends (the ranges are /8, /10, /12 and /16; 0.0.0.0 is its own case)."""
    edges = (0, 1, 15, 16, 31, 32, 63, 64, 127, 128, 167, 168, 169, 253, 254, 255)
    for a in range(256):
        for b in range(256) if a in (0, 10, 100, 127, 169, 172, 192) else edges:
            text = f"{a}.{b}.1.1"
            assert is_unroutable_address(text) == _unroutable_by_ipaddress(text), text
    for text in ("0.0.0.0", "0.0.0.1", "0.1.0.0", "255.255.255.255"):
        assert is_unroutable_address(text) == _unroutable_by_ipaddress(text), text
        assert normal_host(text) == text
    assert is_unroutable_address("[10.1.2.3]") == "private (RFC 1918)"


@given(st.integers(0, 2**32 - 1))
def test_any_ipv4_classified_as_ipaddress_does(value: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    assert is_unroutable_address(text) == _unroutable_by_ipaddress(text)
    assert normal_host(f"[{text}]") == text


@given(st.text(alphabet="0123456789.:[]abcdefABCDEF", max_size=24))
def test_normal_host_as_ipaddress(host: str) -> None:
    """Any text (IPv4 lookalikes with leading zeros, 256, three octets; IPv6): ipaddress's
    canonical form where it reads an address, else the text lower-case."""
    bare = host.strip("[]")
    try:
        expected = str(ipaddress.ip_address(bare))
    except ValueError:
        expected = bare.lower()
    assert normal_host(host) == expected


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=6), st.integers(0, 70))
def test_forward_as_proxy_removes_only_leading_own_values(hosts: list[str], mf: int) -> None:
    routes = [_u(f"sip:{h}.example.com;lr") for h in hosts]
    step = forward_as_proxy(_u("sip:ua@ua.example.com"), routes, mf, _owned_by("a.example.com"))
    leading = 0
    while leading < len(hosts) and hosts[leading] == "a":
        leading += 1
    assert len(step.removed) == leading
    assert _texts(step.routes) == _texts(routes[leading:])
    assert step.max_forwards == mf - 1
    assert str(step.request_uri) == "sip:ua@ua.example.com"


CLASSIC_200 = """SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.10.1:5060;branch=z9hG4bK-1
Record-Route: <sip:127.0.10.4;lr>, <sip:127.0.10.3;lr>
Record-Route: <sip:127.0.10.12;r2=on;lr>, <sip:127.0.10.2;r2=on;lr>
From: <sip:alice@127.0.10.1:5060>;tag=a
To: <sip:service@rtcscope.test>;tag=e
Call-ID: classic
CSeq: 1 INVITE
Contact: <sip:service@127.0.10.5:5060>
Content-Length: 0

"""


def test_route_cli_from_a_text_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from rtcscope.cli import main

    text = tmp_path / "200.txt"
    text.write_text(CLASSIC_200)
    args = ["route", str(text), "--proxy", "B=127.0.10.2,127.0.10.12", "--proxy", "C=127.0.10.3"]
    assert main([*args, "--proxy", "D=127.0.10.4"]) == 0
    out = capsys.readouterr().out
    assert "hop 2: B from 127.0.10.12:5060 -> 127.0.10.3:5060 (C)" in out
    assert "hop 4: D -> 127.0.10.5:5060 (UAS ACK target)" in out
    assert main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [h["to_element"] for h in data["hops"]] == [
        "B",
        "C",
        "127.0.10.4:5060",
        "UAS ACK target",
    ]
    assert data["hops"][0]["routes"] == [
        "sip:127.0.10.2;r2=on;lr",
        "sip:127.0.10.12;r2=on;lr",
        "sip:127.0.10.3;lr",
        "sip:127.0.10.4;lr",
    ]


def test_route_cli_from_a_capture_frame_and_a_non_2xx(capsys) -> None:  # type: ignore[no-untyped-def]
    from rtcscope.cli import main

    assert main(["route", str(DATA / "testbed-good.pcap"), "--frame", "12"]) == 0
    assert "hop 4: 127.0.10.4:5060 -> 127.0.10.5:5060" in capsys.readouterr().out
    assert main(["route", str(DATA / "testbed-good.pcap"), "--frame", "13"]) == 2
    assert main(["route", str(DATA / "testbed-good.pcap"), "--frame", "9999"]) == 3


RFC_INVITE_AT_CALLEE = """INVITE sip:callee@u2.domain.com SIP/2.0
Via: SIP/2.0/UDP p4.domain.com;branch=z9hG4bK4
Via: SIP/2.0/UDP u1.example.com;branch=z9hG4bK1
Contact: sip:caller@u1.example.com
Record-Route: <sip:p4.domain.com;lr>
Record-Route: <sip:p3.middle.com>
Record-Route: <sip:p2.example.com;lr>
Record-Route: <sip:p1.example.com;lr>
From: <sip:caller@u1.example.com>;tag=1
To: <sip:callee@u2.domain.com>
Call-ID: rfc3261-16.12.1.2
CSeq: 1 INVITE
Content-Length: 0

"""


def test_route_cli_callee_bye_reproduces_rfc3261_16_12_1_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Given the INVITE as the callee received it, `route` prints the callee's BYE path of
    RFC 3261 16.12.1.2, message by message."""
    from rtcscope.cli import main

    text = tmp_path / "invite.txt"
    text.write_text(RFC_INVITE_AT_CALLEE)
    assert main(["route", str(text), "--format", "json"]) == 0
    hops = json.loads(capsys.readouterr().out)["hops"]
    assert [(h["sender"], h["to"], h["request_uri"], h["routes"]) for h in hops] == [
        (
            "UAS",
            "p4.domain.com:5060",
            "sip:caller@u1.example.com",
            [
                "sip:p4.domain.com;lr",
                "sip:p3.middle.com",
                "sip:p2.example.com;lr",
                "sip:p1.example.com;lr",
            ],
        ),
        (
            "p4.domain.com:5060",
            "p3.middle.com:5060",
            "sip:p3.middle.com",
            ["sip:p2.example.com;lr", "sip:p1.example.com;lr", "sip:caller@u1.example.com"],
        ),
        (
            "p3.middle.com:5060",
            "p2.example.com:5060",
            "sip:p2.example.com;lr",
            ["sip:p1.example.com;lr", "sip:caller@u1.example.com"],
        ),
        (
            "p2.example.com:5060",
            "p1.example.com:5060",
            "sip:caller@u1.example.com",
            ["sip:p1.example.com;lr"],
        ),
        ("p1.example.com:5060", "u1.example.com:5060", "sip:caller@u1.example.com", []),
    ]
    assert hops[-1]["to_element"] == "UAC BYE target"


def test_own_value_without_lr_restored_per_16_4_or_routed_strictly() -> None:
    """Issue 15's shape, from RFC 3261 16.4 and 16.6 step 6 read together: the hop before C
    treated C (Record-Route without ;lr) as strict, so C receives Request-URI = its own URI
    and Route = D, then the remote target. An RFC 3261 proxy restores the Request-URI from
    the last Route value and routes loosely to D; an RFC 2543 strict router takes the first
    Route value (D) as Request-URI. Each is right for its element."""
    c = Uri.parse("sip:127.0.10.3:5060")
    d = Uri.parse("sip:127.0.10.4;lr")
    target = Uri.parse("sip:service@127.0.10.5:5060")

    def owns(uri: Uri) -> bool:
        return uri.host_address == "127.0.10.3"

    loose = forward_as_proxy(c, [d, target], 69, owns, [c, d], strict_as_rfc2543=False)
    assert str(loose.request_uri) == str(target) and [str(u) for u in loose.routes] == [str(d)]
    assert loose.strict_previous_hop and not loose.acts_as_strict_router
    assert loose.next_hop is d and loose.max_forwards == 68
    strict = forward_as_proxy(c, [d, target], 69, owns, [c, d])
    assert strict.request_uri is d and [str(u) for u in strict.routes] == [str(target)]
    assert strict.acts_as_strict_router and not strict.strict_previous_hop


def test_route_on_a_capture_without_frame_asks_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture given without --frame is a usage error that says what to give (it was read
    as one SIP message and its bytes printed); a text file without SIP is bad input."""
    from rtcscope.cli import main

    capture = DATA / "testbed-good.pcap"
    assert main(["route", str(capture)]) == 2
    err = capsys.readouterr().err
    assert "is a capture: give --frame N" in err and "\\x" not in err
    text = tmp_path / "notes.txt"
    text.write_text("no SIP here\n")
    assert main(["route", str(text)]) == 3
    assert "holds no SIP message" in capsys.readouterr().err


# -- the diagnosis' header reads against the message's own properties ---------------------


def _same_as_properties(message: SipMessage) -> None:
    """The diagnosis reads Contact, Route, Record-Route and Max-Forwards through
    ``routing_header_values`` (:func:`_same_routing_values`) and the Via branches through
    ``header_via_branches``; the reference is the message's own properties (its full lazy
    parse), asked on a second parse of the same bytes."""
    branches = header_via_branches(message)
    _same_routing_values(message.raw)
    full = SipMessage.parse(message.raw)
    # The Via stack's branches without parsing a lone Via: the reference is the parsed stack.
    assert branches == tuple(via.branch or "" for via in full.vias)


@pytest.mark.parametrize(
    "capture",
    sorted(p.name for p in DATA.iterdir() if p.name.endswith((".pcap", ".pcapng", ".pcap.gz"))),
)
def test_header_reads_agree_with_the_message_on_every_capture(capture: str) -> None:
    for captured in sip_messages(DATA / capture, keep_going=True):
        _same_as_properties(captured.message)


@pytest.mark.parametrize("capture", [p.name for p in shared_captures()])
def test_header_reads_agree_with_the_message_on_every_shared_capture(capture: str) -> None:
    for captured in sip_messages(shared_capture(capture), keep_going=True):
        _same_as_properties(captured.message)


_VALUE = st.text(alphabet=st.sampled_from('<>";=:@,. \tsip:a-zA-Z0-9lrtag[]'), max_size=40)
_VIA = st.one_of(
    st.sampled_from(
        [
            "SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport",
            "SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK2",
            "SIP/2.0/UDP host;received=1.2.3.4",
            "SIP/2.0/UDP",
            "SIP / 2.0 / UDP b.example.com ; branch = z9hG4bK3",
            "SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2",
            "x, SIP/2.0/UDP c;branch=z9hG4bK4",
            "",
        ]
    ),
    st.text(alphabet=st.sampled_from("SIP/2.0UDP ;,:=branchz9hG4bK[]ab1 \t"), max_size=40),
)


@given(
    contacts=st.lists(_VALUE, max_size=3),
    routes=st.lists(_VALUE, max_size=3),
    max_forwards=st.one_of(
        st.none(), st.sampled_from(["0", "70", " 69 ", "-1", "x", ""]), _VALUE, st.integers()
    ),
    compact=st.booleans(),
    vias=st.lists(_VIA, max_size=3),
)
def test_header_reads_agree_with_the_message_on_any_values(
    contacts: list[str],
    routes: list[str],
    max_forwards: str | int | None,
    compact: bool,
    vias: list[str],
) -> None:
    lines = [
        "ACK sip:b@example.com SIP/2.0",
        *(f"{'v' if compact else 'Via'}: {via}" for via in vias),
        "Call-ID: x",
        "CSeq: 1 ACK",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:b@example.com>;tag=2",
    ]
    lines += [f"{'m' if compact else 'Contact'}: {c}" for c in contacts]
    lines += [f"Route: {r}" for r in routes] + [f"record-ROUTE : {r}" for r in routes]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    _same_as_properties(SipMessage.parse(("\r\n".join(lines) + "\r\n\r\n").encode()))


def test_only_two_characters_outside_ascii_lower_to_an_ascii_letter() -> None:
    """may_hold_route knows a Route or Record-Route absent when "route" is nowhere in the
    message's lower-cased bytes: exact only if no other character lower-cases to a
    letter of those names. Python's own tables are the reference."""
    import sys

    found = {
        hex(code)
        for code in range(128, sys.maxunicode + 1)
        if any(c.isascii() and c.isalpha() for c in chr(code).lower())
    }
    assert found == {"0x130", "0x212a"}  # İ -> i̇, Kelvin sign -> k
    assert not set("route" + "record-route") & {"i", "k"}
    # ... and no compact form (RFC 3261 7.3.3) stands for either name.
    assert not {"route", "record-route"} & {full.lower() for full in COMPACT_FORMS.values()}


# -- routing_header_values: the four headers the diagnosis reads, in one search -----------


def _same_routing_values(raw: bytes) -> None:
    """``routing_header_values`` against the message's own ``header_values`` and ``header``
    (a fresh parse of the same bytes for each, so no read sees another's cache)."""
    found = routing_header_values(SipMessage.parse(raw))
    for name in ("Contact", "Route", "Record-Route"):
        assert found.get(name, []) == SipMessage.parse(raw).header_values(name), name
    first = SipMessage.parse(raw).header("Max-Forwards")
    assert (found["Max-Forwards"][0] if "Max-Forwards" in found else None) == first
    # The quick reads: Max-Forwards where it is plainly written (False: not decided), and
    # no Route or Record-Route where "route" is nowhere in the bytes.
    at = _max_forwards_name(raw, raw.lower())
    value = False if at is None or at is False else _max_forwards_value(raw, at)
    if at is None:
        assert first is None
    if value is not False:
        assert (value.decode("ascii") if isinstance(value, bytes) else value) == first
    if not may_hold_route(raw.lower()):
        assert "Route" not in found and "Record-Route" not in found
    # The first Contact's URI where plainly written (False: not decided), as the checks
    # read it from the values.
    text = plain_contact_text(raw, raw.lower())
    if text is not False:
        contacts = addresses_of(SipMessage.parse(raw).header_values("Contact"))
        assert text == (str(contacts[0].uri) if contacts else None)
        assert text is None or Uri.parse(text) == contacts[0].uri
    assert set(found) <= {"Contact", "Route", "Record-Route", "Max-Forwards"}


# Header lines near the shapes the one search must read or turn away: the four names in
# any case and the compact m, lookalike names, blanks, separators and characters outside
# ASCII around a name, folded lines, bare CR and LF line ends, an empty line in the middle.
# (mostly none: a line that is turned away hides what the lines after it would show)
_BLANKS = [b""] * 8 + [b" ", b"\t", b"\x0b", b"\x0c", b"\x1c", b"\r", b"\xc2\xa0", b"\xc2\x85"]
_BLANKS += [b"\xc3\xa4", b"\xff"]  # outside ASCII, not blank: part of the name
_LINE = st.tuples(
    st.sampled_from(_BLANKS),
    st.sampled_from(
        [
            *(b"Contact", b"CONTACT", b"m", b"M", b"Route", b"route", b"Record-Route"),
            *(b"RECORD-ROUTE", b"Max-Forwards", b"max-forwards", b"Contacts", b"X-Route"),
            *(b"Via", b"Mx", b"\xe2\x84\xaa", b"X-Max-Forwards"),
        ]
    ),
    st.sampled_from(_BLANKS),
    st.sampled_from([b":", b""]),
    st.sampled_from(
        [
            *(b" 70", b" 69 ", b"", b" <sip:a@h;lr>", b" <sip:d@h>, <sip:e@h>"),
            *(b' "x, y" <sip:c@h>', b" sip:f@h:5062;tag=1", b" <sip:@>, <sip:i@h>"),
            *(b" <sip:g@[::1]:5060;transport=tcp>;q=1", b" *", b" <tel:+1234>", b" Bob <sips:j@h>"),
        ]
    ),
    st.sampled_from([b"\r\n"] * 4 + [b"\n", b"\r\n ", b"\r\n\t", b"\r\n\r\n", b"\n\n", b"\n\r\n"]),
)


@settings(max_examples=300, deadline=None)
# The edges, also spelled out: an empty LF line ends the header lines, a folded line
# continues the value before it, a character outside ASCII after a name is part of it.
@example(b"ACK sip:b@h SIP/2.0", [(b"", b"m", b"", b":", b" <sip:a@h>", b"\n\n")], b"Route: x\r\n")
@example(
    b"ACK sip:b@h SIP/2.0", [(b"", b"Contact", b"", b":", b" <sip:a@h>", b"\r\n ")], b"x\r\n\r\n"
)
@example(b"ACK sip:b@h SIP/2.0", [(b"", b"Route", b"\xc3\xa4", b":", b" <sip:a@h>", b"\r\n")], b"")
@example(b"\r\nMax-Forwards: 1", [(b"", b"Via", b"", b":", b" 70", b"\r\n")], b"")
@example(b"ACK sip:b@h SIP/2.0", [(b"", b"Max-Forwards", b"", b":", b" 70", b"\r\n ")], b"1\r\n")
@example(b"ACK sip:b@h SIP/2.0", [(b"", b"X-Max-Forwards", b"", b":", b" 70", b"\r\n")], b"")
@example(
    b"ACK sip:b@h SIP/2.0",
    [(b"", b"Via", b"", b":", b" 70", b"\n\n"), (b"", b"Max-Forwards", b"", b":", b" 70", b"\n")],
    b"",
)
@example(
    b"ACK sip:b@h SIP/2.0",
    [
        (b"", b"Via", b"", b":", b" 70", b"\r\n\r\n"),
        (b"", b"Max-Forwards", b"", b":", b" 7", b"\n"),
    ],
    b"",
)
@given(
    start=st.sampled_from(
        [b"ACK sip:b@h SIP/2.0", b"SIP/2.0 200 OK", b"\r\nBYE sip:x SIP/2.0", b"\nm: <sip:s@h>"]
    ),
    lines=st.lists(_LINE, max_size=8),
    tail=st.sampled_from([b"\r\n", b"\r\nContact: <sip:body@h>\r\n", b"", b"\n"]),
)
def test_routing_values_agree_with_the_message_on_any_lines(
    start: bytes, lines: list[tuple[bytes, ...]], tail: bytes
) -> None:
    _same_routing_values(start + b"\r\n" + b"".join(b"".join(line) for line in lines) + tail)


@given(raw=st.binary(max_size=200))
def test_routing_values_agree_with_the_message_on_random_bytes(raw: bytes) -> None:
    _same_routing_values(raw)


# -- plain_sip_target: host and port of the plainest SIP URIs, without parsing them --------

_URI_PIECES = st.tuples(
    st.sampled_from(["sip", "sips", "SIP", "tel", "sip ", "sipx"]),
    st.sampled_from([":", "", "::"]),
    st.sampled_from(["", "bob@", "b%40b@", "a:pw@", "@", "a b@", "a;x@", "a?x@", '"a"@', "a@b@"]),
    st.sampled_from(
        ["192.0.2.1", "h", "Host.Example.COM", "", "[::1]", "::1", "0.0.0.0", "h-1", "h_1", "é"]
    ),
    st.sampled_from(["", ":5060", ":0", ":65535", ":65536", ":99999", ":123456", ":", ":x"]),
    st.sampled_from(["", ";lr", ";maddr=10.0.0.1", "?h=1", ";transport=tls", " ", "\n", ">"]),
)


def _same_plain_target(text: str) -> None:
    """plain_sip_target against parse_uri, uri_host and uri_port."""
    found = plain_sip_target(text)
    if found is None:
        return
    uri = Uri.parse(text)  # the plain shape parses
    assert found == (uri_host(uri), uri_port(uri))


@given(pieces=_URI_PIECES)
@example(pieces=("sips", ":", "", "h", "", ""))  # the default port of sips
@example(pieces=("sip", ":", "bob@", "192.0.2.1", ":65536", ""))  # no such port
def test_plain_sip_target_agrees_with_the_parse(pieces: tuple[str, ...]) -> None:
    _same_plain_target("".join(pieces))


@given(text=st.text(max_size=40))
def test_plain_sip_target_agrees_with_the_parse_on_any_text(text: str) -> None:
    _same_plain_target(text)
    _same_plain_target("sip:" + text)
