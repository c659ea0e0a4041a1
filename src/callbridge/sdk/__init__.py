"""The Python calling SDK: the Teams subset of Azure Communication Services' calling SDK, against callbridge.

    client = CallClient(base_url, ca_file=ca)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(token, token_refresher=refresh))
    agent.on("incoming_call", on_incoming)        # args.incoming_call.caller_info, .accept(), .reject()
    call = await agent.start_call(MicrosoftTeamsUserIdentifier(megan_oid), thread_id=chat_id)
    call = await agent.join(TeamsMeetingLinkLocator(event.online_meeting.join_url))   # a meeting
    call.lobby.on("lobby_participants_updated", ...); await call.lobby.admit(guest)
"""

from callbridge.sdk.agent import CallClient, CallsUpdatedEvent, IncomingCallEvent, TeamsCallAgent
from callbridge.sdk.calls import (
    CallEndReason,
    CallerInfo,
    RemoteParticipant,
    TeamsCall,
    TeamsIncomingCall,
)
from callbridge.sdk.credential import CommunicationTokenCredential
from callbridge.sdk.errors import CallingError
from callbridge.sdk.identifiers import (
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from callbridge.sdk.media import Recorder, SilenceSource, ToneSource, WavSource, dominant_frequency, level
from callbridge.sdk.meetings import (
    AdmitAllOperationResult,
    DominantSpeakersInfo,
    Features,
    Lobby,
    RaisedHand,
    TeamsMeetingAudioConferencingDetails,
    TeamsMeetingIdLocator,
    TeamsMeetingLinkLocator,
)

__all__ = [
    "AdmitAllOperationResult",
    "CallClient",
    "CallEndReason",
    "CallerInfo",
    "CallingError",
    "CallsUpdatedEvent",
    "CommunicationTokenCredential",
    "CommunicationUserIdentifier",
    "DominantSpeakersInfo",
    "Features",
    "IncomingCallEvent",
    "Lobby",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsUserIdentifier",
    "PhoneNumberIdentifier",
    "RaisedHand",
    "Recorder",
    "RemoteParticipant",
    "SilenceSource",
    "TeamsCall",
    "TeamsCallAgent",
    "TeamsIncomingCall",
    "TeamsMeetingAudioConferencingDetails",
    "TeamsMeetingIdLocator",
    "TeamsMeetingLinkLocator",
    "ToneSource",
    "UnknownIdentifier",
    "WavSource",
    "dominant_frequency",
    "identifier_from_raw_id",
    "level",
]
