"""Opaque, tamper-proof ``$skiptoken`` values: a keyset position signed with HMAC-SHA256 and bound to the tenant
and to the query it pages (so a nextLink cannot be replayed in another tenant or with another filter)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select

from callbridge.graph.errors import bad_request
from callbridge.store.db import Database
from callbridge.store.models import SigningKey

LIFETIME_S = 3600
_PURPOSE = "graph-paging"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(params: dict[str, str]) -> str:
    """The query options that shape a result set, excluding the position itself."""
    shaped = sorted((k.lower(), v) for k, v in params.items() if k.lower() != "$skiptoken")
    return hashlib.sha256(json.dumps(shaped).encode()).hexdigest()[:32]


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, tenant_id: str, query: str, position: list[Any], now: datetime) -> str:
        payload = _b64(json.dumps({"t": tenant_id, "q": query, "p": position,
                                   "e": int(now.timestamp()) + LIFETIME_S}, separators=(",", ":")).encode())
        return f"{payload}.{_b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())}"

    def read(self, token: str, tenant_id: str, query: str, now: datetime) -> list[Any]:
        invalid = bad_request("Invalid $skiptoken: it is malformed, expired, or belongs to another query.",
                              "Request_BadRequest")
        payload, _, signature = token.partition(".")
        try:
            expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                raise invalid
            data = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            raise invalid from None
        if data.get("t") != tenant_id or data.get("q") != query or data.get("e", 0) < now.timestamp():
            raise invalid
        position = data.get("p")
        if not isinstance(position, list):
            raise invalid
        return position


async def load_secret(db: Database) -> bytes:
    """The cluster-wide paging secret, made on first use and shared by every node through the store."""
    async with db.transaction() as s:
        row = await s.scalar(select(SigningKey).where(SigningKey.purpose == _PURPOSE))
        if row is None:
            row = SigningKey(kid=f"{_PURPOSE}-1", purpose=_PURPOSE, algorithm="HS256",
                             private_pem=secrets.token_urlsafe(32))
            s.add(row)
        return row.private_pem.encode()
