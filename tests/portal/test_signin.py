"""Sign-in through callbridge's real sign-in (and consent) pages, the session cookie, sign-out, onboarding."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.interop.conftest import parse_form
from tests.portal.conftest import PortalBrowser, RunningPortal


def test_fabrikam_user_signs_in_and_the_api_knows_her(portal: RunningPortal, browser: PortalBrowser) -> None:
    landed = browser.sign_in("alice")
    assert landed.status_code == 200 and '"signedIn": true' in landed.text
    assert "Sign in" in browser.pages[0]  # callbridge's sign-in page, filled like a person
    me = browser.api("GET", "/api/me")
    assert me.status_code == 200, me.text
    alice = portal.callbridge.user("alice")
    assert me.json() == {"id": alice["id"], "displayName": "Alice Smith", "tenantId": alice["tenant_id"],
                         "tenantName": "Fabrikam", "upn": "alice@fabrikam.example", "phoneNumber": "+14255550101"}


def test_cookies_are_httponly_secure_and_lax(portal: RunningPortal, browser: PortalBrowser) -> None:
    started = browser.http.get(f"{portal.url}/signin")
    assert started.status_code == 302
    assert urlsplit(started.headers["location"]).path == "/organizations/oauth2/v2.0/authorize"
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [f"{portal.url}/auth/callback"]
    cookie = started.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie and "path=/auth/callback" in cookie
    browser.http.cookies.clear()
    landed = browser.sign_in("megan")
    assert landed.status_code == 200
    cookies = [h for r in browser.trail for h in r.headers.get_list("set-cookie")]
    session = next(h for h in cookies if h.startswith("portal_session="))
    assert all(flag in session.lower() for flag in ("httponly", "secure", "samesite=lax", "path=/"))


def test_tokens_are_kept_per_user_in_the_database(portal: RunningPortal,
                                                  signed_in: Callable[[str], PortalBrowser]) -> None:
    signed_in("alice")
    signed_in("nina")
    with sqlite3.connect(portal.settings.data_dir / "portal.db") as db:
        rows = dict(db.execute("SELECT account_key, tenant_id FROM token_caches").fetchall())
    for who in ("alice", "nina"):
        user = portal.callbridge.user(who)
        assert rows[f"{user['id']}.{user['tenant_id']}"] == user["tenant_id"]


def test_a_callback_without_the_sign_in_cookie_is_refused_in_words(browser: PortalBrowser,
                                                                   portal: RunningPortal) -> None:
    r = browser.http.get(f"{portal.url}/auth/callback", params={"code": "stolen", "state": "x"})
    assert r.status_code == 400 and "Sign in again" in r.text
    assert browser.api("GET", "/api/me").status_code == 401


def test_a_forged_state_is_refused(browser: PortalBrowser, portal: RunningPortal) -> None:
    browser.http.get(f"{portal.url}/signin")  # the flow cookie of this browser
    r = browser.http.get(f"{portal.url}/auth/callback", params={"code": "x", "state": "not-the-one"})
    assert r.status_code == 400 and "could not be completed" in r.text


def test_sign_out_forgets_the_tokens_and_ends_the_identity_provider_session(
        portal: RunningPortal, signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("megan")
    out = b.api("POST", "/signout")
    assert out.status_code == 303
    target = urlsplit(out.headers["location"])
    assert target.path == f"/{portal.callbridge.user('megan')['tenant_id']}/oauth2/v2.0/logout"
    assert parse_qs(target.query)["post_logout_redirect_uri"] == [f"{portal.url}/"]
    back = b.http.get(out.headers["location"])
    assert back.status_code == 302 and back.headers["location"] == f"{portal.url}/"  # a registered address
    assert b.api("GET", "/api/me").status_code == 401
    again = b.http.get(f"{portal.url}/signin", follow_redirects=True)  # the IdP asks for the password again
    assert "Sign in" in again.text and 'name="password"' in again.text
    with sqlite3.connect(portal.settings.data_dir / "portal.db") as db:
        megan = portal.callbridge.user("megan")
        key = f"{megan['id']}.{megan['tenant_id']}"
        assert db.execute("SELECT 1 FROM token_caches WHERE account_key = ?", (key,)).fetchone() is None


def test_the_onboarding_link_is_the_admin_consent(portal: RunningPortal, browser: PortalBrowser) -> None:
    r = browser.http.get(f"{portal.url}/onboard", params={"tenant": "organizations"})
    assert r.status_code == 302
    target = urlsplit(r.headers["location"])
    assert target.path == "/organizations/adminconsent"
    query = parse_qs(target.query)
    assert query["client_id"] == [portal.settings.client_id]
    assert query["redirect_uri"] == [f"{portal.url}/auth/callback"]


def test_home_shell_names_the_sdk_and_loads_the_modules(portal: RunningPortal, browser: PortalBrowser) -> None:
    home = browser.http.get(f"{portal.url}/")
    assert home.status_code == 200 and '<script type="module" src="/static/app.js">' in home.text
    assert f'<meta name="callbridge-sdk" content="{portal.settings.callbridge_sdk_url}">' in home.text
    assert '"signedIn": false' in home.text
    # the pages run under this policy: callbridge's SDK and sockets allowed, and no inline script to allow
    callbridge = portal.callbridge.base_url
    policy = {d.split(" ")[0]: d.split(" ")[1:] for d in home.headers["content-security-policy"].split("; ")}
    assert policy["script-src"] == ["'self'", callbridge]
    assert set(policy["connect-src"]) >= {callbridge, f"wss://{urlsplit(callbridge).netloc}"}
    assert "importmap" not in home.text and "'unsafe-inline'" not in str(policy)


def test_an_administrator_onboards_the_organisation_through_the_consent_page(portal: RunningPortal,
                                                                              browser: PortalBrowser) -> None:
    admin = portal.callbridge.tenant("Northwind")["users"][1]
    assert admin["admin"]
    page = browser.follow(browser.http.get(f"{portal.url}/onboard", params={"tenant": "northwind.example"}),
                          lambda r: _fill(browser, r, admin))
    assert page.status_code == 200 and "Your organisation is onboarded" in page.text, page.text
    assert any("consent" in title.lower() or "permission" in title.lower() for title in browser.pages), browser.pages


def test_a_declined_consent_is_said_in_words(portal: RunningPortal, browser: PortalBrowser) -> None:
    admin = portal.callbridge.tenant("Northwind")["users"][1]
    page = browser.follow(browser.http.get(f"{portal.url}/onboard", params={"tenant": "northwind.example"}),
                          lambda r: _fill(browser, r, admin, accept=False))
    assert page.status_code == 400 and "was not onboarded" in page.text


def _fill(browser: PortalBrowser, page: httpx.Response, user: dict[str, str], accept: bool = True) \
        -> httpx.Response | None:
    if not str(page.url).startswith(browser.portal.callbridge.base_url) or "<form" not in page.text:
        return None
    browser.pages.append(page.text.split("<title>")[1].split("</title>")[0] if "<title>" in page.text else "")
    form = parse_form(page.text)
    fields = dict(form.fields)
    if fields.get("action") == "signin":
        fields.update(username=user["upn"], password=user["password"])
    else:
        button = "consent" if accept else "cancel"
        assert button in form.buttons, form
        fields[form.buttons[button]] = button
    return browser.http.post(urljoin(str(page.url), unescape(form.action)), data=fields)


async def test_a_new_organisation_onboards_through_the_consent_page_then_signs_in(
        portal: RunningPortal, browser: PortalBrowser) -> None:
    """Litware never consented: the portal needs permissions only an administrator grants, so its administrator's
    first sign-in is refused in words; she follows the onboarding link (sign-in page, then the consent page for the
    organisation), and then she signs in, seeing only Litware's directory."""
    from callbridge.directory import tenants, users

    async def litware(s: Any) -> Any:
        tenant = await tenants.create_tenant(s, "Litware", ["litware.example"])
        await users.create_user(s, tenant.id, users.NewUser(
            upn="leo@litware.example", display_name="Leo Park", password="Demo-Leo-2026!", licences=["TEAMS"]))
        return await users.create_user(s, tenant.id, users.NewUser(
            upn="lia@litware.example", display_name="Lia Admin", password="Demo-Lia-2026!", admin=True,
            licences=["TEAMS"]))
    lia = await portal.callbridge.change(litware)
    account = {"upn": "lia@litware.example", "password": "Demo-Lia-2026!"}
    refused = await asyncio.to_thread(browser.sign_in, "lia", user=account)
    assert refused.status_code == 403 and "Need admin approval" in refused.text
    onboard = browser.http.get(f"{portal.url}/onboard", params={"tenant": "litware.example"})
    page = await asyncio.to_thread(browser.follow, onboard, lambda r: _fill(browser, r, account))
    assert page.status_code == 200 and "Your organisation is onboarded" in page.text, page.text
    browser.pages.clear()
    landed = await asyncio.to_thread(browser.sign_in, "lia", user=account)
    assert landed.status_code == 200 and '"signedIn": true' in landed.text, landed.text
    assert browser.pages == []  # still signed in at the identity provider, and consented: no page at all
    me = await asyncio.to_thread(browser.api, "GET", "/api/me")
    assert me.json()["id"] == lia.id and me.json()["tenantId"] == lia.tenant_id
    assert me.json()["tenantName"] == "Litware"
    people = (await asyncio.to_thread(browser.api, "GET", "/api/directory")).json()["value"]
    assert [p["displayName"] for p in people] == ["Leo Park"]  # her organisation, without herself
