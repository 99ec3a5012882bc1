"""pcapng captures take the array path of the RTP tap too (issue 14, item 5).

dumpcap and Wireshark write pcapng; the RTP tap read classic pcap only as arrays and sent
every pcapng record the per-packet way (3.6x slower on 500k packets). The files here are
written by Wireshark's own editcap/mergecap from the captures in tests/data: the streams and
RTCP found in the pcapng must be those of the pcap it was made from (whose numbers the
tshark comparisons check), by both paths, and the RTP of followed streams must not be
decoded one record at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

import rtcscope.scan.onepass as onepass
from rtcscope.capture.packet import Packet, Record
from rtcscope.capture.reader import open_capture
from rtcscope.capture.writer import PcapWriter
from rtcscope.rtp.streams import rtcp_record_to_dict, stream_to_dict
from rtcscope.scan.files import scan_capture
from tests.capture import convert
from tests.capture.plain_frames import plain_udp_frame
from tests.conftest import DATA
from tests.peers import run
from tests.rtp.ipv6_rewrite import rewrite_pcap

pytestmark = pytest.mark.peer

RTP_CAPTURES = [
    DATA / "SIP_DTMF2.pcap",
    DATA / "sip-rtp-opus.pcap",
    DATA / "sip-rtp-g722.pcap",
    DATA / "rtp-events.pcap",
    DATA / "rtp-timestamp-reset.pcap",
    DATA / "srtcp-call.pcap",
]


def _everything(path: Path, fast: bool = True) -> tuple[list[object], list[object]]:
    result = scan_capture(path, with_rtcp=True, with_dtmf=True, fast=fast)
    first = result.first_ns or 0
    return (
        [stream_to_dict(s) for s in result.streams],
        [rtcp_record_to_dict(r, first) for r in result.rtcp_packets],
    )


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The frames the scan decodes one record at a time, from now on."""
    decoded: list[int] = []
    real_decode = onepass.decode

    def counting(record: Record) -> Packet:
        decoded.append(record.frame)
        return real_decode(record)

    monkeypatch.setattr(onepass, "decode", counting)
    return decoded


def _pcapng(source: Path, out: Path) -> Path:
    run("editcap", ["-F", "pcapng", source, out])
    return out


@pytest.mark.parametrize("source", RTP_CAPTURES, ids=lambda p: p.name)
def test_pcapng_gives_the_pcap_streams_by_both_paths(source: Path, tmp_path: Path) -> None:
    made = _pcapng(source, tmp_path / "made.pcapng")
    expected = _everything(source)
    assert expected[0], "a capture with RTP streams"
    assert _everything(made) == expected
    assert _everything(made, fast=False) == expected


def test_pcapng_rtp_is_read_as_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records decoded one by one: the SIP, RTCP and each stream's first packets, not the
    RTP of streams already followed (before: every record of a pcapng)."""
    made = _pcapng(DATA / "sip-rtp-opus.pcap", tmp_path / "opus.pcapng")
    decoded = _count_decodes(monkeypatch)
    result = scan_capture(made)
    rtp_packets = sum(s.stats.packets for s in result.streams)
    assert rtp_packets > 400
    assert len(decoded) < rtp_packets / 10
    assert len(decoded) == len(set(decoded))  # each record decoded at most once


@pytest.mark.parametrize(
    ("tsresol", "tsoffset_s"),
    [(9, None), (3, None), (6, 3600), (0x80 | 20, None)],
    ids=["nanoseconds", "milliseconds", "offset", "binary-fraction"],
)
def test_pcapng_time_resolutions(tsresol: int, tsoffset_s: int | None, tmp_path: Path) -> None:
    """Interface time units other than microseconds (if_tsresol, if_tsoffset): the array
    path converts them as Interface.ts_ns does (binary fractions go one by one)."""
    made = _pcapng(DATA / "SIP_DTMF2.pcap", tmp_path / "plain.pcapng")
    odd = tmp_path / "odd.pcapng"
    odd.write_bytes(convert.with_idb_options(made.read_bytes(), tsoffset_s, tsresol))
    fast = _everything(odd)
    assert fast == _everything(odd, fast=False)
    if tsresol in (9, 6):  # the same instants as the microsecond original
        assert fast == _everything(DATA / "SIP_DTMF2.pcap")


def test_pcapng_of_two_interfaces(tmp_path: Path) -> None:
    """mergecap writes one interface per input: rows of both are read as arrays."""
    merged = tmp_path / "merged.pcapng"
    run(
        "mergecap",
        ["-F", "pcapng", "-w", merged, DATA / "sip-rtp-opus.pcap", DATA / "sip-rtp-g722.pcap"],
    )
    fast = _everything(merged)
    assert fast == _everything(merged, fast=False)
    separate = (
        _everything(DATA / "sip-rtp-opus.pcap")[0] + _everything(DATA / "sip-rtp-g722.pcap")[0]
    )
    assert len(fast[0]) == len(separate)


def _reframed(source: Path, relink: Callable[[bytes], bytes], linktype: int) -> bytes:
    """A little-endian pcap of ``source`` (Ethernet) with each frame's link layer rewritten."""
    data = source.read_bytes()
    out = [data[:20] + struct.pack("<I", linktype)]
    for header, body in convert.pcap_records(data):
        ts_sec, ts_frac, _, _ = struct.unpack("<IIII", header)
        frame = relink(body)
        out.append(struct.pack("<IIII", ts_sec, ts_frac, len(frame), len(frame)) + frame)
    return b"".join(out)


def _vlan(body: bytes) -> bytes:
    return body[:12] + struct.pack("!HH", 0x8100, 42) + body[12:]


def _sll2(body: bytes) -> bytes:
    # protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address
    return (
        struct.pack("!HHIHBB8s", int.from_bytes(body[12:14], "big"), 0, 2, 1, 0, 6, body[6:12])
        + body[14:]
    )


def _framed(source: Path, layout: str, made: Path) -> Path:
    """``source`` (an Ethernet pcap) as pcapng, with VLAN tags, as Linux cooked v2 or raw IP
    (101, or LINKTYPE_IPV6 229 for IPv6 frames)."""
    if layout == "pcapng":
        return _pcapng(source, made)
    if layout == "qinq":
        made.write_bytes(convert.insert_qinq(source.read_bytes(), 100, 42))
        return made
    relink, linktype = {
        "vlan": (_vlan, 1),
        "sll2": (_sll2, 276),
        "raw": (_strip_ethernet, 101),
        "ipv6": (_strip_ethernet, 229),
    }[layout]
    made.write_bytes(_reframed(source, relink, linktype))
    return made


def _strip_ethernet(body: bytes) -> bytes:
    return body[14:]


@pytest.mark.parametrize(
    ("ip", "layout"),
    [
        *(("ipv4", layout) for layout in ("vlan", "qinq", "sll2")),
        *(("ipv6", layout) for layout in ("pcapng", "vlan", "qinq", "sll2", "raw", "ipv6")),
    ],
)
def test_tagged_and_cooked_frames_are_read_as_arrays(
    ip: str, layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """802.1Q, 802.1ad+802.1Q and Linux cooked v2 frames: the streams of the untagged
    Ethernet original, by both paths, without decoding followed RTP one record at a time.
    The same for SIP_DTMF2.pcap rewritten to IPv6 (tests/rtp/ipv6_rewrite.py), framed those
    ways and as pcapng, raw IP (101) and LINKTYPE_IPV6 (229)."""
    source = DATA / "SIP_DTMF2.pcap"
    if ip == "ipv6":
        source = tmp_path / "v6.pcap"
        source.write_bytes(rewrite_pcap((DATA / "SIP_DTMF2.pcap").read_bytes()))
    made = _framed(source, layout, tmp_path / f"{layout}.pcap")
    expected = _everything(source)
    assert all((":" in s["src"]) == (ip == "ipv6") for s in expected[0])  # type: ignore[index]
    decoded = _count_decodes(monkeypatch)
    assert _everything(made) == expected
    rtp_packets = sum(s["packets"] for s in expected[0])  # type: ignore[index]
    assert len(decoded) < rtp_packets / 4
    monkeypatch.undo()
    assert _everything(made, fast=False) == expected


def test_a_dropped_first_datagram_is_the_streams_time_origin(tmp_path: Path) -> None:
    """The capture's first packet is a UDP datagram starting with a letter that is not SIP
    (the SIP framer drops it), in a batch the RTP tap cannot read as arrays (binary-fraction
    times): the streams' start times still count from it, as the test computes them."""
    with open_capture(DATA / "SIP_DTMF2.pcap") as reader:
        records = list(reader)
    origin = records[0].ts_ns - 1_500_000_000
    payload = b"Hello there, this is not a SIP message"
    frame = plain_udp_frame(payload, bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]), 4000, 4001, 1)
    plain = tmp_path / "led.pcap"
    with PcapWriter(plain) as writer:
        writer.write(frame, origin)
        for record in records:
            writer.write(record.data, record.ts_ns)
    odd = tmp_path / "led.pcapng"
    odd.write_bytes(
        convert.with_idb_options(
            _pcapng(plain, tmp_path / "plain.pcapng").read_bytes(), None, 0x80 | 20
        )
    )
    result = scan_capture(odd, with_rtcp=True, with_dtmf=True)
    assert result.first_ns is not None
    assert abs(result.first_ns - origin) < 1_000  # binary-fraction units: within a microsecond
    assert result.streams
    for stream in result.streams:
        assert abs(stream.start_rel_s - (stream.start_ns - origin) / 1e9) < 1e-5
