"""HTTP routes at the root of the endpoint, as ``{resource}.communication.azure.com`` serves them (``/identities``,
``/teamsUser/...``): every request is signed with a resource's access key (HMAC-SHA256) and names a supported
``api-version``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from callbridge.acs import errors, hmac_auth, identities
from callbridge.acs.context import AcsContext
from callbridge.acs.exchange import exchange
from callbridge.json_body import JsonRejected, read_json

router = APIRouter(tags=["communication identity"])

API_VERSIONS = ("2021-03-07", "2021-10-31-preview", "2022-06-01", "2022-10-01", "2023-08-01", "2023-10-01",
                "2025-06-30")
EXCHANGE_VERSIONS = tuple(v for v in API_VERSIONS if v >= "2022-06-01")


async def _authenticated(ctx: AcsContext, request: Request) -> tuple[str, bytes]:
    """The id of the resource whose key signed the request, and the body: read only once the signature over the
    headers (the body's hash among them) holds."""
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    paths = [p + (f"?{query}" if query else "") for p in (raw_path, request.url.path)]
    host = request.headers.get("host", "")
    signed = hmac_auth.SignedRequest(request.method, paths, [host], request.headers)
    keys = await ctx.keys.all()
    try:
        key = hmac_auth.verify_signature(signed, keys, ctx.clock.now(), ctx.settings.hmac_max_skew_s)
    except errors.AcsError:
        await ctx.keys.reload()  # a key rotated moments ago on another node
        key = hmac_auth.verify_signature(signed, (await ctx.keys.all()), ctx.clock.now(),
                                         ctx.settings.hmac_max_skew_s)
    body = await request.body()
    hmac_auth.check_content(request.headers, body)
    return (await ctx.keys.all())[key], body


def _json(body: bytes) -> Any:
    try:
        return read_json(body)
    except JsonRejected as exc:
        raise errors.AcsError(400, "InvalidRequestBody", f"The request body is not valid JSON: {exc}") from None


async def _handle(request: Request, versions: tuple[str, ...],
                  action: Callable[[AcsContext, str, Any], Awaitable[Any]], status: int = 200) -> Response:
    ctx: AcsContext = request.app.state.acs
    headers = {"MS-CV": uuid.uuid4().hex[:22], "api-supported-versions": ", ".join(versions)}
    if client_request_id := request.headers.get("x-ms-client-request-id"):
        headers["x-ms-client-request-id"] = client_request_id
    try:
        version = request.query_params.get("api-version")
        if version not in versions:
            raise errors.AcsError(400, "UnsupportedApiVersion", f"The api-version '{version}' is not supported; "
                                  f"use one of {', '.join(versions)}.")
        resource_id, body = await _authenticated(ctx, request)
        result = await action(ctx, resource_id, _json(body))
    except errors.AcsError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers,
                            media_type="application/json; charset=utf-8")
    if result is None:
        return Response(status_code=204, headers=headers)
    return JSONResponse(result, status_code=status, headers=headers, media_type="application/json; charset=utf-8")


@router.post("/teamsUser/:exchangeAccessToken")
async def exchange_teams_user_token(request: Request) -> Response:
    async def run(ctx: AcsContext, resource_id: str, body: Any) -> Any:
        return (await exchange(ctx, body, resource_id)).body()

    return await _handle(request, EXCHANGE_VERSIONS, run)


@router.post("/identities")
async def create_identity(request: Request) -> Response:
    return await _handle(request, API_VERSIONS, identities.create_identity, status=201)


@router.post("/identities/{identity_id}/:issueAccessToken")
async def issue_access_token(identity_id: str, request: Request) -> Response:
    async def run(ctx: AcsContext, resource_id: str, body: Any) -> Any:
        return await identities.issue_token(ctx, resource_id, identity_id, body)

    return await _handle(request, API_VERSIONS, run)


@router.post("/identities/{identity_id}/:revokeAccessTokens")
async def revoke_access_tokens(identity_id: str, request: Request) -> Response:
    async def run(ctx: AcsContext, resource_id: str, body: Any) -> Any:
        await identities.revoke_tokens(ctx, resource_id, identity_id)

    return await _handle(request, API_VERSIONS, run)


@router.delete("/identities/{identity_id}")
async def delete_identity(identity_id: str, request: Request) -> Response:
    async def run(ctx: AcsContext, resource_id: str, body: Any) -> Any:
        await identities.delete_identity(ctx, resource_id, identity_id)

    return await _handle(request, API_VERSIONS, run)
