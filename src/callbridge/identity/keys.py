"""Signing keys with rotation: one active key per purpose; retired keys stay published until the tokens
they signed have expired."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import select

from callbridge.store.db import Database
from callbridge.store.models import SigningKey

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class KeyPair:
    kid: str
    algorithm: str
    private_key: PrivateKey
    public_key: PublicKey
    publish_until: datetime | None
    created_at: datetime

    def public_jwk(self) -> dict[str, Any]:
        key = self.public_key
        jwk: dict[str, Any] = (RSAAlgorithm.to_jwk(key, as_dict=True) if isinstance(key, rsa.RSAPublicKey)
                               else ECAlgorithm.to_jwk(key, as_dict=True))
        jwk.update(kid=self.kid, use="sig", alg=self.algorithm)
        return jwk


def generate_pem(algorithm: str) -> str:
    key: PrivateKey
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported algorithm {algorithm}")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def _load(row: SigningKey) -> KeyPair:
    private = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return KeyPair(row.kid, row.algorithm, private, private.public_key(), row.publish_until, row.created_at)


def _kid(pem: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(pem.encode()).digest()[:15]).decode()


class KeyRing:
    """The keys of one purpose, loaded from the store. ``active`` signs; ``find(kid)`` verifies.

    Every node re-reads the store at most every ``RELOAD_EVERY`` (and at once for an unknown ``kid``, rate
    limited), so a key rotated on one node is used and published by all; an active key older than ``max_age``
    is rotated by whichever node notices first.
    """

    RELOAD_EVERY = timedelta(seconds=30)
    UNKNOWN_KID_RELOAD = timedelta(seconds=5)

    def __init__(self, db: Database, purpose: str, algorithm: str, max_age: timedelta | None = None,
                 token_lifetime: timedelta = timedelta(days=1)) -> None:
        self._db = db
        self.purpose = purpose
        self.algorithm = algorithm
        self.max_age = max_age
        self.token_lifetime = token_lifetime
        self._keys: dict[str, KeyPair] = {}
        self._active: KeyPair | None = None
        self._loaded_at: datetime | None = None

    @property
    def active(self) -> KeyPair:
        assert self._active is not None, "key ring not loaded"
        return self._active

    def find(self, kid: str) -> KeyPair | None:
        return self._keys.get(kid)

    def published(self, now: datetime) -> list[KeyPair]:
        return [k for k in self._keys.values() if k.publish_until is None or k.publish_until > now]

    async def load(self, now: datetime) -> None:
        """Read the keys; make the first one if there is none."""
        async with self._db.transaction() as s:
            rows = list((await s.scalars(select(SigningKey).where(SigningKey.purpose == self.purpose))).all())
            if not any(r.retired_at is None for r in rows):
                rows.append(self._new_row(now))
                s.add(rows[-1])
        self._install(rows, now)

    async def rotate(self, now: datetime, max_token_lifetime: timedelta) -> KeyPair:
        """Make a new active key; the old one is retired and published until its last token expires."""
        async with self._db.transaction() as s:
            rows = list((await s.scalars(select(SigningKey).where(SigningKey.purpose == self.purpose))).all())
            for row in rows:
                if row.retired_at is None:
                    row.retired_at = now
                    row.publish_until = now + max_token_lifetime
            rows.append(self._new_row(now))
            s.add(rows[-1])
        self._install(rows, now)
        return self.active

    def _new_row(self, now: datetime) -> SigningKey:
        pem = generate_pem(self.algorithm)
        return SigningKey(kid=_kid(pem), purpose=self.purpose, algorithm=self.algorithm, private_pem=pem,
                          created_at=now)

    async def refresh_if_due(self, now: datetime) -> None:
        if self._loaded_at is not None and now - self._loaded_at < self.RELOAD_EVERY:
            return
        await self.load(now)
        if self.max_age is not None and now - self.active.created_at >= self.max_age:
            await self.rotate(now, self.token_lifetime)

    async def reload_for_unknown_kid(self, kid: str, now: datetime) -> bool:
        """Re-read the store if ``kid`` is unknown and the last read is not too recent; True if now known."""
        if kid in self._keys:
            return True
        if self._loaded_at is not None and now - self._loaded_at < self.UNKNOWN_KID_RELOAD:
            return False
        await self.load(now)
        return kid in self._keys

    def _install(self, rows: list[SigningKey], now: datetime) -> None:
        live = [r for r in rows if r.publish_until is None or r.publish_until > now]
        self._keys = {r.kid: _load(r) for r in live}
        active = max((r for r in live if r.retired_at is None), key=lambda r: r.created_at)
        self._active = self._keys[active.kid]
        self._loaded_at = now
