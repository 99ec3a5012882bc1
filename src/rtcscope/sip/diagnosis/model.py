"""The diagnosis's values: findings with their evidence, request paths, ICMP reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        return {
            "frame": self.frame,
            "src": self.src,
            "dst": self.dst,
            "request_uri": self.request_uri,
            "routes": list(self.routes),
            "max_forwards": self.max_forwards,
            "vias": self.vias,
            "copies": self.copies,
            "problems": list(self.problems),
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "findings": [f.as_dict() for f in self.findings],
            "paths": [p.as_dict() for p in self.paths],
            "notes": list(self.notes),
        }
