"""azure-communication-identity, unchanged, against callbridge's communication identity API at the root of its
endpoint (``/identities``, ``/teamsUser/...``): configured only with the connection string and the CA bundle
(REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import base64
import gc
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from tests.conftest import TEAMS_SCOPES, Demo

pytestmark = pytest.mark.usefixtures("ca_bundle_env")

# ACS spells expiresOn with seven fractional digits and an explicit offset.
EXPIRES_ON = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})\+00:00$")


@pytest.fixture
def identity_client(demo: Demo) -> Iterator[Callable[..., CommunicationIdentityClient]]:
    """Makes SDK clients from a connection string (the demo resource's by default); closes them afterwards."""
    made: list[CommunicationIdentityClient] = []

    def make(connection_string: str | None = None) -> CommunicationIdentityClient:
        client = CommunicationIdentityClient.from_connection_string(
            connection_string or demo.info["communication"]["connection_string"])
        made.append(client)
        return client

    yield make
    # An open keep-alive connection would hold up the test server's shutdown. This SDK version's client has no
    # close(), so close the generated client underneath it; and an error the test caught keeps its response,
    # whose file object keeps the socket open, alive in a reference cycle until the garbage collector runs.
    for client in made:
        client._identity_service_client.close()
    gc.collect()


@pytest.fixture
def client(identity_client: Callable[..., CommunicationIdentityClient]) -> CommunicationIdentityClient:
    return identity_client()


def parse_expires_on(value: Any) -> datetime:
    assert isinstance(value, str), f"expires_on is {type(value).__name__}, not the SDK's string"
    match = EXPIRES_ON.match(value)
    assert match, value
    return datetime.fromisoformat(f"{match[1]}.{match[2][:6]}+00:00")


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def error_code(exc: HttpResponseError) -> str | None:
    return exc.error.code if exc.error is not None else None


# --- Teams users: the exchange -------------------------------------------------------------------------------


def test_exchange_an_organisation_token(demo: Demo, client: CommunicationIdentityClient) -> None:
    user = demo.user("alice")
    org = demo.password_token("alice", TEAMS_SCOPES)
    org_claims = unverified(org["access_token"])
    result = client.get_token_for_teams_user(org["access_token"], demo.client_id, user["id"])

    claims = unverified(result.token)
    header = jwt.get_unverified_header(result.token)
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["sub"] == f"8:orgid:{user['id']}"
    assert claims["tid"] == user["tenant_id"]
    assert claims["resourceId"] == demo.info["communication"]["resource_id"]
    assert claims["exp"] == org_claims["exp"]
    expires = parse_expires_on(result.expires_on)
    assert expires == datetime.fromtimestamp(org_claims["exp"], UTC)


def test_exchange_accepts_upper_case_guids(demo: Demo, client: CommunicationIdentityClient) -> None:
    user = demo.user("megan")
    org = demo.password_token("megan", TEAMS_SCOPES)
    result = client.get_token_for_teams_user(org["access_token"], demo.client_id.upper(), user["id"].upper())
    assert unverified(result.token)["sub"] == f"8:orgid:{user['id']}"


def test_exchange_refuses_another_users_id(demo: Demo, client: CommunicationIdentityClient) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)
    with pytest.raises(HttpResponseError) as caught:
        client.get_token_for_teams_user(org["access_token"], demo.client_id, demo.user("megan")["id"])
    assert caught.value.status_code == 400
    assert error_code(caught.value) == "ValidationError"


def test_exchange_refuses_another_client_id(demo: Demo, client: CommunicationIdentityClient) -> None:
    user = demo.user("alice")
    org = demo.password_token("alice", TEAMS_SCOPES)
    with pytest.raises(HttpResponseError) as caught:
        client.get_token_for_teams_user(org["access_token"], str(uuid.uuid4()), user["id"])
    assert caught.value.status_code == 400
    assert error_code(caught.value) == "ValidationError"


@pytest.mark.parametrize("kind", ["expired", "garbage", "graph audience", "wrong key"])
def test_exchange_refuses_a_bad_organisation_token(demo: Demo, client: CommunicationIdentityClient,
                                                   kind: str) -> None:
    user = demo.user("alice")
    now = int(time.time())
    if kind == "expired":
        token = demo.forge(demo.org_claims("alice", iat=now - 7200, nbf=now - 7200, exp=now - 60))
    elif kind == "garbage":
        token = "eyJhbGciOiJSUzI1NiJ9.not-a-token.at-all"
    elif kind == "graph audience":
        token = demo.password_token("alice", ["User.Read"])["access_token"]
    else:  # right claims, signed with a key callbridge does not know
        token = jwt.encode(demo.org_claims("alice"), secrets.token_bytes(32), algorithm="HS256",
                           headers={"kid": demo.platform.identity.ring.active.kid})
    with pytest.raises(ClientAuthenticationError) as caught:
        client.get_token_for_teams_user(token, demo.client_id, user["id"])
    assert caught.value.status_code == 401
    assert error_code(caught.value) == "InvalidAccessToken"


def test_wrong_access_key_is_denied(demo: Demo, identity_client: Callable[..., CommunicationIdentityClient]) -> None:
    endpoint = demo.info["communication"]["endpoint"]
    wrong = base64.b64encode(secrets.token_bytes(64)).decode()
    client = identity_client(f"endpoint={endpoint};accesskey={wrong}")
    org = demo.password_token("alice", TEAMS_SCOPES)
    with pytest.raises(ClientAuthenticationError) as caught:
        client.get_token_for_teams_user(org["access_token"], demo.client_id, demo.user("alice")["id"])
    assert caught.value.status_code == 401
    assert error_code(caught.value) == "Denied"
    with pytest.raises(ClientAuthenticationError) as caught:
        client.create_user()
    assert caught.value.status_code == 401


# --- Communication users -------------------------------------------------------------------------------------


def test_communication_user_lifecycle(demo: Demo, client: CommunicationIdentityClient) -> None:
    resource_id = demo.info["communication"]["resource_id"]
    user = client.create_user()
    assert isinstance(user, CommunicationUserIdentifier)
    assert user.properties["id"].startswith(f"8:acs:{resource_id}_")

    other, voip = client.create_user_and_token(scopes=[CommunicationTokenScope.VOIP])
    assert other.properties["id"] != user.properties["id"]
    claims = unverified(voip.token)
    assert claims["sub"] == other.properties["id"]
    assert claims["acsScope"] == "voip"
    parse_expires_on(voip.expires_on)

    chat = client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
    claims = unverified(chat.token)
    assert claims["sub"] == user.properties["id"] and claims["acsScope"] == "chat"
    assert parse_expires_on(chat.expires_on) == datetime.fromtimestamp(claims["exp"], UTC)

    assert client.revoke_tokens(user) is None
    assert client.delete_user(user) is None
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
    assert caught.value.status_code == 404
    client.delete_user(other)


def test_token_lifetime_chosen_by_the_caller(demo: Demo, client: CommunicationIdentityClient) -> None:
    from datetime import timedelta

    user, token = client.create_user_and_token(scopes=[CommunicationTokenScope.CHAT],
                                               token_expires_in=timedelta(hours=1))
    claims = unverified(token.token)
    assert claims["exp"] - claims["iat"] == 3600
    with pytest.raises(HttpResponseError) as caught:
        client.get_token(user, scopes=[CommunicationTokenScope.CHAT], token_expires_in=timedelta(minutes=10))
    assert caught.value.status_code == 400
    assert error_code(caught.value) == "ValidationError"
    client.delete_user(user)
