"""MSAL for Python, unchanged, against callbridge's identity provider: configured only with the authority URL,
the client id (and secret) and the CA bundle (REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
import webbrowser
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import msal
import pytest

from tests.conftest import TEAMS_SCOPES, Demo
from tests.interop.conftest import Browser, parse_form

COMMUNICATION_APP_ID = "1fd5118e-2576-4263-8130-9503064c837a"
REDIRECT_URI = "http://localhost"

pytestmark = [
    pytest.mark.usefixtures("ca_bundle_env"),
    # MSAL recommends form_post; these tests read the code from the 302's query on purpose.
    pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning"),
]


class Apps:
    """MSAL applications made by a test, closed afterwards (an open keep-alive connection would hold up the
    server's shutdown)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.made: list[msal.ClientApplication] = []

    def public(self, tenant: str = "Fabrikam") -> msal.PublicClientApplication:
        authority = self.demo.tenant(tenant)["authority"]
        app = msal.PublicClientApplication(self.demo.client_id, authority=authority, instance_discovery=False)
        self.made.append(app)
        return app

    def confidential(self, secret: str, tenant: str = "Fabrikam") -> msal.ConfidentialClientApplication:
        app = msal.ConfidentialClientApplication(self.demo.client_id, client_credential=secret,
                                                 authority=self.demo.tenant(tenant)["authority"],
                                                 instance_discovery=False)
        self.made.append(app)
        return app

    def close(self) -> None:
        for app in self.made:
            app.http_client.close()


@pytest.fixture
def apps(demo: Demo) -> Iterator[Apps]:
    made = Apps(demo)
    yield made
    made.close()


def verified_claims(demo: Demo, token: str, tenant_id: str, audience: str) -> dict[str, Any]:
    """Verify a token the way a resource server does: keys from the discovery document's jwks_uri."""
    with demo.client() as c:
        config = c.get(f"/{tenant_id}/v2.0/.well-known/openid-configuration").json()
    jwks = jwt.PyJWKClient(config["jwks_uri"], ssl_context=ssl.create_default_context(cafile=demo.ca_file))
    key = jwks.get_signing_key_from_jwt(token)
    algorithms = config["id_token_signing_alg_values_supported"]
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=algorithms, audience=audience,
                                        issuer=config["issuer"])
    return claims


def sign_in_with_code(demo: Demo, browser: Browser, app: msal.PublicClientApplication, who: str,
                      scopes: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The authorization code flow with PKCE: (MSAL's flow dict, the redirect's query)."""
    user = demo.user(who)
    flow = app.initiate_auth_code_flow(scopes=scopes, redirect_uri=REDIRECT_URI)
    assert "code_challenge" in flow["auth_uri"] and flow["code_verifier"]
    return flow, browser.sign_in(flow["auth_uri"], user["upn"], user["password"])


def test_auth_code_flow_with_pkce_for_teams_scopes(demo: Demo, browser: Browser, apps: Apps) -> None:
    user = demo.user("megan")
    app = apps.public()
    flow, response = sign_in_with_code(demo, browser, app, "megan", TEAMS_SCOPES)
    assert browser.pages == ["Sign in"]  # the administrator consented: no consent page
    assert set(response) >= {"code", "state"} and response["state"] == flow["state"]

    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    assert result["token_source"] == "identity_provider"
    id_claims = result["id_token_claims"]
    assert id_claims["oid"] == user["id"]
    assert id_claims["tid"] == user["tenant_id"]
    assert id_claims["preferred_username"] == user["upn"]
    assert id_claims["aud"] == demo.client_id
    assert id_claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()  # MSAL sends it hashed

    unverified = jwt.decode(result["access_token"], options={"verify_signature": False})
    claims = verified_claims(demo, result["access_token"], user["tenant_id"], COMMUNICATION_APP_ID)
    assert claims == unverified
    assert claims["aud"] == COMMUNICATION_APP_ID
    assert set(claims["scp"].split()) >= {"Teams.ManageCalls", "Teams.ManageChats"}
    assert claims["appid"] == demo.client_id
    assert claims["oid"] == user["id"] and claims["tid"] == user["tenant_id"]

    # The cache answers a silent request for the same scopes...
    accounts = app.get_accounts(username=user["upn"])
    assert len(accounts) == 1
    assert accounts[0]["home_account_id"] == f"{user['id']}.{user['tenant_id']}"
    cached = app.acquire_token_silent(TEAMS_SCOPES, account=accounts[0])
    assert cached is not None and cached["access_token"] == result["access_token"]
    assert cached["token_source"] == "cache"

    # ...and a forced refresh redeems the refresh token, which rotates.
    old_refresh = _refresh_tokens(app)
    assert len(old_refresh) == 1
    refreshed = app.acquire_token_silent(TEAMS_SCOPES, account=accounts[0], force_refresh=True)
    assert refreshed is not None and "access_token" in refreshed, refreshed
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != result["access_token"]
    new_refresh = _refresh_tokens(app)
    assert len(new_refresh) == 1 and new_refresh != old_refresh
    claims = verified_claims(demo, refreshed["access_token"], user["tenant_id"], COMMUNICATION_APP_ID)
    assert set(claims["scp"].split()) >= {"Teams.ManageCalls", "Teams.ManageChats"}

    # The refresh token also serves another resource the tenant consented to (Entra's multi-resource tokens).
    graph = app.acquire_token_silent(["User.Read"], account=accounts[0])
    assert graph is not None and "access_token" in graph, graph
    graph_claims = jwt.decode(graph["access_token"], options={"verify_signature": False})
    assert graph_claims["aud"] == "00000003-0000-0000-c000-000000000000" and graph_claims["scp"] == "User.Read"

    # A spent refresh token comes back (a stolen copy): refused, and the whole family ends with it.
    with demo.client() as c:
        replayed = c.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "refresh_token", "client_id": demo.client_id, "refresh_token": old_refresh[0],
            "scope": " ".join(TEAMS_SCOPES)})
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant", replayed.text
    after_replay = app.acquire_token_silent_with_error(TEAMS_SCOPES, account=accounts[0], force_refresh=True)
    assert after_replay is not None and after_replay.get("error") == "invalid_grant", after_replay


def _refresh_tokens(app: msal.ClientApplication) -> list[str]:
    return [rt["secret"] for rt in app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)]


def test_consent_page_for_a_scope_the_administrator_did_not_grant(demo: Demo, browser: Browser,
                                                                  apps: Apps) -> None:
    # People.Read is a valid Graph scope outside the app's required permissions: the user must consent.
    user = demo.user("nestor")
    app = apps.public()
    flow, response = sign_in_with_code(demo, browser, app, "nestor", ["People.Read"])
    assert browser.pages == ["Sign in", "Permissions requested"]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "00000003-0000-0000-c000-000000000000"
    assert claims["scp"] == "People.Read"
    assert claims["oid"] == user["id"]

    # Consent is remembered: with the session cookie the browser goes straight back to the app, and in a
    # fresh browser only the sign-in page comes.
    for fresh, pages in ((browser, []), (Browser(demo), ["Sign in"])):
        fresh.pages.clear()
        again = apps.public()
        flow, response = sign_in_with_code(demo, fresh, again, "nestor", ["People.Read"])
        fresh.close()
        assert fresh.pages == pages
        assert "access_token" in again.acquire_token_by_auth_code_flow(flow, response)


def test_declining_consent_returns_access_denied(demo: Demo, browser: Browser, apps: Apps) -> None:
    user = demo.user("nora")
    app = apps.public()
    flow = app.initiate_auth_code_flow(scopes=["Presence.Read"], redirect_uri=REDIRECT_URI)
    page = browser.submit(browser.open(flow["auth_uri"]), username=user["upn"], password=user["password"])
    assert page.status_code == 200 and "Permissions requested" in page.text
    declined = browser.submit(page, button="cancel")
    assert declined.status_code == 302
    response = dict(parse_qsl(urlsplit(declined.headers["location"]).query))
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result.get("error") == "access_denied", result


def test_tampered_pkce_verifier_is_refused(demo: Demo, browser: Browser, apps: Apps) -> None:
    app = apps.public()
    flow, response = sign_in_with_code(demo, browser, app, "alex", TEAMS_SCOPES)
    flow["code_verifier"] = "A" * 43 if flow["code_verifier"] != "A" * 43 else "B" * 43
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result.get("error") == "invalid_grant", result
    assert "access_token" not in result
    assert 501481 in result.get("error_codes", []), result


@pytest.mark.parametrize("redirect_uri", ["https://attacker.example/callback", "http://localhost:8080/elsewhere",
                                          "https://localhost:8443", "http://localhost.attacker.example:80"])
def test_unregistered_redirect_uri_shows_an_error_page(demo: Demo, browser: Browser, apps: Apps,
                                                       redirect_uri: str) -> None:
    app = apps.public()
    flow = app.initiate_auth_code_flow(scopes=TEAMS_SCOPES, redirect_uri=redirect_uri)
    page = browser.open(flow["auth_uri"])
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "Redirect URI mismatch" in page.text and "AADSTS50011" in page.text


def test_client_credentials_with_the_app_secret(demo: Demo, apps: Apps) -> None:
    app = apps.confidential(demo.info["app"]["client_secret"])
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    tenant_id = demo.tenant("Fabrikam")["id"]
    claims = verified_claims(demo, result["access_token"], tenant_id, "00000003-0000-0000-c000-000000000000")
    assert "User.Read.All" in claims["roles"]
    assert claims["appid"] == demo.client_id and claims["tid"] == tenant_id
    assert claims["idtyp"] == "app"
    # A second call is served from MSAL's cache.
    again = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert again["access_token"] == result["access_token"] and again["token_source"] == "cache"


def test_client_credentials_with_a_wrong_secret(demo: Demo, apps: Apps) -> None:
    app = apps.confidential("not-the-secret")
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result.get("error") == "invalid_client", result
    assert "access_token" not in result


def test_interactive_sign_in_on_a_loopback_port(demo: Demo, apps: Apps,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """acquire_token_interactive listens on http://localhost:<any free port> and asks for form_post; Entra
    ignores the port of a registered loopback redirect URI (RFC 8252 7.3), so http://localhost admits it."""
    user = demo.user("lee")
    seen: dict[str, Any] = {}

    def drive(auth_uri: str) -> None:
        browser = Browser(demo)
        try:
            page = browser.submit(browser.open(auth_uri), username=user["upn"], password=user["password"])
            seen["status"], seen["page"] = page.status_code, page.text
            form = parse_form(page.text)  # the form_post page that hands the code to MSAL's local listener
            seen["action"] = form.action
            browser.http.post(form.action, data=form.fields)
        except BaseException:
            # Let MSAL's listener give up now rather than at its timeout.
            listener = dict(parse_qsl(urlsplit(auth_uri).query))["redirect_uri"]
            browser.http.get(listener, params={"error": "abort"})
            raise
        finally:
            browser.close()

    def open_browser(url: str, *args: Any, **kwargs: Any) -> bool:
        threading.Thread(target=drive, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", open_browser)
    app = apps.public()
    result = app.acquire_token_interactive(TEAMS_SCOPES, timeout=30)
    assert "access_token" in result, (result, seen)
    assert seen["status"] == 200 and re.fullmatch(r"http://localhost:\d+", seen["action"]), seen
    assert result["id_token_claims"]["oid"] == user["id"]
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert set(claims["scp"].split()) >= {"Teams.ManageCalls", "Teams.ManageChats"}
