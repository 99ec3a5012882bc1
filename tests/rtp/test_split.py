"""`rtcscope split`: tshark lists each written stream with the numbers it had in the original
capture, and sipp 3.6 replays one with play_pcap_audio on loopback (127.0.50.0/24)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rtcscope.cli import main
from rtcscope.scan.files import find_streams
from tests.conftest import shared_capture
from tests.live_capture import capture_while
from tests.peers import background
from tests.rtp.test_tshark_streams import FIELDS, tshark_streams


def _numbers(path: Path) -> dict[tuple[str, int, str, int, int], dict[str, str]]:
    out = {}
    for s in find_streams(path):
        values = {"packets": str(s.stats.packets), "lost": str(s.stats.lost)}
        values.update({f: f"{getattr(s.stats, f):.3f}" for f in FIELDS[2:]})
        k = s.key
        out[(k.src, k.src_port, k.dst, k.dst_port, k.ssrc)] = values
    return out


@pytest.mark.peer
@pytest.mark.parametrize("name", ["SIP_DTMF2.pcap", "sip-rtp-g722.pcap", "aaa.pcap"])
def test_split_files_give_tshark_the_same_numbers(name: str, tmp_path: Path) -> None:
    # Static payload types only: a split file has no SDP, so tshark (like us) would not know
    # a dynamic type's clock there. PT 96 in SIP_DTMF2 is telephone-event, clockless anyway.
    path = shared_capture(name)
    original = _numbers(path)
    assert main(["split", str(path), "-o", str(tmp_path), "--format", "json"]) == 0
    files = sorted(tmp_path.glob("stream-*.pcap"))
    assert len(files) == len(original)
    for file in files:
        theirs = tshark_streams(file, heuristic=True)
        assert len(theirs) == 1
        ((key, values),) = theirs.items()
        assert file.name.endswith(f"-{key[4]:08X}.pcap")
        assert values == original[key]


def test_split_picks_by_ssrc(tmp_path: Path) -> None:
    path = shared_capture("SIP_DTMF2.pcap")
    assert main(["split", str(path), "-o", str(tmp_path), "--ssrc", "0x5711BF84"]) == 0
    assert [f.name for f in tmp_path.iterdir()] == ["stream-002-5711BF84.pcap"]
    assert main(["split", str(path), "-o", str(tmp_path), "--ssrc", "nonsense"]) == 2


SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="replay a split stream">
  <send retrans="500">
    <![CDATA[
      INVITE sip:replay@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:replay@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK sip:replay@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:replay@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="PCAP"/></action></nop>
  <pause milliseconds="1500"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:replay@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:replay@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


@pytest.mark.peer
@pytest.mark.skipif(os.geteuid() != 0, reason="sipp's play_pcap_audio needs a raw socket")
def test_sipp_replays_a_split_stream(tmp_path: Path) -> None:
    path = shared_capture("aaa.pcap")  # one G.711A stream of 9 packets over 0.16 s
    out = tmp_path / "split"
    assert main(["split", str(path), "-o", str(out)]) == 0
    (split_file,) = out.glob("stream-*.pcap")
    ssrc = int(split_file.stem.split("-")[-1], 16)
    scenario = tmp_path / "replay.xml"
    scenario.write_text(SCENARIO.replace("PCAP", str(split_file)))
    uas_ip, uac_ip = "127.0.50.2", "127.0.50.1"

    def replay(here: Path) -> None:
        uas = ["-sn", "uas", "-i", uas_ip, "-p", "5092", "-mi", uas_ip, "-mp", "16000"]
        uas += ["-nostdin", "-timeout", "30s"]
        with background("sipp", uas, here / "uas.log", max_seconds=40):
            time.sleep(0.5)
            uac = ["-sf", scenario, "-i", uac_ip, "-p", "5091", "-mi", uac_ip, "-mp", "16100"]
            uac += ["-m", "1", "-nostdin", "-timeout", "30s", f"{uas_ip}:5092"]
            with background("sipp", uac, here / "uac.log", max_seconds=40) as proc:
                proc.wait(timeout=35)
                assert proc.returncode == 0, (here / "uac.log").read_text()[-2000:]

    recording = capture_while(tmp_path, "replayed.pcap", replay, ["udp", "and", "host", uas_ip])
    replayed = [s for s in find_streams(recording) if s.key.ssrc == ssrc]
    assert len(replayed) == 1, [str(s.key) for s in find_streams(recording)]
    stream = replayed[0]
    assert (stream.key.src, stream.key.dst, stream.key.dst_port) == (uac_ip, uas_ip, 16000)
    assert stream.stats.packets == 9
