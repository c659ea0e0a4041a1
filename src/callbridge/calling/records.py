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

from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from callbridge.calling.call import Call
from callbridge.store.db import Database
from callbridge.store.models import CallRecord
from callbridge.tasks import cancelled

log = logging.getLogger("callbridge.calling")

MAX_PENDING = 100_000
_INSERT = insert(CallRecord.__table__)  # type: ignore[arg-type]


def record_of(call: Call) -> dict[str, Any]:
    """A call's record. A meeting one person joined and left alone has no second party: its callee is the
    meeting's thread, and nobody answered."""
    assert call.ended_at is not None and call.end_reason is not None
    legs = list(call.participants.values())
    callee = legs[1] if len(legs) > 1 else None
    return {"id": call.id, "tenant_id": call.caller.tenant_id, "thread_id": call.thread_id,
            "caller_id": call.caller.raw_id, "callee_id": callee.raw_id if callee else (call.thread_id or "")[:256],
            "caller_agent": call.caller.agent_id, "answered_by": callee.agent_id if callee else None,
            "started_at": call.created_at, "connected_at": call.connected_at,
            "ended_at": call.ended_at, "end_code": call.end_reason.code, "end_sub_code": call.end_reason.sub_code,
            "trunk_call_id": call.trunk_call_id}


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
        self._pending: list[dict[str, Any]] = []
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
        self._pending.extend(records)
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

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        if not self._retry_singly:
            async with self.db.engine.begin() as conn:
                await conn.execute(_INSERT, rows)
            return
        for i, row in enumerate(rows):
            try:
                async with self.db.engine.begin() as conn:
                    await conn.execute(_INSERT, [row])
            except IntegrityError:
                log.error("call record refused by the database, dropped", extra={"call_id": row["id"]})
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
        with contextlib.suppress(Exception):
            await self.flush()
        async with self.db.reading() as s:
            rows = (await s.scalars(select(CallRecord).where(or_(CallRecord.caller_id == raw_id,
                                                                 CallRecord.callee_id == raw_id))
                                    .order_by(CallRecord.started_at.desc()).limit(limit))).all()
        return [{"callId": r.id, "threadId": r.thread_id, "direction": "Outgoing" if r.caller_id == raw_id
                 else "Incoming", "caller": r.caller_id, "callee": r.callee_id,
                 "startTime": r.started_at.isoformat(), "connectTime": r.connected_at and r.connected_at.isoformat(),
                 "endTime": r.ended_at.isoformat(), "answeredBy": r.answered_by,
                 "endReason": {"code": r.end_code, "subCode": r.end_sub_code},
                 **({"sipCallId": r.trunk_call_id} if r.trunk_call_id else {})} for r in rows]
