"""``/{tenant}/oauth2/v2.0/logout``: sign-out (OpenID Connect RP-Initiated Logout), as on Entra.

The sign-in session (its cookie) ends in every case. The browser goes back to ``post_logout_redirect_uri`` only
when it is one of the app's registered redirect URIs (the one comparison of directory.redirect_uris), the app
named by ``client_id`` or by the audience of ``id_token_hint`` (signed by this provider, for this tenant; an
expired one is accepted, as a sign-out comes long after sign-in), with ``state`` echoed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from callbridge.directory.redirect_uris import redirect_uri_registered
from callbridge.directory.values import is_guid
from callbridge.identity import errors
from callbridge.identity.authority import Authority, issuer, resolve_authority
from callbridge.identity.context import IdentityContext
from callbridge.identity.pages import end_session, message_page
from callbridge.identity.tokens import Expectation, TokenInvalid, verify
from callbridge.store.models import AppRegistration

router = APIRouter()


class LogoutError(Exception):
    """A sign-out request that names no app, an unknown one, or an address the app did not register."""

    def __init__(self, title: str, message: str, aadsts: int) -> None:
        super().__init__(message)
        self.title, self.aadsts = title, aadsts


@router.get("/oauth2/v2.0/logout")
async def logout(tenant: str, request: Request) -> Response:
    return await _logout(request, tenant, dict(request.query_params))


@router.post("/oauth2/v2.0/logout")
async def logout_post(tenant: str, request: Request) -> Response:
    form = await request.form()
    return await _logout(request, tenant, {k: v for k, v in form.items() if isinstance(v, str)})


async def _logout(request: Request, segment: str, params: dict[str, str]) -> Response:
    ctx: IdentityContext = request.app.state.identity
    try:
        response = await _answer(ctx, segment, params)
    except errors.OAuthError as exc:
        response = message_page("Unknown tenant", exc.description, code=exc.aadsts)
    except LogoutError as exc:
        response = message_page(exc.title, str(exc), code=exc.aadsts)
    end_session(response)
    return response


async def _answer(ctx: IdentityContext, segment: str, params: dict[str, str]) -> Response:
    async with ctx.db.session() as s:
        authority = await resolve_authority(s, segment)
        client_id = _client_id(ctx, authority, params)
        app = await s.get(AppRegistration, client_id.lower()) if client_id and is_guid(client_id) else None
    target = params.get("post_logout_redirect_uri")
    if not target:
        return message_page("You signed out", "You signed out of your account. Close all browser windows.", 200)
    if app is None:
        raise LogoutError("Application not found", f"Application with identifier '{client_id or ''}' was not found "
                          "in the directory: send client_id or id_token_hint with post_logout_redirect_uri.", 700016)
    if not redirect_uri_registered(target, app.redirect_uris):
        raise LogoutError("Redirect URI mismatch", f"The post_logout_redirect_uri '{target}' does not match the "
                          f"redirect URIs configured for the application '{app.client_id}'.", 50011)
    if "state" in params:
        target = f"{target}{'&' if '?' in target else '?'}{urlencode({'state': params['state']})}"
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


def _client_id(ctx: IdentityContext, authority: Authority, params: dict[str, str]) -> str | None:
    """``client_id``, or the audience of a valid ``id_token_hint`` (they must agree when both are sent)."""
    hint = params.get("id_token_hint")
    if not hint:
        return params.get("client_id")
    claims = _hint_claims(ctx, hint)
    tid = claims.get("tid")
    if not isinstance(tid, str) or not authority.admits(tid) or claims.get("iss") != issuer(ctx.base_url, tid):
        raise LogoutError("Sign-out failed", "The id_token_hint was issued for another tenant.", 50020)
    audience = str(claims.get("aud"))
    if params.get("client_id") and params["client_id"].lower() != audience.lower():
        raise LogoutError("Sign-out failed", "The id_token_hint was issued to another application than client_id.",
                          700005)
    return audience


def _hint_claims(ctx: IdentityContext, hint: str) -> dict[str, Any]:
    try:
        audience = jwt.decode(hint, options={"verify_signature": False}).get("aud")
        expect = Expectation(frozenset({audience}) if isinstance(audience, str) else frozenset(), lifetime=False)
        return verify(hint, ctx.ring, expect, ctx.clock.now())
    except (jwt.PyJWTError, TokenInvalid):
        raise LogoutError("Sign-out failed", "The id_token_hint is not a valid ID token of this provider.",
                          90009) from None
