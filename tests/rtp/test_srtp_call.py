"""An SDES-keyed call decrypts with the keys from its own SDP, each side's for its direction.

The capture is made with real tools (sipp with a=crypto in its SDP, pylibsrtp, tcpdump): see
``tests/rtp/srtp_call.py``. The two sides use different keys, so a direction decrypted with the
other side's key would not authenticate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcscope.errors import SrtpError
from rtcscope.rtp.srtp import Keying, SrtpKey, SrtpKeyring, UserKey, require_authenticated
from rtcscope.rtp.streams import StreamKey, stream_packets
from rtcscope.scan.files import find_streams, sip_messages
from rtcscope.sip.capture import media_announcements
from tests.conftest import DATA
from tests.rtp import srtp_call


def _decrypt_all(capture: Path, keyring: SrtpKeyring) -> dict[int, tuple[int, int, str]]:
    streams = find_streams(capture)
    decryptors = {s.key.ssrc: keyring.decryptor(s.key) for s in streams}
    for packet in stream_packets(capture, streams):
        clear = decryptors[packet.key.ssrc].decrypt(packet.data)
        if clear is not None:
            seq = int.from_bytes(clear[2:4], "big")
            assert clear == srtp_call.clear_rtp(seq, packet.key.ssrc)
    result = {}
    for ssrc, dec in decryptors.items():
        require_authenticated(ssrc, dec.stats)
        assert dec.stats.key is not None
        result[ssrc] = (dec.stats.authenticated, dec.stats.auth_failures, dec.stats.key.inline)
    return result


def _check_call(capture: Path) -> None:
    streams = find_streams(capture)
    assert {s.key.ssrc for s in streams} == {srtp_call.CALLER_SSRC, srtp_call.CALLEE_SSRC}
    assert all(s.encrypted for s in streams)
    keyring = SrtpKeyring(media_announcements(sip_messages(capture)))
    assert all(keyring.keying(s.key) is Keying.SDES for s in streams)
    result = _decrypt_all(capture, keyring)
    n = srtp_call.PACKETS_PER_SIDE
    assert result[srtp_call.CALLER_SSRC] == (n, 0, srtp_call.CALLER_KEY)
    assert result[srtp_call.CALLEE_SSRC] == (n, 0, srtp_call.CALLEE_KEY)


def test_sdes_call_in_tests_data_decrypts_both_directions() -> None:
    _check_call(DATA / "srtp-sdes-call.pcap")


def test_the_other_sides_key_authenticates_nothing() -> None:
    capture = DATA / "srtp-sdes-call.pcap"
    wrong = SrtpKey.from_base64(srtp_call.CALLEE_KEY)
    keyring = SrtpKeyring(user_keys=[UserKey(wrong, srtp_call.CALLER_SSRC)])
    streams = [s for s in find_streams(capture) if s.key.ssrc == srtp_call.CALLER_SSRC]
    decryptor = keyring.decryptor(streams[0].key)
    for packet in stream_packets(capture, streams):
        assert decryptor.decrypt(packet.data) is None
    with pytest.raises(SrtpError, match="no packet authenticated"):
        require_authenticated(srtp_call.CALLER_SSRC, decryptor.stats)


def test_no_key_is_refused_clearly() -> None:
    keyring = SrtpKeyring()
    with pytest.raises(SrtpError, match="looks like SRTP: its key is needed"):
        keyring.decryptor(
            StreamKey("127.0.60.1", 16000, "127.0.60.2", 16002, srtp_call.CALLER_SSRC)
        )


@pytest.mark.peer
def test_a_fresh_call_with_sipp_decrypts(tmp_path: Path) -> None:
    capture = srtp_call.make_call_capture(tmp_path / "call.pcap", tmp_path)
    _check_call(capture)


def test_streams_cli_counts_authenticated_packets_per_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from rtcscope.cli import main

    assert main(["streams", str(DATA / "srtp-sdes-call.pcap"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_ssrc = {row["ssrc"]: row["srtp"] for row in rows}
    for ssrc in (srtp_call.CALLER_SSRC, srtp_call.CALLEE_SSRC):
        assert by_ssrc[ssrc]["authenticated"] == srtp_call.PACKETS_PER_SIDE
        assert by_ssrc[ssrc]["auth_failures"] == 0
    assert rows[0]["srtp_keying"] == "sdes"


def test_streams_cli_wrong_key_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    from rtcscope.cli import main
    from tests.conftest import shared_capture

    capture = shared_capture("marseillaise-srtp.pcap")
    code = main(["streams", str(capture), "--srtp-key", srtp_call.CALLER_KEY, "--format", "csv"])
    assert code == 3
    assert "11888 authentication failures" in capsys.readouterr().err
