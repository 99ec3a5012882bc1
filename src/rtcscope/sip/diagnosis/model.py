"""The diagnosis's values: findings with their evidence, request paths, ICMP reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_function
from rtcscope.jsontext import dumps
from rtcscope.lazyjson import LazyJson
from rtcscope.sip.routing import message_max_forwards
from rtcscope.sip.transactions import endpoint

if TYPE_CHECKING:
    from rtcscope.sip.transactions import CapturedMessage

from rtcscope.sip.diagnosis.catalogue import SEVERITY_ORDER, Severity

T1_S = 0.5  # RFC 3261 17.1.1.1
T2_S = 4.0
TIMER_64T1_S = 64 * T1_S

__all__ = ["SEVERITY_ORDER", "Severity"]


@dataclass(frozen=True, slots=True)
class IcmpReport:
    """An ICMP error seen in the capture, with the datagram it quotes (RFC 792/4443)."""

    frame: int
    ts_ns: int
    reporter: str  # who sent the ICMP error
    description: str  # "port unreachable", ...
    quoted_src: str
    quoted_sport: int
    quoted_dst: str
    quoted_dport: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found, with its evidence, the rule and a fix in plain words."""

    severity: Severity
    code: str  # stable short name, e.g. "ack-not-received"
    call_id: str
    summary: str
    element: str = ""  # the address at fault (or concerned)
    frames: tuple[int, ...] = ()  # evidence, as Wireshark numbers frames
    time_s: float | None = None  # seconds from the start of the capture
    rfc: str = ""
    fix: str = ""
    detail: str = ""
    last_hop: str = ""  # for a request's path: the last hop that carried it

    def as_dict(self) -> dict[str, Any]:
        """The finding's stable JSON keys."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "call_id": self.call_id,
            "summary": self.summary,
            "element": self.element,
            "last_hop": self.last_hop,
            "frames": list(self.frames),
            "time_s": None if self.time_s is None else round(self.time_s, 6),
            "rfc": self.rfc,
            "fix": self.fix,
            "detail": self.detail,
        }


@dataclass(slots=True)
class PathStep:
    """One hop of an in-dialog request in the capture (one copy, maybe seen several times)."""

    frame: int
    ts_ns: int
    src: str
    dst: str
    request_uri: str
    routes: tuple[str, ...]
    max_forwards: int | None
    vias: int
    copies: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return _step_dict(
            self.frame,
            self.src,
            self.dst,
            self.request_uri,
            list(self.routes),
            self.max_forwards,
            self.vias,
            self.copies,
            list(self.problems),
        )


def _step_dict(
    frame: int,
    src: str,
    dst: str,
    request_uri: str,
    routes: list[str],
    max_forwards: int | None,
    vias: int,
    copies: int,
    problems: list[str],
) -> dict[str, Any]:
    """:meth:`PathStep.as_dict`'s stable JSON keys (also written by
    :meth:`DeliveredPath.as_dict` without a step)."""
    return {
        "frame": frame,
        "src": src,
        "dst": dst,
        "request_uri": request_uri,
        "routes": routes,
        "max_forwards": max_forwards,
        "vias": vias,
        "copies": copies,
        "problems": problems,
    }


@dataclass(slots=True)
class RequestPath:
    """The hops of one in-dialog request (ACK, BYE, ...) and where it ended."""

    call_id: str
    method: str
    cseq: int
    steps: list[PathStep]
    outcome: str  # "delivered", "icmp", "loop", "max-forwards", "dropped", "not-captured"
    last_hop: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "method": self.method,
            "cseq": self.cseq,
            "outcome": self.outcome,
            "last_hop": self.last_hop,
            "steps": [s.as_dict() for s in self.steps],
        }

    def went_wrong(self) -> bool:
        """Whether it ended anywhere but delivered (or hop by hop, or past the capture), or a
        hop has a problem: the paths ``diagnose``'s table shows."""
        return self.outcome not in _FINE_OUTCOMES or any(step.problems for step in self.steps)


_FINE_OUTCOMES = frozenset({"delivered", "hop-by-hop", "not-captured"})


def _path_values(path: RequestPath) -> tuple[Any, ...]:
    return (path.call_id, path.method, path.cseq, path.steps, path.outcome, path.last_hop)


class DeliveredPath(RequestPath):
    """A :class:`RequestPath` of one hop, sent once straight from one UA to the other and
    delivered (the common ACK and BYE, ``PathChecks.trace_dialog_direct``), whose step and
    last hop are written out when first read: ``diagnose``'s table and ``analyze``'s text
    show only the paths that went wrong, so most are never read, and the JSON
    (:meth:`as_dict`) is written straight from the request, without the step. The same
    values as the :class:`RequestPath` the checks would build
    (tests/sip/test_diagnosis_direct.py)."""

    __slots__ = ("_far", "_hop", "_sent", "_step_list")

    def __init__(
        self,
        call_id: str,
        method: str,
        cseq: int,
        sent: CapturedMessage,
        far: str,
    ) -> None:
        self.call_id = call_id
        self.method = method
        self.cseq = cseq
        self.outcome = "delivered"
        self._sent = sent
        self._far = far
        self._step_list: list[PathStep] | None = None
        self._hop: str | None = None

    def __eq__(self, other: object) -> bool:
        """Equal to the :class:`RequestPath` of the same values (as written out)."""
        if not isinstance(other, RequestPath):
            return NotImplemented
        return _path_values(self) == _path_values(other)

    __hash__ = None  # type: ignore[assignment]  # (as RequestPath's: mutable, compared by value)

    @property
    def steps(self) -> list[PathStep]:
        found = self._step_list
        if found is None:
            sent = self._sent
            # (positional: frame, ts_ns, src, dst, request_uri, routes, max_forwards, vias,
            # copies)
            step = PathStep(
                sent.frame,
                sent.ts_ns,
                endpoint(sent.src, sent.sport),
                self._far,
                sent.message.request_uri_text or "",
                (),
                message_max_forwards(sent.message),
                1,
                1,
            )
            found = self._step_list = [step]
        return found

    @steps.setter
    def steps(self, value: list[PathStep]) -> None:
        self._step_list = value

    def as_dict(self) -> dict[str, Any]:
        """:meth:`RequestPath.as_dict` without writing the step out: the same keys and values,
        written straight from the request (``diagnose --format json`` asks it of every
        path, and most are this one)."""
        if self._step_list is not None:
            return RequestPath.as_dict(self)
        sent = self._sent
        message = sent.message
        src = endpoint(sent.src, sent.sport)
        far = self._far
        hop = self._hop  # (not kept: the JSON is written once)
        return {
            "call_id": self.call_id,
            "method": self.method,
            "cseq": self.cseq,
            "outcome": self.outcome,
            "last_hop": self._hop_text(src) if hop is None else hop,
            "steps": [
                _step_dict(
                    sent.frame,
                    src,
                    far,
                    message.request_uri_text or "",
                    [],
                    message_max_forwards(message),
                    1,
                    1,
                    [],
                )
            ],
        }

    def went_wrong(self) -> bool:
        """:meth:`RequestPath.went_wrong` without writing its step out: until then, the one
        step it would write has no problem."""
        if self._step_list is None:
            return self.outcome not in _FINE_OUTCOMES
        return RequestPath.went_wrong(self)

    def _hop_text(self, src: str) -> str:
        """The last hop as written out: from ``src`` (the sender's endpoint) to the far end."""
        return f"{src} -> {self._far} (frame {self._sent.frame})"

    @property
    def last_hop(self) -> str:
        found = self._hop
        if found is None:
            sent = self._sent
            found = self._hop = self._hop_text(endpoint(sent.src, sent.sport))
        return found

    @last_hop.setter
    def last_hop(self, value: str) -> None:
        self._hop = value


@dataclass(slots=True)
class Diagnosis:
    """Every finding of a capture (or of one call), errors first, and the requests' paths."""

    findings: list[Finding] = field(default_factory=list)
    paths: list[RequestPath] = field(default_factory=list)
    calls: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def paths_json(self, level: int) -> bytes | None:
        """The JSON text of ``as_dict()["paths"]`` as the JSON writer writes it at ``level``
        (:class:`LazyJson`), most of it without making the objects; None where
        the objects must be written instead."""
        return _paths_json(self.paths, level)

    def as_dict(self) -> dict[str, Any]:
        return self._fields([f.as_dict() for f in self.findings], self.path_dicts())

    def json_data(self, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """:meth:`as_dict` for the JSON writer: the paths a :class:`LazyJson` (written as
        text, most without making their objects: :meth:`paths_json`), the findings' objects
        those given (``diagnose``'s rows) or :meth:`as_dict`'s."""
        if findings is None:
            findings = [f.as_dict() for f in self.findings]
        return self._fields(findings, LazyJson(self.path_dicts, self.paths_json))

    def _fields(self, findings: Any, paths: Any) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "findings": findings,
            "paths": paths,
            "notes": list(self.notes),
        }

    def path_dicts(self) -> list[dict[str, Any]]:
        """The paths' JSON objects (``as_dict()["paths"]``)."""
        return [p.as_dict() for p in self.paths]


def _paths_json_py(paths: Sequence[RequestPath], level: int) -> bytes | None:
    """The JSON text of the paths' objects (``[path.as_dict() for path in paths]``) as
    orjson writes it with a two-space indent, every line after the first indented by
    ``level`` more levels; None where orjson refuses a value. The specification of the C
    road (rtcscope.sip._pathdict.paths_json, which writes the usual :class:`DeliveredPath`
    from its slots, no object made, and may decline with None where this writes text)."""
    try:
        text = dumps([path.as_dict() for path in paths])  # (format_json's orjson text)
    except TypeError:
        return None
    return text.replace(b"\n", b"\n" + b"  " * level) if level else text


def _c_paths_setup(pathdict: ModuleType) -> None:
    """Give the C road the classes it reads through their slots and the Max-Forwards read
    (message_max_forwards: the usual line's in C where rtcscope.sip.routing has it)."""
    from rtcscope.sip.capture import CapturedSip
    from rtcscope.sip.message import SipMessage

    pathdict.setup(DeliveredPath, CapturedSip, SipMessage, message_max_forwards)


# The paths' JSON text in one C call over them all where it was built; PATHS_JSON_ROAD says
# which road.
_paths_json: Callable[[Sequence[RequestPath], int], bytes | None] = (
    c_function("rtcscope.sip._pathdict", "paths_json", _c_paths_setup) or _paths_json_py
)
PATHS_JSON_ROAD = "python" if _paths_json is _paths_json_py else "c"
