"""CommunicationTokenCredential: static tokens, refresh when expiring soon, proactive timing, refusals."""

from __future__ import annotations

import base64
import json

import pytest

from callbridge.sdk import CommunicationTokenCredential, MicrosoftTeamsUserIdentifier, identifier_from_raw_id
from callbridge.sdk.credential import token_expiry
from callbridge.sdk.identifiers import PhoneNumberIdentifier

NOW = 1_800_000_000.0


def jwt_expiring(at: float) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"exp": at}).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJFUzI1NiJ9.{body}.sig"


async def test_a_static_token_is_returned_as_it_is() -> None:
    token = jwt_expiring(NOW + 60)
    assert await CommunicationTokenCredential(token, clock=lambda: NOW).get_token() == token


async def test_a_token_expiring_soon_is_refreshed_and_listeners_hear_of_it() -> None:
    fresh = jwt_expiring(NOW + 3600)
    calls: list[str] = []

    async def refresher() -> str:
        calls.append("refresh")
        return fresh

    heard: list[str] = []

    async def listener(token: str) -> None:
        heard.append(token)

    credential = CommunicationTokenCredential(jwt_expiring(NOW + 300), token_refresher=refresher, clock=lambda: NOW)
    credential.on_refreshed(listener)
    assert await credential.get_token() == fresh and heard == [fresh]
    assert await credential.get_token() == fresh and calls == ["refresh"]  # fresh now: no second refresh


async def test_a_refresher_returning_an_expired_token_is_an_error() -> None:
    async def refresher() -> str:
        return jwt_expiring(NOW - 1)

    credential = CommunicationTokenCredential(token_refresher=refresher, clock=lambda: NOW)
    with pytest.raises(ValueError, match="expired"):
        await credential.get_token()


def test_proactive_refresh_timing() -> None:
    credential = CommunicationTokenCredential(jwt_expiring(NOW + 3600), token_refresher=None, clock=lambda: NOW)
    assert credential.next_refresh_in() == 3000  # ten minutes before expiry
    inside = CommunicationTokenCredential(jwt_expiring(NOW + 300), clock=lambda: NOW)
    assert inside.next_refresh_in() == 150  # already inside the window: half the time left


def test_bad_tokens_and_identifiers() -> None:
    with pytest.raises(ValueError):
        token_expiry("not-a-jwt")
    with pytest.raises(ValueError):
        CommunicationTokenCredential()
    assert identifier_from_raw_id("8:orgid:abc") == MicrosoftTeamsUserIdentifier("abc")
    assert identifier_from_raw_id("4:+14255550123") == PhoneNumberIdentifier("+14255550123")
    assert MicrosoftTeamsUserIdentifier("abc", cloud="gcch").raw_id == "8:gcch:abc"
