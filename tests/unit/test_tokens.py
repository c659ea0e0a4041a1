"""JWT verification refuses every forgery and stale token, on a fake clock."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from callbridge.clock import FakeClock
from callbridge.identity.keys import KeyRing
from callbridge.identity.tokens import Expectation, TokenInvalid, sign, verify
from callbridge.store.db import Database

AUD = "aud-1"


@pytest.fixture
async def ring(tmp_path: Path) -> AsyncIterator[tuple[KeyRing, FakeClock]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    await db.migrate()
    clock = FakeClock()
    ring = KeyRing(db, "idp", "RS256")
    await ring.load(clock.now())
    yield ring, clock
    await db.close()


def _claims(clock: FakeClock, **extra: object) -> dict[str, object]:
    now = int(clock.now().timestamp())
    return {"aud": AUD, "iss": "me", "iat": now, "nbf": now, "exp": now + 600, **extra}


def _expect() -> Expectation:
    return Expectation(frozenset({AUD}), issuer="me")


async def test_valid_token_verifies(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    claims = verify(sign(_claims(clock, oid="x"), keys), keys, _expect(), clock.now())
    assert claims["oid"] == "x"


async def test_alg_none_refused(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    token = jwt.encode(_claims(clock), key=None, algorithm="none", headers={"kid": keys.active.kid})
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify(token, keys, _expect(), clock.now())


async def test_hs256_signed_with_public_key_refused(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    public_pem = keys.active.public_key.public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": keys.active.kid}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims(clock)).encode()).rstrip(b"=")
    import hashlib
    import hmac

    sig = base64.urlsafe_b64encode(hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(TokenInvalid, match="algorithm"):
        verify((header + b"." + body + b"." + sig).decode(), keys, _expect(), clock.now())


async def test_unknown_kid_refused(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    token = jwt.encode(_claims(clock), keys.active.private_key, algorithm="RS256", headers={"kid": "nope"})
    with pytest.raises(TokenInvalid, match="kid"):
        verify(token, keys, _expect(), clock.now())


async def test_tampered_payload_refused(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    header, _, signature = sign(_claims(clock, oid="alice"), keys).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(clock, oid="mallory")).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid, match="signature"):
        verify(f"{header}.{forged}.{signature}", keys, _expect(), clock.now())


async def test_expired_refused_the_second_it_expires(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    token = sign(_claims(clock), keys)
    clock.advance(599)
    verify(token, keys, _expect(), clock.now())
    clock.advance(1)
    with pytest.raises(TokenInvalid, match="expired"):
        verify(token, keys, _expect(), clock.now())


async def test_nbf_in_future_refused_beyond_skew(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    now = int(clock.now().timestamp())
    with pytest.raises(TokenInvalid, match="not yet valid"):
        verify(sign(_claims(clock, nbf=now + 301), keys), keys, _expect(), clock.now())
    verify(sign(_claims(clock, nbf=now + 60), keys), keys, _expect(), clock.now())  # within skew


@pytest.mark.parametrize("field,value,reason", [("aud", "someone-else", "audience"), ("iss", "evil", "issuer")])
async def test_wrong_audience_or_issuer_refused(ring: tuple[KeyRing, FakeClock], field: str, value: str,
                                                reason: str) -> None:
    keys, clock = ring
    with pytest.raises(TokenInvalid, match=reason):
        verify(sign(_claims(clock, **{field: value}), keys), keys, _expect(), clock.now())


async def test_missing_exp_refused(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    claims = _claims(clock)
    del claims["exp"]
    with pytest.raises(TokenInvalid, match="exp"):
        verify(sign(claims, keys), keys, _expect(), clock.now())


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "x" * 5000])
async def test_garbage_refused(ring: tuple[KeyRing, FakeClock], garbage: str) -> None:
    keys, clock = ring
    with pytest.raises(TokenInvalid):
        verify(garbage, keys, _expect(), clock.now())


async def test_rotation_keeps_old_key_published_until_its_tokens_expire(ring: tuple[KeyRing, FakeClock]) -> None:
    keys, clock = ring
    old_token = sign(_claims(clock), keys)
    old_kid = keys.active.kid
    await keys.rotate(clock.now(), timedelta(seconds=600))
    assert keys.active.kid != old_kid
    assert {k.kid for k in keys.published(clock.now())} == {old_kid, keys.active.kid}
    verify(old_token, keys, _expect(), clock.now())  # still verifiable
    new_token = sign(_claims(clock), keys)
    assert jwt.get_unverified_header(new_token)["kid"] == keys.active.kid
    clock.advance(601)
    assert [k.kid for k in keys.published(clock.now())] == [keys.active.kid]
    await keys.load(clock.now())  # another node reloading drops the expired key too
    assert keys.find(old_kid) is None


async def test_a_key_rotated_by_another_node_is_learnt_on_first_sight(ring: tuple[KeyRing, FakeClock],
                                                                      tmp_path: Path) -> None:
    from callbridge.identity.tokens import verify_fresh

    keys, clock = ring
    other_node = KeyRing(keys._db, "idp", "RS256")
    await other_node.load(clock.now())
    await other_node.rotate(clock.now(), timedelta(hours=1))
    token = sign(_claims(clock), other_node)
    with pytest.raises(TokenInvalid, match="unknown kid"):
        verify(token, keys, _expect(), clock.now())
    clock.advance(6)  # unknown-kid reloads are rate limited
    assert (await verify_fresh(token, keys, _expect(), clock.now()))["aud"] == AUD
    assert keys.active.kid == other_node.active.kid  # and this node now signs with the new key too


async def test_unknown_kid_reloads_are_rate_limited(ring: tuple[KeyRing, FakeClock]) -> None:
    from callbridge.identity.tokens import verify_fresh

    keys, clock = ring
    forged = jwt.encode(_claims(clock), keys.active.private_key, algorithm="RS256", headers={"kid": "nope"})
    clock.advance(6)
    with pytest.raises(TokenInvalid):
        await verify_fresh(forged, keys, _expect(), clock.now())
    assert not await keys.reload_for_unknown_kid("nope", clock.now())  # no second read right away


async def test_an_old_active_key_is_rotated_automatically(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'age.db'}")
    await db.migrate()
    clock = FakeClock()
    keys = KeyRing(db, "idp", "RS256", max_age=timedelta(days=30), token_lifetime=timedelta(hours=2))
    await keys.refresh_if_due(clock.now())
    first = keys.active.kid
    clock.advance(29 * 86400)
    await keys.refresh_if_due(clock.now())
    assert keys.active.kid == first
    clock.advance(86400)
    await keys.refresh_if_due(clock.now())
    assert keys.active.kid != first and keys.find(first) is not None  # retired, still published
    clock.advance(2 * 3600 + 31)
    await keys.refresh_if_due(clock.now())
    assert keys.find(first) is None
    await db.close()


@pytest.mark.parametrize("exp", [1e300, 10**30, float("inf"), float("nan"), True])
async def test_a_time_claim_no_datetime_can_hold_is_refused(ring: tuple[KeyRing, FakeClock], exp: object) -> None:
    keys, clock = ring
    token = jwt.encode(_claims(clock, exp=exp), keys.active.private_key, algorithm=keys.active.algorithm,
                       headers={"kid": keys.active.kid})
    with pytest.raises(TokenInvalid, match="exp"):
        verify(token, keys, _expect(), clock.now())
