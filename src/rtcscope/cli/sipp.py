"""``rtcscope sipp uas|uac|audio``: re-play a captured stream in a sipp test bed."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import CallOpt, stream_call_id
from rtcscope.cli.output import print_text
from rtcscope.errors import PeerError, UsageError
from rtcscope.sipp.runner import Bed, Endpoint, Role, check_sipp, prepare, run_sipp, sipp_command
from rtcscope.sipp.scenario import HANGUP_MARGIN_MS, Credentials
from rtcscope.sipp.source import StreamChoice, choice_from_options

sipp_app = typer.Typer(
    help="sipp test beds: re-play a captured stream (play_pcap_audio), audio for rtp_stream.",
    no_args_is_help=True,
)
app.add_typer(sipp_app, name="sipp")

CaptureArg = Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")]
OutOption = Annotated[Path, typer.Option("-o", "--out", help="directory for the bed's files")]
SsrcOption = Annotated[
    str | None, typer.Option("--ssrc", help="the stream's SSRC (0x.. or decimal)")
]
StreamOption = Annotated[
    int | None, typer.Option("--stream", help="the stream's number in `rtcscope streams`")
]
CallOption = CallOpt  # index, Call-ID or prefix, as in every command
StartOption = Annotated[
    float, typer.Option("--start", help="skip the stream's first S seconds", min=0.0)
]
SecondsOption = Annotated[
    float | None, typer.Option("--seconds", help="keep only S seconds of the stream", min=0.001)
]
IpOption = Annotated[str, typer.Option("--ip", help="this sipp's SIP and media address")]
RunOption = Annotated[bool, typer.Option("--run", help="run sipp now (bounded, stopped by PID)")]


def _credentials(text: str | None, param: str) -> Credentials | None:
    return None if text is None else Credentials.parse(text, param)


def _report(bed: Bed, command: list[str]) -> None:
    media = bed.media
    print_text(
        f"stream {bed.stream_index}: SSRC 0x{media.ssrc:08X}, {bed.packets} packets, "
        f"{media.duration_ms / 1000:.3f} s, payload types "
        + ", ".join(f.rtpmap for f in media.formats)
    )
    if bed.encrypted:
        keyed = "its sender's a=crypto key" if media.crypto else "no key (none in the capture)"
        print_text(
            f"note: the stream is SRTP, replayed as captured (encrypted); the SDP offers {keyed}"
        )
    pcap = bed.directory / bed.pcap.name  # as the user named the directory
    print_text(f"wrote {pcap} and {bed.scenario}")
    print_text(shlex.join(command))


def _bed(
    role: Role,
    capture: Path,
    out: Path,
    choice: StreamChoice,
    start: float,
    seconds: float | None,
    auth: Credentials | None,
    local: Endpoint,
    remote: str | None,
    wait_s: float,
    run: bool,
) -> None:
    bed = prepare(capture, choice, out, role, start_s=start, seconds=seconds, auth=auth)
    bound_s = wait_s + (bed.media.duration_ms + 2 * HANGUP_MARGIN_MS) / 1000 + 10
    command = sipp_command(
        bed,
        local,
        remote=remote,
        auth=auth if role == "uac" else None,
        timeout_s=int(bound_s),
    )
    _report(bed, command)
    if not run:
        return
    command[0] = check_sipp()
    log = out / f"{role}-sipp.log"
    code = run_sipp(command, log, bound_s + 5)
    if code != 0:
        tail = log.read_text("utf-8", "replace")[-1200:]
        raise PeerError(f"sipp {role} exited {code} (log {log}):\n{tail}")
    print_text(f"sipp {role} finished: exit 0 (log {log})")


@sipp_app.command("uas")
def uas(
    capture: CaptureArg,
    out: OutOption,
    ssrc: SsrcOption = None,
    stream: StreamOption = None,
    call: CallOption = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="with --call: callee (default) or caller")
    ] = None,
    start: StartOption = 0.0,
    seconds: SecondsOption = None,
    require_auth: Annotated[
        str | None, typer.Option("--require-auth", help="USER:PASS: challenge with a 401")
    ] = None,
    ip: IpOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="SIP port")] = 5060,
    media_port: Annotated[int, typer.Option("--media-port", help="RTP port")] = 6000,
    wait: Annotated[
        float, typer.Option("--wait", help="with --run: seconds to wait for the call")
    ] = 60.0,
    run: RunOption = False,
) -> None:
    """Answer a call and play the chosen stream with play_pcap_audio after the ACK.

    Writes DIR/stream.pcap (the stream alone, every RTP field and gap as captured) and
    DIR/uas.xml, and prints the sipp command line; --run runs it (needs root or CAP_NET_RAW).
    """
    _bed(
        "uas",
        capture,
        out,
        choice_from_options(ssrc, stream, stream_call_id(capture, call), direction, "callee"),
        start,
        seconds,
        _credentials(require_auth, "require_auth"),
        Endpoint(ip, port, media_port),
        None,
        wait,
        run,
    )


@sipp_app.command("uac")
def uac(
    capture: CaptureArg,
    out: OutOption,
    to: Annotated[str, typer.Option("--to", help="HOST:PORT of the UAS to call")],
    ssrc: SsrcOption = None,
    stream: StreamOption = None,
    call: CallOption = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="with --call: caller (default) or callee")
    ] = None,
    start: StartOption = 0.0,
    seconds: SecondsOption = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="USER:PASS: answer 401/407 challenges")
    ] = None,
    ip: IpOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="SIP port")] = 5061,
    media_port: Annotated[int, typer.Option("--media-port", help="RTP port")] = 6002,
    run: RunOption = False,
) -> None:
    """Call --to and play the chosen stream with play_pcap_audio after the 200/ACK.

    With --auth the scenario answers a 401/407 with a digest; a 403 to that answer is ACKed
    and the call fails (sipp exits 1; with --run, rtcscope exits 4).
    """
    _bed(
        "uac",
        capture,
        out,
        choice_from_options(ssrc, stream, stream_call_id(capture, call), direction, "caller"),
        start,
        seconds,
        _credentials(auth, "auth"),
        Endpoint(ip, port, media_port),
        to,
        0.0,
        run,
    )


@sipp_app.command("audio")
def audio(
    source: Annotated[Path, typer.Argument(help="any audio file PyAV reads (WAV, MP3, Ogg...)")],
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="raw OUT.al (A-law) or OUT.ul (u-law)")
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="pad to whole 20 ms packets, for endless rtp_stream")
    ] = False,
    to_pcap: Annotated[
        Path | None, typer.Option("--to-pcap", help="encode into an RTP pcap instead")
    ] = None,
    codec: Annotated[str, typer.Option("--codec", help="pcma, pcmu, g722 or opus")] = "pcma",
    ssrc: Annotated[str, typer.Option("--ssrc", help="the RTP SSRC")] = "0x52544353",
    pt: Annotated[int | None, typer.Option("--pt", help="payload type", min=0, max=127)] = None,
    seq: Annotated[int, typer.Option("--seq", help="first sequence number", min=0, max=65535)] = 0,
    timestamp: Annotated[
        int, typer.Option("--timestamp", help="first RTP timestamp", min=0, max=0xFFFFFFFF)
    ] = 0,
    dtmf: Annotated[
        str | None, typer.Option("--dtmf", help="RFC 4733 digits: DIGITS@SECONDS, e.g. 123#@2.0s")
    ] = None,
    dtmf_pt: Annotated[int, typer.Option("--dtmf-pt", min=96, max=127)] = 101,
) -> None:
    """Audio for sipp: raw 8 kHz mono A-law/u-law (rtp_stream) or an RTP pcap (play_pcap_audio).

    --to-pcap encodes 20 ms packets (pcma, pcmu, g722, opus) with RFC 4733 digits (--dtmf).
    """
    from rtcscope.sipp.audio import (
        DigitRun,
        RtpStreamPlan,
        convert_to_g711,
        encode_rtp_pcap,
        misnamed_wav_note,
    )
    from rtcscope.sipp.source import parse_ssrc

    if (out is None) == (to_pcap is None):
        raise UsageError("give -o OUT.al|OUT.ul or --to-pcap OUT.pcap")
    note = misnamed_wav_note(source) if source.exists() else None
    if note:
        print_text(f"note: {note}")
    if out is not None:
        encoding, size = convert_to_g711(source, out, loop=loop)
        pt_number = 8 if encoding == "alaw" else 0
        print_text(
            f"wrote {out}: {size} bytes, {size / 8000:.3f} s of 8 kHz mono {encoding}; "
            f'in a scenario: <exec rtp_stream="{out},{-1 if loop else 1},{pt_number}"/>'
        )
        return
    assert to_pcap is not None
    plan = RtpStreamPlan(parse_ssrc(ssrc), pt, seq, timestamp, dtmf_pt)
    digits = None if dtmf is None else DigitRun.parse(dtmf)
    written = encode_rtp_pcap(source, to_pcap, codec, plan, digits)
    print_text(f"wrote {to_pcap}: {written} RTP packets ({codec}, SSRC 0x{plan.ssrc:08X})")
