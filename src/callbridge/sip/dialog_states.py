"""The states of an INVITE dialog (RFC 3261 12-15): one transition table, the UAS's 2xx retransmission owed until
the ACK (13.3.1.4), and the glare back-off after a 491 (14.1).

A dialog is born from the response that carries the callee's To tag: a 1xx makes it early, a 2xx confirmed; both
go through the table from `NONE`, the state before the dialog exists. `TERMINATING` is the time between sending a
BYE and its final response (15.1.1: no new requests, but the dialog still matches the BYE's answer and a crossing
BYE). A transition not in the table raises `InvalidTransition`; nothing here reads a clock (`now` is passed in).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from callbridge.state_tables import InvalidTransition, moves_by_state


class DialogState(StrEnum):
    NONE = "None"  # before the dialog exists: only PROVISIONAL and SUCCESS create one
    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATING = "Terminating"  # BYE sent, its final response not yet received
    TERMINATED = "Terminated"


class DialogEvent(StrEnum):
    PROVISIONAL = "provisional"  # a 101-199 with a To tag to the dialog-creating INVITE, sent (UAS) or received (UAC)
    SUCCESS = "success"  # the first 2xx to the dialog-creating INVITE, sent or received
    FAILURE = "failure"  # a non-2xx final response to the dialog-creating INVITE (12.3: early dialogs end)
    BYE_SENT = "bye_sent"
    BYE_RECEIVED = "bye_received"
    BYE_ANSWERED = "bye_answered"  # any final response to our BYE, or its transaction timing out (15.1.1)
    GONE = "gone"  # 481 or 408 to an in-dialog request, or its timeout (12.2.1.2)


S, E = DialogState, DialogEvent
DIALOG_TRANSITIONS: Final[dict[tuple[DialogState, DialogEvent], DialogState]] = {
    (S.NONE, E.PROVISIONAL): S.EARLY,
    (S.NONE, E.SUCCESS): S.CONFIRMED,
    (S.EARLY, E.PROVISIONAL): S.EARLY,
    (S.EARLY, E.SUCCESS): S.CONFIRMED,
    (S.EARLY, E.FAILURE): S.TERMINATED,
    (S.EARLY, E.BYE_SENT): S.TERMINATING,  # the caller only (15): `Dialog` refuses it to the callee
    (S.EARLY, E.BYE_RECEIVED): S.TERMINATED,
    (S.EARLY, E.GONE): S.TERMINATED,
    (S.CONFIRMED, E.BYE_SENT): S.TERMINATING,
    (S.CONFIRMED, E.BYE_RECEIVED): S.TERMINATED,
    (S.CONFIRMED, E.GONE): S.TERMINATED,
    (S.TERMINATING, E.BYE_ANSWERED): S.TERMINATED,
    (S.TERMINATING, E.BYE_RECEIVED): S.TERMINATED,  # BYEs crossed
    (S.TERMINATING, E.GONE): S.TERMINATED,
}


def dialog_next(state: DialogState, event: DialogEvent) -> DialogState:
    try:
        return DIALOG_TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition("dialog", state, event) from None


def describe() -> str:
    """The transition table as Markdown (docs/architecture.md embeds this text; a unit test keeps them equal)."""
    return "\n".join(moves_by_state("dialog state | event → next state", DialogState, DialogEvent,
                                     lambda state, event: f"`{DIALOG_TRANSITIONS[state, event]}`"
                                     if (state, event) in DIALOG_TRANSITIONS else None)) + "\n"


@dataclass(frozen=True)
class Timers:
    """RFC 3261 17.1.1.1 timer values, seconds: T1 (RTT estimate) and T2 (cap on retransmission intervals)."""

    t1: float = 0.5
    t2: float = 4.0

    @property
    def give_up_after(self) -> float:
        return 64 * self.t1


DEFAULT_TIMERS: Final = Timers()


class Retransmit(StrEnum):
    """What a due 2xx retransmission timer asks of the dialog."""

    SEND = "send"  # pass the 2xx to the transport again
    GIVE_UP = "give_up"  # no ACK for 64*T1: the session is to be ended with a BYE (13.3.1.4)


class SuccessRetransmission:
    """The 2xx to an INVITE that the UAS core (not the transaction) resends until the ACK (RFC 3261 13.3.1.4):
    first after T1, the interval doubling up to T2, given up 64*T1 after the first send."""

    def __init__(self, cseq: int, now: float, timers: Timers = DEFAULT_TIMERS) -> None:
        self.cseq = cseq  # the INVITE's CSeq number, which the ACK carries
        self._timers = timers
        self._interval = timers.t1
        self._next_send = now + timers.t1
        self._give_up_at = now + timers.give_up_after

    @property
    def next_deadline(self) -> float:
        return min(self._next_send, self._give_up_at)

    def on_timer(self, now: float) -> Retransmit | None:
        if now >= self._give_up_at:
            return Retransmit.GIVE_UP
        if now < self._next_send:
            return None
        while self._next_send <= now:  # one send for a late timer, the schedule kept
            self._interval = min(2 * self._interval, self._timers.t2)
            self._next_send += self._interval
        return Retransmit.SEND


def glare_delay(owns_call_id: bool, rng: random.Random) -> float:
    """How long to wait before retrying a re-INVITE answered 491 (RFC 3261 14.1): 2.1-4 s for the side that
    generated the Call-ID, 0-2 s for the other, in units of 10 ms."""
    low, high = (210, 400) if owns_call_id else (0, 200)
    return rng.randint(low, high) / 100
