"""The one-pass capture model: one read per run, each record decoded once, every command
reading pipes, truncated captures giving their good part, and --dedup meaning the same in
every section and command (issue 14's acceptance)."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

import pytest

import rtcscope.scan.onepass as scan_module
from rtcscope.capture.fastscan import BatchRows
from rtcscope.capture.packet import Packet
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.scan import ScanOptions, Tap, scan
from tests.conftest import DATA, count_capture_opens
from tests.peers import rtcscope_cli, run, tshark_fields

DTMF = DATA / "SIP_DTMF2.pcap"


def _doubled(source: Path, target: Path) -> None:
    """Every record written twice, 1 ms apart (a capture taken on two interfaces)."""
    with open_capture(source) as reader, PcapWriter(target, linktype=1) as writer:
        for record in reader:
            writer.write(record.data, record.ts_ns, record.orig_len)
            writer.write(record.data, record.ts_ns + 1_000_000, record.orig_len)


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    code = main([*args, "--format", "json", "--quiet"])
    assert code in (0, 1), code
    return json.loads(capsys.readouterr().out)


def test_analyze_dedup_sections_agree_with_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doubled = tmp_path / "doubled.pcap"
    _doubled(DTMF, doubled)
    analyzed = _json(["analyze", str(doubled), "--dedup"], capsys)
    sections = {s["name"]: s["data"] for s in analyzed}  # type: ignore[attr-defined]
    # analyze's streams section is `streams --rtcp --dtmf`'s per-stream rows.
    streams = _json(["streams", str(doubled), "--dedup", "--rtcp", "--dtmf"], capsys)["streams"]  # type: ignore[index]
    calls = _json(["calls", str(doubled), "--dedup"], capsys)
    assert sections["streams"] == streams
    assert sections["calls"] == calls
    # The independent figure: tshark's packets per SSRC on the original capture.
    per_ssrc = Counter(
        int(row[0], 16) for row in tshark_fields(DTMF, ["rtp.ssrc"], "rtp") if row[0]
    )
    assert {s["ssrc"]: s["packets"] for s in streams} == dict(per_ssrc)  # type: ignore[union-attr]
    in_calls = {
        int(s["ssrc_hex"], 16): s["packets"]
        for call in calls["calls"]  # type: ignore[index]
        for s in call["streams"]
    }
    assert in_calls == dict(per_ssrc)


def test_one_open_and_each_record_decoded_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opens: list[object] = []
    decoded: Counter[int] = Counter()
    real_open, real_decode = scan_module.open_capture, scan_module.decode

    def counting_open(source: object, keep_going: bool = False) -> object:
        opens.append(source)
        return real_open(source, keep_going=keep_going)  # type: ignore[arg-type]

    def counting_decode(record: object) -> object:
        decoded[record.frame] += 1  # type: ignore[attr-defined]
        return real_decode(record)  # type: ignore[arg-type]

    real_packets = BatchRows.packets

    def counting_packets(rows: BatchRows, wanted: list[int], _: object = None) -> list[Packet]:
        # Rows decoded from the batch's columns (or as records): each counts once.
        made = real_packets(rows, wanted, real_decode)
        decoded.update(packet.frame for packet in made)
        return made

    real_datagrams = BatchRows.sip_datagrams

    def counting_datagrams(rows: BatchRows, wanted: list[int]) -> object:
        # Rows read as SIP datagrams from the batch's columns (no Packet): each counts once.
        found = real_datagrams(rows, wanted)
        if found is not None:
            decoded.update(found.frames)
        return found

    monkeypatch.setattr(scan_module, "open_capture", counting_open)
    monkeypatch.setattr(scan_module, "decode", counting_decode)
    monkeypatch.setattr(BatchRows, "packets", counting_packets)
    monkeypatch.setattr(BatchRows, "sip_datagrams", counting_datagrams)
    for capture in (DTMF, DATA / "aaa.pcap", DATA / "testbed-tcp.pcap"):
        opens.clear()
        decoded.clear()
        assert main(["analyze", str(capture), "--quiet"]) == 0
        capsys.readouterr()
        assert len(opens) == 1
        assert decoded and max(decoded.values()) == 1
    # The per-packet path (--dedup) decodes each record once too.
    decoded.clear()
    scan(DTMF, ScanOptions(dedup=True))
    packets = int(tshark_fields(DTMF, ["frame.number"])[-1][0])
    assert sorted(decoded) == list(range(1, packets + 1))
    assert set(decoded.values()) == {1}


def test_a_sip_only_pass_decodes_no_media_row_and_finds_the_same_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """flow/route/show need SIP only: the RTP rows (counted vectorized) are not decoded,
    and the messages are the per-packet path's and tshark's."""
    decoded: Counter[int] = Counter()
    real_decode = scan_module.decode

    def counting_decode(record: object) -> object:
        decoded[record.frame] += 1  # type: ignore[attr-defined]
        return real_decode(record)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "decode", counting_decode)
    sip_only = ScanOptions(taps=frozenset({Tap.SIP}))
    model = scan(DTMF, sip_only)
    sip_frames = [int(row[0]) for row in tshark_fields(DTMF, ["frame.number"], "sip")]
    rtp_frames = {int(row[0]) for row in tshark_fields(DTMF, ["frame.number"], "rtp")}
    assert [m.frame for m in model.messages] == sip_frames
    assert len(rtp_frames) > 1000 and not rtp_frames & set(decoded)
    reference = scan(DTMF, ScanOptions(taps=frozenset({Tap.SIP}), vectorized=False))
    assert [m.message.raw for m in model.messages] == [m.message.raw for m in reference.messages]


def test_analyze_with_audio_reads_the_streams_packets_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rtcscope.capture.flowread as flowread
    import rtcscope.capture.pipeline as pipeline
    from tests.conftest import count_offset_reads

    # The pipeline and the re-read of chosen flows (capture.flowread) open captures for the
    # layers above the scan.
    opens = count_capture_opens(monkeypatch, pipeline, flowread)
    reads = count_offset_reads(monkeypatch)
    assert main(["analyze", str(DTMF), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    capsys.readouterr()
    # The audio step reads the streams' packets again, by their offsets (the pass noted
    # them): no second read of the capture; the report's per-packet arrays come from that
    # same read (it was two reads).
    assert opens == []
    assert len(reads) == 1
    assert len(list((tmp_path / "out").glob("*.wav"))) == 2


def test_report_reads_the_streams_packets_again_by_their_offsets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rtcscope.capture.flowread as flowread
    import rtcscope.capture.pipeline as pipeline
    from tests.conftest import count_offset_reads

    opens = count_capture_opens(monkeypatch, pipeline, flowread)
    reads = count_offset_reads(monkeypatch)
    page = tmp_path / "report.html"
    assert main(["report", str(DTMF), "-o", str(page), "--no-audio"]) == 0
    capsys.readouterr()
    # One pass; the per-packet arrays of the jitter/delta plots come from the records the
    # pass noted (both streams' packets), not from reading the capture again.
    assert opens == []
    assert len(reads) == 1 and reads[0] > 1000
    assert "<svg" in page.read_text()


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """SIP_DTMF2 cut in the middle of a record, and how many whole records it keeps."""
    data = DTMF.read_bytes()
    cut = len(data) // 2
    path = tmp_path_factory.mktemp("cut") / "cut.pcap"
    path.write_bytes(data[:cut])
    with open_capture(path, keep_going=True) as reader:
        kept = sum(1 for _ in reader)
    return path, kept


def test_a_truncated_capture_gives_every_sections_good_part(
    truncated: tuple[Path, int], tmp_path: Path
) -> None:
    path, kept = truncated
    proc = rtcscope_cli(["analyze", path, "--format", "json"])
    assert proc.returncode == 3
    assert "truncated" in proc.stderr or "cut" in proc.stderr
    assert "Traceback" not in proc.stderr
    sections = {s["name"]: s["data"] for s in json.loads(proc.stdout)}
    assert set(sections) == {"info", "calls", "streams", "audio", "diagnosis", "report"}
    assert sections["info"]["packets"] == kept
    # The independent reference: tshark on the same records written whole (editcap -r).
    clean = tmp_path / "clean.pcap"
    run("editcap", ["-r", DTMF, clean, f"1-{kept}"])
    per_ssrc = Counter(int(r[0], 16) for r in tshark_fields(clean, ["rtp.ssrc"], "rtp") if r[0])
    assert {s["ssrc"]: s["packets"] for s in sections["streams"]} == dict(per_ssrc)
    sip = tshark_fields(clean, ["sip.Call-ID"], "sip")
    assert sections["calls"]["statistics"]["messages"] == len(sip)
    kept_going = rtcscope_cli(["analyze", path, "--format", "json", "--keep-going"])
    assert kept_going.returncode == 0
    assert "warning" in kept_going.stderr
    assert json.loads(kept_going.stdout) == json.loads(proc.stdout)


COMMANDS_ON_A_PIPE = [
    ["info", "--format", "json"],
    ["streams", "--format", "json", "--rtcp", "--dtmf"],
    ["calls", "--format", "json"],
    ["diagnose", "--format", "json"],
    ["flow", "--call", "1", "--format", "json"],
    ["analyze", "--format", "json"],
]


def _run_on(source: str, args: list[str]) -> str:
    proc = rtcscope_cli([args[0], source, *args[1:]])
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout.replace(source, "SOURCE").replace(Path(source).name, "SOURCE")


@pytest.mark.parametrize("args", COMMANDS_ON_A_PIPE, ids=lambda a: a[0])
def test_standard_input_gives_what_the_file_gives(args: list[str]) -> None:
    expected = _run_on(str(DTMF), args)
    proc = rtcscope_cli([args[0], "-", *args[1:]], stdin=DTMF.read_bytes())
    assert proc.returncode in (0, 1), proc.stderr
    got = proc.stdout.replace("<stdin>", "SOURCE").replace('"-"', '"SOURCE"')
    assert json.loads(got) == json.loads(expected)


def _feed_fifo(path: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(path, "wb") as out:
            out.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("args", COMMANDS_ON_A_PIPE, ids=lambda a: a[0])
def test_a_fifo_gives_what_the_file_gives(args: list[str], tmp_path: Path) -> None:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    writer = _feed_fifo(fifo, DTMF.read_bytes())
    got = _run_on(str(fifo), args)
    writer.join(timeout=30)
    assert json.loads(got) == json.loads(_run_on(str(DTMF), args))


def test_audio_and_split_from_a_pipe_are_spooled(tmp_path: Path) -> None:
    from_file = rtcscope_cli(["extract", DTMF, "--stream", "2", "-o", tmp_path / "file.wav"])
    assert from_file.returncode == 0, from_file.stderr
    piped = rtcscope_cli(
        ["extract", "-", "--stream", "2", "-o", tmp_path / "pipe.wav"], stdin=DTMF.read_bytes()
    )
    assert piped.returncode == 0, piped.stderr
    assert (tmp_path / "pipe.wav").read_bytes() == (tmp_path / "file.wav").read_bytes()
    split = rtcscope_cli(["split", "-", "-o", tmp_path / "split"], stdin=DTMF.read_bytes())
    assert split.returncode == 0, split.stderr
    assert len(list((tmp_path / "split").glob("*.pcap"))) == 2


def test_the_spool_of_a_pipe_is_removed_when_the_command_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys
    import tempfile
    from types import SimpleNamespace

    spools = tmp_path / "spools"  # a folder of this test's own (/tmp is shared)
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    seen: list[list[str]] = []
    real_scan = scan_module._scan

    def watching(*args: object, **kwargs: object) -> object:
        result = real_scan(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(sorted(p.name for p in spools.iterdir()))
        return result

    monkeypatch.setattr(scan_module, "_scan", watching)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(DTMF.read_bytes())))
    assert main(["extract", "-", "--stream", "2", "-o", str(tmp_path / "a.wav"), "-q"]) == 0
    capsys.readouterr()
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith("rtcscope-spool-")
    assert list(spools.iterdir()) == []


def test_process_substitution_works(tmp_path: Path) -> None:
    script = f"{_python()} -m rtcscope calls <(cat {DTMF}) --format json"
    out = tmp_path / "out.json"
    run("bash", ["-c", f"{script} > {out}"])
    assert json.loads(out.read_text()) == json.loads(
        _run_on(str(DTMF), ["calls", "--format", "json"])
    )


def _python() -> str:
    import sys

    return sys.executable


def _empty_records(path: Path, count: int) -> None:
    """A pcap of ``count`` records of zero captured bytes (a 40-byte file for one)."""
    import struct

    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    path.write_bytes(header + struct.pack("<IIII", 1_700_000_000, 0, 0, 0) * count)


@pytest.mark.parametrize(
    "args",
    [["info"], ["streams"], ["calls"], ["diagnose"], ["analyze"], ["split", "-o", "SPLIT"]],
    ids=lambda a: a[0],
)
def test_a_pcap_of_one_empty_record(args: list[str], tmp_path: Path) -> None:
    capture = tmp_path / "one.pcap"
    _empty_records(capture, 1)
    assert capture.stat().st_size == 40
    argv = [a.replace("SPLIT", str(tmp_path / "split")) for a in args]
    proc = rtcscope_cli([argv[0], capture, *argv[1:]])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_flood_of_empty_records_is_counted_as_capinfos_counts_it(tmp_path: Path) -> None:
    capture = tmp_path / "empty.pcap"
    _empty_records(capture, 200_000)
    capinfos = run("capinfos", ["-c", "-M", capture]).stdout
    expected = int(capinfos.strip().splitlines()[-1].split(":")[-1].strip())
    for fast in (True, False):
        info = scan(capture, ScanOptions(vectorized=fast)).info
        assert info.counts.packets == expected == 200_000
        assert (info.counts.ipv4, info.counts.udp, info.counts.bytes) == (0, 0, 0)


def _sip_model(path: Path, vectorized: bool) -> tuple[list[object], list[object]]:
    model = scan(
        path, ScanOptions(taps=frozenset({Tap.COUNTS, Tap.SIP, Tap.RTP}), vectorized=vectorized)
    )
    messages = [(m.frame, m.transport, m.src, m.sport, m.message.raw) for m in model.messages]
    return messages, list(model.announcements)


@pytest.mark.parametrize(
    "name", ["SIP_DTMF2.pcap", "testbed-tcp.pcap", "sip-sctp-tls.pcap", "srtp-sdes-call.pcap"]
)
def test_messages_kept_a_batch_at_a_time_are_the_per_packet_passs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose rows deliver only SIP messages framed from its columns has them kept at
    once (_PacketTaps.keep_framed; only the ones the SDP tracker reads are fed): the model's
    messages, in their order, and its announcements are the per-packet pass's, over UDP
    alone and with TCP or SCTP SIP in the same batches (then the batch goes item by item)."""
    kept: list[int] = []
    real_keep = scan_module._PacketTaps.keep_framed

    def counting_keep(taps: object, messages: list[object]) -> object:
        kept.append(len(messages))
        return real_keep(taps, messages)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module._PacketTaps, "keep_framed", counting_keep)
    fast = _sip_model(DATA / name, vectorized=True)
    assert fast == _sip_model(DATA / name, vectorized=False)
    assert fast[0]
    if name == "SIP_DTMF2.pcap":
        assert sum(kept) == len(fast[0])  # every message of this capture kept so
