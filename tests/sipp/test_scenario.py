"""The pure parts of ``rtcscope sipp``: scenario XML, the media description, cutting, the
option parsers (hypothesis: any text gives a value or a InvalidArgument), and the checks
``--run`` makes before starting sipp."""

from __future__ import annotations

import contextlib
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.cli import main
from rtcscope.errors import InvalidArgument, PeerError
from rtcscope.replay import parse_host_port
from rtcscope.sipp import runner
from rtcscope.sipp.audio import DigitRun
from rtcscope.sipp.media import MediaDescription, PayloadFormat, cut_window, rtp_ptime_ms
from rtcscope.sipp.runner import check_sipp, prepare
from rtcscope.sipp.scenario import Credentials, uac_scenario, uas_scenario
from rtcscope.sipp.source import StreamChoice, choice_from_options, parse_ssrc
from tests.conftest import DATA
from tests.sipp.test_replay import make_stream

MEDIA = MediaDescription(
    formats=(
        PayloadFormat(99, "opus", 48000, 2, "useinbandfec=1"),
        PayloadFormat(101, "telephone-event", 48000, 1, "0-16"),
    ),
    ptime_ms=20.0,
    duration_ms=1980,
    packets=100,
    ssrc=0x043EEE04,
)


def _elements(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml.encode("iso-8859-1")))


def test_uas_plays_right_after_the_ack_and_waits_the_stream_out() -> None:
    steps = _elements(uas_scenario(MEDIA, "/beds/stream.pcap"))
    kinds = [(e.tag, e.get("request") or e.get("response")) for e in steps]
    ack = kinds.index(("recv", "ACK"))
    play = steps[ack + 1].find("./action/exec")
    assert play is not None and play.get("play_pcap_audio") == "/beds/stream.pcap"
    bye_wait = steps[ack + 2]
    assert (bye_wait.get("request"), bye_wait.get("timeout")) == ("BYE", "2480")
    answer = next(
        e.text or "" for e in steps if "200 OK" in (e.text or "") and "v=0" in (e.text or "")
    )
    assert "m=audio [media_port] RTP/AVP 99 101" in answer
    for line in ("a=rtpmap:99 opus/48000/2", "a=fmtp:99 useinbandfec=1", "a=ptime:20"):
        assert line in answer
    assert "verifyauth" not in uas_scenario(MEDIA, "x.pcap")


def test_uas_with_auth_challenges_then_verifies() -> None:
    steps = _elements(uas_scenario(MEDIA, "x.pcap", Credentials("alice", "s&cret")))
    texts = [e.text or "" for e in steps]
    assert "SIP/2.0 401 Unauthorized" in texts[1] and 'Digest realm="rtcscope"' in texts[1]
    verify = steps[3].find("./action/verifyauth")
    assert verify is not None and verify.get("password") == "s&cret"
    assert any("SIP/2.0 403 Forbidden" in t for t in texts)


def test_uac_answers_challenges_and_fails_after_a_403() -> None:
    steps = _elements(uac_scenario(MEDIA, "x.pcap", auth=True))
    challenged = [e for e in steps if e.get("response") in ("401", "407")]
    assert [e.get("auth") for e in challenged] == ["true", "true"]
    labels = [e.get("id") for e in steps if e.tag == "label"]
    assert labels == ["challenged", "answered", "hangup", "refused", "end"]
    assert any("[authentication]" in (e.text or "") for e in steps)
    # The 403 path ACKs the second INVITE (CSeq 2), then times out on purpose.
    refused = [e.tag for e in steps][[e.get("id") for e in steps].index("refused") :]
    assert refused[:3] == ["label", "send", "recv"]
    assert any("CSeq: 2 ACK" in (e.text or "") for e in steps)
    plain = uac_scenario(MEDIA, "x.pcap")
    assert "[authentication]" not in plain and "refused" not in plain


def test_sdp_text_with_sipp_brackets_is_refused() -> None:
    bad = MediaDescription((PayloadFormat(96, "x", 8000, 1, "a=[b]"),), None, 1, 1, 1)
    with pytest.raises(Exception, match="cannot go into a sipp scenario"):
        uas_scenario(bad, "x.pcap")


def test_stream_without_sdp_takes_codec_and_ptime_from_the_rtp(tmp_path: Path) -> None:
    capture = tmp_path / "plain.pcap"
    make_stream(capture, 2)  # PCMA, 20 ms packets, no signalling
    bed = prepare(capture, StreamChoice(ssrc=0xC0FFEE), tmp_path / "bed", "uas", seconds=1.0)
    assert bed.media.formats == (PayloadFormat(8, "PCMA", 8000, 1, None),)
    assert bed.media.ptime_ms == 20.0
    assert 45 <= bed.packets <= 51  # 1 s of 20 ms packets, 1 % lost


def test_ptime_from_rtp_skips_gaps_and_other_payload_types() -> None:
    heads = [(8, 1, 0), (8, 2, 160), (8, 4, 480), (101, 5, 480), (8, 6, 800), (8, 7, 960)]
    assert rtp_ptime_ms(heads, 8, 8000) == 20.0
    assert rtp_ptime_ms([(8, 1, 0)], 8, 8000) is None


def test_cut_window() -> None:
    times = [0, 20, 40, 60, 80, 100]
    ms = [t * 1_000_000 for t in times]
    assert list(cut_window(ms, 0.0, None)) == [0, 1, 2, 3, 4, 5]
    assert list(cut_window(ms, 0.03, 0.04)) == [2, 3]
    assert list(cut_window(ms, 1.0, 1.0)) == []


def test_choice_from_options() -> None:
    assert choice_from_options("0x10", None, None, None, "callee") == StreamChoice(ssrc=16)
    call = choice_from_options(None, None, "abc", None, "callee")
    assert call.direction == "callee"
    with pytest.raises(InvalidArgument):
        choice_from_options(None, None, None, "caller", None)
    with pytest.raises(InvalidArgument):
        choice_from_options(None, None, "abc", "sideways", None)


@given(st.text(max_size=40))
def test_option_parsers_give_a_value_or_an_invalid_argument(text: str) -> None:
    for parse in (
        lambda t: Credentials.parse(t, "auth"),
        DigitRun.parse,
        lambda t: parse_host_port(t, "to"),
        parse_ssrc,
    ):
        with contextlib.suppress(InvalidArgument):
            parse(text)


def test_parsers_read_what_they_should() -> None:
    assert DigitRun.parse("123#@2.0s") == DigitRun("123#", 2.0)
    assert parse_host_port("[::1]:5060", "--to") == ("::1", 5060)
    assert Credentials.parse("bob:pa:ss", "--auth") == Credentials("bob", "pa:ss")
    assert parse_ssrc("2591773570") == 0x9A7B5382


def test_run_refuses_without_sipp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(PeerError, match="not installed"):
        check_sipp()
    argv = ["sipp", "uas", str(DATA / "sip-rtp-g722.pcap"), "-o", str(tmp_path), "--run"]
    assert main(argv) == 4


def test_run_refuses_a_sipp_without_pcap_play(tmp_path: Path) -> None:
    fake = tmp_path / "sipp"
    fake.write_text("#!/bin/sh\necho\necho ' SIPp v3.6.1-SCTP-RTPSTREAM.'\n")
    fake.chmod(0o755)
    with pytest.raises(PeerError, match="no PCAP play support"):
        check_sipp(str(fake))


def test_run_refuses_without_a_raw_socket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "sipp"
    fake.write_text("#!/bin/sh\necho ' SIPp v3.6.1-SCTP-PCAP-RTPSTREAM.'\n")
    fake.chmod(0o755)

    def no_raw(*args: object) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(runner.socket, "socket", no_raw)
    with pytest.raises(PeerError, match="root or CAP_NET_RAW"):
        check_sipp(str(fake))


@pytest.mark.parametrize("module", ["sipp/media.py", "sipp/scenario.py"])
def test_pure_modules_do_no_io(module: str) -> None:
    """DESIGN rule 1 for the pure parts of rtcscope.sipp (tests/test_purity.py's check)."""
    from tests.test_purity import SRC, _violations

    assert _violations(SRC / module) == []
