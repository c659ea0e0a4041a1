"""Access, ID and refresh tokens with Entra ID v2's claims."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from callbridge.identity.authority import issuer
from callbridge.identity.keys import KeyRing
from callbridge.identity.tokens import sign
from callbridge.store.models import AppRegistration, ServicePrincipal, User


@dataclass(frozen=True)
class Minted:
    token: str
    expires_at: datetime


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(48)


def pairwise_sub(oid: str, client_id: str) -> str:
    digest = hashlib.sha256(f"{oid}:{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:43]


def code_hash(code: str) -> str:
    """``c_hash``: the left half of the code's SHA-256, base64url (OpenID Connect Core 3.3.2.11; RS256)."""
    digest = hashlib.sha256(code.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def client_info(user: User) -> str:
    raw = json.dumps({"uid": user.id, "utid": user.tenant_id}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenMinter:
    def __init__(self, base_url: str, ring: KeyRing, access_lifetime_s: int, id_lifetime_s: int) -> None:
        self._base = base_url
        self._ring = ring
        self._access = timedelta(seconds=access_lifetime_s)
        self._id = timedelta(seconds=id_lifetime_s)

    def _times(self, now: datetime, lifetime: timedelta) -> tuple[dict[str, int], datetime]:
        exp = now + lifetime
        iat = int(now.timestamp())
        return {"iat": iat, "nbf": iat, "exp": int(exp.timestamp())}, exp.replace(microsecond=0)

    def user_access_token(
        self, user: User, app: AppRegistration, resource_app_id: str, scopes: set[str], public: bool, now: datetime
    ) -> Minted:
        times, exp = self._times(now, self._access)
        claims: dict[str, Any] = {
            "aud": resource_app_id,
            "iss": issuer(self._base, user.tenant_id),
            **times,
            "appid": app.client_id,
            "azp": app.client_id,
            "azpacr": "0" if public else "1",
            "appidacr": "0" if public else "1",
            "idtyp": "user",
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.user_principal_name,
            "upn": user.user_principal_name,
            "scp": " ".join(sorted(scopes)),
            "sub": pairwise_sub(user.id, resource_app_id),
            "tid": user.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "2.0",
        }
        if user.given_name:
            claims["given_name"] = user.given_name
        if user.surname:
            claims["family_name"] = user.surname
        return Minted(sign(claims, self._ring), exp)

    def app_access_token(
        self, sp: ServicePrincipal, app: AppRegistration, resource_app_id: str, roles: set[str], now: datetime
    ) -> Minted:
        times, exp = self._times(now, self._access)
        claims: dict[str, Any] = {
            "aud": resource_app_id,
            "iss": issuer(self._base, sp.tenant_id),
            **times,
            "appid": app.client_id,
            "azp": app.client_id,
            "azpacr": "1",
            "appidacr": "1",
            "idtyp": "app",
            "oid": sp.id,
            "sub": sp.id,
            "tid": sp.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "2.0",
        }
        if roles:
            claims["roles"] = sorted(roles)
        return Minted(sign(claims, self._ring), exp)

    def id_token(
        self, user: User, client_id: str, nonce: str | None, auth_time: datetime, oidc: frozenset[str], now: datetime,
        code: str | None = None,
    ) -> Minted:
        times, exp = self._times(now, self._id)
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": issuer(self._base, user.tenant_id),
            **times,
            "auth_time": int(auth_time.timestamp()),
            "oid": user.id,
            "sub": pairwise_sub(user.id, client_id),
            "tid": user.tenant_id,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        if code is not None:  # the hybrid flow's ID token vouches for the code beside it
            claims["c_hash"] = code_hash(code)
        if "profile" in oidc:
            claims.update(name=user.display_name, preferred_username=user.user_principal_name)
        if "email" in oidc and user.mail:
            claims["email"] = user.mail
        return Minted(sign(claims, self._ring), exp)
