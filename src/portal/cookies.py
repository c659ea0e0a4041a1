"""Signed cookies: the session (whose user's token cache to use) and the sign-in flow in progress (msal's auth code
flow with its PKCE verifier, state and nonce), so no process keeps anything in memory between requests.

A value is ``base64url(json).issued_at.hmac`` with HMAC-SHA256 over the first two parts and the cookie's purpose,
so a flow cookie never passes as a session. Values are signed, not encrypted: they hold nothing the browser that
carries them may not see (its own PKCE verifier, its own account key); the tokens stay in the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

SESSION = "portal_session"
CLOCK_SKEW_S = 60  # processes on several machines: a cookie from a clock this far ahead still counts
FLOW = "portal_signin"


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user: msal's home account id (``oid.tid``) and the tenant, the key of their token cache."""

    account_key: str
    tenant_id: str
    object_id: str


class CookieSigner:
    def __init__(self, secret: bytes, now: Any) -> None:
        self._secret = secret
        self._now = now  # () -> float, a clock tests can move

    def sign(self, purpose: str, value: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")
        issued = str(int(self._now()))
        return f"{body}.{issued}.{self._mac(purpose, body, issued)}"

    def verify(self, purpose: str, cookie: str | None, max_age_s: int) -> dict[str, Any] | None:
        """The value, or None when the cookie is missing, forged, of another purpose, or older than ``max_age_s``."""
        if not cookie or cookie.count(".") != 2:
            return None
        body, issued, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body, issued)) or not issued.isdigit():
            return None
        if not -CLOCK_SKEW_S <= self._now() - int(issued) <= max_age_s:
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _mac(self, purpose: str, body: str, issued: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}.{body}.{issued}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def set_cookie(response: Response, name: str, value: str, max_age_s: int, path: str = "/") -> None:
    """Every portal cookie: HttpOnly (no script reads it), Secure (HTTPS only), SameSite=Lax (not sent with a
    cross-site POST, so a foreign page cannot act as the user; top-level sign-in redirects still carry it)."""
    response.set_cookie(name, value, max_age=max_age_s, path=path, httponly=True, secure=True, samesite="lax")


def clear_cookie(response: Response, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, secure=True, samesite="lax")


def session_user(signer: CookieSigner, request: Request, max_age_s: int) -> SessionUser | None:
    value = signer.verify(SESSION, request.cookies.get(SESSION), max_age_s)
    if value is None:
        return None
    key, tenant = value.get("k"), value.get("t")
    if not isinstance(key, str) or not isinstance(tenant, str) or "." not in key:
        return None
    return SessionUser(key, tenant, key.split(".", 1)[0])


def session_value(user: SessionUser) -> dict[str, Any]:
    return {"k": user.account_key, "t": user.tenant_id}
