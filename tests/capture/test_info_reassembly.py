"""`rtcscope info` with IP reassembly (the default) and `--dedup`, against tshark.

tshark reassembles IP fragments by default: a fragment held for reassembly shows as
``ip:data`` / ``ipv6:ipv6.fraghdr:data``, and the frame that completes a datagram shows the
whole datagram's protocols (``udp:sip``) and lists its fragments (``ip.fragment``,
``ipv6.fragment``). ``info`` must count the same frames: every record as IP, the datagram
once, as what it is, at the frame that completed it. What we expect frame by frame is built
from ``pipeline.packets`` (the one reading path everything else uses), not from info's code.
"""

from __future__ import annotations

import functools
import json
import struct
from pathlib import Path

import pytest

from rtcscope.capture.info import classify_udp_payload
from rtcscope.capture.pipeline import PipelineReport, packets
from rtcscope.scan.files import capture_info
from tests.capture.convert import EPB, SPB, _block, pcapng_blocks
from tests.capture.test_info import KINDS, MEDIA_DIFFERENCES, tshark_frames_by_kind
from tests.capture.test_shared_captures import CAPTURES
from tests.capture.tshark_compare import HEURISTICS, read_packets
from tests.conftest import DATA, shared_capture
from tests.peers import rtcscope_cli, run, tshark_fields

FIELDS = (
    "frame.number",
    "frame.protocols",
    "rtp.version",
    "rtcp.version",
    "ip.fragment",
    "ipv6.fragment",
)


@functools.lru_cache(maxsize=32)
def tshark_reassembled_rows(path: Path) -> list[list[str]]:
    """tshark's fields with its default preferences (IP reassembly on), RTP heuristics on."""
    rows = tshark_fields(path, FIELDS, extra=HEURISTICS)
    return [(row + [""] * len(FIELDS))[: len(FIELDS)] for row in rows]


def tshark_frames(path: Path) -> dict[str, set[int]]:
    return tshark_frames_by_kind((r[0], r[1], r[2], r[3]) for r in tshark_reassembled_rows(path))


def tshark_reassembly(path: Path) -> tuple[set[int], set[int]]:
    """(frames where tshark reassembled a datagram, frames it used as fragments)."""
    completing: set[int] = set()
    fragments: set[int] = set()
    for row in tshark_reassembled_rows(path):
        listed = {int(f) for cell in row[4:6] for f in cell.split(",") if f}
        if listed:
            completing.add(int(row[0]))
            fragments |= listed
    return completing, fragments


def expected_frames(path: Path) -> tuple[dict[str, set[int]], set[int], set[int]]:
    """Frames each count should hold, from pipeline.packets; and (completing, fragment) frames.

    A record counts as IP by what it delivers (the reassembled datagram at the completing
    frame) or, when the defragmenter held it, by its own header.
    """
    records, _ = read_packets(path)
    delivered = {p.frame: p for p in packets(path)}
    frames: dict[str, set[int]] = {kind: set() for kind in (*KINDS, "hep")}
    fragment_frames = {r.frame for r in records if r.fragment is not None}
    for record in records:
        packet = delivered.get(record.frame, record)
        if packet.ip_version in (4, 6):
            frames[f"ipv{packet.ip_version}"].add(record.frame)
        if record.frame not in delivered or packet.ip_version == 0:
            continue
        kind = {17: "udp", 6: "tcp", 1: "icmp", 58: "icmp"}.get(packet.ip_proto)
        if kind:
            frames[kind].add(record.frame)
        if packet.ip_proto == 17 and packet.fragment is None and not packet.malformed:
            udp_class = classify_udp_payload(packet.payload, packet.sport, packet.dport)
            if udp_class:
                frames[udp_class].add(record.frame)
    completing = {frame for frame in delivered if frame in fragment_frames}
    return frames, completing, fragment_frames


def assert_counts_equal_tshark(path: Path, differences: dict[str, set[int]]) -> dict[str, int]:
    info = capture_info(path).as_dict()
    assert info == capture_info(path, fast=False).as_dict()
    ours, completing, fragment_frames = expected_frames(path)
    theirs = tshark_frames(path)
    for kind in KINDS:
        # UDP's SIP frame by frame ("sip" counts every transport: test_info_sip_transports.py)
        assert info["sip_udp" if kind == "sip" else kind] == len(ours[kind]), kind
        if kind in ("rtp", "rtcp") and path.name == "ndpi-meet-srtp-ipv6.pcapng":
            # tshark's RTP/RTCP heuristics reject this WebRTC call's odd ports and ports
            # shared with STUN (see test_info.py): compare only the frames tshark accepts.
            assert theirs[kind] <= ours[kind], kind
            continue
        assert ours[kind] ^ theirs[kind] == differences.get(kind, set()), kind
    # The reassembled frames, frame by frame: where each datagram completes, which frames
    # were its fragments, and the defragmenter's counts.
    their_completing, their_fragments = tshark_reassembly(path)
    assert completing == their_completing
    assert info["reassembly"] is True
    assert info["ip_fragments"] == len(fragment_frames)
    assert info["datagrams_reassembled"] == len(completing)
    dropped = info["fragments_dropped"] + info["duplicate_fragments"]
    if not dropped:
        assert their_fragments == fragment_frames
    return info


@pytest.mark.peer
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_counts_equal_tshark_reassembling_frame_by_frame(path: Path) -> None:
    differences = {
        kind: frames for (name, kind), frames in MEDIA_DIFFERENCES.items() if name == path.name
    }
    assert_counts_equal_tshark(path, differences)


@pytest.mark.peer
def test_sip_over_fragmented_ipv6_counts_once_as_sip() -> None:
    path = shared_capture("ipv6frag.pcap")
    info = assert_counts_equal_tshark(path, {})
    # 34 records, two INVITEs in two fragments each: 32 UDP datagrams, all SIP.
    assert (info["packets"], info["ipv6"], info["udp"], info["sip"]) == (34, 34, 32, 32)
    assert (info["ip_fragments"], info["datagrams_reassembled"], info["fragments_dropped"]) == (
        4,
        2,
        0,
    )
    per_record = capture_info(path, reassemble=False).as_dict()
    assert (per_record["udp"], per_record["sip"], per_record["ip_fragments"]) == (34, 30, 4)
    assert per_record["datagrams_reassembled"] == 0 and per_record["reassembly"] is False


@pytest.mark.peer
@pytest.mark.parametrize("version", [4, 6])
def test_shuffled_duplicated_overlapping_fragments(version: int, tmp_path: Path) -> None:
    from tests.capture.made_captures import make_fragmented_sip

    path = tmp_path / f"frag-sip-ipv{version}.pcap"
    records = make_fragmented_sip(DATA / "sip-rtp-opus.pcap", path, version)
    info = assert_counts_equal_tshark(path, {})
    assert info["sip"] == info["udp"] == 6  # the six SIP messages of sip-rtp-opus.pcap
    assert info[f"ipv{version}"] == info["packets"] == records
    assert info["duplicate_fragments"] >= 6  # one plain copy per datagram at least
    # Batches of 8 KB: fragments of one datagram in different batches, decoded in order.
    from rtcscope.capture import reader

    saved = reader.BATCH_BYTES
    try:
        reader.BATCH_BYTES = 8192
        assert capture_info(path).as_dict() == info
    finally:
        reader.BATCH_BYTES = saved


def _some_epbs_as_spbs(data: bytes) -> bytes:
    """Every third EPB of a one-interface little-endian pcapng as a Simple Packet Block, so
    a batch holds ready records between its vectorized rows. An SPB has no time (0, as
    tshark shows it): the other EPBs get time 0 too, or the defragmenter would see fragments
    40 years apart and let their datagrams expire."""
    out = []
    count = 0
    for btype, body in pcapng_blocks(data):
        if btype == EPB:
            count += 1
            iface, _high, _low, caplen, origlen = struct.unpack_from("<IIIII", body, 0)
            if count % 3 == 0:
                assert caplen == origlen
                out.append(_block("<", SPB, struct.pack("<I", origlen) + body[20 : 20 + caplen]))
                continue
            body = struct.pack("<IIIII", iface, 0, 0, caplen, origlen) + body[20:]
        out.append(_block("<", btype, body))
    return b"".join(out)


@pytest.mark.peer
def test_pcapng_with_simple_packet_blocks_feeds_fragments_in_file_order(tmp_path: Path) -> None:
    from tests.capture.made_captures import make_fragmented_sip

    made = tmp_path / "frag.pcap"
    make_fragmented_sip(DATA / "sip-rtp-opus.pcap", made, 4)
    pcapng = tmp_path / "frag.pcapng"
    run("editcap", ["-F", "pcapng", made, pcapng])
    mixed = tmp_path / "mixed.pcapng"
    mixed.write_bytes(_some_epbs_as_spbs(pcapng.read_bytes()))
    info = capture_info(mixed).as_dict()
    assert info == capture_info(mixed, fast=False).as_dict()
    ours, completing, _ = expected_frames(mixed)
    assert tshark_reassembly(mixed)[0] == completing
    assert info["sip"] == len(ours["sip"]) == len(tshark_frames(mixed)["sip"]) == 6
    assert info["fragments_dropped"] == 0


@pytest.mark.peer
def test_incomplete_and_expired_datagrams_are_counted_as_dropped(tmp_path: Path) -> None:
    from scapy.all import IP, UDP, Ether, fragment, wrpcap  # type: ignore[attr-defined]

    payload = b"MESSAGE sip:bob@127.0.12.2 SIP/2.0\r\n" + b"X-Pad: " + b"p" * 600 + b"\r\n\r\n"
    frames = []
    for ident in (1, 2, 3):
        whole = IP(src="127.0.12.1", dst="127.0.12.2", id=ident) / UDP(sport=5060, dport=5060)
        frames.append([Ether() / piece for piece in fragment(whole / payload, fragsize=256)])
    # Datagram 1 whole; datagram 3's last fragment comes 31 s after its first (past the
    # 30 s IPv4 reassembly timeout); then datagram 2, which loses its last fragment.
    kept = frames[0] + frames[2] + frames[1][:-1]
    per_datagram = len(frames[0])
    times = [0.0] * per_datagram + [0.2] * (per_datagram - 1) + [31.3]
    times += [31.4] * (per_datagram - 1)
    for frame, offset in zip(kept, times, strict=True):
        frame.time = 1_700_000_000 + offset
    path = tmp_path / "dropped.pcap"
    wrpcap(str(path), kept)
    info = capture_info(path).as_dict()
    assert info == capture_info(path, fast=False).as_dict()
    assert (info["udp"], info["datagrams_reassembled"], info["ipv4"]) == (1, 1, len(kept))
    assert info["fragments_expired"] == per_datagram - 1  # datagram 3's first fragments
    # Datagram 2, and datagram 3's late tail (which started a datagram of its own).
    assert info["fragments_incomplete"] == per_datagram - 1 + 1
    assert info["fragments_dropped"] == info["fragments_incomplete"] + info["fragments_expired"]
    # tshark (no timeout) completes datagram 3 with its late fragment: we count that frame
    # as IP only, as what it is to a host that dropped the datagram after 30 s.
    late = 2 * per_datagram
    their_completing, _ = tshark_reassembly(path)
    ours, completing, _ = expected_frames(path)
    assert completing == {per_datagram} and their_completing == {per_datagram, late}
    assert tshark_frames(path)["udp"] - ours["udp"] == {late}
    # The same in pcapng: the fast path gives the defragmenter each EPB's own time.
    pcapng = tmp_path / "dropped.pcapng"
    run("editcap", ["-F", "pcapng", path, pcapng])
    as_pcapng = capture_info(pcapng).as_dict()
    assert as_pcapng == capture_info(pcapng, fast=False).as_dict()
    assert {k: v for k, v in as_pcapng.items() if k.startswith("fragments_")} == {
        k: v for k, v in info.items() if k.startswith("fragments_")
    }
    table = rtcscope_cli(["info", path], check=True).stdout
    assert "fragments_expired" in table and "fragments_invalid" not in table


@pytest.mark.peer
def test_dedup_counts_a_capture_taken_twice_once(tmp_path: Path) -> None:
    from tests.capture.made_captures import make_fragmented_sip
    from tests.capture.test_dedup import doubled

    original = tmp_path / "frag.pcap"
    make_fragmented_sip(DATA / "sip-rtp-opus.pcap", original, 4)
    merged = doubled(original, tmp_path)
    # The made capture holds copies of fragments itself (1 ms apart): --dedup drops those too.
    once = capture_info(original, dedup=True).as_dict()
    assert once["duplicates"] == 6  # one plain copy of a fragment per datagram
    twice = capture_info(merged, dedup=True).as_dict()
    assert twice["packets"] == 2 * once["packets"]
    assert twice["duplicates"] == once["packets"] + once["duplicates"] and twice["dedup"] is True
    for kind in (*KINDS, "hep"):
        assert twice[kind] == once[kind], kind
    assert once["sip"] == 6 and once["ipv4"] == once["packets"] - once["duplicates"]
    # The delivered packets are the pipeline's own with dedup on.
    report = PipelineReport()
    kept = list(packets(merged, dedup=True, report=report))
    assert twice["udp"] == sum(1 for p in kept if p.is_udp)
    without = capture_info(merged).as_dict()
    assert without["sip"] == 2 * once["sip"] and without["duplicates"] == 0
    # Per record, the Deduplicator drops the copies of fragments as it does in the pipeline.
    per_record = capture_info(merged, reassemble=False, dedup=True).as_dict()
    assert per_record["duplicates"] == twice["duplicates"]
    assert per_record["udp"] == once["packets"] - once["duplicates"]


@pytest.mark.peer
def test_cli_flags_and_analyze_dedup(tmp_path: Path) -> None:
    from tests.capture.test_dedup import doubled

    capture = shared_capture("ipv6frag.pcap")
    [default] = json.loads(rtcscope_cli(["info", "--format", "json", capture], check=True).stdout)
    [per_record] = json.loads(
        rtcscope_cli(["info", "--no-reassembly", "--format", "json", capture], check=True).stdout
    )
    assert (default["udp"], default["sip"], default["datagrams_reassembled"]) == (32, 32, 2)
    assert (per_record["udp"], per_record["sip"], per_record["reassembly"]) == (34, 30, False)
    merged = doubled(DATA / "sip-rtp-opus.pcap", tmp_path)
    [deduped] = json.loads(
        rtcscope_cli(["info", "--dedup", "--format", "json", merged], check=True).stdout
    )
    assert (deduped["packets"], deduped["duplicates"], deduped["rtp"]) == (866, 433, 425)
    result = rtcscope_cli(
        ["analyze", merged, "--dedup", "--only", "info", "--format", "json"], check=True
    )
    [section] = json.loads(result.stdout)
    assert section["data"]["dedup"] is True and section["data"]["duplicates"] == 433
    assert section["data"]["rtp"] == 425 and section["data"]["sip"] == 6
    result = rtcscope_cli(["analyze", merged, "--only", "info", "--format", "json"], check=True)
    [section] = json.loads(result.stdout)
    assert section["data"]["dedup"] is False and section["data"]["rtp"] == 850
