"""Media checks (RFC 3264, RFC 4961): what each side's latest SDP announces against the RTP
streams found: no RTP at all, one-way RTP (with a private address announced to a public peer,
the classic NAT case), RTP sent elsewhere than announced, and RTP arriving from another
address than the sender announced (NAT between them: symmetric RTP/latching, RFC 4961).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from rtcscope.sip.diagnosis.base import CheckerBase
from rtcscope.sip.routing import is_unroutable_address

if TYPE_CHECKING:
    from rtcscope.rtp.streams import RtpStream
    from rtcscope.sip.capture import MediaAnnouncement


def _media_name(announcement: MediaAnnouncement) -> str:
    return f"{announcement.media} m-line {announcement.media_index + 1}"


def _packets(stream: RtpStream) -> int:
    return stream.packets_lost[0]  # (no statistics summary made for it)


_first_frame = attrgetter("first_frame")

# How long after a call's last SIP message its streams are looked for (check_media's window;
# rtcscope.sip._routescan.usual_media is given it at setup).
MEDIA_WINDOW_NS = 5_000_000_000


class StreamIndex:
    """RTP streams by the Call-ID their SDP names, and the others by start time, so that each
    call finds its streams without scanning all of them (slots: what
    rtcscope.sip._routescan.usual_media reads of it)."""

    __slots__ = ("_by_call", "_loose", "_loose_starts")

    def __init__(self, streams: Iterable[RtpStream]) -> None:
        self._by_call: dict[str, list[RtpStream]] = defaultdict(list)
        loose: list[RtpStream] = []
        for stream in streams:
            if stream.call_id is not None:
                self._by_call[stream.call_id].append(stream)
            else:
                loose.append(stream)
        loose.sort(key=lambda s: s.start_ns)
        self._loose = loose
        self._loose_starts = [s.start_ns for s in loose]
        # Each call's own streams in frame order, once (a stable sort: what for_call's sort
        # makes of them with no loose stream among them).
        for own in self._by_call.values():
            if len(own) > 1:
                own.sort(key=_first_frame)

    def for_call(self, call_id: str, start_ns: int, end_ns: int) -> list[RtpStream]:
        """The call's own streams, and the streams without a Call-ID starting in its span,
        in frame order (not to be changed: a call's own list is the index's)."""
        own = self._by_call.get(call_id, [])
        starts = self._loose_starts
        lo = bisect_left(starts, start_ns)
        hi = bisect_right(starts, end_ns)
        if lo == hi:
            return own  # (sorted when indexed)
        found = [*own, *self._loose[lo:hi]]
        return sorted(found, key=_first_frame) if len(found) > 1 else found


class MediaChecks(CheckerBase):
    _media_reported: set[int]

    def check_media(
        self, announcements: Sequence[MediaAnnouncement], stream_index: StreamIndex
    ) -> None:
        # Each side's latest audio or video announcement per m-line, and whether an answer
        # came (without one, no offer/answer completed: no media is expected).
        latest: dict[tuple[str, int], MediaAnnouncement] = {}
        answered = False
        for a in announcements:
            if a.side == "answer":
                answered = True
            if a.media == "audio" or a.media == "video":
                latest[(a.role, a.media_index)] = a
        if not answered:
            return
        # This call's streams: tied to it by its SDP, or (found heuristically) during it.
        call = self.call
        call_start = call.first_ts_ns
        call_end = call.messages[-1].ts_ns if call.messages else call_start
        streams = stream_index.for_call(call.call_id, call_start, call_end + MEDIA_WINDOW_NS)
        self._media_reported = set()
        for (role, index), mine in latest.items():
            other = latest.get(("callee" if role == "caller" else "caller", index))
            if other is None or mine.address is None or other.address is None:
                continue
            if mine.port == 0 or other.port == 0:
                continue  # a rejected or removed stream (RFC 3264 6, 8.2)
            receives = mine.direction in ("sendrecv", "recvonly")
            sent_to_me = other.direction in ("sendrecv", "sendonly")
            if receives and sent_to_me:
                address, port = mine.address, mine.port
                arriving: list[RtpStream] = []
                for stream in streams:
                    key = stream.key
                    if key.dst == address and key.dst_port == port:
                        arriving.append(stream)
                # The usual answer, decided here: one stream arrives where the receiver
                # listens, from where the sender announced (_check_one_direction finds
                # nothing then).
                if len(arriving) == 1:
                    key = arriving[0].key
                    if key.src == other.address and key.src_port == other.port:
                        continue
                self._check_one_direction(mine, other, streams, arriving)

    def _check_one_direction(
        self,
        receiver: MediaAnnouncement,
        sender: MediaAnnouncement,
        streams: Sequence[RtpStream],
        arriving: list[RtpStream],
    ) -> None:
        """RTP the sender should send to where the receiver's SDP says it listens
        (``arriving``: the ``streams`` sent there)."""
        want = (receiver.address, receiver.port)
        sender_at = (sender.address, sender.port)
        if arriving:
            # the busiest (of one: that one)
            stream = arriving[0] if len(arriving) == 1 else max(arriving, key=_packets)
            source_at = (stream.key.src, stream.key.src_port)
            if source_at[0] != sender_at[0]:
                media = _media_name(receiver)
                self.add(
                    "media-from-other-address",
                    f"RTP for the {receiver.role} ({media}) comes from {stream.key.src}:"
                    f"{stream.key.src_port}, not from {sender.address}:{sender.port} as the "
                    f"{sender.role}'s SDP says (frame {sender.frame}): a NAT or a media relay "
                    "is between them",
                    element=f"{stream.key.src}:{stream.key.src_port}",
                    frames=[sender.frame, stream.first_frame],
                    ts_ns=stream.start_ns,
                )
            elif source_at[1] != sender_at[1]:
                media = _media_name(receiver)
                self.add(
                    "media-asymmetric-port",
                    f"the {sender.role} sends RTP ({media}) from port {stream.key.src_port}, "
                    f"not from the port it receives on ({sender.port}, frame {sender.frame}): "
                    "asymmetric RTP, which breaks NAT traversal that relies on latching",
                    element=f"{stream.key.src}:{stream.key.src_port}",
                    frames=[sender.frame, stream.first_frame],
                    ts_ns=stream.start_ns,
                )
            return
        # Nothing reaches the receiver's announced address: what does the capture hold?
        media = _media_name(receiver)
        from_sender = [
            s
            for s in streams
            if (s.key.src, s.key.src_port) == sender_at or (s.key.dst, s.key.dst_port) == sender_at
        ]
        reverse = [s for s in streams if (s.key.dst, s.key.dst_port) == sender_at]
        elsewhere = [
            s
            for s in streams
            if (s.key.src, s.key.src_port) == sender_at and (s.key.dst, s.key.dst_port) != want
        ]
        if elsewhere:
            stream = elsewhere[0]
            self.add(
                "media-to-other-address",
                f"the {sender.role} sends its RTP ({media}) to {stream.key.dst}:"
                f"{stream.key.dst_port}, but the {receiver.role} announced "
                f"{receiver.address}:{receiver.port} (frame {receiver.frame})",
                element=f"{sender.address}:{sender.port}",
                frames=[receiver.frame, stream.first_frame],
                ts_ns=stream.start_ns,
            )
            return
        if not from_sender and not reverse:
            if receiver.media_index in self._media_reported:
                return
            self._media_reported.add(receiver.media_index)
            self.add(
                "media-not-captured",
                f"no RTP of this call in the capture ({media}; the {receiver.role} listens at "
                f"{receiver.address}:{receiver.port}, the {sender.role} at "
                f"{sender.address}:{sender.port})",
                frames=[receiver.frame, sender.frame],
                ts_ns=receiver.ts_ns,
            )
            return
        # One-way: RTP flows towards the sender but nothing comes back to the receiver.
        # check_media only compares announcements that carry an address.
        receiver_address, sender_address = receiver.address or "", sender.address or ""
        why = is_unroutable_address(receiver_address)
        peer = (reverse or from_sender)[0]
        peer_public = not is_unroutable_address(peer.key.dst) or not is_unroutable_address(
            sender_address
        )
        nat = (
            f"; {receiver.address} is a {why} address announced to a peer at "
            f"{sender.address}: the classic NAT one-way audio"
            if why and peer_public and not is_unroutable_address(sender_address)
            else ""
        )
        self.add(
            "media-one-way",
            f"one-way media ({media}): RTP reaches the {sender.role} ({peer.stats.packets} "
            f"packets, {peer.key}) but none reaches the {receiver.role} at "
            f"{receiver.address}:{receiver.port}{nat}",
            element=f"{receiver.address}:{receiver.port}",
            frames=[receiver.frame, peer.first_frame],
            ts_ns=peer.start_ns,
        )

    # -- paths of in-dialog requests ---------------------------------------------------------
