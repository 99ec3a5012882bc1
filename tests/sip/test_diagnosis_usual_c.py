"""The usual answered call's diagnosis in one C step (rtcscope.sip._routescan.usual_call)
against its specification, the Python direct road (CallChecker.run_direct with
PathChecks.trace_dialog_direct): wherever the C step does not decline (None), the Python
road takes the call too, finds nothing, and makes the same paths (DeliveredPath of the
same request, method, CSeq and far end, in the same order). On generated calls of every
shape tests/sip/test_diagnosis_direct.py draws (the plain call and each near miss, refused
calls, hypothesis over all of them and over the Contact and Request-URI texts), and on
every call of every capture of tests/data and ../shared/captures; built and active under
CI=true; RTCSCOPE_PURE=1 selects the Python road (the C step is then compared where built).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope.scan.files import sip_messages
from rtcscope.sip import diagnosis as diagnosis_module
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import CallChecker, IcmpReport, diagnose
from rtcscope.sip.diagnosis.base import IcmpIndex
from rtcscope.sip.diagnosis.media import StreamIndex
from rtcscope.sip.diagnosis.model import DeliveredPath
from rtcscope.sip.dialogs import Call, find_calls
from tests.conftest import DATA, IN_CI, c_module, needs_built, shared_captures
from tests.peers import fresh_python
from tests.sip.test_diagnosis_direct import (
    _SHAPES,
    NEAR_MISSES,
    PLAIN,
    REFUSED,
    REFUSED_NEAR_MISSES,
    UAS,
    build,
)

_routescan = c_module("rtcscope.sip._routescan")
needs_c = needs_built(_routescan)


def _c_road() -> Callable[[Call, bool], list[Any] | None]:
    assert _routescan is not None
    # (set up as the diagnosis sets it up: under RTCSCOPE_PURE=1 it did not)
    return diagnosis_module._usual_call_setup(_routescan)[0]


def _c_refused() -> Callable[[Call], Any]:
    assert _routescan is not None
    return diagnosis_module._usual_call_setup(_routescan)[1]


START_NS = 1_000_000  # (where findings' times count from)


def _compare_refused(call: Call, index: IcmpIndex) -> bool:
    """usual_refused against run_refused_direct (the finding and the path made of its facts
    as the diagnosis makes them): whether the C step took the call."""
    facts = _c_refused()(call)
    if facts is None:
        return False
    checker = CallChecker(call, index, START_NS, 0)
    assert checker.initial_invites
    assert checker.run_refused_direct() is True
    assert type(facts) is tuple and len(facts) == 4
    txn, final, max_forwards, vias = facts
    assert txn is call.transactions[0] and final is txn.final
    assert type(vias) is int and (max_forwards is None or type(max_forwards) is int)
    finding, path = diagnosis_module._usual_refused_result(call, facts, START_NS)
    assert [finding] == checker.findings
    assert [path] == checker.paths
    assert type(path) is type(checker.paths[0])
    for got, expected in zip(path.steps, checker.paths[0].steps, strict=True):
        assert type(got) is type(expected)
        for name in ("frame", "ts_ns", "src", "dst", "request_uri", "routes", "max_forwards"):
            assert type(getattr(got, name)) is type(getattr(expected, name)), name
    assert type(finding.time_s) is float
    assert finding.as_dict() == checker.findings[0].as_dict()
    assert path.as_dict() == checker.paths[0].as_dict()
    return True


def _compare(calls: list[Call], icmp: list[IcmpReport]) -> int:
    """Both roads on every INVITE call: how many the C steps took."""
    usual = _c_road()
    index = IcmpIndex(icmp)
    taken = 0
    for call in calls:
        if not call.is_invite_call:
            continue
        found = usual(call, bool(index))
        if found is None:
            taken += _compare_refused(call, index)
            continue
        taken += 1
        checker = CallChecker(call, index, 0, 0)
        assert checker.initial_invites
        assert checker.run_refused_direct() is False
        assert checker.run_direct() is True
        assert checker.findings == []
        assert type(found) is list
        assert len(found) == len(checker.paths)
        for got, expected in zip(found, checker.paths, strict=True):
            assert type(got) is DeliveredPath and type(expected) is DeliveredPath
            assert (got.call_id, got.method, got.cseq) == (
                expected.call_id,
                expected.method,
                expected.cseq,
            )
            assert got._sent is expected._sent  # type: ignore[attr-defined]
            assert got._far == expected._far  # type: ignore[attr-defined]
            assert got == expected
            assert got.as_dict() == expected.as_dict()
    return taken


def _compare_messages(messages: list[CapturedSip], icmp: list[IcmpReport]) -> int:
    return _compare(find_calls(messages), icmp)


@needs_c
def test_the_plain_call_takes_the_c_step() -> None:
    assert _compare_messages(*build(PLAIN)) == 1


@needs_c
@pytest.mark.parametrize(
    "change",
    [
        {"answer_twice": "resent-early"},
        {"answer_twice": "resent-early", "ringing_twice": "resent"},
        {"answer_twice": "resent-early", "bye": "callee"},
        {"ringing_twice": "resent"},
        {"bye": "callee"},
        {"transport": "tcp"},
    ],
    ids=str,
)
def test_the_c_step_takes_a_resent_2xx_and_a_bye_by_either_side(change: dict[str, object]) -> None:
    assert _compare_messages(*build(replace(PLAIN, **change))) == 1  # type: ignore[arg-type]


@needs_c
@pytest.mark.parametrize(
    "change", NEAR_MISSES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
)
def test_each_near_miss(change: dict[str, object]) -> None:
    _compare_messages(*build(replace(PLAIN, **change)))  # type: ignore[arg-type]


@needs_c
@pytest.mark.parametrize(
    "change",
    [{**REFUSED, **c} for c in REFUSED_NEAR_MISSES],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_each_refused_call_is_declined_or_agrees(change: dict[str, object]) -> None:
    _compare_messages(*build(replace(PLAIN, **change)))  # type: ignore[arg-type]


@needs_c
@pytest.mark.parametrize(
    "change",
    [{}, {"final": "408 Request Timeout"}, {"final": "503 Service Unavailable"}],
    ids=str,
)
def test_the_usual_refused_call_takes_the_c_step(change: dict[str, object]) -> None:
    assert _compare_messages(*build(replace(PLAIN, **{**REFUSED, **change}))) == 1  # type: ignore[arg-type]


@needs_c
@pytest.mark.parametrize(
    ("change", "taken"),
    [
        ({"ack_uri": f"sip:bob@{UAS.upper()}:5060"}, 1),  # (an IPv4 address: no case)
        # (plain_sip_target's scheme is lower-case, as _PLAIN_SIP_URI's: the Python road)
        ({"answer_contact": f"<SIP:bob@{UAS}:5060>", "ack_uri": f"SIP:bob@{UAS}:5060"}, 0),
        ({"answer_contact": f"<sip:bob@{UAS}>", "ack_uri": f"sip:bob@{UAS}"}, 1),
        ({"answer_contact": f"<sips:bob@{UAS}:5060>", "ack_uri": f"sips:bob@{UAS}:5060"}, 1),
        ({"answer_contact": f"<sip:{UAS}:5060>", "ack_uri": f"sip:{UAS}:5060"}, 1),
        ({"answer_contact": f"<sip:bob@{UAS}:5060;transport=udp>"}, 0),
        ({"answer_contact": f"<sip:bob@{UAS}:05060>", "ack_uri": f"sip:bob@{UAS}:05060"}, 0),
        ({"answer_contact": f"<sip:bob@{UAS}:065536>", "ack_uri": f"sip:bob@{UAS}:065536"}, 0),
        ({"ack_dport": 5070, "ack_uri": f"sip:bob@{UAS}:5070"}, 0),
    ],
    ids=str,
)
def test_contact_shapes(change: dict[str, object], taken: int) -> None:
    """The 2xx's Contact and the ACK's Request-URI in many shapes: the C step agrees where
    it takes the call, and takes the plain shapes (no port, no user, sips, a host's case)
    where the ACK is the one in-dialog request (the BYE's Request-URI is the generator's
    own: another text than such a Contact, which the C step leaves to Python)."""
    _compare_messages(*build(replace(PLAIN, **change)))  # type: ignore[arg-type]
    shape = replace(PLAIN, **change, bye="")  # type: ignore[arg-type]
    assert _compare_messages(*build(shape)) == taken


@needs_c
@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES)
def test_generated_calls(shape: Any) -> None:
    _compare_messages(*build(shape))


_URI_TEXT = st.lists(
    st.sampled_from([*"sipSIP:@.-;<>=_[]05 \t", UAS, "bob", "5060", "\u00e9", "\u2028"]),
    max_size=12,
).map("".join)


@needs_c
@settings(max_examples=300, deadline=None)
@given(contact=_URI_TEXT, uri=_URI_TEXT, contact_uri=st.booleans())
def test_any_contact_and_request_uri_text(contact: str, uri: str, contact_uri: bool) -> None:
    """Any Contact value and ACK Request-URI text: the C step declines or agrees (never a
    crash; bytes outside the usual shapes are the Python road's)."""
    text = f"<{contact}>" if contact_uri else contact
    try:
        messages, icmp = build(replace(PLAIN, answer_contact=text, ack_uri=uri or "x"))
    except ValueError:
        return  # (a text that the generator cannot write into a message)
    _compare_messages(messages, icmp)


def _captures() -> list[Path]:
    paths = [p for p in sorted(DATA.iterdir()) if p.suffix in {".pcap", ".pcapng"}]
    paths += [p for p in sorted(DATA.iterdir()) if p.name.endswith(".pcap.gz")]
    return paths + shared_captures()


@needs_c
@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_every_capture(path: Path) -> None:
    try:
        messages = list(sip_messages(path, keep_going=True))
    except Exception as exc:  # (a capture this reader refuses: nothing to compare)
        pytest.skip(f"unreadable here: {exc}")
    _compare_messages(messages, [])


@needs_c
def test_the_c_step_leaves_an_icmp_capture_to_python() -> None:
    messages, _ = build(PLAIN)
    report = IcmpReport(1, 0, "192.0.2.1", "port unreachable", "a", 1, "b", 2)
    assert _c_road()(find_calls(messages)[0], True) is None
    assert _compare_messages(messages, [report]) == 0


@needs_c
def test_a_class_changed_after_setup_is_declined_then_read_again() -> None:
    """The C step reads a slot at its offset while the class holds it: a property put over
    one after setup declines the call (nothing read where the slot was), the slot put back
    takes it again (_slotread.h's readers relearn a changed class by its version tag)."""
    call = find_calls(build(PLAIN)[0])[0]
    usual = _c_road()
    assert usual(call, False) is not None
    slot = CapturedSip.__dict__["ts_ns"]
    try:
        CapturedSip.ts_ns = property(lambda self: 0)  # type: ignore[assignment]
        assert usual(call, False) is None
    finally:
        CapturedSip.ts_ns = slot  # type: ignore[misc]
    assert usual(call, False) is not None


@needs_c
def test_the_diagnosis_with_and_without_the_c_step() -> None:
    """The whole diagnosis (findings, paths, as written) is the same on both roads."""
    messages, icmp = build(PLAIN)
    saved = diagnosis_module._usual_call
    try:
        diagnosis_module._usual_call = _c_road()
        with_c = diagnose(messages, icmp)
        diagnosis_module._usual_call = None
        without = diagnose(messages, icmp)
    finally:
        diagnosis_module._usual_call = saved
    assert [type(p) for p in with_c.paths] == [DeliveredPath, DeliveredPath]
    assert with_c.as_dict() == without.as_dict()


@needs_c
def test_setup_refuses_classes_without_the_slots() -> None:
    assert _routescan is not None
    with pytest.raises((TypeError, AttributeError)):
        _routescan.setup_usual_call(DeliveredPath, *[Call] * 9)
    _c_road()  # (set up again as the diagnosis has it)


def test_the_c_step_is_built_and_active_in_ci() -> None:
    """CI measures what is shipped: the C step built and used by the diagnosis."""
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert _routescan is not None
    assert diagnosis_module.USUAL_CALL_ROAD == "c"
    assert diagnosis_module._usual_call is _routescan.usual_call
    assert diagnosis_module._usual_media is _routescan.usual_media
    assert diagnosis_module._usual_refused is _routescan.usual_refused


def test_pure_selects_the_python_road() -> None:
    """RTCSCOPE_PURE=1 (a fresh interpreter: the road is chosen at import): no C step."""
    probe = (
        "import rtcscope.sip.diagnosis as d; "
        "print(d.USUAL_CALL_ROAD, d._usual_call, d._usual_refused, d._usual_media)"
    )
    assert fresh_python(probe, "1") == "python None None None"


@needs_c
def test_the_benchmark_calls(tmp_path: Path) -> None:
    """The calls of issue 14's benchmark capture (bench/analyze/callgen.py: answered,
    refused and timed-out calls between many UAs): most take the C step, all agree."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "analyze"))
    try:
        from callgen import generate
    finally:
        sys.path.pop(0)
    path = tmp_path / "b.pcap"
    generate(path, 60)
    calls = find_calls(list(sip_messages(path)))
    taken = _compare(calls, [])
    assert taken > len(calls) // 2


# -- the usual media (rtcscope.sip._routescan.usual_media against MediaChecks.check_media) --


def _c_media() -> Any:
    assert _routescan is not None
    return diagnosis_module._usual_call_setup(_routescan)[2]


def _media_agrees(call: Call, announced: list[Any], index: StreamIndex) -> bool:
    """usual_media's answer; where True, check_media finds nothing."""
    answer = _c_media()(call, announced, index)
    assert type(answer) is bool
    if answer:
        checker = CallChecker(call, IcmpIndex(), 0, 0)
        checker.check_media(announced, index)
        assert checker.findings == []
    return answer


def _model(path: Path) -> Any:
    from rtcscope.scan import ScanOptions, Tap, scan

    return scan(path, ScanOptions(taps=frozenset({Tap.COUNTS, Tap.SIP, Tap.RTP})))


@needs_c
@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_the_usual_media_of_every_capture(path: Path) -> None:
    try:
        model = _model(path)
    except Exception as exc:  # (a capture this reader refuses: nothing to compare)
        pytest.skip(f"unreadable here: {exc}")
    index = StreamIndex(model.streams)
    for call in model.dialogs():
        announced = [a for a in model.announcements if a.call_id == call.call_id]
        _media_agrees(call, announced, index)


_MEDIA_CAPTURE = DATA / "sip-rtp-g722.pcap"


@needs_c
def test_the_usual_media_of_a_plain_call_is_decided_in_c() -> None:
    model = _model(_MEDIA_CAPTURE)
    index = StreamIndex(model.streams)
    answers = [
        _media_agrees(call, [a for a in model.announcements if a.call_id == call.call_id], index)
        for call in model.dialogs()
    ]
    assert True in answers


@needs_c
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_changed_announcements_and_streams(data: st.DataObject) -> None:
    """The media capture's call with its announcements changed (address, port, direction,
    role, media, side, m-line; some dropped or doubled) and some of its streams dropped:
    usual_media says True only where check_media finds nothing."""
    model = _media_model()
    call = model.dialogs()[0]
    announced = [a for a in model.announcements if a.call_id == call.call_id]
    changed = []
    for a in announced:
        edit = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "address": st.sampled_from([None, "10.0.0.1", a.address]),
                    "port": st.sampled_from([0, 1, a.port]),
                    "direction": st.sampled_from(["sendrecv", "recvonly", "sendonly", "x"]),
                    "role": st.sampled_from(["caller", "callee", "other"]),
                    "media": st.sampled_from(["audio", "video", "image"]),
                    "side": st.sampled_from(["offer", "answer"]),
                    "media_index": st.sampled_from([0, 1]),
                },
            )
        )
        for _ in range(data.draw(st.integers(0, 2))):
            changed.append(a._replace(**edit))
    streams = [s for s in model.streams if data.draw(st.booleans())]
    if data.draw(st.booleans()):  # some streams not tied to a call (for_call's other road)
        streams = [copy.copy(s) for s in streams]
        for stream in streams:
            if data.draw(st.booleans()):
                stream.call_id = None
    _media_agrees(call, changed, StreamIndex(streams))


_MEDIA_MODEL: list[Any] = []


def _media_model() -> Any:
    if not _MEDIA_MODEL:
        _MEDIA_MODEL.append(_model(_MEDIA_CAPTURE))
    return _MEDIA_MODEL[0]


# -- an emptied slot (the reviewer's crash reproducers, and every slot the C steps read) --

_READ_SLOTS = {
    "Call": ("call_id", "transactions", "messages"),
    "Transaction": ("method", "cseq", "requests", "responses", "acks"),
    "CapturedSip": ("message", "ts_ns", "src", "sport", "dst", "dport", "transport"),
    "SipMessage": (
        "raw",
        "status_code",
        "to_tag",
        "from_tag",
        "cseq",
        "sent_by",
        "request_uri_text",
        "_vias",
    ),
}


def _emptied(change: dict[str, object], where: str, index: int, slot: str) -> tuple[Any, Any]:
    """A fresh call of the shape with one slot of one of its objects deleted (what Python
    code may do to a slotted object): (messages, call)."""
    messages, _ = build(replace(PLAIN, **change))  # type: ignore[arg-type]
    call = find_calls(messages)[0]
    owners = {
        "Call": [call],
        "Transaction": call.transactions,
        "CapturedSip": call.messages,
        "SipMessage": [m.message for m in call.messages],
    }[where]
    if index >= len(owners):
        return None, None
    object.__delattr__(owners[index], slot)
    return messages, call


def _outcome(messages: Any, call: Call, c_steps: bool) -> object:
    """The diagnosis as written, or the type of the exception it raised."""
    saved = (
        diagnosis_module._usual_call,
        diagnosis_module._usual_refused,
        diagnosis_module._usual_media,
    )
    try:
        if c_steps:
            (
                diagnosis_module._usual_call,
                diagnosis_module._usual_refused,
                diagnosis_module._usual_media,
            ) = diagnosis_module._usual_call_setup(_routescan)
        else:
            diagnosis_module._usual_call = None
            diagnosis_module._usual_refused = None
            diagnosis_module._usual_media = None
        return diagnose(messages, calls=[call]).as_dict()
    except Exception as exc:  # (the Python road raises on an emptied slot it reads)
        return type(exc)
    finally:
        (
            diagnosis_module._usual_call,
            diagnosis_module._usual_refused,
            diagnosis_module._usual_media,
        ) = saved


@needs_c
@pytest.mark.parametrize("which", ["cseq", "ts"])
def test_the_reviewers_emptied_slots(which: str) -> None:
    """/tmp/rev12/crash_cseq.py: the refused call's transaction without its cseq, its
    refusal without its ts_ns (a segfault before): the C step declines, or the diagnosis
    raises as the Python road does."""
    call = find_calls(build(replace(PLAIN, **REFUSED))[0])[0]  # type: ignore[arg-type]
    txn = call.transactions[0]
    if which == "cseq":
        object.__delattr__(txn, "cseq")
        assert _c_refused()(call) is None
    else:
        final = next(r for r in txn.responses if (r.message.status_code or 0) >= 300)
        object.__delattr__(final, "ts_ns")
        messages = call.messages
        assert _outcome(messages, call, True) == _outcome(messages, call, False)


@needs_c
@pytest.mark.parametrize("change", [{}, REFUSED, {"bye": "callee"}], ids=str)
@pytest.mark.parametrize(
    ("where", "slot"), [(w, s) for w, slots in _READ_SLOTS.items() for s in slots]
)
def test_every_emptied_slot(change: dict[str, object], where: str, slot: str) -> None:
    """Each slot the C steps read, emptied on each object of the call in turn: no crash, and
    the diagnosis is the Python road's (the same, or the same exception); where the Python
    road raises on a slot the C steps do not read, their answer stands."""
    for index in range(12):
        messages, call = _emptied(change, where, index, slot)
        if call is None:
            break
        _c_road()(call, False)
        _c_refused()(call)
        expected = _outcome(messages, call, False)
        messages, call = _emptied(change, where, index, slot)
        got = _outcome(messages, call, True)
        assert got == expected or (isinstance(expected, type) and type(got) is dict), (
            where,
            index,
            slot,
        )
