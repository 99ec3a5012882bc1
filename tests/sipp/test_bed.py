"""Real sipp 3.6.1 runs our scenarios on loopback (127.0.60.0/24): the UAS plays the chosen
stream with play_pcap_audio, our UAC calls it, tcpdump records lo, and tshark compares what
the UAS sent with the original stream, packet for packet (the whole RTP datagram)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import shlex
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from rtcscope.cli import main
from tests import peers
from tests.conftest import DATA
from tests.sipp.live import capture_while, rtp_rows, wait_until_bound

pytestmark = pytest.mark.peer

UAS_IP, UAC_IP = "127.0.60.1", "127.0.60.2"


def _window(rows: list[list[str]], start_s: float, seconds: float) -> list[list[str]]:
    """The rows from ``start_s`` after the first for ``seconds`` (times as tshark prints)."""
    origin = Decimal(rows[0][0])
    low, high = origin + Decimal(str(start_s)), origin + Decimal(str(start_s + seconds))
    return [row for row in rows if low <= Decimal(row[0]) <= high]


def _printed_command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    """Run our CLI and take the sipp command line it prints (the one a user would paste)."""
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("sipp ")]
    assert len(lines) == 1
    return shlex.split(lines[0])[1:]


def _call(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    capture: Path,
    select: list[str],
    ports: tuple[int, int, int, int],
    cut: list[str],
    uas_extra: tuple[str, ...] = (),
    uac_extra: tuple[str, ...] = (),
    edit_uas: Callable[[str], str] | None = None,
) -> tuple[Path, int, int]:
    """Write both beds with our CLI, run the sipp command lines it prints (UAS, then UAC)
    while tcpdump captures lo; returns the capture and the UAS's and UAC's exit codes."""
    sip_uas, media_uas, sip_uac, media_uac = ports
    common = [str(capture), *select, *cut]
    uas_args = _printed_command(
        capsys,
        [
            "sipp",
            "uas",
            *common,
            "-o",
            str(tmp_path / "uas"),
            "--ip",
            UAS_IP,
            "--port",
            str(sip_uas),
            "--media-port",
            str(media_uas),
            "--wait",
            "5",
            *uas_extra,
        ],
    )
    uac_args = _printed_command(
        capsys,
        [
            "sipp",
            "uac",
            *common,
            "-o",
            str(tmp_path / "uac"),
            "--ip",
            UAC_IP,
            "--port",
            str(sip_uac),
            "--media-port",
            str(media_uac),
            *uac_extra,
            "--to",
            f"{UAS_IP}:{sip_uas}",
        ],
    )
    if edit_uas is not None:
        scenario = tmp_path / "uas" / "uas.xml"
        scenario.write_text(edit_uas(scenario.read_text("iso-8859-1")), "iso-8859-1")
    codes: dict[str, int] = {}

    def body(here: Path) -> None:
        with peers.background("sipp", uas_args, here / "uas.log", max_seconds=30, cwd=here) as uas:
            wait_until_bound(UAS_IP, sip_uas)
            caller = peers.run("sipp", uac_args, timeout=30, check=False, cwd=here)
            codes["uac"] = caller.returncode
            try:
                codes["uas"] = uas.wait(timeout=15)
            except subprocess.TimeoutExpired:  # stopped by PID on leaving the context
                codes["uas"] = -1
        log = (here / "uas.log").read_text("utf-8", "replace")
        assert "Can't create raw" not in log, log[-2000:]

    live = capture_while(tmp_path, "live.pcap", body)
    return live, codes["uas"], codes["uac"]


# The caller of the SIP_DTMF2 bed plays the other direction's stream where it lost two
# packets (seq 53240 -> 53242 and 53318 -> 53320, 15.3 s and 17.7 s into it).
DTMF2_CALLER = ("--stream", "1", "--start", "15.25", "--seconds", "2.45")


@pytest.mark.parametrize(
    ("name", "select", "start", "seconds", "filter_", "rtpmap", "uac_extra"),
    [
        (
            "sip-rtp-opus.pcap",
            ["--ssrc", "0x043EEE04"],
            0.0,
            2.0,
            "rtp.ssrc == 0x043EEE04",
            "rtpmap:99 opus/48000/2",
            (),
        ),
        (
            "SIP_DTMF2.pcap",
            ["--stream", "2"],
            4.5,
            2.5,
            "rtp.ssrc == 0x5711BF84",
            None,
            DTMF2_CALLER,
        ),
        (
            "sip-rtp-g722.pcap",
            ["--call", "1-2161@10.0.2.20", "--direction", "callee"],
            1.0,
            1.5,
            "rtp.ssrc == 0x043DAABA",
            "rtpmap:9 G722/8000",
            (),
        ),
    ],
)
def test_uas_plays_the_stream_as_captured(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    select: list[str],
    start: float,
    seconds: float,
    filter_: str,
    rtpmap: str | None,
    uac_extra: tuple[str, ...],
) -> None:
    capture = DATA / name
    index = ["sip-rtp-opus.pcap", "SIP_DTMF2.pcap", "sip-rtp-g722.pcap"].index(name)
    ports = (5160 + 10 * index, 6160 + 10 * index, 5162 + 10 * index, 6164 + 10 * index)
    cut = ["--start", str(start), "--seconds", str(seconds)]
    live, uas_code, uac_code = _call(
        tmp_path, capsys, capture, select, ports, cut, uac_extra=uac_extra
    )
    assert (uas_code, uac_code) == (0, 0)

    original = _window(rtp_rows(capture, filter_, []), start, seconds)
    played = rtp_rows(live, f"ip.src == {UAS_IP} && udp.srcport == {ports[1]}", [ports[1]])
    assert len(original) > 40
    # Every field and the whole datagram, packet for packet (times differ, of course).
    assert [row[1:] for row in played] == [row[1:] for row in original]
    if name == "SIP_DTMF2.pcap":
        assert {"96"} <= {row[5] for row in played}  # the RFC 4733 events came along
        # The caller's stream, played by our UAC, keeps its two losses.
        caller = _window(rtp_rows(capture, "rtp.ssrc == 0x9A7B5382", []), 15.25, 2.45)
        sent = rtp_rows(live, f"ip.src == {UAC_IP} && udp.srcport == {ports[3]}", [ports[3]])
        assert [row[1:] for row in sent] == [row[1:] for row in caller]
        seqs = [int(row[2]) for row in sent]
        assert [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1] == [
            (53240, 53242),
            (53318, 53320),
        ]

    # The 200's SDP offers the original codec (its rtpmap as the capture's SDP wrote it).
    answer = peers.tshark_fields(
        live, ["sdp.media_attr", "sdp.media"], "sip.Status-Code == 200 && sdp"
    )
    original_sdp = peers.tshark_fields(capture, ["sdp.media_attr"], "sdp")
    attrs = answer[0][0].split(",")
    if rtpmap is None:  # SIP_DTMF2: PCMA (static, no rtpmap in the capture) + telephone-event
        assert answer[0][1].split(" ")[3:] == ["8", "96"]
        assert "rtpmap:96 telephone-event/8000" in attrs
        assert any("rtpmap:96 telephone-event/8000" in row[0] for row in original_sdp)
    else:
        assert rtpmap in attrs
        assert any(rtpmap in row[0].split(",") for row in original_sdp)


@pytest.mark.parametrize(("password", "completes"), [("secret", True), ("wrong", False)])
def test_digest_auth_between_our_uac_and_uas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], password: str, completes: bool
) -> None:
    """--auth against --require-auth: a right password completes the call; a wrong one
    gets a 403, which our UAC ACKs before its sipp exits non-zero."""
    shift = 0 if completes else 10
    ports = (5200 + shift, 6200 + shift, 5202 + shift, 6204 + shift)
    live, uas_code, uac_code = _call(
        tmp_path,
        capsys,
        DATA / "sip-rtp-g722.pcap",
        ["--stream", "1"],
        ports,
        ["--seconds", "0.4"],
        uas_extra=("--require-auth", "alice:secret"),
        uac_extra=("--auth", f"alice:{password}"),
    )
    rows = peers.tshark_fields(
        live,
        ["ip.src", "sip.Method", "sip.Status-Code", "sip.CSeq", "sip.auth.username"],
        # this call's SIP ports only: the capture takes the bed's whole address range
        f"sip && udp.port == {ports[0]} && udp.port == {ports[2]}",
    )
    flow = [(r[0], r[1] or r[2], r[3]) for r in rows]
    assert flow[:4] == [
        (UAC_IP, "INVITE", "1 INVITE"),
        (UAS_IP, "401", "1 INVITE"),
        (UAC_IP, "ACK", "1 ACK"),
        (UAC_IP, "INVITE", "2 INVITE"),
    ]
    assert rows[3][4] == '"alice"' or rows[3][4] == "alice"
    if completes:
        assert (uas_code, uac_code) == (0, 0)
        assert (UAS_IP, "200", "2 INVITE") in flow
        assert (UAC_IP, "ACK", "2 ACK") in flow
        assert any(method == "BYE" for _, method, _ in flow)
    else:
        assert uac_code != 0
        assert flow[4:] == [(UAS_IP, "403", "2 INVITE"), (UAC_IP, "ACK", "2 ACK")]


def test_run_option_runs_both_sides(tmp_path: Path) -> None:
    """``--run``: our CLI runs sipp itself (bounded, stopped by PID); a refused call exits 4."""
    capture = DATA / "sip-rtp-g722.pcap"
    uas = ["sipp", "uas", capture, "-o", tmp_path / "uas", "--stream", "1", "--seconds", "0.3"]
    uas += ["--ip", UAS_IP, "--port", "5230", "--media-port", "6230", "--wait", "10"]
    uas += ["--require-auth", "alice:secret", "--run"]
    uac = ["sipp", "uac", capture, "-o", tmp_path / "uac", "--stream", "1", "--seconds", "0.3"]
    uac += ["--ip", UAC_IP, "--port", "5232", "--media-port", "6232", "--to", f"{UAS_IP}:5230"]
    uac += ["--run"]
    for password, uac_exit in (("secret", 0), ("wrong", 4)):
        with peers.rtcscope_background(uas, tmp_path / f"uas-{password}.log") as server:
            wait_until_bound(UAS_IP, 5230)  # our CLI reads the capture, then starts sipp
            done = peers.rtcscope_cli([*uac, "--auth", f"alice:{password}"], timeout=60)
            assert done.returncode == uac_exit, done.stdout + done.stderr
            assert server.wait(timeout=30) == 0
        if uac_exit:
            assert "sipp uac exited 1" in done.stderr
        else:
            assert "sipp uac finished: exit 0" in done.stdout


def test_srtp_stream_is_replayed_with_its_senders_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SDES-SRTP stream is replayed still encrypted and the 200's SDP carries the
    sender's a=crypto line (RFC 4568 6.1), so the receiver can decrypt what it gets:
    libsrtp (pylibsrtp) authenticates and decrypts every packet with that key."""
    from pylibsrtp import Policy, Session

    capture = DATA / "srtp-sdes-call.pcap"
    ports = (5250, 6250, 5252, 6254)
    live, uas_code, uac_code = _call(
        tmp_path, capsys, capture, ["--stream", "1"], ports, [], uac_extra=("--stream", "2")
    )
    assert (uas_code, uac_code) == (0, 0)
    answer = peers.tshark_fields(live, ["sdp.media_attr", "sdp.media"], "sip.Status-Code == 200")
    offered = peers.tshark_fields(capture, ["sdp.media_attr"], "sip.Method == INVITE && sdp")
    crypto = [a for a in answer[0][0].split(",") if a.startswith("crypto:")]
    assert crypto and crypto[0] in offered[0][0].split(",")  # the caller's own key
    assert "RTP/SAVP" in answer[0][1]
    key = base64.b64decode(crypto[0].split("inline:")[1])
    session = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    played = rtp_rows(live, f"ip.src == {UAS_IP} && udp.srcport == {ports[1]}", [ports[1]])
    original = rtp_rows(capture, "rtp.ssrc == 0x0ca11e55", [16000, 16002])
    assert [row[1:] for row in played] == [row[1:] for row in original]
    clear = [session.unprotect(bytes.fromhex(row[7])) for row in played]
    assert len(clear) == 100 and all(len(c) == 12 + 160 for c in clear)


def test_uac_answers_a_407_with_a_right_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Our UAS turned into a proxy challenge (407, Proxy-Authenticate): our UAC answers with
    Proxy-Authorization whose response the test computes itself (RFC 2617 3.2.2.1, no qop:
    MD5(HA1:nonce:HA2)). sipp's verifyauth reads only Authorization, so this UAS refuses it
    with a 403, which the UAC ACKs before failing."""

    def proxy_challenge(text: str) -> str:
        text = text.replace("401 Unauthorized", "407 Proxy Authentication Required")
        return text.replace("WWW-Authenticate:", "Proxy-Authenticate:")

    live, _, uac_code = _call(
        tmp_path,
        capsys,
        DATA / "sip-rtp-g722.pcap",
        ["--stream", "1"],
        (5260, 6260, 5262, 6264),
        ["--seconds", "0.3"],
        uas_extra=("--require-auth", "bob:pw"),
        uac_extra=("--auth", "bob:pw"),
        edit_uas=proxy_challenge,
    )
    fields = ["sip.auth.username", "sip.auth.realm", "sip.auth.nonce", "sip.auth.uri"]
    rows = peers.tshark_fields(
        live, [*fields, "sip.auth.digest.response"], "sip.Proxy-Authorization"
    )
    assert len(rows) == 1
    user, realm, nonce, uri, response = (value.strip('"') for value in rows[0])

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    assert (user, realm) == ("bob", "rtcscope")
    assert response == md5(f"{md5(f'bob:{realm}:pw')}:{nonce}:{md5(f'INVITE:{uri}')}")
    flow = peers.tshark_fields(live, ["sip.Method", "sip.Status-Code", "sip.CSeq"], "sip")
    assert [r[0] or r[1] for r in flow] == ["INVITE", "407", "ACK", "INVITE", "403", "ACK"]
    assert uac_code != 0
