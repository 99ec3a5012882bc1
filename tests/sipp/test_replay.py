"""``rtcscope replay``: a 60 s stream to a UDP receiver on loopback, every payload
byte-identical; the pure pacing plan. (Timing is shown by bench/replay/run.py, not asserted.)"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
from pathlib import Path

import pytest

from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.errors import InvalidArgument
from rtcscope.replay import Send, percentile, plan_sends
from rtcscope.sipp.pcapfile import udp_ethernet_frame
from tests.conftest import shared_capture
from tests.peers import tshark_fields

RECEIVER = ("127.0.60.20", 7020)


def make_stream(path: Path, seconds: int, seed: int = 17) -> list[bytes]:
    """A PCMA stream written by the test: 20 ms packets with random payloads, a few lost and
    a few late; returns the RTP datagrams in file order."""
    rng = random.Random(seed)
    sent: list[bytes] = []
    with PcapWriter(path) as writer:
        for i in range(seconds * 50):
            if rng.random() < 0.01:
                continue  # lost: a gap in sequence and time
            header = struct.pack("!BBHII", 0x80, 8 | (0x80 if i == 0 else 0), i, 160 * i, 0xC0FFEE)
            datagram = header + rng.randbytes(160)
            ts_ns = 1_700_000_000_000_000_000 + i * 20_000_000 + rng.randrange(0, 3_000_000)
            frame = udp_ethernet_frame("10.0.0.1", 40000, "10.0.0.2", 50000, datagram)
            writer.write(frame, ts_ns)
            sent.append(datagram)
    return sent


def test_replay_of_a_60_s_stream_arrives_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "sixty.pcap"
    sent = make_stream(capture, 60)
    received: list[bytes] = []
    receiver = _receiver(RECEIVER)

    def receive() -> None:
        try:
            while len(received) < len(sent):
                received.append(receiver.recv(2048))
        except TimeoutError:
            pass

    thread = threading.Thread(target=receive)
    thread.start()
    try:
        code = main(
            [
                "replay",
                str(capture),
                "--to",
                f"{RECEIVER[0]}:{RECEIVER[1]}",
                "--from",
                "127.0.60.21:7022",
                "--speed",
                "20",
                "--format",
                "json",
            ]
        )
    finally:
        thread.join(timeout=10)
        receiver.close()
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["packets"] == len(sent) == len(received)
    assert received == sent
    assert report["bytes"] == sum(map(len, sent))


def test_plan_follows_the_capture_times_scaled_by_speed() -> None:
    rtp = [(1_000_000_000, b"a"), (1_020_000_000, b"b"), (1_060_000_000, b"c")]
    rtcp = [(1_030_000_000, b"r")]
    plan = plan_sends(rtp, rtcp, speed=2.0)
    assert plan == [
        Send(0, 0, b"a"),
        Send(10_000_000, 0, b"b"),
        Send(15_000_000, 1, b"r"),
        Send(30_000_000, 0, b"c"),
    ]
    with pytest.raises(InvalidArgument):
        plan_sends(rtp, speed=0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([], 0.5) == 0.0


def _receiver(address: tuple[str, int]) -> socket.socket:
    """A UDP receiver whose buffer holds a whole test stream even if its thread gets no time
    while the sender paces (a busy 2-core machine, the GIL): 16 MB, forced past rmem_max
    (root, as CI runs); skipped when the system cannot give that much."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < 8 << 20:
        sock.close()
        pytest.skip("no 8 MB UDP receive buffer here (needs root or a larger rmem_max)")
    sock.bind(address)
    sock.settimeout(2.0)
    return sock


def _receive_all(sock: socket.socket, into: list[tuple[bytes, tuple[str, int]]]) -> None:
    try:
        while True:
            into.append(sock.recvfrom(2048))
    except TimeoutError:
        pass


@pytest.mark.peer
def test_replay_with_rtcp_sends_both_from_and_to_the_next_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """heplify's capture: stream 1 (SSRC 0xD2BD4E3E) and the RTCP its sender sent from port
    8001; tshark gives the datagrams the receivers must get."""
    capture = shared_capture("heplify-rtp_rtcp_sip_ipv4_udp.pcap")
    flow = (
        "ip.src == 200.57.7.204 && ip.dst == 200.57.7.196 && udp.srcport == {} && udp.dstport == {}"
    )

    def payloads(sport: int, dport: int) -> list[bytes]:
        rows = tshark_fields(capture, ["udp.payload"], flow.format(sport, dport))
        return [bytes.fromhex(row[0]) for row in rows]

    rtp_expected, rtcp_expected = payloads(8000, 40376), payloads(8001, 40377)
    assert len(rtcp_expected) == 8
    got: dict[int, list[tuple[bytes, tuple[str, int]]]] = {7024: [], 7025: []}
    sockets = []
    threads = []
    for port, into in got.items():
        sock = _receiver(("127.0.60.22", port))
        sockets.append(sock)
        threads.append(threading.Thread(target=_receive_all, args=(sock, into)))
    for thread in threads:
        thread.start()
    try:
        argv = ["replay", str(capture), "--stream", "1", "--rtcp", "--speed", "20"]
        argv += ["--to", "127.0.60.22:7024", "--from", "127.0.60.23:7026", "--format", "json"]
        assert main(argv) == 0
    finally:
        for thread in threads:
            thread.join(timeout=30)
        for sock in sockets:
            sock.close()
    report = json.loads(capsys.readouterr().out)
    assert (report["packets"], report["rtcp_packets"]) == (len(rtp_expected), 8)
    assert [data for data, _ in got[7024]] == rtp_expected
    assert [data for data, _ in got[7025]] == rtcp_expected
    assert {source for _, source in got[7024]} == {("127.0.60.23", 7026)}
    assert {source for _, source in got[7025]} == {("127.0.60.23", 7027)}
