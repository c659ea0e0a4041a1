"""App registrations, their client secrets, and service principals."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Invalid, NotFound
from callbridge.directory.tenants import get_tenant
from callbridge.directory.values import COMMUNICATION_APP_ID, GRAPH_APP_ID, parse_guid
from callbridge.store.models import AppRegistration, ClientSecret, ServicePrincipal, Tenant
from callbridge.store.types import utcnow

FIRST_PARTY_APPS = {GRAPH_APP_ID: "Microsoft Graph", COMMUNICATION_APP_ID: "Azure Communication Services"}


def _check_redirect_uri(uri: str) -> str:
    if not (uri.startswith("https://") or uri.startswith("http://localhost") or uri.startswith("http://127.0.0.1")):
        raise Invalid(f"redirect URI {uri!r} must use https (http only for localhost)")
    if "#" in uri:
        raise Invalid(f"redirect URI {uri!r} must not contain a fragment")
    return uri


async def create_app(
    s: AsyncSession,
    tenant_ref: str,
    display_name: str,
    *,
    multi_tenant: bool = False,
    allow_public_client: bool = False,
    redirect_uris: list[str] | None = None,
    permissions: dict[str, Any] | None = None,
    client_id: str | None = None,
) -> AppRegistration:
    tenant = await get_tenant(s, tenant_ref)
    app = AppRegistration(
        tenant_id=tenant.id,
        display_name=display_name,
        multi_tenant=multi_tenant,
        allow_public_client=allow_public_client,
        redirect_uris=[_check_redirect_uri(u) for u in redirect_uris or []],
        required_permissions=permissions or {},
    )
    if client_id:
        app.client_id = parse_guid(client_id, "client id")
    s.add(app)
    await s.flush()
    await ensure_service_principal(s, tenant, app.client_id)
    return app


async def get_app(s: AsyncSession, client_id: str) -> AppRegistration:
    app = await s.get(AppRegistration, parse_guid(client_id, "client id"))
    if app is None:
        raise NotFound(f"no app registration {client_id!r}")
    return app


async def list_apps(s: AsyncSession) -> list[AppRegistration]:
    return list((await s.scalars(select(AppRegistration).order_by(AppRegistration.display_name))).all())


async def add_secret(s: AsyncSession, client_id: str, lifetime_days: int = 365) -> tuple[ClientSecret, str]:
    """Returns the stored secret and its value, which is shown once and kept only as a hash."""
    if lifetime_days < 1:
        raise Invalid("a secret must live at least one day")
    app = await get_app(s, client_id)
    value = secrets.token_urlsafe(32)
    stored = ClientSecret(
        client_id=app.client_id,
        hint=value[:3],
        secret_hash=_digest(value),
        expires_at=utcnow() + timedelta(days=lifetime_days),
    )
    s.add(stored)
    await s.flush()
    await s.refresh(app, ["secrets"])
    return stored, value


def secret_matches(app: AppRegistration, value: str, now: datetime) -> bool:
    digest = _digest(value)
    return any(hmac.compare_digest(sec.secret_hash, digest) and sec.expires_at > now for sec in app.secrets)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def add_redirect_uri(app: AppRegistration, uri: str) -> None:
    if uri not in app.redirect_uris:
        app.redirect_uris = [*app.redirect_uris, _check_redirect_uri(uri)]


async def ensure_service_principal(s: AsyncSession, tenant: Tenant, app_id: str) -> ServicePrincipal:
    found = await s.scalar(
        select(ServicePrincipal).where(ServicePrincipal.tenant_id == tenant.id, ServicePrincipal.app_id == app_id)
    )
    if found:
        return found
    if app_id in FIRST_PARTY_APPS:
        name = FIRST_PARTY_APPS[app_id]
    else:
        name = (await get_app(s, app_id)).display_name
    sp = ServicePrincipal(tenant_id=tenant.id, app_id=app_id, display_name=name)
    s.add(sp)
    await s.flush()
    return sp


async def find_service_principal(s: AsyncSession, tenant_id: str, app_id: str) -> ServicePrincipal | None:
    return await s.scalar(
        select(ServicePrincipal).where(ServicePrincipal.tenant_id == tenant_id, ServicePrincipal.app_id == app_id)
    )
