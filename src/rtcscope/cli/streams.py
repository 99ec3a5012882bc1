"""``rtcscope streams FILE`` and ``rtcscope split FILE -o DIR``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.output import OutputFormat, format_json, print_rows, stdout_console
from rtcscope.errors import UsageError
from rtcscope.quality import StreamQuality
from rtcscope.rtp.srtp import (
    SrtpKey,
    SrtpKeyring,
    StreamSrtpResult,
    UserKey,
    require_authenticated,
    verify_streams,
)
from rtcscope.rtp.streams import (
    RtpStream,
    ScanResult,
    rtcp_record_to_dict,
    scan_capture,
    stream_to_dict,
)

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


def _scan(
    file: Path,
    rtp_port: list[int] | None,
    no_heuristic: bool,
    no_sdp: bool,
    rtcp: bool,
    dtmf: bool,
    dedup: bool = False,
) -> ScanResult:
    for port in rtp_port or []:
        if not 0 < port < 65536:
            raise UsageError(f"--rtp-port {port} is not a UDP port")
    return scan_capture(
        file,
        rtp_ports=rtp_port or (),
        heuristic=not no_heuristic,
        use_sdp=not no_sdp,
        with_rtcp=rtcp,
        with_dtmf=dtmf,
        dedup=dedup,
    )


def _table_row(row: dict[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["payload"] = ", ".join(row["payload_names"])
    shown["lost"] = f"{row['lost']} ({row['lost_percent']:.1f}%)"
    shown["problems"] = "X" if row["problems"] else ""
    shown["from"] = f"{row['src']}:{row['src_port']}"
    shown["to"] = f"{row['dst']}:{row['dst_port']}"
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


def _qualities(file: Path, result: ScanResult) -> list[StreamQuality | None]:
    from rtcscope.report.data import stream_arrays, stream_quality

    arrays = stream_arrays(file, result.streams)
    return [stream_quality(s, arrays[s.key]) for s in result.streams]


def _quality_columns(row: dict[str, Any]) -> dict[str, Any]:
    """Flat ``mos_<buffer>`` columns (empty when not rated) of a row with "quality"."""
    quality = row.get("quality")
    if quality is None:
        return {}
    return {f"mos_{b['buffer'].replace('-', '_')}": b["mos"] for b in quality["buffers"]}


def _print_series(
    file: Path,
    rtp_port: list[int] | None,
    no_heuristic: bool,
    no_sdp: bool,
    dedup: bool,
    fmt: OutputFormat,
    interval: float,
    per_packets: int | None,
) -> None:
    """``--series``: one row per stream and interval (rtcscope.rtp.series.SERIES_COLUMNS)."""
    from rtcscope.report.data import build_stream_data
    from rtcscope.rtp.series import SERIES_COLUMNS

    if interval <= 0 or (per_packets is not None and per_packets <= 0):
        raise UsageError("--interval and --per-packets must be positive")
    result = _scan(file, rtp_port, no_heuristic, no_sdp, True, False, dedup)
    data = build_stream_data(
        file,
        result.streams,
        result.rtcp_packets,
        result.first_ns or 0,
        interval_s=interval,
        per_packets=per_packets,
    )
    rows = [
        {"stream": d.stream.index, "ssrc_hex": f"0x{d.stream.key.ssrc:08X}", **row.as_dict()}
        for d in data
        for row in d.series
    ]
    print_rows(rows, fmt, list(SERIES_COLUMNS), title="RTP time series")


@app.command()
def streams(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    rtcp: Annotated[bool, typer.Option("--rtcp", help="RTCP per stream and every packet")] = False,
    dtmf: Annotated[bool, typer.Option("--dtmf", help="RFC 4733 DTMF digits with times")] = False,
    rtp_port: Annotated[
        list[int] | None,
        typer.Option("--rtp-port", help="treat this UDP port as RTP (like Decode As); repeatable"),
    ] = None,
    no_heuristic: Annotated[
        bool, typer.Option("--no-heuristic", help="only SDP-signalled and --rtp-port streams")
    ] = False,
    no_sdp: Annotated[bool, typer.Option("--no-sdp", help="ignore SIP/SDP")] = False,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="drop packets captured twice (two interfaces)")
    ] = False,
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
) -> None:
    """Every RTP stream with Wireshark's statistics (tshark -z rtp,streams) and ours.

    SRTP streams are decrypted with --srtp-key or the sender's a=crypto key from the capture
    to count the packets that authenticate (key "srtp" in JSON); keys that authenticate no
    packet of a stream are invalid input (exit 3).
    """
    user_keys = [UserKey(SrtpKey.from_base64(text, srtp_suite)) for text in srtp_key or ()]
    if series:
        _print_series(file, rtp_port, no_heuristic, no_sdp, dedup, fmt, interval, per_packets)
        return
    result = _scan(file, rtp_port, no_heuristic, no_sdp, rtcp or quality, dtmf, dedup)
    qualities = _qualities(file, result) if quality else [None] * len(result.streams)
    rows = [stream_to_dict(s, q) for s, q in zip(result.streams, qualities, strict=True)]
    srtp = verify_streams(file, result.streams, SrtpKeyring(result.announcements, user_keys))
    for position, outcome in srtp.items():
        rows[position]["srtp"] = outcome.as_dict()
    first_ns = result.first_ns or 0
    if fmt is OutputFormat.json:
        data: Any = rows
        if rtcp:
            data = {
                "streams": rows,
                "rtcp": [rtcp_record_to_dict(r, first_ns) for r in result.rtcp_packets],
            }
        sys.stdout.write(format_json(data) + "\n")
        _fail_on_wrong_keys(srtp, result.streams)
        return
    if fmt is OutputFormat.csv:
        flat = [
            {k: v for k, v in r.items() if k not in ("rtcp", "dtmf", "srtp", "quality")}
            | _quality_columns(r)
            for r in rows
        ]
        print_rows(flat, fmt)
        _fail_on_wrong_keys(srtp, result.streams)
        return
    columns = [*TABLE_COLUMNS, "mos"] if quality else TABLE_COLUMNS
    print_rows([_table_row(r) for r in rows], fmt, columns, title="RTP streams")
    if rtcp:
        rtcp_rows = []
        for row in rows:
            view = row.get("rtcp") or {}
            rtcp_rows.append(
                {
                    "ssrc_hex": row["ssrc_hex"],
                    "src": f"{row['src']}:{row['src_port']}",
                    **{k: v for k, v in view.items() if k != "xr_blocks"},
                    "xr_blocks": len(view.get("xr_blocks", [])),
                }
            )
        print_rows(rtcp_rows, fmt, title="RTCP per stream")
        packet_rows = []
        for record in result.rtcp_packets:
            r = rtcp_record_to_dict(record, first_ns)
            detail = {k: v for k, v in r.items() if k not in ("src", "src_port", "dst", "dst_port")}
            packet_rows.append(
                {
                    "frame": r["frame"],
                    "time_s": r["time_s"],
                    "flow": f"{r['src']}:{r['src_port']} -> {r['dst']}:{r['dst_port']}",
                    "type": r["type"],
                    "detail": format_json(
                        {k: v for k, v in detail.items() if k not in ("frame", "time_s", "type")}
                    ).replace("\n", " "),
                }
            )
        print_rows(packet_rows, fmt, title="RTCP packets")
    if dtmf:
        digit_rows = [
            {"stream": row["index"], "ssrc_hex": row["ssrc_hex"], **d}
            for row in rows
            for d in row.get("dtmf", [])
        ]
        print_rows(digit_rows, fmt, title="DTMF (RFC 4733)")
        if digit_rows:
            stdout_console().print(
                "digits: " + "".join(d["digit"] for d in digit_rows), markup=False
            )
    if srtp:
        srtp_rows = [
            {"stream": rows[position]["index"], "ssrc_hex": rows[position]["ssrc_hex"]}
            | outcome.as_dict()
            for position, outcome in sorted(srtp.items())
        ]
        print_rows(srtp_rows, fmt, title="SRTP")
    _fail_on_wrong_keys(srtp, result.streams)


def _fail_on_wrong_keys(srtp: dict[int, StreamSrtpResult], streams: list[RtpStream]) -> None:
    """Exit 3 (invalid input) when keys were tried on a stream and none authenticated."""
    for position, outcome in sorted(srtp.items()):
        if outcome.stats is not None:
            require_authenticated(streams[position].key.ssrc, outcome.stats)


@app.command()
def split(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture (.gz read too)")],
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="directory for the pcaps")],
    ssrc: Annotated[
        list[str] | None,
        typer.Option("--ssrc", help="only streams with this SSRC (0x hex or decimal); repeatable"),
    ] = None,
    rtp_port: Annotated[
        list[int] | None, typer.Option("--rtp-port", help="treat this UDP port as RTP")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
) -> None:
    """One pcap per RTP stream (Ethernet, replayable by sipp's play_pcap_audio)."""
    from rtcscope.rtp.split import split_streams

    wanted: set[int] = set()
    for text in ssrc or []:
        try:
            wanted.add(int(text, 0))
        except ValueError as exc:
            raise UsageError(f"--ssrc {text!r} is not a number (0xDEADBEEF or 3735928559)") from exc
    result = _scan(file, rtp_port, False, False, False, False)
    chosen = [s for s in result.streams if not wanted or s.key.ssrc in wanted]
    if wanted and not chosen:
        raise UsageError("no stream has the SSRC(s) asked for")
    written = split_streams(file, chosen, out_dir)
    rows = [
        {
            "index": w.stream.index,
            "ssrc_hex": f"0x{w.stream.key.ssrc:08X}",
            "flow": f"{w.stream.key.src}:{w.stream.key.src_port} -> "
            f"{w.stream.key.dst}:{w.stream.key.dst_port}",
            "packets": w.packets,
            "file": str(w.path),
        }
        for w in written
    ]
    print_rows(rows, fmt, title="Streams written")
