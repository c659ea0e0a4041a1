"""The portal's store on SQLite and on PostgreSQL (a throwaway server): migrations twice, customers per tenant with
their numbers unique within a tenant, idempotent history, and token caches per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import msal
import pytest

from portal import customers, history
from portal.cookies import SessionUser
from portal.customers import CustomerFields
from portal.db import Database
from portal.errors import PortalError
from portal.token_store import TokenStore
from tests.support.postgres import fresh_database

FABRIKAM, NORTHWIND = "tenant-fabrikam", "tenant-northwind"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}"
    else:
        url = await fresh_database(request.getfixturevalue("postgres_server"), "portal")
    database = Database(url)
    await database.migrate()
    await database.migrate()  # every start migrates: harmless the second time
    yield database
    await database.close()


async def test_customers_per_tenant(db: Database) -> None:
    async with db.transaction() as s:
        kim = await customers.create(s, FABRIKAM, CustomerFields("Kim", "Adatum", ("+12065550100",), "notes"))
        await customers.create(s, NORTHWIND, CustomerFields("Kim's twin", "", ("+12065550100",), ""))
    async with db.transaction() as s:
        assert (await customers.by_number(s, FABRIKAM, "+12065550100")).id == kim.id
        assert [c.name for c in await customers.search(s, NORTHWIND, "kim")] == ["Kim's twin"]
        assert [c.name for c in await customers.search(s, FABRIKAM, "0100")] == ["Kim"]
        with pytest.raises(PortalError) as refused:
            await customers.get(s, NORTHWIND, kim.id)
        assert refused.value.status == 404
    async with db.transaction() as s:
        with pytest.raises(PortalError) as taken:
            await customers.create(s, FABRIKAM, CustomerFields("Other", "", ("+12065550100",), ""))
        assert taken.value.status == 409
    async with db.transaction() as s:
        changed = await customers.update(s, FABRIKAM, kim.id, CustomerFields("Kim A", "Adatum",
                                                                               ("+12065550101", "+12065550100"), ""))
        assert [n.number for n in changed.numbers] == ["+12065550101", "+12065550100"]
    async with db.transaction() as s:
        await customers.remove(s, FABRIKAM, kim.id)
    async with db.transaction() as s:
        assert await customers.by_number(s, FABRIKAM, "+12065550101") is None


async def test_history_is_idempotent_and_newest_first(db: Database) -> None:
    user = SessionUser("oid.tid", "tid", "oid")

    def call(call_id: str, day: int) -> history.FinishedCall:
        at = datetime(2026, 12, day, 10, tzinfo=UTC)
        return history.FinishedCall(call_id, history.Direction.INCOMING, "4:+12065550100", "", at, None, at, 0, 0)
    async with db.transaction() as s:
        for c in (call("a", 1), call("b", 2), call("a", 1)):
            await history.record(s, user, c)
    async with db.transaction() as s:
        rows = await history.recent(s, user)
        assert [r.call_id for r, _ in rows] == ["b", "a"] and rows[0][0].started_at.tzinfo is not None
        assert await history.recent(s, SessionUser("other.tid", "tid", "other")) == []


async def test_token_caches_are_per_user(db: Database) -> None:
    store = TokenStore(db)
    cache = msal.SerializableTokenCache()
    cache.deserialize('{"AccessToken": {}, "RefreshToken": {"k": {"secret": "rt-of-alice"}}}')
    cache.has_state_changed = True
    await store.save("alice.tid", "tid", cache)
    assert "rt-of-alice" in (await store.load("alice.tid")).serialize()
    assert "rt-of-alice" not in (await store.load("bob.tid")).serialize()
    await store.forget("alice.tid")
    assert "rt-of-alice" not in (await store.load("alice.tid")).serialize()
