"""The bearer token of a Graph request: an access token of callbridge's identity provider for Graph's audience,
delegated (``scp``) or application (``roles``). Scope rules follow Graph's least-privileged permissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callbridge.directory.values import GRAPH_APP_ID, GRAPH_RESOURCE_URI, is_guid
from callbridge.graph.errors import GraphError, access_denied, insufficient_privileges, unauthenticated
from callbridge.identity.authority import issuer
from callbridge.identity.keys import KeyRing
from callbridge.identity.tokens import Expectation, TokenInvalid, verify_fresh

AUDIENCES = frozenset({GRAPH_APP_ID, GRAPH_RESOURCE_URI, f"{GRAPH_RESOURCE_URI}/"})


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    app_id: str
    user_id: str | None  # None for an application (client credentials) token
    scopes: frozenset[str]
    roles: frozenset[str]

    @property
    def is_app(self) -> bool:
        return self.user_id is None

    def require(self, delegated: set[str], application: set[str] | None = None,
                denied: GraphError | None = None) -> None:
        """Allow if the token holds any of the permissions (delegated or application) that grant the call."""
        if self.is_app:
            if application and self.roles & application:
                return
        elif self.scopes & delegated:
            return
        raise denied or insufficient_privileges()

    def me(self) -> str:
        if self.user_id is None:
            raise access_denied("/me request is only valid with delegated authentication flow.", "BadRequest")
        return self.user_id


async def authenticate(header: str | None, ring: KeyRing, base_url: str, now: datetime) -> Caller:
    if not header:
        raise unauthenticated("Access token is empty.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Access token is empty.")
    try:
        claims = await verify_fresh(token.strip(), ring, Expectation(AUDIENCES), now)
    except TokenInvalid as exc:
        reason = "Invalid audience." if exc.reason.startswith("audience") else (
            "Lifetime validation failed, the token is expired." if exc.reason == "expired" else "Invalid signature.")
        raise unauthenticated(f"Access token validation failure. {reason}") from None
    tid = claims.get("tid")
    if not isinstance(tid, str) or not is_guid(tid) or claims.get("iss") != issuer(base_url, tid):
        raise unauthenticated("Access token validation failure. Invalid issuer.")
    app_tok = claims.get("idtyp") == "app"
    oid = claims.get("oid")
    if not app_tok and not isinstance(oid, str):
        raise unauthenticated("Access token validation failure. The token names no user.")
    roles = claims.get("roles") if app_tok else []
    return Caller(
        tenant_id=tid,
        app_id=str(claims.get("appid") or claims.get("azp") or ""),
        user_id=None if app_tok else str(oid),
        scopes=frozenset(str(claims.get("scp", "")).split()) if not app_tok else frozenset(),
        roles=frozenset(r for r in roles or [] if isinstance(r, str)),
    )
