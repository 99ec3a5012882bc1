"""Calls printed as they end (``--follow``, a pipe, a FIFO, ``-i``) and the call filters
applied during the scan. Each call is checked against what tshark says of the same packets
(its Call-ID, its SIP message count, its INVITE's final response); a call must be printed
before the test writes the next one, which is what "as it ends" means."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.cli.capture import parse_time
from rtcscope.errors import UsageError
from rtcscope.scan import ScanOptions, Tap, scan
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.live import NS, CallFilter, CallTracker, MessageFilter
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA
from tests.peers import program, rtcscope_background, run, tshark_fields

# Three calls in capture order (each file's times follow the previous one's): answered and
# hung up across four proxies, busy (486), cancelled (487).
SOURCES = ("testbed-good.pcap", "testbed-busy.pcap", "testbed-cancel.pcap")
WAIT_S = 30  # bound on waiting for one line of output (a loaded CI machine)


def _feed() -> tuple[bytes, list[int]]:
    """The three captures as one pcap (our writer) and where each call's records end."""
    buffer = io.BytesIO()
    writer = PcapWriter(buffer)
    ends = []
    for name in SOURCES:
        with open_capture(DATA / name) as reader:
            for record in reader:
                writer.write_record(record)
        ends.append(len(buffer.getvalue()))
    return buffer.getvalue(), ends


def _tshark_call(name: str) -> tuple[str, int, set[int]]:
    """(Call-ID, SIP messages, final statuses to INVITE) of a one-call capture, by tshark."""
    rows = tshark_fields(DATA / name, ["sip.Call-ID", "sip.Status-Code", "sip.CSeq.method"], "sip")
    call_ids = {r[0] for r in rows}
    assert len(call_ids) == 1
    finals = {int(r[1]) for r in rows if r[1] and int(r[1]) >= 200 and r[2] == "INVITE"}
    return call_ids.pop(), len(rows), finals


def _lines(path: Path, count: int, proc: object) -> list[str]:
    """The first ``count`` lines of a growing output file (bounded wait)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline or getattr(proc, "poll", lambda: None)() is not None:
            raise AssertionError(f"{count} lines expected, got: {text!r}")
        time.sleep(0.05)


def _check_calls(lines: list[str]) -> None:
    assert len(lines) == len(SOURCES)
    for line, name in zip(lines, SOURCES, strict=True):
        call = json.loads(line)
        call_id, messages, finals = _tshark_call(name)
        assert call["call_id"] == call_id
        assert call["messages"] == messages
        assert finals == {call["final_status"]}


def _write_calls(write: object, out: Path, proc: object, data: bytes, ends: list[int]) -> None:
    """Write the feed call by call; each call's line must be out before the next is written.
    The second call's first record is written in two pieces half a second apart: the reader
    waits for the rest instead of calling the capture truncated."""
    start = 0
    for index, end in enumerate(ends):
        chunk = data[start:end]
        if index == 1:
            write(chunk[:30])  # type: ignore[operator]
            time.sleep(0.5)
            chunk = chunk[30:]
        write(chunk)  # type: ignore[operator]
        _lines(out, index + 1, proc)
        start = end


@contextmanager
def _following(
    tmp_path: Path, suffix: str, stop: signal.Signals = signal.SIGINT
) -> Iterator[tuple[Callable[[bytes], object], Path]]:
    """``calls --follow`` on an empty file; yields (append to the file, the output), then
    sends ``stop`` and expects exit 0."""
    growing = tmp_path / f"growing{suffix}"
    growing.write_bytes(b"")
    out = tmp_path / "calls.jsonl"
    args = ["calls", "--follow", growing, "--format", "json"]
    with (
        rtcscope_background(args, tmp_path / "log", stdout=out) as proc,
        open(growing, "ab", buffering=0) as target,
    ):
        yield target.write, out
        _lines(out, len(SOURCES), proc)
        time.sleep(0.3)
        proc.send_signal(stop)
        assert proc.wait(timeout=WAIT_S) == 0, (tmp_path / "log").read_text()
    _check_calls(_lines(out, len(SOURCES), None))


@pytest.mark.peer
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_follow_prints_each_call_when_it_ends_and_stops_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    data, ends = _feed()
    with _following(tmp_path, ".pcap", stop) as (write, out):
        _write_calls(write, out, None, data, ends)
        write(b"\x01" * 7)  # the writer is cut mid-record: not a fault once stopped


@pytest.mark.peer
def test_follow_reads_a_growing_pcapng_cut_mid_block(tmp_path: Path) -> None:
    data, _ = _feed()
    classic = tmp_path / "feed.pcap"
    classic.write_bytes(data)
    converted = tmp_path / "feed.pcapng"
    run("editcap", ["-F", "pcapng", classic, converted])
    blocks = converted.read_bytes()
    with _following(tmp_path, ".pcapng") as (write, _):
        middle = len(blocks) // 2 + 5  # inside a block, most likely
        write(blocks[:middle])
        time.sleep(0.5)
        write(blocks[middle:])


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["pipe", "fifo"])
def test_pipe_and_fifo_print_each_call_when_it_ends(tmp_path: Path, kind: str) -> None:
    data, ends = _feed()
    out = tmp_path / "calls.jsonl"
    fifo = tmp_path / "feed"
    if kind == "fifo":
        os.mkfifo(fifo)
    source = "-" if kind == "pipe" else str(fifo)
    args = ["calls", source, "--follow", "--format", "json"]
    with rtcscope_background(args, tmp_path / "log", stdout=out, pipe_stdin=True) as proc:
        assert proc.stdin is not None
        if kind == "pipe":
            writer = proc.stdin
        else:
            deadline = time.monotonic() + WAIT_S
            while True:  # a FIFO opens for writing once its reader has it open
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.05)
            os.set_blocking(fd, True)
            writer = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed below

        def write(chunk: bytes) -> None:
            writer.write(chunk)
            writer.flush()

        _write_calls(write, out, proc, data, ends)
        writer.close()  # the end of the input: the command ends by itself
        assert proc.wait(timeout=WAIT_S) == 0, (tmp_path / "log").read_text()
    _check_calls(_lines(out, 3, None))


@pytest.mark.peer
@pytest.mark.parametrize(("keep_going", "code"), [(False, 3), (True, 0)])
def test_a_pipe_that_ends_mid_record_is_a_truncated_capture(
    tmp_path: Path, keep_going: bool, code: int
) -> None:
    data, _ = _feed()
    out = tmp_path / "calls.jsonl"
    args = ["calls", "-", "--follow", "--format", "json", *(["--keep-going"] if keep_going else [])]
    with rtcscope_background(args, tmp_path / "log", stdout=out, pipe_stdin=True) as proc:
        assert proc.stdin is not None
        proc.stdin.write(data + data[24:40])  # a record header cut short by the end
        proc.stdin.close()
        assert proc.wait(timeout=WAIT_S) == code
    _check_calls(_lines(out, 3, None))
    assert "truncated" in (tmp_path / "log").read_text()


@pytest.mark.peer
def test_a_quiet_feed_still_ends_a_call_by_the_quiet_timeout(tmp_path: Path) -> None:
    """Only the first INVITE, then nothing while the pipe stays open: the quiet time runs on
    the wall clock, and the call is printed unanswered without the input ending."""
    data, _ = _feed()
    first_record = data[: 24 + 16 + int.from_bytes(data[24 + 8 : 24 + 12], "little")]
    out = tmp_path / "calls.jsonl"
    args = ["calls", "-", "--follow", "--format", "json", "--idle-timeout", "0.5"]
    with rtcscope_background(args, tmp_path / "log", stdout=out, pipe_stdin=True) as proc:
        assert proc.stdin is not None
        proc.stdin.write(first_record)
        proc.stdin.flush()
        (line,) = _lines(out, 1, proc)
        proc.stdin.close()
        assert proc.wait(timeout=WAIT_S) == 0
    call = json.loads(line)
    assert call["call_id"] == _tshark_call(SOURCES[0])[0]
    assert (call["messages"], call["final_status"], call["state"]) == (1, None, "no response")


@pytest.mark.peer
def test_diagnose_follow_prints_one_object_per_invite_call(tmp_path: Path) -> None:
    data, _ = _feed()
    out = tmp_path / "diagnosis.jsonl"
    args = ["diagnose", "-", "--follow", "--format", "json"]
    with rtcscope_background(args, tmp_path / "log", stdout=out, pipe_stdin=True) as proc:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
        assert proc.wait(timeout=WAIT_S) in (0, 1)
    objects = [json.loads(line) for line in _lines(out, 3, None)]
    assert [o["call_id"] for o in objects] == [_tshark_call(name)[0] for name in SOURCES]
    for found in objects:
        assert found["calls"] == 1
        assert {f["call_id"] for f in found["findings"]} <= {found["call_id"]}


# -- the tracker, fed by hand ---------------------------------------------------------------


def _message(start: str, cseq: str, *, to_tag: str | None = None, call_id: str = "c1") -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    branch = f"z9hG4bK-{call_id}-{cseq.split()[0]}"
    return (
        f"{start}\r\nVia: SIP/2.0/UDP 127.0.85.1:5062;branch={branch}\r\n"
        f"From: <sip:alice@127.0.85.1>;tag=a\r\nTo: <sip:bob@127.0.85.2>{tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _captured(data: bytes, ts_s: float, frame: int, *, forward: bool) -> CapturedSip:
    src, dst = ("127.0.85.1", "127.0.85.2") if forward else ("127.0.85.2", "127.0.85.1")
    return CapturedSip(frame, round(ts_s * NS), src, 5062, dst, 5062, "udp", SipMessage.parse(data))


def test_an_unanswered_call_is_handed_back_after_the_quiet_timeout() -> None:
    tracker = CallTracker(idle_ns=10 * NS, answered_idle_ns=100 * NS)
    invite = _message("INVITE sip:bob@127.0.85.2 SIP/2.0", "1 INVITE")
    assert tracker.feed(_captured(invite, 0.0, 1, forward=True)) == []
    assert tracker.advance(10 * NS) == []  # exactly the timeout: not yet
    (finished,) = tracker.advance(10 * NS + 1)
    assert (finished.reason, finished.summary.state.value) == ("idle", "no response")
    assert tracker.open_calls == 0 and tracker.open_messages == 0


def test_an_answered_call_waits_for_the_longer_timeout_and_a_late_copy_is_dropped() -> None:
    tracker = CallTracker(idle_ns=10 * NS, answered_idle_ns=100 * NS)
    feed = [
        ("INVITE sip:bob@127.0.85.2 SIP/2.0", "1 INVITE", None, True),
        ("SIP/2.0 200 OK", "1 INVITE", "b", False),
        ("ACK sip:bob@127.0.85.2 SIP/2.0", "1 ACK", "b", True),
    ]
    for frame, (start, cseq, tag, forward) in enumerate(feed, 1):
        captured = _captured(_message(start, cseq, to_tag=tag), frame, frame, forward=forward)
        assert tracker.feed(captured) == []
    assert tracker.advance(50 * NS) == []  # answered: quiet while people talk
    bye = _message("BYE sip:bob@127.0.85.2 SIP/2.0", "2 BYE", to_tag="b")
    ok = _message("SIP/2.0 200 OK", "2 BYE", to_tag="b")
    assert tracker.feed(_captured(bye, 60, 4, forward=True)) == []
    (finished,) = tracker.feed(_captured(ok, 60.01, 5, forward=False))
    assert (finished.reason, finished.summary.state.value) == ("ended", "answered")
    assert len(finished.messages) == 5
    assert tracker.feed(_captured(ok, 60.5, 6, forward=False)) == []  # the 200's copy
    assert tracker.dropped_after_end == 1 and tracker.open_calls == 0


def test_a_challenged_register_waits_for_its_retry_and_a_refresh_is_a_new_entry() -> None:
    tracker = CallTracker()
    register = "REGISTER sip:127.0.85.2 SIP/2.0"
    steps = [
        (register, "1 REGISTER", True, 0.0),
        ("SIP/2.0 401 Unauthorized", "1 REGISTER", False, 0.1),
        (register, "2 REGISTER", True, 2.0),
    ]
    for frame, (start, cseq, forward, ts) in enumerate(steps, 1):
        assert tracker.feed(_captured(_message(start, cseq), ts, frame, forward=forward)) == []
    (done,) = tracker.feed(
        _captured(_message("SIP/2.0 200 OK", "2 REGISTER"), 2.1, 4, forward=False)
    )
    assert (done.summary.kind, done.summary.final_status, len(done.messages)) == (
        "REGISTER",
        200,
        4,
    )
    refresh = _captured(_message(register, "3 REGISTER"), 20.0, 5, forward=True)
    assert tracker.feed(refresh) == [] and tracker.open_calls == 1
    (still_open,) = tracker.finish()
    assert still_open.reason == "open" and still_open.summary.index == 2


def _capture_messages(name: str) -> list[CapturedSip]:
    return list(scan(DATA / name, ScanOptions(taps=frozenset({Tap.SIP}))).messages)


@given(st.data())
def test_every_message_fed_is_handed_back_once_or_counted_as_a_late_copy(
    data: st.DataObject,
) -> None:
    """Whatever the order and the gaps (a lossy capture), nothing is lost or doubled."""
    pool = [m for name in ("testbed-good.pcap", "aaa.pcap") for m in _MESSAGES[name]]
    chosen = data.draw(st.lists(st.sampled_from(pool), max_size=60))
    tracker = CallTracker(idle_ns=data.draw(st.integers(1, 100)) * NS)
    handed: list[CapturedSip] = []
    for captured in chosen:
        handed += [m for f in tracker.feed(captured) for m in f.messages]
    handed += [m for f in tracker.finish() for m in f.messages]
    assert len(handed) + tracker.dropped_after_end == len(chosen)


_MESSAGES = {name: _capture_messages(name) for name in ("testbed-good.pcap", "aaa.pcap")}


@given(st.data())
def test_the_call_id_and_host_filters_keep_exactly_the_matching_messages(
    data: st.DataObject,
) -> None:
    """Computed here message by message: the filter keeps those and only those, in order."""
    pool = [m for name in ("testbed-good.pcap", "aaa.pcap") for m in _MESSAGES[name]]
    chosen = data.draw(st.lists(st.sampled_from(pool), max_size=60))
    wanted = data.draw(st.sampled_from(["", "1-5903", "105090259", "@192.168.1.2", "none"]))
    host = data.draw(st.sampled_from(["127.0.10.1", "127.0.10.0/29", "192.168.1.2", "::1"]))
    select = MessageFilter(CallFilter(call_id=wanted or None, hosts=(host,)))
    kept = [k for m in chosen for k in select(m, None)]
    net = ipaddress.ip_network(host, strict=False)

    def hit(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return ip.version == net.version and ip in net

    assert kept == [
        m for m in chosen if wanted in (m.message.call_id or "") and (hit(m.src) or hit(m.dst))
    ]


@given(st.text(max_size=40))
@example("inf")
@example("nan")
@example("-1e400")
@example("2024-13-01T00:00:00")
@example("2024-05-01T10:00:00+02:00")
def test_a_time_option_is_a_time_or_a_usage_error(text: str) -> None:
    try:
        bound = parse_time(text, "--since")
    except UsageError:
        return
    assert isinstance(bound.ns, int)


# -- filters during the scan, against tshark's display filters ------------------------------


def _calls(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["calls", *args, "--format", "json", "--no-streams"]) == 0
    return json.loads(capsys.readouterr().out)["calls"]  # type: ignore[no-any-return]


@pytest.mark.peer
def test_call_id_filter_keeps_only_that_calls_messages() -> None:
    path = DATA / "aaa.pcap"
    wanted = "105090259"
    kept = scan(
        path,
        ScanOptions(taps=frozenset({Tap.SIP})),
        select=MessageFilter(CallFilter(call_id=wanted)),
    )
    frames = tshark_fields(path, ["frame.number"], f'sip.Call-ID contains "{wanted}"')
    assert sorted(m.frame for m in kept.messages) == sorted(int(r[0]) for r in frames)


@pytest.mark.peer
def test_host_filter_keeps_the_messages_a_capture_filter_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = DATA / "testbed-good.pcap"
    (call,) = _calls(capsys, str(path), "--host", "127.0.10.1")
    assert call["messages"] == len(
        tshark_fields(path, ["frame.number"], "sip && ip.addr == 127.0.10.1")
    )


def _first_seen(path: Path) -> dict[str, float]:
    first: dict[str, float] = {}
    for rel, call_id in tshark_fields(path, ["frame.time_relative", "sip.Call-ID"], "sip"):
        first.setdefault(call_id, float(rel))
    return first


@pytest.mark.peer
def test_time_window_keeps_the_calls_that_started_in_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = DATA / "aaa.pcap"
    first = _first_seen(path)
    expected = {cid for cid, t in first.items() if 400 <= t <= 1000}
    assert expected  # the window holds calls, and leaves some out
    assert expected != set(first)
    calls = _calls(capsys, str(path), "--since", "400", "--until", "1000")
    assert {c["call_id"] for c in calls} == expected
    for call in calls:  # times stay tshark's frame.time_relative (from the first packet)
        assert call["start_s"] == pytest.approx(first[str(call["call_id"])], abs=1e-6)
    (epoch,) = tshark_fields(path, ["frame.time_epoch"], "frame.number == 1")[0]
    since = datetime.fromtimestamp(float(epoch) + 400, UTC).isoformat()
    until = datetime.fromtimestamp(float(epoch) + 1000, UTC).isoformat()
    as_iso = {c["call_id"] for c in _calls(capsys, str(path), "--since", since, "--until", until)}
    assert as_iso == expected


@pytest.mark.peer
def test_flow_and_diagnose_take_the_filters(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "aaa.pcap"
    wanted = "105090259-446faf7a@192.168.1.2"
    assert main(["flow", str(path), "--call-id", "105090259", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    count = len(tshark_fields(path, ["frame.number"], f'sip.Call-ID == "{wanted}"'))
    assert sum(1 for r in rows if r["kind"] == "sip") == count
    main(["diagnose", str(path), "--call-id", "105090259", "--format", "json"])
    found = json.loads(capsys.readouterr().out)
    assert found["calls"] == 1
    assert {f["call_id"] for f in found["findings"]} == {wanted}


def test_bad_filters_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "aaa.pcap")
    assert main(["calls", path, "--since", "yesterday"]) == 2
    assert main(["calls", path, "--host", "not-an-address"]) == 2
    assert main(["calls", path, "--bpf", "udp"]) == 2  # a capture filter needs -i
    assert main(["calls", "--follow", str(DATA)]) == 2  # a folder is not followed


# -- live capture on loopback ---------------------------------------------------------------


@pytest.fixture
def loopback_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        sockets[0].bind(("127.0.85.1", 0))
        sockets[1].bind(("127.0.85.2", 0))
        yield sockets[0], sockets[1]
    finally:
        for s in sockets:
            s.close()


def _send_call(a: socket.socket, b: socket.socket, call_id: str) -> int:
    """A short call from a to b, as raw SIP over UDP; returns the messages sent."""
    pa, pb = a.getsockname(), b.getsockname()

    def text(start: str, cseq: str, tag: bool) -> bytes:
        return (
            f"{start}\r\nVia: SIP/2.0/UDP {pa[0]}:{pa[1]};branch=z9hG4bK-{call_id}-{cseq[0]}\r\n"
            f"From: <sip:alice@{pa[0]}>;tag=a1\r\nTo: <sip:bob@{pb[0]}>{';tag=b1' if tag else ''}"
            f"\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:alice@{pa[0]}:{pa[1]}>\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    uri = f"sip:bob@{pb[0]}:{pb[1]} SIP/2.0"
    steps = [
        (a, pb, f"INVITE {uri}", "1 INVITE", False),
        (b, pa, "SIP/2.0 180 Ringing", "1 INVITE", True),
        (b, pa, "SIP/2.0 200 OK", "1 INVITE", True),
        (a, pb, f"ACK {uri}", "1 ACK", True),
        (a, pb, f"BYE {uri}", "2 BYE", True),
        (b, pa, "SIP/2.0 200 OK", "2 BYE", True),
    ]
    for sender, to, start, cseq, tag in steps:
        sender.sendto(text(start, cseq, tag), to)
        time.sleep(0.01)
    return len(steps)


@pytest.mark.peer
def test_live_capture_on_loopback_prints_the_call_its_filter_selects(
    tmp_path: Path, loopback_pair: tuple[socket.socket, socket.socket]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("capturing on lo needs root (tcpdump), this test runs as a user")
    program("tcpdump")
    out, log = tmp_path / "calls.jsonl", tmp_path / "log"
    args = ["calls", "-i", "lo", "-f", "udp and host 127.0.85.1", "--format", "json"]
    with rtcscope_background([*args, "--duration", "60"], log, stdout=out) as proc:
        deadline = time.monotonic() + WAIT_S
        while "listening on lo" not in log.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        a, b = loopback_pair
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:  # outside the filter
            c.bind(("127.0.85.3", 0))
            _send_call(c, b, "decoy@127.0.85.3")
        sent = _send_call(a, b, "live-1@127.0.85.1")
        (line,) = _lines(out, 1, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT_S) == 0, log.read_text()
    call = json.loads(line)
    assert (call["call_id"], call["state"], call["messages"]) == (
        "live-1@127.0.85.1",
        "answered",
        sent,
    )
    assert len(_lines(out, 1, None)) == 1  # the decoy was not captured
    assert "0 dropped by kernel" in log.read_text()


@pytest.mark.peer
def test_a_capture_filter_tcpdump_refuses_is_a_usage_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("capturing on lo needs root (tcpdump), this test runs as a user")
    program("tcpdump")
    log = tmp_path / "log"
    with rtcscope_background(["calls", "-i", "lo", "-f", "udp and ((("], log) as proc:
        assert proc.wait(timeout=WAIT_S) == 2
    assert "can't parse filter expression" in log.read_text()
