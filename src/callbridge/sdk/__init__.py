"""The Python calling SDK: the Teams subset of Azure Communication Services' calling SDK, against callbridge.

    client = CallClient(base_url, ca_file=ca)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(token, token_refresher=refresh))
    agent.on("incoming_call", on_incoming)        # args.incoming_call.caller_info, .accept(), .reject()
    call = await agent.start_call(MicrosoftTeamsUserIdentifier(megan_oid), thread_id=chat_id)
"""

from callbridge.sdk.agent import CallClient, CallsUpdatedEvent, IncomingCallEvent, TeamsCallAgent
from callbridge.sdk.calls import (
    CallEndReason,
    CallerInfo,
    CallingError,
    RemoteParticipant,
    TeamsCall,
    TeamsIncomingCall,
)
from callbridge.sdk.credential import CommunicationTokenCredential
from callbridge.sdk.identifiers import (
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from callbridge.sdk.media import Recorder, SilenceSource, ToneSource, WavSource, dominant_frequency, level

__all__ = [
    "CallClient", "CallEndReason", "CallerInfo", "CallingError", "CallsUpdatedEvent", "CommunicationTokenCredential",
    "CommunicationUserIdentifier", "IncomingCallEvent", "MicrosoftTeamsAppIdentifier", "MicrosoftTeamsUserIdentifier",
    "PhoneNumberIdentifier", "Recorder", "RemoteParticipant", "SilenceSource", "TeamsCall", "TeamsCallAgent",
    "TeamsIncomingCall", "ToneSource", "UnknownIdentifier", "WavSource", "dominant_frequency",
    "identifier_from_raw_id", "level",
]
