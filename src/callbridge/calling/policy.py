"""Who may call whom, checked against the directory before a call is placed: ACS's refusals with their codes.

The directory is read in one round trip (``_PARTIES``: both users, their tenants' settings, their Teams licences
and whether each is a member of the thread), then judged by a pure function; this is on every call's set-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, exists, select

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError
from callbridge.calling.end_reasons import EndReason
from callbridge.calling.identifiers import Kind, parse_raw_id
from callbridge.calling.routing import routes
from callbridge.directory.errors import Invalid
from callbridge.directory.values import Licence, is_guid, parse_e164
from callbridge.store.models import ChatMember, Tenant, Trunk, User, UserLicence

ZERO_GUID = "00000000-0000-0000-0000-000000000000"

FetchAll = Callable[[Executable, dict[str, Any]], Awaitable[Sequence[Any]]]

_PARTIES = (
    select(User.id, User.tenant_id, User.display_name, User.account_enabled,
           Tenant.acs_interop_enabled.label("interop"), Tenant.federation_enabled.label("federates"),
           exists().where(UserLicence.user_id == User.id, UserLicence.sku == Licence.TEAMS.value)
           .label("licensed"),
           exists().where(ChatMember.chat_id == bindparam("thread_id"), ChatMember.user_id == User.id)
           .label("in_thread"))
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(User.id.in_([bindparam("caller_id"), bindparam("callee_id")]))
)


@dataclass(frozen=True)
class Party:
    """What the policy needs of one side of a call, as the directory has it now."""

    id: str
    tenant_id: str
    display_name: str
    enabled: bool
    interop: bool
    federates: bool
    licensed: bool
    in_thread: bool


@dataclass(frozen=True)
class Cleared:
    caller_name: str
    caller_tenant: str
    callee_raw_id: str
    callee_name: str
    callee_tenant: str
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


def _thread(thread_id: str | None) -> str:
    if not thread_id or thread_id == ZERO_GUID:
        raise _refuse(reasons.BAD_THREAD, "A call to a Teams user needs the threadId of a chat that has both people "
                                          "as members.")
    return thread_id


async def clear_call(fetch_all: FetchAll, caller_oid: str, target_raw_id: str, thread_id: str | None) -> Cleared:
    """The call as the directory allows it, or the refusal (a ``CallError`` with ACS's code and subcode)."""
    callee_oid = _teams_target(target_raw_id, caller_oid)
    thread = _thread(thread_id)
    rows = await fetch_all(_PARTIES, {"caller_id": caller_oid, "callee_id": callee_oid, "thread_id": thread})
    parties = {row.id: Party(row.id, row.tenant_id, row.display_name, bool(row.account_enabled), bool(row.interop),
                             bool(row.federates), bool(row.licensed), bool(row.in_thread)) for row in rows}
    return judge(parties, caller_oid, callee_oid, thread)


def judge(parties: Mapping[str, Party], caller_oid: str, callee_oid: str, thread_id: str) -> Cleared:
    caller, callee = parties.get(caller_oid), parties.get(callee_oid)
    if caller is None or not caller.enabled:
        raise _refuse(reasons.UNAUTHENTICATED, "The caller's account is disabled or gone.")
    if callee is None or not callee.enabled:
        raise _refuse(reasons.NOT_FOUND, "The callee does not exist.")
    if not caller.interop:
        raise _refuse(reasons.INTEROP_OFF, "Teams interop is not enabled for this organisation.")
    if callee.tenant_id != caller.tenant_id and not (caller.federates and callee.federates):
        raise _refuse(reasons.CROSS_TENANT, "The callee is in another organisation, and the two do not federate.")
    for who, party in (("caller", caller), ("callee", callee)):
        if not party.licensed:
            raise _refuse(reasons.NOT_LICENSED, f"The {who} has no Teams licence.")
    if not (caller.in_thread and callee.in_thread):
        raise _refuse(reasons.BAD_THREAD, "The thread is not a chat that has both people as members.")
    return Cleared(caller.display_name, caller.tenant_id, f"8:orgid:{callee.id}", callee.display_name,
                   callee.tenant_id, thread_id)


# -- calls to phone numbers (use case 1) -------------------------------------------------------------------------
_PHONE_CALLER = (
    select(User.id, User.tenant_id, User.display_name, User.account_enabled, User.enterprise_voice_enabled,
           User.phone_number, Tenant.acs_interop_enabled.label("interop"),
           exists().where(UserLicence.user_id == User.id, UserLicence.sku == Licence.TEAMS.value).label("teams"),
           exists().where(UserLicence.user_id == User.id, UserLicence.sku == Licence.TEAMS_PHONE.value)
           .label("phone"))
    .join(Tenant, Tenant.id == User.tenant_id)
    .where(User.id == bindparam("caller_id"))
)
_TRUNKS = select(Trunk).where(Trunk.tenant_id == bindparam("tenant_id"), Trunk.enabled.is_(True))


@dataclass(frozen=True)
class PhoneCleared:
    caller_name: str
    caller_tenant: str
    caller_number: str  # the caller id the phone sees: the caller's own number
    callee_raw_id: str
    number: str  # E.164
    trunk_ids: tuple[str, ...]  # the trunks carrying the number, in failover order (``calling.routing.routes``)


def phone_number_of(target_raw_id: str) -> str:
    """The E.164 number of a ``4:`` target, or the refusal."""
    target = parse_raw_id(target_raw_id)
    if target.kind is not Kind.PHONE_NUMBER or target.is_anonymous:
        raise _refuse(reasons.NOT_CALLABLE, f"'{target_raw_id[:80]}' is not a phone number that can be called.")
    try:
        return parse_e164(target.value)
    except Invalid as exc:
        raise _refuse(reasons.BAD_NUMBER, f"{exc}.") from None


async def clear_phone_call(fetch_all: FetchAll, caller_oid: str, target_raw_id: str) -> PhoneCleared:
    """A call to a phone number as Teams Phone allows it: a Teams and a Teams Phone licence, enterprise voice, an
    assigned number (the caller id), and a trunk of the tenant that carries the number."""
    number = phone_number_of(target_raw_id)
    rows = await fetch_all(_PHONE_CALLER, {"caller_id": caller_oid})
    if not rows or not rows[0].account_enabled:
        raise _refuse(reasons.UNAUTHENTICATED, "The caller's account is disabled or gone.")
    caller = rows[0]
    checks = ((caller.interop, reasons.INTEROP_OFF, "Teams interop is not enabled for this organisation."),
              (caller.teams, reasons.NOT_LICENSED, "The caller has no Teams licence."),
              (caller.phone, reasons.NOT_PHONE_LICENSED, "The caller has no Teams Phone licence."),
              (caller.enterprise_voice_enabled, reasons.NO_ENTERPRISE_VOICE,
               "Teams Enterprise voice policy isn't enabled for the caller."),
              (caller.phone_number, reasons.NO_CALLER_NUMBER, "The caller has no phone number assigned."))
    for passed, reason, message in checks:
        if not passed:
            raise _refuse(reason, message)
    trunks = routes(await fetch_all(_TRUNKS, {"tenant_id": caller.tenant_id}), number)
    if not trunks:
        raise _refuse(reasons.NO_ROUTE, f"None of the organisation's trunks carries {number}.")
    return PhoneCleared(caller.display_name, caller.tenant_id, caller.phone_number, f"4:{number}", number,
                        tuple(trunk.id for trunk in trunks))
