"""Sign-in through callbridge's real sign-in (and consent) pages, the session cookie, sign-out, onboarding."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from tests.portal.conftest import PortalBrowser, RunningPortal


def test_fabrikam_user_signs_in_and_the_api_knows_her(portal: RunningPortal, browser: PortalBrowser) -> None:
    landed = browser.sign_in("alice")
    assert landed.status_code == 200 and '"signedIn": true' in landed.text
    assert "Sign in" in browser.pages[0]  # callbridge's sign-in page, filled like a person
    me = browser.api("GET", "/api/me")
    assert me.status_code == 200, me.text
    alice = portal.callbridge.user("alice")
    assert me.json() == {"id": alice["id"], "displayName": "Alice Smith", "tenantId": alice["tenant_id"],
                         "tenantName": None, "upn": "alice@fabrikam.example", "phoneNumber": "+14255550101"}


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
    assert f'"callbridge-sdk": "{portal.settings.callbridge_sdk_url}"' in home.text
    assert '"signedIn": false' in home.text
