"""The token exchange: a Teams user's access token for the communication resource becomes a communication token
for the browser SDK, with ``azure-communication-identity`` and the resource's connection string (HMAC-signed, from
the server only: the connection string never reaches a browser)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError

from portal.errors import PortalError
from portal.settings import PortalSettings

_EXPIRES = re.compile(r"^(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class CommunicationToken:
    token: str
    expires_on: datetime

    def to_json(self) -> dict[str, str]:
        return {"token": self.token, "expiresOn": self.expires_on.astimezone(UTC).isoformat().replace("+00:00", "Z")}


class TokenExchange:
    def __init__(self, settings: PortalSettings, **client_options: Any) -> None:
        """``client_options`` go to the SDK's pipeline (tests give a ``transport``)."""
        if settings.ca_file:
            client_options.setdefault("connection_verify", str(settings.ca_file))
        connection = settings.acs_connection_string.get_secret_value()
        self._client = CommunicationIdentityClient.from_connection_string(connection, **client_options) \
            if connection else None
        self._client_id = settings.client_id

    async def for_teams_user(self, access_token: str, object_id: str) -> CommunicationToken:
        if self._client is None:
            raise PortalError(503, "NotConfigured", "Calling is not set up: the portal has no ACS connection string.")
        client = self._client
        try:
            got = await asyncio.to_thread(client.get_token_for_teams_user, access_token, self._client_id, object_id)
        except HttpResponseError as exc:
            raise _refusal(exc) from None
        return CommunicationToken(got.token, expires_on(got.expires_on))

    def close(self) -> None:
        if self._client is not None:
            self._client._identity_service_client.close()


def expires_on(value: Any) -> datetime:
    """The SDK's ``expires_on``: ACS's string (seven fractional digits, an offset), a datetime, or epoch seconds,
    depending on its version."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    match = _EXPIRES.match(str(value))
    if match is None:
        raise PortalError(502, "TokenExchangeRefused", "The communication service's token has no valid expiry.")
    return datetime.fromisoformat(f"{match['base']}{(match['fraction'] or '.0')[:7]}{match['zone']}".replace(
        "Z", "+00:00"))


def _refusal(exc: HttpResponseError) -> PortalError:
    """The user's token refused (ACS's ``InvalidAccessToken``, or a 401 naming no code): sign in again; anything else
    is the portal's own set-up (its key, its app id, the service)."""
    code = str(getattr(getattr(exc, "error", None), "code", "") or "")
    if code == "InvalidAccessToken" or (exc.status_code == 401 and code not in ("Denied", "")):
        return PortalError(401, "TokenExchangeRefused", "The communication service did not accept your sign-in for "
                           f"calling: {_message(exc)} Sign in again.")
    return PortalError(502, "TokenExchangeRefused", f"The communication service refused the portal: {_message(exc)}")


def _message(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    return str(getattr(error, "message", None) or exc.message or exc)
