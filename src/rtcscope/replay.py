"""``rtcscope replay``: send a captured stream's UDP payloads again, paced as captured.

No raw socket, so no root: an ordinary UDP socket (bound with ``--from`` when given) sends
each RTP datagram (and, with ``rtcp``, the stream's RTCP from the next port up, RFC 3550
11) byte for byte; the kernel writes new IP and UDP headers. The pacing is the capture's:
packet *i* leaves at ``start + (t_i - t_0) / speed``.

The plan is pure (:func:`plan_sends`, :func:`timing_summary`); :func:`send_plan` is the
edge that owns the socket and the clock. It sleeps until shortly before each send and
spins the rest (``time.sleep`` alone overshoots by the scheduler's slack, ~0.1-1 ms). The
schedule is absolute (start + offset), so a stall does not shift the rest of the stream: the
packets it delayed go at once, and their lateness is the error reported. No progress bar
is drawn while sending (its redraws would take the sender's time; the length is known).
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rtcscope.errors import InvalidArgument, PeerError

SPIN_NS = 1_500_000  # sleep until this close to a send, then spin


@dataclass(frozen=True, slots=True)
class Send:
    """One datagram to send at ``offset_ns`` after the start, on channel 0 (RTP) or 1 (RTCP)."""

    offset_ns: int
    channel: int
    payload: bytes


@dataclass(slots=True)
class ReplayReport:
    """What was sent and how closely the pacing followed the capture."""

    packets: int = 0
    rtcp_packets: int = 0
    bytes_sent: int = 0
    duration_s: float = 0.0
    # Each send's lateness (actual - planned), in ms; the plan follows the capture's deltas.
    error_median_ms: float = 0.0
    error_p99_ms: float = 0.0
    error_max_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "rtcp_packets": self.rtcp_packets,
            "bytes": self.bytes_sent,
            "duration_s": round(self.duration_s, 6),
            "timing_error_median_ms": round(self.error_median_ms, 3),
            "timing_error_p99_ms": round(self.error_p99_ms, 3),
            "timing_error_max_ms": round(self.error_max_ms, 3),
        }


def plan_sends(
    rtp: Sequence[tuple[int, bytes]],
    rtcp: Sequence[tuple[int, bytes]] = (),
    speed: float = 1.0,
) -> list[Send]:
    """(capture time ns, payload) lists -> the sends in time order, offsets scaled by 1/speed.

    Times going backwards in the capture (merged files) are kept in file order: such a
    packet goes right after the one before it.
    """
    if speed <= 0:
        raise InvalidArgument("speed", f"must be above 0, not {speed:g}")
    merged = sorted(
        [(t, 0, i, p) for i, (t, p) in enumerate(rtp)]
        + [(t, 1, i, p) for i, (t, p) in enumerate(rtcp)],
        key=lambda item: (item[0], item[1], item[2]),
    )
    if not merged:
        return []
    origin = merged[0][0]
    sends = []
    for ts_ns, channel, _, payload in merged:
        sends.append(Send(round(max(0, ts_ns - origin) / speed), channel, payload))
    return sends


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0..1) of ``values``."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def timing_summary(
    planned_ns: Sequence[int], actual_ns: Sequence[int]
) -> tuple[float, float, float]:
    """(median, p99, max) of actual - planned, in ms."""
    errors = [(a - p) / 1e6 for p, a in zip(planned_ns, actual_ns, strict=True)]
    if not errors:
        return 0.0, 0.0, 0.0
    return statistics.median(errors), percentile(errors, 0.99), max(errors)


def parse_host_port(text: str, param: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT``; ``param`` names the argument in the error."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument(param, f"expected HOST:PORT, not {text!r}")
    return host, int(port_text)


def _socket(family: int, local: tuple[str, int] | None) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if local is not None:
        sock.bind(local)
    return sock


def _send(sock: socket.socket, payload: bytes, address: Any) -> None:
    """One datagram. Linux reports an ICMP port unreachable for an *earlier* datagram on
    the next send (which then did not go): nobody listened then; send this one again."""
    for attempt in (1, 2):
        try:
            sock.sendto(payload, address)
            return
        except ConnectionRefusedError:
            if attempt == 2:
                raise PeerError(f"{address[0]}:{address[1]} refuses the datagrams") from None
        except OSError as exc:
            raise PeerError(f"sending to {address[0]}:{address[1]} failed: {exc}") from exc


def send_plan(
    sends: Sequence[Send],
    to: tuple[str, int],
    local: tuple[str, int] | None = None,
    *,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> ReplayReport:
    """Send the plan to ``to`` (RTCP to port + 1, from local port + 1); returns the report."""
    try:
        info = socket.getaddrinfo(to[0], to[1], type=socket.SOCK_DGRAM)[0]
    except socket.gaierror as exc:
        raise InvalidArgument("to", f"{to[0]}: {exc}") from exc
    family, address = info[0], info[4]
    rtcp_address = (str(address[0]), int(address[1]) + 1, *address[2:])
    report = ReplayReport()
    need_rtcp = any(s.channel for s in sends)
    try:
        rtp_sock = _socket(family, local)
        rtcp_local = None if local is None else (local[0], local[1] + 1 if local[1] else 0)
        rtcp_sock = _socket(family, rtcp_local) if need_rtcp else None
    except OSError as exc:
        raise PeerError(f"cannot open the UDP socket: {exc}") from exc
    planned: list[int] = []
    actual: list[int] = []
    try:
        start = clock()
        for item in sends:
            target = start + item.offset_ns
            while True:
                left = target - clock()
                if left <= 0:
                    break
                if left > SPIN_NS:
                    time.sleep((left - SPIN_NS) / 1e9)
            sent_at = clock()
            if item.channel:
                assert rtcp_sock is not None
                _send(rtcp_sock, item.payload, rtcp_address)
                report.rtcp_packets += 1
            else:
                _send(rtp_sock, item.payload, address)
                report.packets += 1
            report.bytes_sent += len(item.payload)
            planned.append(target - start)
            actual.append(sent_at - start)
    finally:
        rtp_sock.close()
        if rtcp_sock is not None:
            rtcp_sock.close()
    report.duration_s = (actual[-1] if actual else 0) / 1e9
    report.error_median_ms, report.error_p99_ms, report.error_max_ms = timing_summary(
        planned, actual
    )
    return report
