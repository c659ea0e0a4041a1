"""Microsoft's clients, unchanged, with two tenants: MSAL and azure-identity read the tenant (their cache realm)
off the authority's first path segment, so one tenant's tokens must never be handed out for another; and a
response's ``scope`` says the scopes as the client asked, so that MSAL's silent calls are served from its cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import msal
import pytest
from azure.identity import AuthorizationCodeCredential

from tests.conftest import Demo
from tests.interop.conftest import Browser

REDIRECT_URI = "http://localhost"
GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
GRAPH_USER_READ = ["https://graph.microsoft.com/User.Read"]
TENANTS = (("Fabrikam", "megan"), ("Northwind", "nina"))

pytestmark = [
    pytest.mark.usefixtures("ca_bundle_env"),
    pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning"),
]


class CountingConfidentialApps:
    """Confidential MSAL applications of one client, one per tenant, sharing one token cache (as a web app serving
    several customers does), each counting the requests it sends to the token endpoint."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.cache = msal.TokenCache()
        self.token_requests = 0
        self.apps: dict[str, msal.ConfidentialClientApplication] = {}

    def app(self, tenant: str) -> msal.ConfidentialClientApplication:
        if tenant not in self.apps:
            app = msal.ConfidentialClientApplication(
                self.demo.client_id, client_credential=self.demo.info["app"]["client_secret"],
                authority=self.demo.tenant(tenant)["authority"], instance_discovery=False, token_cache=self.cache)
            self._count(app)
            self.apps[tenant] = app
        return self.apps[tenant]

    def _count(self, app: msal.ConfidentialClientApplication) -> None:
        post = app.http_client.post

        def counted(url: str, *args: Any, **kwargs: Any) -> Any:
            if urlsplit(url).path.endswith("/oauth2/v2.0/token"):
                self.token_requests += 1
            return post(url, *args, **kwargs)

        app.http_client.post = counted  # type: ignore[method-assign]

    def drop_access_tokens(self) -> None:
        """Make every access token stale the blunt way: gone from the cache, refresh tokens kept."""
        for at in list(self.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            self.cache.remove_at(at)

    def close(self) -> None:
        for app in self.apps.values():
            app.http_client.close()


@pytest.fixture
def shared(demo: Demo) -> Iterator[CountingConfidentialApps]:
    apps = CountingConfidentialApps(demo)
    yield apps
    apps.close()


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_authority_has_the_tenant_as_its_first_path_segment(demo: Demo) -> None:
    for tenant, _ in TENANTS:
        info = demo.tenant(tenant)
        assert urlsplit(info["authority"]).path == f"/{info['id']}"
        app = msal.ConfidentialClientApplication(demo.client_id, client_credential="x", authority=info["authority"],
                                                 instance_discovery=False)
        try:
            assert app.authority.tenant == info["id"]  # MSAL's cache realm
        finally:
            app.http_client.close()


def test_client_credentials_of_two_tenants_stay_apart(demo: Demo, shared: CountingConfidentialApps) -> None:
    first = shared.app("Fabrikam").acquire_token_for_client(GRAPH_DEFAULT)
    second = shared.app("Northwind").acquire_token_for_client(GRAPH_DEFAULT)
    assert "access_token" in first and "access_token" in second, (first, second)
    assert second["token_source"] == "identity_provider"
    assert _claims(first["access_token"])["tid"] == demo.tenant("Fabrikam")["id"]
    assert _claims(second["access_token"])["tid"] == demo.tenant("Northwind")["id"]
    # Each tenant's next call is its own cached token.
    for tenant, earlier in (("Fabrikam", first), ("Northwind", second)):
        again = shared.app(tenant).acquire_token_for_client(GRAPH_DEFAULT)
        assert again["token_source"] == "cache" and again["access_token"] == earlier["access_token"]
    assert shared.token_requests == 2


def _sign_in(demo: Demo, tenant: str, who: str, app: msal.ConfidentialClientApplication,
             scopes: list[str]) -> dict[str, Any]:
    user = demo.user(who)
    flow = app.initiate_auth_code_flow(scopes=scopes, redirect_uri=REDIRECT_URI)
    browser = Browser(demo)
    try:
        response = browser.sign_in(flow["auth_uri"], user["upn"], user["password"])
    finally:
        browser.close()
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    return dict(result)


def test_authorization_code_and_silent_refresh_of_two_tenants_stay_apart(
        demo: Demo, shared: CountingConfidentialApps) -> None:
    for tenant, who in TENANTS:
        result = _sign_in(demo, tenant, who, shared.app(tenant), GRAPH_USER_READ)
        assert _claims(result["access_token"])["tid"] == demo.tenant(tenant)["id"]
    accounts = {tenant: shared.app(tenant).get_accounts(username=demo.user(who)["upn"]) for tenant, who in TENANTS}
    assert all(len(found) == 1 for found in accounts.values()), accounts

    # Northwind's user, asked for at Fabrikam's authority: never her Northwind token from the cache.
    cross = shared.app("Fabrikam").acquire_token_silent_with_error(GRAPH_USER_READ, account=accounts["Northwind"][0])
    assert cross is None or "access_token" not in cross, cross

    # Silent refresh, each at its own authority, once the access tokens are stale.
    shared.drop_access_tokens()
    for tenant, who in TENANTS:
        before = shared.token_requests
        refreshed = shared.app(tenant).acquire_token_silent(GRAPH_USER_READ, account=accounts[tenant][0])
        assert refreshed is not None and refreshed["token_source"] == "identity_provider", refreshed
        claims = _claims(refreshed["access_token"])
        assert claims["tid"] == demo.tenant(tenant)["id"] and claims["oid"] == demo.user(who)["id"]
        assert shared.token_requests == before + 1


def test_silent_calls_for_full_uri_scopes_are_served_from_the_cache(
        demo: Demo, shared: CountingConfidentialApps) -> None:
    scopes = ["https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/Calendars.Read"]
    app = shared.app("Fabrikam")
    result = _sign_in(demo, "Fabrikam", "alex", app, scopes)
    assert set(result["scope"].split()) >= set(scopes), result["scope"]
    assert "offline_access" not in result["scope"].split()
    account = app.get_accounts(username=demo.user("alex")["upn"])[0]
    spent = shared.token_requests
    for _ in range(2):
        cached = app.acquire_token_silent(scopes, account=account)
        assert cached is not None and cached["token_source"] == "cache", cached
        assert cached["access_token"] == result["access_token"]
    assert shared.token_requests == spent  # no refresh token spent


def test_bare_and_full_uri_scopes_are_each_said_back_as_asked(demo: Demo) -> None:
    user = demo.user("megan")
    asked = "User.Read https://graph.microsoft.com/Calendars.Read openid profile offline_access"
    with demo.client() as c:
        r = c.post(f"/{user['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": demo.client_id, "username": user["upn"],
            "password": user["password"], "scope": asked})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["scope"].split()) == sorted(
        ["User.Read", "https://graph.microsoft.com/Calendars.Read", "openid", "profile"])


def _authorization_code(demo: Demo, tenant: str, who: str, scopes: list[str]) -> str:
    user = demo.user(who)
    query = urlencode({"client_id": demo.client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
                       "scope": " ".join([*scopes, "openid", "profile", "offline_access"]), "state": "s"})
    browser = Browser(demo)
    try:
        return browser.sign_in(f"{demo.tenant(tenant)['authority']}/oauth2/v2.0/authorize?{query}",
                               user["upn"], user["password"])["code"]
    finally:
        browser.close()


@pytest.mark.parametrize(("tenant", "who"), TENANTS)
def test_azure_identity_authorization_code_credential_refreshes_with_its_own_token(
        demo: Demo, tenant: str, who: str) -> None:
    tenant_id = demo.tenant(tenant)["id"]
    code = _authorization_code(demo, tenant, who, GRAPH_USER_READ)
    cache = msal.TokenCache()  # the credential's own cache, handed in to make its access token stale
    with AuthorizationCodeCredential(tenant_id, demo.client_id, code, REDIRECT_URI, authority=demo.base_url,
                                     client_secret=demo.info["app"]["client_secret"], cache=cache) as credential:
        first = credential.get_token(*GRAPH_USER_READ)
        assert credential.get_token(*GRAPH_USER_READ).token == first.token  # its cache, in its tenant's realm
        for at in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(at)
        refreshed = credential.get_token(*GRAPH_USER_READ)  # only its refresh token can serve this one
    assert refreshed.token != first.token
    for token in (first.token, refreshed.token):
        claims = _claims(token)
        assert claims["tid"] == tenant_id and claims["oid"] == demo.user(who)["id"]
