"""@azure/communication-identity (Microsoft's JavaScript client), unchanged, against callbridge's communication
identity API: configured only with the demo's connection string and the CA file (NODE_EXTRA_CA_CERTS). The
client refuses an endpoint with a path, as real ACS endpoints have none, so this also proves the API is served at
the root of its endpoint. `make install` installs the client (``npm ci`` in tests/interop/node-acs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.conftest import TEAMS_SCOPES, Demo

NODE_DIR = Path(__file__).parent / "node-acs"
SCRIPT = NODE_DIR / "identity_lifecycle.mjs"


def _run_client(demo: Demo, payload: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed: `make install` installs it"
    assert (NODE_DIR / "node_modules" / "@azure" / "communication-identity").is_dir(), \
        "the JavaScript client is not installed: run `make install` (npm ci in tests/interop/node-acs)"
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": demo.ca_file}
    done = subprocess.run([node, str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True,
                          cwd=NODE_DIR, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def seen(demo: Demo) -> dict[str, Any]:
    """What the JavaScript client saw through a communication user's life and alice's token exchange."""
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    return _run_client(demo, {"connectionString": demo.info["communication"]["connection_string"],
                              "teamsUserAadToken": org, "clientId": demo.client_id,
                              "userObjectId": demo.user("alice")["id"]}) | {"org": org}


def test_the_connection_strings_endpoint_is_a_bare_origin(demo: Demo) -> None:
    endpoint = demo.info["communication"]["connection_string"].split(";")[0].removeprefix("endpoint=")
    assert endpoint == f"{demo.base_url}/" == demo.info["communication"]["endpoint"]


def test_the_client_creates_a_communication_user(demo: Demo, seen: dict[str, Any]) -> None:
    resource_id = demo.info["communication"]["resource_id"]
    user = seen["user"]
    assert user["rawId"] == user["communicationUserId"]
    assert user["rawId"].startswith(f"8:acs:{resource_id}_")


def test_the_client_gets_a_token_with_chat_and_voip(seen: dict[str, Any]) -> None:
    claims = _claims(seen["token"]["token"])
    assert claims["sub"] == seen["user"]["rawId"] and claims["acsScope"] == "chat,voip"
    assert _instant(seen["token"]["expiresOn"]) == datetime.fromtimestamp(claims["exp"], UTC)


def test_the_client_exchanges_a_teams_users_token(demo: Demo, seen: dict[str, Any]) -> None:
    claims = _claims(seen["teamsUser"]["token"])
    alice = demo.user("alice")
    assert claims["sub"] == f"8:orgid:{alice['id']}" and claims["tid"] == alice["tenant_id"]
    assert claims["exp"] == _claims(seen["org"])["exp"]
    assert _instant(seen["teamsUser"]["expiresOn"]) == datetime.fromtimestamp(claims["exp"], UTC)


def test_the_client_sees_acs_error_codes(seen: dict[str, Any]) -> None:
    too_short = seen["tooShortLifetime"]
    assert (too_short["name"], too_short["statusCode"], too_short["code"]) == ("RestError", 400, "ValidationError")
    gone = seen["afterDelete"]
    assert (gone["statusCode"], gone["code"]) == (404, "IdentityNotFound")


def test_the_client_revokes_and_deletes(seen: dict[str, Any]) -> None:
    assert seen["revoked"] is None and seen["deleted"] is None
