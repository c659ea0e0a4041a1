"""Each user's call history: the page records every finished call; the list is newest first, with the customer's
name where the peer is a phone number Contoso knows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.cookies import SessionUser
from portal.models import CallHistory, Customer, CustomerNumber

RECENT = 100


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


@dataclass(frozen=True)
class FinishedCall:
    call_id: str
    direction: Direction
    peer_raw_id: str
    peer_name: str
    started_at: datetime
    connected_at: datetime | None
    ended_at: datetime
    end_code: int
    end_sub_code: int


async def record(s: AsyncSession, user: SessionUser, call: FinishedCall) -> CallHistory:
    """Idempotent per call id: a page that records twice (two tabs, a retry) keeps one row."""
    existing = await s.scalar(select(CallHistory).where(CallHistory.account_key == user.account_key,
                                                        CallHistory.call_id == call.call_id))
    row = existing or CallHistory(tenant_id=user.tenant_id, account_key=user.account_key, call_id=call.call_id)
    row.direction, row.peer_raw_id, row.peer_name = call.direction.value, call.peer_raw_id, call.peer_name
    row.started_at, row.connected_at, row.ended_at = call.started_at, call.connected_at, call.ended_at
    row.end_code, row.end_sub_code = call.end_code, call.end_sub_code
    s.add(row)
    await s.flush()
    return row


async def recent(s: AsyncSession, user: SessionUser) -> list[tuple[CallHistory, Customer | None]]:
    rows = (await s.scalars(select(CallHistory).where(CallHistory.account_key == user.account_key)
                            .order_by(CallHistory.started_at.desc(), CallHistory.id.desc()).limit(RECENT))).all()
    numbers = {r.peer_raw_id.removeprefix("4:") for r in rows if r.peer_raw_id.startswith("4:")}
    known: dict[str, Customer] = {}
    if numbers:
        found = await s.execute(select(CustomerNumber.number, Customer).join(Customer).where(
            CustomerNumber.tenant_id == user.tenant_id, CustomerNumber.number.in_(numbers)))
        known = {number: customer for number, customer in found.all()}
    return [(r, known.get(r.peer_raw_id.removeprefix("4:")) if r.peer_raw_id.startswith("4:") else None)
            for r in rows]
