"""JWT signing and strict verification against a key ring, on an injected clock.

Verification accepts only the ring's algorithm (so ``alg: none`` and an HS256 token "signed" with the public key
are refused), only a known ``kid``, and checks ``exp``/``nbf``/``iat`` against ``now`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from callbridge.identity.keys import KeyRing

LEEWAY_S = 300  # clock skew allowed on nbf, as Entra allows
LATEST_TIME = 253402300799  # 9999-12-31T23:59:59Z: a time claim past it is no time (datetime cannot hold it)


class TokenInvalid(Exception):
    """The token is not acceptable; ``reason`` says why (for logs, not for callers)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Expectation:
    audiences: frozenset[str]
    issuer: str | None = None  # exact issuer, or None to check it with ``issuer_for``
    leeway_s: int = LEEWAY_S
    lifetime: bool = True  # False: an expired token is still accepted (a sign-out's id_token_hint)


def sign(claims: dict[str, Any], ring: KeyRing, typ: str = "JWT") -> str:
    key = ring.active
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": typ})


def verify(token: str, ring: KeyRing, expect: Expectation, now: datetime) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenInvalid("not a JWT") from None
    if header.get("alg") != ring.algorithm:
        raise TokenInvalid(f"algorithm {header.get('alg')!r} not accepted")
    kid = header.get("kid")
    key = ring.find(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenInvalid(f"unknown kid {kid!r}")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[ring.algorithm],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"signature or format: {exc}") from None
    if expect.lifetime:
        _check_times(claims, now.timestamp(), expect.leeway_s)
    _check_audience(claims.get("aud"), expect.audiences)
    if expect.issuer is not None and claims.get("iss") != expect.issuer:
        raise TokenInvalid(f"issuer {claims.get('iss')!r} not accepted")
    return claims


async def verify_fresh(token: str, ring: KeyRing, expect: Expectation, now: datetime) -> dict[str, Any]:
    """``verify``, re-reading the key ring once if the token names a key this node has not seen yet."""
    try:
        return verify(token, ring, expect, now)
    except TokenInvalid as exc:
        kid = _header_kid(token)
        if not exc.reason.startswith("unknown kid") or kid is None:
            raise
        if not await ring.reload_for_unknown_kid(kid, now):
            raise
    return verify(token, ring, expect, now)


def _header_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def _is_time(value: Any) -> bool:
    """A NumericDate (RFC 7519 section 2) that a datetime can hold: not a bool, not NaN or infinite, in range."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= LATEST_TIME


def _check_times(claims: dict[str, Any], now: float, leeway: int) -> None:
    for name in ("exp", "iat"):
        if not _is_time(claims.get(name)):
            raise TokenInvalid(f"claim {name} missing or out of range")
    if claims["exp"] <= now:  # no leeway: a token is never used past its expiry
        raise TokenInvalid("expired")
    nbf = claims.get("nbf", claims["iat"])
    if not _is_time(nbf) or nbf > now + leeway:
        raise TokenInvalid("not yet valid")


def _check_audience(aud: Any, accepted: Iterable[str]) -> None:
    values = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(v, str) and v in accepted for v in values):
        raise TokenInvalid(f"audience {aud!r} not accepted")
