"""Communication tokens: JWTs signed with callbridge's own ES256 key, for one identity
(``8:orgid:<oid>`` for Teams users, ``8:acs:<resource>_<id>`` for communication users)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callbridge.identity.keys import KeyRing
from callbridge.identity.tokens import Expectation, TokenInvalid, sign, verify

AUDIENCE = "urn:callbridge:communication"
VOIP_CHAT = 1792  # the scp bit field ACS puts in its tokens
ISSUED_US = "cb_iat_us"  # the issue time in microseconds: ``iat`` has whole seconds, too coarse for revocations


@dataclass(frozen=True)
class CommunicationToken:
    raw_id: str  # 8:orgid:<oid> | 8:acs:<resource>_<id>
    resource_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime
    tenant_id: str | None = None


def issue(ring: KeyRing, issuer: str, raw_id: str, resource_id: str, scopes: tuple[str, ...], now: datetime,
          expires_at: datetime, tenant_id: str | None = None) -> str:
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": raw_id,
        "skypeid": raw_id.removeprefix("8:"),
        "scp": VOIP_CHAT,
        "csi": str(int(now.timestamp())),
        "acsScope": ",".join(scopes),
        "resourceId": resource_id,
        "iat": int(now.timestamp()),
        ISSUED_US: _microseconds(now),
        "nbf": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    if tenant_id:
        claims["tid"] = tenant_id
    return sign(claims, ring)


def read(ring: KeyRing, issuer: str, token: str, now: datetime) -> CommunicationToken:
    """Verify a communication token (the calling service's check). Raises TokenInvalid."""
    claims = verify(token, ring, Expectation(frozenset({AUDIENCE}), issuer=issuer, leeway_s=60), now)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith("8:"):
        raise TokenInvalid("no identity")
    return CommunicationToken(
        raw_id=sub,
        resource_id=str(claims.get("resourceId", "")),
        scopes=tuple(s for s in str(claims.get("acsScope", "")).split(",") if s),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        issued_at=_issued_at(claims),
        tenant_id=claims.get("tid"),
    )


def _microseconds(moment: datetime) -> int:
    return (int(moment.timestamp()) * 1_000_000) + moment.microsecond


def _issued_at(claims: dict[str, Any]) -> datetime:
    """When the token was issued, to the microsecond where it says so (``iat`` alone: the start of its second).
    A revocation then reaches every token issued before it, and none issued after it, within the same second."""
    precise = claims.get(ISSUED_US)
    seconds = claims["iat"]
    if isinstance(precise, int) and not isinstance(precise, bool) and precise // 1_000_000 == seconds:
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=precise % 1_000_000)
    return datetime.fromtimestamp(seconds, UTC)


def expires_on(moment: datetime) -> str:
    """ACS's spelling: seven fractional digits and an explicit offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0+00:00"
