"""Who may call a phone number, read from the directory on both backends: Teams and Teams Phone licences,
enterprise voice, an assigned number as caller id, and a trunk of the tenant that carries the number."""

from __future__ import annotations

import pytest

from callbridge.calling.call import CallError
from callbridge.calling.policy import clear_phone_call
from callbridge.directory import tenants, users
from callbridge.directory.users import NewUser
from callbridge.pstn.trunks import TrunkChanges, add_trunk
from callbridge.store.db import Database


async def seed(db: Database) -> dict[str, str]:
    async with db.transaction() as s:
        await tenants.create_tenant(s, "Fabrikam", ["fabrikam.example"])
        ids = {}
        for upn, licences, number in (("alice", ["TEAMS", "TEAMS_PHONE"], "+14255550101"),
                                      ("nophone", ["TEAMS"], "+14255550102"), ("nonumber", ["TEAMS", "TEAMS_PHONE"],
                                                                             None)):
            user = await users.create_user(s, "fabrikam.example", NewUser(
                f"{upn}@fabrikam.example", upn.title(), licences=licences, phone_number=number,
                enterprise_voice=number is not None))
            ids[upn] = user.id
        trunk = await add_trunk(s, "fabrikam.example", "us", TrunkChanges(
            host="127.0.0.1", port=5070, number_prefixes=["+1"], allow_sources=["127.0.0.1"]))
        await add_trunk(s, "fabrikam.example", "off", TrunkChanges(
            host="127.0.0.1", port=5072, number_prefixes=["+44"], allow_sources=["127.0.0.1"], enabled=False))
        ids["trunk"] = trunk.id
    return ids


async def test_a_licensed_caller_with_a_number_is_routed_over_the_trunk_carrying_the_number(db: Database) -> None:
    ids = await seed(db)
    cleared = await clear_phone_call(db.fetch_all, ids["alice"], "4:+1 (206) 555-0100")
    assert (cleared.caller_number, cleared.number, cleared.callee_raw_id, cleared.trunk_ids, cleared.caller_name) == (
        "+14255550101", "+12065550100", "4:+12065550100", (ids["trunk"],), "Alice")


@pytest.mark.parametrize(("who", "target", "code", "sub_code"), [
    ("alice", "4:+442079460958", 403, 10113),  # the only trunk for +44 is disabled
    ("alice", "4:+1 800 FLOWERS", 400, 10114),
    ("alice", "4:12065550100", 400, 10114),
    ("alice", "4:anonymous", 400, 10102),
    ("nophone", "4:+12065550100", 403, 10111),
    ("nonumber", "4:+12065550100", 412, 41056),  # no number: enterprise voice was never turned on
    ("ghost", "4:+12065550100", 401, 10009),
])
async def test_phone_calls_are_refused_with_acs_codes(db: Database, who: str, target: str, code: int,
                                                      sub_code: int) -> None:
    ids = await seed(db)
    with pytest.raises(CallError) as refused:
        await clear_phone_call(db.fetch_all, ids.get(who, "00000000-0000-0000-0000-00000000dead"), target)
    assert (refused.value.code, refused.value.sub_code) == (code, sub_code)


async def test_a_caller_without_a_number_but_with_enterprise_voice_is_refused_for_the_caller_id(db: Database) -> None:
    ids = await seed(db)
    async with db.transaction() as s:
        (await users.get_user(s, ids["nonumber"])).enterprise_voice_enabled = True
    with pytest.raises(CallError) as refused:
        await clear_phone_call(db.fetch_all, ids["nonumber"], "4:+12065550100")
    assert (refused.value.code, refused.value.sub_code) == (403, 10112)
