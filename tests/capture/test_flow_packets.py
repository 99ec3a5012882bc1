"""udp_flow_packets: the pipeline's packets of the UDP flows asked for, with the plain IPv4
records of other flows skipped by an array test (what re-reads a few streams uses)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rtcscope.capture.flowread import udp_flow_packets
from rtcscope.capture.packet import Packet
from rtcscope.capture.pipeline import packets
from tests.conftest import DATA, shared_captures

Flow = tuple[str, int, str, int]


def _flow(packet: Packet) -> Flow:
    return (packet.src, packet.sport, packet.dst, packet.dport)


def _of(found: list[Packet], flows: set[Flow]) -> list[tuple[int, int, int, bytes]]:
    return [
        (p.frame, p.ts_ns, p.orig_len, bytes(p.payload))
        for p in found
        if p.ip_proto == 17 and _flow(p) in flows
    ]


@pytest.mark.parametrize(
    "path",
    shared_captures() or sorted(DATA.glob("*.pcap*")),
    ids=lambda p: p.name,
)
def test_the_flows_packets_are_the_pipelines(path: Path) -> None:
    every = list(packets(path, keep_going=True))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    for chosen in (flows[:1], flows[1::2], flows, []):
        wanted = set(chosen)
        got = list(udp_flow_packets(path, chosen))
        assert _of(got, wanted) == _of(every, wanted)
        # Every packet it gives is one the pipeline gives, at the same frame.
        assert {p.frame for p in got} <= {p.frame for p in every}


def test_other_flows_are_not_decoded() -> None:
    path = DATA / "SIP_DTMF2.pcap"
    every = list(packets(path))
    sizes = Counter(_flow(p) for p in every if p.ip_proto == 17)
    flows = [flow for flow, _ in sizes.most_common()]  # the two RTP streams first
    assert len(flows) >= 2
    got = list(udp_flow_packets(path, flows[:1]))
    assert len(_of(got, set(flows[:1]))) > 100
    assert _of(got, set(flows[1:])) == []  # plain IPv4 of the other streams: skipped


def test_a_truncated_capture_gives_the_good_packets_then_raises(tmp_path: Path) -> None:
    from rtcscope.errors import CaptureError

    data = (DATA / "sip-rtp-opus.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    every = list(packets(cut, keep_going=True))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    got: list[Packet] = []
    with pytest.raises(CaptureError):
        for packet in udp_flow_packets(cut, flows):
            got.append(packet)
    assert _of(got, set(flows)) == _of(every, set(flows))


def test_with_dedup_every_packet_goes_through_the_deduplicator() -> None:
    path = DATA / "SIP_DTMF2.pcap"
    every = list(packets(path, dedup=True))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    got = list(udp_flow_packets(path, flows[:1], dedup=True))
    assert [(p.frame, bytes(p.payload)) for p in got] == [
        (p.frame, bytes(p.payload)) for p in every
    ]


def _decoded(found: list[Packet]) -> list[tuple[int, int, int, str, str, int, int, bytes]]:
    return [
        (p.frame, p.ts_ns, p.orig_len, p.src, p.dst, p.sport, p.dport, bytes(p.payload))
        for p in found
    ]


@pytest.mark.parametrize(
    "path",
    sorted({*shared_captures(), *DATA.glob("*.pcap*")}),
    ids=lambda p: p.name,
)
def test_reading_by_offsets_gives_what_reading_again_gives(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass's record index (analyze -o, extract...) reads the same records as reading the
    file again, and does not open the capture to do it; where it cannot serve (a compressed
    file, a fault), the model offers the plain path."""
    from rtcscope.capture import flowread
    from rtcscope.scan import ScanOptions, scan
    from tests.conftest import count_capture_opens

    model = scan(path, ScanOptions(offsets=True, keep_going=True))
    source = model.payload_source
    assert source is not None
    if path.suffix == ".gz" or model.faults:
        assert isinstance(source, str)
        return
    assert isinstance(source, flowread.IndexedCapture)
    every = list(packets(path, keep_going=True))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    opens = count_capture_opens(monkeypatch, flowread)
    for chosen in (flows[:1], flows[1::2], flows, []):
        by_offsets = list(udp_flow_packets(source, chosen))
        assert opens == []  # read by offsets, not through the reader
        assert _decoded(by_offsets) == _decoded(list(udp_flow_packets(path, chosen)))
        wanted = set(chosen)
        assert _of(by_offsets, wanted) == _of(every, wanted)
        opens.clear()


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    from rtcscope.capture.flowread import IndexedCapture
    from rtcscope.scan import ScanOptions, scan

    path = tmp_path / "call.pcap"
    path.write_bytes((DATA / "SIP_DTMF2.pcap").read_bytes())
    model = scan(path, ScanOptions(offsets=True))
    source = model.payload_source
    assert isinstance(source, IndexedCapture)
    assert source.index.serves(str(path))
    path.write_bytes((DATA / "sip-rtp-opus.pcap").read_bytes())  # another capture, same name
    assert not source.index.serves(str(path))
    every = list(packets(path))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    assert _decoded(list(udp_flow_packets(source, flows))) == _decoded(
        list(udp_flow_packets(path, flows))
    )


@pytest.mark.peer
def test_reading_by_offsets_in_every_layout(tmp_path: Path) -> None:
    """pcap of both byte orders, pcapng of both byte orders (editcap's), simple packet blocks
    (kept whole by the index): the offsets road gives the re-read's packets."""
    from rtcscope.capture.flowread import IndexedCapture
    from rtcscope.scan import ScanOptions, scan
    from tests.capture import convert
    from tests.peers import run

    source = DATA / "SIP_DTMF2.pcap"
    little = tmp_path / "little.pcapng"
    run("editcap", ["-F", "pcapng", source, little])
    layouts = {
        "big.pcap": convert.swap_pcap(source.read_bytes()),
        "little.pcapng": little.read_bytes(),
        "big.pcapng": convert.swap_pcapng(little.read_bytes()),
        "spb.pcapng": convert.epb_to_spb(little.read_bytes()),
    }
    every = list(packets(source))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    for name, data in layouts.items():
        path = tmp_path / name
        path.write_bytes(data)
        model = scan(path, ScanOptions(offsets=True))
        road = model.payload_source
        assert isinstance(road, IndexedCapture), name
        for chosen in (flows[:1], flows):
            by_offsets = _decoded(list(udp_flow_packets(road, chosen)))
            assert by_offsets == _decoded(list(udp_flow_packets(path, chosen))), name
            assert len(by_offsets) > (1300 if chosen is flows else 10)


@pytest.mark.parametrize("gap, window", [(0, 1), (0, 4096), (1 << 20, 1 << 30)])
def test_reading_by_offsets_in_windows_of_any_size(
    gap: int, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records read a window at a time (a window per record, a few KB, the whole file):
    the same packets whatever the window."""
    from rtcscope.capture import flowread
    from rtcscope.scan import ScanOptions, scan

    path = DATA / "SIP_DTMF2.pcap"
    model = scan(path, ScanOptions(offsets=True))
    road = model.payload_source
    assert isinstance(road, flowread.IndexedCapture)
    every = list(packets(path))
    flows = sorted({_flow(p) for p in every if p.ip_proto == 17})
    monkeypatch.setattr(flowread, "_GAP_BYTES", gap)
    monkeypatch.setattr(flowread, "_WINDOW_BYTES", window)
    for chosen in (flows[:1], flows[1::2], flows):
        assert _decoded(list(udp_flow_packets(road, chosen))) == _decoded(
            list(udp_flow_packets(path, chosen))
        )
