"""``/graph/oidc/userinfo``: OpenID Connect's UserInfo endpoint, served where Entra serves it, on Graph
(``https://graph.microsoft.com/oidc/userinfo``), for a user's access token of Graph's audience.

It answers OIDC's standard claims, as Entra's does: ``sub`` (the same pairwise value as the app's ID token),
``name``, ``family_name``, ``given_name``, ``email`` and ``preferred_username`` (``picture`` is not served), in
plain JSON; errors are Graph's error body with ``WWW-Authenticate``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from callbridge.graph.auth import authenticate
from callbridge.graph.context import GraphContext
from callbridge.graph.errors import GraphError, new_request_id, unauthenticated
from callbridge.identity.minting import pairwise_sub
from callbridge.store.models import User

router = APIRouter(prefix="/graph/oidc", tags=["directory (Graph)"])


@router.get("/userinfo")
@router.post("/userinfo")
async def userinfo(request: Request) -> Response:
    ctx: GraphContext = request.app.state.graph
    request_id = new_request_id()
    try:
        claims = await _claims(ctx, request.headers.get("authorization"))
    except GraphError as exc:
        body = exc.body(request_id, request.headers.get("client-request-id"))
        return JSONResponse(body, status_code=exc.status, headers={"request-id": request_id, **exc.headers})
    return JSONResponse(claims, headers={"request-id": request_id, "Cache-Control": "no-store"})


async def _claims(ctx: GraphContext, authorization: str | None) -> dict[str, Any]:
    caller = await authenticate(authorization, ctx.ring, ctx.settings.public_base_url, ctx.clock.now())
    if caller.user_id is None:
        raise unauthenticated("The UserInfo endpoint needs a user's token (delegated), not an application's.")
    async with ctx.db.reading() as r:
        user = await r.get(User, caller.user_id)
    if user is None or not user.account_enabled:
        raise unauthenticated("The token's user no longer exists or is disabled.")
    found = {"sub": pairwise_sub(user.id, caller.app_id), "name": user.display_name,
             "family_name": user.surname, "given_name": user.given_name, "email": user.mail,
             "preferred_username": user.user_principal_name}
    return {k: v for k, v in found.items() if v}
