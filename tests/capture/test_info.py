"""`rtcscope info`: counts against tshark, the vectorized path against decode(), the CLI.

The frame-by-frame comparison here is of ``--no-reassembly`` (every record counted on its
own) with tshark's reassembly off; test_info_reassembly.py compares the default (IP
fragments reassembled) with tshark's default, reassembly on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from rtcscope.capture.info import classify_udp_payload
from rtcscope.scan.files import capture_info
from tests.capture.test_shared_captures import CAPTURES
from tests.capture.tshark_compare import epoch_text, read_packets, tshark_rows
from tests.conftest import DATA
from tests.peers import rtcscope_cli, run

KINDS = ("ipv4", "ipv6", "udp", "tcp", "icmp", "sip", "stun", "dtls", "rtp", "rtcp")


def _tshark_frames(path: Path) -> dict[str, set[int]]:
    """Frames tshark (reassembly off) puts in each count: the protocol layers of each frame."""
    return tshark_frames_by_kind((row[0], *row[-3:]) for row in tshark_rows(path))


def tshark_frames_by_kind(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, set[int]]:
    """Frames in each count from (frame.number, frame.protocols, rtp.version, rtcp.version).

    ICMP errors quote a UDP/TCP header, which tshark shows as udp/tcp too: not counted.
    """
    frames: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for number, protocols, rtp_version, rtcp_version in rows:
        layers = protocols.split(":")
        icmp = "icmp" in layers or "icmpv6" in layers
        found = {
            "ipv4": "ip" in layers,
            "ipv6": "ipv6" in layers,
            "udp": "udp" in layers and not icmp,
            "tcp": "tcp" in layers and not icmp,
            "icmp": icmp,
            "sip": "sip" in layers and "udp" in layers and not icmp,
            "stun": "stun" in layers and "udp" in layers and not icmp,
            "dtls": "dtls" in layers and "udp" in layers and not icmp,
            "rtp": "2" in rtp_version.split(",") and not icmp,
            "rtcp": "2" in rtcp_version.split(",") and not icmp,
        }
        for kind, present in found.items():
            if present:
                frames[kind].add(int(number))
    return frames


# Where tshark and our rules differ, frame by frame, and why (checked by hand):
MEDIA_DIFFERENCES: dict[tuple[str, str], set[int]] = {
    # RTCP transport-wide feedback (PT 205) multiplexed on the RTP port (RFC 5761): tshark
    # dissects those datagrams as RTP of the signalled stream.
    ("ndpi-rtp.pcapng", "rtcp"): {56, 65, 79},
    # Two sender reports with an appended 30-byte trailer that tshark's conversation for
    # that port gives to another dissector.
    ("heplify-rtp_rtcp_sip_ipv4_udp.pcap", "rtcp"): {531, 2646},
    # SRTCP (tests/rtp/srtcp_capture.py): the first 8 bytes are a clear RTCP header, which is
    # what info counts by; tshark's rtcp_udp heuristic walks the whole compound, which is
    # ciphertext past those 8 bytes, and leaves the datagram as data. (The scan's RTCP tap
    # tells SRTCP apart: streams --rtcp lists these six frames as SRTCP.)
    ("srtcp-call.pcap", "rtcp"): {101, 122, 203, 224, 305, 306},
}
# ... and, counting every record on its own (--no-reassembly, tshark's reassembly off):
PER_RECORD_DIFFERENCES: dict[tuple[str, str], set[int]] = {
    **MEDIA_DIFFERENCES,
    # Non-first IPv6 fragments: tshark (reassembly off) shows them as data, not UDP; we count
    # the IP protocol. The first fragments' SIP is read by tshark, not by us (not reassembled).
    ("ipv6frag.pcap", "udp"): {2, 5},
    ("ipv6frag.pcap", "sip"): {1, 4},
}


def _our_frames(path: Path) -> dict[str, set[int]]:
    frames: dict[str, set[int]] = {kind: set() for kind in (*KINDS, "hep")}
    for packet in read_packets(path)[0]:
        found = {
            "ipv4": packet.ip_version == 4,
            "ipv6": packet.ip_version == 6,
            "udp": packet.ip_version != 0 and packet.ip_proto == 17,
            "tcp": packet.ip_version != 0 and packet.ip_proto == 6,
            "icmp": packet.ip_version != 0 and packet.ip_proto in (1, 58),
        }
        for kind, present in found.items():
            if present:
                frames[kind].add(packet.frame)
        if packet.ip_proto == 17 and packet.fragment is None and not packet.malformed:
            kind = classify_udp_payload(packet.payload, packet.sport, packet.dport)
            if kind:
                frames[kind].add(packet.frame)
    return frames


@pytest.mark.parametrize("reassemble", [True, False], ids=["reassembly", "per-record"])
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_vectorized_counts_equal_decode(path: Path, reassemble: bool) -> None:
    fast = capture_info(path, reassemble=reassemble).as_dict()
    assert fast == capture_info(path, fast=False, reassemble=reassemble).as_dict()


@pytest.mark.peer
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_per_record_counts_equal_tshark_frame_by_frame(path: Path) -> None:
    info = capture_info(path, reassemble=False).as_dict()
    tshark = _tshark_frames(path)
    mine = _our_frames(path)
    for kind in KINDS:
        theirs, ours = tshark[kind], mine[kind]
        # "sip" counts SIP on every transport; this compares the UDP datagrams frame by frame
        # (test_info_sip_transports.py compares the total with tshark's).
        assert info["sip_udp" if kind == "sip" else kind] == len(ours), kind
        if kind in ("rtp", "rtcp") and path.name == "ndpi-meet-srtp-ipv6.pcapng":
            # tshark's RTP/RTCP heuristics reject this WebRTC call's odd ports and ports
            # shared with STUN: compare only the frames tshark accepts.
            assert theirs <= ours, kind
            continue
        expected_difference = PER_RECORD_DIFFERENCES.get((path.name, kind), set())
        assert ours ^ theirs == expected_difference, (kind, sorted(ours ^ theirs)[:20])


@pytest.mark.peer
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_span_and_bytes_equal_capinfos_and_tshark(path: Path) -> None:
    info = capture_info(path).as_dict()
    out = run("capinfos", ["-M", "-c", "-d", path]).stdout
    assert f"Number of packets:   {info['packets']}\n" in out
    assert f"Data size:           {info['bytes']} bytes\n" in out
    epochs = [r[1] for r in tshark_rows(path)]
    as_ns = [int(e.replace(".", "")) for e in epochs]
    assert info["first_epoch"] == epoch_text(min(as_ns))
    assert info["last_epoch"] == epoch_text(max(as_ns))


def test_cli_info_json_csv_table() -> None:
    capture = DATA / "sip-rtp-opus.pcap"
    result = rtcscope_cli(["info", "--format", "json", capture], check=True)
    [summary] = json.loads(result.stdout)
    assert summary["packets"] == 433 and summary["sip"] == 6 and summary["rtp"] == 425
    assert summary["link_types"] == ["ethernet (1)"]
    result = rtcscope_cli(["info", "--format", "csv", capture, DATA / "aaa.pcap"], check=True)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["packets"] for r in rows] == ["433", "691"]
    result = rtcscope_cli(["info", capture], check=True)
    assert "sip-rtp-opus.pcap" in result.stdout and "425" in result.stdout


def test_cli_info_on_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"this is not a capture at all")
    result = rtcscope_cli(["info", bogus])
    assert result.returncode == 3
    assert "not a pcap or pcapng file" in result.stderr
    assert "Traceback" not in result.stderr


def test_analyze_prints_the_info_section(tmp_path: Path) -> None:
    result = rtcscope_cli(
        ["analyze", DATA / "sip-rtp-opus.pcap", "-o", tmp_path, "--only", "info"], check=True
    )
    assert "packets               433" in result.stdout
    assert "reassembly            True" in result.stdout


def test_hep_count_is_the_eight_agent_packets() -> None:
    """tshark 4.0 has no HEP dissector: SOURCES.md says the capture holds 8 HEP3 packets."""
    from tests.conftest import shared_capture

    path = shared_capture("hep-wireshark-hep.pcap")
    assert capture_info(path).as_dict()["hep"] == 8
    assert all(capture_info(p).as_dict()["hep"] == 0 for p in CAPTURES if "hep" not in p.name)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_small_mapped_windows_give_the_same_counts(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches map the file window by window: records across window edges, and files cut
    anywhere (with --keep-going), count as the per-packet path counts them."""
    from rtcscope.capture import reader

    monkeypatch.setattr(reader, "BATCH_BYTES", 8192)
    assert capture_info(path).as_dict() == capture_info(path, fast=False).as_dict()
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return
    for cut in (len(data) // 3, len(data) // 2 + 1, len(data) - 1):
        prefix = tmp_path / f"cut-{cut}{path.suffix}"
        prefix.write_bytes(data[:cut])
        fast = capture_info(prefix, keep_going=True).as_dict()
        assert fast == capture_info(prefix, keep_going=True, fast=False).as_dict()
        assert fast["warnings"], cut
