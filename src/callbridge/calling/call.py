"""A call, sans-I/O: commands in (with ``now``), messages to agents and actions for the mixer out, and the next
deadline.

A call is a set of participants (legs) keyed by participant id, each with a role and a state, each reached
through one or more agents: a Teams-user target forks to every agent of that user, the first to accept carries
the leg, the others end with 487/10003. A 1:1 call is the two-party case: its media goes peer to peer, the SDPs
relayed between the two agents, and when either hangs up the call ends. Adding a participant makes it a group
call: the media moves to a conference mixer (``calling/mixing.py``: the mixer offers each participant a new media
session), and a participant leaving ends only its own leg, until one is left. Timers (ring times, reconnection
graces) are deadlines the caller of this class fires with ``on_timer(now)``; nothing here sleeps, reads a clock
or touches a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from callbridge.calling.identifiers import Kind, parse_raw_id
from callbridge.calling.mixing import (
    Action,
    AnswerRoom,
    CloseRoom,
    DialPhone,
    LeaveRoom,
    MuteInRoom,
    Negotiate,
    OpenRoom,
    TrickleRoom,
)
from callbridge.calling.states import (
    CallEvent,
    CallState,
    ParticipantEvent,
    ParticipantRole,
    ParticipantState,
    call_next,
    participant_next,
)

DTMF_TONES = frozenset("0123456789*#ABCD") | {"Flash"}
MAX_PARTICIPANTS = 350  # ACS's limit of participants in one call


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


Out = Send | Action


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
    id: str = ""  # the participant's id in the call, given when it joins the call
    role: ParticipantRole = ParticipantRole.UNKNOWN
    ring_deadline: datetime | None = None
    media_session: int = 0  # the number of the leg's current media session with the mixer (0: none)
    mixer_offered: bool = False  # the mixer's offer waits for this participant's answer
    muted_by_others: bool = False  # out of the mix until it unmutes itself
    speaking: bool = False
    client: str | None = None  # what it takes part from: "browser", "app" (an SDK), "phone"
    joined_at: datetime | None = None  # when it came into the call (answered, or entered a meeting)
    left_at: datetime | None = None

    def step(self, event: ParticipantEvent) -> None:
        self.state = participant_next(self.state, event)

    def view_of(self) -> Participant:
        return Participant(self.raw_id, self.display_name, self.state, self.muted or self.muted_by_others, self.id,
                           self.role, self.speaking)

    @property
    def live(self) -> bool:
        """In the call, or on its way in."""
        return self.state is not ParticipantState.DISCONNECTED

    @property
    def is_phone(self) -> bool:
        return parse_raw_id(self.raw_id).kind is Kind.PHONE_NUMBER


class Call:
    """``Call(id, thread_id, caller, callee, ring_time, created_at)``: a call from ``caller`` (its agent set) to
    ``callee``; ``add_participant`` brings in more."""

    def __init__(self, id: str, thread_id: str | None, caller: Leg | None, callee: Leg | None,
                 ring_time: timedelta, created_at: datetime) -> None:
        self.id, self.thread_id, self.ring_time, self.created_at = id, thread_id, ring_time, created_at
        self.participants: dict[str, Leg] = {}
        self.connected_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.end_reason: EndReason | None = None
        self.lost: dict[str, datetime] = {}  # agent -> deadline to come back
        self.trunk_call_id: str | None = None  # the SIP Call-ID of a phone leg's session
        self.mixed = False  # the media goes through the mixer (more than two parties)
        for leg in (caller, callee):
            if leg is not None:
                self._admit(leg)

    def _admit(self, leg: Leg) -> None:
        leg.id = leg.id or f"p{len(self.participants) + 1}"
        if leg.id in self.participants:
            raise CallError(409, 0, f"participant {leg.id} is already in call {self.id}")
        self.participants[leg.id] = leg

    # -- reading ------------------------------------------------------------------------------------------
    @property
    def caller(self) -> Leg:
        """The party that placed the call."""
        return next(iter(self.participants.values()))

    @property
    def callee(self) -> Leg:
        """The party it was placed to."""
        legs = iter(self.participants.values())
        next(legs)
        return next(legs)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def legs(self) -> tuple[Leg, ...]:
        return tuple(self.participants.values())

    def live_legs(self) -> Iterator[Leg]:
        return (leg for leg in self.participants.values() if leg.live)

    def leg_of(self, agent_id: str) -> Leg:
        """The agent's leg in the call: the live one when it has left a meeting and joined it again (its old legs
        stay in the roster, Disconnected), else its last."""
        found: Leg | None = None
        for leg in self.participants.values():
            if leg.agent_id == agent_id:
                if leg.live:
                    return leg
                found = leg
        if found is None:
            raise CallError(404, 0, f"agent {agent_id} is not in call {self.id}")
        return found

    def _ringing_leg(self, agent_id: str) -> Leg | None:
        for leg in self.participants.values():
            if agent_id in leg.ringing:
                return leg
        return None

    def participant(self, participant_id: str) -> Leg:
        leg = self.participants.get(participant_id)
        if leg is None or not leg.live:
            raise CallError(404, 0, f"There is no participant '{participant_id[:64]}' in this call.")
        return leg

    def other(self, leg: Leg) -> Leg:
        """The other party of a two-party call."""
        return self.callee if leg is self.caller else self.caller

    @property
    def ring_deadline(self) -> datetime | None:
        deadlines = [leg.ring_deadline for leg in self.participants.values() if leg.ring_deadline is not None]
        return min(deadlines) if deadlines else None

    def next_deadline(self) -> datetime | None:
        deadlines = [d for d in (self.ring_deadline, *self.lost.values()) if d is not None]
        return min(deadlines) if deadlines and not self.ended else None

    # -- messages -----------------------------------------------------------------------------------------
    def _state(self, leg: Leg, event: CallEvent) -> list[Out]:
        leg.view = call_next(leg.view, event)
        if leg.agent_id is None:
            return []
        end_reason = leg.end_reason if leg.view is CallState.DISCONNECTED else None
        return [Send(leg.agent_id, CallStateChanged(self.id, leg.view, end_reason))]

    def _participant(self, about: Leg) -> list[Out]:
        """``about`` changed: every other party's agent is told."""
        return [Send(leg.agent_id, ParticipantChanged(self.id, about.view_of())) for leg in self.participants.values()
                if leg is not about and leg.agent_id is not None and leg.view is not CallState.DISCONNECTED]

    def _roster(self, to: Leg) -> list[Out]:
        """Everyone else in the call, for a party that just came in."""
        assert to.agent_id is not None
        return [Send(to.agent_id, ParticipantChanged(self.id, leg.view_of())) for leg in self.live_legs()
                if leg is not to]

    def _incoming_ended(self, agent_id: str, reason: EndReason) -> Send:
        return Send(agent_id, CallIncomingEnded(self.id, reason))

    # -- commands -----------------------------------------------------------------------------------------
    def place(self, callee_agents: list[str], offer: str | None, now: datetime, *, alerting: bool = True
              ) -> list[Out]:
        """The caller's agent starts the call; every agent of the callee is alerted. With ``alerting=False`` the
        callee's endpoint says when it rings (``alerting``): a phone, whose network answers 180 in its own time."""
        out = self._state(self.caller, CallEvent.START)
        self.caller.step(ParticipantEvent.DIAL)
        self.caller.step(ParticipantEvent.ANSWER)  # the caller is in its own call from the start
        self.caller.joined_at = now
        self.callee.step(ParticipantEvent.DIAL)
        if not callee_agents:
            return out + self._finish(reasons.NO_ENDPOINT, now)
        incoming = CallIncoming(self.id, self.thread_id, self.caller.raw_id, self.caller.display_name, offer)
        out += self._ring(self.callee, callee_agents, incoming, now)
        return out + (self._alerted(self.callee) if alerting else [])

    def _ring(self, leg: Leg, agents: list[str], incoming: CallIncoming, now: datetime) -> list[Out]:
        leg.ringing = set(agents)
        leg.ring_deadline = now + self.ring_time
        return [Send(agent, incoming) for agent in sorted(agents)]

    def _ringing_or_refuse(self, agent_id: str, sub_code: int = 41006) -> Leg:
        leg = None if self.ended else self._ringing_leg(agent_id)
        if leg is None:
            raise CallError(400, sub_code, "The call is no longer ringing on this endpoint.")
        return leg

    def alerting(self, agent_id: str) -> list[Out]:
        """A callee's endpoint that rings in its own time says it rings (again, for a repeated 180: nothing)."""
        leg = self._ringing_or_refuse(agent_id)
        if self.mixed:
            return self._alerted(leg) if leg.state is ParticipantState.CONNECTING else []
        return self._alerted(leg) if self.caller.view is CallState.CONNECTING else []

    def early_media(self, agent_id: str, answer: str | None) -> list[Out]:
        """A callee's endpoint sends media before it answers (a phone network's 183 with SDP: ringback, or an
        announcement before a refusal): the caller gets the answer now and the call shows ``EarlyMedia``. A later
        ``accept`` without an answer connects the same media."""
        leg = self._ringing_or_refuse(agent_id)
        if leg.state is ParticipantState.EARLY_MEDIA:
            return []  # a repeated 183
        leg.step(ParticipantEvent.EARLY_MEDIA)
        if self.mixed:
            return self._from_participant_sdp(leg, answer) + self._participant(leg)
        out: list[Out] = []
        if answer is not None and self.caller.agent_id is not None:
            out.append(Send(self.caller.agent_id, CallSdp(self.id, answer)))
        return out + self._state(self.caller, CallEvent.EARLY_MEDIA) + self._participant(leg)

    def _alerted(self, leg: Leg) -> list[Out]:
        leg.step(ParticipantEvent.ALERT)
        if self.mixed:
            return self._participant(leg)
        return self._state(self.caller, CallEvent.REMOTE_RINGING) + self._participant(leg)

    def accept(self, agent_id: str, answer: str | None, now: datetime) -> list[Out]:
        leg = self._ringing_or_refuse(agent_id)
        others = leg.ringing - {agent_id}
        leg.ringing = set()
        leg.ring_deadline = None
        leg.agent_id = agent_id
        self.lost.pop(agent_id, None)
        leg.step(ParticipantEvent.ANSWER)
        leg.joined_at = now
        self.connected_at = self.connected_at or now
        out: list[Out] = [self._incoming_ended(a, reasons.ACCEPTED_ELSEWHERE) for a in sorted(others)]
        out += self._state(leg, CallEvent.START) + self._state(leg, CallEvent.CONNECTED)
        if self.mixed:
            out += self._roster(leg) + self._participant(leg)
            if leg.media_session or leg.mixer_offered or answer is not None:  # a phone answering the mixer
                return out + self._from_participant_sdp(leg, answer)
            return out + self._mixer_offers(leg)
        if answer is not None and self.caller.agent_id is not None:
            out.append(Send(self.caller.agent_id, CallSdp(self.id, answer)))
        return out + self._state(self.caller, CallEvent.CONNECTED) + self._participant(leg)

    def reject(self, agent_id: str, now: datetime, reason: EndReason = reasons.DECLINED) -> list[Out]:
        """An endpoint declines (or, for a phone, its network refuses the call with ``reason``); when none of the
        leg's endpoints is left ringing, the leg ends with the last one's reason (and a two-party call with it)."""
        leg = self._ringing_or_refuse(agent_id, 41007)
        leg.ringing.discard(agent_id)
        out: list[Out] = [self._incoming_ended(agent_id, reason)]
        if not leg.ringing:
            out += self._leg_unreached(leg, reason, now)
        return out

    def hang_up(self, agent_id: str, now: datetime, reason: EndReason = reasons.HUNG_UP, *,
                for_everyone: bool = False) -> list[Out]:
        """A leg's agent hangs up: the others see ``reason`` (a phone's far end: 0/560000), the caller's hang-up
        before an answer is a cancel. In a group call only the leg leaves, unless ``for_everyone``."""
        leg = self.leg_of(agent_id)
        if self.ended or not leg.live:
            return []
        out = self._state(leg, CallEvent.HANG_UP)
        if for_everyone:
            return out + self._finish(reasons.ENDED_FOR_EVERYONE, now, local=leg)
        if self.mixed:
            return out + self._leave(leg, reasons.HUNG_UP, now)
        cancelled = leg is self.caller and self.connected_at is None
        return out + self._finish(reasons.CANCELLED if cancelled else reason, now, local=leg)

    def hold(self, agent_id: str, held: bool) -> list[Out]:
        leg = self.leg_of(agent_id)
        if self.connected_at is None or self.ended or leg.held == held or not leg.live:
            raise CallError(400, 41008, "The call is not in a state to be " + ("held." if held else "resumed."))
        leg.held = held
        leg.step(ParticipantEvent.HOLD if held else ParticipantEvent.RESUME)
        out = self._state(leg, CallEvent.HOLD if held else CallEvent.RESUME)
        if self.mixed:  # the held party's audio leaves the mix; the others see it on hold
            return [*out, MuteInRoom(self.id, leg.id, held or leg.muted_by_others), *self._participant(leg)]
        other = self.other(leg)
        if not held and other.held:
            out += self._state(leg, CallEvent.REMOTE_HOLD)
        if other.view is not CallState.LOCAL_HOLD:
            out += self._state(other, CallEvent.REMOTE_HOLD if held else CallEvent.REMOTE_RESUME)
        return out + self._participant(leg)

    def mute(self, agent_id: str, muted: bool) -> list[Out]:
        leg = self.leg_of(agent_id)
        leg.muted = muted
        return self._participant(leg)

    def dtmf(self, agent_id: str, tone: str) -> list[Out]:
        leg = self.leg_of(agent_id)
        if tone not in DTMF_TONES:
            raise CallError(400, 0, f"'{tone}' is not a DTMF tone.")
        if self.connected_at is None or self.ended:
            raise CallError(400, 41008, "DTMF needs a connected call.")
        return [Send(other.agent_id, CallDtmf(self.id, tone)) for other in self.live_legs()
                if other is not leg and other.agent_id is not None]

    def relay_sdp(self, agent_id: str, sdp: str) -> list[Out]:
        """An SDP from one side: for the other side's agent(s), or in a group call for the mixer."""
        if self.mixed:
            return self._from_participant_sdp(self.leg_of(agent_id), sdp)
        return [Send(a, CallSdp(self.id, sdp)) for a in self._relay_to(agent_id)]

    def relay_ice(self, agent_id: str, candidate: dict[str, Any] | None) -> list[Out]:
        """An ICE candidate from one side, for the other side's agent(s), or in a group call for the mixer."""
        if self.mixed:
            leg = self._ringing_leg(agent_id) or self.leg_of(agent_id)
            return [TrickleRoom(self.id, leg.id, candidate)] if leg.media_session else []
        return [Send(a, CallIce(self.id, candidate)) for a in self._relay_to(agent_id)]

    def _relay_to(self, agent_id: str) -> list[str]:
        if agent_id in self.callee.ringing:
            to: list[str | None] = [self.caller.agent_id]
        else:
            other = self.other(self.leg_of(agent_id))
            to = [other.agent_id] if other.agent_id else list(sorted(other.ringing))
        return [a for a in to if a]

    # -- more than two parties ----------------------------------------------------------------------------
    def add_participant(self, agent_id: str, leg: Leg, agents: list[str], now: datetime) -> list[Out]:
        """A party in the call adds ``leg`` (ACS's ``TeamsCall.addParticipant``): the call becomes a group call,
        its media moving to the mixer, and ``leg`` is reached: a Teams user rings on ``agents``; a phone number
        is dialled once the mixer has made its offer (``DialPhone``, then ``reach``)."""
        adder = self.leg_of(agent_id)
        if self.ended or self.connected_at is None or adder.state not in (ParticipantState.CONNECTED,
                                                                         ParticipantState.HOLD):
            raise CallError(400, 41008, "Participants can be added to a connected call only.")
        if any(p.raw_id == leg.raw_id for p in self.live_legs()):
            raise CallError(400, 10141, "This participant is already in the call.")
        if sum(1 for _ in self.live_legs()) >= MAX_PARTICIPANTS:
            raise CallError(403, 10142, f"A call has at most {MAX_PARTICIPANTS} participants.")
        self._admit(leg)
        leg.step(ParticipantEvent.DIAL)
        out = [] if self.mixed else self._go_mixed()
        if leg.is_phone:
            return out + self._participant(leg) + self._mixer_offers(leg)
        if not agents:
            return out + self._leave(leg, reasons.NO_ENDPOINT, now)
        incoming = CallIncoming(self.id, self.thread_id, adder.raw_id, adder.display_name)
        return out + self._ring(leg, agents, incoming, now) + self._alerted(leg)

    def reach(self, participant_id: str, agents: list[str], offer: str, now: datetime) -> list[Out]:
        """The phone leg opened for a participant (after ``DialPhone``) with the mixer's ``offer``: it rings when
        its network says so."""
        leg = self.participant(participant_id)
        if self.ended:
            return []
        incoming = CallIncoming(self.id, self.thread_id, self.caller.raw_id, self.caller.display_name, offer)
        return self._ring(leg, agents, incoming, now)

    def remove_participant(self, agent_id: str, participant_id: str, now: datetime) -> list[Out]:
        """A party removes another (ACS's ``removeParticipant``): the removed one ends 0/5300; one still ringing
        stops ringing."""
        remover = self.leg_of(agent_id)
        leg = self.participant(participant_id)
        if leg is remover:
            raise CallError(400, 10143, "To leave the call, hang up.")
        if not self.mixed:
            return self._finish(reasons.REMOVED, now, local=remover)
        out: list[Out] = [self._incoming_ended(a, reasons.CANCELLED) for a in sorted(leg.ringing)]
        leg.ringing, leg.ring_deadline = set(), None
        return out + self._leave(leg, reasons.REMOVED, now)

    def _go_mixed(self) -> list[Out]:
        """The call becomes a group call: a room, and a new media session with the mixer for each party in it."""
        self.mixed = True
        out: list[Out] = [OpenRoom(self.id)]
        for leg in self.live_legs():
            if leg.state in (ParticipantState.CONNECTED, ParticipantState.HOLD):
                out += self._mixer_offers(leg)
                if leg.held:
                    out.append(MuteInRoom(self.id, leg.id, True))
        return out

    def _mixer_offers(self, leg: Leg) -> list[Out]:
        leg.mixer_offered = True
        return [Negotiate(self.id, leg.id, leg.display_name, plain=leg.is_phone)]

    def _from_participant_sdp(self, leg: Leg, sdp: str | None) -> list[Out]:
        """A participant's SDP in a group call: its answer to the mixer's offer, or an offer of its own."""
        if sdp is None:
            return []
        if leg.mixer_offered:
            leg.mixer_offered = False
            return [AnswerRoom(self.id, leg.id, sdp)]
        leg.media_session = leg.media_session or 1
        return [Negotiate(self.id, leg.id, leg.display_name, sdp, plain=leg.is_phone)]

    def mixer_sdp(self, participant_id: str, sdp: str) -> list[Out]:
        """The mixer's SDP for a participant: its offer of a new media session (with the session's number), its
        answer to the participant's offer, or its side moved (a phone's plain RTP, to the phone's address). A
        phone number not yet dialled is dialled with it."""
        leg = self.participants.get(participant_id)
        if self.ended or leg is None or not leg.live:
            return []
        if leg.mixer_offered:
            leg.media_session += 1
        if leg.agent_id is not None:
            return [Send(leg.agent_id, CallSdp(self.id, sdp, leg.media_session if leg.mixer_offered else None))]
        if leg.is_phone and not leg.ringing:
            return [DialPhone(self.id, leg.id, leg.raw_id, sdp)]
        return []

    def mixer_failed(self, participant_id: str, now: datetime, reason: EndReason = reasons.MIXER_FAILED
                     ) -> list[Out]:
        """The mixer (or the phone network, for a number being dialled) could not take the participant."""
        leg = self.participants.get(participant_id)
        if self.ended or leg is None or not leg.live:
            return []
        out: list[Out] = [self._incoming_ended(a, reason) for a in sorted(leg.ringing)]
        leg.ringing, leg.ring_deadline = set(), None
        return out + self._leave(leg, reason, now)

    def _leg_unreached(self, leg: Leg, reason: EndReason, now: datetime) -> list[Out]:
        """Nobody answered for ``leg``: a two-party call ends; in a group call only the leg does."""
        leg.ring_deadline = None
        if self.mixed:
            return self._leave(leg, reason, now)
        return self._finish(reason, now)

    def _leave(self, leg: Leg, reason: EndReason, now: datetime) -> list[Out]:
        """``leg`` leaves a group call (hung up, removed, unreached, lost); the call goes on while two are in it
        or on their way, and ends for the last one otherwise."""
        leg.end_reason, leg.left_at = reason, now
        leg.step(ParticipantEvent.END)
        out = self._participant(leg)
        if leg.view is not CallState.DISCONNECTED and (leg.agent_id is not None or leg.view is not CallState.NONE):
            out += self._state(leg, CallEvent.ENDED)
        if leg.agent_id is not None:
            self.lost.pop(leg.agent_id, None)
        if leg.media_session or leg.mixer_offered:
            out.append(LeaveRoom(self.id, leg.id))
        if self._over():
            out += self._finish(reasons.HUNG_UP, now)
        return out

    def _over(self) -> bool:
        """A group call is over when one party is left in it (a meeting overrides this)."""
        return sum(1 for _ in self.live_legs()) < 2

    # -- connection loss ----------------------------------------------------------------------------------
    def agent_lost(self, agent_id: str, grace: timedelta, now: datetime) -> list[Out]:
        if self.ended:
            return []
        leg = self._ringing_leg(agent_id)
        if leg is not None:  # a ringing endpoint went away: it just stops ringing
            leg.ringing.discard(agent_id)
            return self._leg_unreached(leg, reasons.NO_ENDPOINT, now) if not leg.ringing and \
                leg.agent_id is None else []
        if any(leg.agent_id == agent_id and leg.live for leg in self.participants.values()):
            self.lost[agent_id] = now + grace  # not one that declined or lost the race
        return []

    def agent_back(self, agent_id: str) -> None:
        self.lost.pop(agent_id, None)

    def on_timer(self, now: datetime) -> list[Out]:
        if self.ended:
            return []
        for leg in list(self.participants.values()):
            if leg.ring_deadline is not None and now >= leg.ring_deadline:
                out: list[Out] = [self._incoming_ended(a, reasons.NOT_ANSWERED) for a in sorted(leg.ringing)] \
                    if self.mixed else []
                leg.ringing = set() if self.mixed else leg.ringing
                return out + self._leg_unreached(leg, reasons.NOT_ANSWERED, now)
        for agent_id, deadline in sorted(self.lost.items()):
            if now >= deadline:
                if self.mixed:
                    leg = self.leg_of(agent_id)
                    del self.lost[agent_id]
                    leg.agent_id = None  # nobody to tell
                    return self._leave(leg, reasons.NETWORK_LOST, now)
                return self._finish(reasons.NETWORK_LOST, now, gone=agent_id)
        return []

    # -- the end ------------------------------------------------------------------------------------------
    def _finish(self, reason: EndReason, now: datetime, local: Leg | None = None,
                gone: str | None = None) -> list[Out]:
        """End the call for everyone: ringing agents' incoming calls end, each leg's agent sees Disconnected."""
        self.ended_at, self.end_reason = now, reason
        self.lost.clear()
        ringing_reason = reasons.CANCELLED if reason is reasons.CANCELLED else reason
        out: list[Out] = []
        for leg in self.participants.values():
            out += [self._incoming_ended(a, ringing_reason) for a in sorted(leg.ringing)]
            leg.ringing, leg.ring_deadline = set(), None
        for leg in self.participants.values():
            if leg.live:
                leg.end_reason = reasons.HUNG_UP if leg is local else reason
                leg.left_at = now
                leg.step(ParticipantEvent.END)
            if leg.agent_id == gone:
                leg.agent_id = None  # nobody to tell
            if leg.view is not CallState.DISCONNECTED and (leg.agent_id is not None or leg.view is not
                                                          CallState.NONE):
                out += self._state(leg, CallEvent.ENDED)
        if self.mixed:
            out.append(CloseRoom(self.id))
        return out
