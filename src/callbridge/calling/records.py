"""Call records (CDRs), written off the command path: a call that ends is queued, and the queue is written in one
transaction with one multi-row insert a moment later (``window_s``), so a hang-up never waits for the database.

Reading the records (``recent``) writes the queue first, so an agent always sees its own finished calls. Stopping
the service writes what is left. A failed write keeps the rows for the next attempt (up to ``MAX_PENDING``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert, or_, select
from sqlalchemy.exc import IntegrityError

from callbridge.calling.call import Call
from callbridge.calling.meeting import Meeting
from callbridge.store.db import Database
from callbridge.store.models import CallParticipant, CallRecord
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.calling")

MAX_PENDING = 100_000
_INSERT = insert(CallRecord.__table__)  # type: ignore[arg-type]
_INSERT_PARTICIPANT = insert(CallParticipant.__table__)  # type: ignore[arg-type]
Row = tuple[Insert, dict[str, Any]]


def record_of(call: Call) -> dict[str, Any]:
    """The call's record: its parties, times, end. A meeting's (or any call with one party) names the first to join
    and the meeting's thread as callee, nobody having answered."""
    assert call.ended_at is not None and call.end_reason is not None
    first, legs = call.caller, call.legs()
    callee = legs[1] if len(legs) > 1 and not isinstance(call, Meeting) else None
    callee_id = callee.raw_id if callee else (call.thread_id or "")[:256]
    answered_by = callee.agent_id if callee else None
    return {"id": call.id, "tenant_id": first.tenant_id, "thread_id": call.thread_id,
            "caller_id": first.raw_id, "callee_id": callee_id, "caller_agent": first.agent_id,
            "answered_by": answered_by, "started_at": call.created_at, "connected_at": call.connected_at,
            "ended_at": call.ended_at, "end_code": call.end_reason.code, "end_sub_code": call.end_reason.sub_code,
            "trunk_call_id": call.trunk_call_id}


def rows_of(call: Call) -> list[Row]:
    """The call's record, and for a group call or a meeting each party's part (the meeting record)."""
    rows: list[Row] = [(_INSERT, record_of(call))]
    if call.mixed:
        rows += [(_INSERT_PARTICIPANT, {
            "call_id": call.id, "participant_id": leg.id, "raw_id": leg.raw_id[:256],
            "display_name": (leg.display_name or "")[:256] or None, "role": leg.role.value, "client": leg.client,
            "joined_at": leg.joined_at, "left_at": leg.left_at,
            "end_code": leg.end_reason.code if leg.end_reason else None,
            "end_sub_code": leg.end_reason.sub_code if leg.end_reason else None}) for leg in call.legs()]
    return rows


def refused_record(call_id: str, caller: str, callee: str, tenant_id: str | None, code: int, sub_code: int,
                   now: datetime, trunk_call_id: str | None = None) -> dict[str, Any]:
    """A phone call refused before anyone rang (by the policy, or at the trunk side): kept as a record too, as
    Teams keeps failed PSTN calls in its usage records. It started and ended at ``now``."""
    return {"id": call_id, "tenant_id": tenant_id, "thread_id": None, "caller_id": caller[:256],
            "callee_id": callee[:256], "caller_agent": None, "answered_by": None, "started_at": now,
            "connected_at": None, "ended_at": now, "end_code": code, "end_sub_code": sub_code,
            "trunk_call_id": trunk_call_id}


class CallRecords:
    def __init__(self, db: Database, window_s: float = 0.05) -> None:
        self.db, self.window_s = db, window_s
        self._pending: list[Row] = []
        self._due = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._retry_singly = False  # the last batch failed: write row by row to find a bad one

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancelled(self._task)
        with contextlib.suppress(Exception):  # logged in flush
            await self.flush()

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Call records (``record_of``, ``refused_record``)."""
        self.add_rows((_INSERT, record) for record in records)

    def add_rows(self, rows: Iterable[Row]) -> None:
        self._pending.extend(rows)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            del self._pending[:dropped]
            log.error("call records dropped: the database is not taking them", extra={"dropped": dropped})
        self._due.set()

    async def flush(self) -> None:
        """Write the queue. If the database refuses the batch, the rows stay queued; the next attempt writes them
        one at a time, so one bad row is dropped (and logged) instead of holding the others back."""
        async with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                await self._insert(rows)
            except Exception:
                log.exception("call records not written; kept for the next attempt", extra={"count": len(rows)})
                self._pending[:0] = rows
                self._retry_singly = True
                raise

    async def _insert(self, rows: list[Row]) -> None:
        if not self._retry_singly:
            async with self.db.engine.begin() as conn:
                for statement in (_INSERT, _INSERT_PARTICIPANT):  # each table in one multi-row insert
                    values = [row for kind, row in rows if kind is statement]
                    if values:
                        await conn.execute(statement, values)
            return
        for i, (statement, row) in enumerate(rows):
            try:
                async with self.db.engine.begin() as conn:
                    await conn.execute(statement, [row])
            except IntegrityError:
                log.error("call record refused by the database, dropped", extra={"call_id": row.get("id")})
            except Exception:
                del rows[:i]  # those before were written
                raise
        self._retry_singly = False

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            await asyncio.sleep(self.window_s)  # gather the calls that end meanwhile into the same write
            self._due.clear()
            with contextlib.suppress(Exception):  # logged in flush; retried when the next call ends
                await self.flush()

    async def recent(self, raw_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The calls ``raw_id`` placed, was called in, or took part in (group calls, meetings), newest first."""
        with contextlib.suppress(Exception):
            await self.flush()
        took_part = select(CallParticipant.call_id).where(CallParticipant.raw_id == raw_id)
        async with self.db.reading() as s:
            rows = (await s.scalars(select(CallRecord).where(or_(CallRecord.caller_id == raw_id,
                                                                 CallRecord.callee_id == raw_id,
                                                                 CallRecord.id.in_(took_part)))
                                    .order_by(CallRecord.started_at.desc()).limit(limit))).all()
        return [{"callId": r.id, "threadId": r.thread_id, "direction": "Outgoing" if r.caller_id == raw_id
                 else "Incoming", "caller": r.caller_id, "callee": r.callee_id,
                 "startTime": r.started_at.isoformat(), "connectTime": r.connected_at and r.connected_at.isoformat(),
                 "endTime": r.ended_at.isoformat(), "answeredBy": r.answered_by,
                 "endReason": {"code": r.end_code, "subCode": r.end_sub_code},
                 **({"sipCallId": r.trunk_call_id} if r.trunk_call_id else {})} for r in rows]


    async def participants(self, call_id: str, raw_id: str) -> list[dict[str, Any]] | None:
        """The meeting record of a call ``raw_id`` took part in: each party, from what, when, for how long, and
        how it left; None when ``raw_id`` was not in it (or it is not over)."""
        with contextlib.suppress(Exception):
            await self.flush()
        async with self.db.reading() as s:
            rows = (await s.scalars(select(CallParticipant).where(CallParticipant.call_id == call_id)
                                    .order_by(CallParticipant.participant_id))).all()
        if not any(r.raw_id == raw_id for r in rows):
            return None
        return [{"participantId": r.participant_id, "identifier": {"rawId": r.raw_id},
                 "displayName": r.display_name, "role": r.role, "client": r.client,
                 "joinTime": r.joined_at and r.joined_at.isoformat(), "leaveTime": r.left_at and r.left_at.isoformat(),
                 "durationSeconds": round((r.left_at - r.joined_at).total_seconds(), 3)
                 if r.joined_at and r.left_at else None,
                 "endReason": {"code": r.end_code, "subCode": r.end_sub_code} if r.end_code is not None else None}
                for r in sorted(rows, key=lambda r: int(r.participant_id.lstrip("p") or 0))]
