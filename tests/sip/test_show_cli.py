"""`rtcscope show FILE --frame N` and `flow --messages`: the message as captured, checked
against the UDP payload tshark gives for the same frame; control characters never reach the
terminal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.sip.ladder import message_text
from tests.conftest import DATA
from tests.peers import rtcscope_cli, tshark_fields

CAPTURE = DATA / "SIP_DTMF2.pcap"


@pytest.mark.peer
@pytest.mark.parametrize("frame", [20, 22])  # a 200 OK and an ACK, both with SDP
def test_show_prints_the_captured_message(frame: int) -> None:
    payload = tshark_fields(CAPTURE, ["udp.payload"], f"frame.number == {frame}")[0][0]
    expected = bytes.fromhex(payload.replace(":", "")).decode().replace("\r\n", "\n")
    proc = rtcscope_cli(["show", CAPTURE, "--frame", str(frame)])
    assert proc.returncode == 0, proc.stderr
    header, text = proc.stdout.split("\n\n", 1)
    assert header.startswith(f"frame {frame}  ")
    assert text == (expected if expected.endswith("\n") else expected + "\n")
    assert "m=audio" in text
    proc = rtcscope_cli(["show", CAPTURE, "--frame", str(frame), "--format", "json"])
    assert json.loads(proc.stdout)["text"] == expected


def test_show_a_frame_without_sip_is_a_usage_error() -> None:
    proc = rtcscope_cli(["show", CAPTURE, "--frame", "100"])  # an RTP packet
    assert proc.returncode == 2 and "holds no SIP message" in proc.stderr
    assert "Traceback" not in proc.stderr


@given(st.binary(max_size=200))
def test_message_text_never_passes_control_characters(raw: bytes) -> None:
    text = message_text(raw)
    assert all(ch.isprintable() or ch in "\n\t" for ch in text)


def test_flow_messages_follow_the_ladder() -> None:
    capture = DATA / "testbed-unreachable-contact.pcap"
    proc = rtcscope_cli(["flow", capture, "--messages"])
    assert proc.returncode == 0, proc.stderr
    # tshark -Y 'sip and not icmp': 96 SIP messages, all of the one call
    assert proc.stdout.count("\n── frame ") == 96
    assert "<ICMP port unreach" in proc.stdout  # the failed call shows its ICMP errors
    proc = rtcscope_cli(["flow", capture, "--messages", "--format", "json"])
    data = json.loads(proc.stdout)
    assert len(data["messages"]) == 96
    assert data["messages"][0]["text"].startswith("INVITE sip:service@rtcscope.test SIP/2.0\n")
    proc = rtcscope_cli(["flow", capture, "--messages", "--format", "svg"])
    assert proc.returncode == 2
