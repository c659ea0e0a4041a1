"""All the calls of this node, sans-I/O: commands from agents in, messages to agents out, one deadline.

The service in front of it authenticates agents, checks policy against the directory and finds the callee's
agents (through the registry, which may span nodes); the switchboard keeps the calls and their timers.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from datetime import datetime, timedelta

from callbridge.calling.call import Call, CallError, Leg, Send
from callbridge.calling.protocol import CallCommand


class Switchboard:
    def __init__(self, ring_time: timedelta, grace: timedelta, new_id: Callable[[], str]) -> None:
        self.ring_time = ring_time
        self.grace = grace
        self._new_id = new_id
        self.calls: dict[str, Call] = {}
        self._by_agent: dict[str, set[str]] = {}

    def _index(self, call: Call, agent_id: str) -> None:
        self._by_agent.setdefault(agent_id, set()).add(call.id)

    def start(self, caller_agent: str, caller: tuple[str, str | None], callee: tuple[str, str | None],
              callee_agents: list[str], thread_id: str | None, offer: str | None, now: datetime) -> tuple[Call,
                                                                                                    list[Send]]:
        call = Call(self._new_id(), thread_id, Leg(caller[0], caller[1], agent_id=caller_agent),
                    Leg(callee[0], callee[1]), self.ring_time, now)
        self.calls[call.id] = call
        for agent in (caller_agent, *callee_agents):
            self._index(call, agent)
        return call, call.place(callee_agents, offer, now)

    def command(self, agent_id: str, cmd: CallCommand, now: datetime) -> list[Send]:
        call = self.calls.get(cmd.call_id)
        if call is None or cmd.call_id not in self._by_agent.get(agent_id, set()):
            raise CallError(404, 0, f"There is no call '{cmd.call_id[:128]}' on this endpoint.")
        handlers: dict[str, Callable[[], list[Send]]] = {
            "accept": lambda: call.accept(agent_id, cmd.payload, now),
            "reject": lambda: call.reject(agent_id, now),
            "hang_up": lambda: call.hang_up(agent_id, now),
            "hold": lambda: call.hold(agent_id, True),
            "resume": lambda: call.hold(agent_id, False),
            "mute": lambda: call.mute(agent_id, True),
            "unmute": lambda: call.mute(agent_id, False),
            "dtmf": lambda: call.dtmf(agent_id, str(cmd.payload)),
            "sdp": lambda: call.relay(agent_id, "call.sdp", cmd.payload),
            "ice": lambda: call.relay(agent_id, "call.ice", cmd.payload),
        }
        return handlers[cmd.name]()

    def agent_gone(self, agent_id: str, now: datetime) -> list[Send]:
        out: list[Send] = []
        for call_id in sorted(self._by_agent.get(agent_id, set())):
            out += self.calls[call_id].agent_lost(agent_id, self.grace, now)
        return out

    def agent_back(self, agent_id: str) -> None:
        for call_id in self._by_agent.get(agent_id, set()):
            self.calls[call_id].agent_back(agent_id)

    def agents_in_calls(self) -> Set[str]:
        return self._by_agent.keys()

    def next_deadline(self) -> datetime | None:
        deadlines = [d for call in self.calls.values() if (d := call.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def on_timer(self, now: datetime) -> list[Send]:
        out: list[Send] = []
        for call in list(self.calls.values()):
            deadline = call.next_deadline()
            if deadline is not None and now >= deadline:
                out += call.on_timer(now)
        return out

    def take_ended(self) -> list[Call]:
        """Calls that have ended, removed from the switchboard (for their call records)."""
        ended = [c for c in self.calls.values() if c.ended]
        for call in ended:
            del self.calls[call.id]
        for calls in self._by_agent.values():
            calls.difference_update(c.id for c in ended)
        self._by_agent = {a: c for a, c in self._by_agent.items() if c}
        return ended
