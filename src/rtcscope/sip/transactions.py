"""SIP transactions as a capture shows them (RFC 3261 section 17).

A capture taken at proxies sees one request many times: once per hop, each copy with one more
Via. Every hop is its own transaction pair (the proxy's server transaction upstream, its
client transaction downstream), told apart by the top Via branch. This module groups captured
messages the way the transaction layer would:

- a request belongs to the transaction named by its top Via branch and its CSeq method
  (17.2.3); an ACK with the branch of an INVITE is the ACK to a non-2xx final response and
  belongs to that INVITE transaction (17.1.1.3); an ACK with a branch of its own is the ACK to
  a 2xx, a transaction of its own (13.2.2.4, 17.1.1.3);
- a CANCEL shares its INVITE's branch but is a transaction of its own (9.1);
- a response belongs to the transaction of its top Via branch and CSeq method (17.1.3);
- the same request seen again in the same direction is a retransmission; so is a final
  response seen again.

A request without an RFC 3261 branch (``z9hG4bK``, RFC 2543 peers) is matched on Call-ID,
CSeq, From tag and top Via sent-by instead (17.2.3's fallback).

Pure: works on :class:`CapturedMessage` values (what ``rtcscope.sip.capture`` yields), no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import field
from types import ModuleType
from typing import Any, NamedTuple, Protocol

from rtcscope._dataclass import dataclass
from rtcscope._roads import c_function
from rtcscope.sip.message import SipMessage


class CapturedMessage(Protocol):
    """A SIP message with where and when it was captured (``rtcscope.sip.capture``)."""

    @property
    def frame(self) -> int: ...
    @property
    def ts_ns(self) -> int: ...
    @property
    def src(self) -> str: ...
    @property
    def sport(self) -> int: ...
    @property
    def dst(self) -> str: ...
    @property
    def dport(self) -> int: ...
    @property
    def transport(self) -> str: ...
    @property
    def message(self) -> SipMessage: ...


def endpoint(address: str, port: int) -> str:
    """``addr:port`` (IPv6 in brackets), the way findings name an element."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def source(captured: CapturedMessage) -> str:
    return endpoint(captured.src, captured.sport)


def destination(captured: CapturedMessage) -> str:
    return endpoint(captured.dst, captured.dport)


class TransactionKey(NamedTuple):
    """What names a transaction: the top Via branch (or the RFC 2543 fallback) and method.
    A named tuple: immutable and hashable as a frozen dataclass, built at tuple cost (one per
    transaction, four or so per call)."""

    call_id: str
    branch: str
    method: str  # the CSeq method of the request; ACK to a non-2xx is filed under INVITE


def via_branches(message: SipMessage) -> tuple[str, ...]:
    """The branch of every Via, top first ("" where a Via has none)."""
    return tuple([via.branch or "" for via in message.vias])


def _rfc2543_key(message: SipMessage, sent_by: str | None, branch: str | None) -> str:
    """The branch part of a transaction key without an RFC 3261 branch: RFC 2543 fallback
    (17.2.3), request identity instead of a branch."""
    cseq = message.cseq.number if message.cseq is not None else -1
    if sent_by is None:
        return f"2543|{cseq}|{message.from_tag or ''}||"
    return f"2543|{cseq}|{message.from_tag or ''}|{sent_by.lower()}|{branch}"


@dataclass(slots=True)
class Transaction:
    """One hop's transaction: its request (with retransmissions) and the responses."""

    key: TransactionKey
    method: str
    cseq: int
    requests: list[CapturedMessage] = field(default_factory=list)
    responses: list[CapturedMessage] = field(default_factory=list)
    acks: list[CapturedMessage] = field(default_factory=list)  # ACK to a non-2xx (17.1.1.3)

    @property
    def request(self) -> CapturedMessage | None:
        return self.requests[0] if self.requests else None

    @property
    def client(self) -> str:
        """The side that sent the request (``addr:port``), or that the responses went to."""
        if self.requests:
            return source(self.requests[0])
        return destination(self.responses[0]) if self.responses else ""

    @property
    def server(self) -> str:
        if self.requests:
            return destination(self.requests[0])
        return source(self.responses[0]) if self.responses else ""

    @property
    def request_retransmissions(self) -> int:
        """Copies of the request sent again in the same direction."""
        if not self.requests:
            return 0
        first = self.requests[0]
        return sum(
            1
            for r in self.requests[1:]
            if (r.src, r.sport, r.dst, r.dport) == (first.src, first.sport, first.dst, first.dport)
        )

    @property
    def finals(self) -> list[CapturedMessage]:
        """Every final response copy (>= 200), retransmissions included, in capture order."""
        return [r for r in self.responses if (r.message.status_code or 0) >= 200]

    @property
    def final(self) -> CapturedMessage | None:
        """The first final response (``finals[0]``, without the list)."""
        for response in self.responses:
            if (response.message.status_code or 0) >= 200:
                return response
        return None

    @property
    def final_status(self) -> int | None:
        final = self.final
        return final.message.status_code if final is not None else None

    @property
    def provisionals(self) -> list[CapturedMessage]:
        return [r for r in self.responses if 100 <= (r.message.status_code or 0) < 200]

    @property
    def is_invite(self) -> bool:
        return self.method == "INVITE"

    @property
    def first_ts_ns(self) -> int:
        stamps = [m.ts_ns for m in (*self.requests, *self.responses)]
        return min(stamps) if stamps else 0


def group_transactions(messages: Iterable[CapturedMessage]) -> list[Transaction]:
    """Group messages into transactions, in order of first appearance."""
    return _group(messages)


def _group_transactions_py(messages: Iterable[CapturedMessage]) -> list[Transaction]:
    """group_transactions in Python: the specification of the C road
    (rtcscope.sip._callwalk.group)."""
    # Keyed by plain tuples (Call-ID, branch, lower-case sent-by, method): a TransactionKey
    # and its joined branch text are built once per transaction, not per message. An RFC
    # 2543 key has None for the sent-by (its text never starts with z9hG4bK: no clash).
    by_key: dict[tuple[str, str, str | None, str], Transaction] = {}
    order: list[Transaction] = []
    for captured in messages:
        msg = captured.message
        cseq = msg.cseq
        call_id = msg.call_id
        if cseq is None or call_id is None:
            continue
        # The top Via's sent-by and branch as the parse cut them (no Via object is built;
        # sent_by is None only without a readable Via).
        sent_by = msg.sent_by
        branch = msg.branch
        if sent_by is not None and branch and branch.startswith("z9hG4bK"):  # RFC 3261 8.1.1.7
            sent: str | None = sent_by.lower()
        else:
            branch = _rfc2543_key(msg, sent_by, branch)
            sent = None
        method = cseq.method.upper()
        is_request = msg.request_method is not None
        if is_request:
            if method == "ACK":
                invite = by_key.get((call_id, branch, sent, "INVITE"))
                # An ACK with the INVITE's branch acknowledges a non-2xx final (17.1.1.3);
                # after a 2xx it is the ACK to the 2xx reusing the branch (8.1.1.7 wants a
                # new one), a transaction of its own.
                if invite is not None and not _answered_2xx(invite, msg.to_tag):
                    invite.acks.append(captured)
                    continue
        elif not msg.is_response:
            continue
        key = (call_id, branch, sent, method)
        txn = by_key.get(key)
        if txn is None:
            # A response whose request was not captured still names a transaction.
            name = branch if sent is None else f"{branch}|{sent}"
            txn = by_key[key] = Transaction(
                tuple.__new__(TransactionKey, (call_id, name, method)), method, cseq.number
            )
            order.append(txn)
        (txn.requests if is_request else txn.responses).append(captured)
    return order


def _answered_2xx(invite: Transaction, to_tag: str | None) -> bool:
    """Whether the INVITE got a 2xx (with this To tag, when given) before now."""
    for response in invite.responses:
        code = response.message.status_code or 0
        if 200 <= code < 300 and (to_tag is None or response.message.to_tag == to_tag):
            return True
    return False


def _c_group_setup(callwalk: ModuleType) -> None:
    """Give the C grouping the classes whose slots it reads directly, what it makes and the
    two rare steps it leaves to Python."""
    from rtcscope.sip.capture import CapturedSip
    from rtcscope.sip.headers import CSeq

    callwalk.setup_group(
        CapturedSip, SipMessage, CSeq, Transaction, TransactionKey, _rfc2543_key, _answered_2xx
    )


def c_accelerator(setup: Callable[[ModuleType], None] | None, name: str) -> Any:
    """The function ``name`` of rtcscope.sip._callwalk (the C walk and grouping) given what
    ``setup`` (if any) gives the module, or None: rtcscope._roads.c_function's."""
    return c_function("rtcscope.sip._callwalk", name, setup)


# The grouping in C (rtcscope.sip._callwalk.group: the transactions _group_transactions_py
# makes, in its order) where it was built.
_group: Callable[[Iterable[CapturedMessage]], list[Transaction]] = (
    c_accelerator(_c_group_setup, "group") or _group_transactions_py
)
GROUP_ROAD = "python" if _group is _group_transactions_py else "c"
