"""Ogg Opus files (RFC 7845) from Opus RTP payloads, without re-encoding.

Written by hand rather than through PyAV's Ogg muxer because the muxer takes the pre-skip from
the encoder it opens (312 samples for libopus, checked with ``opusinfo``) instead of from the
OpusHead given to it, which would cut the start of the call; here every field is ours:

- OpusHead (RFC 7845 5.1): channel count from the TOC stereo bit (the SDP always says 2,
  RFC 7587 7); pre-skip 3840 (80 ms, what 5.1 recommends for a stream that starts mid-way),
  covered by leading TOC-only packets: a receiver of the RTP stream played every decoded
  sample, so no call audio is dropped and the file lasts exactly as long as the stream
  (``opusinfo`` warns on a pre-skip under 120);
- OpusTags (5.2) on its own page, audio starting on a fresh page (3);
- granule positions (4) counting every packet's samples, including TOC-only packets that
  stand for lost or DTX time (RFC 6716 3.2.1: a zero-length frame is concealed by the
  decoder), so a gap neither shifts the timeline nor makes ``opusinfo`` warn;
- the last page flagged end-of-stream (4.5), its granule trimmed to the exact end.

The page and CRC code is pure; :class:`OggOpusWriter` is the thin file edge.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from rtcscope.errors import MediaError
from rtcscope.media.codecs import opus_packet_samples, opus_silence_packets
from rtcscope.outfile import Committed, create_output

VENDOR = "rtcscope"
# RFC 7845 4: a page holds at most 255 lacing values; pages of about a second keep the
# seeking granularity of opusenc's output.
PAGE_SAMPLES = 48000
MAX_SEGMENTS = 255
PRE_SKIP = 3840

_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def ogg_crc(data: bytes) -> int:
    """The Ogg page CRC (RFC 3533 6): CRC-32, polynomial 0x04C11DB7, MSB first, initial value
    0, no final XOR. zlib's CRC-32 is the bit-reflected form of the same polynomial, so it is
    computed on bit-reversed bytes and the result reversed back."""
    reflected = zlib.crc32(data.translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def ogg_page(
    packets: list[bytes],
    *,
    serial: int,
    sequence: int,
    granule: int,
    bos: bool = False,
    eos: bool = False,
) -> bytes:
    """One Ogg page (RFC 3533 6) holding whole packets."""
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    if len(lacing) > MAX_SEGMENTS:
        raise MediaError(f"Ogg page of {len(lacing)} segments: at most 255")
    flags = (0x02 if bos else 0) | (0x04 if eos else 0)
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + lacing + b"".join(packets))
    struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
    return bytes(page)


def opus_head(channels: int, pre_skip: int = 0, input_rate: int = 48000) -> bytes:
    """RFC 7845 5.1: version 1, channel mapping family 0 (mono or stereo)."""
    if channels not in (1, 2):
        raise MediaError(f"Ogg Opus mapping family 0 holds 1 or 2 channels, not {channels}")
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, input_rate, 0, 0)


def opus_tags(vendor: str = VENDOR, comments: list[str] | None = None) -> bytes:
    """RFC 7845 5.2: vendor string and user comments, lengths little-endian."""
    out = bytearray(b"OpusTags")
    raw_vendor = vendor.encode()
    out += struct.pack("<I", len(raw_vendor)) + raw_vendor
    items = [c.encode() for c in comments or []]
    out += struct.pack("<I", len(items))
    for item in items:
        out += struct.pack("<I", len(item)) + item
    return bytes(out)


class OggOpusPager:
    """Collects Opus packets into Ogg pages; ``pages()`` hands back finished page bytes.
    Pure: the caller writes the bytes."""

    def __init__(
        self,
        channels: int,
        serial: int = 0x52544353,  # "RTCS"
        comments: list[str] | None = None,
        pre_skip: int = PRE_SKIP,
    ) -> None:
        self.channels = channels
        self.serial = serial
        self.pre_skip = pre_skip
        self.sequence = 0
        self.granule = 0  # samples so far, pre-skip filler included (RFC 7845 4)
        self._pending: list[bytes] = []
        self._pending_segments = 0
        self._pending_samples = 0
        self._ready: list[bytes] = [
            self._page([opus_head(channels, pre_skip)], 0, bos=True),
            self._page([opus_tags(comments=comments)], 0),
        ]
        self.packets = 0
        self.filler_packets = 0

    def _page(
        self, packets: list[bytes], granule: int, bos: bool = False, eos: bool = False
    ) -> bytes:
        page = ogg_page(
            packets, serial=self.serial, sequence=self.sequence, granule=granule, bos=bos, eos=eos
        )
        self.sequence += 1
        return page

    def add(self, packet: bytes, samples: int | None = None) -> None:
        """One Opus packet; its duration comes from its TOC unless given (48 kHz samples)."""
        if samples is None:
            samples = opus_packet_samples(packet)
            if samples is None:
                raise MediaError(f"Opus packet of {len(packet)} bytes has no valid TOC")
        if self.packets == 0 and self.pre_skip:
            self._add_filler(self.pre_skip, packet)
        self._append(packet, samples)

    def _append(self, packet: bytes, samples: int) -> None:
        segments = len(packet) // 255 + 1
        if self._pending and (
            self._pending_segments + segments > MAX_SEGMENTS
            or self._pending_samples + samples > PAGE_SAMPLES
        ):
            self._flush(eos=False)
        self._pending.append(packet)
        self._pending_segments += segments
        self._pending_samples += samples
        self.granule += samples
        self.packets += 1

    def add_gap(self, samples: int, like: bytes | None) -> int:
        """Fill ``samples`` (48 kHz) of lost or silent time with TOC-only packets shaped like
        ``like``; returns the samples covered (the 2.5 ms grid rounds the rest down)."""
        if self.packets == 0 and self.pre_skip:
            self._add_filler(self.pre_skip, like)
        return self._add_filler(samples, like)

    def _add_filler(self, samples: int, like: bytes | None) -> int:
        covered = 0
        for packet in opus_silence_packets(samples, like):
            duration = opus_packet_samples(packet) or 0
            self._append(packet, duration)
            self.filler_packets += 1
            covered += duration
        return covered

    def _flush(self, eos: bool, granule: int | None = None) -> None:
        page_granule = self.granule if granule is None else granule
        self._ready.append(self._page(self._pending, page_granule, eos=eos))
        self._pending, self._pending_segments, self._pending_samples = [], 0, 0

    def finish(self, total_samples: int | None = None) -> None:
        """Flush the last page with the end-of-stream flag; ``total_samples`` (playback
        samples, at most those written) trims the end to the exact duration (RFC 7845 4.5)."""
        if self.packets == 0 and self.pre_skip:
            self._add_filler(self.pre_skip, None)
        end = self.granule
        if total_samples is not None:
            end = min(self.pre_skip + total_samples, self.granule)
        self._flush(eos=True, granule=end)

    def pages(self) -> list[bytes]:
        ready, self._ready = self._ready, []
        return ready


class OggOpusWriter(Committed):
    """An Ogg Opus file: ``add(packet)``, ``add_gap(samples, like)``, ``close(total)``."""

    def __init__(self, path: Path, channels: int, comments: list[str] | None = None) -> None:
        self.path = path
        self.pager = OggOpusPager(channels, comments=comments)
        # a temporary name (O_EXCL/O_NOFOLLOW) renamed on close: see rtcscope.outfile
        self._file = create_output(path)
        self._closed = False

    def _drain(self) -> None:
        for page in self.pager.pages():
            self._file.write(page)  # an OS error: OutputError, the file removed

    def add(self, packet: bytes, samples: int | None = None) -> None:
        self.pager.add(packet, samples)
        self._drain()

    def add_gap(self, samples: int, like: bytes | None) -> int:
        covered = self.pager.add_gap(samples, like)
        self._drain()
        return covered

    def close(self, total_samples: int | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.pager.finish(total_samples)
            self._drain()
        except BaseException:
            self._file.discard()
            raise
        self._file.commit()

    def discard(self) -> None:
        """Give the file up: nothing is left at ``path``."""
        self._closed = True
        self._file.discard()
