"""``rtcscope hep send|listen|search|decode``: HEP to and from Homer-like collectors."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import math
import re
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from rtcscope.cli.app import app
from rtcscope.cli.capture import (
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
from rtcscope.cli.output import OutputFormat, WideOpt, format_json, print_rows
from rtcscope.errors import HepError, InputError, OutputError, UsageError
from rtcscope.hep.codec import HepPacket, decode, protocol_name
from rtcscope.hep.in_capture import hep_in_capture
from rtcscope.hep.store import (
    DEFAULT_SEARCH_LIMIT,
    MAX_SEARCH_LIMIT,
    StoredMessage,
    search,
    sip_index_fields,
)

hep_app = typer.Typer(
    help="HEP (Homer): send a capture's SIP, run a collector, search it, decode HEP.",
    no_args_is_help=True,
)
app.add_typer(hep_app, name="hep")


def _iso(ts_ns: int | None) -> str:
    """ISO 8601 in UTC; a time past year 9999 (a HEP packet may say anything) as ns."""
    if ts_ns is None:
        return ""
    try:
        return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="microseconds")
    except (ValueError, OverflowError, OSError):
        return f"{ts_ns} ns since 1970 (out of range)"


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "replace")


def _summary(payload: bytes, proto_type: int | None) -> str:
    line = payload.split(b"\n", 1)[0].rstrip(b"\r")
    return _text(line[:80]) if proto_type in (1, None) else _text(payload[:60])


def _setup_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="rtcscope: %(message)s", stream=sys.stderr)


def _parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--bind must be HOST:PORT with a port 0..65535, not {bind}")
    return host.strip("[]") or "127.0.0.1", int(port)


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 2**20,
    "mib": 2**20,
    "mb": 10**6,
}


def _parse_bytes(option: str, text: str, low: int, high: int) -> int:
    """``65536``, ``64KiB``, ``1MB``: a byte count between low and high."""
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _BYTE_UNITS:
        raise UsageError(f"{option} must be a byte count (65536, 64KiB, 1MB), not {text}")
    value = int(match.group(1)) * _BYTE_UNITS[unit]
    if not low <= value <= high:
        raise UsageError(f"{option} {text}: expected {low}..{high} bytes")
    return value


def _positive_seconds(option: str, value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise UsageError(f"{option} must be a number of seconds in (0, 86400], not {value}")
    return value


# --- listen ---------------------------------------------------------------------------------


@hep_app.command()
def listen(
    store_dir: Annotated[
        Path, typer.Option("--store", help="directory for hep.sqlite and sip.pcap")
    ],
    bind: Annotated[str, typer.Option("--bind", help="HOST:PORT (loopback by default)")] = (
        "127.0.0.1:9060"
    ),
    tcp: Annotated[bool, typer.Option("--tcp", help="also accept HEP over TCP")] = False,
    password: Annotated[
        str | None, typer.Option("--password", help="refuse packets without this auth key")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="stop after this many seconds")
    ] = None,
    no_pcap: Annotated[bool, typer.Option("--no-pcap", help="do not write sip.pcap")] = False,
    rotate: Annotated[
        str | None,
        typer.Option(
            "--rotate",
            help="new pcap by size and/or age (100MB, 5min, 100MB/5min): sip-NNNNNN.pcap, "
            "written as .pcap.part until complete",
        ),
    ] = None,
    max_payload: Annotated[
        str, typer.Option("--max-payload", help="largest payload after decompression")
    ] = "64KiB",
    max_queue: Annotated[
        str, typer.Option("--max-queue", help="bytes waiting for the store before drops")
    ] = "64MiB",
    max_tcp_connections: Annotated[
        int | None,
        typer.Option("--max-tcp-connections", help="default: a little under the fd limit"),
    ] = None,
    tcp_idle_timeout: Annotated[
        float, typer.Option("--tcp-idle-timeout", help="close a silent TCP client after S s")
    ] = 60.0,
    tcp_frame_timeout: Annotated[
        float, typer.Option("--tcp-frame-timeout", help="seconds to finish a started frame")
    ] = 10.0,
    store_process: Annotated[
        bool,
        typer.Option(
            "--store-process/--store-thread",
            help="write the store from a child process (default) or a thread of this one",
        ),
    ] = True,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="how to print the counts")] = (
        OutputFormat.table
    ),
) -> None:
    """Collect HEP (UDP, and TCP with --tcp) into DIR until Ctrl-C/SIGTERM; print counts.

    JSON keys: received, accepted, stored (rows committed), invalid, rejected_password,
    without_payload, refused (by reason: invalid, password, payload_too_large, queue_full,
    store_failed), tcp_connections, tcp_closed (by reason: idle_timeout, frame_timeout,
    connection_cap), accept_errors, store_errors, pcap_truncated, warnings_suppressed,
    rejected_by_source, invalid_by_source. A table or CSV has one row per count
    (``count``, ``value``), those by reason or source split into one row each
    (``refused invalid``, ``rejected_by_source 10.0.0.9``).
    """
    from rtcscope.hep.collector import HepCollector
    from rtcscope.hep.store import HepStore, Rotation, StoreProcess

    _setup_logging()
    host, port = _parse_bind(bind)
    rotation = Rotation.parse(rotate) if rotate is not None else None
    if rotation is not None and no_pcap:
        raise UsageError("--rotate and --no-pcap exclude each other")
    payload_limit = _parse_bytes("--max-payload", max_payload, 1024, 16 * 2**20)
    queue_limit = _parse_bytes("--max-queue", max_queue, 2**20, 2**32)
    idle_s = _positive_seconds("--tcp-idle-timeout", tcp_idle_timeout)
    frame_s = _positive_seconds("--tcp-frame-timeout", tcp_frame_timeout)
    if duration is not None:
        _positive_seconds("--duration", duration)
    if max_tcp_connections is not None and not 1 <= max_tcp_connections <= 1_000_000:
        raise UsageError("--max-tcp-connections must be 1..1000000")
    # the store is opened (and an unusable --store reported, exit 3) before listening
    store: HepStore | StoreProcess
    if store_process:
        store = StoreProcess(store_dir, write_pcap=not no_pcap, rotate=rotation)
        try:
            store.wait_ready()
        except OutputError:
            with contextlib.suppress(InputError):
                store.close()
            raise
    else:
        store = HepStore(store_dir, write_pcap=not no_pcap, rotate=rotation)
    collector = HepCollector(
        store,
        password=password,
        max_payload_bytes=payload_limit,
        max_queue_bytes=queue_limit,
        max_tcp_connections=max_tcp_connections,
        tcp_idle_timeout_s=idle_s,
        tcp_frame_timeout_s=frame_s,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        serving = asyncio.ensure_future(collector.serve(host, port, udp=True, tcp=tcp))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, serving.cancel)
        wanted = 2 if tcp else 1
        while len(collector.bound) < wanted and not serving.done():
            await asyncio.sleep(0.01)
        if collector.bound:
            where = ", ".join(f"{t} {h}:{p}" for t, h, p in collector.bound)
            print(f"rtcscope: listening on {where}; storing in {store_dir}", file=sys.stderr)
            sys.stderr.flush()
        if duration is not None:
            loop.call_later(duration, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    close_error: InputError | None = None
    try:
        asyncio.run(main())
    except OSError as exc:
        raise UsageError(f"cannot listen on {bind}: {exc}") from None
    finally:
        try:
            collector.close()
        except InputError as exc:
            close_error = exc
    counts = collector.stats.as_dict()
    if fmt is OutputFormat.json:
        sys.stdout.write(format_json(counts) + "\n")
    else:
        print_rows(_count_rows(counts), fmt)
    if close_error is not None:
        raise close_error


def _count_rows(counts: Mapping[str, object]) -> list[dict[str, object]]:
    """Counts as table/CSV rows of one whole number each: a count kept by reason or by
    source (``refused``, ``tcp_closed``, ``rejected_by_source``) gives one row per reason
    (``refused invalid``), or a single row of 0 when nothing was counted."""
    rows: list[dict[str, object]] = []
    for key, value in counts.items():
        if isinstance(value, Mapping):
            rows.extend({"count": f"{key} {part}", "value": n} for part, n in value.items())
            if not value:
                rows.append({"count": key, "value": 0})
        else:
            rows.append({"count": key, "value": value})
    return rows


# --- search ---------------------------------------------------------------------------------


def _parse_since(since: str) -> int:
    try:
        seconds = float(since)
    except ValueError:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--since must be epoch seconds or ISO 8601, not {since}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp()
    # SQLite integers are 64-bit: nanoseconds since 1970 up to year 2262
    if not (math.isfinite(seconds) and 0 <= seconds < 2**63 / 1e9):
        raise UsageError(f"--since {since}: expected a time between 1970 and 2262")
    return int(seconds * 1e9)


# Table columns that fit 80 (--wide, CSV and JSON: all of them, time and capture id too).
SEARCH_NARROW_COLUMNS = ["id", "type", "src", "dst", "call_id", "sip"]
DECODE_NARROW_COLUMNS = ["frame", "type", "src", "dst", "summary"]


def _message_row(m: StoredMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "time": _iso(m.time_ns),
        "src": f"{m.src}:{m.sport}" if m.src else "",
        "dst": f"{m.dst}:{m.dport}" if m.dst else "",
        "type": protocol_name(m.proto_type),
        "capture_id": m.capture_id,
        "node": m.node,
        "call_id": m.call_id,
        "sip": m.method or (str(m.status) if m.status is not None else ""),
        "correlation_id": m.correlation_id,
        "bytes": len(m.payload),
    }


def _message_json(m: StoredMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "time": _iso(m.time_ns),
        "time_ns": m.time_ns,
        "received_ns": m.received_ns,
        "src": m.src,
        "sport": m.sport,
        "dst": m.dst,
        "dport": m.dport,
        "ip_proto": m.ip_proto,
        "hep_version": m.hep_version,
        "proto_type": m.proto_type,
        "protocol": protocol_name(m.proto_type),
        "capture_id": m.capture_id,
        "node": m.node,
        "correlation_id": m.correlation_id,
        "call_id": m.call_id,
        "method": m.method,
        "status": m.status,
        "payload": _text(m.payload),
    }


@hep_app.command("search")
def search_command(
    store_dir: Annotated[Path, typer.Argument(help="a directory written by `hep listen`")],
    call_id: Annotated[
        str | None, typer.Option("--call-id", help="SIP Call-ID or correlation id")
    ] = None,
    proto_type: Annotated[
        int | None, typer.Option("--type", help="HEP protocol type (1 SIP, 5 RTCP, 100 log)")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="epoch seconds or ISO 8601 (UTC if no zone)")
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", help=f"at most N messages (1..{MAX_SEARCH_LIMIT})"),
    ] = DEFAULT_SEARCH_LIMIT,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    wide: WideOpt = False,
) -> None:
    """List stored messages, oldest first (JSON and CSV are streamed row by row).

    JSON: a list, one object per message, with the keys
    id, time, time_ns, received_ns, src, sport, dst, dport, ip_proto, hep_version,
    proto_type, protocol, capture_id, node, correlation_id, call_id, method, status, payload.
    """
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise UsageError(f"--limit must be 1..{MAX_SEARCH_LIMIT}, not {limit}")
    if proto_type is not None and not 0 <= proto_type <= 0xFFFFFFFF:
        raise UsageError(f"--type must be a HEP protocol type (0..255), not {proto_type}")
    messages = search(
        store_dir,
        call_id=call_id,
        proto_type=proto_type,
        since_ns=_parse_since(since) if since is not None else None,
        limit=limit,
    )
    if fmt is OutputFormat.json:
        out = sys.stdout
        out.write("[")
        for n, m in enumerate(messages):
            out.write(("\n" if n == 0 else ",\n") + format_json(_message_json(m)))
        out.write("\n]\n")
    elif fmt is OutputFormat.csv:
        writer: Any = None
        for m in messages:
            row = _message_row(m)
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    else:
        columns = None if wide else SEARCH_NARROW_COLUMNS
        print_rows([_message_row(m) for m in messages], fmt, columns, wide=wide)


# --- decode ---------------------------------------------------------------------------------


@hep_app.command("decode")
def decode_command(
    file: Annotated[Path, typer.Argument(help="pcap or pcapng capture")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv")] = (
        OutputFormat.table
    ),
    wide: WideOpt = False,
) -> None:
    """The HEP packets of a capture (any UDP/TCP port), with their chunks and inner SIP.

    JSON: a list, one object per HEP packet, with the keys
    frame, time_ns (capture time), outer (transport, src, sport, dst, dport),
    hep (every chunk present, protocol, time_ns from the chunks),
    sip (call_id, method, status; null when not SIP), or error when it does not decode.
    """
    rows: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for frame, ts_ns, transport, src, sport, dst, dport, data in hep_in_capture(file):
        outer = {"transport": transport, "src": src, "sport": sport, "dst": dst, "dport": dport}
        try:
            packet = decode(data)
        except HepError as exc:
            rows.append({"frame": frame, "time": _iso(ts_ns), "error": str(exc)})
            objects.append({"frame": frame, "time_ns": ts_ns, "outer": outer, "error": str(exc)})
            continue
        call_id, method, status = (
            sip_index_fields(packet.payload) if packet.proto_type == 1 else (None, None, None)
        )
        rows.append(
            {
                "frame": frame,
                "time": _iso(packet.time_ns),
                "version": packet.version,
                "type": packet.protocol,
                "capture_id": packet.capture_id,
                "src": f"{packet.src}:{packet.sport}",
                "dst": f"{packet.dst}:{packet.dport}",
                "call_id": call_id or packet.correlation_id,
                "summary": _summary(packet.payload, packet.proto_type),
            }
        )
        objects.append(
            {
                "frame": frame,
                "time_ns": ts_ns,
                "outer": outer,
                "hep": _packet_json(packet),
                "sip": {"call_id": call_id, "method": method, "status": status}
                if packet.proto_type == 1
                else None,
            }
        )
    narrow = fmt is OutputFormat.table and not wide
    columns = DECODE_NARROW_COLUMNS if narrow and any("type" in r for r in rows) else None
    print_rows(rows, fmt, columns, json_data=objects, wide=wide)


def _packet_json(packet: HepPacket) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in HepPacket.__dataclass_fields__:
        value = getattr(packet, name)
        if name == "magic":
            out[name] = value.decode("ascii", "replace")
        elif name == "payload":
            out[name] = _text(value)
        elif name == "extra_chunks":
            out[name] = [
                {"vendor_id": c.vendor_id, "chunk_type": c.chunk_type, "value": c.value.hex()}
                for c in value
            ]
        elif isinstance(value, bytes):
            out[name] = value.hex()
        elif value is not None:
            out[name] = value
    out["protocol"] = packet.protocol
    out["time_ns"] = packet.time_ns
    return out


# --- send -----------------------------------------------------------------------------------


@hep_app.command()
def send(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", help="udp://HOST:PORT or tcp://HOST:PORT")],
    rtcp: Annotated[
        bool, typer.Option("--rtcp", help="also send RTCP as Homer JSON (type 5)")
    ] = False,
    capture_id: Annotated[int, typer.Option("--capture-id", help="capture agent id")] = 0,
    node_name: Annotated[
        str | None, typer.Option("--node-name", help="capture agent name (chunk 19)")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="auth key (chunk 14)")] = None,
    hep_version: Annotated[int, typer.Option("--hep-version", help="2 or 3")] = 3,
    realtime: Annotated[bool, typer.Option("--realtime", help="keep the capture's pacing")] = False,
    rate: Annotated[
        float | None, typer.Option("--rate", help="at most N packets per second")
    ] = None,
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", help="TCP: seconds to wait for a first connect")
    ] = 5.0,
    dedup: DedupOpt = False,
    reassembly: ReassemblyOpt = True,
    keep_going: KeepGoingOpt = False,
    rtp_port: RtpPortOpt = None,
    quiet: QuietOpt = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="how to print the counts")] = (
        OutputFormat.table
    ),
) -> None:
    """Send the SIP messages of a capture (and its RTCP with --rtcp) to a HEP collector.

    SIP over UDP, TCP, WebSocket and SCTP, each message with its capture addresses and time.
    RTCP goes as Homer JSON with its call's Call-ID (from the SDP); SRTCP only when it reads
    in clear (null cipher, or decrypted with the SDP's a=crypto keys): encrypted SRTCP is
    not sent. A truncated capture: what was read is sent, then exit 3 (0 with --keep-going).

    JSON keys: sip, rtcp (reports sent), rtcp_unmatched (RTCP no SDP names),
    rtcp_without_report (no SR/RR), rtcp_encrypted (SRTCP without its key, not sent), sent,
    dropped, lost, reconnects.
    """
    from rtcscope.hep.from_capture import (
        CaptureHepStats,
        capture_hep_packets,
        check_hep_options,
    )
    from rtcscope.hep.sender import HepSender, parse_url, require_reachable, send_paced
    from rtcscope.scan import Tap

    _setup_logging()
    if not 0 <= capture_id <= 0xFFFFFFFF:
        raise UsageError(f"--capture-id must fit in 32 bits, not {capture_id}")
    transport, host, port = parse_url(to)
    if transport == "tcp" and hep_version != 3:
        raise UsageError("HEP over TCP needs HEPv3 (v2 has no length to frame it)")
    if realtime and rate is not None:
        raise UsageError("--realtime and --rate exclude each other")
    check_hep_options(hep_version, capture_id, rtcp=rtcp, named=bool(node_name or password))
    args = capture_args(
        dedup=dedup, reassembly=reassembly, keep_going=keep_going, rtp_port=rtp_port, quiet=quiet
    )
    taps = frozenset({Tap.SIP, Tap.RTP} if rtcp else {Tap.SIP})
    model = read_model(file, args, taps)
    stats = CaptureHepStats()
    packets = list(
        capture_hep_packets(
            model.messages,
            announcements=model.announcements,
            rtcp=model.rtp if rtcp else None,
            capture_id=capture_id,
            node_name=node_name,
            password=password,
            version=hep_version,
            stats=stats,
        )
    )
    sender = HepSender(transport, host, port, rate_per_s=rate, connect_timeout_s=connect_timeout)

    async def main() -> None:
        async with sender:
            if realtime:
                await send_paced(sender, packets)
            else:
                for packet in packets:
                    await sender.send(packet)

    asyncio.run(main())
    require_reachable(sender.stats, transport, to)
    counts = {
        "sip": stats.sip,
        "rtcp": stats.rtcp,
        "rtcp_unmatched": stats.rtcp_unmatched,
        "rtcp_without_report": stats.rtcp_without_report,
        "rtcp_encrypted": stats.rtcp_encrypted,
        "sent": sender.stats.sent,
        "dropped": sender.stats.dropped,
        "lost": sender.stats.lost,
        "reconnects": sender.stats.reconnects,
    }
    if fmt is OutputFormat.json:
        sys.stdout.write(format_json(counts) + "\n")
    else:
        print_rows(_count_rows(counts), fmt)
    if sender.stats.dropped or sender.stats.lost:
        conclude(model, keep_going=True)  # the capture's fault as a warning; the peer's is 4
        raise typer.Exit(4)
    conclude(model, keep_going)
