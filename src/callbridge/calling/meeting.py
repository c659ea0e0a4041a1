"""A meeting in progress, sans-I/O: a group call that people join (by link, id and passcode, or by phone), with
a lobby, roles and their capabilities, muting by others, raised hands and dominant speakers.

The service decides who may join and who waits (the meeting's lobby settings, ``meetings/lobby.py``) before
``join``; the meeting decides what each participant may do from its role (``Roles``: ACS's capabilities). Its
media is mixed from the first join: waiting participants are in the signalling only, never in the mix. It is
over when nobody is left in it; a participant nobody lets in is removed after ``lobby_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import Call, CallError, Leg, Out, Send
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.events import (
    AudioConferencing,
    CapabilitiesChanged,
    Capability,
    DominantSpeakers,
    HandChanged,
    MutedByOthers,
    ParticipantChanged,
    RoleChanged,
)
from callbridge.calling.mixing import MuteInRoom, OpenRoom
from callbridge.calling.states import CallEvent, ParticipantEvent, ParticipantRole, ParticipantState

MAX_DOMINANT_SPEAKERS = 4
_IN = (ParticipantState.CONNECTED, ParticipantState.HOLD)


class Roles(Protocol):
    """What each role may do: ACS's capabilities (``manageLobby``, ``muteOthers``...) with their reasons."""

    def capabilities(self, role: ParticipantRole) -> tuple[Capability, ...]: ...


@dataclass(frozen=True)
class MeetingFacts:
    """What a meeting in progress needs to know of its calendar event."""

    thread_id: str
    conference_id: str | None = None
    toll_number: str | None = None
    organizer_id: str | None = None  # the organizer's object id: a number the meeting dials shows theirs


@dataclass(frozen=True)
class Admission:
    """How a joiner comes into a meeting, as the meeting's settings decide (``Meetings.admission``)."""

    facts: MeetingFacts
    role: ParticipantRole
    lobby: bool  # waits in the lobby until someone lets it in
    display_name: str | None
    tenant_id: str | None = None


class Meetings(Protocol):
    """The meetings of the directory, as the calling service asks about them (``meetings/``'s adapter): which
    meeting a locator names and how a joiner comes in, or a ``CallError`` with the refusal's code."""

    @property
    def roles(self) -> Roles: ...

    @property
    def lobby_timeout(self) -> timedelta: ...

    async def admission(self, joiner_raw_id: str, *, meeting_link: str | None, meeting_id: str | None,
                        passcode: str | None, display_name: str | None) -> Admission: ...

    async def phone_admission(self, caller_raw_id: str, conference_id: str) -> Admission: ...

    async def roles_now(self, thread_id: str, parties: list[tuple[str, str]]) -> dict[str, ParticipantRole]:
        """The roles the meeting's settings give its parties now ((participant id, raw id) -> role), after the
        organizer changed them."""


class Meeting(Call):
    def __init__(self, id: str, facts: MeetingFacts, roles: Roles, lobby_timeout: timedelta, ring_time: timedelta,
                 created_at: datetime) -> None:
        super().__init__(id, facts.thread_id, None, None, ring_time, created_at)
        self.facts, self.roles, self.lobby_timeout = facts, roles, lobby_timeout
        self.mixed = True
        self._room_open = False
        self.lobby: dict[str, datetime] = {}  # waiting participant -> when it is removed
        self.hands: dict[str, int] = {}  # participant -> its place in the order of raised hands
        self._hand_count = 0
        self.speakers: list[str] = []  # participants, the last to start speaking first

    # -- reading ------------------------------------------------------------------------------------------
    def may(self, leg: Leg, capability: str) -> bool:
        return any(c.name == capability and c.present for c in self.roles.capabilities(leg.role))

    def require(self, agent_id: str, capability: str) -> Leg:
        """The agent's leg, if its role has ``capability`` and it is in the meeting; else the refusal."""
        return self._require(agent_id, capability)

    def _require(self, agent_id: str, capability: str) -> Leg:
        leg = self.leg_of(agent_id)
        if leg.state not in _IN:
            raise CallError(403, 10132, "Only participants in the meeting can do this (not from the lobby).")
        if not self.may(leg, capability):
            raise CallError(403, 10130, f"The {leg.role.value} role does not have the '{capability}' capability.")
        return leg

    def _waiting(self, participant_id: str) -> Leg:
        leg = self.participant(participant_id)
        if leg.state is not ParticipantState.IN_LOBBY:
            raise CallError(400, 10131, "This participant is not waiting in the lobby.")
        return leg

    def next_deadline(self) -> datetime | None:
        deadlines = [d for d in (super().next_deadline(), *self.lobby.values()) if d is not None]
        return min(deadlines) if deadlines and not self.ended else None

    def _over(self) -> bool:
        return not any(True for _ in self.live_legs())

    def _participant(self, about: Leg) -> list[Out]:
        """``about`` changed: those in the meeting are told (not those waiting in its lobby, who see nobody)."""
        return [Send(leg.agent_id, ParticipantChanged(self.id, about.view_of())) for leg in self.participants.values()
                if leg is not about and leg.agent_id is not None and leg.state in _IN]

    def _broadcast(self, event: HandChanged | DominantSpeakers) -> list[Out]:
        return [Send(leg.agent_id, event) for leg in self.live_legs()
                if leg.agent_id is not None and leg.state in _IN]

    # -- joining and the lobby ----------------------------------------------------------------------------
    def join(self, agent_id: str, leg: Leg, now: datetime, *, lobby: bool) -> list[Out]:
        """``leg`` (its role set) joins through ``agent_id``: into the meeting, or to wait in its lobby."""
        if self.ended:
            raise CallError(404, 0, "This meeting has ended.")
        self._admit(leg)
        leg.agent_id = agent_id
        out: list[Out] = [] if self._room_open else [OpenRoom(self.id)]
        self._room_open = True
        out += self._state(leg, CallEvent.START)
        if not lobby:
            return out + self._enter(leg, now)
        leg.step(ParticipantEvent.PARK_IN_LOBBY)
        self.lobby[leg.id] = now + self.lobby_timeout
        return out + self._state(leg, CallEvent.LOBBY) + self._participant(leg)

    def _enter(self, leg: Leg, now: datetime) -> list[Out]:
        """``leg`` comes into the meeting (at once, or admitted from the lobby): its role and capabilities, who
        is there and whose hands are up; then the mixer offers it a media session."""
        admitted = leg.state is ParticipantState.IN_LOBBY
        self.lobby.pop(leg.id, None)
        if admitted:
            leg.step(ParticipantEvent.ADMIT)
        else:
            leg.step(ParticipantEvent.DIAL)
            leg.step(ParticipantEvent.ANSWER)
        leg.joined_at = now
        self.connected_at = self.connected_at or now
        assert leg.agent_id is not None  # its role and what it may do first: it acts on them once Connected
        out: list[Out] = [Send(leg.agent_id, RoleChanged(self.id, leg.role)),
                          Send(leg.agent_id, CapabilitiesChanged(self.id, self.roles.capabilities(leg.role)))]
        out += self._state(leg, CallEvent.ADMITTED if admitted else CallEvent.CONNECTED)
        out += self._roster(leg) + self._participant(leg)
        for pid, order in sorted(self.hands.items(), key=lambda item: item[1]):
            raised = self.participants[pid]
            out.append(Send(leg.agent_id, HandChanged(self.id, raised.raw_id, pid, order)))
        return out + self._mixer_offers(leg)

    def admit(self, agent_id: str, participant_id: str, now: datetime) -> list[Out]:
        self._require(agent_id, "manageLobby")
        return self._enter(self._waiting(participant_id), now)

    def admit_all(self, agent_id: str, now: datetime) -> list[Out]:
        self._require(agent_id, "manageLobby")
        out: list[Out] = []
        for pid in list(self.lobby):
            out += self._enter(self.participants[pid], now)
        return out

    def reject_from_lobby(self, agent_id: str, participant_id: str, now: datetime) -> list[Out]:
        self._require(agent_id, "manageLobby")
        leg = self._waiting(participant_id)
        self.lobby.pop(leg.id, None)
        return self._leave(leg, reasons.LOBBY_DENIED, now)

    # -- control ------------------------------------------------------------------------------------------
    def hang_up(self, agent_id: str, now: datetime, reason: EndReason = reasons.HUNG_UP, *,
                for_everyone: bool = False) -> list[Out]:
        if for_everyone:
            self._require(agent_id, "hangUpForEveryOne")
        leg = self.leg_of(agent_id)
        self.lobby.pop(leg.id, None)
        self._lower(leg)
        return super().hang_up(agent_id, now, reason, for_everyone=for_everyone)

    def add_participant(self, agent_id: str, leg: Leg, agents: list[str], now: datetime) -> list[Out]:
        self._require(agent_id, "addPhoneNumber" if leg.is_phone else "addTeamsUser")
        leg.role = ParticipantRole.ATTENDEE
        return super().add_participant(agent_id, leg, agents, now)

    def remove_participant(self, agent_id: str, participant_id: str, now: datetime) -> list[Out]:
        self._require(agent_id, "removeParticipant")
        leg = self.participant(participant_id)
        self.lobby.pop(leg.id, None)
        self._lower(leg)
        return super().remove_participant(agent_id, participant_id, now)

    def mute_participant(self, agent_id: str, participant_id: str) -> list[Out]:
        """Someone with ``muteOthers`` mutes a participant: out of everyone's mix, and it is told."""
        muter = self._require(agent_id, "muteOthers")
        leg = self.participant(participant_id)
        if leg is muter or leg.state not in _IN:
            raise CallError(400, 10133, "Only another participant in the meeting can be muted.")
        return self._mute_by_others(leg)

    def mute_all(self, agent_id: str) -> list[Out]:
        muter = self._require(agent_id, "muteOthers")
        out: list[Out] = []
        for leg in list(self.live_legs()):
            if leg is not muter and leg.state in _IN:
                out += self._mute_by_others(leg)
        return out

    def _mute_by_others(self, leg: Leg) -> list[Out]:
        if leg.muted_by_others:
            return []
        leg.muted_by_others = True
        told = [Send(leg.agent_id, MutedByOthers(self.id))] if leg.agent_id else []
        return [MuteInRoom(self.id, leg.id, True), *told, *self._participant(leg)]

    def mute(self, agent_id: str, muted: bool) -> list[Out]:
        """Muting oneself is the endpoint's own (it sends silence); unmuting after being muted by others also
        brings it back into the mix."""
        leg = self.leg_of(agent_id)
        out: list[Out] = []
        if not muted and leg.muted_by_others:
            leg.muted_by_others = False
            out.append(MuteInRoom(self.id, leg.id, leg.held))
        return out + super().mute(agent_id, muted)

    def change_roles(self, roles: dict[str, ParticipantRole]) -> list[Out]:
        """The organizer changed who presents: each party whose role changed is told its role and what it may do
        now (``capabilities_changed``, reason RoleChanged), and the others see its new role."""
        out: list[Out] = []
        for pid, role in sorted(roles.items()):
            leg = self.participants.get(pid)
            if leg is None or not leg.live or leg.role is role:
                continue
            leg.role = role
            if leg.agent_id is not None and leg.state in _IN:
                out += [Send(leg.agent_id, RoleChanged(self.id, role)),
                        Send(leg.agent_id, CapabilitiesChanged(self.id, self.roles.capabilities(role)))]
            out += self._participant(leg)
        return out

    # -- raised hands and speakers ------------------------------------------------------------------------
    def raise_hand(self, agent_id: str) -> list[Out]:
        leg = self._require(agent_id, "raiseHand")
        if leg.id in self.hands:
            return []
        self._hand_count += 1
        self.hands[leg.id] = self._hand_count
        return self._broadcast(HandChanged(self.id, leg.raw_id, leg.id, self._hand_count))

    def lower_hand(self, agent_id: str, participant_id: str | None = None) -> list[Out]:
        """Lower one's own hand, or (organizers and presenters: ``manageLobby``) another's."""
        own = self.leg_of(agent_id)
        leg = own if participant_id is None else self.participant(participant_id)
        if leg is not own:
            self._require(agent_id, "manageLobby")
        return self._lower(leg)

    def lower_all_hands(self, agent_id: str) -> list[Out]:
        self._require(agent_id, "manageLobby")
        out: list[Out] = []
        for pid in sorted(self.hands, key=self.hands.__getitem__):
            out += self._lower(self.participants[pid])
        return out

    def _lower(self, leg: Leg) -> list[Out]:
        if self.hands.pop(leg.id, None) is None:
            return []
        return self._broadcast(HandChanged(self.id, leg.raw_id, leg.id, None))

    def talking(self, participant_id: str, talking: bool, now: datetime) -> list[Out]:
        """The mixer heard a participant start or stop talking: its ``isSpeaking``, and the dominant speakers
        (the last to start speaking first) when they change."""
        leg = self.participants.get(participant_id)
        if leg is None or not leg.live or leg.speaking == talking:
            return []
        leg.speaking = talking
        out = self._participant(leg)
        if talking and self.speakers[:1] != [leg.id]:
            self.speakers = [leg.id, *(p for p in self.speakers if p != leg.id)][:MAX_DOMINANT_SPEAKERS]
            ranked = tuple((self.participants[p].raw_id, p) for p in self.speakers)
            out += self._broadcast(DominantSpeakers(self.id, ranked, now))
        return out

    def audio_conferencing(self, agent_id: str, request_id: str) -> list[Out]:
        """The dial-in details, for a participant in the meeting (ACS: 403/45953 from the lobby)."""
        leg = self.leg_of(agent_id)
        if leg.state is ParticipantState.IN_LOBBY:
            raise CallError(403, 45953, "Dial-in details are not available from the lobby.")
        if not self.facts.conference_id:
            raise CallError(405, 45951, "This meeting has no dial-in.")
        return [Send(agent_id, AudioConferencing(request_id, self.id, self.facts.conference_id,
                                                 self.facts.toll_number))]

    # -- timers -------------------------------------------------------------------------------------------
    def on_timer(self, now: datetime) -> list[Out]:
        if self.ended:
            return []
        for pid, deadline in sorted(self.lobby.items(), key=lambda item: item[1]):
            if now >= deadline:
                del self.lobby[pid]
                return self._leave(self.participants[pid], reasons.LOBBY_TIMEOUT, now)
        return super().on_timer(now)

