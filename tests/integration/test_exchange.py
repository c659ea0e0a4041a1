"""The token exchange over HTTPS: the happy path and every refusal, with ACS's codes, messages and targets."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import jwt
import pytest

from callbridge.acs.hmac_auth import sign_headers
from callbridge.directory import tenants
from tests.conftest import TEAMS_SCOPES, Demo

PATH = "/teamsUser/:exchangeAccessToken?api-version=2023-10-01"


def _key(demo: Demo) -> str:
    return demo.info["communication"]["connection_string"].split("accesskey=", 1)[1]


def post_signed(demo: Demo, path: str, body: Any, *, key: str | None = None, date: datetime | None = None,
                raw: bytes | None = None, method: str = "POST") -> httpx.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    host = demo.base_url.removeprefix("https://")
    headers = sign_headers(method, path, host, data, key or _key(demo),
                           format_datetime(date or datetime.now(UTC), usegmt=True))
    headers["Content-Type"] = "application/json"
    with demo.client() as c:
        return c.request(method, path, content=data, headers=headers)


def exchange(demo: Demo, token: str, app_id: str | None = None, user_id: str | None = None,
             **kwargs: Any) -> httpx.Response:
    body = {"token": token, "appId": demo.client_id if app_id is None else app_id,
            "userId": demo.user("alice")["id"] if user_id is None else user_id}
    return post_signed(demo, PATH, body, **kwargs)


def _error(r: httpx.Response) -> tuple[int, str, str, str | None]:
    e = r.json()["error"]
    return r.status_code, e["code"], e["message"], e.get("target")


def test_exchange_issues_a_communication_token_expiring_with_the_org_token(demo: Demo) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    r = exchange(demo, org)
    assert r.status_code == 200, r.text
    body = r.json()
    org_exp = jwt.decode(org, options={"verify_signature": False})["exp"]
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == f"8:orgid:{demo.user('alice')['id']}"
    assert claims["exp"] == org_exp
    assert body["expiresOn"] == datetime.fromtimestamp(org_exp, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00")
    assert jwt.get_unverified_header(body["token"])["alg"] == "ES256"
    assert r.headers["api-supported-versions"]


@pytest.mark.parametrize("version", ["2022-06-01", "2022-10-01", "2023-08-01", "2023-10-01", "2025-06-30"])
def test_every_published_stable_version_is_accepted(demo: Demo, version: str) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    path = PATH.replace("2023-10-01", version)
    body = {"token": org, "appId": demo.client_id, "userId": demo.user("alice")["id"]}
    assert post_signed(demo, path, body).status_code == 200


def test_unknown_api_version_refused(demo: Demo) -> None:
    r = post_signed(demo, PATH.replace("2023-10-01", "1999-01-01"), {})
    assert r.status_code == 400 and r.json()["error"]["code"] == "UnsupportedApiVersion"


@pytest.mark.parametrize("app_id,user_id,expected", [
    ("", None, (400, "ValidationError", "AppId: The AppId field is required.", "AppId")),
    ("not-a-guid", None, (400, "ValidationError", "Provided AppId has invalid format.", "appId")),
    ("11111111-1111-1111-1111-111111111111", None,
     (400, "ValidationError", "AAD application is not the expected one.", "appId")),
    (None, "", (400, "ValidationError", "UserId: The UserId field is required.", "UserId")),
    (None, "xyz", (400, "ValidationError", "Provided UserId has invalid format.", "userId")),
])
def test_body_validation(demo: Demo, app_id: str | None, user_id: str | None, expected: tuple[Any, ...]) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    assert _error(exchange(demo, org, app_id, user_id)) == expected


def test_token_of_another_user_refused(demo: Demo) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    r = exchange(demo, org, user_id=demo.user("megan")["id"])
    assert _error(r) == (400, "ValidationError", "Provided AAD token issued for unexpected user.", "userId")


INVALID = (401, "InvalidAccessToken", "Provided access token is not valid.", None)


@pytest.mark.parametrize("case", ["empty", "garbage", "expired", "nbf_future", "wrong_audience", "graph_audience",
                                  "wrong_issuer", "issuer_of_other_tenant", "unknown_kid", "alg_none",
                                  "signed_by_communication_key", "tampered"])
def test_bad_organisation_tokens_refused(demo: Demo, case: str) -> None:
    now = int(time.time())
    other_tid = demo.tenant("Northwind")["id"]
    claims_for = {
        "expired": {"exp": now - 1, "iat": now - 3600, "nbf": now - 3600},
        "nbf_future": {"nbf": now + 3600},
        "wrong_audience": {"aud": "someone-else"},
        "graph_audience": {"aud": "00000003-0000-0000-c000-000000000000"},
        "wrong_issuer": {"iss": "https://login.microsoftonline.com/x/v2.0"},
        "issuer_of_other_tenant": {"iss": f"{demo.base_url}/{other_tid}/v2.0"},
    }
    if case == "empty":
        token = ""
    elif case == "garbage":
        token = "not.a.jwt"
    elif case == "unknown_kid":
        token = demo.forge(demo.org_claims("alice"), headers={"kid": "unknown"})
    elif case == "alg_none":
        token = jwt.encode(demo.org_claims("alice"), None, algorithm="none")
    elif case == "signed_by_communication_key":
        token = demo.forge(demo.org_claims("alice"), purpose="communication")
    elif case == "tampered":
        head, _, sig = demo.forge(demo.org_claims("alice")).split(".")
        body = jwt.utils.base64url_encode(json.dumps(demo.org_claims("alice", oid="x")).encode()).decode()
        token = f"{head}.{body}.{sig}"
    else:
        token = demo.forge(demo.org_claims("alice", **claims_for[case]))
    assert _error(exchange(demo, token)) == INVALID


def test_missing_teams_scope_refused(demo: Demo) -> None:
    token = demo.forge(demo.org_claims("alice", scp="Teams.ManageCalls"))
    status, code, message, _ = _error(exchange(demo, token))
    assert (status, code) == (401, "InvalidAccessToken") and "Teams.ManageChats" in message


def test_graph_token_refused(demo: Demo) -> None:
    graph = demo.password_token("alice", ["User.Read"])["access_token"]
    assert _error(exchange(demo, graph)) == INVALID


def test_no_consent_refused(demo: Demo) -> None:
    # A token that names an app which Fabrikam never consented to (signed by the real key).
    stranger = "22222222-2222-2222-2222-222222222222"
    token = demo.forge(demo.org_claims("alice", appid=stranger, azp=stranger))
    status, code, message, _ = _error(exchange(demo, token, app_id=stranger))
    assert (status, code) == (403, "Forbidden") and "consented" in message


def _set_interop(demo: Demo, tenant_id: str, value: bool) -> None:
    asyncio.run(demo.change(lambda s: tenants.set_tenant_setting(s, tenant_id, "acs_interop_enabled", value)))


def test_interop_off_refused(demo: Demo) -> None:
    alice = demo.user("alice")
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    _set_interop(demo, alice["tenant_id"], False)
    try:
        status, code, message, _ = _error(exchange(demo, org))
    finally:
        _set_interop(demo, alice["tenant_id"], True)
    assert (status, code) == (403, "Forbidden") and "interoperability" in message
    assert exchange(demo, org).status_code == 200


def test_bad_hmac_refused(demo: Demo) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    wrong = "b" * 86 + "=="
    r = exchange(demo, org, key=wrong)
    assert r.status_code == 401 and r.json()["error"]["code"] == "Denied"


def test_stale_hmac_date_refused(demo: Demo) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    r = exchange(demo, org, date=datetime.now(UTC) - timedelta(minutes=20))
    assert r.status_code == 401 and "skew" in r.json()["error"]["message"]


def test_body_swapped_after_signing_refused(demo: Demo) -> None:
    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    body = json.dumps({"token": org, "appId": demo.client_id, "userId": demo.user("alice")["id"]}).encode()
    host = demo.base_url.removeprefix("https://")
    headers = sign_headers("POST", PATH, host, body, _key(demo), format_datetime(datetime.now(UTC), usegmt=True))
    with demo.client() as c:
        r = c.post(PATH, content=body.replace(b"alice", b"mallory") + b" ", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Request 'x-ms-content-sha256' differs from generated content hash."


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"\xff\xfe"])
def test_malformed_body_is_a_clear_400(demo: Demo, raw: bytes) -> None:
    r = post_signed(demo, PATH, None, raw=raw)
    assert r.status_code == 400 and r.json()["error"]["code"] in ("InvalidRequestBody", "ValidationError")


def test_unsigned_request_denied(demo: Demo) -> None:
    with demo.client() as c:
        r = c.post(PATH, json={"token": "x", "appId": demo.client_id, "userId": demo.user("alice")["id"]})
    assert r.status_code == 401 and r.json() == {"error": {"code": "Denied",
                                                           "message": "Denied by the resource provider."}}


def _set_enabled(demo: Demo, upn: str, value: bool) -> None:
    from callbridge.directory import users

    asyncio.run(demo.change(lambda s: users.set_account_enabled(s, upn, value)))


def test_disabled_user_refused(demo: Demo) -> None:
    megan = demo.user("megan")
    org = demo.password_token("megan", TEAMS_SCOPES)["access_token"]
    _set_enabled(demo, megan["upn"], False)
    try:
        r = exchange(demo, org, user_id=megan["id"])
    finally:
        _set_enabled(demo, megan["upn"], True)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAccessToken"


def test_communication_token_is_readable_by_the_platform(demo: Demo) -> None:
    from callbridge.acs import tokens as comm_tokens

    org = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    token = exchange(demo, org).json()["token"]
    acs = demo.platform.acs
    read = comm_tokens.read(acs.ring, acs.issuer, token, datetime.now(UTC))
    assert read.raw_id == f"8:orgid:{demo.user('alice')['id']}"
    assert read.tenant_id == demo.user("alice")["tenant_id"] and read.scopes == ("voip", "chat")
    with pytest.raises(comm_tokens.TokenInvalid):  # an organisation token is not a communication token
        comm_tokens.read(acs.ring, acs.issuer, org, datetime.now(UTC))


def test_health_and_metrics(demo: Demo) -> None:
    with demo.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
        demo.password_token("alice", TEAMS_SCOPES)
        text = c.get("/metrics").text
    assert 'callbridge_http_requests_total{method="POST",route="/{tenant}/oauth2/v2.0/token",status="200"}' \
        in text
