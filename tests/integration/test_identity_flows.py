"""The identity provider over HTTPS, driven as a browser and an app would: discovery, the sign-in and consent
pages, codes with PKCE, refresh rotation, client credentials, admin consent, and the refusals."""

from __future__ import annotations

import asyncio
import re
import secrets
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from callbridge.directory import apps
from callbridge.identity.pkce import s256
from callbridge.store.db import Database
from tests.conftest import TEAMS_SCOPES, Demo

REDIRECT = "http://localhost"


def _form_fields(html: str) -> dict[str, str]:
    return {m.group(1): unescape(m.group(2))
            for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


class Browser:
    """A user agent with cookies, walking the authorize endpoint's pages."""

    def __init__(self, demo: Demo, authority: str) -> None:
        self.demo = demo
        self.path = urlparse(authority).path
        self.http = demo.client()
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(8)
        self.nonce = secrets.token_urlsafe(8)

    def authorize(self, scope: str, **extra: str) -> httpx.Response:
        params = {"client_id": self.demo.client_id, "response_type": "code", "redirect_uri": REDIRECT,
                  "scope": scope, "state": self.state, "nonce": self.nonce, "code_challenge": s256(self.verifier),
                  "code_challenge_method": "S256", **extra}
        return self.http.get(f"{self.path}/oauth2/v2.0/authorize", params={k: v for k, v in params.items() if v})

    def submit(self, page: httpx.Response, **fields: str) -> httpx.Response:
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action, page.text
        return self.http.post(unescape(action.group(1)), data={**_form_fields(page.text), **fields})

    def sign_in(self, page: httpx.Response, who: str, password: str | None = None) -> httpx.Response:
        user = self.demo.user(who)
        return self.submit(page, action="signin", username=user["upn"], password=password or user["password"])

    def code_from(self, response: httpx.Response) -> str:
        assert response.status_code == 302, response.text
        query = parse_qs(urlparse(response.headers["location"]).query)
        assert query["state"] == [self.state]
        return query["code"][0]

    def redeem(self, code: str, verifier: str | None = None, **extra: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "client_id": self.demo.client_id, "code": code,
                "redirect_uri": REDIRECT, "code_verifier": verifier or self.verifier, **extra}
        return self.http.post(f"{self.path}/oauth2/v2.0/token", data=form)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("segment", ["tenant_id", "domain", "organizations", "common"])
def test_discovery_for_every_tenant_spelling(demo: Demo, segment: str) -> None:
    fabrikam = demo.tenant("Fabrikam")
    value = {"tenant_id": fabrikam["id"], "domain": fabrikam["domain"].upper()}.get(segment, segment)
    with demo.client() as c:
        doc = c.get(f"/{value}/v2.0/.well-known/openid-configuration").json()
        keys = c.get(doc["jwks_uri"].removeprefix(demo.base_url)).json()["keys"]
    expected_tid = fabrikam["id"] if segment in ("tenant_id", "domain") else "{tenantid}"
    assert doc["issuer"] == f"{demo.base_url}/{expected_tid}/v2.0"
    assert doc["token_endpoint"] == f"{demo.base_url}/{value}/oauth2/v2.0/token"
    assert "S256" in doc["code_challenge_methods_supported"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["kid"] for k in keys)


def test_unknown_tenant_is_an_oauth_error(demo: Demo) -> None:
    with demo.client() as c:
        r = c.get("/nowhere.example/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400 and r.json()["error"] == "invalid_tenant" and r.json()["error_codes"] == [90002]


def test_tokens_verify_against_published_jwks(demo: Demo) -> None:
    body = demo.password_token("alice", TEAMS_SCOPES)
    with demo.client() as c:
        keys = c.get(f"/{demo.user('alice')['tenant_id']}/discovery/v2.0/keys").json()["keys"]
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"],
                        audience="1fd5118e-2576-4263-8130-9503064c837a",
                        issuer=f"{demo.base_url}/{demo.user('alice')['tenant_id']}/v2.0")
    assert claims["scp"] == "Teams.ManageCalls Teams.ManageChats"
    assert claims["appid"] == claims["azp"] == demo.client_id
    assert claims["oid"] == demo.user("alice")["id"] and claims["name"] == "Alice Smith"
    assert claims["preferred_username"] == "alice@fabrikam.example"
    assert {"exp", "iat", "nbf", "tid"} <= claims.keys()


def test_authorization_code_with_pkce(demo: Demo) -> None:
    browser = Browser(demo, demo.user("alice")["authority"])
    page = browser.authorize(" ".join([*TEAMS_SCOPES, "openid", "profile", "offline_access"]))
    assert page.status_code == 200 and "Sign in" in page.text and "Contoso Calling" in page.text
    code = browser.code_from(browser.sign_in(page, "alice"))
    r = browser.redeem(code)
    assert r.status_code == 200, r.text
    tokens = r.json()
    id_claims = _claims(tokens["id_token"])
    assert id_claims["nonce"] == browser.nonce and id_claims["aud"] == demo.client_id
    assert id_claims["oid"] == demo.user("alice")["id"]
    assert _claims(tokens["access_token"])["azpacr"] == "0"  # redeemed as a public client
    # The code is single-use.
    again = browser.redeem(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # A second authorize in the same browser is answered from the session, without the sign-in page.
    assert browser.code_from(browser.authorize(" ".join(TEAMS_SCOPES)))


def test_wrong_pkce_verifier_refused_and_code_spent(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    code = browser.code_from(browser.sign_in(browser.authorize("User.Read openid"), "megan"))
    r = browser.redeem(code, verifier=secrets.token_urlsafe(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and 501481 in r.json()["error_codes"]
    assert browser.redeem(code).json()["error"] == "invalid_grant"  # spent by the failed attempt


def test_public_client_without_pkce_refused(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    page = browser.authorize("User.Read openid", code_challenge="", code_challenge_method="")
    code = browser.code_from(browser.sign_in(page, "megan"))
    r = browser.redeem(code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_plain_pkce_method_refused(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    r = browser.authorize("User.Read", code_challenge_method="plain")
    query = parse_qs(urlparse(r.headers["location"]).query)
    assert r.status_code == 302 and query["error"] == ["invalid_request"] and query["state"] == [browser.state]


def test_unregistered_redirect_uri_is_a_page_not_a_redirect(demo: Demo) -> None:
    browser = Browser(demo, demo.user("alice")["authority"])
    r = browser.http.get(f"{browser.path}/oauth2/v2.0/authorize", params={
        "client_id": demo.client_id, "response_type": "code", "redirect_uri": "https://evil.example/cb",
        "scope": "User.Read"})
    assert r.status_code == 400 and "location" not in r.headers
    assert "does not match the redirect URIs" in r.text


ATTACKER_REDIRECTS = ["http://localhost:80@evil.example", "http://localhost@evil.example/",
                      "http://localhost:80%40evil.example", "http://localhost:80\\@evil.example",
                      "http://localhost.evil.example", "http://evil.example#@localhost", "http://[::1]:80@evil.example",
                      "http://[::ffff:127.0.0.1]", "http://localhost./", "http://:80", "https://localhost:53412"]


@pytest.mark.parametrize("redirect_uri", ATTACKER_REDIRECTS)
def test_redirect_uri_tricks_get_the_error_page_never_a_redirect(demo: Demo, redirect_uri: str) -> None:
    """A signed-in user's browser is never sent to the attacker's host with a code (nor with an error)."""
    browser = Browser(demo, demo.user("alice")["authority"])
    assert browser.code_from(browser.sign_in(browser.authorize("User.Read openid"), "alice"))  # signed in
    r = browser.authorize("User.Read openid", redirect_uri=redirect_uri)
    assert r.status_code == 400 and "location" not in r.headers
    assert "Redirect URI mismatch" in r.text and "AADSTS50011" in r.text
    with demo.client() as c:
        consent = c.get(f"/{demo.tenant('Fabrikam')['id']}/adminconsent",
                        params={"client_id": demo.client_id, "redirect_uri": redirect_uri})
    assert consent.status_code == 400 and "location" not in consent.headers and "is not registered" in consent.text


def test_loopback_redirect_on_any_port_and_redeemed_on_the_same(demo: Demo) -> None:
    browser = Browser(demo, demo.user("alice")["authority"])
    page = browser.authorize("User.Read openid", redirect_uri="http://localhost:53412")
    response = browser.sign_in(page, "alice")
    assert response.headers["location"].startswith("http://localhost:53412?code=")
    code = browser.code_from(response)
    assert browser.redeem(code, redirect_uri="http://localhost:53413").json()["error_codes"] == [50011]
    code = browser.code_from(browser.authorize("User.Read openid", redirect_uri="http://localhost:53412"))
    assert browser.redeem(code, redirect_uri="http://localhost:53412").status_code == 200


def test_unknown_client_is_a_page(demo: Demo) -> None:
    with demo.client() as c:
        r = c.get("/common/oauth2/v2.0/authorize", params={
            "client_id": "33333333-3333-3333-3333-333333333333", "response_type": "code",
            "redirect_uri": REDIRECT, "scope": "User.Read"})
    assert r.status_code == 400 and "was not found" in r.text


def test_wrong_password_shown_in_words(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    r = browser.sign_in(browser.authorize("User.Read"), "megan", password="wrong")
    assert r.status_code == 200 and "Your account or password is incorrect." in r.text


def test_user_of_another_tenant_refused_at_tenant_authority(demo: Demo) -> None:
    browser = Browser(demo, demo.tenant("Fabrikam")["authority"])
    r = browser.sign_in(browser.authorize("User.Read"), "nina")
    assert r.status_code == 200 and "not in the organisation" in r.text


def test_organizations_authority_admits_any_tenant(demo: Demo) -> None:
    browser = Browser(demo, f"{demo.base_url}/organizations")
    code = browser.code_from(browser.sign_in(browser.authorize("User.Read openid"), "nina"))
    claims = _claims(browser.redeem(code).json()["id_token"])
    assert claims["tid"] == demo.tenant("Northwind")["id"]
    assert claims["iss"] == f"{demo.base_url}/{claims['tid']}/v2.0"


def test_consent_page_then_grant_then_no_page(demo: Demo) -> None:
    browser = Browser(demo, demo.user("oscar")["authority"])
    page = browser.sign_in(browser.authorize("People.Read openid"), "oscar")
    assert page.status_code == 200 and "Permissions requested" in page.text
    assert "Read the people relevant to you" in page.text
    code = browser.code_from(browser.submit(page, action="consent"))
    assert "People.Read" in _claims(browser.redeem(code).json()["access_token"])["scp"]
    assert browser.code_from(browser.authorize("People.Read"))  # consented now: no page


def test_consent_declined_redirects_access_denied(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    page = browser.sign_in(browser.authorize("Presence.Read"), "megan")
    r = browser.submit(page, action="cancel")
    query = parse_qs(urlparse(r.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == [browser.state]


def test_prompt_none_without_session(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    r = browser.authorize("User.Read", prompt="none")
    assert parse_qs(urlparse(r.headers["location"]).query)["error"] == ["login_required"]


def test_password_grant_without_consent_is_consent_required(demo: Demo) -> None:
    user = demo.user("lidia")
    with demo.client() as c:
        r = c.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": demo.client_id, "username": user["upn"],
            "password": user["password"], "scope": "Presence.Read"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and r.json()["error_codes"] == [65001]


def test_refresh_token_rotation_and_replay_detection(demo: Demo) -> None:
    first = demo.password_token("megan", ["User.Read"])
    tenant = demo.user("megan")["tenant_id"]

    def refresh(token: str, scope: str = "User.Read") -> httpx.Response:
        with demo.client() as c:
            return c.post(f"/{tenant}/oauth2/v2.0/token", data={
                "grant_type": "refresh_token", "client_id": demo.client_id, "refresh_token": token, "scope": scope})

    second = refresh(first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    # The refresh token works for another consented resource, as Entra's do.
    third = refresh(second.json()["refresh_token"], " ".join(TEAMS_SCOPES))
    assert _claims(third.json()["access_token"])["aud"] == "1fd5118e-2576-4263-8130-9503064c837a"
    replay = refresh(first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Replay revoked the whole family, including the newest token.
    assert refresh(third.json()["refresh_token"]).status_code == 400


def test_client_credentials(demo: Demo) -> None:
    tenant = demo.tenant("Fabrikam")["id"]
    form = {"grant_type": "client_credentials", "client_id": demo.client_id,
            "client_secret": demo.info["app"]["client_secret"], "scope": "https://graph.microsoft.com/.default"}
    with demo.client() as c:
        ok = c.post(f"/{tenant}/oauth2/v2.0/token", data=form)
        basic = c.post(f"/{tenant}/oauth2/v2.0/token", auth=(demo.client_id, form["client_secret"]),
                       data={k: v for k, v in form.items() if k != "client_secret"})
        wrong = c.post(f"/{tenant}/oauth2/v2.0/token", data={**form, "client_secret": "nope"})
        common = c.post("/common/oauth2/v2.0/token", data=form)
        not_default = c.post(f"/{tenant}/oauth2/v2.0/token", data={**form, "scope": "User.Read"})
    claims = _claims(ok.json()["access_token"])
    assert claims["roles"] == ["User.Read.All"] and claims["idtyp"] == "app" and claims["tid"] == tenant
    assert "scp" not in claims
    assert basic.status_code == 200
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert common.status_code == 400 and not_default.json()["error"] == "invalid_scope"


def test_unsupported_grant_and_garbage_never_500(demo: Demo) -> None:
    with demo.client() as c:
        for form in ({"grant_type": "magic", "client_id": demo.client_id}, {"grant_type": "password"},
                     {"client_id": "x" * 5000}, {"grant_type": "authorization_code", "client_id": demo.client_id}):
            r = c.post("/common/oauth2/v2.0/token", data=form)
            assert 400 <= r.status_code < 500 and "error" in r.json() and "Traceback" not in r.text
        r = c.post("/common/oauth2/v2.0/token", headers={"Authorization": "Basic !!!"}, data={})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def _new_app(demo: Demo) -> str:
    async def create() -> str:
        db = Database(demo.settings.effective_database_url)
        try:
            async with db.transaction() as s:
                app = await apps.create_app(s, demo.info["app"]["tenant_id"], "Contoso Reports", multi_tenant=True,
                                            allow_public_client=True, redirect_uris=["https://reports.contoso.example/consented"],
                                            permissions={"00000003-0000-0000-c000-000000000000": {
                                                "delegated": ["User.ReadBasic.All"], "application": []}})
                return app.client_id
        finally:
            await db.close()

    return asyncio.run(create())


def _oscar_token(demo: Demo, client_id: str) -> httpx.Response:
    oscar = demo.user("oscar")
    with demo.client() as c:
        return c.post(f"/{oscar['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": client_id, "username": oscar["upn"],
            "password": oscar["password"], "scope": "User.ReadBasic.All"})


def test_admin_consent_by_an_administrator(demo: Demo) -> None:
    client_id = _new_app(demo)
    tenant = demo.tenant("Northwind")
    assert _oscar_token(demo, client_id).json()["error_codes"] == [65001]  # nobody consented yet
    with demo.client() as c:
        page = c.get(f"/{tenant['id']}/adminconsent", params={
            "client_id": client_id, "redirect_uri": "https://reports.contoso.example/consented", "state": "s1"})
        assert "Sign in" in page.text
        admin = demo.user("northwind")
        consent = c.post(f"/{tenant['id']}/adminconsent",
                         data={**_form_fields(page.text), "action": "signin", "username": admin["upn"],
                               "password": admin["password"]})
        assert "for everyone in" in consent.text and "User.ReadBasic.All" in consent.text
        done = c.post(f"/{tenant['id']}/adminconsent", data={**_form_fields(consent.text), "action": "consent"})
    query = parse_qs(urlparse(done.headers["location"]).query)
    assert query == {"admin_consent": ["True"], "tenant": [tenant["id"]], "state": ["s1"]}
    # Everyone in Northwind may now use the app, without a consent page of their own.
    r = _oscar_token(demo, client_id)
    assert r.status_code == 200 and _claims(r.json()["access_token"])["scp"] == "User.ReadBasic.All"


def test_admin_consent_refused_for_non_admin(demo: Demo) -> None:
    client_id = _new_app(demo)
    tenant = demo.tenant("Northwind")
    oscar = demo.user("oscar")
    with demo.client() as c:
        page = c.get(f"/{tenant['id']}/adminconsent", params={"client_id": client_id})
        r = c.post(f"/{tenant['id']}/adminconsent", data={
            **_form_fields(page.text), "action": "signin", "username": oscar["upn"], "password": oscar["password"]})
    assert r.status_code == 403 and "not an administrator" in r.text


def test_forged_csrf_refused(demo: Demo) -> None:
    browser = Browser(demo, demo.user("megan")["authority"])
    page = browser.authorize("User.Read")
    fields = {**_form_fields(page.text), "csrf": "forged", "action": "signin",
              "username": demo.user("megan")["upn"], "password": demo.user("megan")["password"]}
    r = browser.http.post(f"{browser.path}/oauth2/v2.0/authorize", data=fields)
    assert "expired" in r.text and "location" not in r.headers


def test_brute_force_sign_in_is_throttled(demo: Demo) -> None:
    grady = demo.user("grady")
    form = {"grant_type": "password", "client_id": demo.client_id, "username": grady["upn"], "scope": "User.Read"}
    with demo.client() as c:
        for _ in range(demo.settings.signin_failures_per_user):
            r = c.post(f"/{grady['tenant_id']}/oauth2/v2.0/token", data={**form, "password": "guess"})
            assert r.json()["error_codes"] == [50126]
        locked = c.post(f"/{grady['tenant_id']}/oauth2/v2.0/token", data={**form, "password": grady["password"]})
    assert locked.status_code == 429 and locked.json()["error_codes"] == [50053]
    browser = Browser(demo, grady["authority"])
    page = browser.sign_in(browser.authorize("User.Read"), "grady")
    assert page.status_code == 429 and "temporarily locked" in page.text


def _admin_only_app(demo: Demo) -> str:
    """An app of Contoso's asking for a permission only an administrator may grant (User.Read.All, delegated)."""
    async def create(s: Any) -> str:
        app = await apps.create_app(s, demo.info["app"]["tenant_id"], "Contoso Directory", multi_tenant=True,
                                    allow_public_client=True, redirect_uris=[REDIRECT], permissions={
                                        "00000003-0000-0000-c000-000000000000": {
                                            "delegated": ["User.Read", "User.Read.All"], "application": []}})
        return app.client_id

    return str(asyncio.run(demo.change(create)))


def _ropc(demo: Demo, who: str, client_id: str, scope: str) -> httpx.Response:
    user = demo.user(who)
    with demo.client() as c:
        return c.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": client_id, "username": user["upn"],
            "password": user["password"], "scope": scope})


@pytest.mark.parametrize("scope", ["User.Read.All", "Directory.Read.All openid", "User.Read Directory.ReadWrite.All",
                                   "Group.Read.All"])
def test_a_user_cannot_consent_to_what_only_an_administrator_may_grant(demo: Demo, scope: str) -> None:
    client_id = _admin_only_app(demo)
    browser = Browser(demo, demo.user("oscar")["authority"])
    page = browser.sign_in(browser.authorize(scope, client_id=client_id), "oscar")
    assert page.status_code == 403 and "Need admin approval" in page.text and "AADSTS90094" in page.text
    assert "location" not in page.headers
    # Posting the consent form anyway (as a forged page would) grants nothing either.
    forged = browser.authorize(scope, client_id=client_id)
    consent = browser.http.post(f"{browser.path}/oauth2/v2.0/authorize", data={
        **_form_fields(browser.authorize("User.Read", client_id=client_id).text), "action": "consent",
        "request": urlparse(str(forged.url)).query})
    assert consent.status_code == 403 and "Need admin approval" in consent.text and "location" not in consent.headers
    assert _ropc(demo, "oscar", client_id, scope).json()["error_codes"] == [65001]


def test_a_users_own_grant_of_an_admin_only_permission_counts_for_nothing(demo: Demo) -> None:
    """A grant a user made before admin-only permissions were marked (or one put in by hand) gives no token."""
    client_id = _admin_only_app(demo)

    async def user_grant(s: Any) -> None:
        from callbridge.directory.consent import grant_user_consent
        from callbridge.store.models import User

        oscar = await s.get(User, demo.user("oscar")["id"])
        await grant_user_consent(s, oscar, client_id, "00000003-0000-0000-c000-000000000000",
                                 ["User.Read", "User.Read.All"])

    asyncio.run(demo.change(user_grant))
    assert _ropc(demo, "oscar", client_id, "User.Read.All").json()["error_codes"] == [65001]
    r = _ropc(demo, "oscar", client_id, "https://graph.microsoft.com/.default")
    assert r.status_code == 200 and _claims(r.json()["access_token"])["scp"] == "User.Read"


def test_admin_consent_grants_admin_only_permissions_to_everyone(demo: Demo) -> None:
    client_id = _admin_only_app(demo)
    tenant = demo.tenant("Northwind")
    admin = demo.user("northwind")
    with demo.client() as c:
        page = c.get(f"/{tenant['id']}/adminconsent", params={"client_id": client_id})
        consent = c.post(f"/{tenant['id']}/adminconsent", data={
            **_form_fields(page.text), "action": "signin", "username": admin["upn"], "password": admin["password"]})
        assert "User.Read.All" in consent.text
        done = c.post(f"/{tenant['id']}/adminconsent", data={**_form_fields(consent.text), "action": "consent"})
    assert done.status_code == 200 and "Permissions granted" in done.text
    browser = Browser(demo, demo.user("oscar")["authority"])
    code = browser.code_from(browser.sign_in(browser.authorize("User.Read.All", client_id=client_id), "oscar"))
    r = browser.redeem(code, client_id=client_id)
    assert r.status_code == 200 and _claims(r.json()["access_token"])["scp"] == "User.Read.All"
