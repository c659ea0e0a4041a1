"""MSAL for Node, unchanged, with two tenants through one confidential client application and its one cache
(each request naming its tenant's authority): one tenant's tokens are never handed out for another, and silent
refresh works in each."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.conftest import Demo
from tests.interop.conftest import Browser
from tests.interop.node_rp import NodeRP

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
GRAPH_USER_READ = ["https://graph.microsoft.com/User.Read"]
TENANTS = (("Fabrikam", "megan"), ("Northwind", "nina"))
REDIRECT_URI = "http://localhost"


def _start(demo: Demo, rp: NodeRP) -> None:
    rp("msalApp", clientId=demo.client_id, clientSecret=demo.info["app"]["client_secret"],
       authority=demo.tenant("Fabrikam")["authority"])


def test_client_credentials_of_two_tenants_stay_apart(demo: Demo, node_rp: NodeRP) -> None:
    _start(demo, node_rp)
    got = {}
    for tenant, _ in TENANTS:
        got[tenant] = node_rp("clientCredentials", scopes=GRAPH_DEFAULT, authority=demo.tenant(tenant)["authority"])
        assert got[tenant]["fromCache"] is False, (tenant, got[tenant])
        assert got[tenant]["claims"]["tid"] == demo.tenant(tenant)["id"]
    for tenant, _ in TENANTS:
        again = node_rp("clientCredentials", scopes=GRAPH_DEFAULT, authority=demo.tenant(tenant)["authority"])
        assert again["fromCache"] is True and again["accessToken"] == got[tenant]["accessToken"]


def _sign_in(demo: Demo, rp: NodeRP, tenant: str, who: str) -> dict[str, Any]:
    authority = demo.tenant(tenant)["authority"]
    url = rp("authCodeUrl", scopes=GRAPH_USER_READ, redirectUri=REDIRECT_URI, authority=authority, state="s")["url"]
    assert urlsplit(url).path == f"{urlsplit(authority).path}/oauth2/v2.0/authorize"
    user = demo.user(who)
    browser = Browser(demo)
    try:
        query = browser.sign_in(url, user["upn"], user["password"])
    finally:
        browser.close()
    return rp("redeem", code=query["code"], scopes=GRAPH_USER_READ, redirectUri=REDIRECT_URI, authority=authority)


def test_authorization_code_and_silent_refresh_of_two_tenants_stay_apart(demo: Demo, node_rp: NodeRP) -> None:
    _start(demo, node_rp)
    accounts = {}
    for tenant, who in TENANTS:
        result = _sign_in(demo, node_rp, tenant, who)
        assert result["claims"]["tid"] == demo.tenant(tenant)["id"] == result["tenantId"]
        assert result["claims"]["oid"] == demo.user(who)["id"]
        accounts[tenant] = result["account"]["homeAccountId"]
        # Served from the cache, in the form asked (full-URI scopes): no refresh token spent.
        cached = node_rp("silent", homeAccountId=accounts[tenant], scopes=GRAPH_USER_READ,
                         authority=demo.tenant(tenant)["authority"])
        assert cached["fromCache"] is True and cached["accessToken"] == result["accessToken"]

    node_rp("dropAccessTokens")
    for tenant, who in TENANTS:
        refreshed = node_rp("silent", homeAccountId=accounts[tenant], scopes=GRAPH_USER_READ,
                            authority=demo.tenant(tenant)["authority"])
        assert refreshed["fromCache"] is False, refreshed
        assert refreshed["claims"]["tid"] == demo.tenant(tenant)["id"]
        assert refreshed["claims"]["oid"] == demo.user(who)["id"]


