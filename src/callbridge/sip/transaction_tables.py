"""The four SIP transaction state machines (RFC 3261 section 17, with RFC 6026's Accepted states), each one table.

A table maps (state, event) to (next state, actions). Anything not in a table raises ``InvalidTransition``: the
machines in `transaction.py` only carry the actions out. Network input that can legitimately arrive in a state
(a late provisional, a retransmitted final) has its own row, so a well-behaved layer never raises on the wire's
say-so; a TU that answers twice, or a timer nobody armed, does.

Timers: ``TIMERS_KEPT[state]`` lists the timers that keep running in a state, every other timer is stopped on
entering it; an `Arm` action starts (or backs off) one. Durations follow RFC 3261 Table 4 and RFC 6026:
the retransmission timers (A, E, G) run only on unreliable transports, and D, I, J and K are zero on reliable ones,
so those states end at once. ``describe()`` renders the tables for docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from callbridge.state_tables import InvalidTransition


class State(StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Timer(StrEnum):
    A = "A"  # INVITE request retransmit (unreliable only), T1 doubling
    B = "B"  # INVITE transaction timeout, 64*T1
    D = "D"  # wait for response retransmits, 32 s unreliable / 0 reliable
    E = "E"  # non-INVITE request retransmit (unreliable only), T1 doubling up to T2
    F = "F"  # non-INVITE transaction timeout, 64*T1
    G = "G"  # INVITE non-2xx final response retransmit (unreliable only), T1 doubling up to T2
    H = "H"  # wait for ACK, 64*T1
    I = "I"  # wait for ACK retransmits, T4 unreliable / 0 reliable  # noqa: E741
    J = "J"  # wait for non-INVITE request retransmits, 64*T1 unreliable / 0 reliable
    K = "K"  # wait for non-INVITE response retransmits, T4 unreliable / 0 reliable
    L = "L"  # RFC 6026: wait for INVITE retransmits and the TU's 2xx retransmits, 64*T1
    M = "M"  # RFC 6026: wait for 2xx retransmits from other forks, 64*T1


class Event(StrEnum):
    PROVISIONAL = "1xx"  # a response from the network (client machines)
    SUCCESS = "2xx"
    FAILURE = "300-699"
    REQUEST = "request"  # a retransmission of the request from the network (server machines)
    ACK = "ACK"
    TU_PROVISIONAL = "TU 1xx"  # a response from the transaction user (server machines)
    TU_SUCCESS = "TU 2xx"
    TU_FAILURE = "TU 300-699"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


TIMER_EVENTS: Mapping[Timer, Event] = {timer: Event[f"TIMER_{timer.value}"] for timer in Timer}


class Do(StrEnum):
    SEND_REQUEST = "send request"  # client: (re)transmit the request
    SEND_ACK = "send ACK"  # INVITE client: the ACK for the non-2xx final (built once, resent as is)
    PASS_UP = "pass to TU"  # the response (client) or the request or ACK (server) goes to the TU
    SEND_TRYING = "send 100"  # INVITE server: answer 100 Trying at once (RFC 3261 17.2.1)
    SEND_RESPONSE = "send response"  # server: transmit the TU's response, kept as the last one
    RESEND_RESPONSE = "resend last response"
    TIMEOUT = "timeout to TU"  # client: a 408 made for the TU; server: the TU is told the ACK never came
    TRANSPORT_ERROR = "transport error to TU"


class Backoff(Enum):
    START = "start"  # the timer's initial value
    DOUBLE = "double"  # twice the last interval (capped at T2 for E and G, RFC 3261 17.1.2.2 and 17.2.1)
    AT_T2 = "at T2"  # E in Proceeding (RFC 3261 17.1.2.2)


@dataclass(frozen=True)
class Arm:
    timer: Timer
    backoff: Backoff = Backoff.START

    def __str__(self) -> str:
        if self.backoff is Backoff.START:
            return f"start {self.timer}"
        return f"restart {self.timer} {'doubled' if self.backoff is Backoff.DOUBLE else 'at T2'}"


Action = Do | Arm
Row = tuple[State, tuple[Action, ...]]


@dataclass(frozen=True)
class MachineSpec:
    name: str
    initial: State
    entry: tuple[Action, ...]  # carried out when the transaction is created
    transitions: Mapping[tuple[State, Event], Row]
    timers_kept: Mapping[State, frozenset[Timer]] = field(default_factory=dict)

    def step(self, state: State, event: Event) -> Row:
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise InvalidTransition(self.name, state, event) from None

    @property
    def states(self) -> tuple[State, ...]:
        seen = [self.initial]
        for (state, _), (target, _) in self.transitions.items():
            seen += [state, target]
        return tuple(dict.fromkeys(seen))

    def kept(self, state: State) -> frozenset[Timer]:
        return self.timers_kept.get(state, frozenset())


S, E = State, Event
_PASS, _SEND, _RESEND = Do.PASS_UP, Do.SEND_RESPONSE, Do.RESEND_RESPONSE

INVITE_CLIENT = MachineSpec(
    "INVITE client", S.CALLING, (Do.SEND_REQUEST, Arm(Timer.A), Arm(Timer.B)),
    {
        (S.CALLING, E.TIMER_A): (S.CALLING, (Do.SEND_REQUEST, Arm(Timer.A, Backoff.DOUBLE))),
        (S.CALLING, E.TIMER_B): (S.TERMINATED, (Do.TIMEOUT,)),
        (S.CALLING, E.PROVISIONAL): (S.PROCEEDING, (_PASS,)),
        (S.CALLING, E.SUCCESS): (S.ACCEPTED, (_PASS, Arm(Timer.M))),
        (S.CALLING, E.FAILURE): (S.COMPLETED, (Do.SEND_ACK, _PASS, Arm(Timer.D))),
        (S.CALLING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.PROCEEDING, E.PROVISIONAL): (S.PROCEEDING, (_PASS,)),
        (S.PROCEEDING, E.SUCCESS): (S.ACCEPTED, (_PASS, Arm(Timer.M))),
        (S.PROCEEDING, E.FAILURE): (S.COMPLETED, (Do.SEND_ACK, _PASS, Arm(Timer.D))),
        (S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.COMPLETED, E.PROVISIONAL): (S.COMPLETED, ()),
        (S.COMPLETED, E.SUCCESS): (S.COMPLETED, ()),
        (S.COMPLETED, E.FAILURE): (S.COMPLETED, (Do.SEND_ACK,)),
        (S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.COMPLETED, E.TIMER_D): (S.TERMINATED, ()),
        (S.ACCEPTED, E.PROVISIONAL): (S.ACCEPTED, ()),
        (S.ACCEPTED, E.SUCCESS): (S.ACCEPTED, (_PASS,)),  # RFC 6026 7.2: 2xx retransmits and other forks' 2xx
        (S.ACCEPTED, E.FAILURE): (S.ACCEPTED, ()),
        (S.ACCEPTED, E.TIMER_M): (S.TERMINATED, ()),
    },
    {S.CALLING: frozenset({Timer.A, Timer.B}), S.COMPLETED: frozenset({Timer.D}), S.ACCEPTED: frozenset({Timer.M})},
)  # fmt: skip

_FINALS = (E.SUCCESS, E.FAILURE)
NON_INVITE_CLIENT = MachineSpec(
    "non-INVITE client", S.TRYING, (Do.SEND_REQUEST, Arm(Timer.E), Arm(Timer.F)),
    {
        (S.TRYING, E.TIMER_E): (S.TRYING, (Do.SEND_REQUEST, Arm(Timer.E, Backoff.DOUBLE))),
        (S.TRYING, E.TIMER_F): (S.TERMINATED, (Do.TIMEOUT,)),
        (S.TRYING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.TRYING, E.PROVISIONAL): (S.PROCEEDING, (_PASS,)),
        **{(S.TRYING, final): (S.COMPLETED, (_PASS, Arm(Timer.K))) for final in _FINALS},
        (S.PROCEEDING, E.TIMER_E): (S.PROCEEDING, (Do.SEND_REQUEST, Arm(Timer.E, Backoff.AT_T2))),
        (S.PROCEEDING, E.TIMER_F): (S.TERMINATED, (Do.TIMEOUT,)),
        (S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.PROCEEDING, E.PROVISIONAL): (S.PROCEEDING, (_PASS,)),
        **{(S.PROCEEDING, final): (S.COMPLETED, (_PASS, Arm(Timer.K))) for final in _FINALS},
        (S.COMPLETED, E.PROVISIONAL): (S.COMPLETED, ()),
        **{(S.COMPLETED, final): (S.COMPLETED, ()) for final in _FINALS},
        (S.COMPLETED, E.TIMER_K): (S.TERMINATED, ()),
    },
    {S.TRYING: frozenset({Timer.E, Timer.F}), S.PROCEEDING: frozenset({Timer.E, Timer.F}),
     S.COMPLETED: frozenset({Timer.K})},
)  # fmt: skip

INVITE_SERVER = MachineSpec(
    "INVITE server", S.PROCEEDING, (Do.SEND_TRYING, _PASS),
    {
        (S.PROCEEDING, E.REQUEST): (S.PROCEEDING, (_RESEND,)),
        (S.PROCEEDING, E.ACK): (S.PROCEEDING, ()),  # before any final response: nothing to acknowledge
        (S.PROCEEDING, E.TU_PROVISIONAL): (S.PROCEEDING, (_SEND,)),
        (S.PROCEEDING, E.TU_SUCCESS): (S.ACCEPTED, (_SEND, Arm(Timer.L))),
        (S.PROCEEDING, E.TU_FAILURE): (S.COMPLETED, (_SEND, Arm(Timer.G), Arm(Timer.H))),
        (S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.COMPLETED, E.REQUEST): (S.COMPLETED, (_RESEND,)),
        (S.COMPLETED, E.TIMER_G): (S.COMPLETED, (_RESEND, Arm(Timer.G, Backoff.DOUBLE))),
        (S.COMPLETED, E.TIMER_H): (S.TERMINATED, (Do.TIMEOUT,)),
        (S.COMPLETED, E.ACK): (S.CONFIRMED, (Arm(Timer.I),)),
        (S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.CONFIRMED, E.REQUEST): (S.CONFIRMED, ()),
        (S.CONFIRMED, E.ACK): (S.CONFIRMED, ()),
        (S.CONFIRMED, E.TIMER_I): (S.TERMINATED, ()),
        (S.ACCEPTED, E.REQUEST): (S.ACCEPTED, ()),  # RFC 6026 8.5: INVITE retransmits absorbed
        (S.ACCEPTED, E.ACK): (S.ACCEPTED, (_PASS,)),  # an ACK for the 2xx that reuses the INVITE's branch
        (S.ACCEPTED, E.TU_SUCCESS): (S.ACCEPTED, (_SEND,)),  # the TU's 2xx retransmissions
        (S.ACCEPTED, E.TRANSPORT_ERROR): (S.ACCEPTED, (Do.TRANSPORT_ERROR,)),
        (S.ACCEPTED, E.TIMER_L): (S.TERMINATED, ()),
    },
    {S.COMPLETED: frozenset({Timer.G, Timer.H}), S.CONFIRMED: frozenset({Timer.I}),
     S.ACCEPTED: frozenset({Timer.L})},
)  # fmt: skip

NON_INVITE_SERVER = MachineSpec(
    "non-INVITE server", S.TRYING, (_PASS,),
    {
        (S.TRYING, E.REQUEST): (S.TRYING, ()),
        (S.TRYING, E.TU_PROVISIONAL): (S.PROCEEDING, (_SEND,)),
        **{(S.TRYING, final): (S.COMPLETED, (_SEND, Arm(Timer.J))) for final in (E.TU_SUCCESS, E.TU_FAILURE)},
        (S.PROCEEDING, E.REQUEST): (S.PROCEEDING, (_RESEND,)),
        (S.PROCEEDING, E.TU_PROVISIONAL): (S.PROCEEDING, (_SEND,)),
        **{(S.PROCEEDING, final): (S.COMPLETED, (_SEND, Arm(Timer.J))) for final in (E.TU_SUCCESS, E.TU_FAILURE)},
        (S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.COMPLETED, E.REQUEST): (S.COMPLETED, (_RESEND,)),
        **{(S.COMPLETED, final): (S.COMPLETED, ()) for final in (E.TU_SUCCESS, E.TU_FAILURE)},  # 17.2.2: discarded
        (S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, (Do.TRANSPORT_ERROR,)),
        (S.COMPLETED, E.TIMER_J): (S.TERMINATED, ()),
    },
    {S.COMPLETED: frozenset({Timer.J})},
)  # fmt: skip

MACHINES: tuple[MachineSpec, ...] = (INVITE_CLIENT, NON_INVITE_CLIENT, INVITE_SERVER, NON_INVITE_SERVER)


@dataclass(frozen=True)
class TimerSettings:
    """RFC 3261 Table 4's base values, in seconds; every timer is derived from them."""

    t1: float = 0.5  # round-trip time estimate
    t2: float = 4.0  # the longest retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # how long a message may stay in the network
    d_unreliable: float = 32.0  # RFC 3261 17.1.1.2: "at least 32 seconds"

    def initial(self, timer: Timer, reliable: bool) -> float | None:
        """A timer's first interval; None when it does not run on this kind of transport."""
        if timer in (Timer.A, Timer.E, Timer.G):
            return None if reliable else self.t1
        if timer in (Timer.D, Timer.I, Timer.J, Timer.K):
            return 0.0 if reliable else {Timer.D: self.d_unreliable, Timer.J: 64 * self.t1}.get(timer, self.t4)
        return 64 * self.t1  # B, F, H, L, M

    def backed_off(self, timer: Timer, last: float, backoff: Backoff) -> float:
        if backoff is Backoff.AT_T2:
            return self.t2
        if backoff is Backoff.DOUBLE:
            return 2 * last if timer is Timer.A else min(2 * last, self.t2)
        return last


def _cell(actions: tuple[Action, ...]) -> str:
    return ", ".join(str(action) for action in actions) or "—"


def _table(spec: MachineSpec) -> list[str]:
    lines = [
        f"**{spec.name}** starts in `{spec.initial}`: {_cell(spec.entry)}.",
        "",
        "| state | event | next state | actions |",
        "|---|---|---|---|",
    ]
    for state in spec.states:
        for (source, event), (target, actions) in spec.transitions.items():
            if source is state:
                lines.append(f"| `{source}` | {event} | `{target}` | {_cell(actions)} |")
    return lines


def describe() -> str:
    """The four tables as Markdown: docs/protocol.md embeds this text, and a unit test keeps them equal."""
    lines: list[str] = []
    for spec in MACHINES:
        lines += [*_table(spec), ""]
    return "\n".join(lines)
