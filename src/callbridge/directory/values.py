"""Validated values of the directory: GUIDs, E.164 numbers, domains, licences, well-known app ids."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

import phonenumbers

from callbridge.directory.errors import Invalid

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE_URI = "https://graph.microsoft.com"
COMMUNICATION_APP_ID = "1fd5118e-2576-4263-8130-9503064c837a"
COMMUNICATION_RESOURCE_URI = "https://auth.msft.communication.azure.com"
TEAMS_SCOPES = ("Teams.ManageCalls", "Teams.ManageChats")

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# A plus, then ASCII digits with the usual separators. Letters (vanity numbers such as +1 800 FLOWERS, which
# phonenumbers would quietly turn into digits), extensions and any other text are refused, not dropped.
_E164_TEXT = re.compile(r"\+[0-9][0-9 ().-]*")


class Licence(StrEnum):
    """Licences callbridge knows, with the SKU ids Graph reports for them."""

    TEAMS = "TEAMS"
    TEAMS_PHONE = "TEAMS_PHONE"

    @property
    def sku_id(self) -> str:
        return _SKU_IDS[self]

    @property
    def sku_part_number(self) -> str:
        return _SKU_PART_NUMBERS[self]


_SKU_IDS = {
    Licence.TEAMS: "57ff2da0-773e-42df-b2af-ffb7a2317929",
    Licence.TEAMS_PHONE: "e43b5b99-8dfb-405f-9987-dc307f34bcbd",
}
_SKU_PART_NUMBERS = {Licence.TEAMS: "TEAMS1", Licence.TEAMS_PHONE: "MCOEV"}


def parse_guid(value: str, what: str = "id") -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise Invalid(f"{what} {value!r} is not a GUID") from None


_CANONICAL_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: str) -> bool:
    """True only for the canonical 8-4-4-4-12 spelling (any case), the only one on Microsoft's wires."""
    return isinstance(value, str) and bool(_CANONICAL_GUID.match(value))


def check_length(value: str, what: str, limit: int) -> str:
    """``value`` if it fits the column it goes to; PostgreSQL would refuse a longer one, SQLite keep it."""
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def parse_e164(value: str) -> str:
    """An E.164 number, normalised (``+14255550123``); anything else is refused."""
    text = value.strip()
    if not text.startswith("+"):
        raise Invalid(f"phone number {value!r} is not E.164: it must start with + and the country code")
    if not _E164_TEXT.fullmatch(text):
        raise Invalid(f"phone number {value!r} is not E.164: only digits, spaces, '-', '.' and '()' may follow +")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise Invalid(f"phone number {value!r} is not E.164") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(f"phone number {value!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_domain(value: str) -> str:
    text = value.strip().lower()
    if not _DOMAIN.match(text):
        raise Invalid(f"domain {value!r} is not a valid DNS name")
    return text


def parse_licence(value: str) -> Licence:
    try:
        return Licence(value.strip().upper())
    except ValueError:
        known = ", ".join(lic.value for lic in Licence)
        raise Invalid(f"unknown licence {value!r} (known: {known})") from None


def parse_upn(value: str) -> tuple[str, str]:
    """``alice@fabrikam.example`` -> (upn lower case, domain)."""
    text = value.strip().lower()
    local, sep, domain = text.partition("@")
    if not sep or not local or any(c.isspace() for c in local):
        raise Invalid(f"userPrincipalName {value!r} must look like name@domain")
    return text, parse_domain(domain)

FIRST_PARTY_RESOURCES = {GRAPH_APP_ID: GRAPH_RESOURCE_URI, COMMUNICATION_APP_ID: COMMUNICATION_RESOURCE_URI}
