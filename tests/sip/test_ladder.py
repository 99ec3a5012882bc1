"""Ladder renderers: valid XML/HTML/Mermaid whatever text a packet carries, and the calls
analysis writing one SVG per call under names that never carry packet text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rtcscope.analyses.calls import ladder_file_name
from rtcscope.analyze import analyze_capture
from rtcscope.sip.calls import summarize_calls
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.ladder import (
    Ladder,
    LadderColumn,
    LadderRow,
    collapse_loops,
    format_html,
    format_mermaid,
    format_svg,
    format_text,
    ladder_to_dict,
    messages_by_frame,
)
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA
from tests.peers import tshark_fields

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ["<script>alert(1)</script>", "]]>&amp;", "a\x00b\x1b[31mc", "x\ny: z", "é€😀", "\"'%;#:"]


def _ladder(labels: list[str], names: list[str]) -> Ladder:
    columns = [
        LadderColumn(n, (f"10.0.0.{i}:5060", f"10.1.0.{i}:5060")) for i, n in enumerate(names)
    ]
    rows = [
        LadderRow(
            kind=("sip", "rtp", "icmp")[i % 3],
            frame=i + 1,
            ts_ns=i * 1000,
            src=i % len(columns),
            dst=(i + 1) % len(columns),
            label=label,
            detail=label,
            resent_of=i if i % 4 == 3 else 0,
            status=(100 + 100 * (i % 6)) if i % 2 else None,
        )
        for i, label in enumerate(labels)
    ]
    return Ladder(title=labels[0] if labels else "t", columns=columns, rows=rows, notes=labels[:2])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


texts = st.text(min_size=0, max_size=40) | st.sampled_from(HOSTILE)


@given(
    labels=st.lists(texts, min_size=1, max_size=8),
    names=st.lists(texts, min_size=1, max_size=4),
)
def test_any_text_gives_valid_svg_html_mermaid_text(labels: list[str], names: list[str]) -> None:
    ladder = _ladder(labels, names)
    root = ET.fromstring(format_svg(ladder).encode("utf-8"))
    lifelines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "lifeline"]
    assert len(lifelines) == len(names)
    assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
    parser = _Tags()
    parser.feed(format_html(ladder))
    assert "script" not in parser.tags
    mermaid = format_mermaid(ladder).splitlines()
    # one line per participant, per row and per note, plus the header: no label adds a line
    assert len(mermaid) == 1 + len(names) + len(labels) + len(ladder.notes)
    assert all(re.fullmatch(r"[\x20-\x7e]*", line) for line in mermaid)
    text = format_text(ladder)
    assert "\x1b" not in text and "\x00" not in text
    assert "\x1b[" in format_text(ladder, color=True)
    data = ladder_to_dict(ladder)
    assert [r["frame"] for r in data["rows"]] == [r.frame for r in ladder.rows]


@given(st.text(min_size=1, max_size=200))
def test_ladder_file_names_never_carry_packet_text(call_id: str) -> None:
    text = (
        "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    message = SipMessage.parse(text.encode("utf-8", "surrogatepass"))
    captured = CapturedSip(1, 0, "192.0.2.1", 5060, "192.0.2.2", 5060, "udp", message)
    for call in summarize_calls([captured]).calls:
        assert re.fullmatch(r"\d{3}-[0-9a-f]{12}\.svg", ladder_file_name(call))


def test_analysis_writes_one_valid_svg_per_invite_call(tmp_path: Path) -> None:
    (section,) = analyze_capture(DATA / "SIP_DTMF2.pcap", tmp_path / "a", only=["calls"])
    # By default a ladder per INVITE call (tshark: the Call-IDs with an INVITE).
    invites = {
        row[0]
        for row in tshark_fields(DATA / "SIP_DTMF2.pcap", ["sip.Call-ID"], "sip.Method == INVITE")
    }
    assert len(section.files) == len(invites) == 2
    assert "3 non-INVITE dialog(s) without files" in section.text
    (section,) = analyze_capture(DATA / "SIP_DTMF2.pcap", tmp_path, only=["calls"], all_files=True)
    calls = section.data["calls"]
    assert len(section.files) == len(calls) == 5
    for written in section.files:
        assert written.parent == tmp_path / "ladders"
        root = ET.parse(written).getroot()
        assert root.tag == f"{SVG}svg"
        assert [e for e in root.iter(f"{SVG}line") if e.get("class") == "lifeline"]
    # one line per call, then the statistics line
    assert len(section.text.splitlines()) == len(calls) + 1


_SIP_LINES = st.sampled_from(
    [
        "INVITE sip:b@example.com SIP/2.0",
        "SIP/2.0 200 OK",
        "SIP/2.0 183 Session Progress",
        "ACK sip:b@example.com SIP/2.0",
        "BYE sip:a@example.com SIP/2.0",
        "INFO sip:b@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=192.0.2.9;rport=5070",
        "Via: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK2",
        "Record-Route: <sip:192.0.2.5;r2=on;lr>,<sip:198.51.100.5;r2=on;lr>",
        "From: <sip:a@example.com>;tag=a",
        "To: <sip:b@example.com>;tag=b",
        "To: <sip:b@example.com>",
        "Call-ID: c1",
        "Call-ID: c2",
        "X-Call-ID: c1",
        "P-Charging-Vector: icid-value=x",
        "CSeq: 1 INVITE",
        "CSeq: 2 BYE",
        "CSeq: 3 INFO",
        "Content-Type: application/dtmf-relay",
        "Content-Type: application/sdp",
    ]
)


@given(
    st.lists(
        st.tuples(
            st.lists(_SIP_LINES, max_size=10),
            st.binary(max_size=60),
            st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.5"]),
            st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.5"]),
        ),
        max_size=12,
    )
)
def test_any_messages_give_calls_nodes_and_ladders(
    items: list[tuple[list[str], bytes, str, str]],
) -> None:
    from rtcscope.sip.calls import call_ladder
    from rtcscope.sip.nodes import find_nodes

    messages = [
        CapturedSip(
            i + 1,
            i * 1000,
            src,
            5060,
            dst,
            5060,
            "udp",
            SipMessage.parse(("\r\n".join(lines) + "\r\n\r\n").encode() + body),
        )
        for i, (lines, body, src, dst) in enumerate(items)
    ]
    result = summarize_calls(messages)
    nodes = find_nodes(messages)
    assert sum(len(n.addresses) for n in nodes.nodes) == len(nodes.by_endpoint)
    for call in result.calls:
        ladder = call_ladder(call, nodes)
        ET.fromstring(format_svg(ladder).encode("utf-8"))
        format_text(ladder)
        format_mermaid(ladder)
        call.as_dict(result.first_ns)


def test_ipv6_columns_keep_distinct_labels() -> None:
    names = ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:2"]
    ladder = _ladder(["INVITE"], names)
    root = ET.fromstring(format_svg(ladder).encode("utf-8"))
    shown = [
        "".join(t.itertext())
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
        for t in g.iter(f"{SVG}text")
        if t.get("font-weight") == "bold"
    ]
    assert len(shown) == 2 and shown[0] != shown[1]
    assert all(s.endswith(n[-1]) for s, n in zip(shown, names, strict=True))  # ends kept
    header = format_text(ladder, width=20).splitlines()[2].split()
    assert len(header) == 2 and header[0] != header[1]
    assert header[0].endswith("1") and header[1].endswith("2")


def test_long_reason_phrases_stop_before_the_arrowheads() -> None:
    label = "486 Busy Here because the callee is in another call with a very long reason"
    ladder = _ladder([label], ["a", "b"])
    root = ET.fromstring(format_svg(ladder).encode("utf-8"))
    row = next(g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("row"))
    line = next(row.iter(f"{SVG}line"))
    span = abs(float(line.get("x2") or 0) - float(line.get("x1") or 0))
    text = next(t for t in row.iter(f"{SVG}text") if t.get("text-anchor") == "middle")
    assert len(text.text or "") * 7 <= span - 40  # 7 px per character at 12 px monospace


def test_request_loops_collapse_into_one_round() -> None:
    columns = [LadderColumn("p1", ()), LadderColumn("p2", ()), LadderColumn("uas", ())]
    rows = [LadderRow("sip", 1, 0, 0, 2, "INVITE")]
    for i in range(10):  # the ACK bounces between the two proxies ten times
        rows.append(LadderRow("sip", 2 + 2 * i, 10 + i, 0, 1, "ACK"))
        rows.append(LadderRow("sip", 3 + 2 * i, 10 + i, 1, 0, "ACK"))
    rows.append(LadderRow("sip", 50, 100, 2, 0, "200 OK", status=200))
    ladder = Ladder("loop", columns, rows)
    shown = collapse_loops(ladder)
    assert [r.label for r in shown.rows] == ["INVITE", "ACK \u00d710", "ACK \u00d710", "200 OK"]
    assert "frames 2-21" in shown.rows[1].detail
    assert collapse_loops(Ladder("two", columns, rows[:5])).rows == rows[:5]  # 2 rounds stay
    page = format_html(ladder)
    assert "ACK \u00d710" in page and "position:sticky" in page


def test_messages_sharing_a_frame_are_all_listed() -> None:
    # TCP can carry two SIP messages in one segment: both rows, both texts, distinct ids
    columns = [LadderColumn("a", ()), LadderColumn("b", ())]
    rows = [
        LadderRow("sip", 5, 0, 0, 1, "INVITE"),
        LadderRow("sip", 5, 0, 0, 1, "CANCEL"),
        LadderRow("rtp", 6, 1, 0, 1, "RTP"),
    ]
    texts = messages_by_frame([(5, "INVITE sip:b SIP/2.0\n"), (5, "CANCEL sip:b SIP/2.0\n<b>")])
    page = format_html(Ladder("t", columns, rows), texts)
    ids = re.findall(r'<div class="msg" id="([^"]+)">', page)
    assert ids == ["f5", "f5-1"]
    assert "CANCEL sip:b SIP/2.0\n&lt;b&gt;</pre>" in page
    assert page.count('<a href="#f5">') == 3  # both arrows of frame 5 and the first listing
