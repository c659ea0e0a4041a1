"""App registrations, their client secrets, and service principals."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.redirect_uris import parse_redirect_uri
from callbridge.directory.tenants import get_tenant
from callbridge.directory.values import COMMUNICATION_APP_ID, GRAPH_APP_ID, check_length, parse_guid
from callbridge.store.models import AppRegistration, ClientSecret, ServicePrincipal, Tenant
from callbridge.store.types import utcnow

FIRST_PARTY_APPS = {GRAPH_APP_ID: "Microsoft Graph", COMMUNICATION_APP_ID: "Azure Communication Services"}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_redirect_uri(uri: str) -> str:
    """An absolute https URL, or http on the loopback host itself (not ``http://localhost.evil.example``)."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise Invalid(f"redirect URI {uri!r} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise Invalid(f"redirect URI {uri!r} must use https (http only for localhost)")
    if parts.username is not None or parts.password is not None:
        raise Invalid(f"redirect URI {uri!r} must not hold a user name or password")
    if "#" in uri:
        raise Invalid(f"redirect URI {uri!r} must not contain a fragment")
    if parse_redirect_uri(uri) is None:  # backslashes, percent-encoding in the host, white space...
        raise Invalid(f"redirect URI {uri!r} is not a valid URL")
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
    name = check_length(display_name.strip(), "an app's display name", 256)
    if not name:
        raise Invalid("an app needs a display name")
    app = AppRegistration(
        tenant_id=tenant.id,
        display_name=name,
        multi_tenant=multi_tenant,
        allow_public_client=allow_public_client,
        redirect_uris=list(dict.fromkeys(_check_redirect_uri(u) for u in redirect_uris or [])),
        required_permissions=permissions or {},
    )
    if client_id:
        app.client_id = parse_guid(client_id, "client id")
        if await s.get(AppRegistration, app.client_id) or app.client_id in FIRST_PARTY_APPS:
            raise Conflict(f"app {app.client_id} already exists")
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
