"""extract refuses (exit 3, naming --force) to decode payloads it judges encrypted, and
decodes them as they are with --force.

SRTP is made here with pylibsrtp (tests/rtp/srtcp_capture.py); what --force decodes is
compared with FFmpeg's decoder on the payload bytes read straight from the capture. The
judge is checked on every RTP stream of the captures in tests/data, whose sources say which
are SRTP (srtp-sdes-call.pcap) and which are plain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.capture.pipeline import packets
from rtcscope.cli import main
from rtcscope.rtp.srtp import encrypted_payload_evidence
from rtcscope.rtp.streams import stream_packets
from rtcscope.scan.files import find_streams
from tests.conftest import DATA
from tests.media.reference import ffmpeg_decode, read_wav
from tests.rtp.srtcp_capture import SSRC_A, make_call

PCMU = ["--stream", "1", "--pt", "111", "--codec", "PCMU/8000"]


def test_unsignalled_srtp_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No SDP, no RTCP, a dynamic payload type: only the payload bytes can tell."""
    call = make_call(tmp_path / "srtp.pcap", "AES_CM_128_HMAC_SHA1_80", with_rtcp=False)
    out = tmp_path / "a.wav"
    assert main(["extract", str(call.path), *PCMU, "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "looks encrypted" in err and "--force" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.peer
def test_force_decodes_the_payloads_as_they_are(tmp_path: Path) -> None:
    call = make_call(tmp_path / "srtp.pcap", "AES_CM_128_HMAC_SHA1_80", with_rtcp=False)
    out = tmp_path / "a.wav"
    assert main(["extract", str(call.path), *PCMU, "--force", "-o", str(out)]) == 0
    first = next(
        bytes(p.payload[12:])
        for p in packets(call.path)
        if int.from_bytes(p.payload[8:12], "big") == SSRC_A
    )
    rate, _, samples = read_wav(out)
    reference = ffmpeg_decode("pcmu", [first], tmp_path)
    assert rate == 8000
    assert np.array_equal(samples[: len(first), 0], reference)


def test_srtp_found_by_its_srtcp_is_refused_naming_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = make_call(tmp_path / "srtp.pcap", "AEAD_AES_128_GCM")
    assert main(["extract", str(call.path), *PCMU, "-o", str(tmp_path / "a.wav")]) == 3
    err = capsys.readouterr().err
    assert "SRTP" in err and "--force" in err


PLAIN = [
    "SIP_DTMF2.pcap",
    "sip-rtp-g722.pcap",
    "sip-rtp-g729a.pcap",
    "sip-rtp-gsm.pcap",
    "sip-rtp-ilbc.pcap",
    "sip-rtp-opus.pcap",
    "sip-rtp-speex.pcap",
]


@pytest.mark.parametrize("name", [*PLAIN, "srtp-sdes-call.pcap"])
def test_judge_on_real_streams(name: str) -> None:
    path = DATA / name
    streams = find_streams(path)
    main_pt = {stream.key: stream.payload_type for stream in streams}
    payloads: dict[int, list[bytes]] = {}
    for packet in stream_packets(path, streams):
        if packet.rtp.payload_type == main_pt[packet.key]:
            payloads.setdefault(packet.key.ssrc, []).append(packet.rtp.payload)
    assert payloads
    for ssrc, items in payloads.items():
        evidence = encrypted_payload_evidence(items)
        assert (evidence is None) == (name in PLAIN), (name, hex(ssrc), evidence)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=60))
def test_judge_takes_any_payloads(payloads: list[bytes]) -> None:
    result = encrypted_payload_evidence(payloads)
    assert result is None or "uniform" in result
