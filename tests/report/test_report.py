"""The report page's content: what the CLI computes is what the page shows, text from packets
is escaped, large captures are summarised, loops collapse, ICMP explains a failed ACK path,
and ``analyze -o DIR``'s WAVs become players."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from rtcscope.cli import main
from rtcscope.report import load_report_data, render_report, write_report
from tests.conftest import DATA
from tests.peers import rtcscope_cli, run

HOSTILE = '<script>alert("x")</script>\x1b[31m&amp;'


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in ("href", "src") and value:
                self.urls.append(value)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_page_shows_what_streams_quality_prints(tmp_path: Path) -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    out = write_report(capture, tmp_path / "r.html", extract_audio=False)
    page = out.read_text()
    proc = rtcscope_cli(["streams", capture, "--quality", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    for stream in json.loads(proc.stdout):
        assert f"Stream {stream['index']}:" in page
        for buffer in stream["quality"]["buffers"]:
            assert f"<td>{buffer['buffer']}</td>" in page
            if buffer["mos"] is not None:
                assert f"{buffer['mos']:.2f}</span>" in page
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert all(u.startswith("#") for u in parsed.urls)  # in-page links only, no audio asked
    assert "call-5" in parsed.ids and "m5-20" in parsed.ids  # the answered call, its 200 OK


def test_packet_text_is_escaped(tmp_path: Path) -> None:
    sip = (
        "INVITE sip:bob@127.0.18.2 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.18.1:5060;branch=z9hG4bK1\r\n"
        f'From: "{HOSTILE}" <sip:alice@127.0.18.1>;tag=1\r\nTo: <sip:bob@127.0.18.2>\r\n'
        "Call-ID: hostile-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.18.1>\r\n"
        f"Subject: {HOSTILE}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    reply = (
        "SIP/2.0 486 Busy <b>Here</b>\r\nVia: SIP/2.0/UDP 127.0.18.1:5060;branch=z9hG4bK1\r\n"
        f'From: "{HOSTILE}" <sip:alice@127.0.18.1>;tag=1\r\nTo: <sip:bob@127.0.18.2>;tag=2\r\n'
        "Call-ID: hostile-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    packets = [
        Ether() / IP(src="127.0.18.1", dst="127.0.18.2") / UDP(sport=5060, dport=5060) / sip,
        Ether() / IP(src="127.0.18.2", dst="127.0.18.1") / UDP(sport=5060, dport=5060) / reply,
    ]
    for i, p in enumerate(packets):
        p.time = 1_700_000_000 + i * 0.1
    capture = tmp_path / "hostile.pcap"
    wrpcap(str(capture), packets)
    page = render_report(load_report_data(capture))
    parsed = _parse(page)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert "&lt;script&gt;" in page and "\x1b" not in page
    assert "486 Busy &lt;b&gt;Here&lt;/b&gt;" in page


def test_many_calls_are_summarised() -> None:
    data = load_report_data(DATA / "aaa.pcap")
    invites = [c for c in data.calls.calls if c.kind == "INVITE"]
    assert len(invites) == 4
    page = render_report(data, max_calls=2, max_sections=1)
    parsed = _parse(page)
    sections = [i for i in parsed.ids if re.fullmatch(r"call-\d+", i)]
    assert len(sections) == 1
    table = page.split('<table class="calls">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 2  # header and two calls
    assert "4 calls: the 2 listed put failed and flagged ones first" in page
    assert "Sections below for 1 of 4 calls" in page


def test_loops_collapse_and_icmp_explains_the_failed_ack() -> None:
    page = render_report(load_report_data(DATA / "testbed-no-loose-route.pcap.gz"))
    assert re.search(r"ACK \u00d7\d+", page)  # the ACK bouncing between two proxies
    page = render_report(load_report_data(DATA / "testbed-unreachable-contact.pcap"))
    assert "ICMP port unreachable" in page and "ack-not-received" in page


def test_analyze_wavs_become_relative_players(tmp_path: Path) -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    out_dir = tmp_path / "out"
    assert main(["analyze", str(capture), "-o", str(out_dir), "--only", "audio"]) == 0
    wavs = sorted(p.name for p in out_dir.glob("*.wav"))
    assert len(wavs) == 2
    page = write_report(capture, out_dir / "report.html", audio_dir=out_dir).read_text()
    players = re.findall(r'<audio controls preload="auto" src="([^"]+)">', page)
    assert sorted(players) == wavs
    embedded = write_report(
        capture, tmp_path / "embedded.html", audio_dir=out_dir, embed_audio=True
    ).read_text()
    assert embedded.count('src="data:audio/wav;base64,UklGR') == 2  # "RIFF"


def test_report_cli_errors(tmp_path: Path) -> None:
    proc = rtcscope_cli(["report", DATA / "no-such.pcap", "-o", tmp_path / "x.html"])
    assert proc.returncode in (2, 3) and "Traceback" not in proc.stderr


def test_call_quality_is_its_worst_direction() -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    proc = rtcscope_cli(["streams", capture, "--quality", "--format", "json"])
    adaptive = {s["ssrc_hex"]: s["quality"]["buffers"][-1]["mos"] for s in json.loads(proc.stdout)}
    data = load_report_data(capture)
    answered = next(c for c in data.calls.calls if c.call_id == "25672@192.168.105.110")
    facts = data.call_dict(answered)
    assert {s["ssrc_hex"] for s in facts["streams"]} == set(adaptive)
    assert facts["quality"]["mos"] == min(adaptive.values())
    assert facts["quality"]["stream"] == min(adaptive, key=lambda k: adaptive[k])
    assert all(s["mos"] == adaptive[s["ssrc_hex"]] for s in facts["streams"])
    declined = next(c for c in data.calls.calls if c.call_id == "5514@192.168.105.110")
    assert data.call_dict(declined)["quality"] is None  # no media: nothing to rate


@pytest.mark.peer
def test_summary_start_matches_capinfos() -> None:
    capture = DATA / "SIP_DTMF2.pcap"
    # capinfos -a -S: the first packet's time as seconds since the epoch
    epoch = run("capinfos", ["-a", "-T", "-r", "-S", capture]).stdout.strip().split("\t")[-1]
    page = render_report(load_report_data(capture))
    shown = re.search(r"<dt>starts \(UTC\)</dt><dd>([^<]+)</dd>", page)
    assert shown is not None
    expected = datetime.fromtimestamp(float(epoch), tz=UTC).isoformat(timespec="milliseconds")
    assert shown.group(1) == expected


def test_report_analysis_indexes_what_analyze_wrote(tmp_path: Path) -> None:
    from rtcscope.analyze import analyze_capture

    sections = analyze_capture(DATA / "SIP_DTMF2.pcap", tmp_path, only=["audio", "report"])
    assert [s.name for s in sections] == ["audio", "report"]  # audio first: its WAVs get linked
    page = (tmp_path / "report.html").read_text()
    players = re.findall(r'<audio controls preload="auto" src="([^"]+)">', page)
    assert sorted(players) == sorted(p.name for p in tmp_path.glob("*.wav")) and players


def test_embed_audio_writes_one_file(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    assert main(["report", str(DATA / "SIP_DTMF2.pcap"), "-o", str(out), "--embed-audio"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    assert out.read_text().count('src="data:audio/wav;base64,UklGR') == 2
