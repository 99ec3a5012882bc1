"""FreeSWITCH events -> HEP messages, pure (no I/O, no clock).

What hepipe.js did, with its faults fixed:

* Call events (CHANNEL_CREATE ... CHANNEL_DESTROY, CUSTOM sofia::register/unregister) become
  HEP protocol type 100 (Homer's "log" type) whose payload is one JSON object: ``event``,
  ``unique_id``, ``call_id``, ``direction``, ``caller``, ``callee``, ``state``,
  ``timestamp_us`` and ``headers`` (every header of the event, URL-decoded).
* RECV_RTCP_MESSAGE / SEND_RTCP_MESSAGE become type 5, the RTCP-as-JSON that Homer stores
  (captagent's shape): ``type`` 200 (SR: the report carries NTP words) or 201 (RR),
  ``ssrc`` = the sender's SSRC as an integer (FreeSWITCH writes SSRCs as ``%.8x`` hex),
  ``report_count`` = number of blocks, ``report_blocks`` [{``source_ssrc`` (integer),
  ``fraction_lost``, ``packets_lost`` (cumulative, RFC 3550 6.4.1), ``highest_seq_no``,
  ``ia_jitter`` (RTP timestamp units), ``lsr``, ``dlsr``}] and, for an SR,
  ``sender_information`` {``ntp_timestamp_sec`` (NTP MSW), ``ntp_timestamp_usec`` (NTP LSW,
  raw, as captagent writes it), ``rtp_timestamp``, ``packets``, ``octets``} (cumulative
  sender counts, RFC 3550 6.4.1). FreeSWITCH's RECV events use ``Source<i>-*`` per block
  (switch_core_media.c); the ``Source-*`` form without index is read too.
* One QoS report per call leg, on CHANNEL_HANGUP_COMPLETE or CHANNEL_DESTROY, whichever comes
  first, as type 34 with hepipe.js's keys (see :data:`QOS_KEYS` for what each carries).
* The correlation id is the SIP Call-ID, through a bounded Unique-ID -> Call-ID cache filled
  from channel events; a B-leg (``Other-Type: originator``) takes its originator's Call-ID so
  Homer shows both legs under the call that came in. A Unique-ID never seen asks the caller
  to look it up (``api uuid_getvar <uuid> sip_call_id``) instead of crashing.
* HEP time is the event's ``Event-Date-Timestamp`` (microseconds since the epoch) split
  exactly into seconds and microseconds (hepipe.js put milliseconds in the microseconds).
"""

from __future__ import annotations

import ipaddress
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rtcscope.esl.protocol import EslEvent
from rtcscope.hep.codec import AF_INET, AF_INET6, ProtocolType


def _is_decimal(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts '¹' and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


# The HEP protocol types (chunk 11) hepipe sends; the codec's enum names them.
PROTO_RTCP_JSON = ProtocolType.RTCP_JSON  # 5
PROTO_QOS_REPORT = ProtocolType.MOS_FULL_REPORT_JSON  # 34 (0x22), hepipe.js's QoS report
PROTO_LOG = ProtocolType.LOG  # 100
IPPROTO_UDP = 17

CALL_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
)
RTCP_EVENTS = ("RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE")
QOS_TRIGGERS = ("CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY")
CUSTOM_SUBCLASSES = ("sofia::register", "sofia::unregister")

# What each key of the type-34 QoS payload carries (hepipe.js's keys, which Homer reads).
QOS_KEYS: dict[str, str] = {
    "CORRELATION_ID": "the SIP Call-ID this leg is grouped under (see the cache rules)",
    "RTP_SIP_CALL_ID": "the same SIP Call-ID",
    "JITTER": "mean of rtp_audio_in_jitter_min_variance and _max_variance: FreeSWITCH's "
    "variances of the packet inter-arrival interval (ms squared), NOT RFC 3550 jitter; "
    "kept for hepipe.js compatibility (it truncated this to an integer)",
    "REPORT_TS": "Event-Date-Timestamp of the hangup event, microseconds since the epoch",
    "TL_BYTE": "rtp_audio_in_media_bytes + rtp_audio_out_media_bytes (RTP payload bytes)",
    "TOTAL_PK": "rtp_audio_in_packet_count + rtp_audio_out_packet_count",
    "PACKET_LOSS": "rtp_audio_in_skip_packet_count + rtp_audio_out_skip_packet_count "
    "(packets FreeSWITCH skipped, its loss figure; not RTCP cumulative loss)",
    "MAX_JITTER": "rtp_audio_in_jitter_max_variance (a variance, ms squared)",
    "MIN_JITTER": "rtp_audio_in_jitter_min_variance (a variance, ms squared)",
    "DELTA": "rtp_audio_in_mean_interval (mean inter-arrival interval, ms)",
    "MOS": "rtp_audio_in_mos (FreeSWITCH's estimate from its R factor)",
    "SRC_IP": "local_media_ip (FreeSWITCH's RTP address)",
    "SRC_PORT": "local_media_port",
    "DST_IP": "remote_media_ip (the peer's RTP address)",
    "DST_PORT": "remote_media_port",
    "CODEC_PT": "rtp_audio_recv_pt (payload type received)",
    "PTIME": "rtp_use_codec_ptime (ms)",
    "CLOCK": "rtp_use_codec_rate (Hz)",
    "CODEC_NAME": "rtp_use_codec_name",
    "TYPE": "the event that ended the leg: CHANNEL_HANGUP_COMPLETE or CHANNEL_DESTROY",
}

# Room left for the HEP3 chunks around the payload (addresses, times, ids, correlation id).
MAX_PAYLOAD_BYTES = 60_000

# Skip reasons (the bridge counts them by these names).
SKIP_NO_TIMESTAMP = "no Event-Date-Timestamp"
SKIP_NO_CALL_ID = "no Call-ID for the Unique-ID"
SKIP_BAD_RTCP = "RTCP event without a valid SSRC"
SKIP_NO_RTP_STATS = "hangup without RTP statistics"
SKIP_QOS_DONE = "QoS already reported for this leg"
SKIP_NOT_REPORTED = "event type not reported"


@dataclass(frozen=True, slots=True)
class HepMessage:
    """The values of one HEP packet (capture id and password are added by the sender)."""

    proto_type: int
    correlation_id: str
    ts_sec: int
    ts_usec: int
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes
    ip_family: int = AF_INET
    ip_proto: int = IPPROTO_UDP
    mos: int | None = None  # MOS x 100, for HEP chunk 0x0020
    event_name: str = ""

    def payload_json(self) -> dict[str, object]:
        value = json.loads(self.payload)
        assert isinstance(value, dict)
        return value


@dataclass(slots=True)
class MapResult:
    messages: list[HepMessage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lookup_uuid: str | None = None  # ask uuid_getvar <uuid> sip_call_id, then feed again


@dataclass(slots=True)
class Leg:
    call_id: str | None = None  # this leg's own SIP Call-ID
    correlation_id: str | None = None  # what its HEP messages carry
    local_ip: str | None = None
    local_port: int = 0
    remote_ip: str | None = None
    remote_port: int = 0


def split_timestamp_us(value: str | None) -> tuple[int, int] | None:
    """``Event-Date-Timestamp`` (integer microseconds) -> (seconds, microseconds), exact."""
    if value is None:
        return None
    text = value.strip()
    if not _is_decimal(text):
        return None
    micros = int(text)
    return micros // 1_000_000, micros % 1_000_000


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except (ValueError, OverflowError):
            return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        result = float(value.strip())
    except ValueError:
        return None
    return result if result == result and abs(result) != float("inf") else None


def _hex32(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().lower().removeprefix("0x")
    if not text or len(text) > 8 or any(c not in "0123456789abcdef" for c in text):
        return None
    return int(text, 16)


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class BoundedCache(OrderedDict[str, Leg]):
    """Least-recently-used Unique-ID -> Leg map with a fixed maximum size."""

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max(1, max_size)

    def touch(self, key: str) -> Leg:
        leg = self.get(key)
        if leg is None:
            leg = Leg()
            self[key] = leg
            while len(self) > self.max_size:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return leg


class BoundedSet:
    """Remembers the last ``max_size`` keys (legs already QoS-reported, failed lookups)."""

    def __init__(self, max_size: int) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self.max_size = max(1, max_size)

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def discard(self, key: str) -> None:
        self._keys.pop(key, None)


class HepipeMapper:
    """Turns events into :class:`HepMessage` values, keeping the Unique-ID -> Call-ID cache."""

    def __init__(
        self,
        *,
        call_events: bool = True,
        rtcp_events: bool = True,
        qos_events: bool = True,
        cache_size: int = 65536,
    ) -> None:
        self.call_events = call_events
        self.rtcp_events = rtcp_events
        self.qos_events = qos_events
        self.legs = BoundedCache(cache_size)
        self.qos_reported = BoundedSet(cache_size)
        self.lookup_failed = BoundedSet(cache_size)

    # -- the cache ------------------------------------------------------------------------

    def learn(self, event: EslEvent) -> None:
        """Fill the cache from a channel event's Call-ID, other leg and media addresses."""
        uuid = event.unique_id
        if not uuid:
            return
        leg = self.legs.touch(uuid)
        call_id = event.get("variable_sip_call_id")
        if call_id:
            leg.call_id = call_id
            self.lookup_failed.discard(uuid)
        other_uuid = event.get("Other-Leg-Unique-ID")
        other_type = (event.get("Other-Type") or "").lower()
        originator: Leg | None = None
        if other_uuid and other_type != "originatee" and other_uuid in self.legs:
            # This leg was originated by the other one (a B-leg): group it under the
            # originator's Call-ID, as Homer expects for a bridged call.
            originator = self.legs[other_uuid]
        if originator is not None and (originator.correlation_id or originator.call_id):
            leg.correlation_id = originator.correlation_id or originator.call_id
        elif leg.correlation_id is None and leg.call_id:
            leg.correlation_id = leg.call_id
        for attr, name in (
            ("local_ip", "variable_local_media_ip"),
            ("remote_ip", "variable_remote_media_ip"),
        ):
            ip = _valid_ip(event.get(name))
            if ip:
                setattr(leg, attr, ip)
        for attr, name in (
            ("local_port", "variable_local_media_port"),
            ("remote_port", "variable_remote_media_port"),
        ):
            port = _int(event.get(name))
            if port is not None and 0 <= port <= 65535:
                setattr(leg, attr, port)

    def learn_call_id(self, uuid: str, call_id: str | None) -> None:
        """The answer of ``uuid_getvar <uuid> sip_call_id`` (None: unknown)."""
        if call_id:
            leg = self.legs.touch(uuid)
            leg.call_id = leg.call_id or call_id
            leg.correlation_id = leg.correlation_id or call_id
            self.lookup_failed.discard(uuid)
        else:
            self.lookup_failed.add(uuid)

    def correlation_for(self, event: EslEvent) -> str | None:
        uuid = event.unique_id
        if uuid and uuid in self.legs:
            leg = self.legs[uuid]
            return leg.correlation_id or leg.call_id
        return event.get("variable_sip_call_id")

    # -- mapping --------------------------------------------------------------------------

    def feed(self, event: EslEvent) -> MapResult:
        result = MapResult()
        name = event.name or ""
        subclass = event.subclass or ""
        if name == "CUSTOM":
            if subclass in CUSTOM_SUBCLASSES and self.call_events:
                self._registration(event, result)
            else:
                result.skipped.append(SKIP_NOT_REPORTED)
            return result
        if name in CALL_EVENTS:
            self.learn(event)
        wants = (
            (name in CALL_EVENTS and self.call_events)
            or (name in RTCP_EVENTS and self.rtcp_events)
            or (name in QOS_TRIGGERS and self.qos_events)
        )
        if not wants:
            result.skipped.append(SKIP_NOT_REPORTED)
            return result
        stamp = split_timestamp_us(event.get("Event-Date-Timestamp"))
        if stamp is None:
            result.skipped.append(SKIP_NO_TIMESTAMP)
            return result
        correlation = self.correlation_for(event)
        if correlation is None:
            uuid = event.unique_id
            if uuid and uuid not in self.lookup_failed:
                result.lookup_uuid = uuid
            else:
                result.skipped.append(SKIP_NO_CALL_ID)
            return result
        if name in CALL_EVENTS and self.call_events:
            result.messages.append(self._call_event(event, correlation, stamp))
        if name in RTCP_EVENTS:
            self._rtcp(event, correlation, stamp, result)
        if name in QOS_TRIGGERS and self.qos_events:
            self._qos(event, correlation, stamp, result)
        if name == "CHANNEL_DESTROY" and event.unique_id:
            # The leg is gone: free its cache entry now rather than waiting for the LRU bound
            # (its QoS mark stays in qos_reported, so a late duplicate is still refused).
            self.legs.pop(event.unique_id, None)
        return result

    def _addresses(self, event: EslEvent) -> tuple[str, str]:
        ip = _valid_ip(event.get("FreeSWITCH-IPv4")) or _valid_ip(event.get("FreeSWITCH-IPv6"))
        return ip or "127.0.0.1", ip or "127.0.0.1"

    def _call_event(self, event: EslEvent, correlation: str, stamp: tuple[int, int]) -> HepMessage:
        direction = event.get("Call-Direction")
        callee = event.get("Caller-Callee-ID-Number") if direction == "outbound" else None
        payload: dict[str, object] = {
            "event": event.name,
            "unique_id": event.unique_id,
            "call_id": correlation,
            "direction": direction,
            "caller": event.get("Caller-Caller-ID-Number"),
            "callee": callee or event.get("Caller-Destination-Number"),
            "state": event.get("Channel-Call-State") or event.get("Answer-State"),
            "timestamp_us": stamp[0] * 1_000_000 + stamp[1],
            "headers": event.headers.as_dict(),
        }
        fit_headers(payload, event)
        return self._message(
            PROTO_LOG, correlation, stamp, self._addresses(event), 0, 0, payload, event
        )

    def _registration(self, event: EslEvent, result: MapResult) -> None:
        stamp = split_timestamp_us(event.get("Event-Date-Timestamp"))
        if stamp is None:
            result.skipped.append(SKIP_NO_TIMESTAMP)
            return
        call_id = event.get("call-id")
        if not call_id:
            result.skipped.append(SKIP_NO_CALL_ID)
            return
        payload: dict[str, object] = {
            "event": f"CUSTOM {event.subclass}",
            "unique_id": None,
            "call_id": call_id,
            "direction": None,
            "caller": event.get("from-user"),
            "callee": event.get("to-user"),
            "state": event.get("status") or event.get("statusd"),
            "timestamp_us": stamp[0] * 1_000_000 + stamp[1],
            "headers": event.headers.as_dict(),
        }
        fit_headers(payload, event)
        result.messages.append(
            self._message(PROTO_LOG, call_id, stamp, self._addresses(event), 0, 0, payload, event)
        )

    def _media(self, event: EslEvent) -> tuple[str, int, str, int]:
        """(local ip, local port, remote ip, remote port) of the leg, best known."""
        leg = self.legs.get(event.unique_id or "")
        local_ip = leg.local_ip if leg else None
        remote_ip = leg.remote_ip if leg else None
        fallback_local = self._addresses(event)[0]
        local = local_ip or fallback_local
        family_any = "::" if ":" in local else "0.0.0.0"
        remote = remote_ip or family_any
        if (":" in local) != (":" in remote):
            remote = family_any
        return local, leg.local_port if leg else 0, remote, leg.remote_port if leg else 0

    def _rtcp(
        self, event: EslEvent, correlation: str, stamp: tuple[int, int], result: MapResult
    ) -> None:
        ssrc = _hex32(event.get("SSRC"))
        if ssrc is None:
            result.skipped.append(SKIP_BAD_RTCP)
            return
        prefixes: list[str] = []
        index = 0
        while event.get(f"Source{index}-SSRC") is not None:
            prefixes.append(f"Source{index}-")
            index += 1
        if not prefixes and event.get("Source-SSRC") is not None:
            prefixes.append("Source-")
        blocks: list[dict[str, int | None]] = []
        for prefix in prefixes:
            source = _hex32(event.get(prefix + "SSRC"))
            if source is None:
                continue
            blocks.append(
                {
                    "source_ssrc": source,
                    "fraction_lost": _int(event.get(prefix + "Fraction")),
                    "packets_lost": _int(event.get(prefix + "Lost")),
                    "highest_seq_no": _int(event.get(prefix + "Highest-Sequence-Number-Received")),
                    "ia_jitter": _int(event.get(prefix + "Jitter")),
                    "lsr": _int(event.get(prefix + "LSR")),
                    "dlsr": _int(event.get(prefix + "DLSR")),
                }
            )
        ntp_msw = _int(event.get("NTP-Most-Significant-Word")) or 0
        payload: dict[str, object] = {
            # RFC 3550 6.4: an SR carries sender information (NTP time); an RR does not.
            "type": 200 if ntp_msw else 201,
            "ssrc": ssrc,
            "report_count": len(blocks),
            "report_blocks": blocks,
        }
        if ntp_msw:
            payload["sender_information"] = {
                "ntp_timestamp_sec": ntp_msw,
                "ntp_timestamp_usec": _int(event.get("NTP-Least-Significant-Word")),
                "rtp_timestamp": _int(event.get("RTP-Timestamp")),
                "packets": _int(event.get("Sender-Packet-Count")),
                # FreeSWITCH spells it "Octect".
                "octets": _int(event.get("Octect-Packet-Count")),
            }
        local_ip, local_port, remote_ip, remote_port = self._media(event)
        if event.name == "RECV_RTCP_MESSAGE":
            # A report FreeSWITCH received travelled from the peer to FreeSWITCH.
            addresses, sport, dport = (remote_ip, local_ip), remote_port, local_port
        else:
            addresses, sport, dport = (local_ip, remote_ip), local_port, remote_port
        result.messages.append(
            self._message(
                PROTO_RTCP_JSON, correlation, stamp, addresses, sport, dport, payload, event
            )
        )

    def _qos(
        self, event: EslEvent, correlation: str, stamp: tuple[int, int], result: MapResult
    ) -> None:
        uuid = event.unique_id or ""
        if uuid in self.qos_reported:
            result.skipped.append(SKIP_QOS_DONE)
            return
        in_packets = _int(event.get("variable_rtp_audio_in_packet_count"))
        out_packets = _int(event.get("variable_rtp_audio_out_packet_count"))
        if in_packets is None and out_packets is None:
            result.skipped.append(SKIP_NO_RTP_STATS)
            return
        self.qos_reported.add(uuid)
        min_var = _float(event.get("variable_rtp_audio_in_jitter_min_variance"))
        max_var = _float(event.get("variable_rtp_audio_in_jitter_max_variance"))
        mos = _float(event.get("variable_rtp_audio_in_mos"))
        self.learn(event)
        local_ip, local_port, remote_ip, remote_port = self._media(event)
        payload: dict[str, object] = {
            "CORRELATION_ID": correlation,
            "RTP_SIP_CALL_ID": correlation,
            "JITTER": (min_var + max_var) / 2
            if min_var is not None and max_var is not None
            else None,
            "REPORT_TS": stamp[0] * 1_000_000 + stamp[1],
            "TL_BYTE": _sum(
                _int(event.get("variable_rtp_audio_in_media_bytes")),
                _int(event.get("variable_rtp_audio_out_media_bytes")),
            ),
            "TOTAL_PK": _sum(in_packets, out_packets),
            "PACKET_LOSS": _sum(
                _int(event.get("variable_rtp_audio_in_skip_packet_count")),
                _int(event.get("variable_rtp_audio_out_skip_packet_count")),
            ),
            "MAX_JITTER": max_var,
            "MIN_JITTER": min_var,
            "DELTA": _float(event.get("variable_rtp_audio_in_mean_interval")),
            "MOS": mos,
            "SRC_IP": local_ip,
            "SRC_PORT": local_port,
            "DST_IP": remote_ip,
            "DST_PORT": remote_port,
            "CODEC_PT": _int(event.get("variable_rtp_audio_recv_pt")),
            "PTIME": _int(event.get("variable_rtp_use_codec_ptime")),
            "CLOCK": _int(event.get("variable_rtp_use_codec_rate")),
            "CODEC_NAME": event.get("variable_rtp_use_codec_name"),
            "TYPE": event.name,
        }
        mos_chunk = round(mos * 100) if mos is not None and 0 <= mos <= 655 else None
        result.messages.append(
            self._message(
                PROTO_QOS_REPORT,
                correlation,
                stamp,
                (local_ip, remote_ip),
                local_port,
                remote_port,
                payload,
                event,
                mos_chunk,
            )
        )

    @staticmethod
    def _message(
        proto_type: int,
        correlation: str,
        stamp: tuple[int, int],
        addresses: tuple[str, str],
        sport: int,
        dport: int,
        payload: Mapping[str, object],
        event: EslEvent,
        mos: int | None = None,
    ) -> HepMessage:
        src, dst = addresses
        family = AF_INET6 if ":" in src else AF_INET
        return HepMessage(
            proto_type=proto_type,
            correlation_id=correlation,
            ts_sec=stamp[0],
            ts_usec=stamp[1],
            src=src,
            dst=dst,
            sport=sport,
            dport=dport,
            payload=json.dumps(payload, separators=(",", ":")).encode(),
            ip_family=family,
            mos=mos,
            event_name=event.name or "",
        )


def _payload_size(payload: Mapping[str, object]) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def fit_headers(payload: dict[str, object], event: EslEvent) -> None:
    """Keep a call event's payload within :data:`MAX_PAYLOAD_BYTES`.

    A HEP3 packet's length is 16 bits and a UDP datagram is at most 65,507 bytes, while a
    CHANNEL_HANGUP_COMPLETE with every channel variable (SDPs, codec lists) can be larger.
    The channel variables go first, then every header; ``headers_truncated`` says so.
    """
    if _payload_size(payload) <= MAX_PAYLOAD_BYTES:
        return
    payload["headers"] = {
        k: v for k, v in event.headers.as_dict().items() if not k.startswith("variable_")
    }
    payload["headers_truncated"] = True
    if _payload_size(payload) > MAX_PAYLOAD_BYTES:
        payload["headers"] = {}


def parse_uuid_getvar(body: str) -> str | None:
    """The value from ``api uuid_getvar``'s response: ``_undef_`` or ``-ERR ...`` is none."""
    value = body.strip()
    if not value or value == "_undef_" or value.startswith("-ERR") or value.startswith("-USAGE"):
        return None
    return value
