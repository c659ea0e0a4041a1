"""All the calls of this node, sans-I/O: commands from agents in, messages to agents out, one deadline.

The service in front of it authenticates agents, checks policy against the directory and finds the callee's
agents (through the registry, which may span nodes); the switchboard keeps the calls and their timers. Its cost
per command does not grow with the number of calls: deadlines sit in a heap (an entry whose call has moved on is
dropped when it comes up), and a call that ends is set aside as it ends.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Set
from datetime import datetime, timedelta

from callbridge.calling.call import Call, CallError, Leg, Out
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.meeting import Meeting, MeetingFacts, Roles
from callbridge.calling.protocol import (
    Accept,
    CallCommand,
    CallCommandKind,
    Details,
    Dtmf,
    EarlyMedia,
    HangUp,
    Ice,
    LowerHand,
    OfParticipant,
    Reject,
    RemoveParticipant,
    Sdp,
)
from callbridge.calling.states import ParticipantRole

Handler = Callable[[Call, str, CallCommand, datetime], list[Out]]
K = CallCommandKind
HANDLERS: dict[CallCommandKind, Handler] = {
    K.ACCEPT: lambda call, agent, cmd, now: call.accept(agent, cmd.payload_as(Accept).sdp, now),
    K.REJECT: lambda call, agent, cmd, now: call.reject(agent, now, *_reason(cmd.payload_as(Reject).reason)),
    K.HANG_UP: lambda call, agent, cmd, now: call.hang_up(agent, now, *_reason(cmd.payload_as(HangUp).reason),
                                                         for_everyone=cmd.payload_as(HangUp).for_everyone),
    K.REMOVE_PARTICIPANT: lambda call, agent, cmd, now: call.remove_participant(
        agent, cmd.payload_as(RemoveParticipant).participant_id, now),
    K.ALERTING: lambda call, agent, cmd, now: call.alerting(agent),
    K.EARLY_MEDIA: lambda call, agent, cmd, now: call.early_media(agent, cmd.payload_as(EarlyMedia).sdp),
    K.HOLD: lambda call, agent, cmd, now: call.hold(agent, True),
    K.RESUME: lambda call, agent, cmd, now: call.hold(agent, False),
    K.MUTE: lambda call, agent, cmd, now: call.mute(agent, True),
    K.UNMUTE: lambda call, agent, cmd, now: call.mute(agent, False),
    K.DTMF: lambda call, agent, cmd, now: call.dtmf(agent, cmd.payload_as(Dtmf).tone),
    K.SDP: lambda call, agent, cmd, now: call.relay_sdp(agent, cmd.payload_as(Sdp).sdp),
    K.ICE: lambda call, agent, cmd, now: call.relay_ice(agent, cmd.payload_as(Ice).candidate),
}


def _meeting(call: Call) -> Meeting:
    if not isinstance(call, Meeting):
        raise CallError(400, 45950, "This call is not a meeting.")
    return call


def _of(cmd: CallCommand) -> str:
    return cmd.payload_as(OfParticipant).participant_id


HANDLERS.update({
    K.ADMIT: lambda call, agent, cmd, now: _meeting(call).admit(agent, _of(cmd), now),
    K.REJECT_FROM_LOBBY: lambda call, agent, cmd, now: _meeting(call).reject_from_lobby(agent, _of(cmd), now),
    K.ADMIT_ALL: lambda call, agent, cmd, now: _meeting(call).admit_all(agent, now),
    K.MUTE_PARTICIPANT: lambda call, agent, cmd, now: _meeting(call).mute_participant(agent, _of(cmd)),
    K.MUTE_ALL: lambda call, agent, cmd, now: _meeting(call).mute_all(agent),
    K.RAISE_HAND: lambda call, agent, cmd, now: _meeting(call).raise_hand(agent),
    K.LOWER_HAND: lambda call, agent, cmd, now: _meeting(call).lower_hand(
        agent, cmd.payload_as(LowerHand).participant_id),
    K.LOWER_ALL_HANDS: lambda call, agent, cmd, now: _meeting(call).lower_all_hands(agent),
    K.AUDIO_CONFERENCING: lambda call, agent, cmd, now: _meeting(call).audio_conferencing(
        agent, cmd.payload_as(Details).request_id),
})


class Switchboard:
    def __init__(self, ring_time: timedelta, grace: timedelta, new_id: Callable[[], str]) -> None:
        self.ring_time = ring_time
        self.grace = grace
        self._new_id = new_id
        self.calls: dict[str, Call] = {}
        self._by_agent: dict[str, set[str]] = {}  # agent -> the calls it was ever part of, until they end
        self._agents: dict[str, tuple[str, ...]] = {}  # call -> the agents it was ever sent to
        self._deadlines: list[tuple[datetime, str]] = []  # a heap of (deadline, call id), stale entries skipped
        self._filed: dict[str, datetime] = {}  # call -> its deadline in the heap (the live entry)
        self._ended: list[Call] = []
        self._meetings: dict[str, str] = {}  # a meeting's thread -> the call of its meeting in progress

    def start(self, caller: Leg, callee: Leg, callee_agents: list[str], thread_id: str | None, offer: str | None,
              now: datetime, *, alerting: bool = True) -> tuple[Call, list[Out]]:
        """A new call from ``caller`` (its ``agent_id`` set) ringing every one of ``callee_agents`` (or, with
        ``alerting=False``, reaching an endpoint that says when it rings: a phone leg)."""
        assert caller.agent_id is not None
        call = Call(self._new_id(), thread_id, caller, callee, self.ring_time, now)
        self.calls[call.id] = call
        self._agents[call.id] = (caller.agent_id, *callee_agents)
        for agent in self._agents[call.id]:
            self._by_agent.setdefault(agent, set()).add(call.id)
        return call, self._settle(call, call.place(callee_agents, offer, now, alerting=alerting))

    def command(self, agent_id: str, cmd: CallCommand, now: datetime) -> list[Out]:
        call = self.call_of(agent_id, cmd.call_id)
        handler = HANDLERS.get(cmd.kind)
        if handler is None:
            raise CallError(400, 0, f"{cmd.kind.value} is not a command the call takes itself.")
        return self._settle(call, handler(call, agent_id, cmd, now))

    def call_of(self, agent_id: str, call_id: str) -> Call:
        """The live call ``call_id`` if ``agent_id`` is part of it (or rang for it)."""
        call = self.calls.get(call_id)
        if call is None or call_id not in self._by_agent.get(agent_id, set()):
            raise CallError(404, 0, f"There is no call '{call_id[:128]}' on this endpoint.")
        return call

    # -- meetings -------------------------------------------------------------------------------------------
    def join(self, agent_id: str, facts: MeetingFacts, roles: Roles, lobby_timeout: timedelta, leg: Leg, now: datetime,
             *, lobby: bool) -> tuple[Meeting, list[Out]]:
        """``leg`` joins the meeting in progress of ``facts.thread_id`` through ``agent_id`` (the first to join
        starts it)."""
        current = self.calls.get(self._meetings.get(facts.thread_id, ""))
        meeting = current if isinstance(current, Meeting) else \
            Meeting(self._new_id(), facts, roles, lobby_timeout, self.ring_time, now)
        out = meeting.join(agent_id, leg, now, lobby=lobby)
        if meeting is not current:
            self.calls[meeting.id], self._agents[meeting.id] = meeting, ()
            self._meetings[facts.thread_id] = meeting.id
        self._index(meeting, [agent_id])
        return meeting, self._settle(meeting, out)

    def meeting_of(self, thread_id: str) -> Meeting | None:
        """The meeting in progress of ``thread_id``, if any."""
        call = self.calls.get(self._meetings.get(thread_id, ""))
        return call if isinstance(call, Meeting) else None

    def change_roles(self, call_id: str, roles: dict[str, ParticipantRole]) -> list[Out]:
        call = self.calls.get(call_id)
        return self._settle(call, call.change_roles(roles)) if isinstance(call, Meeting) else []

    def talking(self, call_id: str, participant_id: str, talking: bool, now: datetime) -> list[Out]:
        call = self.calls.get(call_id)
        if not isinstance(call, Meeting):
            return []
        return self._settle(call, call.talking(participant_id, talking, now))

    # -- more than two parties ------------------------------------------------------------------------------
    def add_participant(self, agent_id: str, call_id: str, leg: Leg, agents: list[str], now: datetime
                        ) -> list[Out]:
        call = self.call_of(agent_id, call_id)
        out = call.add_participant(agent_id, leg, agents, now)
        self._index(call, agents)
        return self._settle(call, out)

    def reach(self, call_id: str, participant_id: str, agents: list[str], offer: str, now: datetime) -> list[Out]:
        call = self.calls.get(call_id)
        if call is None:
            return []
        self._index(call, agents)
        return self._settle(call, call.reach(participant_id, agents, offer, now))

    def mixer_sdp(self, call_id: str, participant_id: str, sdp: str) -> list[Out]:
        call = self.calls.get(call_id)
        return [] if call is None else self._settle(call, call.mixer_sdp(participant_id, sdp))

    def mixer_failed(self, call_id: str, participant_id: str, now: datetime, reason: EndReason) -> list[Out]:
        call = self.calls.get(call_id)
        return [] if call is None else self._settle(call, call.mixer_failed(participant_id, now, reason))

    def _index(self, call: Call, agents: list[str]) -> None:
        self._agents[call.id] = (*self._agents[call.id], *agents)
        for agent in agents:
            self._by_agent.setdefault(agent, set()).add(call.id)

    def agent_gone(self, agent_id: str, now: datetime) -> list[Out]:
        out: list[Out] = []
        for call_id in sorted(self._by_agent.get(agent_id, set())):
            call = self.calls[call_id]
            out += self._settle(call, call.agent_lost(agent_id, self.grace, now))
        return out

    def agent_back(self, agent_id: str) -> None:
        for call_id in self._by_agent.get(agent_id, set()):
            call = self.calls[call_id]
            call.agent_back(agent_id)
            self._settle(call, [])

    def agents_in_calls(self) -> Set[str]:
        return self._by_agent.keys()

    def next_deadline(self) -> datetime | None:
        while self._deadlines:
            deadline, call_id = self._deadlines[0]
            if self._filed.get(call_id) == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def on_timer(self, now: datetime) -> list[Out]:
        due: list[Call] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, call_id = heapq.heappop(self._deadlines)
            del self._filed[call_id]
            due.append(self.calls[call_id])
        out: list[Out] = []
        for call in due:
            out += self._settle(call, call.on_timer(now))
        return out

    def take_ended(self) -> list[Call]:
        """Calls that have ended since the last time, removed from the switchboard (for their call records)."""
        ended, self._ended = self._ended, []
        return ended

    def _settle(self, call: Call, sends: list[Out]) -> list[Out]:
        """After ``call`` changed: file its next deadline, or set it aside if it ended."""
        if call.ended:
            self._filed.pop(call.id, None)
            if self.calls.pop(call.id, None) is not None:
                self._ended.append(call)
                if call.thread_id is not None and self._meetings.get(call.thread_id) == call.id:
                    del self._meetings[call.thread_id]
                for agent in self._agents.pop(call.id):
                    self._unindex(agent, call.id)
            return sends
        deadline = call.next_deadline()
        if deadline is None:
            self._filed.pop(call.id, None)
        elif self._filed.get(call.id) != deadline:
            self._filed[call.id] = deadline
            heapq.heappush(self._deadlines, (deadline, call.id))
        return sends

    def _unindex(self, agent_id: str, call_id: str) -> None:
        calls = self._by_agent.get(agent_id)
        if calls is not None:
            calls.discard(call_id)
            if not calls:
                del self._by_agent[agent_id]


def _reason(reason: EndReason | None) -> tuple[EndReason, ...]:
    """The end reason a phone leg gives with its refusal or hang-up (agents' frames never carry one)."""
    return (reason,) if reason is not None else ()
