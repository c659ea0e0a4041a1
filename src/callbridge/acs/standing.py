"""Whether a communication token's identity still stands: the Teams user exists and is enabled, the communication
user exists and the token was issued after its last revocation (``:revokeAccessTokens``).

Read when a socket opens (one identity) and, for every open socket of a node, every few seconds (``standings``:
one query per kind of identity, whatever the number of sockets), so a change made anywhere on the store (the admin
CLI, another node, the identity API) closes the sockets it concerns.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from callbridge.acs.tokens import CommunicationToken
from callbridge.directory.values import is_guid
from callbridge.store.db import Database
from callbridge.store.models import CommunicationIdentity, User

TEAMS, ACS = "8:orgid:", "8:acs:"
REVOKED = "The token was revoked."
DISABLED = "The account is disabled or gone."
CHUNK = 500  # identities per query (SQLite's bound parameters are limited)

_USERS = select(User.id, User.account_enabled).where(User.id.in_(bindparam("ids", expanding=True)))
_COMMUNICATION_USERS = select(CommunicationIdentity.id, CommunicationIdentity.tokens_valid_from).where(
    CommunicationIdentity.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class Standing:
    enabled: bool = True  # a Teams user's account (communication users have none)
    tokens_valid_from: datetime | None = None  # a communication user's last revocation


async def standings(db: Database, raw_ids: Collection[str]) -> dict[str, Standing]:
    """The standing of each identity the store still has; those it does not have are absent."""
    found: dict[str, Standing] = {}
    oids = sorted({r.removeprefix(TEAMS).lower() for r in raw_ids if r.startswith(TEAMS) and is_guid(r[len(TEAMS):])})
    for chunk in _chunks(oids):
        for row in await db.fetch_all(_USERS, {"ids": chunk}):
            found[f"{TEAMS}{str(row.id).lower()}"] = Standing(enabled=bool(row.account_enabled))
    for chunk in _chunks(sorted({r for r in raw_ids if r.startswith(ACS)})):
        for row in await db.fetch_all(_COMMUNICATION_USERS, {"ids": chunk}):
            found[row.id] = Standing(tokens_valid_from=row.tokens_valid_from)
    return found


def refusal(token: CommunicationToken, standings_: dict[str, Standing]) -> str | None:
    """Why ``token`` no longer opens (or keeps) a socket, or None when it does."""
    key = token.raw_id.lower() if token.raw_id.startswith(TEAMS) else token.raw_id
    if not key.startswith((TEAMS, ACS)):
        return None
    standing = standings_.get(key)
    if key.startswith(TEAMS):
        return None if standing is not None and standing.enabled else DISABLED
    if standing is None:
        return REVOKED
    valid_from = standing.tokens_valid_from  # tokens carry their issue time to the microsecond (acs.tokens)
    return None if valid_from is None or token.issued_at >= valid_from else REVOKED


async def refusal_now(db: Database, token: CommunicationToken) -> str | None:
    """``refusal`` of one token, read from the store now (when a socket opens, or its token is replaced)."""
    return refusal(token, await standings(db, [token.raw_id]))


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
