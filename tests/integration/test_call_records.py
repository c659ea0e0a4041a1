"""Call records are written off the command path, in batches, on both backends: none is lost when the database
refuses a write for a while, and one bad row does not hold the others back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import Call, Leg
from callbridge.calling.records import CallRecords, record_of
from callbridge.store.db import Database
from callbridge.store.models import CallRecord

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


def ended_call(call_id: str, minute: int) -> Call:
    call = Call(call_id, "19:t", Leg("8:orgid:alice", "Alice", "fabrikam", agent_id="alice-1"),
                Leg("8:orgid:megan", "Megan", "fabrikam", agent_id="megan-2"), timedelta(seconds=120),
                T0 + timedelta(minutes=minute))
    call.connected_at = call.created_at + timedelta(seconds=3)
    call.ended_at, call.end_reason = call.created_at + timedelta(seconds=30), reasons.HUNG_UP
    return call


async def count(db: Database) -> int:
    async with db.reading() as s:
        return int(await s.scalar(select(func.count()).select_from(CallRecord)) or 0)


async def test_records_are_batched_and_read_back_newest_first(db: Database) -> None:
    records = CallRecords(db, window_s=3600)  # only explicit flushes in this test
    records.add(record_of(ended_call(f"call-{n}", n)) for n in range(3))
    assert await count(db) == 0
    recent = await records.recent("8:orgid:megan")  # reading writes the queue first
    assert [r["callId"] for r in recent] == ["call-2", "call-1", "call-0"]
    assert recent[0] | {"startTime": None, "connectTime": None, "endTime": None} == {
        "callId": "call-2", "threadId": "19:t", "direction": "Incoming", "caller": "8:orgid:alice",
        "callee": "8:orgid:megan", "startTime": None, "connectTime": None, "endTime": None,
        "answeredBy": "megan-2", "endReason": {"code": 0, "subCode": 0}}
    async with db.reading() as s:
        assert (await s.get(CallRecord, "call-0")).tenant_id == "fabrikam"  # type: ignore[union-attr]


async def test_a_refused_write_keeps_the_records_and_a_bad_row_is_dropped_alone(db: Database) -> None:
    records = CallRecords(db, window_s=3600)
    records.add([record_of(ended_call("dup", 0))])
    await records.flush()
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE call_records RENAME TO call_records_away"))
    records.add(record_of(ended_call(call_id, n)) for n, call_id in enumerate(["a", "dup", "b"], 1))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a missing table
        await records.flush()
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE call_records_away RENAME TO call_records"))
    await records.stop()  # stopping writes what is left: "a" and "b"; the second "dup" is refused and dropped
    assert await count(db) == 3
    assert [r["callId"] for r in await records.recent("8:orgid:alice")] == ["b", "a", "dup"]


async def test_a_meeting_one_person_joined_and_left_alone_is_recorded(db: Database) -> None:
    """It has one party: the record names the meeting's thread as callee (it used to raise StopIteration inside the
    command path, and the socket of whoever ended the call died with it)."""
    call = Call("alone", "19:meeting_x@thread.v2", Leg("8:orgid:alice", "Alice", "fabrikam", agent_id="alice-1"),
                None, timedelta(seconds=120), T0)
    call.ended_at, call.end_reason = T0 + timedelta(seconds=30), reasons.HUNG_UP
    records = CallRecords(db, window_s=3600)
    records.add(record_of(c) for c in [call])
    recent = await records.recent("8:orgid:alice")
    assert [(r["callId"], r["callee"], r["answeredBy"]) for r in recent] == [("alone", "19:meeting_x@thread.v2", None)]
