"""The authority's tenant: the first path segment, as on Entra (``https://<host>/{tenant}/v2.0``), so MSAL and
azure-identity, which read the tenant (their cache realm) off that segment, keep each tenant's tokens apart.

The segment is a GUID, a domain name (with a dot), ``organizations`` or ``common``; ``consumers`` (personal
Microsoft accounts, which callbridge has none of) is matched so that it is refused in words. The route
convertor ``tenant`` matches only these shapes, so the tenant routes at the root never shadow another root path
(``/graph``, ``/identities``, ``/calling``, ``/healthz``...)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import Convertor, register_url_convertor

from callbridge.directory.tenants import find_tenant
from callbridge.identity.errors import OAuthError
from callbridge.store.models import Tenant

MULTI_TENANT_SEGMENTS = ("common", "organizations")
CONSUMERS = "consumers"
_GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
TENANT_SEGMENT = f"(?:{_GUID}|{_DOMAIN}|(?i:common|organizations|consumers))"


class TenantConvertor(Convertor[str]):
    """``{tenant:tenant}`` in a route: a path segment shaped like a tenant, nothing else."""

    regex = TENANT_SEGMENT

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("tenant", TenantConvertor())
PREFIX = "/{tenant:tenant}"  # the identity routers' prefix
_IDENTITY_PATH = re.compile(f"^/{TENANT_SEGMENT}(/(?:oauth2|v2\\.0|discovery|adminconsent)(?:/.*)?)$")


def route_template(path: str) -> str:
    """An identity route's path with its tenant spelled ``/{tenant}`` (as its route template, the metrics and the
    edge's ``http_body_limits`` name it); any other path unchanged."""
    match = _IDENTITY_PATH.match(path)
    return f"/{{tenant}}{match.group(1)}" if match else path


@dataclass(frozen=True)
class Authority:
    segment: str
    tenant_id: str | None  # None for common / organizations

    def admits(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id


async def resolve_authority(s: AsyncSession, segment: str) -> Authority:
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return Authority(segment.lower(), None)
    if segment.lower() == CONSUMERS:
        raise OAuthError(
            "invalid_request",
            "Personal Microsoft accounts are not served: there are only work and school accounts here. Do not use "
            "the /consumers endpoint; use a tenant ID or domain, /organizations or /common.",
            9002346,
        )
    tenant: Tenant | None = await find_tenant(s, segment)
    if tenant is None:
        raise OAuthError(
            "invalid_tenant",
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud.",
            90002,
        )
    return Authority(segment, tenant.id)


def issuer(base_url: str, tenant_id: str) -> str:
    return f"{base_url}/{tenant_id}/v2.0"


def openid_configuration(base_url: str, authority: Authority) -> dict[str, Any]:
    root = f"{base_url}/{authority.segment}"
    return {
        "issuer": issuer(base_url, authority.tenant_id or "{tenantid}"),
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "userinfo_endpoint": f"{base_url}/graph/oidc/userinfo",
        "response_types_supported": ["code", "id_token", "code id_token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "name", "oid", "tid",
            "preferred_username", "email", "ver", "c_hash", "given_name", "family_name",
        ],
        "tenant_region_scope": None,
        "cloud_instance_name": "callbridge",
        "request_uri_parameter_supported": False,
    }
