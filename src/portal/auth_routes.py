"""Sign-in, sign-out and onboarding: ``/signin`` starts msal's auth code flow (PKCE) and keeps it in a signed
cookie; ``/auth/callback`` redeems the code (or ends an admin consent); ``POST /signout`` forgets the user's tokens
and ends the identity provider's session too; ``/onboard`` sends a new organisation's administrator to consent."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from portal import pages
from portal.bootstrap import Portal
from portal.cookies import FLOW, SESSION, clear_cookie, session_user, session_value, set_cookie
from portal.signin import SignInFailed

router = APIRouter()
CALLBACK = "/auth/callback"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


@router.get("/")
async def home(request: Request) -> Response:
    portal = portal_of(request)
    signed_in = session_user(portal.signer, request, portal.settings.session_lifetime_s) is not None
    return pages.shell(portal.settings, signed_in)


@router.get("/signin")
async def sign_in(request: Request, login_hint: str | None = None) -> Response:
    portal = portal_of(request)
    flow = await portal.identity.start(login_hint)
    response = RedirectResponse(str(flow.pop("auth_uri")), status_code=302, headers={"Cache-Control": "no-store"})
    set_cookie(response, FLOW, portal.signer.sign(FLOW, {"kind": "signin", "flow": flow}),
               portal.settings.signin_flow_lifetime_s, path=CALLBACK)
    return response


@router.get("/onboard")
async def onboard(request: Request, tenant: str = "organizations") -> Response:
    """The admin-consent link: a new customer organisation's administrator grants the portal what it needs."""
    portal = portal_of(request)
    if not tenant.replace("-", "").replace(".", "").isalnum():
        return pages.message("Onboarding", "That is not an organisation's domain or id.", 400)
    state = secrets.token_urlsafe(16)
    response = RedirectResponse(portal.identity.admin_consent_url(tenant, state), status_code=302)
    set_cookie(response, FLOW, portal.signer.sign(FLOW, {"kind": "consent", "state": state}),
               portal.settings.signin_flow_lifetime_s, path=CALLBACK)
    return response


@router.get(CALLBACK)
async def callback(request: Request) -> Response:
    portal = portal_of(request)
    params = dict(request.query_params)
    started = portal.signer.verify(FLOW, request.cookies.get(FLOW), portal.settings.signin_flow_lifetime_s)
    if started is None:
        return pages.message("Sign-in expired", "This sign-in took too long or was started elsewhere. Sign in again.",
                             400, ("/signin", "Sign in"))
    if started.get("kind") == "consent":
        response = _consented(started, params)
    else:
        response = await _signed_in(portal, started.get("flow") or {}, params)
    clear_cookie(response, FLOW, path=CALLBACK)
    return response


def _consented(started: dict[str, Any], params: dict[str, str]) -> Response:
    if params.get("state") != started.get("state"):
        return pages.message("Onboarding failed", "The consent answer did not match this browser's request.", 400)
    if params.get("admin_consent", "").lower() != "true":
        why = params.get("error_description") or params.get("error") or "the administrator did not consent"
        return pages.message("Onboarding not completed", f"Your organisation was not onboarded: {why}.", 400)
    return pages.message("Your organisation is onboarded",
                         "Your administrator granted Contoso Calling its permissions. Everyone in your organisation "
                         "can sign in now.", 200, ("/signin", "Sign in"))


async def _signed_in(portal: Portal, flow: dict[str, Any], params: dict[str, str]) -> Response:
    if "error" in params:
        return pages.message("Sign-in not completed",
                             f"The sign-in service said: {params.get('error_description') or params['error']}", 400,
                             ("/signin", "Try again"))
    try:
        done = await portal.identity.finish(flow, params)
    except SignInFailed as exc:
        return pages.message("Sign-in failed", f"The sign-in could not be completed: {exc.description or exc.error}",
                             400, ("/signin", "Try again"))
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
    set_cookie(response, SESSION, portal.signer.sign(SESSION, session_value(done.user)),
               portal.settings.session_lifetime_s)
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    portal = portal_of(request)
    user = session_user(portal.signer, request, portal.settings.session_lifetime_s)
    target = await portal.identity.sign_out(user) if user is not None else "/"
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    clear_cookie(response, SESSION)
    return response
