"""``rtcscope extract FILE [--stream N | --ssrc 0x... | --call CALL-ID] -o OUT``: audio,
payloads or packets of RTP streams, true to the call's timeline."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    CallOpt,
    DedupOpt,
    FileArg,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    RtpPortOpt,
    call_id_with_streams,
    capture_args,
    conclude,
    find_call,
    read_model,
)
from rtcscope.cli.output import ReportFormat, format_json, print_text
from rtcscope.errors import UsageError
from rtcscope.media.codecs import parse_codec
from rtcscope.media.extract import (
    ExtractOptions,
    ExtractResult,
    MediaStream,
    Progress,
    collect_packets,
    extract_mix,
    extract_stream,
    format_srtp,
    media_streams,
    output_kind,
    per_stream_path,
    select_streams,
)
from rtcscope.media.timeline import TimelinePacket, TimelineReport
from rtcscope.rtp.srtp import SrtpKey, UserKey
from rtcscope.rtp.streams import StreamKey
from rtcscope.scan import Tap


class Mix(StrEnum):
    stereo = "stereo"


def _parse_ssrc(text: str) -> int:
    """``0xDEADBEEF``, ``DEADBEEF`` (as tshark prints it without 0x) or a decimal number."""
    for base in (0, 16):
        try:
            value = int(text, base)
        except ValueError:
            continue
        if 0 <= value <= 0xFFFFFFFF:
            return value
    raise UsageError(f"--ssrc {text}: expected a 32-bit SSRC, e.g. 0xDEADBEEF")


@app.command()
def extract(
    file: FileArg,
    out: Annotated[
        Path,
        typer.Option(
            "-o",
            "--out",
            help="output file (.wav .opus .bit/.silk .raw .pcap); a directory for several",
        ),
    ],
    stream: Annotated[
        int | None, typer.Option("--stream", help="the Nth stream as `rtcscope streams` lists")
    ] = None,
    ssrc: Annotated[str | None, typer.Option("--ssrc", help="the stream's SSRC (0x...)")] = None,
    call: CallOpt = None,  # every stream of that call, one file each
    mix: Annotated[
        Mix | None, typer.Option("--mix", help="stereo: both directions in one WAV")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="wav, opus, silk, raw or pcap (else the extension)")
    ] = None,
    pt: Annotated[
        int | None, typer.Option("--pt", help="the audio payload type (picks one of a mix)")
    ] = None,
    codec: Annotated[
        str | None,
        typer.Option(
            "--codec",
            help="the audio payload type's codec (--pt's, else the stream's main one), as "
            "NAME/RATE or NAME/RATE/CHANNELS: opus/48000/2",
        ),
    ] = None,
    rate: Annotated[int | None, typer.Option("--rate", help="resample WAV to 8000..48000")] = None,
    channels: Annotated[int | None, typer.Option("--channels", help="WAV channels (1 or 2)")] = (
        None
    ),
    tencent: Annotated[
        bool, typer.Option("--tencent", help="SILK bitstream with Tencent's 0x02 prefix")
    ] = False,
    report: Annotated[
        bool, typer.Option("--report", help="print gaps, reorders, duplicates, DTX")
    ] = False,
    srtp_key: Annotated[
        list[str] | None,
        typer.Option(
            "--srtp-key",
            help="SRTP master key||salt in base64 (SDES inline form); repeat to try several",
        ),
    ] = None,
    srtp_suite: Annotated[
        str, typer.Option("--srtp-suite", help="crypto-suite of --srtp-key")
    ] = "AES_CM_128_HMAC_SHA1_80",
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="decode payloads that look encrypted (SRTP without a key) anyway"
        ),
    ] = False,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table or json")] = (
        ReportFormat.table
    ),
    rtp_port: RtpPortOpt = None,
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Audio from RTP: WAV for any supported codec, Ogg Opus and SILK bitstreams without
    re-encoding, raw payloads, or the stream's packets; gaps kept at their true length."""
    options = ExtractOptions(
        kind=output_kind(out, to),
        payload_type=pt,
        codec=parse_codec(codec) if codec else None,
        rate=rate,
        channels=channels,
        tencent=tencent,
        force=force,
    )
    wanted_ssrc = _parse_ssrc(ssrc) if ssrc is not None else None
    user_keys = [
        UserKey(SrtpKey.from_base64(text, srtp_suite), wanted_ssrc) for text in srtp_key or ()
    ]
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    taps = {Tap.RTP} if call is None else {Tap.RTP, Tap.SIP}  # --call: the calls too
    model = read_model(file, args, frozenset(taps), spool=True)
    try:
        assert model.rtp is not None
        streams = media_streams(model.rtp, srtp_keys=user_keys)
        call_id = None
        if call is not None:
            found = find_call(model, call, file)
            call_id = call_id_with_streams(found, call, [s.call_id for s in streams])
        chosen = select_streams(streams, index=stream, ssrc=wanted_ssrc, call_id=call_id)
        source = model.payload_source
        if source is None:
            raise UsageError(f"{file}: the packets cannot be read again")
        collected = collect_packets(source, chosen, dedup=dedup)
        results: list[ExtractResult] = []
        with _progress_bar() as progress:
            options.progress = progress
            _run(source, out, chosen, collected, options, mix, call, results)
    finally:
        model.close()
    _print(results, fmt, report)
    conclude(model, keep_going)


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A rich progress bar on stderr while audio is written, only when stderr is a terminal
    (DESIGN rule 9)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("decoding", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _run(
    file: str | os.PathLike[str],
    out: Path,
    chosen: list[MediaStream],
    collected: dict[StreamKey, list[TimelinePacket]],
    options: ExtractOptions,
    mix: Mix | None,
    call: str | None,
    results: list[ExtractResult],
) -> None:
    if mix is Mix.stereo:
        results.append(extract_mix(file, chosen, out, options, collected))
    elif len(chosen) == 1 and not (out.is_dir() or (call is not None and not out.suffix)):
        results.append(extract_stream(file, chosen[0], out, options, collected[chosen[0].key]))
    else:
        assert options.kind is not None
        for item in chosen:
            target = per_stream_path(out, item, options.kind)
            results.append(extract_stream(file, item, target, options, collected[item.key]))


def _print(results: list[ExtractResult], fmt: ReportFormat, report: bool) -> None:
    if fmt is ReportFormat.json:
        sys.stdout.write(format_json([r.as_dict() for r in results]) + "\n")
        return
    for result in results:
        names = ", ".join(f"0x{s.key.ssrc:08X}" for s in result.streams)
        audio = ""
        if result.sample_rate:
            audio = f", {result.sample_rate} Hz, {result.channels} channel(s)"
        codec = f" {result.codec}" if result.codec else ""
        print_text(
            f"wrote {result.path} ({result.kind.value}{codec}{audio}, "
            f"{result.duration_s:.3f} s) from stream {names}"
        )
        if report:
            for item in result.streams:
                if item.srtp is not None:
                    print_text("  " + format_srtp(item.srtp))
            for stream_report in result.reports:
                print_text(format_report(stream_report))


def format_report(report: TimelineReport) -> str:
    """The ``--report`` text: counts, then one line per gap."""
    lines = [
        f"  packets {report.packets}, audio {report.audio_packets}, lost {report.lost}, "
        f"duplicates {report.duplicates}, reordered {report.reordered}, "
        f"too late {report.too_late}, recovered from RED {report.recovered_from_red}",
        f"  sequence wraps {report.seq_wraps}, timestamp wraps {report.timestamp_wraps}, "
        f"timestamp jumps {report.timestamp_jumps}, "
        f"comfort noise {report.comfort_noise_packets}, telephone-events "
        f"{report.event_packets}, other payload types {report.other_packets}, "
        f"duration {report.duration_s:.3f} s",
    ]
    for gap in report.gaps:
        start = gap.position / report.clock_rate
        length = gap.length / report.clock_rate
        lost = f", {gap.lost_packets} packets lost" if gap.lost_packets else ""
        lines.append(f"  gap at {start:9.3f} s for {length * 1000:8.1f} ms: {gap.kind.value}{lost}")
    return "\n".join(lines)
