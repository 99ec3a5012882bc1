"""The SIP test bed: what it would run (pure), and two short live runs with the real peers.

The live test starts tcpdump, three kamailio 5.6 proxies and two sipp UAs on 127.0.10.0/24
through ``tests.peers.background`` (bounded, stopped by PID), runs the good call and a
shortened "unreachable Contact" call (3 retransmissions of the 2xx instead of 9, so the callee
gives up after 7.5 s instead of 32 s), and diagnoses what tcpdump captured. The full 32 s runs
of every scenario are kept in tests/data/testbed-*.pcap.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rtcscope.scan.files import diagnose_capture
from rtcscope.testbed.runner import capture_filter, plan, run_plan
from rtcscope.testbed.scenarios import (
    ADDRESSES,
    NETWORK,
    SCENARIOS,
    answer_waits_ms,
)
from tests.peers import background, tshark_fields

BED = ipaddress.ip_network(NETWORK)


def test_the_2xx_schedule_is_t1_doubling_to_t2_until_64_t1() -> None:
    # RFC 3261 13.3.1.4 with T1 = 500 ms, T2 = 4 s: copies at 0, 0.5, 1.5, 3.5, 7.5 ... 27.5 s.
    waits = answer_waits_ms(9)
    sent_at = [sum(waits[:i]) for i in range(len(waits))]
    assert sent_at == [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500]
    assert sum(waits) == 32_000
    assert sum(answer_waits_ms(3)) == 7_500


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plan_stays_in_the_bed_range_with_absolute_paths(name: str, tmp_path: Path) -> None:
    the_plan = plan(SCENARIOS[name], tmp_path / "run", tmp_path / "out.pcap")
    texts = [*the_plan.files.values()]
    commands = [the_plan.capture_command, *the_plan.proxies, the_plan.callee, the_plan.caller]
    if the_plan.refreshed_target is not None:
        commands.append(the_plan.refreshed_target)
    texts += [" ".join(c.args) for c in commands]
    for text in texts:
        for found in re.findall(r"\b127\.\d+\.\d+\.\d+\b", text):
            assert ipaddress.ip_address(found) in BED, (name, found)
    for proxy in the_plan.proxies:
        args = list(proxy.args)
        for flag in ("-P", "-Y", "-f"):
            assert Path(args[args.index(flag) + 1]).is_absolute()
    assert capture_filter() == "net 127.0.10.0/24 and (udp or tcp or icmp)"
    assert "--immediate-mode" in the_plan.capture_command.args
    for path, text in the_plan.files.items():
        if path.suffix == ".xml":
            ET.fromstring(text.encode("iso-8859-1"))  # sipp must be able to read it
        else:
            assert not re.search(r"@[A-Z_]+@", text), path


def test_each_broken_scenario_changes_one_rule() -> None:
    good = plan(SCENARIOS["good"], Path("/tmp/x"), Path("/tmp/x.pcap")).files
    good_c = next(t for p, t in good.items() if p.name == "kamailio-C.cfg")
    for name, marker in (
        ("no-loose-route", "BROKEN ON PURPOSE"),
        ("rewrite-ruri", "BROKEN ON PURPOSE"),
        ("strict-router", "Record-Route: <sip:127.0.10.3:5060>"),
    ):
        files = plan(SCENARIOS[name], Path("/tmp/x"), Path("/tmp/x.pcap")).files
        c_cfg = next(t for p, t in files.items() if p.name == "kamailio-C.cfg")
        assert marker in c_cfg and marker not in good_c, name
    callee = SCENARIOS["no-record-route"].callee_xml()
    assert "Record-Route" not in callee.split("<scenario")[1]
    assert "[last_Record-Route:]" in SCENARIOS["good"].callee_xml()
    assert f"{ADDRESSES['E']}:5090" in SCENARIOS["unreachable-contact"].callee_xml()
    assert "486 Busy Here" in SCENARIOS["busy"].callee_xml()
    # The target refreshes move the caller to A2, where a second sipp answers (or nobody).
    caller = SCENARIOS["reinvite-target"].caller_xml()
    assert f"Contact: <sip:alice@{ADDRESSES['A2']}:5060>" in caller
    assert SCENARIOS["reinvite-target"].refreshed_target_template
    assert not SCENARIOS["reinvite-target-unreachable"].refreshed_target_template
    assert "Require: 100rel" in SCENARIOS["prack-ringing"].callee_xml()
    assert "488 Not Acceptable Here" in SCENARIOS["reinvite-488"].callee_xml()
    alias = plan(SCENARIOS["alias-dead"], Path("/tmp/x"), Path("/tmp/x.pcap")).files
    d_cfg = next(t for p, t in alias.items() if p.name == "kamailio-D.cfg")
    assert f'$du = "sip:{ADDRESSES["DEAD"]}:5060"' in d_cfg


def _run(name: str, tmp_path: Path, retransmissions: int | None = None) -> Path:
    scenario = SCENARIOS[name]
    if retransmissions is not None:
        scenario = scenario.shortened(retransmissions)
    capture = tmp_path / f"{name}.pcap"
    for attempt in (1, 2):  # a busy machine may make the kernel drop packets: once more
        result = run_plan(plan(scenario, tmp_path / f"{name}-{attempt}", capture), background)
        if result.kernel_dropped == 0:
            break
    assert result.kernel_dropped == 0, f"tcpdump: {result.log_tail('tcpdump')}"
    assert capture.exists() and capture.stat().st_size > 24, result.log_tail("tcpdump")
    assert result.caller_exit == 0, result.log_tail("A")
    assert result.second_exit in (None, 0), result.log_tail("A2")
    return capture


@pytest.mark.peer
@pytest.mark.slow
def test_live_good_call_and_unreachable_contact(tmp_path: Path) -> None:
    good = _run("good", tmp_path)
    result = diagnose_capture(good)
    assert not result.has_errors, [f.summary for f in result.findings]
    ack = next(p for p in result.paths if p.method == "ACK")
    assert ack.outcome == "delivered"
    # B double-Record-Routed (two interfaces): tshark sees both values in the 200 OK.
    rr = tshark_fields(good, ["sip.Record-Route"], "sip.Status-Code == 200 && ip.dst == 127.0.10.1")
    assert "127.0.10.12;r2=on;lr" in rr[0][0] and "127.0.10.2;r2=on;lr" in rr[0][0]

    broken = _run("unreachable-contact", tmp_path, retransmissions=3)
    result = diagnose_capture(broken)
    codes = {f.code: f for f in result.findings}
    assert {"ack-not-received", "icmp-unreachable"} <= set(codes)
    oks = tshark_fields(
        broken,
        ["frame.time_relative"],
        "ip.src == 127.0.10.5 && sip.Status-Code == 200 && sip.CSeq.method == INVITE",
    )
    assert len(oks) == 4
    assert f"sent {len(oks)} time(s)" in codes["ack-not-received"].summary
    assert codes["icmp-unreachable"].element == "127.0.10.5:5060"
    assert codes["ack-not-received"].last_hop.startswith("127.0.10.4:5060 -> 127.0.10.5:5090")


@pytest.mark.peer
@pytest.mark.slow
def test_live_target_refresh_and_strict_middle(tmp_path: Path) -> None:
    """A re-INVITE moving the caller to A2 (a second sipp): E's BYE reaches A2 and is
    answered (tshark); and C recording without ;lr while routing loosely: both calls work and
    the diagnosis gives no error (one warning for the strict-looking Record-Route)."""
    refresh = _run("reinvite-target", tmp_path)
    answered = tshark_fields(
        refresh, ["ip.src"], "sip.Status-Code == 200 && sip.CSeq.method == BYE"
    )
    assert answered and answered[0] == [ADDRESSES["A2"]]
    result = diagnose_capture(refresh)
    assert not [f for f in result.findings if f.severity.value != "info"]
    assert {"target-refresh"} <= {f.code for f in result.findings}

    strict = _run("strict-middle", tmp_path)
    result = diagnose_capture(strict)
    assert not result.has_errors
    assert [f.code for f in result.findings if f.severity.value == "warning"] == ["strict-router"]
