"""A tenant's phone connectivity: its SIP trunks, managed with ``callbridge admin trunk``.

A trunk names its peer (host, port, transport), the destinations it carries (E.164 prefixes; the longest match
among a tenant's enabled trunks wins), who may send it calls (source CIDRs, and/or a digest challenge whose
credentials are kept as HA1 hashes), the credentials callbridge answers the carrier's challenges with, and its
limits (concurrent calls, new calls per second).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.tenants import get_tenant
from callbridge.directory.values import check_length, parse_domain
from callbridge.sip.digest import DigestError, HA1Lookup, ha1, hash_name
from callbridge.store.models import Trunk

TRANSPORTS = ("udp", "tcp", "tls")
DEFAULT_REALM = "callbridge"
_PREFIX = re.compile(r"\+[0-9]{0,15}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    realm: str = DEFAULT_REALM


@dataclass(frozen=True)
class TrunkChanges:
    """What ``add`` sets or ``change`` changes; ``None`` leaves a field as it is."""

    host: str | None = None
    port: int | None = None
    transport: str | None = None
    enabled: bool | None = None
    number_prefixes: Sequence[str] | None = None
    allow_sources: Sequence[str] | None = None
    inbound: Credentials | None = None
    outbound: Credentials | None = None
    max_calls: int | None = None
    max_cps: int | None = None


def parse_host(value: str) -> str:
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return parse_domain(text)


def parse_prefix(value: str) -> str:
    """An E.164 prefix: ``+`` (every number), ``+1``, ``+1425555``..."""
    text = value.strip().replace(" ", "")
    if not _PREFIX.fullmatch(text):
        raise Invalid(f"number prefix {value!r} must be + and up to 15 digits (+ alone: every number)")
    return text


def parse_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise Invalid(f"source {value!r} is not an address or a CIDR range") from None


def _bounded(value: int, what: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise Invalid(f"{what} must be between {low} and {high}, not {value}")
    return value


def _choice(value: str, what: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise Invalid(f"{what} {value!r} is not one of {', '.join(choices)}")
    return value.lower()


def _credentials(value: Credentials, what: str) -> Credentials:
    if not value.username or not value.password:
        raise Invalid(f"{what} credentials need a username and a password")
    check_length(value.username, f"the {what} username", 128)
    check_length(value.realm, f"the {what} realm", 128)
    check_length(value.password, f"the {what} password", 256)
    return value


def _apply(trunk: Trunk, c: TrunkChanges) -> None:  # noqa: C901 - one guarded assignment per field
    if c.host is not None:
        trunk.host = parse_host(c.host)
    if c.port is not None:
        trunk.port = _bounded(c.port, "the port", 1, 65535)
    if c.transport is not None:
        trunk.transport = _choice(c.transport, "transport", TRANSPORTS)
    if c.enabled is not None:
        trunk.enabled = c.enabled
    if c.number_prefixes is not None:
        trunk.number_prefixes = sorted({parse_prefix(p) for p in c.number_prefixes})
    if c.allow_sources is not None:
        trunk.allow_sources = sorted({parse_cidr(a) for a in c.allow_sources})
    if c.inbound is not None:
        inbound = _credentials(c.inbound, "inbound")
        trunk.inbound_realm, trunk.inbound_username = inbound.realm, inbound.username
        trunk.inbound_ha1_md5 = ha1(inbound.username, inbound.realm, inbound.password, "MD5")
        trunk.inbound_ha1_sha256 = ha1(inbound.username, inbound.realm, inbound.password, "SHA-256")
    if c.outbound is not None:
        outbound = _credentials(c.outbound, "outbound")
        trunk.outbound_username, trunk.outbound_password = outbound.username, outbound.password
    if c.max_calls is not None:
        trunk.max_calls = _bounded(c.max_calls, "max concurrent calls", 1, 100_000)
    if c.max_cps is not None:
        trunk.max_cps = _bounded(c.max_cps, "max calls per second", 1, 10_000)


def _check(trunk: Trunk) -> None:
    if not trunk.number_prefixes:
        raise Invalid("a trunk needs the numbers it carries (--numbers +1425, or + for every number)")
    if not trunk.allow_sources and not trunk.inbound_ha1_md5:
        raise Invalid("a trunk needs inbound sources (--allow CIDR) or inbound credentials, or both")
    if trunk.transport == "tls" and trunk.port == 5060:
        raise Invalid("SIP over TLS is on port 5061 unless the carrier says otherwise: give --port")


async def add_trunk(s: AsyncSession, tenant_ref: str, name: str, changes: TrunkChanges) -> Trunk:
    tenant = await get_tenant(s, tenant_ref)
    if not _NAME.fullmatch(name):
        raise Invalid(f"trunk name {name!r}: letters, digits, '.', '_' and '-', up to 64")
    if await _find(s, tenant.id, name) is not None:
        raise Conflict(f"tenant {tenant.display_name} already has a trunk named {name!r}")
    if changes.host is None:
        raise Invalid("a trunk needs its peer's host (--host)")
    trunk = Trunk(tenant_id=tenant.id, name=name, port=5060, transport="udp", enabled=True,
                  number_prefixes=[], allow_sources=[], max_calls=100, max_cps=10)
    _apply(trunk, changes)
    _check(trunk)
    s.add(trunk)
    await s.flush()
    return trunk


async def change_trunk(s: AsyncSession, tenant_ref: str, name: str, changes: TrunkChanges) -> Trunk:
    trunk = await get_trunk(s, tenant_ref, name)
    _apply(trunk, changes)
    _check(trunk)
    return trunk


async def remove_trunk(s: AsyncSession, tenant_ref: str, name: str) -> None:
    await s.delete(await get_trunk(s, tenant_ref, name))


async def get_trunk(s: AsyncSession, tenant_ref: str, name: str) -> Trunk:
    tenant = await get_tenant(s, tenant_ref)
    trunk = await _find(s, tenant.id, name)
    if trunk is None:
        raise NotFound(f"tenant {tenant.display_name} has no trunk named {name!r}")
    return trunk


async def list_trunks(s: AsyncSession, tenant_ref: str | None = None) -> list[Trunk]:
    query = select(Trunk).order_by(Trunk.tenant_id, Trunk.name)
    if tenant_ref is not None:
        query = query.where(Trunk.tenant_id == (await get_tenant(s, tenant_ref)).id)
    return list((await s.scalars(query)).all())


async def _find(s: AsyncSession, tenant_id: str, name: str) -> Trunk | None:
    return await s.scalar(select(Trunk).where(Trunk.tenant_id == tenant_id, Trunk.name == name))


def source_allowed(trunk: Trunk, address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(cidr) for cidr in trunk.allow_sources)


def ha1_lookup(trunk: Trunk) -> HA1Lookup:
    """The `DigestVerifier` lookup for a trunk's inbound credentials: the stored HA1 for its username and realm, from
    the MD5 or the SHA-256 column by the algorithm asked for (``-sess`` or not), None for anything else. The values
    are read now, so the lookup works once the database session is gone."""
    username, realm = trunk.inbound_username, trunk.inbound_realm
    stored = {"MD5": trunk.inbound_ha1_md5, "SHA-256": trunk.inbound_ha1_sha256}

    def lookup(user: str, user_realm: str, algorithm: str) -> str | None:
        if not username or user != username or user_realm != realm:
            return None
        try:
            return stored.get(hash_name(algorithm))
        except DigestError:
            return None

    return lookup


def describe(trunk: Trunk) -> str:
    inbound = f"digest {trunk.inbound_username}@{trunk.inbound_realm}" if trunk.inbound_username else "no digest"
    outbound = f"answers challenges as {trunk.outbound_username}" if trunk.outbound_username else "no credentials"
    state = "enabled" if trunk.enabled else "disabled"
    return (f"{trunk.name}\t{trunk.transport}:{trunk.host}:{trunk.port}\t{state}"
            f"\tnumbers {' '.join(trunk.number_prefixes)}"
            f"\tfrom {' '.join(trunk.allow_sources) or '-'} ({inbound})\t{outbound}"
            f"\t{trunk.max_calls} calls, {trunk.max_cps}/s")
