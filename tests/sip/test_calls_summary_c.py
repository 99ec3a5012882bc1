"""The summary of a usual call in C (rtcscope.sip._callwalk.summarize_one) against its
specification, the pure-Python road (calls._summarize): the same CallSummary, field by
field (the same objects where _summarize hands over its inputs), for every call it does not
decline, on generated calls of many shapes (ringing, answered, refused, cancelled, resent
2xx, ACK missing or sent elsewhere, BYE by either side, INFO DTMF, SDP or none, an auth
retry, a proxy's second hop, times out of order) and on the calls of every capture of
tests/data and ../shared/captures; built and active under CI=true; RTCSCOPE_PURE=1 selects
the Python road.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import calls as calls_module
from rtcscope.sip import dialogs as dialogs_module
from rtcscope.sip import transactions as transactions_module
from rtcscope.sip.calls import CallSummary, _summarize, link_legs, summarize_calls
from rtcscope.sip.capture import CapturedSip, MediaAnnouncement, media_announcements
from rtcscope.sip.dialogs import Call, find_calls
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, IN_CI, c_module, shared_captures
from tests.sip.test_calls_walk_c import needs_c, road_of_copy

_callwalk = c_module("rtcscope.sip._callwalk")

A = ("10.0.0.1", 5060)
P = ("10.0.0.5", 5060)
B = ("10.0.0.2", 5070)
ELSEWHERE = ("192.0.2.9", 5060)
V6 = ("2001:db8::2", 5060)

# The field values _summarize hands over as it got them (the same objects).
_HANDED_OVER = {"legs", "messages"}


def _c_summary(
    index: int, legs: list[Call], announcements: list[Any], names: dict[Any, Any]
) -> CallSummary | None:
    assert _callwalk is not None
    # (set up as calls.py sets it up: under RTCSCOPE_PURE=1 calls.py did not.)
    calls_module._c_walk_setup(_callwalk)
    calls_module._c_sdp_setup(_callwalk)
    transactions_module._c_group_setup(_callwalk)
    dialogs_module._c_calls_setup(_callwalk)
    calls_module._c_summary_give(_callwalk)
    found: CallSummary | None = _callwalk.summarize_one(index, legs, announcements, names)
    return found


def _same(got: CallSummary, expected: CallSummary) -> None:
    assert type(got) is CallSummary
    for f in fields(CallSummary):
        a, b = getattr(got, f.name), getattr(expected, f.name)
        if f.name in _HANDED_OVER:
            assert a is b, f.name
            continue
        assert type(a) is type(b), f.name
        assert a == b, f.name
        if isinstance(a, dict):
            assert list(a.items()) == list(b.items()), f.name
    assert got.state is expected.state


def _compare_calls(messages: list[Any]) -> int:
    """Both roads on every call of ``messages``: how many the C road took."""
    dialogs = find_calls(messages)
    by_call_id: dict[Any, list[MediaAnnouncement]] = defaultdict(list)
    for announcement in media_announcements(messages):
        by_call_id[announcement.call_id].append(announcement)
    taken = 0
    for i, legs in enumerate(link_legs(dialogs, messages), 1):
        announcements = [a for leg in legs for a in by_call_id.get(leg.call_id, ())]
        c_names: dict[Any, Any] = {}
        py_names: dict[Any, Any] = {}
        got = _c_summary(i, legs, announcements, c_names)
        if got is None:
            continue  # (declined: _summarize does it)
        taken += 1
        _same(got, _summarize(i, legs, None, announcements, py_names))
        assert list(c_names.items()) == list(py_names.items())
    return taken


# -- generated calls ------------------------------------------------------------------------


def _sip(
    start: str,
    cseq: str,
    from_tag: str,
    to_tag: str | None,
    branch: str,
    sent_by: tuple[str, int],
    body: str = "",
    content_type: str | None = None,
    from_uri: str = "<sip:alice@example.com>",
) -> SipMessage:
    host, port = sent_by
    host_text = f"[{host}]" if ":" in host else host
    lines = [
        start,
        f"Via: SIP/2.0/UDP {host_text}:{port};branch={branch}",
        f"From: {from_uri};tag={from_tag}",
        "To: <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else ""),
        "Call-ID: call-1@example.com",
        f"CSeq: {cseq}",
        "Contact: <sip:alice@10.0.0.1:5060>",
    ]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return SipMessage.parse(("\r\n".join(lines) + "\r\n\r\n" + body).encode())


def _sdp(address: str, port: int) -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )


# From values: the usual shapes (the C road cuts their URI) and others (the property reads
# them): spaces around, no brackets, an unclosed one, non-ASCII, any printable text.
_address_values = st.one_of(
    st.sampled_from(
        [
            "<sip:alice@example.com>",
            '"Al" <sips:alice@h:5061;user=phone>',
            "  <sip:alice@[2001:db8::1]:5070>\t",
            "sip:alice@example.com",
            "Al <sip:alice@example.com",
            "\u00c5l <sip:alice@example.com>",
            "<tel:+123>",
            "\x1f<sip:a@b>",
        ]
    ),
    st.builds(
        "{}<{}:{}{}{}>".format,
        st.sampled_from(["", '"A b" ', "Al ", '"q\\"x" ']),
        st.sampled_from(["sip", "SIPS", "tel"]),
        st.sampled_from(["", "alice@", "a;b@", "@"]),
        st.sampled_from(["h", "[::1]", "h.example", "", "h_1"]),
        st.sampled_from(["", ":5060", ":65536", ":0", ";lr", ";transport=tcp:x"]),
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=24),
)


@st.composite
def generated_calls(draw: st.DrawFn) -> list[CapturedSip]:
    out: list[tuple[tuple[str, int], tuple[str, int], SipMessage]] = []
    callee = draw(st.sampled_from([B, B, V6]))
    hops = [(A, callee)] if draw(st.integers(0, 3)) else [(A, P), (P, callee)]
    with_sdp = draw(st.booleans())
    offer = _sdp("10.0.0.1", 4000) if with_sdp else ""
    answer = _sdp(callee[0], 5000) if with_sdp and draw(st.integers(0, 4)) else ""
    kind = "application/sdp" if with_sdp else None
    from_uri = draw(_address_values)
    cseq = 1
    if draw(st.integers(0, 4)) == 0:  # an auth challenge first (22.2)
        for n, (src, dst) in enumerate(hops):
            invite = _sip("INVITE sip:bob@h SIP/2.0", "1 INVITE", "ft", None, f"z9hG4bKa{n}", src)
            out.append((src, dst, invite))
        for n, (src, dst) in reversed(list(enumerate(hops))):
            refusal = _sip("SIP/2.0 407 Proxy Auth", "1 INVITE", "ft", "x", f"z9hG4bKa{n}", src)
            out.append((dst, src, refusal))
            ack = _sip("ACK sip:bob@h SIP/2.0", "1 ACK", "ft", "x", f"z9hG4bKa{n}", src)
            out.append((src, dst, ack))
        cseq = 2
    branch = draw(st.sampled_from(["z9hG4bKi", "z9hG4bKj"]))
    for n, (src, dst) in enumerate(hops):
        invite = _sip(
            "INVITE sip:bob@h SIP/2.0",
            f"{cseq} INVITE",
            "ft",
            None,
            f"{branch}{n}",
            src,
            offer,
            kind,
            from_uri,
        )
        for _ in range(draw(st.integers(1, 2))):  # the request resent
            out.append((src, dst, invite))
    provisional = draw(st.sampled_from([None, 100, 180, 183, 180]))
    final = draw(st.sampled_from([None, 200, 200, 200, 486, 487, 404, 302, 600]))
    cancel = draw(st.integers(0, 5)) == 0
    for code in (provisional, final):
        if code is None:
            continue
        if cancel and code >= 200:
            src, dst = hops[0]
            cancelling = _sip(
                "CANCEL sip:b@h SIP/2.0", f"{cseq} CANCEL", "ft", None, f"{branch}0", src
            )
            out.append((src, dst, cancelling))
        for n, (src, dst) in reversed(list(enumerate(hops))):
            body = answer if code == 200 or code == 183 else ""
            response = _sip(
                f"SIP/2.0 {code} Whatever",
                f"{cseq} INVITE",
                "ft",
                "tt" if code > 100 else None,
                f"{branch}{n}",
                src,
                body,
                kind if body else None,
                from_uri,
            )
            for _ in range(draw(st.integers(1, 2)) if code == 200 else 1):  # 2xx resent
                out.append((dst, src, response))
    answered = final == 200
    if answered:
        ack_to = draw(st.sampled_from(["uas", "uas", "elsewhere", "none"]))
        if ack_to != "none":
            dst = callee if ack_to == "uas" else ELSEWHERE
            ack = _sip("ACK sip:b@h SIP/2.0", f"{cseq} ACK", "ft", "tt", "z9hG4bKack", A)
            out.append((A, dst, ack))
            if draw(st.booleans()):  # a late copy of the 2xx
                src, dst = hops[-1]
                late = _sip("SIP/2.0 200 OK", f"{cseq} INVITE", "ft", "tt", f"{branch}0", A)
                out.append((dst, src, late))
        if draw(st.booleans()):
            info = _sip(
                "INFO sip:b@h SIP/2.0",
                f"{cseq + 1} INFO",
                "ft",
                "tt",
                "z9hG4bKinfo",
                A,
                "Signal=5\r\nDuration=160\r\n",
                "application/dtmf-relay",
            )
            out.append((A, callee, info))
        by = draw(st.sampled_from(["caller", "callee", None]))
        if by == "caller":
            bye = _sip("BYE sip:b@h SIP/2.0", f"{cseq + 2} BYE", "ft", "tt", "z9hG4bKbye", A)
            out.append((A, callee, bye))
        elif by == "callee":
            bye = _sip("BYE sip:a@h SIP/2.0", "7 BYE", "tt", "ft", "z9hG4bKbye2", callee)
            out.append((callee, A, bye))
    captured: list[CapturedSip] = []
    ts_ns = 1_700_000_000_000_000_000
    for frame, (src, dst, message) in enumerate(out, 1):
        step = draw(st.sampled_from([1_000_000, 20_000_000, 0, -5])) if frame > 1 else 0
        ts_ns += step if draw(st.integers(0, 9)) == 0 else abs(step) + 1
        captured.append(CapturedSip(frame, ts_ns, *src, *dst, "udp", message))  # type: ignore[arg-type]
    return captured


@needs_c
def test_c_summary_of_generated_calls() -> None:
    """Both roads agree on every generated call C takes, and C takes most of them (a C road
    that declined every call would agree with anything)."""
    runs = [0, 0]  # (examples, calls the C road took)

    @settings(max_examples=300, deadline=None)
    @given(generated_calls())
    def compare(messages: list[CapturedSip]) -> None:
        runs[0] += 1
        runs[1] += _compare_calls(messages)

    compare()
    assert runs[1] * 2 >= runs[0], runs


class _Address(str):
    """An address of another class than str: the C tracker's table does not compare it."""


@needs_c
@settings(max_examples=60, deadline=None)
@given(
    generated_calls(),
    st.integers(0, 12),
    st.integers(0, 12),
    st.sampled_from(["exact", "subclass", "int-like"]),
)
def test_c_summary_of_calls_in_many_directions(
    messages: list[CapturedSip], directions: int, at: int, odd: str
) -> None:
    """The tracker's state over more directions than its table holds (INFOs resent from
    other ports, inserted among the call's messages), and with a key value it does not
    compare in place (an address of another class, a bool port): moved into a dict, the
    same marks as the Python road's."""
    extra: list[CapturedSip] = []
    for n in range(directions):
        info = _sip("INFO sip:b@h SIP/2.0", f"{50 + n % 3} INFO", "ft", "tt", f"z9hG4bKx{n}", A)
        address: str = A[0]
        port: int = 6000 + n
        if odd == "subclass" and n == directions - 1:
            address = _Address(address)
        elif odd == "int-like" and n == directions - 1:
            port = True
        for _ in range(1 + n % 2):  # (resent: a mark)
            extra.append(CapturedSip(0, 0, address, port, *B, "udp", info))  # type: ignore[arg-type]
    if odd != "exact":
        # The odd value equal to one a key already in the table holds (an exact str address,
        # port 1): one direction, its second copy resent, as the Python road's dict finds it.
        info = _sip("INFO sip:b@h SIP/2.0", "60 INFO", "ft", "tt", "z9hG4bKodd", A)
        odd_key = (_Address(A[0]), 6000) if odd == "subclass" else (A[0], True)
        for address, port in ((A[0], 6000 if odd == "subclass" else 1), odd_key):
            extra.append(CapturedSip(0, 0, address, port, *B, "udp", info))
    at = min(at, len(messages))
    taken = _compare_calls(_in_time_order(messages[:at] + extra + messages[at:]))
    if odd == "exact":  # (the INFOs change nothing the C road declines for)
        assert taken == _compare_calls(_in_time_order(messages))


def _in_time_order(messages: list[CapturedSip]) -> list[CapturedSip]:
    """The messages numbered again, 1 ms apart."""
    return [
        dataclasses.replace(captured, frame=frame, ts_ns=frame * 1_000_000)
        for frame, captured in enumerate(messages, 1)
    ]


@needs_c
@settings(max_examples=150, deadline=None)
@given(generated_calls())
def test_summarize_calls_gives_the_same_calls_on_both_roads(messages: list[CapturedSip]) -> None:
    """The whole call list, each call's JSON object and the statistics, with the C road
    and without it (declined calls included)."""
    assert _callwalk is not None
    _c_summary(1, [], [], {})  # (set up here: under RTCSCOPE_PURE=1 calls.py did not)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calls_module, "_summarize_one", _callwalk.summarize_one)
        with_c = summarize_calls(messages)
        patch.setattr(calls_module, "_summarize_one", None)
        without = summarize_calls(messages)
    assert [c.as_dict(with_c.first_ns, None) for c in with_c.calls] == [
        c.as_dict(without.first_ns, None) for c in without.calls
    ]
    assert with_c.statistics.as_dict() == without.statistics.as_dict()


def _captures() -> list[Path]:
    return sorted(DATA.glob("*.pcap*")) + shared_captures()


@needs_c
@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_c_summary_of_real_calls(path: Path) -> None:
    try:
        messages = list(sip_messages(path))
    except Exception:  # (a capture the reader refuses: none of its calls to compare)
        pytest.skip("not a readable capture")
    _compare_calls(messages)


@needs_c
def test_c_summary_takes_the_usual_calls() -> None:
    messages = list(sip_messages(DATA / "aaa.pcap"))
    assert _compare_calls(messages) > 0


@needs_c
def test_a_leg_whose_initial_invite_has_no_request_is_declined() -> None:
    """initial_invites is read from the leg as it is: an INVITE transaction without a
    request there is declined (the Python road raises IndexError), not read past its end."""
    messages = list(sip_messages(DATA / "aaa.pcap"))
    taken = [
        legs[0]
        for i, legs in enumerate(link_legs(find_calls(messages), messages), 1)
        if len(legs) == 1 and _c_summary(i, legs, [], {}) is not None
    ]
    assert taken
    leg = taken[0]
    empty = transactions_module.Transaction(
        transactions_module.TransactionKey(leg.call_id, "z9hG4bKnone", "INVITE"), "INVITE", 1
    )
    object.__setattr__(leg, "_initial", (leg.transactions, len(leg.transactions), [empty]))
    assert leg.initial_invites == [empty]
    assert _c_summary(1, [leg], [], {}) is None
    with pytest.raises(IndexError):
        _summarize(1, [leg], None, [], {})


@needs_c
def test_setup_refuses_other_summary_fields() -> None:
    assert _callwalk is not None
    names = tuple(f.name for f in fields(CallSummary))
    for other in (names[:-1], (*names[:-1], "extra"), (*names, "extra")):
        with pytest.raises(TypeError):
            _callwalk.setup_summary(
                CallSummary, other, SipMessage, (None,) * 9, calls_module._info_digits, str
            )
    _c_summary(1, [], [], {})  # (set up again as calls.py sets it up)


def test_the_summary_accelerator_is_built_and_active_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _callwalk is not None
    assert calls_module.SUMMARY_ROAD == "c"


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    assert road_of_copy(monkeypatch, calls_module, "1", "SUMMARY_ROAD") == "python"
    # (It reads what the C grouping makes: the Python road where that one is.)
    expected = "c" if _callwalk is not None and dialogs_module.CALLS_ROAD == "c" else "python"
    assert road_of_copy(monkeypatch, calls_module, None, "SUMMARY_ROAD") == expected
