"""Identifiers with the names of ``azure.communication.*``'s Python models and their raw ids."""

from __future__ import annotations

from dataclasses import dataclass

from callbridge.calling.identifiers import Kind, parse_raw_id


@dataclass(frozen=True)
class MicrosoftTeamsUserIdentifier:
    user_id: str
    is_anonymous: bool = False
    cloud: str = "public"

    @property
    def raw_id(self) -> str:
        if self.is_anonymous:
            return f"8:teamsvisitor:{self.user_id}"
        return {"public": "8:orgid:", "dod": "8:dod:", "gcch": "8:gcch:"}[self.cloud] + self.user_id


@dataclass(frozen=True)
class PhoneNumberIdentifier:
    value: str

    @property
    def raw_id(self) -> str:
        return f"4:{self.value}"


@dataclass(frozen=True)
class CommunicationUserIdentifier:
    id: str

    @property
    def raw_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class MicrosoftTeamsAppIdentifier:
    app_id: str
    cloud: str = "public"

    @property
    def raw_id(self) -> str:
        return {"public": "28:orgid:", "dod": "28:dod:", "gcch": "28:gcch:"}[self.cloud] + self.app_id


@dataclass(frozen=True)
class UnknownIdentifier:
    id: str

    @property
    def raw_id(self) -> str:
        return self.id


CommunicationIdentifier = (MicrosoftTeamsUserIdentifier | PhoneNumberIdentifier | CommunicationUserIdentifier
                           | MicrosoftTeamsAppIdentifier | UnknownIdentifier)


def identifier_from_raw_id(raw_id: str) -> CommunicationIdentifier:
    parsed = parse_raw_id(raw_id)
    if parsed.kind is Kind.TEAMS_USER:
        return MicrosoftTeamsUserIdentifier(parsed.value, parsed.is_anonymous, parsed.cloud)
    if parsed.kind is Kind.PHONE_NUMBER:
        return PhoneNumberIdentifier(parsed.value)
    if parsed.kind is Kind.COMMUNICATION_USER:
        return CommunicationUserIdentifier(parsed.value)
    if parsed.kind is Kind.TEAMS_APP:
        return MicrosoftTeamsAppIdentifier(parsed.value, parsed.cloud)
    return UnknownIdentifier(raw_id)
