"""Exchange of an organisation (Entra-shaped) access token for a communication token of ``8:orgid:<oid>``.

Checks, in the order ACS answers them: the body's fields, the token's signature, lifetime, audience and issuer,
both Teams scopes, ``appid`` == appId, ``oid`` == userId, the user, the tenant's consent to the app and the
tenant's interop setting. The communication token expires exactly when the organisation token does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select

from callbridge.acs import errors
from callbridge.acs import tokens as comm_tokens
from callbridge.acs.context import AcsContext
from callbridge.directory.values import COMMUNICATION_APP_ID, COMMUNICATION_RESOURCE_URI, TEAMS_SCOPES, is_guid
from callbridge.identity.authority import issuer
from callbridge.identity.tokens import Expectation, TokenInvalid, verify_fresh
from callbridge.store.models import ConsentGrant, Tenant, User

ACCEPTED_AUDIENCES = frozenset({COMMUNICATION_APP_ID, COMMUNICATION_RESOURCE_URI})


@dataclass(frozen=True)
class Exchanged:
    token: str
    expires_at: datetime

    def body(self) -> dict[str, str]:
        return {"token": self.token, "expiresOn": comm_tokens.expires_on(self.expires_at)}


def _required_guid(body: dict[str, Any], field: str, label: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise errors.validation(f"{label}: The {label} field is required.", label)
    if not is_guid(value):
        raise errors.validation(f"Provided {label} has invalid format.", field)
    return value.lower()


def validate_body(body: Any) -> tuple[str, str, str]:
    if not isinstance(body, dict):
        raise errors.validation("The request body must be a JSON object with token, appId and userId.", "body")
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise errors.invalid_access_token()
    return token, _required_guid(body, "appId", "AppId"), _required_guid(body, "userId", "UserId")


async def verify_organisation_token(ctx: AcsContext, token: str, now: datetime) -> dict[str, Any]:
    try:
        claims = await verify_fresh(token, ctx.idp_ring, Expectation(ACCEPTED_AUDIENCES), now)
    except TokenInvalid:
        raise errors.invalid_access_token() from None
    tid = claims.get("tid")
    if not isinstance(tid, str) or not is_guid(tid) or claims.get("iss") != issuer(ctx.settings.public_base_url, tid):
        raise errors.invalid_access_token()
    scopes = set(str(claims.get("scp", "")).split())
    lacking = [s for s in TEAMS_SCOPES if s not in scopes]
    if lacking:
        raise errors.invalid_access_token(
            f"Provided access token is not valid: it lacks the delegated scope {', '.join(lacking)}."
        )
    return claims


_STATE_QUERY = (
    select(User.account_enabled, Tenant.acs_interop_enabled, ConsentGrant.scopes)
    .join(Tenant, Tenant.id == User.tenant_id)
    .outerjoin(ConsentGrant, and_(
        ConsentGrant.tenant_id == User.tenant_id, ConsentGrant.client_id == bindparam("app_id"),
        ConsentGrant.resource_app_id == COMMUNICATION_APP_ID,
        or_(ConsentGrant.principal_id.is_(None), ConsentGrant.principal_id == User.id)))
    .where(User.id == bindparam("user_id"), User.tenant_id == bindparam("tenant_id"))
)


@dataclass(frozen=True)
class _DirectoryState:
    enabled: bool
    interop: bool
    consented: frozenset[str]


async def _directory_state(ctx: AcsContext, tenant_id: str, user_id: str, app_id: str) -> _DirectoryState | None:
    """The user, their tenant's setting and the consent grants, in one round trip (this is the hot path)."""
    rows = await ctx.db.fetch_all(_STATE_QUERY, {"user_id": user_id, "tenant_id": tenant_id, "app_id": app_id})
    if not rows:
        return None
    scopes = frozenset(scope for row in rows for scope in (row.scopes or "").split())
    return _DirectoryState(bool(rows[0].account_enabled), bool(rows[0].acs_interop_enabled), scopes)


async def exchange(ctx: AcsContext, body: Any, resource_id: str) -> Exchanged:
    now = ctx.clock.now()
    token, app_id, user_id = validate_body(body)
    claims = await verify_organisation_token(ctx, token, now)
    if str(claims.get("appid", claims.get("azp", ""))).lower() != app_id:
        raise errors.validation("AAD application is not the expected one.", "appId")
    if str(claims.get("oid", "")).lower() != user_id:
        raise errors.validation("Provided AAD token issued for unexpected user.", "userId")
    tenant_id = str(claims["tid"])
    state = await _directory_state(ctx, tenant_id, user_id, app_id)
    if state is None or not state.enabled:
        raise errors.invalid_access_token("Provided access token is not valid: the user is disabled or gone.")
    if not set(TEAMS_SCOPES) <= state.consented:
        raise errors.forbidden(f"Tenant {tenant_id} has not consented to application {app_id} using "
                               "Teams.ManageCalls and Teams.ManageChats.")
    if not state.interop:
        raise errors.forbidden(f"Teams interoperability with Communication Services is turned off for tenant "
                               f"{tenant_id}.")
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    await ctx.ring.refresh_if_due(now)
    signed = comm_tokens.issue(ctx.ring, ctx.issuer, f"8:orgid:{user_id}", resource_id, ("voip", "chat"), now,
                               expires_at, tenant_id=tenant_id)
    return Exchanged(signed, expires_at)
