"""The file writers under hostile conditions (issue 21): a symlink planted at the output name,
a missing folder, a read-only and a full file system, a device as the target, a WAV past
4 GiB, an SDP whose clock rate would stretch a few packets into hours, a capture with
more streams than descriptors. Every input is made here; every failure is an OutputError
or MediaError (exit 3) and leaves no file behind."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from rtcscope.capture.writer import PcapWriter
from rtcscope.errors import MediaError, OutputError
from rtcscope.hep.store import sip_frame
from rtcscope.media.codecs import CodecSpec, check_clock_rate, parse_codec
from rtcscope.media.ogg_opus import OggOpusWriter
from rtcscope.media.silk import write_bitstream
from rtcscope.media.wav import MAX_WAV_DATA_BYTES, WavWriter
from rtcscope.outfile import create_output, write_output
from tests.peers import rtcscope_background, rtcscope_cli, tshark_fields

SILENCE = np.zeros((800, 1), dtype=np.int16)


def _write_wav(path: Path) -> None:
    with WavWriter(path, 8000, 1) as wav:
        wav.write(SILENCE)


def _write_pcap(path: Path) -> None:
    with PcapWriter(path) as writer:
        writer.write(sip_frame("10.0.0.1", "10.0.0.2", 1, 2, b"x" * 20), 10**18)


def _write_ogg(path: Path) -> None:
    with OggOpusWriter(path, 1) as ogg:
        ogg.add(b"\xfc\xff\xfe", 960)


def _write_silk(path: Path) -> None:
    write_bitstream(path, [b"\x01\x02\x03"])


WRITERS: dict[str, Callable[[Path], None]] = {
    "wav": _write_wav,
    "pcap": _write_pcap,
    "ogg": _write_ogg,
    "silk": _write_silk,
}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("kind", WRITERS)
def test_a_symlink_at_the_output_name_is_replaced_not_followed(tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"result.{kind}"
    target.symlink_to(victim)
    WRITERS[kind](target)
    assert victim.read_text() == "precious"
    assert target.is_file() and not target.is_symlink()
    assert _leftovers(out) == []


@pytest.mark.parametrize("kind", WRITERS)
def test_a_missing_folder_is_an_output_error(tmp_path: Path, kind: str) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        WRITERS[kind](tmp_path / "no" / "such" / f"x.{kind}")


def test_a_device_as_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not a regular file"):
        write_output("/dev/full", b"x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="not a regular file"):
        _write_wav(fifo)
    assert fifo.exists() and not fifo.is_file()


@contextlib.contextmanager
def _tmpfs(where: Path, options: bytes, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs mounted through libc (root only); skips the test where it cannot be."""
    libc = ctypes.CDLL(None, use_errno=True)
    where.mkdir()
    flags = 1 if read_only else 0  # MS_RDONLY
    if libc.mount(b"tmpfs", bytes(where), b"tmpfs", flags, options) != 0:
        pytest.skip(f"cannot mount a tmpfs here: {os.strerror(ctypes.get_errno())}")
    try:
        yield where
    finally:
        libc.umount2(bytes(where), 2)  # MNT_DETACH


@pytest.mark.parametrize("kind", WRITERS)
def test_a_read_only_file_system_is_an_output_error(tmp_path: Path, kind: str) -> None:
    with _tmpfs(tmp_path / "ro", b"size=64k", read_only=True) as folder:
        with pytest.raises(OutputError, match="Read-only file system"):
            WRITERS[kind](folder / f"x.{kind}")
        assert list(folder.iterdir()) == []


def test_a_full_file_system_leaves_no_partial_file(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "full", b"size=16k") as folder:
        with (
            pytest.raises(OutputError, match="No space left on device"),
            WavWriter(folder / "big.wav", 8000, 1) as wav,
        ):
            for _ in range(20):
                wav.write(np.zeros((8000, 1), dtype=np.int16))  # 16 KB a second
        assert list(folder.iterdir()) == []
        with pytest.raises(OutputError, match="No space left on device"):
            write_output(folder / "blob", b"\0" * 100_000)
        assert list(folder.iterdir()) == []


def test_a_wav_never_passes_4_gib(tmp_path: Path) -> None:
    target = tmp_path / "huge.wav"
    with pytest.raises(OutputError, match="at most 4 GiB"), WavWriter(target, 48000, 2) as wav:
        wav.write(SILENCE.repeat(2, axis=1))
        wav.frames = MAX_WAV_DATA_BYTES // 4 - 100  # as if 6.2 hours were written
        wav.write(np.zeros((1000, 2), dtype=np.int16))
    assert list(tmp_path.iterdir()) == []


def test_output_file_discards_on_error_and_commits_on_success(tmp_path: Path) -> None:
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), create_output(target) as out:
        out.write(b"new, half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"  # untouched
    with create_output(target) as out:
        out.write(b"new")
        out.suspend()
        out.write(b" and more")  # reopened for appending
    assert target.read_bytes() == b"new and more"
    assert _leftovers(tmp_path) == []


# --- what the capture can justify -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("PCMU/8000", True),
        ("PCMU/1", False),
        ("PCMA/96000", False),
        ("opus/48000/2", True),
        ("opus/1000", False),
        ("L16/44100", True),
        ("L16/7", False),
        ("G722/8000", True),
        ("speex/16000", True),
        ("speex/11025", False),
    ],
)
def test_clock_rate_plausibility(text: str, ok: bool) -> None:
    spec: CodecSpec = parse_codec(text)
    if ok:
        check_clock_rate(spec)
    else:
        with pytest.raises(MediaError, match="rtpmap is wrong"):
            check_clock_rate(spec)


def _sip_rtp_capture(
    path: Path,
    rtpmap: str,
    streams: int = 1,
    packets: int = 50,
    profile: str = "RTP/AVP",
    extra: str = "",
    first_port: int = 20000,
) -> None:
    """An INVITE/200 with SDP (``a=rtpmap:96 <rtpmap>``, then ``extra`` lines) and
    ``streams`` RTP streams of PT 96 towards the offer's port, each from its own port and
    SSRC."""
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        f"m=audio 40000 {profile} 96\r\na=rtpmap:96 {rtpmap}\r\n{extra}"
    )
    answer = sdp.replace("10.0.0.1", "10.0.0.2").replace("40000", "40002")

    def message(start: str, body: str) -> bytes:
        return (
            f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
            "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: clock@x\r\nCSeq: 1 INVITE\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    base = 1_700_000_000 * 10**9
    with PcapWriter(path) as writer:
        writer.write(
            sip_frame("10.0.0.1", "10.0.0.2", 5060, 5060, message("INVITE sip:b@x SIP/2.0", sdp)),
            base,
        )
        writer.write(
            sip_frame("10.0.0.2", "10.0.0.1", 5060, 5060, message("SIP/2.0 200 OK", answer)),
            base + 10**6,
        )
        for i in range(packets):
            for s in range(streams):
                rtp = struct.pack("!BBHII", 0x80, 96, i, i * 160, 0x1000 + s) + b"\xff" * 160
                frame = sip_frame("10.0.0.2", "10.0.0.1", first_port + 2 * s, 40000, rtp)
                writer.write(frame, base + 10**7 + i * 20 * 10**6 + s * 1000)


def test_extract_refuses_a_clock_rate_the_codec_cannot_have(tmp_path: Path) -> None:
    capture = tmp_path / "pcmu1.pcap"
    _sip_rtp_capture(capture, "PCMU/1")
    out = tmp_path / "out"
    out.mkdir()
    result = rtcscope_cli(["extract", capture, "-o", out / "a.wav"])
    assert result.returncode == 3, result.stderr
    assert "rtpmap is wrong" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(out.iterdir()) == []
    # the same capture with a real clock rate extracts: 50 packets of 20 ms
    _sip_rtp_capture(capture, "PCMU/8000")
    rtcscope_cli(["extract", capture, "-o", out / "a.wav"], check=True)
    assert (out / "a.wav").stat().st_size == 44 + 50 * 160 * 2


def test_extract_wav_over_a_planted_symlink_leaves_the_target_alone(tmp_path: Path) -> None:
    capture = tmp_path / "c.pcap"
    _sip_rtp_capture(capture, "PCMU/8000")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "a.wav").symlink_to(victim)
    rtcscope_cli(["extract", capture, "-o", tmp_path / "a.wav"], check=True)
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "a.wav").is_symlink()


@pytest.mark.slow
def test_split_with_more_streams_than_descriptors(tmp_path: Path) -> None:
    capture = tmp_path / "many.pcap"
    _sip_rtp_capture(capture, "PCMU/8000", streams=1100, packets=3)
    out = tmp_path / "split"
    log = tmp_path / "split.log"
    with rtcscope_background(
        ["split", capture, "-o", out, "--format", "json"], log, max_open_files=256
    ) as proc:
        assert proc.wait(300) == 0, log.read_text()[-2000:]
    files = sorted(out.glob("*.pcap"))
    assert len(files) == 1100
    assert _leftovers(out) == []
    # tshark reads each file back with the stream's three packets (a sample of them)
    for path in files[::157]:
        rows = tshark_fields(path, ["rtp.ssrc"], "rtp", extra=["-d", "udp.port==40000,rtp"])
        assert len(rows) == 3 and len({r[0] for r in rows}) == 1


def test_an_mki_key_leaves_its_stream_unverified_not_the_command(tmp_path: Path) -> None:
    capture = tmp_path / "mki.pcap"
    key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e"  # bytes 1..30: key and salt
    _sip_rtp_capture(
        capture,
        "PCMU/8000",
        streams=2,  # the first from the answer's port 40002: the answer's key is its key
        packets=10,
        first_port=40002,
        profile="RTP/SAVP",
        extra=f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4\r\n",
    )
    result = rtcscope_cli(["streams", capture, "--format", "json"])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    listed = json.loads(result.stdout)
    assert len(listed) == 2
    assert "carry an MKI" in listed[0]["srtp"]["reason"]
    assert listed[0]["packets"] == listed[1]["packets"] == 10
