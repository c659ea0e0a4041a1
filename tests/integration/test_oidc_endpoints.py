"""What the discovery document promises is served: the implicit ``id_token`` and hybrid ``code id_token`` flows
(nonce required and echoed, ``c_hash``, form_post without inline script), the UserInfo endpoint and sign-out."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from callbridge.identity.pages import SESSION_COOKIE
from tests.conftest import TEAMS_SCOPES, Demo
from tests.integration.test_identity_flows import REDIRECT, Browser, _form_fields

DISCOVERY = "v2.0/.well-known/openid-configuration"


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _c_hash(code: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(code.encode()).digest()[:16]).rstrip(b"=").decode()


def _fragment_or_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlparse(response.headers["location"])
    return {k: v[0] for k, v in parse_qs(location.fragment or location.query).items()}


def _signed_in(demo: Demo, who: str = "megan") -> Browser:
    browser = Browser(demo, demo.user(who)["authority"])
    page = browser.sign_in(browser.authorize("User.Read openid"), who)
    browser.code_from(page)
    return browser


# -- response types ---------------------------------------------------------------------------------------------
def test_hybrid_code_id_token_with_form_post(demo: Demo) -> None:
    browser = _signed_in(demo)
    page = browser.authorize("User.Read openid profile", response_type="code id_token", response_mode="form_post")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    fields = _form_fields(page.text)
    assert set(fields) == {"code", "id_token", "state"} and fields["state"] == browser.state
    claims = _claims(fields["id_token"])
    assert claims["nonce"] == browser.nonce and claims["c_hash"] == _c_hash(fields["code"])
    assert claims["aud"] == demo.client_id and claims["oid"] == demo.user("megan")["id"]
    assert claims["iss"] == f"{demo.base_url}/{demo.user('megan')['tenant_id']}/v2.0"
    # The code beside it is redeemed as usual.
    body = browser.redeem(fields["code"]).json()
    assert "access_token" in body and _claims(body["id_token"])["nonce"] == browser.nonce


def test_form_post_page_needs_no_inline_script(demo: Demo) -> None:
    browser = _signed_in(demo)
    page = browser.authorize("User.Read openid", response_type="code id_token", response_mode="form_post")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "onload" not in page.text and "<noscript>" in page.text and '<script src="form_post.js">' in page.text
    script = browser.http.get(f"{browser.path}/oauth2/v2.0/form_post.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "submit()" in script.text


def test_implicit_id_token_with_form_post_and_fragment(demo: Demo) -> None:
    browser = _signed_in(demo)
    page = browser.authorize("openid profile", response_type="id_token", response_mode="form_post",
                             code_challenge="", code_challenge_method="")
    fields = _form_fields(page.text)
    assert set(fields) == {"id_token", "state"}
    claims = _claims(fields["id_token"])
    assert claims["nonce"] == browser.nonce and "c_hash" not in claims and claims["name"] == "Megan Bowen"
    # Without response_mode, an ID token goes in the fragment, never the query.
    answer = _fragment_or_query(browser.authorize("openid", response_type="id_token"))
    assert urlparse(browser.authorize("openid", response_type="id_token").headers["location"]).query == ""
    assert _claims(answer["id_token"])["nonce"] == browser.nonce


@pytest.mark.parametrize(("extra", "error", "code"), [
    ({"response_type": "id_token", "nonce": ""}, "invalid_request", 90014),
    ({"response_type": "code id_token", "nonce": ""}, "invalid_request", 90014),
    ({"response_type": "id_token", "scope": "User.Read"}, "invalid_scope", 70011),
    ({"response_type": "id_token", "response_mode": "query"}, "invalid_request", 900144),
    ({"response_type": "token"}, "unsupported_response_type", 900144),
    ({"response_type": "id_token token"}, "unsupported_response_type", 900144),
    ({"response_type": "code token"}, "unsupported_response_type", 900144),
])
def test_refused_id_token_requests(demo: Demo, extra: dict[str, str], error: str, code: int) -> None:
    browser = _signed_in(demo)
    answer = _fragment_or_query(browser.authorize(extra.pop("scope", "openid User.Read"), **extra))
    assert answer["error"] == error and f"AADSTS{code}" in answer["error_description"], answer
    assert "id_token" not in answer and "code" not in answer


def test_discovery_lists_exactly_what_is_served(demo: Demo) -> None:
    with demo.client() as c:
        doc = c.get(f"/{demo.tenant('Fabrikam')['id']}/{DISCOVERY}").json()
    assert sorted(doc["response_types_supported"]) == ["code", "code id_token", "id_token"]
    assert sorted(doc["response_modes_supported"]) == ["form_post", "fragment", "query"]
    browser = _signed_in(demo)
    for response_type in doc["response_types_supported"]:
        answer = _fragment_or_query(browser.authorize("openid User.Read", response_type=response_type))
        assert "error" not in answer and set(response_type.split()) <= set(answer), (response_type, answer)
    token = demo.password_token("megan", ["User.Read"])["access_token"]
    with demo.client() as c:
        assert c.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get(doc["end_session_endpoint"]).status_code == 200


# -- userinfo ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_answers_the_users_standard_claims(demo: Demo, method: str) -> None:
    body = demo.password_token("alice", ["User.Read"])
    with demo.client() as c:
        r = c.request(method, "/graph/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["sub"] == _claims(body["id_token"])["sub"]  # the app's pairwise subject, as in its ID token
    assert info["name"] == "Alice Smith" and info["given_name"] == "Alice" and info["family_name"] == "Smith"
    assert info["preferred_username"] == demo.user("alice")["upn"]
    assert "picture" not in info


def _userinfo(demo: Demo, token: str | None) -> httpx.Response:
    with demo.client() as c:
        return c.get("/graph/oidc/userinfo", headers={"Authorization": f"Bearer {token}"} if token else {})


def test_userinfo_refuses_tokens_that_are_not_a_users_graph_token(demo: Demo) -> None:
    teams = demo.password_token("alice", TEAMS_SCOPES)["access_token"]
    with demo.app_graph("Fabrikam") as app:
        app_token = app.headers["authorization"].split()[1]
    expired = demo.forge(demo.org_claims("alice", aud="00000003-0000-0000-c000-000000000000",
                                         exp=int(time.time()) - 60))
    for token in (None, teams, app_token, expired, "not-a-jwt"):
        r = _userinfo(demo, token)
        assert r.status_code == 401, (token, r.text)
        assert r.json()["error"]["code"] == "InvalidAuthenticationToken" and "www-authenticate" in r.headers


# -- sign-out ---------------------------------------------------------------------------------------------------
def _logout(browser: Browser, **params: str) -> httpx.Response:
    return browser.http.get(f"{browser.path}/oauth2/v2.0/logout", params=params)


def _session_ended(browser: Browser, response: httpx.Response) -> bool:
    cleared = any(h.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in h
                  for h in response.headers.get_list("set-cookie"))
    return cleared and browser.authorize("User.Read openid").status_code == 200  # the sign-in page again


def test_sign_out_ends_the_session_and_returns_to_a_registered_address(demo: Demo) -> None:
    browser = _signed_in(demo)
    r = _logout(browser, post_logout_redirect_uri=REDIRECT, client_id=demo.client_id, state="bye")
    assert r.status_code == 302 and r.headers["location"] == f"{REDIRECT}?state=bye"
    assert _session_ended(browser, r)


def test_sign_out_with_an_expired_id_token_hint(demo: Demo) -> None:
    browser = _signed_in(demo)
    user = demo.user("megan")
    hint = demo.forge({"aud": demo.client_id, "iss": f"{demo.base_url}/{user['tenant_id']}/v2.0",
                       "tid": user["tenant_id"], "oid": user["id"], "iat": 1, "exp": 2})
    r = _logout(browser, post_logout_redirect_uri="http://localhost:51234", id_token_hint=hint)
    assert r.status_code == 302 and r.headers["location"] == "http://localhost:51234"  # the loopback rule
    assert _session_ended(browser, r)


def test_sign_out_without_an_address_shows_a_page(demo: Demo) -> None:
    browser = _signed_in(demo)
    r = _logout(browser)
    assert r.status_code == 200 and "You signed out" in r.text
    assert _session_ended(browser, r)


def _foreign_hint(demo: Demo) -> str:
    nina = demo.user("nina")
    return demo.forge({"aud": demo.client_id, "iss": f"{demo.base_url}/{nina['tenant_id']}/v2.0",
                       "tid": nina["tenant_id"], "iat": 1, "exp": 2})


@pytest.mark.parametrize(("case", "code"), [
    ("unregistered", 50011), ("lookalike", 50011), ("no_client", 700016), ("unknown_client", 700016),
    ("forged_hint", 90009), ("foreign_hint", 50020), ("hint_of_another_client", 700005),
])
def test_sign_out_refusals_never_redirect(demo: Demo, case: str, code: int) -> None:
    browser = _signed_in(demo)
    user = demo.user("megan")
    good_hint = demo.forge({"aud": demo.client_id, "iss": f"{demo.base_url}/{user['tenant_id']}/v2.0",
                            "tid": user["tenant_id"], "iat": 1, "exp": 2})
    params = {
        "unregistered": {"client_id": demo.client_id, "post_logout_redirect_uri": "https://attacker.example/"},
        "lookalike": {"client_id": demo.client_id, "post_logout_redirect_uri": "http://localhost:80@evil.example"},
        "no_client": {"post_logout_redirect_uri": REDIRECT},
        "unknown_client": {"client_id": "33333333-3333-3333-3333-333333333333", "post_logout_redirect_uri": REDIRECT},
        "forged_hint": {"id_token_hint": good_hint[:-8] + "AAAAAAAA", "post_logout_redirect_uri": REDIRECT},
        "foreign_hint": {"id_token_hint": _foreign_hint(demo), "post_logout_redirect_uri": REDIRECT},
        "hint_of_another_client": {"id_token_hint": good_hint, "client_id": "33333333-3333-3333-3333-333333333333",
                                   "post_logout_redirect_uri": REDIRECT},
    }[case]
    r = _logout(browser, **params)
    assert r.status_code == 400 and "location" not in r.headers, r.text
    assert f"AADSTS{code}" in r.text
    assert _session_ended(browser, r)


def test_sign_out_by_post(demo: Demo) -> None:
    browser = _signed_in(demo)
    r = browser.http.post(f"{browser.path}/oauth2/v2.0/logout", data={
        "post_logout_redirect_uri": REDIRECT, "client_id": demo.client_id, "state": "s"})
    assert r.status_code == 302 and r.headers["location"] == f"{REDIRECT}?state=s"
    assert _session_ended(browser, r)
