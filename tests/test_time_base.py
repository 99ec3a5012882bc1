"""One time base: every command counts seconds from the capture's first packet, as tshark's
``frame.time_relative`` does, and gives the absolute time (ISO 8601 UTC) beside it in JSON.

The captures are made here: a real SIP/RTP capture with an ARP frame written 7.25 s before
its first packet (by the project's writer), so the first packet is neither SIP nor UDP and a
command that counted from the first SIP message (or the first RTP packet) would be 7.25 s
off. Every number is checked against tshark on the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.cli import main
from rtcscope.timebase import (
    instants,
    iso_time,
    relative_s,
    with_streams_iso,
)
from tests.peers import tshark_fields

DATA = Path(__file__).resolve().parent / "data"
LEAD_NS = 7_250_000_000
# Ethernet broadcast ARP request "who has 10.0.2.1? tell 10.0.2.9" (RFC 826).
ARP = (
    b"\xff" * 6
    + b"\x02\x00\x00\x00\x00\x09"
    + b"\x08\x06"
    + b"\x00\x01\x08\x00\x06\x04\x00\x01"
    + b"\x02\x00\x00\x00\x00\x09"
    + bytes([10, 0, 2, 9])
    + b"\x00" * 6
    + bytes([10, 0, 2, 1])
)


def _with_arp_first(source: Path, out: Path) -> Path:
    reader = open_capture(source)
    records = list(reader)
    with PcapWriter(out) as writer:
        writer.write(ARP, records[0].ts_ns - LEAD_NS)
        for record in records:
            writer.write_record(record)
    return out


def _json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Any:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    return json.loads(captured.out)


def _frame_times(capture: Path) -> dict[int, tuple[float, Decimal]]:
    """frame number -> (time_relative, time_epoch) as tshark prints them."""
    rows = tshark_fields(capture, ["frame.number", "frame.time_relative", "frame.time_epoch"])
    return {int(n): (float(rel), Decimal(epoch)) for n, rel, epoch in rows}


def _at_frame(
    times: dict[int, tuple[float, Decimal]], frame: int, time_s: float, time_iso: str
) -> None:
    """``time_s``/``time_iso`` are tshark's frame.time_relative/time_epoch of ``frame``."""
    relative, epoch = times[frame]
    assert time_s == pytest.approx(relative, abs=1e-6)
    assert time_iso == _iso(epoch)


def _iso(epoch: Decimal) -> str:
    micros = int(epoch * 1_000_000)
    value = datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )
    return value.isoformat(timespec="microseconds")


@pytest.fixture(scope="module")
def opus_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("timebase")
    return _with_arp_first(DATA / "sip-rtp-opus.pcap", folder / "arp-first.pcap")


@pytest.mark.peer
def test_the_first_packet_is_not_sip(opus_call: Path) -> None:
    first = tshark_fields(opus_call, ["frame.protocols"], extra=["-c", "1"])
    assert first[0][0] == "eth:ethertype:arp"


@pytest.mark.peer
def test_calls_count_from_the_first_packet(
    opus_call: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    times = _frame_times(opus_call)
    invites = tshark_fields(opus_call, ["frame.number"], "sip.Method == INVITE")
    first_invite = int(invites[0][0])
    data = _json(capsys, "calls", opus_call, "--format", "json")
    call = data["calls"][0]
    relative, epoch = times[first_invite]
    assert relative == pytest.approx(7.25, abs=1e-6)  # tshark: the INVITE is 7.25 s in
    assert call["start_s"] == pytest.approx(relative, abs=1e-6)
    assert call["start_iso"] == _iso(epoch)
    stream = call["streams"][0]
    assert stream["start_s"] > relative and stream["start_iso"] > call["start_iso"]


@pytest.mark.peer
def test_streams_and_calls_share_the_base(
    opus_call: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    times = _frame_times(opus_call)
    streams = _json(capsys, "streams", opus_call, "--format", "json")
    for stream in streams:
        frames = tshark_fields(
            opus_call, ["frame.number"], f"rtp.ssrc == {int(stream['ssrc_hex'], 16)}"
        )
        first, last = int(frames[0][0]), int(frames[-1][0])
        _at_frame(times, first, stream["start_s"], stream["start_iso"])
        _at_frame(times, last, stream["end_s"], stream["end_iso"])
    calls = _json(capsys, "calls", opus_call, "--format", "json")
    by_ssrc = {s["ssrc_hex"]: s["start_s"] for c in calls["calls"] for s in c["streams"]}
    assert by_ssrc == {s["ssrc_hex"]: pytest.approx(s["start_s"], abs=1e-6) for s in streams}


@pytest.mark.peer
def test_flow_rows_count_from_the_first_packet(
    opus_call: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    times = _frame_times(opus_call)
    data = _json(capsys, "flow", opus_call, "--call", "1", "--format", "json", "--messages")
    assert data["rows"]
    for row in data["rows"] + data["messages"]:
        _at_frame(times, row["frame"], row["time_s"], row["time_iso"])


@pytest.mark.peer
def test_diagnose_counts_from_the_first_packet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = _with_arp_first(DATA / "testbed-busy.pcap", tmp_path / "busy.pcap")
    times = _frame_times(busy)
    data = _json(capsys, "diagnose", busy, "--format", "json")
    timed = [f for f in data["findings"] if f["time_s"] is not None and f["frames"]]
    assert timed
    for finding in timed:
        assert finding["time_s"] > 7.25
        _at_frame(times, finding["frames"][0], finding["time_s"], finding["time_iso"])


def test_iso_time_is_exact_to_the_microsecond() -> None:
    # 2024-03-01T10:00:00.123456Z computed by hand: 1709287200 s since 1970 (UTC).
    assert iso_time(1_709_287_200_123_456_789) == "2024-03-01T10:00:00.123456+00:00"
    assert iso_time(0) == "1970-01-01T00:00:00.000000+00:00"
    assert iso_time(None) is None


@given(st.integers(min_value=-62_135_596_800 * 10**9, max_value=253_402_300_799 * 10**9))
def test_iso_time_agrees_with_datetime(ts_ns: int) -> None:
    """iso_time formats each second once and adds the microseconds: the text is what
    datetime itself writes for that instant (truncated to the microsecond), years 1-9999,
    before 1970 too, the same second asked again and again included."""
    whole = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1000)
    expected = whole.isoformat(timespec="microseconds")
    assert iso_time(ts_ns) == expected
    assert iso_time(ts_ns - ts_ns % 1_000_000_000) == whole.replace(microsecond=0).isoformat(
        timespec="microseconds"
    )
    assert iso_time(ts_ns) == expected


@pytest.mark.peer
def test_dtmf_digits_count_from_the_first_packet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dtmf = _with_arp_first(DATA / "SIP_DTMF2.pcap", tmp_path / "dtmf.pcap")
    times = _frame_times(dtmf)
    streams = _json(capsys, "streams", dtmf, "--dtmf", "--format", "json")
    digits = [d for s in streams for d in s.get("dtmf", [])]
    events = {int(n) for [n] in tshark_fields(dtmf, ["frame.number"], "rtpevent")}
    assert digits
    for digit in digits:
        assert digit["frame"] in events  # tshark decodes an RFC 4733 event there
        _at_frame(times, digit["frame"], digit["start_s"], digit["start_iso"])


@given(
    st.integers(min_value=-(2**62), max_value=2**62)
    | st.integers(min_value=-(2**53) // 1000, max_value=2**53 // 1000).map(lambda us: us * 1000),
    st.integers(min_value=0, max_value=2**62),
)
def test_relative_s_is_the_delta_rounded_to_the_microsecond(ts_ns: int, first_ns: int) -> None:
    """relative_s skips round() for whole microseconds: the float is what round gives."""
    assert relative_s(ts_ns, first_ns) == round((ts_ns - first_ns) / 1e9, 6)
    assert relative_s(ts_ns + first_ns, first_ns) == round(ts_ns / 1e9, 6)


@given(
    st.lists(
        st.integers(min_value=0, max_value=2**62)
        | st.integers(min_value=0, max_value=2**53 // 1000).map(lambda us: us * 1000 + 10**18),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=2**62)
    | st.integers(min_value=0, max_value=2**40).map(lambda us: us * 1000 + 10**18),
)
def test_instants_convert_each_stamp_as_datetime_and_round_do(
    stamps: list[int], first_ns: int
) -> None:
    """One loop for a call's instants: each stamp (repeated ones too) gets the seconds from
    the first packet rounded to the microsecond and the text datetime writes."""
    stamps = stamps + stamps[:2] + [None]  # type: ignore[list-item]
    got = instants(stamps, first_ns)
    assert got[None] == (None, None)
    for ts in stamps:
        if ts is None:
            continue
        whole = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts // 1000)
        assert got[ts] == (
            round((ts - first_ns) / 1e9, 6),
            whole.isoformat(timespec="microseconds"),
        )


@dataclass(frozen=True)
class _Span:
    start_ns: int
    end_ns: int
    dtmf: tuple[_Span, ...] = ()


_stamp = st.integers(min_value=0, max_value=2**62) | st.integers(min_value=0, max_value=2**40).map(
    lambda us: us * 1000 + 10**18
)


@given(
    st.lists(st.tuples(_stamp, _stamp, st.lists(st.tuples(_stamp, _stamp), max_size=2)), max_size=6)
)
def test_streams_get_their_iso_times_in_one_step(spans: list[Any]) -> None:
    """with_streams_iso (the times of many streams converted at once, their distances
    near or far) gives each row what iso_time gives its stream's start and end, appended
    to the row, and each DTMF digit its start and end as datetime writes them (built here,
    not with the function the code uses)."""
    streams = [
        _Span(start, end, tuple(_Span(a, b) for a, b in digits)) for start, end, digits in spans
    ]
    rows: list[dict[str, Any]] = [
        {"index": n, "dtmf": [{"n": k} for k in range(len(s.dtmf))]} for n, s in enumerate(streams)
    ]
    got = with_streams_iso(rows, streams)
    assert got is rows
    for row, stream in zip(got, streams, strict=True):
        assert list(row) == ["index", "dtmf", "start_iso", "end_iso"]
        assert row["start_iso"] == iso_time(stream.start_ns)
        assert row["end_iso"] == iso_time(stream.end_ns)
        for k, (entry, digit) in enumerate(zip(row["dtmf"], stream.dtmf, strict=True)):
            assert entry == {
                "n": k,
                "start_iso": _iso(Decimal(digit.start_ns).scaleb(-9)),
                "end_iso": _iso(Decimal(digit.end_ns).scaleb(-9)),
            }
