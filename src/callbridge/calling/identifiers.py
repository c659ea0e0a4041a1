"""Communication identifiers and their raw ids, as Azure Communication Services spells them.

``8:orgid:<oid>`` Teams user (``8:dod:``/``8:gcch:`` in other clouds), ``8:teamsvisitor:<id>`` anonymous Teams
visitor, ``4:+14255550123`` phone number (``4:anonymous``), ``8:acs:<resource>_<id>`` communication user
(``8:dod-acs:``, ``8:gcch-acs:``, ``8:spool:``), ``28:orgid:<app id>`` Teams app; anything else is ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEAMS_USER = "microsoftTeamsUser"
    PHONE_NUMBER = "phoneNumber"
    COMMUNICATION_USER = "communicationUser"
    TEAMS_APP = "microsoftTeamsApp"
    UNKNOWN = "unknown"


_TEAMS_CLOUDS = {"8:orgid:": "public", "8:dod:": "dod", "8:gcch:": "gcch"}
_ACS_PREFIXES = ("8:acs:", "8:dod-acs:", "8:gcch-acs:", "8:spool:")
_APP_CLOUDS = {"28:orgid:": "public", "28:dod:": "dod", "28:gcch:": "gcch"}


@dataclass(frozen=True)
class Identifier:
    kind: Kind
    raw_id: str
    value: str  # the object id, the number, the whole ACS id, or the app id
    cloud: str = "public"
    is_anonymous: bool = False

    def to_wire(self) -> dict[str, object]:
        """The REST model ``{kind, rawId, <kind>: {...}}`` of ACS's common.json."""
        body: dict[str, object] = {"kind": self.kind.value, "rawId": self.raw_id}
        if self.kind is Kind.TEAMS_USER:
            body["microsoftTeamsUser"] = {"userId": self.value, "isAnonymous": self.is_anonymous, "cloud": self.cloud}
        elif self.kind is Kind.PHONE_NUMBER:
            body["phoneNumber"] = {"value": self.value}
        elif self.kind is Kind.COMMUNICATION_USER:
            body["communicationUser"] = {"id": self.value}
        elif self.kind is Kind.TEAMS_APP:
            body["microsoftTeamsApp"] = {"appId": self.value, "cloud": self.cloud}
        return body


def teams_user(oid: str, cloud: str = "public") -> Identifier:
    prefix = {v: k for k, v in _TEAMS_CLOUDS.items()}[cloud]
    return Identifier(Kind.TEAMS_USER, f"{prefix}{oid}", oid, cloud)


def phone_number(e164: str) -> Identifier:
    return Identifier(Kind.PHONE_NUMBER, f"4:{e164}", e164)


def parse_raw_id(raw_id: str) -> Identifier:
    if raw_id.startswith("8:teamsvisitor:"):
        return Identifier(Kind.TEAMS_USER, raw_id, raw_id.removeprefix("8:teamsvisitor:"), is_anonymous=True)
    for prefix, cloud in _TEAMS_CLOUDS.items():
        if raw_id.startswith(prefix) and len(raw_id) > len(prefix):
            return Identifier(Kind.TEAMS_USER, raw_id, raw_id[len(prefix):], cloud)
    if raw_id.startswith(_ACS_PREFIXES):
        return Identifier(Kind.COMMUNICATION_USER, raw_id, raw_id)
    for prefix, cloud in _APP_CLOUDS.items():
        if raw_id.startswith(prefix) and len(raw_id) > len(prefix):
            return Identifier(Kind.TEAMS_APP, raw_id, raw_id[len(prefix):], cloud)
    if raw_id.startswith("4:") and len(raw_id) > 2:
        number = raw_id[2:]
        return Identifier(Kind.PHONE_NUMBER, raw_id, number, is_anonymous=number == "anonymous")
    return Identifier(Kind.UNKNOWN, raw_id, raw_id)
