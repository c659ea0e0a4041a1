"""Meetings in the Python SDK, with the names of ACS's calling SDK in snake case: the locators ``join`` takes,
``call.lobby``, and the features a meeting has (``call.feature(Features.RAISE_HAND)``...)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from callbridge.sdk.errors import CallingError
from callbridge.sdk.events import Emitter
from callbridge.sdk.identifiers import CommunicationIdentifier, identifier_from_raw_id


class RemoteParticipant(Protocol):
    """What the meeting features read of a call's participant (``calls.RemoteParticipant``)."""

    participant_id: str
    state: str


class TeamsCall(Protocol):
    """What the meeting features need of their call (``calls.TeamsCall``): its roster, and its commands."""

    @property
    def remote_participants(self) -> Any: ...

    async def _command(self, kind: str, **fields: Any) -> None: ...

    async def _command_checked(self, kind: str, done: Callable[[], bool], timeout: float = 10.0,
                               **fields: Any) -> None: ...


@dataclass(frozen=True)
class TeamsMeetingLinkLocator:
    meeting_link: str


@dataclass(frozen=True)
class TeamsMeetingIdLocator:
    meeting_id: str
    passcode: str | None = None


MeetingLocator = TeamsMeetingLinkLocator | TeamsMeetingIdLocator


def join_frame(locator: MeetingLocator, request_id: str, display_name: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "call.join", "requestId": request_id}
    if isinstance(locator, TeamsMeetingLinkLocator):
        frame["meetingLink"] = locator.meeting_link
    else:
        frame["meetingId"] = locator.meeting_id
        if locator.passcode is not None:
            frame["passcode"] = locator.passcode
    if display_name is not None:
        frame["displayName"] = display_name
    return frame


@dataclass(frozen=True)
class AdmitAllOperationResult:
    success_count: int
    failure_count: int


@dataclass(frozen=True)
class LobbyParticipantsUpdated:
    added: list[RemoteParticipant]
    removed: list[RemoteParticipant]


class Lobby(Emitter):
    """``call.lobby``: who waits, and (organizers, co-organizers and presenters) letting them in or not. Event:
    ``lobby_participants_updated`` (``LobbyParticipantsUpdated``). Results arrive as roster changes."""

    def __init__(self, call: TeamsCall) -> None:
        super().__init__()
        self._call = call

    @property
    def participants(self) -> list[RemoteParticipant]:
        return [p for p in self._call.remote_participants if p.state == "InLobby"]

    async def admit(self, participant: RemoteParticipant) -> None:
        await self._call._command_checked("call.lobby.admit", lambda: participant.state != "InLobby",
                                          participantId=participant.participant_id)

    async def reject(self, participant: RemoteParticipant) -> None:
        await self._call._command_checked("call.lobby.reject", lambda: participant.state != "InLobby",
                                          participantId=participant.participant_id)

    async def admit_all(self) -> AdmitAllOperationResult:
        waiting = self.participants
        await self._call._command_checked("call.lobby.admitAll", lambda: not self.participants)
        admitted = sum(1 for p in waiting if p.state != "InLobby")
        return AdmitAllOperationResult(admitted, len(waiting) - admitted)


class Features(StrEnum):
    DOMINANT_SPEAKERS = "DominantSpeakers"
    RAISE_HAND = "RaiseHand"
    CAPABILITIES = "Capabilities"
    TEAMS_MEETING_AUDIO_CONFERENCING = "TeamsMeetingAudioConferencing"


@dataclass(frozen=True)
class DominantSpeakersInfo:
    speakers_list: list[CommunicationIdentifier]
    timestamp: datetime | None


class DominantSpeakersFeature(Emitter):
    """Event: ``dominant_speakers_changed``."""

    def __init__(self) -> None:
        super().__init__()
        self.dominant_speakers = DominantSpeakersInfo([], None)

    def _on(self, frame: dict[str, Any]) -> None:
        self.dominant_speakers = DominantSpeakersInfo(
            [identifier_from_raw_id(s["rawId"]) for s in frame["speakers"]],
            datetime.fromisoformat(frame["timestamp"]))
        self.emit("dominant_speakers_changed", self.dominant_speakers)


@dataclass(frozen=True)
class RaisedHand:
    identifier: CommunicationIdentifier
    order: int


class RaiseHandFeature(Emitter):
    """Events: ``raised_hand_event`` and ``lowered_hand_event``, each with the participant's identifier."""

    def __init__(self, call: TeamsCall) -> None:
        super().__init__()
        self._call = call
        self._raised: dict[str, RaisedHand] = {}  # participant id -> its hand

    def get_raised_hands(self) -> list[RaisedHand]:
        return sorted(self._raised.values(), key=lambda hand: hand.order)

    async def raise_hand(self) -> None:
        await self._call._command("call.raiseHand")

    async def lower_hand(self) -> None:
        await self._call._command("call.lowerHand")

    async def lower_hands(self, participants: list[RemoteParticipant]) -> None:
        for participant in participants:
            await self._call._command("call.lowerHand", participantId=participant.participant_id)

    async def lower_all_hands(self) -> None:
        await self._call._command("call.lowerAllHands")

    def _on(self, frame: dict[str, Any]) -> None:
        identifier = identifier_from_raw_id(frame["identifier"]["rawId"])
        if frame["type"] == "call.raisedHand":
            self._raised[frame["participantId"]] = RaisedHand(identifier, frame["order"])
            self.emit("raised_hand_event", identifier)
        else:
            self._raised.pop(frame["participantId"], None)
            self.emit("lowered_hand_event", identifier)


@dataclass(frozen=True)
class ParticipantCapability:
    is_present: bool
    reason: str


class CapabilitiesFeature(Emitter):
    """``capabilities``: what this participant may do (``manageLobby``, ``muteOthers``...). Event:
    ``capabilities_changed`` (old and new values, and why)."""

    def __init__(self) -> None:
        super().__init__()
        self.capabilities: dict[str, ParticipantCapability] = {}

    def _on(self, frame: dict[str, Any]) -> None:
        old = self.capabilities
        self.capabilities = {name: ParticipantCapability(c["isPresent"], c["reason"])
                             for name, c in frame["capabilities"].items()}
        changed = {k: v for k, v in self.capabilities.items() if old.get(k) != v}
        self.emit("capabilities_changed", {"old_value": {k: old[k] for k in changed if k in old},
                                           "new_value": changed, "reason": frame.get("reason", "RoleChanged")})


@dataclass(frozen=True)
class TeamsMeetingAudioConferencingDetails:
    phone_conference_id: str
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)


class AudioConferencingFeature:
    def __init__(self, call: TeamsCall) -> None:
        self._call = call
        self._asked: dict[str, asyncio.Future[TeamsMeetingAudioConferencingDetails]] = {}

    async def get_teams_meeting_audio_conferencing_details(self) -> TeamsMeetingAudioConferencingDetails:
        request_id = uuid.uuid4().hex
        answer = self._asked[request_id] = asyncio.get_running_loop().create_future()
        await self._call._command("call.audioConferencing", requestId=request_id)
        try:
            return await asyncio.wait_for(answer, 10)
        finally:
            self._asked.pop(request_id, None)

    def _on(self, frame: dict[str, Any]) -> bool:
        """An answer (or a refusal) to one of this feature's requests: True when it was one."""
        answer = self._asked.get(frame.get("requestId", ""))
        if answer is None or answer.done():
            return False
        if frame["type"] == "error":
            answer.set_exception(CallingError(frame["code"], frame.get("subCode", 0), frame["message"]))
        else:
            answer.set_result(TeamsMeetingAudioConferencingDetails(frame["phoneConferenceId"], frame["phoneNumbers"]))
        return True
