"""Hostile input at the HTTP edge gets a 4xx in the wire's own error shape, never a 500: lone surrogates in an
OData filter, JSON nested absurdly deep, numbers of thousands of digits, tokens expiring in 10^300 seconds."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.conftest import GRAPH_SCOPES, Demo
from tests.integration.test_calling_signalling import close_code_after
from tests.integration.test_exchange import PATH as EXCHANGE_PATH
from tests.integration.test_exchange import post_signed

DEEP = b"[" * 30_000 + b"]" * 30_000  # 60 KB: within every family's body limit
DEEPER = b"[" * 100_000 + b"]" * 100_000  # 200 KB: within Graph's
LONG_NUMBER = b'{"token": ' + b"9" * 5000 + b"}"
IDENTITIES = "/acs/identities?api-version=2023-10-01"


def _graph_code(r: Any) -> str:
    return str(r.json()["error"]["code"])


def test_a_surrogate_spelled_in_a_filter_is_no_server_error(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.get("/users?$filter=startswith(displayName,'%ED%A0%80')")
        r2 = g.get("/users?$filter=startswith(displayName,'\\ud800')")
    assert r.status_code in (200, 400), r.text  # the URL's decoding makes it U+FFFD: no match, or refused
    assert r2.status_code in (200, 400), r2.text


@pytest.mark.parametrize("raw", [DEEP, LONG_NUMBER, b'{"token": "\\ud800"}'], ids=["deep", "digits", "surrogate"])
def test_hostile_json_to_acs_is_an_acs_400(demo: Demo, raw: bytes) -> None:
    for path in (IDENTITIES, EXCHANGE_PATH):
        r = post_signed(demo, path, None, raw=raw)
        assert r.status_code == 400, (path, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("raw", [DEEPER, LONG_NUMBER, b'{"subject": "\\udc00"}'], ids=["deep", "digits", "surrogate"])
def test_hostile_json_to_graph_is_a_graph_400(demo: Demo, raw: bytes) -> None:
    with demo.graph("alice", GRAPH_SCOPES) as g:
        r = g.post("/me/events", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert _graph_code(r) == "BadRequest"


@pytest.mark.parametrize("exp", [1e300, 10**30, float("inf")], ids=["1e300", "10**30", "inf"])
def test_an_absurd_expiry_is_an_invalid_token_everywhere(demo: Demo, exp: Any) -> None:
    idp = demo.forge(demo.org_claims("alice", exp=exp, aud="https://graph.microsoft.com", scp=" ".join(GRAPH_SCOPES)))
    with demo.client() as c:
        r = c.get("/graph/v1.0/me", headers={"Authorization": f"Bearer {idp}"})
    assert r.status_code == 401, r.text
    assert _graph_code(r) == "InvalidAuthenticationToken"
    org = demo.forge(demo.org_claims("alice", exp=exp))
    body = {"token": org, "appId": demo.client_id, "userId": demo.user("alice")["id"]}
    r = post_signed(demo, EXCHANGE_PATH, body)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "InvalidAccessToken"


@pytest.mark.parametrize("exp", [1e300, 10**30], ids=["1e300", "10**30"])
def test_an_absurd_expiry_on_a_communication_token_closes_the_socket_4001(demo: Demo, exp: Any) -> None:
    now = int(time.time())
    raw_id = f"8:orgid:{demo.user('alice')['id']}"
    claims = {"iss": demo.platform.acs.issuer, "aud": "urn:callbridge:communication", "sub": raw_id,
              "skypeid": raw_id[2:], "scp": 1792, "acsScope": "voip", "resourceId": "x", "iat": now, "nbf": now,
              "exp": exp, "tid": demo.user("alice")["tenant_id"]}
    token = demo.forge(claims, purpose="communication")
    hello = json.dumps({"type": "hello", "version": 1, "token": token})
    assert asyncio.run(close_code_after(demo, hello)) == 4001
