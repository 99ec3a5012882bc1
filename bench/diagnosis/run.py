"""How the pure call functions scale: diagnose(), summarize_calls() (find_calls, link_legs),
attach_streams() on generated captures of N short calls (5k, 10k, 20k by default).

Each call is a caller -> proxy -> callee INVITE with Record-Route, 100/180/200 on both hops,
the ACK and a BYE along the route set, an SDP offer/answer and one RTP stream per direction
(found by Call-ID for half of the calls, by announced endpoint for the other half): 13 SIP
messages per call. The messages are parsed before the clock starts; only the library
functions are timed. Prints
seconds per function and the exponent between consecutive sizes (1.0 = linear). The work is
linear (cProfile counts 4.0x the Python function calls for 4x the calls); on a loaded machine
the seconds are noisier than that.

    .venv/bin/python bench/diagnosis/run.py [N ...]
"""

from __future__ import annotations

import gc
import math
import sys
import time
from dataclasses import dataclass
from itertools import pairwise

from rtcscope.sip.calls import attach_streams, summarize_calls
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import diagnose
from rtcscope.sip.message import SipMessage

A, P, B = "10.0.0.1", "10.0.0.2", "10.0.0.3"


@dataclass(frozen=True)
class _Key:
    src: str
    src_port: int
    dst: str
    dst_port: int
    ssrc: int


@dataclass(frozen=True)
class _Stats:
    packets: int = 50


@dataclass(frozen=True)
class _Announcement:
    """What summarize_calls and the media checks read of a MediaAnnouncement."""

    frame: int
    ts_ns: int
    call_id: str
    side: str
    role: str
    address: str
    port: int
    cseq: str = "1 INVITE"
    sip_summary: str = "INVITE"
    media_index: int = 0
    media: str = "audio"
    direction: str = "sendrecv"
    on_hold: bool = False
    payload_types: tuple[int, ...] = (8,)
    codecs: tuple[()] = ()


@dataclass
class _Stream:
    """What attach_streams and the media checks read of an RtpStream."""

    key: _Key
    call_id: str | None
    start_ns: int
    first_frame: int
    stats: _Stats = _Stats()


def _call_texts(n: int) -> list[tuple[str, str, str]]:
    cid = f"call-{n}@bench"
    rr = f"Record-Route: <sip:{P};lr>\n"
    via_a = f"Via: SIP/2.0/UDP {A};branch=z9hG4bKa{n}\n"
    via_p = f"Via: SIP/2.0/UDP {P};branch=z9hG4bKp{n}\n"
    head = f"From: <sip:a@x>;tag=fa{n}\nCall-ID: {cid}\n"
    to = "To: <sip:b@x>\n"
    tot = f"To: <sip:b@x>;tag=tb{n}\n"
    end = "Content-Length: 0\n\n"
    inv = f"INVITE sip:b@x SIP/2.0\n{{via}}{head}{to}CSeq: 1 INVITE\nContact: <sip:a@{A}>\n"
    out = [
        (A, P, inv.format(via=via_a) + "Max-Forwards: 70\n" + end),
        (P, A, f"SIP/2.0 100 Trying\n{via_a}{head}{to}CSeq: 1 INVITE\n{end}"),
        (P, B, inv.format(via=via_p + via_a) + rr + "Max-Forwards: 69\n" + end),
    ]
    for code in ("180 Ringing", "200 OK"):
        contact = f"Contact: <sip:b@{B}>\n" if code.startswith("200") else ""
        out.append(
            (B, P, f"SIP/2.0 {code}\n{via_p}{via_a}{head}{tot}CSeq: 1 INVITE\n{rr}{contact}{end}")
        )
        out.append((P, A, f"SIP/2.0 {code}\n{via_a}{head}{tot}CSeq: 1 INVITE\n{rr}{contact}{end}"))
    for method, cseq, tag in (("ACK", 1, "k"), ("BYE", 2, "y")):
        va = f"Via: SIP/2.0/UDP {A};branch=z9hG4bK{tag}a{n}\n"
        vp = f"Via: SIP/2.0/UDP {P};branch=z9hG4bK{tag}p{n}\n"
        line = f"{method} sip:b@{B} SIP/2.0\n"
        out.append(
            (
                A,
                P,
                f"{line}{va}Route: <sip:{P};lr>\n{head}{tot}CSeq: {cseq} {method}\n"
                f"Max-Forwards: 70\n{end}",
            )
        )
        out.append(
            (P, B, f"{line}{vp}{va}{head}{tot}CSeq: {cseq} {method}\nMax-Forwards: 69\n{end}")
        )
        if method == "BYE":
            out.append((B, P, f"SIP/2.0 200 OK\n{vp}{va}{head}{tot}CSeq: 2 BYE\n{end}"))
            out.append((P, A, f"SIP/2.0 200 OK\n{va}{head}{tot}CSeq: 2 BYE\n{end}"))
    return [(src, dst, text) for src, dst, text in out]


def make_capture(calls: int) -> tuple[list[CapturedSip], list[_Stream], list[_Announcement]]:
    messages: list[CapturedSip] = []
    streams: list[_Stream] = []
    announcements: list[_Announcement] = []
    frame = 0
    for n in range(calls):
        base_ns = n * 200_000_000  # a new call every 200 ms, 4 s each: ~20 at once
        for i, (src, dst, text) in enumerate(_call_texts(n)):
            frame += 1
            message = SipMessage.parse(text.replace("\n", "\r\n").encode())
            ts = base_ns + i * 250_000_000
            messages.append(CapturedSip(frame, ts, src, 5060, dst, 5060, "udp", message))
        port = 10_000 + 2 * (n % 5000)
        by_id = f"call-{n}@bench" if n % 2 == 0 else None
        cid = f"call-{n}@bench"
        announcements.append(_Announcement(frame, base_ns, cid, "offer", "caller", A, port))
        announcements.append(_Announcement(frame, base_ns, cid, "answer", "callee", B, port))
        streams.append(_Stream(_Key(A, port, B, port, n), by_id, base_ns + 2_000_000_000, frame))
        streams.append(
            _Stream(_Key(B, port, A, port, n + 1), by_id, base_ns + 2_000_000_000, frame)
        )
    messages.sort(key=lambda m: (m.ts_ns, m.frame))
    return messages, streams, announcements


def _timed(label: str, fn: object, *args: object, **kwargs: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start, result


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [5_000, 10_000, 20_000]
    rows: list[tuple[int, float, float, float, int]] = []
    for size in sizes:
        messages, streams, announcements = make_capture(size)
        # The generated capture is long-lived: keep CPython's cyclic collector from rescanning
        # it on every collection (in 3.11 that rescanning alone grows faster than linearly).
        gc.collect()
        gc.freeze()
        t_calls, result = _timed("calls", summarize_calls, messages, announcements)
        t_attach, _ = _timed("attach", attach_streams, result.calls, streams)  # type: ignore[attr-defined]
        t_diag, diagnosis = _timed(
            "diagnose", diagnose, messages, (), announcements=announcements, streams=streams
        )
        rows.append((size, t_calls, t_attach, t_diag, len(messages)))
        assert len(result.calls) == size and diagnosis.calls == size  # type: ignore[attr-defined]
        assert not diagnosis.has_errors  # type: ignore[attr-defined]
        count = len(messages)
        del messages, streams, announcements, result, diagnosis
        gc.unfreeze()
        gc.collect()
        print(
            f"{size:>6} calls {count:>7} messages: summarize_calls {t_calls:7.2f} s, "
            f"attach_streams {t_attach:6.2f} s, diagnose {t_diag:7.2f} s",
            flush=True,
        )
    for (n1, *t1, _), (n2, *t2, _) in pairwise(rows):
        exps = [
            math.log(b / a) / math.log(n2 / n1) if a > 0 and b > 0 else float("nan")
            for a, b in zip(t1, t2, strict=True)
        ]
        print(
            f"{n1} -> {n2}: exponent summarize_calls {exps[0]:.2f}, attach_streams {exps[1]:.2f}, "
            f"diagnose {exps[2]:.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
