"""Every SDP-named audio stream of the shared captures (and sipp's g711a.pcap), decoded
through the timeline, against an independent decode of the payloads tshark extracts.

Duration must equal the stream's RTP time span (first to last timestamp plus one packet), and
each gap-free segment, placed at its RTP timestamp, must correlate above 0.99 with FFmpeg's
command-line decoder (G.711, G.722, GSM, G.729, iLBC) or a fresh PyAV decoder fed packet by
packet (Speex, Opus). Each stream is checked twice: ``library`` feeds the packets tshark
dissected to the timeline and decoder (the media layer alone); ``cli`` runs
``rtcscope extract --ssrc`` on the capture (capture reader, stream discovery, SDP codecs, WAV).
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rtcscope.cli import main
from rtcscope.media.codecs import make_decoder, parse_codec
from rtcscope.media.timeline import PayloadRole, TimelinePacket, build_timeline, render_audio
from tests.conftest import shared_capture
from tests.media.reference import (
    Samples,
    TsharkRtp,
    correlation,
    ffmpeg_decode,
    gap_free_segments,
    pyav_decode_each,
    read_wav,
    tshark_rtp,
)

# (capture, SSRC, audio payload type, rtpmap as the SDP says, other payload types' roles)
STREAMS = [
    ("sip-rtp-opus.pcap", 0x043EEE04, 99, "opus/48000/2", {101: "event"}),
    ("sip-rtp-g722.pcap", 0x043DAABA, 9, "G722/8000", {101: "event"}),
    ("sip-rtp-g729a.pcap", 0x044559A1, 18, "G729/8000", {101: "event"}),
    ("sip-rtp-gsm.pcap", 0x043DAAF1, 3, "GSM/8000", {101: "event"}),
    ("sip-rtp-ilbc.pcap", 0x043EEFA7, 99, "iLBC/8000", {101: "event"}),
    ("sip-rtp-speex.pcap", 0x043EEE26, 99, "speex/8000", {101: "event"}),
    ("sip-rtp-speex.pcap", 0x04413EBF, 99, "speex/16000", {101: "event"}),
    ("sip-rtp-speex.pcap", 0x043EEE37, 99, "speex/32000", {101: "event"}),
    ("SIP_DTMF2.pcap", 0x5711BF84, 8, "PCMA/8000", {96: "event"}),
    ("SIP_DTMF2.pcap", 0x9A7B5382, 8, "PCMA/8000", {96: "event"}),
    ("aaa.pcap", 0x3796CB71, 8, "PCMA/8000", {}),
    ("heplify-rtp_rtcp_sip_ipv4_udp.pcap", 0x00002E3D, 8, "PCMA/8000", {}),
    ("heplify-rtp_rtcp_sip_ipv4_udp.pcap", 0x58F33DEA, 8, "PCMA/8000", {}),
    ("heplify-rtp_rtcp_sip_ipv4_udp.pcap", 0xD2BD4E3E, 8, "PCMA/8000", {}),
    ("heplify-sip_ipv4_tcp.pcap", 0x5A3361B3, 8, "PCMA/8000", {13: "cn", 101: "event"}),
    ("heplify-sip_ipv4_tcp.pcap", 0x42F433D4, 8, "PCMA/8000", {13: "cn", 101: "event"}),
    ("sipp-g711a.pcap", 0xDEE0EE8F, 8, "PCMA/8000", {}),
]

FMTP = {"iLBC/8000": "mode=30"}


def reference(codec: str, clock: int, payloads: list[bytes], tmp: Path) -> Samples:
    if codec == "speex":
        return pyav_decode_each("speex", payloads, clock)
    if codec == "opus":
        return pyav_decode_each("libopus", payloads, 48000)
    return ffmpeg_decode(codec, payloads, tmp)


def decode_with_library(
    rows: list[TsharkRtp], pt: int, rtpmap: str, roles: dict[int, str]
) -> tuple[Samples, int]:
    spec = parse_codec(rtpmap, FMTP.get(rtpmap))
    audio_rows = [r for r in rows if r.payload_type == pt]
    decoder = make_decoder(spec, audio_rows[0].payload)
    timeline = build_timeline(
        [
            TimelinePacket(r.seq, r.timestamp, r.time_ns, r.marker, r.payload_type, r.payload)
            for r in rows
        ],
        audio_payload_type=pt,
        clock_rate=spec.clock_rate,
        roles={p: PayloadRole(role) for p, role in roles.items()},
        duration_of=decoder.packet_clock_samples,
    )
    return np.concatenate(list(render_audio(timeline, decoder)))[:, 0], decoder.output_rate


def decode_with_cli(
    path: Path, ssrc: int, src_port: int, tmp: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Samples, int]:
    out = tmp / "out.wav"
    capsys.readouterr()
    code = main(
        ["extract", str(path), "--ssrc", f"0x{ssrc:08X}", "-o", str(out), "--format", "json"]
    )
    assert code == 0, capsys.readouterr().err
    results = json.loads(capsys.readouterr().out)
    # A capture may carry the same SSRC on another flow (heuristic streams): take tshark's.
    files = [r["file"] for r in results if r["streams"][0]["src_port"] == src_port]
    assert len(files) == 1, results
    rate, channels, pcm = read_wav(Path(files[0]))
    assert channels == 1
    return pcm[:, 0], rate


@pytest.mark.peer
@pytest.mark.parametrize("via", ["library", "cli"])
@pytest.mark.parametrize(
    ("capture", "ssrc", "pt", "rtpmap", "roles"),
    STREAMS,
    ids=[f"{c}-0x{s:08X}" for c, s, *_ in STREAMS],
)
def test_stream_decodes_like_the_reference(
    capture: str,
    ssrc: int,
    pt: int,
    rtpmap: str,
    roles: dict[int, str],
    via: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = shared_capture(capture)
    rows = tshark_rtp(path, ssrc, heuristic=capture.startswith("sipp-"))
    assert rows, f"tshark finds no RTP of SSRC 0x{ssrc:08X}"
    spec = parse_codec(rtpmap, FMTP.get(rtpmap))
    audio_rows = [r for r in rows if r.payload_type == pt]
    if via == "library":
        pcm, rate = decode_with_library(rows, pt, rtpmap, roles)
    else:
        pcm, rate = decode_with_cli(path, ssrc, rows[0].src_port, tmp_path, capsys)
    ratio = Fraction(rate, spec.clock_rate)

    # The duration is the RTP time span: first to last timestamp plus one packet.
    ordered = sorted(audio_rows, key=lambda r: r.seq)
    steps = [
        b.timestamp - a.timestamp for a, b in itertools.pairwise(ordered) if b.seq == a.seq + 1
    ]
    step = max(set(steps), key=steps.count)
    span = ordered[-1].timestamp - ordered[0].timestamp + step
    assert len(pcm) == span * ratio

    # Each gap-free segment, placed at its timestamp, sounds like the reference decode.
    checked = 0
    for segment in gap_free_segments(audio_rows, step):
        if len(segment) < 5:
            continue
        ref = reference(spec.name, spec.clock_rate, [r.payload for r in segment], tmp_path)
        start = int((segment[0].timestamp - ordered[0].timestamp) * ratio)
        ours = pcm[start : start + len(ref)]
        assert len(ours) == len(ref)
        if not np.any(ref):
            assert not np.any(ours)
            continue
        assert correlation(ours, ref) > 0.99, f"segment at {segment[0].seq}"
        checked += len(segment)
    assert checked >= 0.8 * len(audio_rows)


@pytest.mark.peer
def test_the_table_holds_every_stream_tshark_finds_from_signalling() -> None:
    """tshark (no heuristic: streams named by SDP) on every shared capture: each of its audio
    streams is in STREAMS, so none escapes the reference comparison."""
    from tests.conftest import shared_captures
    from tests.peers import run

    captures = shared_captures()
    if not captures:
        shared_capture("sip-rtp-opus.pcap")  # skips, or fails under CI
    found: set[tuple[str, int]] = set()
    for capture in captures:
        out = run("tshark", ["-n", "-q", "-r", capture, "-z", "rtp,streams"]).stdout
        for line in out.splitlines():
            fields = line.split()
            ssrc = next((f for f in fields if f.startswith("0x")), None)
            if ssrc is not None and "SSRC" not in line:
                found.add((capture.name, int(ssrc, 16)))
    assert found, "tshark found no stream at all"
    assert found <= {(c, s) for c, s, *_ in STREAMS}
