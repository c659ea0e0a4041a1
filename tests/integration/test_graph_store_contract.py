"""The directory API's queries on both stores: keyset paging, OData filters compiled to SQL, calendar windows
and idempotent chats behave the same on SQLite and PostgreSQL (the same services the HTTP routes call)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from callbridge.config import Settings
from callbridge.demo import seed
from callbridge.graph import calendar, chats, users
from callbridge.graph.auth import Caller
from callbridge.graph.paging import PageTokens
from callbridge.store.db import Database
from callbridge.store.models import Tenant, User
from callbridge.store.types import utcnow

TOKENS = PageTokens(secrets.token_bytes(32))


async def _seeded(db: Database) -> tuple[dict[str, Any], dict[str, User]]:
    async with db.transaction() as s:
        info = await seed(s, Settings(https_port=9443))
        people = {u.user_principal_name.split("@")[0]: u for u in (await s.scalars(select(User))).all()}
    return info, people


def _caller(user: User, *scopes: str) -> Caller:
    return Caller(user.tenant_id, "app", user.id, frozenset(scopes or {"User.ReadBasic.All", "Chat.Create",
                                                                      "Chat.Read", "Calendars.ReadWrite"}),
                  frozenset())


async def _pages(db: Database, caller: Caller, **options: Any) -> list[str]:
    names: list[str] = []
    token = None
    for _ in range(50):
        query = users.UserQuery(options.get("filter"), None, options.get("orderby"), "displayName",
                                options.get("top", "4"), False, False, token)
        async with db.session() as s:
            page, token, _ = await users.list_users(s, caller, query, TOKENS, "q", utcnow(), db.dialect)
        names += [u["displayName"] for u in page]
        if token is None:
            return names
    raise AssertionError("paging never ended")


async def test_user_paging_and_filters(db: Database) -> None:
    info, people = await _seeded(db)
    alice = _caller(people["alice"])
    fabrikam = sorted(u["display_name"] for u in info["tenants"][0]["users"])
    assert sorted(await _pages(db, alice)) == fabrikam
    assert await _pages(db, alice, orderby="displayName") == sorted(fabrikam)
    assert await _pages(db, alice, orderby="displayName desc", top="3") == sorted(fabrikam, reverse=True)
    starts_a = await _pages(db, alice, filter="startswith(displayName,'a') and accountEnabled eq true")
    assert sorted(starts_a) == [n for n in fabrikam if n.lower().startswith("a")]
    assert await _pages(db, alice, filter="mail eq 'MEGAN@fabrikam.example' or id eq 'nobody'") == ["Megan Bowen"]
    assert await _pages(db, alice, filter="startswith(displayName,'_')") == []


async def test_calendar_windows_and_paging(db: Database) -> None:
    _, people = await _seeded(db)
    alice, megan = _caller(people["alice"]), _caller(people["megan"])
    now = utcnow()
    window = (now - timedelta(days=7), now + timedelta(days=7))
    seen = []
    token = None
    for _ in range(20):
        async with db.session() as s:
            events, token = await calendar.page_of_events(s, alice, window, "2", token, TOKENS, "v", now)
        seen += [(e.start_at, e.subject) for e in events]
        if token is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)
    async with db.session() as s:
        megans, _ = await calendar.page_of_events(s, megan, window, "50", None, TOKENS, "v", now)
        past, _ = await calendar.page_of_events(s, alice, (now - timedelta(days=30), now - timedelta(days=20)),
                                                "50", None, TOKENS, "v", now)
    assert {e.subject for e in megans} == {"Customer escalation: Adatum", "Project kickoff with Contoso",
                                           "Weekly team sync"}
    assert past == []


async def test_one_on_one_chat_is_idempotent(db: Database) -> None:
    _, people = await _seeded(db)
    alice, megan = people["alice"], people["megan"]
    body = {"chatType": "oneOnOne", "members": [
        {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{u.id}')"} for u in (alice, megan)]}
    async with db.transaction() as s:
        first, created = await chats.create_chat(s, _caller(alice), body, utcnow())
    async with db.transaction() as s:
        again, created_again = await chats.create_chat(s, _caller(megan), body, utcnow())
    assert created and not created_again and first.id == again.id
    async with db.session() as s:
        assert await s.get(Tenant, first.tenant_id) is not None


async def test_prefix_and_equality_filters_use_the_lower_column_indexes(db: Database) -> None:
    from sqlalchemy import text

    from callbridge.graph import odata
    from callbridge.graph.query import FilterCompiler

    _, people = await _seeded(db)
    compiler = FilterCompiler(users.PROPS, "user", advanced=False, dialect=db.dialect)
    for flt, index in (("startswith(displayName,'Al')", "ix_users_tenant_lower_display_name"),
                       ("mail eq 'megan@fabrikam.example'", "ix_users_tenant_lower_mail")):
        query = select(User.id).where(User.tenant_id == people["alice"].tenant_id,
                                      compiler.compile(odata.parse_filter(flt)))
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        async with db.engine.connect() as conn:
            if db.dialect == "postgresql":
                await conn.execute(text("SET enable_seqscan = off"))  # a tiny table: ask whether the index CAN serve
                plan = " ".join(r[0] for r in (await conn.execute(text(f"EXPLAIN {sql}"))).all())
            else:
                plan = " ".join(r[-1] for r in (await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))).all())
        assert index in plan, plan
