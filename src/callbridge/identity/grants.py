"""The token endpoint's grants: authorization_code (with PKCE), refresh_token (rotating), client_credentials
and, where the tenant allows it, password."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.apps import find_service_principal, secret_matches
from callbridge.directory.consent import granted_roles, granted_scopes
from callbridge.directory.redirect_uris import same_redirect_uri
from callbridge.directory.values import is_guid
from callbridge.identity import errors
from callbridge.identity.authority import Authority, resolve_authority
from callbridge.identity.context import IdentityContext
from callbridge.identity.minting import client_info, new_opaque_token, token_hash
from callbridge.identity.pkce import verifier_matches
from callbridge.identity.scopes import ADMIN_ONLY, ScopeError, ScopeRequest, parse_scopes
from callbridge.identity.signin import check_password
from callbridge.store.models import AppRegistration, AuthorizationCode, RefreshToken, Tenant, User


@dataclass(frozen=True)
class Client:
    app: AppRegistration
    public: bool


async def authenticate_client(s: AsyncSession, client_id: str | None, secret: str | None, now: datetime) -> Client:
    if not client_id or not is_guid(client_id):
        raise errors.invalid_request("The request body must contain the following parameter: 'client_id'.")
    app = await s.get(AppRegistration, client_id.lower())
    if app is None:
        raise errors.unauthorized_client(
            f"Application with identifier '{client_id}' was not found in the directory."
        )
    if secret is not None:
        if not secret_matches(app, secret, now):
            raise errors.invalid_client(f"Invalid client secret provided for application '{client_id}'.")
        return Client(app, public=False)
    if not app.allow_public_client:
        raise errors.invalid_client(
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
        )
    return Client(app, public=True)


def parse_scope_param(raw: str | None) -> ScopeRequest:
    try:
        return parse_scopes(raw or "")
    except ScopeError as exc:
        raise errors.OAuthError(exc.error, str(exc).split(": ", 1)[-1], exc.aadsts) from None


async def token_request(ctx: IdentityContext, segment: str, form: dict[str, str], secret: str | None,
                        address: str) -> dict[str, Any]:
    now = ctx.clock.now()
    grant = form.get("grant_type")
    if grant == "password":
        return await _password(ctx, segment, form, secret, address, now)
    if grant in ("authorization_code", "refresh_token"):
        # Codes and refresh tokens are spent in a transaction of their own, so a failed redemption still spends them.
        consumed = await _spend(ctx, grant, form, segment, now)
    async with ctx.db.transaction() as s:
        authority = await resolve_authority(s, segment)
        client = await authenticate_client(s, form.get("client_id"), secret, now)
        if grant == "authorization_code":
            return await _authorization_code(ctx, s, client, consumed, form, now)
        if grant == "refresh_token":
            return await _refresh_token(ctx, s, authority, client, consumed, form, now)
        if grant == "client_credentials":
            return await _client_credentials(ctx, s, authority, client, form, now)
    raise errors.OAuthError(
        "unsupported_grant_type", "The provided value for the input parameter 'grant_type' is not valid.", 70003
    )


async def _check_refresh_tenant(s: AsyncSession, segment: str, digest: str) -> None:
    """A refresh token sent to another tenant's authority is refused unspent: MSAL tries an account's refresh token
    at whichever authority it is asked for, and that mistake must not cost the token's family."""
    authority = await resolve_authority(s, segment)
    stored = await s.get(RefreshToken, digest)
    if stored is not None and not authority.admits(stored.tenant_id):
        raise errors.invalid_grant("The refresh token was issued for another tenant.", 50020)


async def _spend(ctx: IdentityContext, grant: str, form: dict[str, str], segment: str, now: datetime) -> Any:
    async with ctx.db.transaction() as s:
        if grant == "authorization_code":
            digest = token_hash(form.get("code", ""))
            spent = await s.execute(update(AuthorizationCode).where(
                AuthorizationCode.code_hash == digest, AuthorizationCode.used.is_(False),
                AuthorizationCode.expires_at > now).values(used=True))
            code = await s.get(AuthorizationCode, digest) if spent.rowcount == 1 else None  # type: ignore[attr-defined]
            if code is None:
                raise errors.invalid_grant(
                    "The provided authorization code or refresh token has expired or was already used.", 54005)
            return code
        digest = token_hash(form.get("refresh_token", ""))
        await _check_refresh_tenant(s, segment, digest)
        spent = await s.execute(update(RefreshToken).where(
            RefreshToken.token_hash == digest, RefreshToken.used_at.is_(None), RefreshToken.revoked.is_(False),
            RefreshToken.expires_at > now).values(used_at=now))
        stored = await s.get(RefreshToken, digest)
        if spent.rowcount == 1 and stored is not None:  # type: ignore[attr-defined]
            return stored
        if stored is not None and stored.used_at is not None:
            # A rotated token came back: someone holds a copy. End the whole family.
            await s.execute(update(RefreshToken).where(RefreshToken.family_id == stored.family_id)
                            .values(revoked=True))
    raise errors.invalid_grant("The refresh token has expired, was revoked or was already used.", 70008)


async def _authorization_code(
    ctx: IdentityContext, s: AsyncSession, client: Client, code: AuthorizationCode, form: dict[str, str],
    now: datetime
) -> dict[str, Any]:
    if code.client_id != client.app.client_id:
        raise errors.invalid_grant("The authorization code was issued to a different client.", 70000)
    if not same_redirect_uri(form.get("redirect_uri"), code.redirect_uri):
        raise errors.invalid_grant("The reply URL does not match the one used to get the authorization code.", 50011)
    if code.code_challenge is None and client.public:
        raise errors.invalid_grant("Proof Key for Code Exchange is required for public clients.", 9002325)
    if code.code_challenge and not verifier_matches(form.get("code_verifier"), code.code_challenge):
        raise errors.invalid_grant("The code_verifier does not match the code_challenge supplied in the "
                                   "authorization request for PKCE.", 501481)
    user = await _active_user(s, code.user_id)
    # The OpenID scopes the user signed in for (openid, offline_access...) hold whatever scope the redemption
    # names, as on Entra: azure-identity redeems with the resource's scopes only and expects its refresh token.
    request = parse_scope_param(form.get("scope") or code.scopes)
    request = replace(request, oidc=request.oidc | parse_scope_param(code.scopes).oidc)
    return await issue_for_user(ctx, s, user, client, request, code.nonce, code.auth_time, None, now,
                                want_client_info=form.get("client_info") == "1")


async def _refresh_token(
    ctx: IdentityContext, s: AsyncSession, authority: Authority, client: Client, stored: RefreshToken,
    form: dict[str, str], now: datetime
) -> dict[str, Any]:
    if stored.client_id != client.app.client_id:
        raise errors.invalid_grant("The refresh token was issued to a different client.", 700005)
    if not authority.admits(stored.tenant_id):
        raise errors.invalid_grant("The refresh token was issued for another tenant.", 50020)
    user = await _active_user(s, stored.user_id)
    request = parse_scope_param(form.get("scope") or stored.scopes)
    return await issue_for_user(ctx, s, user, client, request, None, stored.auth_time, stored.family_id, now,
                                want_client_info=form.get("client_info") == "1")


async def _client_credentials(
    ctx: IdentityContext, s: AsyncSession, authority: Authority, client: Client, form: dict[str, str], now: datetime
) -> dict[str, Any]:
    if client.public:
        raise errors.invalid_client("The client_credentials grant needs a client secret.", 7000218)
    if authority.tenant_id is None:
        raise errors.invalid_request("Use a tenant-specific endpoint for the client_credentials grant.", 700016)
    request = parse_scope_param(form.get("scope"))
    if not request.default or request.oidc:
        raise errors.OAuthError("invalid_scope", "The provided value for the input parameter 'scope' is not valid. "
                                "The scope must be of the form '<resource>/.default'.", 1002012)
    sp = await find_service_principal(s, authority.tenant_id, client.app.client_id)
    if sp is None:
        raise errors.unauthorized_client(
            f"Application with identifier '{client.app.client_id}' was not found in the directory "
            f"'{authority.tenant_id}'. The tenant's administrator has not consented to it.", 700016)
    roles = await granted_roles(s, authority.tenant_id, client.app.client_id, request.resource_app_id)
    minted = ctx.minter.app_access_token(sp, client.app, request.resource_app_id, roles, now)
    lifetime = int((minted.expires_at - now).total_seconds())
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": minted.token}


async def _password(
    ctx: IdentityContext, segment: str, form: dict[str, str], secret: str | None, address: str, now: datetime
) -> dict[str, Any]:
    async with ctx.db.session() as s:
        authority = await resolve_authority(s, segment)
        client = await authenticate_client(s, form.get("client_id"), secret, now)
    # The password is checked holding no connection (see identity.signin), then the token made in a transaction.
    signed_in = await check_password(ctx, form.get("username", ""), form.get("password", ""), address, now)
    async with ctx.db.transaction() as s:
        user = await _active_user(s, signed_in.id)
        tenant = await s.get(Tenant, user.tenant_id)
        assert tenant is not None
        if not tenant.password_grant_enabled:
            raise errors.OAuthError("invalid_grant", "The password grant is turned off for this tenant.", 7000218)
        if not authority.admits(user.tenant_id):
            raise errors.invalid_grant("User account does not exist in the tenant of this authority.", 50020)
        _check_app_usable(client.app, tenant)
        request = parse_scope_param(form.get("scope"))
        return await issue_for_user(ctx, s, user, client, request, None, now, None, now,
                                    want_client_info=form.get("client_info") == "1")


def _check_app_usable(app: AppRegistration, tenant: Tenant) -> None:
    if not app.multi_tenant and app.tenant_id != tenant.id:
        raise errors.unauthorized_client(
            f"Application with identifier '{app.client_id}' was not found in the directory '{tenant.display_name}'."
        )


async def _active_user(s: AsyncSession, user_id: str) -> User:
    user = await s.get(User, user_id)
    if user is None or not user.account_enabled:
        raise errors.invalid_grant("The user account is disabled or was deleted.", 50057)
    return user


async def consented(s: AsyncSession, user: User, client_id: str, request: ScopeRequest) -> tuple[set[str], set[str]]:
    """(scopes the token may carry, requested scopes still lacking consent). Admin-only permissions count only
    from an admin consent, whatever a user's own grant says."""
    granted = await granted_scopes(s, user.tenant_id, client_id, request.resource_app_id, user.id)
    admin_only = ADMIN_ONLY[request.resource_app_id]
    if granted & admin_only:
        by_admin = await granted_scopes(s, user.tenant_id, client_id, request.resource_app_id, None)
        granted = (granted - admin_only) | (by_admin & admin_only)
    if request.default:
        return granted, set() if granted else {".default"}
    return set(request.permissions & granted), set(request.permissions - granted)


async def issue_for_user(
    ctx: IdentityContext, s: AsyncSession, user: User, client: Client, request: ScopeRequest,
    nonce: str | None, auth_time: datetime, family_id: str | None, now: datetime, *, want_client_info: bool
) -> dict[str, Any]:
    scopes, missing = await consented(s, user, client.app.client_id, request)
    if missing:
        raise errors.consent_required(
            f"The user or administrator has not consented to use the application with ID "
            f"'{client.app.client_id}'. Send an interactive authorization request for this user and resource."
        )
    access = ctx.minter.user_access_token(user, client.app, request.resource_app_id, scopes, client.public, now)
    lifetime = int((access.expires_at - now).total_seconds())
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(request.spelled(scopes) + sorted(request.oidc - {"offline_access"})),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access.token,
    }
    if "offline_access" in request.oidc or family_id is not None:
        body["refresh_token"] = _new_refresh_token(ctx, s, user, client, request, auth_time, family_id, now)
    if "openid" in request.oidc:
        body["id_token"] = ctx.minter.id_token(user, client.app.client_id, nonce, auth_time, request.oidc, now).token
    if want_client_info:
        body["client_info"] = client_info(user)
    return body


def _new_refresh_token(ctx: IdentityContext, s: AsyncSession, user: User, client: Client, request: ScopeRequest,
                       auth_time: datetime, family_id: str | None, now: datetime) -> str:
    value = new_opaque_token()
    raw_scopes = " ".join(request.spelled(request.permissions) + sorted(request.oidc)) if not request.default else \
        f"{request.resource_uri}/.default {' '.join(sorted(request.oidc))}"
    s.add(RefreshToken(
        token_hash=token_hash(value), family_id=family_id or str(uuid.uuid4()), client_id=client.app.client_id,
        tenant_id=user.tenant_id, user_id=user.id, scopes=raw_scopes.strip(), auth_time=auth_time, created_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.refresh_token_lifetime_s),
    ))
    return value
