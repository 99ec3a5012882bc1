"""Write a re-play bed (stream.pcap + scenario) and run sipp on it, bounded, stopped by PID.

:func:`prepare` reads the capture through :func:`rtcscope.sipp.source.load_stream`, cuts the
stream when asked, writes ``DIR/stream.pcap`` and ``DIR/uas.xml`` or ``DIR/uac.xml``;
:func:`sipp_command` gives the command line to print; :func:`run_sipp` runs it after checking
what would make sipp fail late: the program missing, no PCAP play support in ``sipp -v``, or
no raw socket (play_pcap_audio needs root or CAP_NET_RAW, and without it sipp fails only
after answering: "Can't create raw IPv4 socket").
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rtcscope.errors import InvalidArgument, PeerError
from rtcscope.outfile import make_output_dir
from rtcscope.sipp.media import MediaDescription, cut_window, describe_media, packet_head
from rtcscope.sipp.pcapfile import write_frames
from rtcscope.sipp.scenario import Credentials, uac_scenario, uas_scenario
from rtcscope.sipp.source import StreamChoice, load_stream
from rtcscope.testbed.runner import stop_process

Role = Literal["uas", "uac"]
RAW_SOCKET_FAILURE = "Can't create raw IPv4 socket"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where this sipp listens for SIP and sends media from."""

    ip: str
    port: int
    media_port: int


@dataclass(frozen=True, slots=True)
class Bed:
    """What :func:`prepare` wrote."""

    role: Role
    directory: Path
    scenario: Path
    pcap: Path
    media: MediaDescription
    stream_index: int
    first_frame: int
    packets: int
    encrypted: bool = False  # SRTP: replayed as captured, still encrypted


def prepare(
    capture: Path,
    choice: StreamChoice,
    out_dir: Path,
    role: Role,
    *,
    start_s: float = 0.0,
    seconds: float | None = None,
    auth: Credentials | None = None,
) -> Bed:
    """Write ``stream.pcap`` and the role's scenario into ``out_dir``.

    For the UAS ``auth`` is what it requires (401 + verifyauth); for the UAC, whether it
    answers challenges (the credentials go on sipp's command line, ``-au``/``-ap``).
    """
    loaded = load_stream(capture, choice)
    window = cut_window([d.ts_ns for d in loaded.packets], start_s, seconds)
    kept = [loaded.packets[i] for i in window]
    if not kept:
        raise InvalidArgument(
            "start_s", f"no packet of stream {loaded.stream.index} is in the window asked for"
        )
    heads = [packet_head(d.payload) for d in kept]
    media = describe_media(loaded.stream, loaded.announcements, heads, [d.ts_ns for d in kept])
    make_output_dir(out_dir)
    pcap = (out_dir / "stream.pcap").resolve()
    write_frames(pcap, ((d.ethernet, d.ts_ns) for d in kept))
    scenario = out_dir / f"{role}.xml"
    if role == "uas":
        text = uas_scenario(media, str(pcap), require_auth=auth)
    else:
        text = uac_scenario(media, str(pcap), auth=auth is not None)
    # The scenario declares ISO-8859-1; a path outside it goes in as a character reference.
    scenario.write_bytes(text.encode("iso-8859-1", "xmlcharrefreplace"))
    return Bed(
        role,
        out_dir,
        scenario,
        pcap,
        media,
        loaded.stream.index,
        kept[0].frame,
        len(kept),
        loaded.stream.encrypted,
    )


def sipp_command(
    bed: Bed,
    local: Endpoint,
    *,
    remote: str | None = None,
    auth: Credentials | None = None,
    service: str = "replay",
    timeout_s: int = 60,
    program: str = "sipp",
) -> list[str]:
    """sipp's command line for the bed; ``remote`` (HOST:PORT) is where a UAC calls."""
    command = [
        program,
        "-sf",
        str(bed.scenario),
        "-i",
        local.ip,
        "-p",
        str(local.port),
        "-mi",
        local.ip,
        "-mp",
        str(local.media_port),
        "-m",
        "1",
        "-t",
        "u1",
        "-nostdin",
        "-nd",  # no default behaviours: the scenario handles every message itself
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
    ]
    if bed.role == "uac":
        command += ["-s", service]
        if auth is not None:
            command += ["-au", auth.user, "-ap", auth.password]
        if remote is None:
            raise ValueError("a UAC needs the address it calls")
        command.append(remote)
    return command


def check_sipp(program: str = "sipp") -> str:
    """The sipp to run; :class:`PeerError` when it is missing, lacks PCAP play, or this
    process cannot open the raw socket play_pcap_audio needs."""
    path = shutil.which(program)
    if path is None:
        raise PeerError(f"{program} is not installed (Debian: apt-get install sip-tester)")
    try:
        version = subprocess.run(
            [path, "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"{path} -v did not answer: {exc}") from exc
    banner = next((line.strip() for line in version.splitlines() if "SIPp" in line), "")
    if "PCAP" not in banner:
        raise PeerError(
            f"{path} has no PCAP play support ({banner or 'no version banner'}): "
            "play_pcap_audio needs a sipp built with pcap (SIPp v3.6.1-SCTP-PCAP-RTPSTREAM)"
        )
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP).close()
    except PermissionError as exc:
        raise PeerError(
            "this process cannot open a raw socket: play_pcap_audio needs root or CAP_NET_RAW "
            f'(sipp would answer the call, then fail with "{RAW_SOCKET_FAILURE}")'
        ) from exc
    return path


def run_sipp(command: list[str], log: Path, max_seconds: float) -> int:
    """Run sipp with its output in ``log``; stopped by PID (TERM, then KILL) at the bound.

    Returns sipp's exit code; :class:`PeerError` when it could not open its raw socket or
    had to be stopped.
    """
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            code: int | None = proc.wait(timeout=max_seconds)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            stop_process(proc)
    text = log.read_text("utf-8", "replace")
    if RAW_SOCKET_FAILURE in text:
        raise PeerError(f"sipp: {RAW_SOCKET_FAILURE}: play_pcap_audio needs root or CAP_NET_RAW")
    if code is None:
        raise PeerError(f"sipp did not finish within {max_seconds:g} s (stopped); see {log}")
    return code
