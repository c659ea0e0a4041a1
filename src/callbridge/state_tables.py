"""What the transition tables of callbridge share (the SIP transactions and dialogs, the call and its participants,
the phone leg, the dial-in): the error a pair missing from a table raises, and the Markdown the docs embed of a
table read state by state (a unit test keeps each doc equal to its table)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

S = TypeVar("S")
E = TypeVar("E")


class InvalidTransition(Exception):
    """``machine`` got ``event`` in ``state``, a pair its table does not have: a broken driver or peer."""

    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(f"{machine}: no transition from {state} on {event}")
        self.machine = machine
        self.state = state
        self.event = event


def moves_by_state(heading: str, states: Iterable[S], events: Iterable[E], move: Callable[[S, E], str | None],
                   *, joined_by: str = ", ") -> list[str]:
    """``| heading | moves |``, a row a state: each event it takes (in the events' order) with ``move(state,
    event)``, "final" when it takes none. ``move`` is None for a pair not in the table."""
    events = list(events)
    rows = [f"| {heading} |", "|---|---|"]
    for state in states:
        moves = [f"`{event}` → {text}" for event in events if (text := move(state, event)) is not None]
        rows.append(f"| `{state}` | {joined_by.join(moves) or 'final'} |")
    return rows
