"""Consent: delegated permission grants (admin for a tenant, or one user) and application role grants."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.apps import ensure_service_principal, get_app
from callbridge.directory.errors import Invalid
from callbridge.directory.values import FIRST_PARTY_RESOURCES
from callbridge.store.models import AppRegistration, AppRoleGrant, ConsentGrant, Tenant, User

ALL_PRINCIPALS = "AllPrincipals"
PRINCIPAL = "Principal"


async def _ensure_first_party(s: AsyncSession, tenant: Tenant, resource_app_id: str) -> None:
    if resource_app_id not in FIRST_PARTY_RESOURCES:
        raise Invalid(f"unknown resource {resource_app_id!r}")
    await ensure_service_principal(s, tenant, resource_app_id)


async def grant_admin_consent(s: AsyncSession, tenant: Tenant, app: AppRegistration) -> list[str]:
    """Consent for the whole tenant to everything the app requires; returns what was granted."""
    if not app.multi_tenant and app.tenant_id != tenant.id:
        raise Invalid(f"app {app.display_name} is single-tenant and cannot be used in {tenant.display_name}")
    await ensure_service_principal(s, tenant, app.client_id)
    granted: list[str] = []
    for resource_app_id, perms in app.required_permissions.items():
        await _ensure_first_party(s, tenant, resource_app_id)
        delegated = list(perms.get("delegated", []))
        if delegated:
            await _merge_grant(s, tenant.id, app.client_id, resource_app_id, None, delegated)
            granted += delegated
        for role in perms.get("application", []):
            await _grant_role(s, tenant.id, app.client_id, resource_app_id, role)
            granted.append(role)
    return granted


async def grant_user_consent(
    s: AsyncSession, user: User, client_id: str, resource_app_id: str, scopes: list[str]
) -> None:
    app = await get_app(s, client_id)
    tenant = await s.get(Tenant, user.tenant_id)
    assert tenant is not None
    if not app.multi_tenant and app.tenant_id != tenant.id:
        raise Invalid(f"app {app.display_name} is single-tenant and cannot be used in {tenant.display_name}")
    await ensure_service_principal(s, tenant, app.client_id)
    await _ensure_first_party(s, tenant, resource_app_id)
    await _merge_grant(s, tenant.id, app.client_id, resource_app_id, user.id, scopes)


async def granted_scopes(
    s: AsyncSession, tenant_id: str, client_id: str, resource_app_id: str, user_id: str | None
) -> set[str]:
    """Delegated scopes the user (or, with None, everyone in the tenant) may use with the client."""
    who: ColumnElement[bool] = ConsentGrant.principal_id.is_(None)
    if user_id is not None:
        who = or_(who, ConsentGrant.principal_id == user_id)
    rows = await s.scalars(
        select(ConsentGrant.scopes).where(
            ConsentGrant.tenant_id == tenant_id,
            ConsentGrant.client_id == client_id,
            ConsentGrant.resource_app_id == resource_app_id,
            who,
        )
    )
    return {scope for row in rows for scope in row.split()}


async def granted_roles(s: AsyncSession, tenant_id: str, client_id: str, resource_app_id: str) -> set[str]:
    rows = await s.scalars(
        select(AppRoleGrant.role).where(
            AppRoleGrant.tenant_id == tenant_id,
            AppRoleGrant.client_id == client_id,
            AppRoleGrant.resource_app_id == resource_app_id,
        )
    )
    return set(rows)


async def list_grants(s: AsyncSession, tenant: Tenant) -> list[ConsentGrant]:
    query = select(ConsentGrant).where(ConsentGrant.tenant_id == tenant.id).order_by(ConsentGrant.created_at)
    return list((await s.scalars(query)).all())


async def _merge_grant(
    s: AsyncSession, tenant_id: str, client_id: str, resource_app_id: str, user_id: str | None, scopes: list[str]
) -> None:
    query = select(ConsentGrant).where(
        ConsentGrant.tenant_id == tenant_id,
        ConsentGrant.client_id == client_id,
        ConsentGrant.resource_app_id == resource_app_id,
        ConsentGrant.principal_id.is_(None) if user_id is None else ConsentGrant.principal_id == user_id,
    )
    grant = await s.scalar(query)
    if grant is None:
        grant = ConsentGrant(
            tenant_id=tenant_id,
            client_id=client_id,
            resource_app_id=resource_app_id,
            consent_type=ALL_PRINCIPALS if user_id is None else PRINCIPAL,
            principal_id=user_id,
            scopes="",
        )
        s.add(grant)
    grant.scopes = " ".join(sorted(set(grant.scopes.split()) | set(scopes)))
    await s.flush()


async def _grant_role(s: AsyncSession, tenant_id: str, client_id: str, resource_app_id: str, role: str) -> None:
    exists = await s.scalar(
        select(AppRoleGrant.id).where(
            AppRoleGrant.tenant_id == tenant_id,
            AppRoleGrant.client_id == client_id,
            AppRoleGrant.resource_app_id == resource_app_id,
            AppRoleGrant.role == role,
        )
    )
    if not exists:
        s.add(AppRoleGrant(tenant_id=tenant_id, client_id=client_id, resource_app_id=resource_app_id, role=role))
        await s.flush()
