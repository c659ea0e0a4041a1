"""HTTP routes of the identity provider under ``/{tenant}`` (the authority), shaped like Entra ID v2."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from callbridge.directory.consent import grant_user_consent
from callbridge.identity import errors
from callbridge.identity.authority import PREFIX, Authority, openid_configuration, resolve_authority
from callbridge.identity.authorize import (
    AuthorizeRequest,
    PageError,
    RedirectableError,
    new_code,
    parse_authorize,
)
from callbridge.identity.context import IdentityContext
from callbridge.identity.grants import consented, token_request
from callbridge.identity.logout import router as logout_router
from callbridge.identity.pages import (
    csrf_ok,
    csrf_token,
    describe,
    message_page,
    new_session,
    read_session,
    render,
    set_csrf,
    set_session,
)
from callbridge.identity.signin import check_password, request_address
from callbridge.store.models import Tenant, User

router = APIRouter(prefix=PREFIX, tags=["identity"])


def _ctx(request: Request) -> IdentityContext:
    ctx: IdentityContext = request.app.state.identity
    return ctx


@router.get("/v2.0/.well-known/openid-configuration")
async def discovery(tenant: str, request: Request) -> Response:
    ctx = _ctx(request)
    try:
        async with ctx.db.session() as s:
            authority = await resolve_authority(s, tenant)
    except errors.OAuthError as exc:
        return JSONResponse(exc.body(), status_code=400)
    return JSONResponse(openid_configuration(ctx.base_url, authority))


@router.get("/discovery/v2.0/keys")
@router.get("/discovery/keys")
async def jwks(tenant: str, request: Request) -> Response:
    ctx = _ctx(request)
    await ctx.ring.refresh_if_due(ctx.clock.now())
    keys = [k.public_jwk() for k in ctx.ring.published(ctx.clock.now())]
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})


@router.post("/oauth2/v2.0/token")
async def token(tenant: str, request: Request) -> Response:
    ctx = _ctx(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    await ctx.ring.refresh_if_due(ctx.clock.now())
    try:
        secret = _client_secret(request, form)
        body = await token_request(ctx, tenant, form, secret, request_address(ctx, request))
    except errors.OAuthError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers={"Cache-Control": "no-store", **exc.headers()})
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _client_secret(request: Request, form: dict[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.invalid_client("The Authorization header is malformed.") from None
        form.setdefault("client_id", unquote(client_id))
        return unquote(secret)
    return form.get("client_secret")


@router.get("/oauth2/v2.0/authorize")
async def authorize(tenant: str, request: Request) -> Response:
    ctx = _ctx(request)
    params = dict(request.query_params)
    return await _authorize(ctx, request, tenant, params, None)


@router.post("/oauth2/v2.0/authorize")
async def authorize_post(tenant: str, request: Request) -> Response:
    ctx = _ctx(request)
    form = await request.form()
    params = dict(parse_qsl(str(form.get("request", ""))))
    if not csrf_ok(request, str(form.get("csrf", ""))):
        return message_page("Session expired", "Your sign-in page expired. Go back to the app and start again.")
    return await _authorize(ctx, request, tenant, params, form)


async def _authorize(ctx: IdentityContext, request: Request, segment: str, params: dict[str, str],
                     form: Any) -> Response:
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        parsed = await _parse(s, segment, params)
    if isinstance(parsed, Response):
        return parsed
    authority, areq = parsed
    action = str(form.get("action", "")) if form is not None else ""
    if action == "cancel":
        return _redirect(areq, areq.error_redirect(errors.OAuthError(
            "access_denied", "The user has declined to consent to access the app.", 65004)))
    signed_in: User | None = None
    if action == "signin":  # checked holding no connection: see identity.signin
        try:
            signed_in = await check_password(ctx, str(form.get("username", "")), str(form.get("password", "")),
                                             request_address(ctx, request), now)
        except errors.OAuthError as exc:
            return _Flow(ctx, request, None, authority, areq, params, now).signin_failed(exc)
    async with ctx.db.transaction() as s:
        flow = _Flow(ctx, request, s, authority, areq, params, now)
        if signed_in is not None:
            return await flow.signed_in(signed_in.id)
        return await flow.resume(consenting=action == "consent")


async def _parse(s: Any, segment: str, params: dict[str, str]) -> tuple[Authority, AuthorizeRequest] | Response:
    """The authority and the request, or the page or redirect that answers a bad one."""
    try:
        return await resolve_authority(s, segment), await parse_authorize(s, params)
    except errors.OAuthError as exc:
        return message_page("Unknown tenant", exc.description, code=exc.aadsts)
    except PageError as exc:
        return message_page(exc.title, str(exc), code=exc.aadsts)
    except RedirectableError as exc:
        return _redirect(exc.request, exc.request.error_redirect(exc.error))


class _Flow:
    """One pass of the authorize endpoint for one request."""

    def __init__(self, ctx: IdentityContext, request: Request, s: Any, authority: Authority,
                 areq: AuthorizeRequest, params: dict[str, str], now: datetime) -> None:
        self.ctx, self.request, self.s, self.authority, self.areq = ctx, request, s, authority, areq
        self.params, self.now = params, now
        self.csrf = csrf_token(request)
        self.query = urlencode(params)

    def _page(self, template: str, status: int = 200, **values: Any) -> Response:
        response = render(template, status, request_query=self.query, csrf=self.csrf,
                          action_url=str(self.request.url.path), app_name=self.areq.app.display_name,
                          login_hint=self.areq.login_hint, **values)
        set_csrf(response, self.csrf)
        return response

    def signin_page(self, error: str | None = None, status: int = 200) -> Response:
        return self._page("signin.html", status, title="Sign in", error=error)

    def signin_failed(self, exc: errors.OAuthError) -> Response:
        response = self.signin_page(_signin_message(exc), status=exc.status if exc.status == 429 else 200)
        response.headers.update(exc.headers())
        return response

    async def signed_in(self, user_id: str) -> Response:
        user = await self.s.get(User, user_id)
        response = await self._continue(user, self.now, consenting=False)
        cookie = new_session(self.ctx, user.id, user.tenant_id, self.now)
        set_session(response, cookie, self.ctx.settings.session_lifetime_s)
        return response

    async def resume(self, consenting: bool) -> Response:
        session = read_session(self.ctx, self.request, self.now)
        user = await self.s.get(User, session["sub"]) if session else None
        forced = self.areq.prompt in ("login", "select_account") and not consenting
        if session is None or user is None or not user.account_enabled or forced:
            if self.areq.prompt == "none":
                return _redirect(self.areq, self.areq.error_redirect(errors.OAuthError(
                    "login_required", "The user is not signed in.", 50058)))
            return self.signin_page()
        auth_time = datetime.fromtimestamp(session["auth_time"], UTC)
        return await self._continue(user, auth_time, consenting)

    async def _continue(self, user: User, auth_time: datetime, consenting: bool) -> Response:
        tenant = await self.s.get(Tenant, user.tenant_id)
        if not self.authority.admits(user.tenant_id):
            return self.signin_page(f"{user.user_principal_name} is not in the organisation of this sign-in page. "
                                    "Use an account of that organisation.")
        if not self.areq.app.multi_tenant and self.areq.app.tenant_id != user.tenant_id:
            return message_page("App not available", f"{self.areq.app.display_name} is not available to accounts "
                                f"of {tenant.display_name}.", code=700016)
        _, missing = await consented(self.s, user, self.areq.app.client_id, self.areq.scope)
        needs_admin = not tenant.user_consent_allowed or bool(missing & self.areq.scope.admin_only)
        if consenting and missing and not self.areq.scope.default:
            if needs_admin:
                return self._admin_approval_needed()
            await grant_user_consent(self.s, user, self.areq.app.client_id, self.areq.scope.resource_app_id,
                                     sorted(self.areq.scope.permissions))
            missing = set()
        if missing or (self.areq.prompt == "consent" and not consenting):
            if self.areq.prompt == "none":
                return _redirect(self.areq, self.areq.error_redirect(errors.OAuthError(
                    "consent_required", "The user or administrator has not consented to use the application.",
                    65001)))
            if needs_admin or self.areq.scope.default:
                return self._admin_approval_needed()
            names = self.areq.scope.spelled(self.areq.scope.permissions) + sorted(self.areq.scope.oidc)
            return self._page("consent.html", title="Permissions requested", scopes=describe(names),
                              user=user.user_principal_name, admin=False)
        return _redirect(self.areq, self.areq.redirect(self._answer(user, auth_time)))

    def _answer(self, user: User, auth_time: datetime) -> dict[str, str]:
        """The code, the ID token or both, as the response type asks."""
        answer: dict[str, str] = {}
        code = None
        if "code" in self.areq.response_type:
            code = new_code(self.s, self.areq, user, auth_time, self.now, self.ctx.settings.auth_code_lifetime_s)
            answer["code"] = code
        if "id_token" in self.areq.response_type:
            answer["id_token"] = self.ctx.minter.id_token(user, self.areq.app.client_id, self.areq.nonce, auth_time,
                                                          self.areq.scope.oidc, self.now, code=code).token
        return answer

    def _admin_approval_needed(self) -> Response:
        return message_page("Need admin approval", f"{self.areq.app.display_name} needs permission to access "
                            "resources in your organisation that only an administrator can grant. Ask an "
                            "administrator to grant permission to this app before you can use it.", 403, 90094)


def _signin_message(exc: errors.OAuthError) -> str:
    if exc.aadsts == 50053:
        return ("Your account is temporarily locked after too many failed sign-ins. "
                f"Try again in {exc.retry_after_s} seconds.")
    if exc.aadsts == 50057:
        return "Your account has been disabled. Contact your administrator."
    if exc.aadsts == 900144:
        return "Enter your user name and password."
    return "Your account or password is incorrect."


def _redirect(areq: AuthorizeRequest, location: str) -> Response:
    if areq.response_mode == "form_post":
        base, _, query = location.partition("?")
        return render("form_post.html", action=base, fields=dict(parse_qsl(query)))
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


# The form_post page posts itself with a script of its own address (no inline script: the edge's Content Security
# Policy needs no hash or 'unsafe-inline' for it), or with its button where scripts are off.
FORM_POST_SCRIPT = "document.forms[0].submit();\n"


@router.get("/oauth2/v2.0/form_post.js", include_in_schema=False)
async def form_post_script(tenant: str) -> Response:
    return Response(FORM_POST_SCRIPT, media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


router.include_router(logout_router)
