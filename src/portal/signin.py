"""Sign-in with msal as a confidential web client: the authorization code flow with PKCE against a multi-tenant
authority, each user's tokens in a token cache of their own (portal.token_store), silent refresh, sign-out and the
admin-consent link. msal is synchronous (requests-shaped HTTP): every call runs in a worker thread.

After sign-in every call uses the user's own tenant's authority (``{root}/{tid}``), as Microsoft advises for
multi-tenant apps: msal keys access tokens by tenant, so a ``organizations`` authority would never find them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import warnings
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import msal

from portal.cookies import SessionUser
from portal.errors import PortalError, sign_in_required
from portal.outbound import MsalHttpClient
from portal.settings import GRAPH_SCOPES, TEAMS_SCOPES, PortalSettings
from portal.token_store import TokenStore

# msal adds these itself and refuses them in a scope list
_RESERVED = {"openid", "profile", "offline_access"}


@dataclass(frozen=True)
class SignedIn:
    user: SessionUser
    name: str
    username: str


class SignInFailed(Exception):
    """The identity provider refused or the flow did not match: ``description`` is its words."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description


class Identity:
    def __init__(self, settings: PortalSettings, http: httpx.Client, tokens: TokenStore) -> None:
        self._settings = settings
        self._http = MsalHttpClient(http)
        self._tokens = tokens
        self._http_cache: dict[Any, Any] = {}  # discovery documents, shared by this process's msal apps
        self._lock = threading.Lock()
        # one refresh per user at a time (entries go when no request holds them)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _app(self, authority: str, cache: msal.TokenCache | None = None) -> msal.ConfidentialClientApplication:
        with self._lock:  # one app built at a time: they share the discovery cache
            return msal.ConfidentialClientApplication(
                self._settings.client_id, client_credential=self._settings.client_secret.get_secret_value(),
                authority=authority, http_client=self._http, http_cache=self._http_cache,
                instance_discovery=self._settings.instance_discovery, token_cache=cache)

    async def start(self, login_hint: str | None = None) -> dict[str, Any]:
        """msal's auth code flow (state, nonce, PKCE verifier, ``auth_uri``): the caller keeps it in a cookie."""
        def run() -> dict[str, Any]:
            app = self._app(self._settings.authority)
            with warnings.catch_warnings():
                # msal recommends form_post; the portal takes the code from the query on purpose: its flow cookie is
                # SameSite=Lax, which a browser sends with a top-level GET from the identity provider's site but not
                # with its cross-site form POST (and the code is single-use and bound to the PKCE verifier)
                warnings.filterwarnings("ignore", "response_mode='form_post' is recommended", UserWarning)
                return dict(app.initiate_auth_code_flow(GRAPH_SCOPES, redirect_uri=self._settings.redirect_uri,
                                                        login_hint=login_hint))
        return await asyncio.to_thread(run)

    async def finish(self, flow: dict[str, Any], response: dict[str, str]) -> SignedIn:
        """Redeem the code (checking state, PKCE and nonce); keep the user's tokens in their own cache."""
        cache = msal.SerializableTokenCache()

        def run() -> dict[str, Any]:
            try:
                return dict(self._app(self._settings.authority, cache).acquire_token_by_auth_code_flow(flow, response))
            except ValueError as exc:  # msal: the answer's state is not the flow's (a forged or stale callback)
                return {"error": "state_mismatch",
                        "error_description": f"the answer did not match this sign-in ({exc})"}
        result = await asyncio.to_thread(run)
        if "error" in result:
            raise SignInFailed(str(result["error"]), str(result.get("error_description", "")))
        claims = result.get("id_token_claims") or {}
        tid = self._check_id_token(claims)
        oid = str(claims["oid"])
        user = SessionUser(f"{oid}.{tid}", tid, oid)
        await self._tokens.forget(user.account_key)  # a new sign-in starts a clean cache
        await self._tokens.save(user.account_key, tid, cache)
        await self._warm(user)
        return SignedIn(user, str(claims.get("name", "")), str(claims.get("preferred_username", "")))

    async def _warm(self, user: SessionUser) -> None:
        """msal files the code's tokens under the ``organizations`` authority; every later call uses the user's
        tenant's. Take the tokens the pages need at once under it now, one after the other, rather than in the
        page's first burst of parallel requests. A refusal here is the first API call's to tell."""
        for scopes in (GRAPH_SCOPES, TEAMS_SCOPES):
            with contextlib.suppress(PortalError):
                await self.access_token(user, scopes)

    def _check_id_token(self, claims: dict[str, Any]) -> str:
        """What msal no longer checks (since 1.38 it leaves ID token validation to the app): the token is for this
        app, from the signed-in user's own tenant's issuer, and current. Its signature needs no check: it came
        straight from the token endpoint over TLS, to an authenticated client (OpenID Connect Core 3.1.3.7)."""
        oid, tid = claims.get("oid"), claims.get("tid")
        if not isinstance(oid, str) or not isinstance(tid, str) or not oid or not tid:
            raise SignInFailed("invalid_id_token", "The identity provider's ID token names no user or tenant.")
        if claims.get("aud") != self._settings.client_id:
            raise SignInFailed("invalid_id_token", "The ID token was issued to another application.")
        if claims.get("iss") != f"{self._settings.tenant_authority(tid)}/v2.0":
            raise SignInFailed("invalid_id_token", "The ID token's issuer is not the user's organisation.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time() - 300:
            raise SignInFailed("invalid_id_token", "The ID token has expired.")
        return tid

    async def access_token(self, user: SessionUser, scopes: list[str]) -> str:
        """An access token for ``scopes``: from the cache while valid, else redeemed silently with the refresh
        token (the refreshed cache is written back). SignInRequired when only a new sign-in can help.

        The refresh token is single-use (it rotates), and a page asks for several things at once: one request per
        user refreshes at a time in this process (the others then find its tokens), and a refusal is retried once
        on the cache as another process may just have rotated it. A failed attempt never writes its cache back
        (msal drops a refused refresh token, which would erase the other process's new one)."""
        lock = self._locks.get(user.account_key)
        if lock is None:
            lock = self._locks.setdefault(user.account_key, asyncio.Lock())
        async with lock:
            result = await self._silent(user, scopes)
            if result is not None and result.get("error") == "invalid_grant":
                result = await self._silent(user, scopes)
        if result is None:
            raise sign_in_required()
        if "access_token" not in result:
            if result.get("error") in ("invalid_grant", "interaction_required", "consent_required"):
                raise PortalError(401, "SignInRequired", "Your sign-in expired or was revoked. Sign in again. "
                                  f"({result.get('error_description', result['error'])})")
            raise PortalError(502, "IdentityProviderError", "The sign-in service refused to renew your access: "
                              f"{result.get('error_description', result.get('error'))}")
        return str(result["access_token"])

    async def _silent(self, user: SessionUser, scopes: list[str]) -> dict[str, Any] | None:
        cache = await self._tokens.load(user.account_key)

        def run() -> dict[str, Any] | None:
            app = self._app(self._settings.tenant_authority(user.tenant_id), cache)
            account = next((a for a in app.get_accounts() if a.get("home_account_id") == user.account_key), None)
            if account is None:
                return None
            found = app.acquire_token_silent_with_error([s for s in scopes if s not in _RESERVED], account)
            return dict(found) if found is not None else None
        result = await asyncio.to_thread(run)
        if result is not None and "access_token" in result:
            await self._tokens.save(user.account_key, user.tenant_id, cache)
        return result

    async def sign_out(self, user: SessionUser) -> str:
        """Forget the user's tokens here; the address that ends their session at the identity provider too."""
        await self._tokens.forget(user.account_key)
        query = urlencode({"post_logout_redirect_uri": f"{self._settings.redirect_base}/",
                           "client_id": self._settings.client_id})
        return f"{self._settings.tenant_authority(user.tenant_id)}/oauth2/v2.0/logout?{query}"

    def admin_consent_url(self, tenant: str, state: str) -> str:
        """The link a new customer organisation's administrator follows to consent for everyone in it."""
        query = urlencode({"client_id": self._settings.client_id, "redirect_uri": self._settings.redirect_uri,
                           "state": state})
        return f"{self._settings.authority_root}/{tenant}/adminconsent?{query}"
