"""``rtcscope streams FILE`` and ``rtcscope split FILE -o DIR``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
    CaptureArgs,
    DedupOpt,
    FileArg,
    KeepGoingOpt,
    QuietOpt,
    ReassemblyOpt,
    RtpPortOpt,
    capture_args,
    conclude,
    read_model,
)
from rtcscope.cli.output import (
    OutputFormat,
    WideOpt,
    format_json,
    print_rows,
    print_text,
    write_json,
)
from rtcscope.errors import UsageError
from rtcscope.rtp.streams import (
    RtpStream,
    ScanResult,
    rtcp_record_to_dict,
    srtcp_to_dict,
    stream_dicts,
)
from rtcscope.scan import CaptureModel, Tap
from rtcscope.sip.transactions import endpoint
from rtcscope.timebase import iso_time, with_streams_iso

if TYPE_CHECKING:
    # SRTP (pylibsrtp, a C library) and the quality model are imported where a capture
    # or the options need them: most captures carry plain RTP.
    from rtcscope.quality import StreamQuality
    from rtcscope.rtp.srtp import StreamSrtpResult, UserKey

# What fits 80 columns (a problem shows as the row in red, where the terminal has colour);
# --wide shows TABLE_COLUMNS.
NARROW_COLUMNS = ["from", "to", "ssrc_hex", "payload", "lost", "max_jitter_ms"]
RTCP_NARROW_COLUMNS = [
    "ssrc_hex",
    "src",
    "sender_reports",
    "receiver_reports",
    "cumulative_lost",
    "jitter_ms",
    "round_trip_ms",
]
SRTCP_NARROW_COLUMNS = ["frame", "time_s", "ssrc", "encrypted", "index", "layout", "decrypted"]
EVENT_NARROW_COLUMNS = ["stream", "ssrc_hex", "frame", "start_s", "name", "duration_ms"]
SRTP_NARROW_COLUMNS = ["stream", "ssrc_hex", "decrypted", "authenticated", "auth_failures", "suite"]
TABLE_COLUMNS = [
    "start_s",
    "end_s",
    "from",
    "to",
    "ssrc_hex",
    "payload",
    "packets",
    "lost",
    "min_delta_ms",
    "mean_delta_ms",
    "max_delta_ms",
    "min_jitter_ms",
    "mean_jitter_ms",
    "max_jitter_ms",
    "problems",
    "found_by",
]


# The --dtmf table: the JSON's dtmf rows without the repeats (ssrc, digit: name says it).
EVENT_COLUMNS = [
    "stream",
    "ssrc_hex",
    "frame",
    "start_s",
    "name",
    "kind",
    "duration_ms",
    "packets",
    "ended",
]


def _scan(
    file: Path, args: CaptureArgs, *, spool: bool = False, offsets: bool | None = None
) -> tuple[CaptureModel, ScanResult]:
    model = read_model(file, args, frozenset({Tap.RTP}), spool=spool, offsets=offsets)
    assert model.rtp is not None
    return model, model.rtp


def _shown(row: dict[str, Any], dtmf: bool) -> dict[str, Any]:
    """The scan always follows DTMF; the output has it when asked for (the RTCP objects:
    stream_dicts makes them only when asked)."""
    if not dtmf:
        row.pop("dtmf", None)
        row.pop("digits", None)
    return row


def _qualities(
    payloads: str | os.PathLike[str], result: ScanResult, dedup: bool
) -> list[StreamQuality | None]:
    from rtcscope.report.data import stream_qualities

    found = stream_qualities(payloads, result.streams, dedup=dedup)
    return [found.get(s.key) for s in result.streams]


def _quality_columns(row: dict[str, Any]) -> dict[str, Any]:
    """Flat ``mos_<buffer>`` columns (empty when not rated) of a row with "quality"."""
    quality = row.get("quality")
    if quality is None:
        return {}
    return {f"mos_{b['buffer'].replace('-', '_')}": b["mos"] for b in quality["buffers"]}


def _print_series(
    payloads: str | os.PathLike[str],
    result: ScanResult,
    fmt: OutputFormat,
    interval: float,
    per_packets: int | None,
    dedup: bool,
) -> None:
    """``--series``: one row per stream and interval (rtcscope.rtp.series.SERIES_COLUMNS)."""
    from rtcscope.report.data import build_stream_data
    from rtcscope.rtp.series import SERIES_COLUMNS

    data = build_stream_data(
        payloads,
        result.streams,
        result.rtcp_packets,
        result.first_ns or 0,
        interval_s=interval,
        per_packets=per_packets,
        dedup=dedup,
    )
    rows = [
        {"stream": d.stream.index, "ssrc_hex": f"0x{d.stream.key.ssrc:08X}", **row.as_dict()}
        for d in data
        for row in d.series
    ]
    print_rows(rows, fmt, list(SERIES_COLUMNS), title="RTP time series")


def _event_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per timestamp reset or SSRC restart, under the table (JSON has ``events``)."""
    lines = []
    for row in rows:
        for event in row["events"]:
            if event["type"] == "timestamp-reset":
                what = (
                    f"timestamp reset at frame {event['frame']} ({event['time_s']:.3f} s): "
                    f"{event['from_timestamp']} -> {event['to_timestamp']}"
                )
            else:
                what = (
                    f"SSRC restart at frame {event['frame']} ({event['time_s']:.3f} s), "
                    f"after {event['previous_ssrc_hex']}"
                )
            lines.append(f"stream {row['index']} {row['ssrc_hex']}: {what}")
    return lines


def _problems_red(row: dict[str, Any]) -> str | None:
    return "red" if row["problems"] else None


def _table_row(row: dict[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["payload"] = ", ".join(row["payload_names"])
    shown["lost"] = f"{row['lost']} ({row['lost_percent']:.1f}%)"
    shown["problems"] = "X" if row["problems"] else ""
    shown["from"] = endpoint(row["src"], row["src_port"])
    shown["to"] = endpoint(row["dst"], row["dst_port"])
    shown["found_by"] = row["source"] + (" SRTP" if row["encrypted"] else "")
    if "quality" in row:
        # the adaptive buffer (as VoIPmonitor's headline MOS), with the model's scale
        quality = row["quality"]
        adaptive = quality["buffers"][-1]
        shown["mos"] = (
            f"{adaptive['mos']:.2f} {quality['model']}"
            if adaptive["mos"] is not None
            else "not rated"
        )
    return shown


@app.command()
def streams(
    file: FileArg,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    rtcp: Annotated[bool, typer.Option("--rtcp", help="RTCP per stream and every packet")] = False,
    dtmf: Annotated[
        bool, typer.Option("--dtmf", help="RFC 4733 digits and other events with times")
    ] = False,
    rtp_port: RtpPortOpt = None,
    no_heuristic: Annotated[
        bool, typer.Option("--no-heuristic", help="only SDP-signalled and --rtp-port streams")
    ] = False,
    no_sdp: Annotated[bool, typer.Option("--no-sdp", help="ignore SIP/SDP")] = False,
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    quiet: QuietOpt = False,
    srtp_key: Annotated[
        list[str] | None,
        typer.Option(
            "--srtp-key",
            help="SRTP master key||salt, base64 (SDES inline form), to check SRTP streams with",
        ),
    ] = None,
    srtp_suite: Annotated[
        str, typer.Option("--srtp-suite", help="crypto-suite of --srtp-key")
    ] = "AES_CM_128_HMAC_SHA1_80",
    quality: Annotated[
        bool,
        typer.Option(
            "--quality", help="E-model R and MOS-CQE per jitter buffer (key quality, column mos)"
        ),
    ] = False,
    series: Annotated[
        bool,
        typer.Option("--series", help="per-interval jitter/delta/loss/late/bitrate/RTCP rows"),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="--series interval in seconds")
    ] = 1.0,
    per_packets: Annotated[
        int | None, typer.Option("--per-packets", help="--series rows of N packets instead")
    ] = None,
    wide: WideOpt = False,
) -> None:
    """Every RTP stream with Wireshark's statistics (tshark -z rtp,streams) and ours.

    SRTP streams are decrypted with --srtp-key or the sender's a=crypto key from the capture
    to count the packets that authenticate (key "srtp" in JSON); keys that authenticate no
    packet of a stream are invalid input (exit 3).
    """
    user_keys = _user_keys(srtp_key or [], srtp_suite)
    args = capture_args(
        dedup=dedup,
        reassembly=reassembly,
        keep_going=keep_going,
        rtp_port=rtp_port,
        quiet=quiet,
        heuristic=not no_heuristic,
        use_sdp=not no_sdp,
    )
    if series and (interval <= 0 or (per_packets is not None and per_packets <= 0)):
        raise UsageError("--interval and --per-packets must be positive")
    # Packets are read again for --quality/--series (by offsets), and for SRTP checks when
    # the capture turns out to hold SRTP (rare: the file is read again then).
    model, result = _scan(file, args, spool=True, offsets=quality or series)
    if result.srtcp:  # encrypted RTCP read with the streams' keys, when there are any
        from rtcscope.rtp.srtcp import decrypt_srtcp
        from rtcscope.rtp.srtp import SrtpKeyring

        decrypt_srtcp(result, SrtpKeyring(result.announcements, user_keys))
    try:
        payloads = model.payload_source
        if series:
            if payloads is None:
                raise UsageError(f"{file}: the packets cannot be read again")
            _print_series(payloads, result, fmt, interval, per_packets, dedup)
            conclude(model, keep_going)
            return
        qualities: list[StreamQuality | None] = [None] * len(result.streams)
        if quality and payloads is not None:
            qualities = _qualities(payloads, result, dedup)
        rows = [
            _shown(row, dtmf)
            for row in with_streams_iso(
                stream_dicts(result.streams, qualities, rtcp=rtcp or quality), result.streams
            )
        ]
        srtp = _verify(model, result, user_keys)
    finally:
        model.close()
    for position, outcome in srtp.items():
        rows[position]["srtp"] = outcome.as_dict()
    first_ns = result.first_ns or 0
    if fmt is OutputFormat.json:
        data: Any = rows
        if rtcp:
            data = {
                "streams": rows,
                "rtcp": [
                    rtcp_record_to_dict(r, first_ns) | {"time_iso": iso_time(r.ts_ns)}
                    for r in result.rtcp_packets
                ],
                "srtcp": [srtcp_to_dict(d, first_ns) for d in result.srtcp],
            }
        write_json(data)  # piece by piece: format_json's text without holding all of it
        sys.stdout.write("\n")
        _fail_on_wrong_keys(srtp, result.streams)
        conclude(model, keep_going)
        return
    if fmt is OutputFormat.csv:
        flat = [
            {
                k: v
                for k, v in r.items()
                if k not in ("rtcp", "dtmf", "digits", "srtp", "quality", "events")
            }
            | _quality_columns(r)
            for r in rows
        ]
        print_rows(flat, fmt)
        _fail_on_wrong_keys(srtp, result.streams)
        conclude(model, keep_going)
        return
    columns = TABLE_COLUMNS if wide else NARROW_COLUMNS
    if quality:
        columns = [*columns, "mos"]
    print_rows(
        [_table_row(r) for r in rows],
        fmt,
        columns,
        title="RTP streams",
        row_style=_problems_red,
        wide=wide,
    )
    for line in _event_lines(rows):
        print_text(line)
    if rtcp:
        rtcp_rows = []
        for row in rows:
            view = row.get("rtcp") or {}
            rtcp_rows.append(
                {
                    "ssrc_hex": row["ssrc_hex"],
                    "src": endpoint(row["src"], row["src_port"]),
                    **{k: v for k, v in view.items() if k not in ("xr_blocks", "implausible")},
                    "xr_blocks": len(view.get("xr_blocks", [])),
                    "implausible": len(view.get("implausible", [])),
                }
            )
        print_rows(
            rtcp_rows,
            fmt,
            None if wide else RTCP_NARROW_COLUMNS,
            title="RTCP per stream",
            wide=wide,
        )
        packet_rows = []
        for record in result.rtcp_packets:
            r = rtcp_record_to_dict(record, first_ns)
            detail = {k: v for k, v in r.items() if k not in ("src", "src_port", "dst", "dst_port")}
            packet_rows.append(
                {
                    "frame": r["frame"],
                    "time_s": r["time_s"],
                    "flow": f"{endpoint(r['src'], r['src_port'])} -> "
                    f"{endpoint(r['dst'], r['dst_port'])}",
                    "type": r["type"],
                    "detail": format_json(
                        {k: v for k, v in detail.items() if k not in ("frame", "time_s", "type")}
                    ).replace("\n", " "),
                }
            )
        print_rows(packet_rows, fmt, title="RTCP packets", wide=wide)
        if result.srtcp:
            srtcp_rows = [srtcp_to_dict(d, first_ns) for d in result.srtcp]
            for row in srtcp_rows:
                row["flow"] = (
                    f"{endpoint(row.pop('src'), row.pop('src_port'))} -> "
                    f"{endpoint(row.pop('dst'), row.pop('dst_port'))}"
                )
                row["ssrc"] = f"0x{row['ssrc']:08X}"
            print_rows(
                srtcp_rows,
                fmt,
                None if wide else SRTCP_NARROW_COLUMNS,
                title="SRTCP packets (RFC 3711: encrypted past 8 bytes)",
                wide=wide,
            )
    if dtmf:
        digit_rows = [
            {"stream": row["index"], "ssrc_hex": row["ssrc_hex"], **d}
            for row in rows
            for d in row.get("dtmf", [])
        ]
        print_rows(
            digit_rows,
            fmt,
            EVENT_COLUMNS if wide else EVENT_NARROW_COLUMNS,
            title="Telephone events (RFC 4733)",
            wide=wide,
        )
        # Only key presses spell digits; tones (fax ANS, CNG), flash and vendor events are
        # named on a line of their own.
        keys = "".join(d["digit"] for d in digit_rows if d["digit"] is not None)
        others = [d["name"] for d in digit_rows if d["digit"] is None]
        if keys:
            print_text("digits: " + keys)
        if others:
            print_text("other events: " + ", ".join(others))
    if srtp:
        srtp_rows = [
            {"stream": rows[position]["index"], "ssrc_hex": rows[position]["ssrc_hex"]}
            | outcome.as_dict()
            for position, outcome in sorted(srtp.items())
        ]
        print_rows(srtp_rows, fmt, None if wide else SRTP_NARROW_COLUMNS, title="SRTP", wide=wide)
    _fail_on_wrong_keys(srtp, result.streams)
    conclude(model, keep_going)


def _user_keys(texts: list[str], suite: str) -> list[UserKey]:
    """The --srtp-key keys (base64 key||salt of ``suite``)."""
    if not texts:
        return []
    from rtcscope.rtp.srtp import SrtpKey, UserKey

    return [UserKey(SrtpKey.from_base64(text, suite)) for text in texts]


def _verify(
    model: CaptureModel, result: ScanResult, user_keys: list[UserKey]
) -> dict[int, StreamSrtpResult]:
    """SRTP streams decrypted with the keys the keyring offers (a read of their packets)."""
    payloads = model.payload_source
    if not any(s.encrypted for s in result.streams) or payloads is None:
        return {}
    from rtcscope.rtp.srtp import SrtpKeyring, verify_streams

    keyring = SrtpKeyring(result.announcements, user_keys)
    return verify_streams(payloads, result.streams, keyring, dedup=model.options.dedup)


def _fail_on_wrong_keys(srtp: dict[int, StreamSrtpResult], streams: list[RtpStream]) -> None:
    """Exit 3 (invalid input) when keys were tried on a stream and none authenticated."""
    for position, outcome in sorted(srtp.items()):
        if outcome.stats is not None:
            # (imported here: pylibsrtp loads only for a stream keys were tried on)
            from rtcscope.rtp.srtp import require_authenticated

            require_authenticated(streams[position].key.ssrc, outcome.stats)


@app.command()
def split(
    file: FileArg,
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="directory for the pcaps")],
    ssrc: Annotated[
        list[str] | None,
        typer.Option("--ssrc", help="only streams with this SSRC (0x hex or decimal); repeatable"),
    ] = None,
    rtp_port: RtpPortOpt = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """One pcap per RTP stream (Ethernet, replayable by sipp's play_pcap_audio)."""
    from rtcscope.rtp.split import split_streams

    wanted: set[int] = set()
    for text in ssrc or []:
        try:
            wanted.add(int(text, 0))
        except ValueError as exc:
            raise UsageError(f"--ssrc {text!r} is not a number (0xDEADBEEF or 3735928559)") from exc
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    model, result = _scan(file, args, spool=True, offsets=False)  # split reads the pipeline
    try:
        chosen = [s for s in result.streams if not wanted or s.key.ssrc in wanted]
        if wanted and not chosen:
            raise UsageError("no stream has the SSRC(s) asked for")
        if model.payload_path is None:
            raise UsageError(f"{file}: the packets cannot be read again")
        written = split_streams(Path(model.payload_path), chosen, out_dir)
    finally:
        model.close()
    rows = [
        {
            "index": w.stream.index,
            "ssrc_hex": f"0x{w.stream.key.ssrc:08X}",
            "flow": f"{endpoint(w.stream.key.src, w.stream.key.src_port)} -> "
            f"{endpoint(w.stream.key.dst, w.stream.key.dst_port)}",
            "packets": w.packets,
            "file": str(w.path),
        }
        for w in written
    ]
    print_rows(rows, fmt, title="Streams written")
    conclude(model, keep_going)
