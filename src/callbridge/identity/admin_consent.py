"""``/{tenant}/adminconsent``: a tenant administrator grants an app what it requires, for everyone."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from callbridge.directory.consent import grant_admin_consent
from callbridge.directory.redirect_uris import redirect_uri_registered
from callbridge.directory.values import FIRST_PARTY_RESOURCES, is_guid
from callbridge.identity import errors
from callbridge.identity.authority import PREFIX, Authority, resolve_authority
from callbridge.identity.context import IdentityContext
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
from callbridge.store.models import AppRegistration, Tenant, User

router = APIRouter(prefix=PREFIX, tags=["identity"])


@router.get("/adminconsent")
async def admin_consent(tenant: str, request: Request) -> Response:
    return await _handle(request, tenant, dict(request.query_params), None)


@router.post("/adminconsent")
async def admin_consent_post(tenant: str, request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, str(form.get("csrf", ""))):
        return message_page("Session expired", "This page expired. Open the admin consent link again.")
    return await _handle(request, tenant, dict(parse_qsl(str(form.get("request", "")))), form)


async def _handle(request: Request, segment: str, params: dict[str, str], form: Any) -> Response:
    ctx: IdentityContext = request.app.state.identity
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        found = await _find_app(s, segment, params)
    if isinstance(found, Response):
        return found
    authority, app = found
    page = _Page(ctx, request, app, params)
    action = str(form.get("action", "")) if form is not None else ""
    signed_in: User | None = None
    if action == "signin":  # checked holding no connection: see identity.signin
        try:
            signed_in = await check_password(ctx, str(form.get("username", "")), str(form.get("password", "")),
                                             request_address(ctx, request), now)
        except errors.OAuthError as exc:
            response = page.signin("Your account or password is incorrect." if exc.status != 429 else
                                   f"Too many failed sign-ins. Try again in {exc.retry_after_s} seconds.")
            response.headers.update(exc.headers())
            return response
    async with ctx.db.transaction() as s:
        session = {"sub": signed_in.id} if signed_in is not None else read_session(ctx, request, now)
        user = await s.get(User, session["sub"]) if session else None
        if user is None:
            return page.signin(None)
        response = await _after_sign_in(s, page, authority.tenant_id, user, action)
    if signed_in is not None:
        set_session(response, new_session(ctx, user.id, user.tenant_id, now), ctx.settings.session_lifetime_s)
    return response


async def _find_app(s: Any, segment: str, params: dict[str, str]) -> tuple[Authority, AppRegistration] | Response:
    try:
        authority = await resolve_authority(s, segment)
    except errors.OAuthError as exc:
        return message_page("Unknown tenant", exc.description, code=exc.aadsts)
    client_id = params.get("client_id", "")
    app = await s.get(AppRegistration, client_id.lower()) if is_guid(client_id) else None
    if app is None:
        return message_page("Application not found", f"Application with identifier '{client_id}' was not found.",
                            code=700016)
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is not None and not redirect_uri_registered(redirect_uri, app.redirect_uris):
        return message_page("Redirect URI mismatch", f"The redirect URI '{redirect_uri}' is not registered "
                            f"for {app.display_name}.", code=50011)
    return authority, app


async def _after_sign_in(s: Any, page: _Page, tenant_id: str | None, user: User, action: str) -> Response:
    tenant = await s.get(Tenant, user.tenant_id)
    if tenant_id is not None and tenant_id != user.tenant_id:
        return page.signin(f"{user.user_principal_name} is not in the organisation of this link.")
    if not user.is_tenant_admin:
        return message_page("Administrator needed", f"{user.user_principal_name} is not an administrator of "
                            f"{tenant.display_name}. Ask an administrator to open this link.", 403, 90094)
    if action == "cancel":
        return page.finish({"error": "access_denied", "error_description": "The administrator declined consent."},
                           tenant, granted=False)
    if action == "consent":
        try:
            await grant_admin_consent(s, tenant, page.app)
        except Exception as exc:  # the directory's one-line reason, shown in words
            return message_page("Consent failed", str(exc), 400)
        return page.finish({"admin_consent": "True", "tenant": tenant.id}, tenant, granted=True)
    return page.consent(tenant, user)


class _Page:
    def __init__(self, ctx: IdentityContext, request: Request, app: AppRegistration, params: dict[str, str]):
        self.ctx, self.request, self.app, self.params = ctx, request, app, params
        self.csrf = csrf_token(request)

    def _render(self, template: str, **values: Any) -> Response:
        response = render(template, request_query=urlencode(self.params), csrf=self.csrf,
                          action_url=str(self.request.url.path), app_name=self.app.display_name, **values)
        set_csrf(response, self.csrf)
        return response

    def signin(self, error: str | None) -> Response:
        return self._render("signin.html", title="Sign in", error=error, login_hint=None)

    def consent(self, tenant: Tenant, user: User) -> Response:
        names = [f"{FIRST_PARTY_RESOURCES.get(res, res)}/{p}" for res, perms in self.app.required_permissions.items()
                 for kind in ("delegated", "application") for p in perms.get(kind, [])]
        return self._render("consent.html", title="Permissions requested", scopes=describe(names),
                            user=user.user_principal_name, admin=True, tenant_name=tenant.display_name)

    def finish(self, result: dict[str, str], tenant: Tenant, granted: bool) -> Response:
        redirect_uri = self.params.get("redirect_uri")
        if redirect_uri:
            if "state" in self.params:
                result = {**result, "state": self.params["state"]}
            return RedirectResponse(f"{redirect_uri}?{urlencode(result)}", status_code=302)
        if granted:
            return message_page("Permissions granted", f"{self.app.display_name} may now be used by everyone in "
                                f"{tenant.display_name}.", 200)
        return message_page("Consent declined", f"{self.app.display_name} was not granted any permission.", 200)
