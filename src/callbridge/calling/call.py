"""A call, sans-I/O: commands in (with ``now``), messages to agents out, and the next deadline.

A call is a set of participants (legs), each reached through one or more agents. A Teams-user target forks to
every agent of that user: the first to accept carries the leg, the others end with 487/10003. Timers (the ring
time, the reconnection grace) are deadlines the caller of this class fires with ``on_timer(now)``; nothing here
sleeps, reads a clock or touches a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callbridge.calling import end_reasons as reasons
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.events import (
    CallDtmf,
    CallIce,
    CallIncoming,
    CallIncomingEnded,
    CallSdp,
    CallStateChanged,
    Event,
    Participant,
    ParticipantChanged,
)
from callbridge.calling.states import (
    CallEvent,
    CallState,
    ParticipantEvent,
    ParticipantState,
    call_next,
    participant_next,
)

DTMF_TONES = frozenset("0123456789*#ABCD") | {"Flash"}


class CallError(Exception):
    """A command the call cannot take (ACS's code and subCode, e.g. 400/41006 accepting a call no longer
    ringing); the call is unchanged."""

    def __init__(self, code: int, sub_code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.sub_code = sub_code


@dataclass(frozen=True)
class Send:
    agent_id: str
    event: Event


@dataclass
class Leg:
    raw_id: str
    display_name: str | None
    tenant_id: str | None = None  # the party's organisation, when it has one
    state: ParticipantState = ParticipantState.IDLE
    agent_id: str | None = None  # the agent carrying the leg (the caller's, or the one that accepted)
    view: CallState = CallState.NONE  # what that agent sees
    ringing: set[str] = field(default_factory=set)
    muted: bool = False
    held: bool = False
    end_reason: EndReason | None = None

    def step(self, event: ParticipantEvent) -> None:
        self.state = participant_next(self.state, event)

    def view_of(self) -> Participant:
        return Participant(self.raw_id, self.display_name, self.state, self.muted)


@dataclass
class Call:
    id: str
    thread_id: str | None
    caller: Leg
    callee: Leg
    ring_time: timedelta
    created_at: datetime
    ring_deadline: datetime | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    lost: dict[str, datetime] = field(default_factory=dict)  # agent -> deadline to come back
    trunk_call_id: str | None = None  # the SIP Call-ID of a phone leg's session

    # -- reading ------------------------------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def legs(self) -> tuple[Leg, Leg]:
        return self.caller, self.callee

    def leg_of(self, agent_id: str) -> Leg:
        for leg in self.legs():
            if leg.agent_id == agent_id:
                return leg
        raise CallError(404, 0, f"agent {agent_id} is not in call {self.id}")

    def other(self, leg: Leg) -> Leg:
        return self.callee if leg is self.caller else self.caller

    def next_deadline(self) -> datetime | None:
        deadlines = [d for d in (self.ring_deadline, *self.lost.values()) if d is not None]
        return min(deadlines) if deadlines and not self.ended else None

    # -- messages -----------------------------------------------------------------------------------------
    def _state(self, leg: Leg, event: CallEvent) -> list[Send]:
        leg.view = call_next(leg.view, event)
        if leg.agent_id is None:
            return []
        end_reason = leg.end_reason if leg.view is CallState.DISCONNECTED else None
        return [Send(leg.agent_id, CallStateChanged(self.id, leg.view, end_reason))]

    def _participant(self, about: Leg) -> list[Send]:
        to = self.other(about).agent_id
        if to is None:
            return []
        return [Send(to, ParticipantChanged(self.id, about.view_of()))]

    def _incoming_ended(self, agent_id: str, reason: EndReason) -> Send:
        return Send(agent_id, CallIncomingEnded(self.id, reason))

    # -- commands -----------------------------------------------------------------------------------------
    def place(self, callee_agents: list[str], offer: str | None, now: datetime, *, alerting: bool = True
              ) -> list[Send]:
        """The caller's agent starts the call; every agent of the callee is alerted. With ``alerting=False`` the
        callee's endpoint says when it rings (``alerting``): a phone, whose network answers 180 in its own time."""
        out = self._state(self.caller, CallEvent.START)
        self.caller.step(ParticipantEvent.DIAL)
        self.caller.step(ParticipantEvent.ANSWER)  # the caller is in its own call from the start
        self.callee.step(ParticipantEvent.DIAL)
        if not callee_agents:
            return out + self._finish(reasons.NO_ENDPOINT, now)
        self.callee.ringing = set(callee_agents)
        self.ring_deadline = now + self.ring_time
        incoming = CallIncoming(self.id, self.thread_id, self.caller.raw_id, self.caller.display_name, offer)
        out += [Send(agent, incoming) for agent in sorted(callee_agents)]
        return out + (self._alerted() if alerting else [])

    def alerting(self, agent_id: str) -> list[Send]:
        """A callee's endpoint that rings in its own time says it rings (again, for a repeated 180: nothing)."""
        if self.ended or agent_id not in self.callee.ringing:
            raise CallError(400, 41006, "The call is no longer ringing on this endpoint.")
        return self._alerted() if self.caller.view is CallState.CONNECTING else []

    def early_media(self, agent_id: str, answer: str | None) -> list[Send]:
        """A callee's endpoint sends media before it answers (a phone network's 183 with SDP: ringback, or an
        announcement before a refusal): the caller gets the answer now and the call shows ``EarlyMedia``. A later
        ``accept`` without an answer connects the same media."""
        if self.ended or agent_id not in self.callee.ringing:
            raise CallError(400, 41006, "The call is no longer ringing on this endpoint.")
        if self.caller.view is CallState.EARLY_MEDIA:
            return []  # a repeated 183
        self.callee.step(ParticipantEvent.EARLY_MEDIA)
        out = []
        if answer is not None and self.caller.agent_id is not None:
            out.append(Send(self.caller.agent_id, CallSdp(self.id, answer)))
        return out + self._state(self.caller, CallEvent.EARLY_MEDIA) + self._participant(self.callee)

    def _alerted(self) -> list[Send]:
        self.callee.step(ParticipantEvent.ALERT)
        return self._state(self.caller, CallEvent.REMOTE_RINGING) + self._participant(self.callee)

    def accept(self, agent_id: str, answer: str | None, now: datetime) -> list[Send]:
        if self.ended or agent_id not in self.callee.ringing:
            raise CallError(400, 41006, "The call is no longer ringing on this endpoint.")
        others = self.callee.ringing - {agent_id}
        self.callee.ringing = set()
        self.ring_deadline = None
        self.callee.agent_id = agent_id
        self.callee.step(ParticipantEvent.ANSWER)
        self.connected_at = now
        out = [self._incoming_ended(a, reasons.ACCEPTED_ELSEWHERE) for a in sorted(others)]
        out += self._state(self.callee, CallEvent.START) + self._state(self.callee, CallEvent.CONNECTED)
        if answer is not None and self.caller.agent_id is not None:
            out.append(Send(self.caller.agent_id, CallSdp(self.id, answer)))
        return out + self._state(self.caller, CallEvent.CONNECTED) + self._participant(self.callee)

    def reject(self, agent_id: str, now: datetime, reason: EndReason = reasons.DECLINED) -> list[Send]:
        """An endpoint declines (or, for a phone, its network refuses the call with ``reason``); when none is
        left ringing, the call ends with the last one's reason."""
        if self.ended or agent_id not in self.callee.ringing:
            raise CallError(400, 41007, "The call is no longer ringing on this endpoint.")
        self.callee.ringing.discard(agent_id)
        out = [self._incoming_ended(agent_id, reason)]
        if not self.callee.ringing:
            out += self._finish(reason, now)
        return out

    def hang_up(self, agent_id: str, now: datetime, reason: EndReason = reasons.HUNG_UP) -> list[Send]:
        """A leg's agent hangs up: the others see ``reason`` (a phone's far end: 0/560000), the caller's hang-up
        before an answer is a cancel."""
        leg = self.leg_of(agent_id)
        if self.ended:
            return []
        out = self._state(leg, CallEvent.HANG_UP)
        cancelled = leg is self.caller and self.connected_at is None
        return out + self._finish(reasons.CANCELLED if cancelled else reason, now, local=leg)

    def hold(self, agent_id: str, held: bool) -> list[Send]:
        leg = self.leg_of(agent_id)
        if self.connected_at is None or self.ended or leg.held == held:
            raise CallError(400, 41008, "The call is not in a state to be " + ("held." if held else "resumed."))
        leg.held = held
        leg.step(ParticipantEvent.HOLD if held else ParticipantEvent.RESUME)
        other = self.other(leg)
        out = self._state(leg, CallEvent.HOLD if held else CallEvent.RESUME)
        if not held and other.held:
            out += self._state(leg, CallEvent.REMOTE_HOLD)
        if other.view is not CallState.LOCAL_HOLD:
            out += self._state(other, CallEvent.REMOTE_HOLD if held else CallEvent.REMOTE_RESUME)
        return out + self._participant(leg)

    def mute(self, agent_id: str, muted: bool) -> list[Send]:
        leg = self.leg_of(agent_id)
        leg.muted = muted
        return self._participant(leg)

    def dtmf(self, agent_id: str, tone: str) -> list[Send]:
        leg = self.leg_of(agent_id)
        if tone not in DTMF_TONES:
            raise CallError(400, 0, f"'{tone}' is not a DTMF tone.")
        if self.connected_at is None or self.ended:
            raise CallError(400, 41008, "DTMF needs a connected call.")
        to = self.other(leg).agent_id
        return [Send(to, CallDtmf(self.id, tone))] if to else []

    def relay_sdp(self, agent_id: str, sdp: str) -> list[Send]:
        """An SDP from one side, for the other side's agent(s)."""
        return [Send(a, CallSdp(self.id, sdp)) for a in self._relay_to(agent_id)]

    def relay_ice(self, agent_id: str, candidate: dict[str, Any] | None) -> list[Send]:
        """An ICE candidate from one side, for the other side's agent(s)."""
        return [Send(a, CallIce(self.id, candidate)) for a in self._relay_to(agent_id)]

    def _relay_to(self, agent_id: str) -> list[str]:
        if agent_id in self.callee.ringing:
            to: list[str | None] = [self.caller.agent_id]
        else:
            other = self.other(self.leg_of(agent_id))
            to = [other.agent_id] if other.agent_id else list(sorted(other.ringing))
        return [a for a in to if a]

    # -- connection loss ----------------------------------------------------------------------------------
    def agent_lost(self, agent_id: str, grace: timedelta, now: datetime) -> list[Send]:
        if self.ended:
            return []
        if agent_id in self.callee.ringing:  # a ringing endpoint went away: it just stops ringing
            self.callee.ringing.discard(agent_id)
            return self._finish(reasons.NO_ENDPOINT, now) if not self.callee.ringing and \
                self.callee.agent_id is None else []
        if agent_id in (self.caller.agent_id, self.callee.agent_id):  # not one that declined or lost the race
            self.lost[agent_id] = now + grace
        return []

    def agent_back(self, agent_id: str) -> None:
        self.lost.pop(agent_id, None)

    def on_timer(self, now: datetime) -> list[Send]:
        if self.ended:
            return []
        if self.ring_deadline is not None and now >= self.ring_deadline:
            return self._finish(reasons.NOT_ANSWERED, now)
        for agent_id, deadline in sorted(self.lost.items()):
            if now >= deadline:
                return self._finish(reasons.NETWORK_LOST, now, gone=agent_id)
        return []

    # -- the end ------------------------------------------------------------------------------------------
    def _finish(self, reason: EndReason, now: datetime, local: Leg | None = None,
                gone: str | None = None) -> list[Send]:
        """End the call for everyone: ringing agents' incoming calls end, each leg's agent sees Disconnected."""
        self.ended_at, self.end_reason = now, reason
        self.ring_deadline = None
        self.lost.clear()
        ringing_reason = reasons.CANCELLED if reason is reasons.CANCELLED else reason
        out = [self._incoming_ended(a, ringing_reason) for a in sorted(self.callee.ringing)]
        self.callee.ringing = set()
        for leg in self.legs():
            leg.end_reason = reasons.HUNG_UP if leg is local else reason
            if leg.state is not ParticipantState.DISCONNECTED:
                leg.step(ParticipantEvent.END)
            if leg.agent_id == gone:
                leg.agent_id = None  # nobody to tell
            if leg.view is not CallState.DISCONNECTED and (leg.agent_id is not None or leg.view is not
                                                          CallState.NONE):
                out += self._state(leg, CallEvent.ENDED)
        return out
