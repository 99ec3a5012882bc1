"""Nodes: one per network element, checked on the SIP test bed (whose topology is known from
its own configuration, rtcscope.testbed.scenarios) and on real captures against tshark's
addresses; merging rules checked on messages written here."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rtcscope.cli import main
from rtcscope.errors import InvalidArgument
from rtcscope.scan.files import sip_messages
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.message import SipMessage
from rtcscope.sip.nodes import find_nodes, parse_alias, split_endpoint
from rtcscope.testbed.scenarios import ADDRESSES
from tests.conftest import DATA, shared_capture
from tests.peers import tshark_fields

SVG = "{http://www.w3.org/2000/svg}"

# The test bed's elements (scenarios.py): B listens on two addresses (double Record-Route).
ELEMENTS = {
    "A": {ADDRESSES["A"]},
    "B": {ADDRESSES["B"], ADDRESSES["B2"]},
    "C": {ADDRESSES["C"]},
    "D": {ADDRESSES["D"]},
    "E": {ADDRESSES["E"]},
}
# The target-refresh scenarios' second caller-side UA, and the address nothing listens on.
EXTRA_ELEMENTS = {"A2": {ADDRESSES["A2"]}, "DEAD": {ADDRESSES["DEAD"]}}


def _flow_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["flow", str(path), "--call", "1", "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["testbed-good.pcap", "testbed-tcp.pcap"])
def test_test_bed_has_one_node_per_element(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = DATA / name
    flow = _flow_json(path, capsys)
    nodes = flow["nodes"]
    assert isinstance(nodes, list)
    hosts = [{a.rsplit(":", 1)[0] for a in n["addresses"]} for n in nodes]
    assert sorted(map(sorted, hosts)) == sorted(map(sorted, ELEMENTS.values()))
    # every address of the capture (tshark's view) is in exactly one node
    rows = tshark_fields(path, ["ip.src", "ip.dst"], "sip")
    seen = {a for r in rows for a in r}
    assert seen == set().union(*hosts)
    svg_path = tmp_path / "flow.svg"
    assert main(["flow", str(path), "--call", "1", "--format", "svg", "-o", str(svg_path)]) == 0
    root = ET.parse(svg_path).getroot()
    lifelines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "lifeline"]
    assert len(lifelines) == len(ELEMENTS)
    arrows = [e for e in root.iter(f"{SVG}g") if (e.get("class") or "").startswith("row ")]
    assert len(arrows) == len(flow["rows"])  # type: ignore[arg-type]


def test_alias_names_the_two_address_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    flow = _flow_json(DATA / "testbed-good.pcap", capsys, "--alias", f"B={ADDRESSES['B2']}")
    names = [n["name"] for n in flow["nodes"]]  # type: ignore[union-attr, index]
    assert names == [ADDRESSES["A"], "B", ADDRESSES["C"], ADDRESSES["D"], ADDRESSES["E"]]
    by_name = {n["name"]: n for n in flow["nodes"]}  # type: ignore[union-attr, index]
    assert set(by_name["B"]["addresses"]) == {f"{ADDRESSES['B']}:5060", f"{ADDRESSES['B2']}:5060"}


def test_ipv6frag_proxy_is_one_node(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_capture("ipv6frag.pcap")
    flow = _flow_json(path, capsys)
    rows = tshark_fields(path, ["ipv6.src", "udp.srcport", "ipv6.dst", "udp.dstport"], "sip")
    endpoints = {f"[{r[0]}]:{r[1]}" for r in rows} | {f"[{r[2]}]:{r[3]}" for r in rows}
    nodes = flow["nodes"]
    assert isinstance(nodes, list)
    assert len(nodes) == len(endpoints) == 3
    proxy = "[fd17:625c:f037:2:a00:27ff:feb9:3519]:5062"
    assert [n["addresses"] for n in nodes].count([proxy]) == 1
    resent = [r for r in flow["rows"] if r["resent"]]  # type: ignore[union-attr]
    assert [r["label"] for r in resent] == ["200 OK"]


def _msg(frame: int, text: str, src: str, dst: str, sport: int = 5060) -> CapturedSip:
    data = text.replace("\n", "\r\n").encode()
    return CapturedSip(frame, frame, src, sport, dst, 5060, "udp", SipMessage.parse(data))


def _invite(via: str, call_id: str = "c1", rr: str = "") -> str:
    return (
        "INVITE sip:bob@example.com SIP/2.0\n"
        f"{via}"
        f"{rr}"
        "From: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>\n"
        f"Call-ID: {call_id}\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
    )


def test_same_private_sent_by_behind_two_nats_is_not_one_node() -> None:
    # Two phones behind different NATs both claim 192.168.1.2:5060 in Via (RFC 3581).
    via = "Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK{b};rport\n"
    messages = [
        _msg(1, _invite(via.format(b="1"), "c1"), "198.51.100.1", "203.0.113.9"),
        _msg(2, _invite(via.format(b="2"), "c2"), "198.51.100.2", "203.0.113.9"),
    ]
    nodes = find_nodes(messages)
    assert len(nodes.nodes) == 3


def test_r2_pairs_of_two_proxies_stay_two_nodes() -> None:
    rr = (
        "Record-Route: <sip:10.0.2.1;r2=on;lr>,<sip:10.0.2.2;r2=on;lr>,"
        "<sip:10.0.1.1;r2=on;lr>,<sip:10.0.1.2;r2=on;lr>\n"
    )

    def via(host: str) -> str:
        return f"Via: SIP/2.0/UDP {host};branch=z9hG4bK{host}\n"

    messages = [
        _msg(1, _invite(via("10.0.2.1"), "c1", rr=rr), "10.0.2.1", "10.0.9.9"),
        _msg(2, _invite(via("10.0.2.2"), "c2"), "10.0.2.2", "10.0.9.9"),
        _msg(3, _invite(via("10.0.1.1"), "c3"), "10.0.1.1", "10.0.9.9"),
        _msg(4, _invite(via("10.0.1.2"), "c4"), "10.0.1.2", "10.0.9.9"),
    ]
    nodes = find_nodes(messages)
    groups = sorted(sorted(n.hosts) for n in nodes.nodes)
    assert groups == [["10.0.1.1", "10.0.1.2"], ["10.0.2.1", "10.0.2.2"], ["10.0.9.9"]]


def test_alias_and_endpoint_syntax() -> None:
    assert parse_alias("sbc=[2001:DB8::1]:5061") == ("sbc", "2001:db8::1", 5061)
    assert parse_alias("pbx=10.0.0.1") == ("pbx", "10.0.0.1", None)
    assert split_endpoint("10.0.0.1:5080") == ("10.0.0.1", 5080)
    for bad in ("nope", "=10.0.0.1", "x=host.example", "x=10.0.0.1:abc"):
        with pytest.raises(InvalidArgument):
            parse_alias(bad)


def test_nodes_of_every_testbed_capture_never_split_an_element() -> None:
    for path in sorted(DATA.glob("testbed-*.pcap*")):
        nodes = find_nodes(list(sip_messages(path)))
        for node in nodes.nodes:
            every = {**ELEMENTS, **EXTRA_ELEMENTS}
            owners = {k for k, hosts in every.items() if set(node.hosts) & hosts}
            assert len(owners) == 1, (path.name, node)
        assert len(nodes.nodes) == len({n.name for n in nodes.nodes})
