"""``route`` and ``diagnose`` stay linear in the size of a route set (issue 21): a 2xx with
hundreds of Record-Route values, made here. No timing: the work is counted (URI comparisons,
which every route look-up goes through) and the output measured, at n and 2n values."""

from __future__ import annotations

import json

import pytest

import rtcscope.sip.routing as routing
from rtcscope.cli import main
from rtcscope.sip.capture import CapturedSip
from rtcscope.sip.diagnosis import diagnose
from rtcscope.sip.message import SipMessage
from rtcscope.sip.routing import plan_route


def _proxy(i: int) -> str:
    return f"10.{i // 250 + 1}.{i % 250}.1"


def _messages(n: int) -> tuple[SipMessage, SipMessage, SipMessage]:
    """INVITE and 200 OK through n loose routers (as the callee saw them), and the ACK."""
    rr = "".join(f"Record-Route: <sip:{_proxy(i)};lr>\n" for i in range(n))
    route = "".join(f"Route: <sip:{_proxy(i)};lr>\n" for i in reversed(range(n)))
    common = "From: <sip:a@x>;tag=fa\nCall-ID: many-routes\n"
    invite = (
        "INVITE sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
        f"{common}To: <sip:b@x>\nCSeq: 1 INVITE\nContact: <sip:a@192.0.2.1>\n{rr}"
        "Content-Length: 0\n\n"
    )
    ok = (
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
        f"{common}To: <sip:b@x>;tag=tb\nCSeq: 1 INVITE\nContact: <sip:b@192.0.2.2>\n{rr}"
        "Content-Length: 0\n\n"
    )
    ack = (
        "ACK sip:b@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\n"
        f"{common}To: <sip:b@x>;tag=tb\nCSeq: 1 ACK\nMax-Forwards: 70\n{route}"
        "Content-Length: 0\n\n"
    )
    return tuple(  # type: ignore[return-value]
        SipMessage.parse(t.replace("\n", "\r\n").encode()) for t in (invite, ok, ack)
    )


class _Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = routing.uri_key

        def counted(uri: routing.Uri) -> routing.UriKey:
            self.calls += 1
            return original(uri)

        monkeypatch.setattr(routing, "uri_key", counted)


def _plan_work(n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    counter = _Counter(monkeypatch)
    _, ok, _ = _messages(n)
    plan = plan_route(ok, max_forwards=n + 70)
    assert len(plan.hops) == n + 1  # every proxy, then the UAS
    assert not plan.problems
    assert plan.hops[-1].to == "192.0.2.2:5060" and not plan.hops[-1].routes
    return counter.calls, sum(len(h.routes) for h in plan.hops[:3])


def test_plan_route_work_grows_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    small, _ = _plan_work(300, monkeypatch)
    large, _ = _plan_work(600, monkeypatch)
    assert 1.6 < large / small < 2.4, (small, large)


def test_route_cli_output_grows_linearly(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    sizes = []
    for n in (200, 400):
        path = Path(str(tmp_path)) / f"ok-{n}.txt"
        path.write_bytes(bytes(_messages(n)[1]))
        assert main(["route", str(path)]) == 0
        text = capsys.readouterr().out
        assert f"({n - 8} more, {n} in all)" in " ".join(
            text.split()
        )  # the first hop's Route, counted
        assert main(["route", str(path), "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert len(data["route_set"]) == n
        assert data["hops"][0]["route_count"] == n and data["hops"][0]["routes_truncated"]
        assert [h["route_count"] for h in data["hops"]] == list(range(n, -1, -1))
        # 70 hops is as far as the default Max-Forwards carries it (16.3 step 3).
        assert any("Max-Forwards reaches 0 at hop 71" in p for p in data["problems"])
        sizes.append((len(text), len(json.dumps(data))))
    for small, large in zip(sizes[0], sizes[1], strict=True):
        assert 1.7 < large / small < 2.3, sizes


def _diagnose_work(n: int, monkeypatch: pytest.MonkeyPatch) -> int:
    invite, ok, ack = _messages(n)
    a, b = "192.0.2.1", "192.0.2.2"
    captured = [
        CapturedSip(1, 1_000_000_000, a, 5060, b, 5060, "udp", invite),
        CapturedSip(2, 1_100_000_000, b, 5060, a, 5060, "udp", ok),
        CapturedSip(3, 1_200_000_000, a, 5060, _proxy(n - 1), 5060, "udp", ack),
    ]
    counter = _Counter(monkeypatch)
    result = diagnose(captured)
    assert result.calls == 1
    assert not result.has_errors
    return counter.calls


def test_diagnose_work_grows_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    small = _diagnose_work(300, monkeypatch)
    large = _diagnose_work(600, monkeypatch)
    assert 1.6 < large / small < 2.4, (small, large)
