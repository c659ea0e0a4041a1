"""Users: identity, licences, enterprise voice and the assigned phone number."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.passwords import hash_password
from callbridge.directory.tenants import get_tenant
from callbridge.directory.values import (
    Licence,
    check_length,
    is_guid,
    parse_e164,
    parse_guid,
    parse_licence,
    parse_upn,
)
from callbridge.store.models import Tenant, User, UserLicence


@dataclass
class NewUser:
    upn: str
    display_name: str
    password: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    mobile_phone: str | None = None
    business_phones: list[str] = field(default_factory=list)
    office_location: str | None = None
    licences: list[str] = field(default_factory=list)
    phone_number: str | None = None
    enterprise_voice: bool = False
    admin: bool = False
    user_id: str | None = None
    guest: bool = False  # a guest account (Graph userType Guest), as Entra's B2B guests are


def _optional_fields(new: NewUser) -> list[tuple[str | None, str, int]]:
    return [
        (new.given_name, "a given name", 64),
        (new.surname, "a surname", 64),
        (new.job_title, "a job title", 128),
        (new.mobile_phone, "a mobile phone", 64),
        (new.office_location, "an office location", 128),
    ]


async def create_user(s: AsyncSession, tenant_ref: str, new: NewUser) -> User:
    tenant = await get_tenant(s, tenant_ref)
    upn, domain = parse_upn(new.upn)
    check_length(upn, "a userPrincipalName", 256)
    if domain not in {d.name for d in tenant.domains}:
        raise Invalid(f"domain {domain} of {upn} is not verified by tenant {tenant.display_name}")
    if not new.display_name.strip():
        raise Invalid("a user needs a display name")
    check_length(new.display_name.strip(), "a user's display name", 256)
    for value, what, limit in _optional_fields(new):
        if value is not None:
            check_length(value, what, limit)
    licences = [parse_licence(x) for x in new.licences]
    number = parse_e164(new.phone_number) if new.phone_number else None
    user_id = parse_guid(new.user_id, "user id") if new.user_id else None
    if await s.scalar(select(User.id).where(User.user_principal_name == upn)):
        raise Conflict(f"user {upn} already exists")
    if user_id is not None and await s.get(User, user_id) is not None:
        raise Conflict(f"user {user_id} already exists")
    if number:
        await _ensure_number_free(s, number)
    user = User(
        tenant_id=tenant.id,
        user_principal_name=upn,
        display_name=new.display_name.strip(),
        given_name=new.given_name,
        surname=new.surname,
        mail=upn,
        job_title=new.job_title,
        mobile_phone=new.mobile_phone,
        business_phones=list(new.business_phones),
        office_location=new.office_location,
        preferred_language="en-US",
        password_hash=hash_password(new.password) if new.password else None,
        account_enabled=True,
        is_tenant_admin=new.admin,
        user_type="Guest" if new.guest else "Member",
        enterprise_voice_enabled=new.enterprise_voice,
        phone_number=number,
        licences=[UserLicence(sku=lic.value) for lic in dict.fromkeys(licences)],
    )
    if user_id:
        user.id = user_id
    s.add(user)
    await s.flush()
    return user


async def find_user(s: AsyncSession, ref: str, tenant: Tenant | None = None) -> User | None:
    """A user by object id or userPrincipalName, optionally only within ``tenant``."""
    ref = ref.strip().lower()
    query = select(User).where(User.id == parse_guid(ref) if is_guid(ref) else User.user_principal_name == ref)
    if tenant is not None:
        query = query.where(User.tenant_id == tenant.id)
    return await s.scalar(query)


async def get_user(s: AsyncSession, ref: str) -> User:
    user = await find_user(s, ref)
    if user is None:
        raise NotFound(f"no user {ref!r}")
    return user


async def list_users(s: AsyncSession, tenant_ref: str) -> list[User]:
    tenant = await get_tenant(s, tenant_ref)
    query = select(User).where(User.tenant_id == tenant.id).order_by(User.display_name)
    return list((await s.scalars(query)).all())


async def count_users(s: AsyncSession) -> int:
    return int(await s.scalar(select(func.count()).select_from(User)) or 0)


async def set_licence(s: AsyncSession, user_ref: str, licence: str, assigned: bool) -> User:
    user = await get_user(s, user_ref)
    lic = parse_licence(licence)
    have = {x.sku: x for x in user.licences}
    if assigned and lic.value not in have:
        user.licences.append(UserLicence(sku=lic.value))
    elif not assigned and lic.value in have:
        user.licences.remove(have[lic.value])
    await s.flush()
    return user


async def assign_number(s: AsyncSession, user_ref: str, number: str | None, enterprise_voice: bool) -> User:
    """Assign (or with None, release) a number; assigning one enables enterprise voice as Teams does."""
    user = await get_user(s, user_ref)
    if number is None:
        user.phone_number = None
        user.enterprise_voice_enabled = enterprise_voice
        return user
    e164 = parse_e164(number)
    if e164 != user.phone_number:
        await _ensure_number_free(s, e164)
    user.phone_number = e164
    user.enterprise_voice_enabled = True
    await s.flush()
    return user


async def set_account_enabled(s: AsyncSession, user_ref: str, enabled: bool) -> User:
    user = await get_user(s, user_ref)
    user.account_enabled = enabled
    return user


async def _ensure_number_free(s: AsyncSession, e164: str) -> None:
    owner = await s.scalar(select(User.user_principal_name).where(User.phone_number == e164))
    if owner:
        raise Conflict(f"number {e164} is already assigned to {owner}")


def has_licence(user: User, licence: Licence) -> bool:
    return licence.value in user.licence_skus
