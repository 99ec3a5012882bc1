"""The paths' JSON text in C (rtcscope.sip._pathdict.paths_json) against its specification,
the pure-Python road (diagnosis.model._paths_json_py: orjson's text of the paths' as_dict()
at an indentation level): the same bytes, or None from C where it declines (a value it does
not write), on generated paths (the usual DeliveredPath, one whose step or last hop was
written out, RequestPaths with their steps, other classes, texts with quotes, controls,
non-ASCII and surrogates, numbers past 64 bits) and on the paths of every capture of
tests/data and ../shared/captures; built and active under CI=true; RTCSCOPE_PURE=1 selects
the Python road.
"""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcscope._roads import c_function
from rtcscope.cli.output import format_json, write_json
from rtcscope.scan import ScanOptions, Tap, scan
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import model as model_module
from rtcscope.sip.diagnosis.model import (
    DeliveredPath,
    PathStep,
    RequestPath,
    _paths_json_py,
)
from rtcscope.sip.message import SipMessage
from tests.conftest import DATA, IN_CI, c_module, needs_built, shared_captures

_pathdict = c_module("rtcscope.sip._pathdict")

needs_c = needs_built(_pathdict)


def _c_json(paths: Any, level: int) -> bytes | None:
    assert _pathdict is not None
    # (set up as model.py sets it up: under RTCSCOPE_PURE=1 it did not)
    model_module._c_paths_setup(_pathdict)
    made: bytes | None = _pathdict.paths_json(paths, level)
    return made


def _same_or_declined(paths: list[Any], level: int) -> bytes | None:
    """C's text, checked against the Python road's (C may decline, never differ)."""
    expected = _paths_json_py(paths, level)
    made = _c_json(paths, level)
    if made is not None:
        assert made == expected
    return made


# Texts with what JSON escapes and what orjson refuses (a surrogate).
TEXTS = st.sampled_from(
    [
        "",
        "c1@host",
        'q"uote',
        "back\\slash",
        "\x00\x01\x1f\x7f",
        "\t\n\r\b\f",
        "é\u2028😀",
        "\ud800",
    ]
) | st.text(max_size=6)
NUMBERS = st.sampled_from([0, 1, 70, -1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**64)])
URIS = ["sip:bob@10.0.0.2:5060", 'sip:"odd"@h', "sip:b\\x@h", "sip:é@h", "", None]
MAX_FORWARDS = [
    "Max-Forwards: 70",
    "Max-Forwards:  69 ",
    "max-forwards: 1",
    "Max-Forwards: x",
    "Max-Forwards: 99999999999999999999999",
    "",
]
ADDRESSES = ["10.0.0.1", "fd00::1", "[fd00::2]", "hé"]


class _Text(str):
    """A str subclass: orjson writes it as a str, C declines it."""


class _OtherPath(DeliveredPath):
    """Not exactly a DeliveredPath: C asks its as_dict()."""


def _request(uri: str | None, max_forwards: str) -> SipMessage:
    lines = [] if uri is None else [f"ACK {uri} SIP/2.0"]
    lines += ["Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", "Call-ID: c1", "CSeq: 1 ACK"]
    if max_forwards:
        lines.append(max_forwards)
    if uri is None:
        lines.insert(0, "SIP/2.0 200 OK")
    return SipMessage.parse(("\r\n".join(lines) + "\r\n\r\n").encode())


@st.composite
def delivered_paths(draw: st.DrawFn) -> Any:
    message = _request(draw(st.sampled_from(URIS)), draw(st.sampled_from(MAX_FORWARDS)))
    frame = draw(st.integers(1, 99) | NUMBERS)
    sent = CapturedSip(
        frame,
        0,
        draw(st.sampled_from(ADDRESSES)),
        draw(st.sampled_from([5060, 0, 65535, 2**70])),
        "10.0.0.2",
        5060,
        "udp",
        message,
    )
    kind = draw(st.sampled_from([DeliveredPath] * 4 + [_OtherPath]))
    far = draw(st.sampled_from(["10.0.0.2:5060", "[fd00::1]:5060"]) | TEXTS)
    path = kind(
        draw(TEXTS),
        draw(st.sampled_from(["ACK", "BYE"]) | TEXTS),
        draw(st.integers(1, 9) | NUMBERS | st.none()),
        sent,
        far,
    )
    change = draw(st.sampled_from(["", "", "", "hop", "steps", "outcome", "subclass"]))
    if change == "hop":
        path.last_hop = draw(TEXTS)
    elif change == "steps":
        path.steps  # noqa: B018  (written out: RequestPath.as_dict's road)
    elif change == "outcome":
        path.outcome = draw(TEXTS)
    elif change == "subclass":
        path.call_id = _Text(path.call_id)
    return path


@st.composite
def request_paths(draw: st.DrawFn) -> RequestPath:
    steps = [
        PathStep(
            draw(st.integers(1, 99) | NUMBERS),
            0,
            draw(TEXTS),
            draw(TEXTS),
            draw(TEXTS),
            tuple(draw(st.lists(TEXTS, max_size=3))),
            draw(st.none() | st.integers(0, 70) | NUMBERS),
            draw(st.integers(0, 3)),
            draw(st.integers(1, 3)),
            draw(st.lists(TEXTS, max_size=2)),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return RequestPath(
        draw(TEXTS),
        draw(TEXTS),
        draw(st.integers(1, 9) | NUMBERS),
        steps,
        draw(st.sampled_from(["delivered", "hop-by-hop", "icmp"])),
        draw(TEXTS),
    )


@needs_c
@settings(max_examples=400)
@given(st.lists(delivered_paths() | request_paths(), max_size=6), st.integers(0, 4))
def test_c_text_is_the_python_roads(paths: list[Any], level: int) -> None:
    made = _same_or_declined(paths, level)
    if _paths_json_py(paths, level) is None:  # what orjson refuses, C declines
        assert made is None


@needs_c
@settings(max_examples=200)
@given(st.lists(delivered_paths(), max_size=4), st.integers(0, 3))
def test_c_declines_only_what_it_does_not_write(paths: list[Any], level: int) -> None:
    """The usual paths of a parse (exact classes, texts of UTF-8, numbers of 64 bits) are
    written, not declined."""
    usual = [
        p
        for p in paths
        if type(p) is DeliveredPath
        and all(
            type(v) is str and not _surrogate(v)
            for v in (p.call_id, p.method, p.outcome, p._far, p.last_hop, p._sent.src)
        )
        and all(
            type(n) is int and -(2**63) <= n < 2**63 for n in (p.cseq, p._sent.frame, p._sent.sport)
        )
    ]
    if _paths_json_py(usual, level) is not None:  # (a Max-Forwards past 64 bits: refused)
        assert _same_or_declined(usual, level) is not None


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _captures() -> list[Path]:
    return sorted(DATA.glob("*.pcap*")) + shared_captures()


@needs_c
@pytest.mark.parametrize("capture", _captures(), ids=lambda p: p.name)
def test_c_text_of_real_captures(capture: Path) -> None:
    model = scan(capture, ScanOptions(taps=frozenset({Tap.COUNTS, Tap.SIP}), keep_going=True))
    paths = model.diagnosis().paths
    for level in (0, 1, 3):
        assert _same_or_declined(paths, level) is not None


@pytest.mark.parametrize("capture", _captures(), ids=lambda p: p.name)
def test_the_json_data_is_written_as_the_objects(capture: Path) -> None:
    """Diagnosis.json_data (the paths a LazyJson: diagnose's and analyze's JSON) written as
    diagnose and analyze write it is format_json's text of as_dict(), on either road."""
    model = scan(capture, ScanOptions(taps=frozenset({Tap.COUNTS, Tap.SIP}), keep_going=True))
    result = model.diagnosis()
    expected = result.as_dict()
    assert format_json(result.json_data()) == format_json(expected)
    for data, whole, depth in (
        (result.json_data(), expected, 3),  # diagnose
        (iter([{"data": result.json_data()}]), [{"data": expected}], 4),  # analyze
    ):
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdout", out)
            write_json(data, depth=depth)
        assert out.getvalue() == format_json(whole)


@needs_c
def test_c_refuses_what_is_not_paths() -> None:
    assert _pathdict is not None
    model_module._c_paths_setup(_pathdict)
    with pytest.raises(TypeError):
        _pathdict.paths_json(5, 0)
    with pytest.raises(AttributeError):
        _pathdict.paths_json([object()], 0)
    with pytest.raises(ValueError):
        _pathdict.paths_json([], -1)
    with pytest.raises((TypeError, AttributeError)):  # (not the classes it reads)
        _pathdict.setup(int, int, int, len)
    model_module._c_paths_setup(_pathdict)
    assert _pathdict.paths_json([], 2) == b"[]"


@needs_c
@pytest.mark.parametrize("depth", [1, 300, 100_000, -1])
def test_c_declines_values_in_shapes_a_capture_does_not_give(depth: int) -> None:
    """A list in a list (nested ``depth`` deep; -1: a list holding itself) or a dict in a
    step: declined (the Python road writes or refuses it), never followed down."""
    routes: Any = "r"
    for _ in range(depth):
        routes = [routes]
    if depth == -1:
        routes = []
        routes.append(routes)
    step = PathStep(1, 0, "a", "b", "u", (routes,), None, 1, 1, [])
    assert _c_json([RequestPath("c", "BYE", 1, [step], "delivered", "h")], 0) is None

    class Odd(RequestPath):
        def as_dict(self) -> dict[str, Any]:
            made = super().as_dict()
            made["steps"][0]["more"] = {"x": [made]}  # (a dict in a step, holding the path)
            return made

    assert _c_json([Odd("c", "BYE", 1, [step], "delivered", "h")], 0) is None


@needs_c
@pytest.mark.parametrize("listed", ["cseq", "max_forwards"])
def test_c_declines_a_list_valued_cseq_or_max_forwards(listed: str) -> None:
    """A list where the usual path has a number (its lines indented as the template does
    not know): not written from the template; the path is asked its as_dict() (which reads
    Max-Forwards itself) and that is written, as the Python road writes it."""
    assert _pathdict is not None
    request = _request("sip:b@h", "")
    path = DeliveredPath(
        "c1", "ACK", 1, CapturedSip(3, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", request), "x:1"
    )
    if listed == "cseq":
        path.cseq = [1, 2]  # type: ignore[assignment]
    _pathdict.setup(
        DeliveredPath, CapturedSip, SipMessage, lambda m: [70] if listed == "max_forwards" else 70
    )
    try:
        made = _pathdict.paths_json([path], 1)
    finally:
        model_module._c_paths_setup(_pathdict)
    assert made == _paths_json_py([path], 1)
    assert made is not None and b"70" not in made


@needs_c
def test_c_holds_what_a_max_forwards_read_takes_away(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole Max-Forwards read is Python code: a path it changes is still written from
    the values read before. The path holds the only references to its texts (made at run
    time, no local keeps them), the read replaces them and makes many texts of their size
    (which take the freed memory): without C's holds the text written would be another's."""
    assert _pathdict is not None
    number = len(sys.argv) + 1000  # (not known when the test is compiled)
    paths = [
        DeliveredPath(
            f"c{number}",
            "ACK",
            1,
            CapturedSip(3, 0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", _request("sip:b@h", "")),
            f"x:{number}",
        )
    ]
    expected = _paths_json_py(paths, 1)
    churn: list[str] = []

    def changing(message: SipMessage) -> int | None:
        paths[0]._far = f"y:{number}"  # type: ignore[misc]
        paths[0].call_id = f"c{number + 1}"
        churn.extend(f"z{number + i}" for i in range(2000))  # (the freed texts' size)
        churn.extend(f"w:{number + i}" for i in range(2000))
        return None

    _pathdict.setup(DeliveredPath, CapturedSip, SipMessage, changing)
    try:
        made = _pathdict.paths_json(paths, 1)
    finally:
        model_module._c_paths_setup(_pathdict)
    assert made == expected


def test_rtcscope_pure_selects_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    def road() -> Any:
        return c_function("rtcscope.sip._pathdict", "paths_json", model_module._c_paths_setup)

    monkeypatch.setenv("RTCSCOPE_PURE", "1")
    assert road() is None
    monkeypatch.delenv("RTCSCOPE_PURE")
    assert (road() is None) == (_pathdict is None)


@pytest.mark.parametrize("refusal", [TypeError, AttributeError])
def test_an_older_build_is_not_used(monkeypatch: pytest.MonkeyPatch, refusal: type) -> None:
    """A .so left from an older _pathdict.c (a later build failed) whose setup() refuses
    these arguments: the Python road, no error (as for every accelerator: c_function)."""
    older = types.ModuleType("rtcscope.sip._pathdict")

    def setup(*args: Any) -> None:
        raise refusal("setup(delivered_class, captured_class, message_class)")

    older.setup = setup  # type: ignore[attr-defined]
    older.paths_json = setup  # type: ignore[attr-defined]
    monkeypatch.delenv("RTCSCOPE_PURE", raising=False)
    monkeypatch.setitem(sys.modules, "rtcscope.sip._pathdict", older)
    assert c_function("rtcscope.sip._pathdict", "paths_json", model_module._c_paths_setup) is None


def test_the_c_paths_road_is_built_and_used_in_ci() -> None:
    if not IN_CI:
        pytest.skip("checked under CI=true")
    assert model_module.PATHS_JSON_ROAD == "c"


@needs_c
def test_a_class_changed_after_setup_is_written_from_its_as_dict() -> None:
    """The shared slot reader (_slotread.h) keeps the class's version tag: a DeliveredPath
    whose class got a property over a slot after setup is not read at the old offset (the
    path is written from its as_dict(), as the Python road writes it)."""
    paths: list[Any] = []
    for capture in _captures():
        model = scan(capture, ScanOptions(taps=frozenset({Tap.COUNTS, Tap.SIP})))
        paths = [p for p in model.diagnosis().paths if type(p) is DeliveredPath]
        if paths:
            break
    assert paths
    assert _c_json(paths, 1) == _paths_json_py(paths, 1)
    own = "method" in DeliveredPath.__dict__  # (a slot of its base class, RequestPath)
    slot = DeliveredPath.__dict__.get("method")
    try:
        DeliveredPath.method = property(lambda self: "CHANGED")  # type: ignore[assignment,method-assign]
        expected = _paths_json_py(paths, 1)
        assert expected is not None and b'"CHANGED"' in expected
        assert _pathdict is not None
        assert _pathdict.paths_json(paths, 1) == expected  # (set up before the change)
    finally:
        if own:
            DeliveredPath.method = slot  # type: ignore[misc]
        else:
            del DeliveredPath.method  # type: ignore[misc]
    assert _c_json(paths, 1) == _paths_json_py(paths, 1)
