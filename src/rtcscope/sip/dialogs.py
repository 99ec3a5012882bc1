"""Calls and dialogs as a capture shows them (RFC 3261 12).

A *call* is everything with one Call-ID. A *dialog* is identified by Call-ID, the caller's
From tag and the callee's To tag (12): a 1xx with a To tag creates an early dialog, a 2xx
confirms it (12.1); a forked INVITE can create several early dialogs and even several
confirmed ones (one per To tag, 13.2.2.4). In-dialog requests (ACK to 2xx, BYE, re-INVITE,
UPDATE, INFO, ...) carry both tags and are filed under their dialog (12.2). BYE ends the
dialog once answered with 2xx (15.1.2); a non-2xx final answer to the initial INVITE ends the
early dialogs (12.3).

A *leg* is one hop the initial INVITE took (client address -> server address), in the order
the capture saw them: A -> B, B -> C, ... Calls, legs and dialogs are the pieces the call
list and ladder build on.

Pure: works on captured messages, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import field
from enum import StrEnum
from operator import attrgetter
from types import ModuleType
from typing import NamedTuple

from rtcscope._dataclass import dataclass
from rtcscope.sip.transactions import (
    GROUP_ROAD,
    CapturedMessage,
    Transaction,
    c_accelerator,
    group_transactions,
)


class DialogState(StrEnum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


# The states as module names: a member read through its class costs ~0.3 us on Python 3.11
# (the enum's class attribute machinery), a few times per call.
_EARLY = DialogState.EARLY
_CONFIRMED = DialogState.CONFIRMED
_TERMINATED = DialogState.TERMINATED


_METHOD = attrgetter("method")  # Transaction.method


class DialogId(NamedTuple):
    """Call-ID + the caller's tag (From of the INVITE) + the callee's tag (To of the answer).
    A named tuple: immutable and hashable, built at tuple cost."""

    call_id: str
    caller_tag: str
    callee_tag: str


@dataclass(slots=True)
class Dialog:
    """One dialog: how it was created and the in-dialog transactions, in order."""

    id: DialogId
    state: DialogState
    created_by: CapturedMessage  # the first response that carried the callee's tag
    answers: list[CapturedMessage] = field(default_factory=list)  # 2xx copies to the INVITE
    transactions: list[Transaction] = field(default_factory=list)


@dataclass(slots=True)
class Leg:
    """One hop of the initial INVITE: who sent it to whom, and that hop's transaction."""

    client: str
    server: str
    transport: str
    transaction: Transaction

    @property
    def final_status(self) -> int | None:
        return self.transaction.final_status


@dataclass(slots=True)
class Call:
    """Everything captured with one Call-ID.

    What the properties find from ``transactions`` (initial_invites, dialogs, caller_tag) is
    kept for the list it was found in (initial_invites also for that list's length; the C
    find_calls keeps it as it groups the call): a caller that changes the transactions gives
    a new list, or grows or shortens this one; an item replaced in place is not seen."""

    call_id: str
    messages: list[CapturedMessage] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    # The dialogs (see ``dialogs``), made when first read for the transaction list they were
    # made from: the call list never reads them, the diagnosis does.
    _dialogs: tuple[list[Transaction], list[Dialog]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # initial_invites, found once for the transaction list it was found in and that list's
    # length then (the call list, the dialogs and every check of the diagnosis ask for it;
    # the C find_calls keeps it as it groups the call): found again where the list was
    # replaced, or grown or shortened in place.
    _initial: tuple[list[Transaction], int, list[Transaction]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _caller_tag: tuple[list[Transaction], str | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def initial_invites(self) -> list[Transaction]:
        """INVITE transactions outside a dialog (no To tag), one per hop, in capture order."""
        found = self._initial
        transactions = self.transactions
        if found is not None and found[0] is transactions and found[1] == len(transactions):
            return found[2]
        out = [
            txn
            for txn in transactions
            if txn.method == "INVITE" and txn.requests and not txn.requests[0].message.to_tag
        ]
        self._initial = (transactions, len(transactions), out)
        return out

    @property
    def dialogs(self) -> list[Dialog]:
        """The dialogs the initial INVITEs' responses created, with their in-dialog
        transactions (module docstring), in order of creation."""
        found = self._dialogs
        if found is not None and found[0] is self.transactions:
            return found[1]
        dialogs = _build_dialogs(self)
        self._dialogs = (self.transactions, dialogs)
        return dialogs

    @property
    def legs(self) -> list[Leg]:
        return [
            Leg(t.client, t.server, t.requests[0].transport, t)
            for t in self.initial_invites
            if t.requests
        ]

    @property
    def is_invite_call(self) -> bool:
        # (C-level: no generator, no Transaction.is_invite read per transaction.)
        return "INVITE" in map(_METHOD, self.transactions)

    @property
    def first_ts_ns(self) -> int:
        return self.messages[0].ts_ns if self.messages else 0

    @property
    def caller_tag(self) -> str | None:
        """The From tag of the first initial INVITE (found once, with the INVITEs)."""
        invites = self.initial_invites
        found = self._caller_tag
        if found is not None and found[0] is invites:
            return found[1]
        tag: str | None = None
        if invites:  # (an initial INVITE has its request)
            tag = invites[0].requests[0].message.from_tag
        self._caller_tag = (invites, tag)
        return tag

    def dialog(self, callee_tag: str) -> Dialog | None:
        for dialog in self.dialogs:
            if dialog.id.callee_tag == callee_tag:
                return dialog
        return None


def find_calls(messages: Iterable[CapturedMessage]) -> list[Call]:
    """Group messages into calls by Call-ID, with transactions and dialogs, in capture order."""
    return _find_calls(messages)


def _find_calls_py(messages: Iterable[CapturedMessage]) -> list[Call]:
    """find_calls in Python: the specification of the C road (rtcscope.sip._callwalk.
    find_calls, with the C grouping)."""
    calls: dict[str, Call] = {}
    for captured in messages:
        call_id = captured.message.call_id
        if call_id is None:
            continue
        call = calls.get(call_id)
        if call is None:
            call = calls[call_id] = Call(call_id)
        call.messages.append(captured)
    for call in calls.values():
        call.transactions = group_transactions(call.messages)
    return list(calls.values())


def _c_calls_setup(callwalk: ModuleType) -> None:
    """Give the C road the Call class it makes (the C grouping, set up by transactions.py,
    is the one it calls)."""
    callwalk.setup_calls(Call)


# Calls by Call-ID in C where it was built, with the C grouping (GROUP_ROAD "c").
_find_calls: Callable[[Iterable[CapturedMessage]], list[Call]] = (
    c_accelerator(_c_calls_setup, "find_calls") if GROUP_ROAD == "c" else None
) or _find_calls_py
CALLS_ROAD = "python" if _find_calls is _find_calls_py else "c"


def _build_dialogs(call: Call) -> list[Dialog]:
    dialogs: list[Dialog] = []
    caller_tag = call.caller_tag
    by_tag: dict[str, Dialog] = {}  # callee tag -> its dialog (the first one made with it)
    for txn in call.initial_invites:
        for response in txn.responses:
            msg = response.message
            code = msg.status_code or 0
            if code < 101:
                continue
            tag = msg.to_tag
            if not tag:
                continue
            dialog = by_tag.get(tag)
            if code >= 300:
                if dialog is not None:
                    dialog.state = _TERMINATED
                continue
            if dialog is None:
                dialog_id = (call.call_id, msg.from_tag or caller_tag or "", tag)
                dialog = by_tag[tag] = Dialog(tuple.__new__(DialogId, dialog_id), _EARLY, response)
                dialogs.append(dialog)
            if code >= 200:
                dialog.answers.append(response)
                if dialog.state is _EARLY:
                    dialog.state = _CONFIRMED
    if not by_tag:
        return dialogs  # no dialog: no transaction to file under one
    for txn in call.transactions:
        # An in-dialog transaction carries both tags (12.2), whichever side sent it.
        requests = txn.requests
        if not requests:
            continue
        req = requests[0].message
        to_tag = req.to_tag
        if not to_tag:
            continue
        # Sent by the callee when its To tag is the caller's: its From tag names the dialog.
        dialog = by_tag.get((req.from_tag or "") if to_tag == caller_tag else to_tag)
        if dialog is None:
            continue
        dialog.transactions.append(txn)
        if txn.method == "BYE":
            status = txn.final_status
            if status is not None and 200 <= status < 300:
                dialog.state = _TERMINATED
    return dialogs
