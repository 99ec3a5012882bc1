"""RFC 4733 events beyond DTMF: a fax answer tone, CNG, flash and Cisco NSE are named, have a
kind, and are never printed as digits; an unsignalled event stream is told by its shape.

The capture is made here: G.711 audio and events on dynamic payload type 101 with no SDP (as
in a trace started after the INVITE). tshark, told that PT 101 is telephone-event, gives the
event numbers independently.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.rtp.events import (
    EventKind,
    TelephoneEvent,
    event_kind,
    event_name,
    looks_like_telephone_events,
)
from rtcscope.rtp.packet import RtpPacket
from rtcscope.scan.files import find_streams
from tests.peers import rtcscope_cli, tshark_fields

scapy_all = pytest.importorskip("scapy.all")

SSRC = 0x5EED0001
EVENT_PT = 101
PORT = 40000
# (event, packets before the end): a key, the fax tones, flash, two Cisco NSE signals.
EVENTS = [(5, 4), (32, 6), (36, 3), (16, 2), (192, 2), (194, 2), (11, 3)]


def datagrams() -> list[tuple[float, bytes]]:
    """(time s, RTP datagram): 20 ms G.711 packets; each event interrupts the audio, its
    packets repeat the start timestamp with a growing duration, the end is sent 3 times
    (RFC 4733 2.5.1.4)."""
    rng = random.Random(4733)
    out: list[tuple[float, bytes]] = []
    seq, ts, t = 1000, 160_000, 0.0

    def send(pt: int, timestamp: int, payload: bytes, marker: bool = False) -> None:
        nonlocal seq, t
        out.append((t, RtpPacket(pt, seq, timestamp, SSRC, marker, payload=payload).encode()))
        seq = (seq + 1) & 0xFFFF
        t += 0.020

    for event, body_packets in EVENTS:
        for _ in range(10):
            send(0, ts, bytes(rng.randrange(256) for _ in range(160)))
            ts += 160
        start = ts
        for index in range(body_packets):
            body = TelephoneEvent(event, False, 10, 160 * (index + 1)).encode()
            send(EVENT_PT, start, body, marker=index == 0)
        end = TelephoneEvent(event, True, 10, 160 * (body_packets + 1)).encode()
        for _ in range(3):
            send(EVENT_PT, start, end)
        ts = start + 160 * (body_packets + 1)
    for _ in range(10):
        send(0, ts, bytes(160))
        ts += 160
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.pcap"
    write_capture(path)
    return path


def write_capture(path: Path) -> None:
    """The capture (deterministic; tests/data/rtp-events.pcap is this)."""
    frames = []
    for offset, data in datagrams():
        frame = (
            scapy_all.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / scapy_all.IP(src="10.83.0.1", dst="10.83.0.2")
            / scapy_all.UDP(sport=PORT, dport=PORT)
            / data
        )
        frame.time = 1_700_000_000.0 + offset
        frames.append(frame)
    scapy_all.wrpcap(str(path), frames)


def test_names_and_kinds_follow_the_rfcs() -> None:
    assert [event_name(e) for e in range(16)] == list("0123456789*#ABCD")
    assert {event_kind(e) for e in range(16)} == {EventKind.DIGIT}
    assert (event_name(16), event_kind(16)) == ("flash", EventKind.FLASH)
    # RFC 4734 3: the fax and modem tones.
    assert [event_name(e) for e in (32, 33, 34, 35, 36)] == [
        "ANS",
        "/ANS",
        "ANSam",
        "/ANSam",
        "CNG",
    ]
    assert event_kind(36) is EventKind.TONE
    assert event_name(37) == "V.21 channel 1 bit 0"
    assert (event_name(194), event_kind(194)) == ("vendor (Cisco NSE 194)", EventKind.VENDOR)
    assert event_name(133) == "MF 5"
    assert event_name(20) == "event 20"


@pytest.mark.peer
def test_events_equal_tsharks_and_only_keys_are_digits(capture: Path) -> None:
    rows = tshark_fields(
        capture,
        ["rtp.timestamp", "rtpevent.event_id"],
        "rtpevent",
        [
            "-d",
            f"udp.port=={PORT},rtp",
            "-o",
            f"rtpevent.event_payload_type_value:{EVENT_PT}",
        ],
    )
    theirs: dict[str, int] = {}
    for timestamp, event in rows:
        theirs.setdefault(timestamp, int(event))
    assert list(theirs.values()) == [e for e, _ in EVENTS]

    (stream,) = find_streams(capture, with_dtmf=True, rtp_ports=(PORT,))
    assert [d.event for d in stream.dtmf] == [e for e, _ in EVENTS]
    assert [d.digit for d in stream.dtmf] == ["5", None, None, None, None, None, "#"]
    assert [d.packets for d in stream.dtmf] == [n + 3 for _, n in EVENTS]


def test_streams_dtmf_prints_digits_apart_from_tones(capture: Path) -> None:
    args = ["streams", capture, "--rtp-port", str(PORT), "--dtmf"]
    proc = rtcscope_cli([*args, "--format", "json"])
    assert proc.returncode in (0, 1), proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["digits"] == "5#"
    events = [(d["event"], d["name"], d["kind"], d["digit"]) for d in row["dtmf"]]
    assert events == [
        (5, "5", "digit", "5"),
        (32, "ANS", "tone", None),
        (36, "CNG", "tone", None),
        (16, "flash", "flash", None),
        (192, "vendor (Cisco NSE 192)", "vendor", None),
        (194, "vendor (Cisco NSE 194)", "vendor", None),
        (11, "#", "digit", "#"),
    ]
    table = rtcscope_cli(args)
    assert table.returncode in (0, 1), table.stderr
    lines = table.stdout.splitlines()
    assert "digits: 5#" in lines
    assert "other events: ANS, CNG, flash, vendor (Cisco NSE 192), vendor (Cisco NSE 194)" in lines
    assert "event-" not in table.stdout


def test_extract_report_counts_unsignalled_events_as_events(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.wav"
    proc = rtcscope_cli(
        ["extract", capture, "--rtp-port", str(PORT), "-o", out, "--report", "--format", "json"]
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)[0]["reports"][0]
    assert report["event_packets"] == sum(n + 3 for _, n in EVENTS)
    assert report["other_packets"] == 0
    assert report["audio_packets"] == 10 * (len(EVENTS) + 1)


def test_shape_tells_events_from_audio() -> None:
    packets = [(ts, payload) for _, data in datagrams() for ts, payload in [_split(data)]]
    events = [(ts, p) for ts, p in packets if len(p) == 4]
    assert looks_like_telephone_events(events)
    # 4-byte audio (a low-rate codec): a new timestamp with every packet.
    rng = random.Random(1)
    audio = [(160 * i, bytes(rng.randrange(256) for _ in range(4))) for i in range(200)]
    assert not looks_like_telephone_events(audio)
    # A shrinking duration inside one event is not what a sender does.
    shrinking = [(800, TelephoneEvent(1, False, 10, 800 - 80 * i).encode()) for i in range(8)]
    assert not looks_like_telephone_events(shrinking)


def _split(data: bytes) -> tuple[int, bytes]:
    packet = RtpPacket.parse(data)
    return packet.timestamp, bytes(packet.payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=12)), max_size=40))
def test_any_bytes_give_a_verdict(packets: list[tuple[int, bytes]]) -> None:
    assert looks_like_telephone_events(packets) in (True, False)


def test_every_event_number_has_a_name_and_only_keys_are_digits() -> None:
    from rtcscope.rtp.events import DtmfDetector

    detector = DtmfDetector()
    for event in range(256):
        name = event_name(event)
        assert name and name.isprintable()
        assert (event_kind(event) is EventKind.DIGIT) == (event < 16)
        detector.feed(event + 1, event, 1, 160 * event, TelephoneEvent(event, True, 0, 80).encode())
    assert "".join(d.digit for d in detector.digits if d.digit) == "0123456789*#ABCD"
    assert sum(d.digit is None for d in detector.digits) == 240
