"""Who may call whom, checked against the directory before a call is placed: ACS's refusals with their codes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.identifiers import Kind, parse_raw_id
from callbridge.directory.values import Licence, is_guid
from callbridge.store.db import ReadSession
from callbridge.store.models import ChatMember, Tenant, User

ZERO_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Cleared:
    caller_name: str
    callee_raw_id: str
    callee_name: str
    thread_id: str


def _refuse(reason: EndReason, message: str) -> CallError:
    return CallError(reason.code, reason.sub_code, message)


def _teams_target(target_raw_id: str, caller_oid: str) -> str:
    """The object id of a callable Teams user, or the refusal."""
    target = parse_raw_id(target_raw_id)
    if target.kind is Kind.PHONE_NUMBER:
        raise _refuse(reasons.NO_PHONE_CONNECTIVITY,
                      "Calls to phone numbers need the tenant's phone connectivity (not configured).")
    if target.kind is not Kind.TEAMS_USER or target.is_anonymous or not is_guid(target.value):
        raise _refuse(reasons.NOT_CALLABLE, f"'{target_raw_id[:80]}' is not a Teams user that can be called.")
    if target.value.lower() == caller_oid:
        raise _refuse(reasons.SELF_CALL, "A user cannot call themselves.")
    return target.value.lower()


async def clear_call(s: ReadSession, caller_oid: str, target_raw_id: str, thread_id: str | None) -> Cleared:
    callee_oid = _teams_target(target_raw_id, caller_oid)
    caller: User | None = await s.get(User, caller_oid)
    callee: User | None = await s.get(User, callee_oid)
    if caller is None or not caller.account_enabled:
        raise _refuse(reasons.UNAUTHENTICATED, "The caller's account is disabled or gone.")
    if callee is None or not callee.account_enabled:
        raise _refuse(reasons.NOT_FOUND, "The callee does not exist.")
    tenant: Tenant | None = await s.get(Tenant, caller.tenant_id)
    if tenant is None or not tenant.acs_interop_enabled:
        raise _refuse(reasons.INTEROP_OFF, "Teams interop is not enabled for this organisation.")
    if callee.tenant_id != caller.tenant_id:
        other: Tenant | None = await s.get(Tenant, callee.tenant_id)
        if not (tenant.federation_enabled and other is not None and other.federation_enabled):
            raise _refuse(reasons.CROSS_TENANT, "The callee is in another organisation, and the two do not federate.")
    for who, user in (("caller", caller), ("callee", callee)):
        if Licence.TEAMS.value not in user.licence_skus:
            raise _refuse(reasons.NOT_LICENSED, f"The {who} has no Teams licence.")
    await _check_thread(s, thread_id, caller.id, callee.id)
    assert thread_id is not None
    return Cleared(caller.display_name, f"8:orgid:{callee.id}", callee.display_name, thread_id)


async def _check_thread(s: ReadSession, thread_id: str | None, *members: str) -> None:
    if not thread_id or thread_id == ZERO_GUID:
        raise _refuse(reasons.BAD_THREAD, "A call to a Teams user needs the threadId of a chat that has both people as "
                                  "members.")
    rows = await s.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == thread_id,
                                                            ChatMember.user_id.in_(members)))
    if len(set(rows.all())) != len(members):
        raise _refuse(reasons.BAD_THREAD, "The thread is not a chat that has both people as members.")
