"""extract on SRTP: decrypted with the user's or the SDP's keys, refused clearly otherwise.

The audio is checked against an independent path: payloads decrypted by the RFC 3711
reference in tests/rtp/test_srtp.py, decoded by FFmpeg's command-line A-law decoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtcscope.capture.pipeline import packets
from rtcscope.cli import main
from rtcscope.rtp.srtp import SrtpKey
from tests.conftest import DATA, shared_capture
from tests.media.reference import ffmpeg_decode, read_wav
from tests.rtp import srtp_call
from tests.rtp.test_srtp import MARSEILLAISE_KEY, reference_decrypt_rtp


@pytest.mark.peer
def test_marseillaise_with_its_key_equals_ffmpeg_on_reference_decrypted_payloads(
    tmp_path: Path,
) -> None:
    capture = shared_capture("marseillaise-srtp.pcap")
    out = tmp_path / "m.wav"
    assert main(["extract", str(capture), "-o", str(out), "--srtp-key", MARSEILLAISE_KEY]) == 0
    rate, channels, samples = read_wav(out)
    assert (rate, channels) == (8000, 1)
    assert len(samples) == 11888 * 160  # the RTP time span: no gap in this stream
    key = SrtpKey.from_base64(MARSEILLAISE_KEY)
    payloads = []
    for pkt in packets(capture):
        clear = reference_decrypt_rtp(key.master_key, key.master_salt, bytes(pkt.payload), 0)
        payloads.append(clear[12:])
        if len(payloads) == 400:
            break
    reference = ffmpeg_decode("pcma", payloads, tmp_path)
    assert np.array_equal(samples[: len(reference), 0], reference)


def test_wrong_key_is_invalid_input_with_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    capture = shared_capture("marseillaise-srtp.pcap")
    args = ["extract", str(capture), "-o", "/dev/null", "--to", "wav"]
    code = main([*args, "--srtp-key", srtp_call.CALLEE_KEY])
    assert code == 3
    err = capsys.readouterr().err
    assert "no packet authenticated" in err and "11888 authentication failures" in err


def test_no_key_is_refused_not_decoded_into_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = shared_capture("marseillaise-srtp.pcap")
    assert main(["extract", str(capture), "-o", str(tmp_path / "x.wav")]) == 3
    err = capsys.readouterr().err
    assert "looks like SRTP: its key is needed" in err and "--srtp-key" in err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.peer
def test_sdes_call_extracts_both_directions_with_no_key_given(tmp_path: Path) -> None:
    capture = DATA / "srtp-sdes-call.pcap"
    out = tmp_path / "legs"
    out.mkdir()
    assert main(["extract", str(capture), "--stream", "1", "-o", str(out / "a.wav")]) == 0
    assert main(["extract", str(capture), "--stream", "2", "-o", str(out / "b.wav")]) == 0
    tone = [srtp_call.alaw_tone(seq) for seq in range(1, srtp_call.PACKETS_PER_SIDE + 1)]
    reference = ffmpeg_decode("pcma", tone, tmp_path)
    for name in ("a.wav", "b.wav"):
        rate, _, samples = read_wav(out / name)
        assert rate == 8000
        assert np.array_equal(samples[:, 0], reference)


def test_dtls_srtp_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    """The Meet capture's SRTP is keyed by DTLS (STUN and DTLS on the same flows)."""
    capture = shared_capture("ndpi-meet-srtp-ipv6.pcapng")
    assert main(["extract", str(capture), "--stream", "1", "-o", "/dev/null", "--to", "wav"]) == 3
    assert "keyed by DTLS" in capsys.readouterr().err
