"""Tenants and their verified domains."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.values import check_length, is_guid, parse_domain, parse_guid
from callbridge.store.models import Tenant, TenantDomain

TENANT_SETTINGS = ("acs_interop_enabled", "password_grant_enabled", "user_consent_allowed", "federation_enabled")


async def create_tenant(
    s: AsyncSession,
    display_name: str,
    domains: list[str],
    *,
    tenant_id: str | None = None,
    acs_interop_enabled: bool = True,
    password_grant_enabled: bool = False,
) -> Tenant:
    if not display_name.strip():
        raise Invalid("a tenant needs a display name")
    check_length(display_name.strip(), "a tenant's display name", 256)
    if not domains:
        raise Invalid("a tenant needs at least one verified domain")
    names = [parse_domain(d) for d in domains]
    taken = (await s.scalars(select(TenantDomain.name).where(TenantDomain.name.in_(names)))).all()
    if taken:
        raise Conflict(f"domain {taken[0]} is already verified by another tenant")
    tid = parse_guid(tenant_id, "tenant id") if tenant_id else None
    if tid is not None and await s.get(Tenant, tid) is not None:
        raise Conflict(f"tenant {tid} already exists")
    tenant = Tenant(
        display_name=display_name.strip(),
        acs_interop_enabled=acs_interop_enabled,
        password_grant_enabled=password_grant_enabled,
        user_consent_allowed=True,
        domains=[TenantDomain(name=n, is_default=i == 0) for i, n in enumerate(dict.fromkeys(names))],
    )
    if tid:
        tenant.id = tid
    s.add(tenant)
    await s.flush()
    return tenant


async def find_tenant(s: AsyncSession, ref: str) -> Tenant | None:
    """A tenant by GUID or by one of its verified domains."""
    ref = ref.strip().lower()
    if is_guid(ref):
        return await s.get(Tenant, parse_guid(ref))
    domain = await s.get(TenantDomain, ref)
    return await s.get(Tenant, domain.tenant_id) if domain else None


async def get_tenant(s: AsyncSession, ref: str) -> Tenant:
    tenant = await find_tenant(s, ref)
    if tenant is None:
        raise NotFound(f"no tenant {ref!r}")
    return tenant


async def list_tenants(s: AsyncSession) -> list[Tenant]:
    return list((await s.scalars(select(Tenant).order_by(Tenant.display_name))).all())


async def set_tenant_setting(s: AsyncSession, ref: str, setting: str, value: bool) -> Tenant:
    if setting not in TENANT_SETTINGS:
        raise Invalid(f"unknown tenant setting {setting!r} (known: {', '.join(TENANT_SETTINGS)})")
    tenant = await get_tenant(s, ref)
    setattr(tenant, setting, value)
    return tenant


def default_domain(tenant: Tenant) -> str:
    return next((d.name for d in tenant.domains if d.is_default), tenant.domains[0].name)
