"""Communication users (``8:acs:<resource>_<guid>``): create, issue tokens with scopes, revoke, delete."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.acs import errors
from callbridge.acs import tokens as comm_tokens
from callbridge.acs.context import AcsContext
from callbridge.acs.exchange import Exchanged
from callbridge.store.models import CommunicationIdentity

SCOPES = ("chat", "voip", "chat.join", "chat.join.limited", "voip.join")
MIN_MINUTES, MAX_MINUTES = 60, 1440


def _scopes(value: Any, target: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v in SCOPES for v in value):
        raise errors.validation(f"{target} must be a non-empty list of: {', '.join(SCOPES)}.", target)
    return tuple(dict.fromkeys(value))


def _minutes(value: Any) -> int:
    if value is None:
        return MAX_MINUTES
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_MINUTES <= value <= MAX_MINUTES:
        raise errors.validation(f"ExpiresInMinutes must be between {MIN_MINUTES} and {MAX_MINUTES}.",
                                "expiresInMinutes")
    return value


async def _issue(ctx: AcsContext, identity: CommunicationIdentity, scopes: tuple[str, ...], minutes: int,
                 now: datetime) -> Exchanged:
    await ctx.ring.refresh_if_due(now)
    expires_at = (now + timedelta(minutes=minutes)).replace(microsecond=0)  # expiresOn == the JWT's exp
    token = comm_tokens.issue(ctx.ring, ctx.issuer, identity.id, identity.resource_id, scopes, now, expires_at)
    return Exchanged(token, expires_at)


async def create_identity(ctx: AcsContext, resource_id: str, body: Any) -> dict[str, Any]:
    body = body or {}
    if not isinstance(body, dict):
        raise errors.validation("The request body must be a JSON object.", "body")
    now = ctx.clock.now()
    identity = CommunicationIdentity(id=f"8:acs:{resource_id}_{uuid.uuid4()}", resource_id=resource_id, created_at=now)
    async with ctx.db.transaction() as s:
        s.add(identity)
    result: dict[str, Any] = {"identity": {"id": identity.id}}
    if body.get("createTokenWithScopes"):
        scopes = _scopes(body["createTokenWithScopes"], "createTokenWithScopes")
        minutes = _minutes(body.get("expiresInMinutes"))
        result["accessToken"] = (await _issue(ctx, identity, scopes, minutes, now)).body()
    return result


async def _owned(s: AsyncSession, resource_id: str, identity_id: str) -> CommunicationIdentity:
    """The identity, if it belongs to the resource whose key signed the request; else ACS's 404."""
    identity = await s.get(CommunicationIdentity, identity_id)
    if identity is None or identity.resource_id != resource_id:
        raise errors.not_found(f"Identity '{identity_id}' was not found.")
    return identity


async def issue_token(ctx: AcsContext, resource_id: str, identity_id: str, body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise errors.validation("The request body must be a JSON object.", "body")
    scopes = _scopes(body.get("scopes"), "scopes")
    minutes = _minutes(body.get("expiresInMinutes"))
    async with ctx.db.session() as s:
        identity = await _owned(s, resource_id, identity_id)
    return (await _issue(ctx, identity, scopes, minutes, ctx.clock.now())).body()


async def revoke_tokens(ctx: AcsContext, resource_id: str, identity_id: str) -> None:
    async with ctx.db.transaction() as s:
        (await _owned(s, resource_id, identity_id)).tokens_valid_from = ctx.clock.now()


async def delete_identity(ctx: AcsContext, resource_id: str, identity_id: str) -> None:
    async with ctx.db.transaction() as s:
        await s.delete(await _owned(s, resource_id, identity_id))
