"""Communication resources and their two rotatable access keys."""

from __future__ import annotations

import base64
import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.tenants import get_tenant
from callbridge.directory.values import check_length, is_guid, parse_guid
from callbridge.store.models import CommunicationResource
from callbridge.store.types import utcnow

KEY_NAMES = ("primary", "secondary")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")  # ASCII only, like an Azure resource name


def new_access_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


async def create_resource(s: AsyncSession, tenant_ref: str, name: str) -> CommunicationResource:
    tenant = await get_tenant(s, tenant_ref)
    name = name.strip().lower()
    if not _NAME.fullmatch(name) or is_guid(name):
        raise Invalid(f"resource name {name!r} may hold only letters, digits and '-' (not first or last)")
    check_length(name, "a resource name", 128)
    if await s.scalar(select(CommunicationResource.id).where(CommunicationResource.name == name)):
        raise Conflict(f"resource {name} already exists")
    resource = CommunicationResource(
        tenant_id=tenant.id, name=name, primary_key=new_access_key(), secondary_key=new_access_key()
    )
    s.add(resource)
    await s.flush()
    return resource


async def get_resource(s: AsyncSession, ref: str) -> CommunicationResource:
    key = ref.strip().lower()
    where = CommunicationResource.id == parse_guid(key) if is_guid(key) else CommunicationResource.name == key
    resource = await s.scalar(select(CommunicationResource).where(where))
    if resource is None:
        raise NotFound(f"no communication resource {ref!r}")
    return resource


async def list_resources(s: AsyncSession) -> list[CommunicationResource]:
    return list((await s.scalars(select(CommunicationResource).order_by(CommunicationResource.name))).all())


async def rotate_key(s: AsyncSession, ref: str, which: str) -> CommunicationResource:
    if which not in KEY_NAMES:
        raise Invalid(f"key must be one of {', '.join(KEY_NAMES)}, not {which!r}")
    resource = await get_resource(s, ref)
    setattr(resource, f"{which}_key", new_access_key())
    resource.keys_rotated_at = utcnow()
    return resource


def endpoint(base_url: str) -> str:
    """The communication identity API's endpoint: the bare origin, as ACS's are (its clients refuse a path)."""
    return f"{base_url.rstrip('/')}/"


def connection_string(resource: CommunicationResource, endpoint: str, which: str = "primary") -> str:
    return f"endpoint={endpoint};accesskey={getattr(resource, f'{which}_key')}"
