"""``/organization`` and ``/organization/{id}``: the caller's own tenant, in Graph's shape. Any signed-in user may
read it (``User.Read`` is its least privileged delegated permission); an application needs
``Organization.Read.All`` or ``Directory.Read.All``. Another tenant's id is simply not found."""

from __future__ import annotations

from typing import Any

from callbridge.graph.auth import Caller
from callbridge.graph.errors import bad_request, user_not_found
from callbridge.store.db import ReadSession
from callbridge.store.models import Tenant

DELEGATED = {"User.Read", "User.ReadBasic.All", "User.Read.All", "Organization.Read.All", "Directory.Read.All"}
APPLICATION = {"Organization.Read.All", "Directory.Read.All"}
SELECTABLE = ("id", "displayName", "tenantType", "verifiedDomains", "createdDateTime", "businessPhones",
              "countryLetterCode", "deletedDateTime")


def _select(names: list[str] | None) -> tuple[str, ...]:
    if names is None:
        return SELECTABLE
    canonical = {n.lower(): n for n in SELECTABLE}
    unknown = [n for n in names if n.lower() not in canonical]
    if unknown:
        raise bad_request(f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.organization'.")
    return tuple(canonical[n.lower()] for n in names)


def to_graph(tenant: Tenant, names: list[str] | None) -> dict[str, Any]:
    domains = sorted(tenant.domains, key=lambda d: (not d.is_default, d.name))
    whole: dict[str, Any] = {
        "id": tenant.id, "displayName": tenant.display_name, "tenantType": "AAD",
        "verifiedDomains": [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d.is_default,
                             "isInitial": d.name.endswith(".onmicrosoft.com"), "name": d.name, "type": "Managed"}
                            for d in domains],
        "createdDateTime": tenant.created_at.isoformat().replace("+00:00", "Z"), "businessPhones": [],
        "countryLetterCode": None, "deletedDateTime": None,
    }
    return {name: whole[name] for name in _select(names)}


async def organization(s: ReadSession, caller: Caller, ref: str | None, names: list[str] | None) -> dict[str, Any]:
    caller.require(DELEGATED, APPLICATION)
    if ref is not None and ref.lower() != caller.tenant_id:
        raise user_not_found(ref)
    tenant: Tenant | None = await s.get(Tenant, caller.tenant_id)
    if tenant is None:
        raise user_not_found(ref or caller.tenant_id)
    return to_graph(tenant, names)
