"""TeamsCall and TeamsIncomingCall, with the names and states of ACS's Calling SDK, and their audio."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from callbridge.sdk.errors import CallingError
from callbridge.sdk.events import Emitter
from callbridge.sdk.identifiers import CommunicationIdentifier, identifier_from_raw_id
from callbridge.sdk.media import AudioSource, Recorder, SilenceSource, ToneSource
from callbridge.sdk.meetings import (
    AudioConferencingFeature,
    CapabilitiesFeature,
    DominantSpeakersFeature,
    Features,
    Lobby,
    LobbyParticipantsUpdated,
    RaiseHandFeature,
)

Send = Callable[[dict[str, Any]], Awaitable[None]]
HELD = ("LocalHold", "RemoteHold")


@dataclass(frozen=True)
class CallEndReason:
    code: int
    sub_code: int


@dataclass(frozen=True)
class CallerInfo:
    identifier: CommunicationIdentifier
    display_name: str | None


@dataclass
class RemoteParticipant:
    identifier: CommunicationIdentifier
    display_name: str | None
    state: str
    is_muted: bool = False
    participant_id: str = ""  # the service's id of this participant in the call (callbridge's addition)
    role: str = "Unknown"
    is_speaking: bool = False
    call_end_reason: CallEndReason | None = None
    _call: TeamsCall | None = None

    async def mute(self) -> None:
        """Mute this participant for everyone (meetings: organizers, co-organizers and presenters)."""
        if self._call is not None:
            await self._call._command_checked("call.muteParticipant", lambda: self.is_muted,
                                              participantId=self.participant_id)


@dataclass(frozen=True)
class ParticipantsUpdated:
    """``remote_participants_updated``'s event: who came and who left (ACS's ``{added, removed}``)."""

    call: TeamsCall
    added: list[RemoteParticipant]
    removed: list[RemoteParticipant]


def _reason(frame: dict[str, Any]) -> CallEndReason | None:
    reason = frame.get("endReason")
    return CallEndReason(reason["code"], reason["subCode"]) if isinstance(reason, dict) else None


class MediaSession:
    """One RTCPeerConnection: our source out, the other side's audio into a recorder. G.711 (PCMU) only, as a
    phone leg would use; no STUN or TURN server unless given."""

    def __init__(self, source: AudioSource | None, ice_servers: list[RTCIceServer] | None = None) -> None:
        self.ice_servers = ice_servers
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers or []))
        self.source = source or ToneSource(440.0)
        self.silence = SilenceSource()
        self.recorder = Recorder()
        self.sender = self.pc.addTrack(self.source)
        pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/pcmu"]
        for transceiver in self.pc.getTransceivers():
            transceiver.setCodecPreferences(pcmu)
        self.pc.on("track", self.recorder.attach)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def add_remote_candidate(self, candidate: Any) -> None:
        """A candidate the other side trickled (``call.ice``), as a browser's ``RTCIceCandidate.toJSON()``; an
        empty one (the end of candidates) or one aiortc cannot read is ignored."""
        text = candidate.get("candidate") if isinstance(candidate, dict) else None
        if not isinstance(text, str) or not text.strip():
            return
        try:
            parsed = candidate_from_sdp(text.strip().removeprefix("candidate:"))
        except (AssertionError, ValueError, IndexError):  # aiortc asserts on too few fields
            return
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await self.pc.addIceCandidate(parsed)

    def send_audio(self, on: bool) -> None:
        self.sender.replaceTrack(self.source if on else self.silence)

    async def close(self) -> None:
        await self.recorder.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()


class TeamsCall(Emitter):
    """A call of this agent. Events: ``state_changed``, ``remote_participants_updated``, ``is_muted_changed``,
    ``dtmf_received``."""

    kind = "TeamsCall"

    def __init__(self, call_id: str, direction: str, caller_info: CallerInfo, remote: RemoteParticipant | None,
                 media: MediaSession, send: Send) -> None:
        super().__init__()
        self.role = "Unknown"
        self.lobby = Lobby(self)
        self._speakers, self._hands = DominantSpeakersFeature(), RaiseHandFeature(self)
        self._capabilities, self._conferencing = CapabilitiesFeature(), AudioConferencingFeature(self)
        self._features: dict[Features, object] = {
            Features.DOMINANT_SPEAKERS: self._speakers, Features.RAISE_HAND: self._hands,
            Features.CAPABILITIES: self._capabilities, Features.TEAMS_MEETING_AUDIO_CONFERENCING: self._conferencing}
        self._adding: dict[str, tuple[CommunicationIdentifier, asyncio.Future[RemoteParticipant]]] = {}
        self._checked: dict[str, CallingError | None] = {}  # request -> its refusal, once one came
        self.id = call_id
        self.direction = direction
        self.caller_info = caller_info
        self.remote_participants = [remote] if remote is not None else []
        self.media = media
        self.state = "None"
        self.is_muted = False
        self.call_end_reason: CallEndReason | None = None
        self._send = send
        self._changed = asyncio.Condition()

    # -- commands -------------------------------------------------------------------------------------------
    async def _command(self, kind: str, **fields: Any) -> None:
        await self._send({"type": kind, "callId": self.id, **fields})

    async def _command_checked(self, kind: str, done: Callable[[], bool], timeout: float = 10.0,
                               **fields: Any) -> None:
        """Send a command and wait until ``done()`` (its effect arrived) or its refusal (a ``CallingError``)."""
        request_id = uuid.uuid4().hex
        self._checked[request_id] = None
        try:
            await self._command(kind, requestId=request_id, **fields)
            await self.wait_for(lambda: self._checked[request_id] is not None or done(), timeout)
            refusal = self._checked[request_id]
            if refusal is not None:
                raise refusal
        finally:
            del self._checked[request_id]

    async def mute(self) -> None:
        self.media.send_audio(False)
        self.is_muted = True
        await self._command("call.mute")
        self.emit("is_muted_changed", self)

    async def unmute(self) -> None:
        self.is_muted = False
        self.media.send_audio(self.state not in HELD)
        await self._command("call.unmute")
        self.emit("is_muted_changed", self)

    async def hold(self) -> None:
        await self._command("call.hold")
        await self.wait_for_state("LocalHold")

    async def resume(self) -> None:
        await self._command("call.resume")
        await self.wait_for(lambda: self.state in ("Connected", "RemoteHold"))

    async def send_dtmf(self, tone: str) -> None:
        await self._command("call.dtmf", tone=tone)

    async def hang_up(self, for_everyone: bool = False) -> None:
        """Leave the call (ACS's ``hangUp``); ``for_everyone`` ends it for every participant."""
        if self.state != "Disconnected":
            await self._command("call.hangUp", **({"forEveryone": True} if for_everyone else {}))
            await self.wait_for_state("Disconnected")

    async def add_participant(self, identifier: CommunicationIdentifier, *, thread_id: str | None = None
                              ) -> RemoteParticipant:
        """Bring a Teams user (with the chat ``thread_id``) or a phone number into the call (ACS's
        ``TeamsCall.addParticipant``): the call becomes a group call. Returns the participant, ``Connecting``;
        its state changes as it is reached."""
        request_id = uuid.uuid4().hex
        adding: asyncio.Future[RemoteParticipant] = asyncio.get_running_loop().create_future()
        self._adding[request_id] = (identifier, adding)
        await self._command("call.addParticipant", requestId=request_id, target={"rawId": identifier.raw_id},
                            **({"threadId": thread_id} if thread_id else {}))
        try:
            return await asyncio.wait_for(adding, 15)
        finally:
            self._adding.pop(request_id, None)

    def feature(self, name: Features) -> Any:
        """A call feature (``Features.RAISE_HAND``, ``DOMINANT_SPEAKERS``, ``CAPABILITIES``,
        ``TEAMS_MEETING_AUDIO_CONFERENCING``)."""
        return self._features[name]

    async def mute_all_remote_participants(self) -> None:
        await self._command("call.muteAll")

    async def remove_participant(self, participant: RemoteParticipant) -> None:
        """Remove a participant from the call (it ends 0/5300)."""
        await self._command_checked("call.removeParticipant", lambda: participant not in self.remote_participants
                                    or participant.state == "Disconnected", participantId=participant.participant_id)

    # -- waiting --------------------------------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def wait_for_state(self, state: str, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: self.state == state or (self.state == "Disconnected" and state != self.state),
                            timeout)
        if self.state != state:
            raise CallingError(self.call_end_reason.code if self.call_end_reason else 0,
                               self.call_end_reason.sub_code if self.call_end_reason else 0,
                               f"the call ended instead of reaching {state}")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- frames from the service ----------------------------------------------------------------------------
    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "call.state":
            await self._on_state(frame)
        elif kind == "call.participant":
            self._on_participant(frame["participant"])
        elif kind == "call.participantAdded":
            self._participant_added(frame)
        elif self._on_meeting_frame(frame):
            pass
        elif kind == "error":
            self._on_error(frame)
        elif kind == "call.sdp" and "mediaSession" in frame:
            await self._new_media_session(frame["sdp"])
        elif kind == "call.sdp" and self.direction == "Outgoing":
            await self.media.accept_answer(frame["sdp"])
        elif kind == "call.ice":
            await self.media.add_remote_candidate(frame.get("candidate"))
        elif kind == "call.dtmf":
            self.emit("dtmf_received", frame["tone"])
        await self._notify()

    def _on_error(self, frame: dict[str, Any]) -> None:
        """A refusal of one of this call's requests (add a participant, admit, mute, dial-in details...)."""
        request_id = frame.get("requestId", "")
        refusal = CallingError(frame["code"], frame.get("subCode", 0), frame["message"])
        if request_id in self._checked:
            self._checked[request_id] = refusal
        elif request_id in self._adding:
            self._adding[request_id][1].set_exception(refusal)
        else:
            self._conferencing._on(frame)

    def _on_meeting_frame(self, frame: dict[str, Any]) -> bool:
        """A meeting's frame (role, capabilities, muted by others, hands, speakers, dial-in details): True when
        it was one."""
        kind = frame["type"]
        if kind == "call.audioConferencing":
            return self._conferencing._on(frame)
        if kind == "call.role":
            self.role = frame["role"]
            self.emit("role_changed", self)
        elif kind == "call.capabilities":
            self._capabilities._on(frame)
        elif kind == "call.mutedByOthers":
            self.is_muted = True
            self.media.send_audio(False)
            self.emit("muted_by_others", self)
            self.emit("is_muted_changed", self)
        elif kind in ("call.raisedHand", "call.loweredHand"):
            self._hands._on(frame)
        elif kind == "call.dominantSpeakers":
            self._speakers._on(frame)
        else:
            return False
        return True

    def _find(self, p: dict[str, Any]) -> RemoteParticipant | None:
        for remote in self.remote_participants:
            if remote.participant_id == p.get("participantId") or (
                    not remote.participant_id and remote.identifier.raw_id == p["rawId"]):
                return remote
        return None

    def _on_participant(self, p: dict[str, Any]) -> None:
        """A participant came, changed or left: ``remote_participants_updated`` with ``added`` / ``removed``."""
        remote = self._find(p)
        added: list[RemoteParticipant] = []
        if remote is None:
            if p["state"] == "Disconnected":
                return
            remote = RemoteParticipant(identifier_from_raw_id(p["rawId"]), None, p["state"])
            self.remote_participants.append(remote)
            added.append(remote)
        was_waiting = remote.state == "InLobby" and not added
        remote.display_name, remote.state, remote.is_muted = p.get("displayName"), p["state"], p["isMuted"]
        remote.participant_id, remote.role = p.get("participantId", ""), p.get("role", "Unknown")
        remote.is_speaking, remote._call = p.get("isSpeaking", False), self
        removed: list[RemoteParticipant] = []
        if remote.state == "Disconnected" and len(self.remote_participants) > 1:
            self.remote_participants.remove(remote)
            removed.append(remote)
        self.emit("remote_participants_updated", ParticipantsUpdated(self, added, removed))
        waiting = remote.state == "InLobby"
        if waiting != was_waiting:
            self.lobby.emit("lobby_participants_updated",
                            LobbyParticipantsUpdated([remote] if waiting else [], [] if waiting else [remote]))

    def _participant_added(self, frame: dict[str, Any]) -> None:
        identifier, adding = self._adding.get(frame["requestId"], (None, None))
        if identifier is None or adding is None or adding.done():
            return
        remote = self._find({"participantId": frame["participantId"], "rawId": identifier.raw_id})
        adding.set_result(remote or RemoteParticipant(identifier, None, "Disconnected",
                                                      participant_id=frame["participantId"]))

    async def _new_media_session(self, offer: str) -> None:
        """The call's media moves (a group call's mixer offers a new media session): answer it on a new peer
        connection, the same source sending, and drop the previous one."""
        old, self.media = self.media, MediaSession(self.media.source, self.media.ice_servers)
        await old.close()
        await self._send({"type": "call.sdp", "callId": self.id, "sdp": await self.media.answer(offer)})
        self.media.send_audio(self.state not in HELD and not self.is_muted)

    async def _on_state(self, frame: dict[str, Any]) -> None:
        self.state = frame["state"]
        if self.state == "Disconnected":
            self.call_end_reason = _reason(frame)
            await self.media.close()
        else:
            self.media.send_audio(self.state not in HELD and not self.is_muted)
        self.emit("state_changed", self)


class TeamsIncomingCall(Emitter):
    """A call ringing on this agent. Events: ``call_ended`` (with ``call_end_reason``)."""

    kind = "TeamsIncomingCall"

    def __init__(self, frame: dict[str, Any], send: Send, adopt: Callable[[TeamsCall], None],
                 ice_servers: list[RTCIceServer] | None = None) -> None:
        super().__init__()
        self.id: str = frame["callId"]
        caller = frame["caller"]
        self.caller_info = CallerInfo(identifier_from_raw_id(caller["rawId"]), caller.get("displayName"))
        self.thread_id: str | None = frame.get("threadId")
        self.call_end_reason: CallEndReason | None = None
        self._offer: str | None = frame.get("sdp")
        self._send = send
        self._adopt = adopt
        self._ice_servers = ice_servers
        self._done = False

    async def accept(self, audio: AudioSource | None = None) -> TeamsCall:
        if self._done:
            raise CallingError(400, 41006, "The call is no longer ringing.")
        self._done = True
        media = MediaSession(audio, self._ice_servers)
        remote = RemoteParticipant(self.caller_info.identifier, self.caller_info.display_name, "Connected")
        call = TeamsCall(self.id, "Incoming", self.caller_info, remote, media, self._send)
        self._adopt(call)
        answer = await media.answer(self._offer) if self._offer else None
        await self._send({"type": "call.accept", "callId": self.id, **({"sdp": answer} if answer else {})})
        await call.wait_for_state("Connected")
        return call

    async def reject(self) -> None:
        if self._done:
            raise CallingError(400, 41007, "The call is no longer ringing.")
        self._done = True
        await self._send({"type": "call.reject", "callId": self.id})

    def ended(self, frame: dict[str, Any]) -> None:
        self._done = True
        self.call_end_reason = _reason(frame)
        self.emit("call_ended", self)
