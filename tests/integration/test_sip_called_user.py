"""The called-user look-up of every inbound call (``CALLED_USER``) as a prepared read: the same rows as
``fetch_all``, read by attribute and by index, and the same statement prepared once."""

from __future__ import annotations

from callbridge.directory import tenants, users
from callbridge.directory.users import NewUser
from callbridge.pstn.inbound import CALLED_USER, ENABLED_TRUNKS
from callbridge.pstn.trunks import TrunkChanges, add_trunk
from callbridge.store.db import Database


async def seed(db: Database) -> None:
    async with db.transaction() as s:
        await tenants.create_tenant(s, "Fabrikam", ["fabrikam.example"])
        for upn, licences, number, voice in (("alice", ["TEAMS", "TEAMS_PHONE"], "+14255550101", True),
                                             ("nophone", ["TEAMS"], "+14255550102", True),
                                             ("novoice", ["TEAMS", "TEAMS_PHONE"], "+14255550103", False)):
            await users.create_user(s, "fabrikam.example", NewUser(
                f"{upn}@fabrikam.example", upn.title(), licences=licences, phone_number=number,
                enterprise_voice=voice))


async def test_the_prepared_called_user_read_gives_the_rows_fetch_all_gives(db: Database) -> None:
    await seed(db)
    prepared = db.prepared(CALLED_USER)
    for number in ("+14255550101", "+14255550102", "+14255550103", "+19995550100"):
        expected = await db.fetch_all(CALLED_USER, {"number": number})
        rows = await prepared({"number": number})
        assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
        for row, want in zip(rows, expected, strict=True):
            assert (row.id, row.display_name, row.teams, row.phone, row.enterprise_voice_enabled, row.interop) == (
                want.id, want.display_name, want.teams, want.phone, want.enterprise_voice_enabled, want.interop)
            assert all(type(a) is type(b) for a, b in zip(row, want, strict=True))  # booleans stay booleans
    assert db.prepared(CALLED_USER) is prepared


async def test_the_trunks_read_prepared_gives_the_rows_fetch_all_gives(db: Database) -> None:
    await seed(db)
    async with db.transaction() as s:
        await add_trunk(s, "fabrikam.example", "us", TrunkChanges(host="127.0.0.1", port=5070, number_prefixes=["+1"],
                                                                 allow_sources=["127.0.0.1"]))
    expected = await db.fetch_all(ENABLED_TRUNKS, {})
    trunks = await db.prepared(ENABLED_TRUNKS)({})  # every column of a table: lists, dates, booleans
    assert [tuple(row) for row in trunks] == [tuple(row) for row in expected] and len(trunks) == 1
    assert (trunks[0].allow_sources, trunks[0].enabled) == (expected[0].allow_sources, expected[0].enabled)
