"""End to end: an Event Socket server that follows FreeSWITCH's protocol, ``rtcscope hepipe``
as a separate process, and Kamailio 5.6 sipcapture as the HEP receiver.

* The ESL server (tests/esl/fake_freeswitch.py) sends the real event bodies of
  ../shared/esl (genesis-channel_create.txt, genesis-register.txt) and the RTCP/QoS fixtures
  written in FreeSWITCH's exact format (tests/hepipe/fixtures, see its README: no freely
  licensed dump of those events exists).
* hepipe reads a hepipe.js-style JSON config (hep_config/esl_config); a flag overrides the
  capture id.
* Its UDP datagrams pass through a tee in this test that decodes each with rtcscope's HEP
  codec (issue 10) and forwards the same bytes to Kamailio, whose
  ``event_route[sipcapture:request]`` (sipcapture ``nonsip_hook``) logs ``$hep(0x00b)``
  (protocol type), ``$hep(0x011)`` (correlation id), ``$hep(0x009)``/``$hep(0x00a)``
  (seconds/microseconds), ``$hep(0x00c)`` (capture id) and ``$hep(0x00f)`` (payload).
* Checked against the event text itself: correlation id = the SIP Call-ID, seconds and
  microseconds = Event-Date-Timestamp, capture id, SSRCs as integers, QoS values = the
  event's variables; and Kamailio's view = our decoder's view, message by message.
* Mid-call the ESL server is killed and restarted: hepipe reconnects and goes on; an RTCP
  event of a leg it never saw is resolved through ``api uuid_getvar``.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path

import pytest

from rtcscope.hep.codec import HepPacket
from tests.esl.fake_freeswitch import FakeFreeSwitch, dump_body
from tests.esl.test_protocol import ESL_DIR
from tests.hepipe.test_mapping import A_CALL_ID, A_LEG, FIXTURES, fixture_value
from tests.peers import background, program, rtcscope_background, rtcscope_cli

ESL_HOST = "127.0.30.1"
KAMAILIO_HOST = "127.0.30.2"
TEE_HOST = "127.0.30.3"
COLLECTOR_HOST = "127.0.30.6"
B_LEG = "9a1e0f7c-a727-11e4-9729-6f83a2e5e50a"
B_CALL_ID = "4f1d7e2a-b-leg@172.16.7.69"

# protocol type | correlation id | seconds | microseconds | capture id | payload
XLOG_FORMAT = "HEPLOG|" + "|".join(
    f"$hep(0x{chunk:03x})" for chunk in (0x00B, 0x011, 0x009, 0x00A, 0x00C, 0x00F)
)
KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
disable_tcp=yes
listen=udp:{host}:{port}
mpath="{mpath}"
loadmodule "db_text.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "sipcapture.so"
modparam("xlog", "buf_size", 65536)
modparam("sipcapture", "db_url", "text://{db}")
modparam("sipcapture", "hep_capture_on", 1)
modparam("sipcapture", "nonsip_hook", 1)
event_route[sipcapture:request] {{
    xlog("L_ALERT", "{xlog_format}\\n");
    drop;
}}
request_route {{
    drop;
}}
"""


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def kamailio_module_dir() -> str:
    for candidate in ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules"):
        if (Path(candidate) / "sipcapture.so").exists():
            return candidate
    pytest.skip("kamailio's sipcapture module is not installed")


class Tee(asyncio.DatagramProtocol):
    """Receives hepipe's datagrams, decodes each, forwards the same bytes to Kamailio and to
    rtcscope's collector."""

    def __init__(self, *forward_to: tuple[str, int]) -> None:
        self.forward_to = forward_to
        self.decoded: list[HepPacket] = []
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.decoded.append(HepPacket.parse(data))
        for destination in self.forward_to:
            self.out.sendto(data, destination)


async def wait_for(predicate, what: str, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def kamailio_lines(log: Path) -> list[list[str]]:
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        if "HEPLOG|" in line:
            rows.append(line.split("HEPLOG|", 1)[1].split("|", 5))
    return rows


def stamp(text: str) -> tuple[int, int]:
    return int(text[:-6]), int(text[-6:])


@pytest.mark.peer
@pytest.mark.slow
def test_hepipe_to_kamailio_sipcapture_with_an_esl_restart(tmp_path: Path) -> None:
    program("kamailio")
    if not (ESL_DIR / "genesis-channel_create.txt").exists():
        pytest.skip("../shared/esl is absent")
    mpath = kamailio_module_dir()
    kam_port = free_udp_port(KAMAILIO_HOST)
    (tmp_path / "db").mkdir()
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(
        KAMAILIO_CFG.format(
            host=KAMAILIO_HOST,
            port=kam_port,
            mpath=mpath,
            db=tmp_path / "db",
            xlog_format=XLOG_FORMAT,
        )
    )
    kam_log = tmp_path / "kamailio.log"
    hepipe_log = tmp_path / "hepipe.log"
    kam_args = ["-f", cfg, "-DD", "-E", "-P", tmp_path / "kamailio.pid", "-Y", tmp_path]

    create = dump_body(ESL_DIR / "genesis-channel_create.txt")
    register = dump_body(ESL_DIR / "genesis-register.txt")

    def fixture(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    # An RTCP report of a leg hepipe never saw (its CHANNEL_CREATE went out while it was
    # disconnected): only uuid_getvar can name its Call-ID.
    b_leg_rtcp = fixture("recv_rtcp_message.txt").replace(A_LEG.encode(), B_LEG.encode())

    async def scenario() -> tuple[list[HepPacket], list[str]]:
        loop = asyncio.get_running_loop()
        tee = Tee((KAMAILIO_HOST, kam_port), (COLLECTOR_HOST, collector_port))
        transport, _ = await loop.create_datagram_endpoint(lambda: tee, local_addr=(TEE_HOST, 0))
        tee_port = transport.get_extra_info("sockname")[1]
        fs = FakeFreeSwitch(ESL_HOST)
        await fs.start()
        config = tmp_path / "hepipe.json"
        config.write_text(
            json.dumps(
                {
                    "hep_config": {"HEP_SERVER": TEE_HOST, "HEP_PORT": tee_port},
                    "esl_config": {
                        "debug": False,
                        "ESL_SERVER": ESL_HOST,
                        "ESL_PORT": fs.port,
                        "ESL_PASS": "ClueCon",
                        "HEP_PASS": "multipass",
                        "HEP_ID": 2222,
                        "report_call_events": True,
                        "report_rtcp_events": True,
                        "report_qos_events": True,
                    },
                }
            )
        )
        try:
            with rtcscope_background(
                ["hepipe", "--config", config, "--capture-id", "3333"], hepipe_log
            ) as proc:
                await asyncio.wait_for(fs.subscribed.wait(), 20)
                subscription = fs.sessions[0].commands[-1]
                for body in (
                    create,
                    fixture("channel_answer.txt"),
                    fixture("recv_rtcp_message.txt"),
                ):
                    await fs.fire(body)
                await wait_for(lambda: len(tee.decoded) >= 3, "3 HEP messages before the restart")
                # FreeSWITCH dies mid-call and comes back on the same port.
                await fs.stop(abrupt=True)
                await asyncio.sleep(0.3)
                fs = FakeFreeSwitch(ESL_HOST, fs.port)
                fs.channel_variables[B_LEG] = {"sip_call_id": B_CALL_ID}
                await fs.start()
                await asyncio.wait_for(fs.subscribed.wait(), 20)
                for body in (
                    b_leg_rtcp,
                    fixture("send_rtcp_message.txt"),
                    fixture("channel_hangup_complete.txt"),
                    fixture("channel_destroy.txt"),
                    register,
                ):
                    await fs.fire(body)
                # recv(B) + send + hangup(log, QoS) + destroy(log) + register = 6 more
                await wait_for(lambda: len(tee.decoded) >= 9, "9 HEP messages")
                await wait_for(lambda: len(kamailio_lines(kam_log)) >= 9, "Kamailio's 9 lines")
                api_calls = list(fs.api_log)
                proc.send_signal(10)  # SIGUSR1: counters without stopping
                await wait_for(lambda: "events received:" in hepipe_log.read_text(), "counters")
                assert proc.poll() is None
            return tee.decoded, [subscription, *api_calls]
        finally:
            await fs.stop()
            transport.close()

    collector_port = free_udp_port(COLLECTOR_HOST)
    store = tmp_path / "store"
    collector_args = [
        "hep",
        "listen",
        "--store",
        store,
        "--bind",
        f"{COLLECTOR_HOST}:{collector_port}",
        "--password",
        "multipass",
        "--no-pcap",
        "--format",
        "json",
    ]
    collector_log = tmp_path / "collector.log"
    with (
        background("kamailio", kam_args, kam_log, max_seconds=90),
        rtcscope_background(collector_args, collector_log),
    ):
        deadline = time.monotonic() + 30
        while "Listening on" not in kam_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, kam_log.read_text()
            time.sleep(0.05)
        # The collector is ready when it says so (its start-up is slower on a busy machine).
        while "listening on" not in collector_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, collector_log.read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        decoded, commands = asyncio.run(asyncio.wait_for(scenario(), 80))
        time.sleep(0.3)
        kam = kamailio_lines(kam_log)
    # The collector (issue 10), stopped by PID above, stored what it received.
    collector_stats = json.loads(collector_log.read_text().split("\n", 1)[1])
    assert collector_stats["received"] == collector_stats["stored"] == 9
    assert collector_stats["rejected_password"] == 0  # hepipe's HEP_PASS was accepted
    stored = json.loads(
        rtcscope_cli(["hep", "search", store, "--format", "json"], check=True).stdout
    )

    # Subscribed to what it maps, never "all"; the unseen leg was looked up.
    assert commands[0] == (
        "event plain CHANNEL_CREATE CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_BRIDGE "
        "CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE "
        "CUSTOM sofia::register sofia::unregister"
    )
    assert f"uuid_getvar {B_LEG} sip_call_id" in commands[1:]

    assert len(decoded) == len(kam) == 9
    # Kamailio, our decoder and our collector see the same values, message by message.
    assert len(stored) == 9
    by_time = sorted(
        zip(kam, decoded, strict=True), key=lambda pair: int(pair[0][2]) * 10**6 + int(pair[0][3])
    )
    for (row, _), message in zip(by_time, stored, strict=True):
        assert message["proto_type"] == int(row[0])
        assert message["correlation_id"] == row[1]
        assert message["time_ns"] == (int(row[2]) * 1_000_000 + int(row[3])) * 1000
        assert message["capture_id"] == int(row[4])
        assert json.loads(message["payload"]) == json.loads(row[5])
    for packet, row in zip(decoded, kam, strict=True):
        proto, correlation, sec, usec, capture, payload = row
        assert int(proto) == packet.proto_type
        assert correlation == packet.correlation_id
        assert (int(sec), int(usec)) == (packet.ts_sec, packet.ts_usec)
        assert int(capture) == packet.capture_id == 3333  # the flag beat the file's 2222
        assert json.loads(payload) == json.loads(packet.payload)
        assert packet.auth_key == "multipass"

    expected = [
        (100, A_CALL_ID, "1422468044671081"),  # genesis-channel_create.txt
        (100, A_CALL_ID, fixture_value("channel_answer.txt", "Event-Date-Timestamp")),
        (5, A_CALL_ID, fixture_value("recv_rtcp_message.txt", "Event-Date-Timestamp")),
        (5, B_CALL_ID, fixture_value("recv_rtcp_message.txt", "Event-Date-Timestamp")),
        (5, A_CALL_ID, fixture_value("send_rtcp_message.txt", "Event-Date-Timestamp")),
        (100, A_CALL_ID, fixture_value("channel_hangup_complete.txt", "Event-Date-Timestamp")),
        (34, A_CALL_ID, fixture_value("channel_hangup_complete.txt", "Event-Date-Timestamp")),
        (100, A_CALL_ID, fixture_value("channel_destroy.txt", "Event-Date-Timestamp")),
        (100, "002D61B2-5F3A-DD11-BF4B-00132019B750@192.168.1.23", "1245190546126571"),
    ]
    for row, (proto, correlation, timestamp) in zip(kam, expected, strict=True):
        assert (int(row[0]), row[1]) == (proto, correlation)
        assert (int(row[2]), int(row[3])) == stamp(timestamp)

    recv = json.loads(kam[2][5])
    assert recv["ssrc"] == int(fixture_value("recv_rtcp_message.txt", "SSRC"), 16) == 4087728097
    assert recv["report_blocks"][0]["source_ssrc"] == 0x0D45E2B1
    assert re.fullmatch(r'.*"ssrc":4087728097,.*', kam[2][5])  # a JSON number, not a string
    sent = json.loads(kam[4][5])
    assert sent["ssrc"] == 0x0D45E2B1 and sent["report_blocks"][0]["source_ssrc"] == 0xF3A5C7E1

    qos = json.loads(kam[6][5])
    hangup = "channel_hangup_complete.txt"

    def var(name: str) -> str:
        return fixture_value(hangup, "variable_rtp_audio_" + name)

    assert qos["MOS"] == float(var("in_mos"))
    assert qos["MIN_JITTER"] == float(var("in_jitter_min_variance"))
    assert qos["MAX_JITTER"] == float(var("in_jitter_max_variance"))
    assert qos["TOTAL_PK"] == int(var("in_packet_count")) + int(var("out_packet_count"))
    assert qos["TL_BYTE"] == int(var("in_media_bytes")) + int(var("out_media_bytes"))
    assert qos["PACKET_LOSS"] == int(var("in_skip_packet_count")) + int(
        var("out_skip_packet_count")
    )
    assert qos["DELTA"] == float(var("in_mean_interval"))
    assert qos["CODEC_NAME"] == fixture_value(hangup, "variable_rtp_use_codec_name")
    assert qos["CORRELATION_ID"] == A_CALL_ID

    log = hepipe_log.read_text()
    assert "ESL session ended" in log and "reconnecting to ESL in" in log
    assert log.count("hepipe: connected to ESL") == 2
    final = log.rsplit("events received:", 1)[1]
    assert final.split("\n", 1)[0].strip() == "8"  # 3 before the restart, 5 after
    assert "HEP sent: 9" in final
    assert "QoS already reported for this leg: 1" in final
