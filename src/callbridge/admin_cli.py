"""``callbridge admin``: tenants, users, licences, numbers, apps, consent, resources, signing keys and trunks."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.config import Settings
from callbridge.directory import apps, consent, resources, tenants, users
from callbridge.directory.errors import DirectoryError, Invalid
from callbridge.directory.values import parse_guid
from callbridge.private_files import secure_data_dir
from callbridge.pstn import trunks

T = TypeVar("T")


def run_admin(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(session)`` in one transaction against the configured store; a directory error is one line
    on stderr, exit code 1, and nothing is changed."""
    from callbridge.store.db import Database

    async def main() -> T:
        settings = Settings()
        secure_data_dir(settings.data_dir)
        db = Database(settings.effective_database_url)
        try:
            await db.migrate()
            async with db.transaction() as s:
                return await action(s)
        finally:
            await db.close()

    from sqlalchemy.exc import IntegrityError

    try:
        return asyncio.run(main())
    except DirectoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except IntegrityError:  # a concurrent change won the race past the directory's own checks
        click.echo("error: the change conflicts with one made at the same time; nothing was changed", err=True)
        sys.exit(1)


def _run(action: Callable[[AsyncSession], Awaitable[list[str]]]) -> None:
    """Run ``action`` in one transaction; print the lines it returns only once that transaction is committed,
    so a refused change never prints output that looks like success."""
    for line in run_admin(action):
        click.echo(line)


def _on_off(value: str) -> bool:
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise Invalid(f"expected on or off, not {value!r}")


@click.group()
def admin() -> None:
    """Manage the directory (changes are atomic: an error changes nothing)."""


# -- tenants -------------------------------------------------------------------------------------------------
@admin.group()
def tenant() -> None:
    """Tenants and their settings."""


@tenant.command("create")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, required=True, help="verified domain (repeatable)")
@click.option("--id", "tenant_id", default=None, help="tenant GUID (default: a new one)")
@click.option("--interop/--no-interop", default=True, help="Teams interop with communication resources")
@click.option("--password-grant/--no-password-grant", default=False, help="allow the password grant (tests)")
def tenant_create(name: str, domains: tuple[str, ...], tenant_id: str | None, interop: bool,
                  password_grant: bool) -> None:
    async def act(s: AsyncSession) -> list[str]:
        t = await tenants.create_tenant(s, name, list(domains), tenant_id=tenant_id, acs_interop_enabled=interop,
                                        password_grant_enabled=password_grant)
        return [f"{t.id}\t{t.display_name}\t{','.join(d.name for d in t.domains)}"]

    _run(act)


@tenant.command("list")
def tenant_list() -> None:
    async def act(s: AsyncSession) -> list[str]:
        lines = []
        for t in await tenants.list_tenants(s):
            flags = [k for k in tenants.TENANT_SETTINGS if getattr(t, k)]
            lines.append(f"{t.id}\t{t.display_name}\t{','.join(d.name for d in t.domains)}\t{' '.join(flags)}")
        return lines

    _run(act)


@tenant.command("set")
@click.argument("tenant_ref")
@click.argument("setting", type=click.Choice(tenants.TENANT_SETTINGS))
@click.argument("value")
def tenant_set(tenant_ref: str, setting: str, value: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        await tenants.set_tenant_setting(s, tenant_ref, setting, _on_off(value))
        return [f"{setting} = {value}"]

    _run(act)


# -- users ---------------------------------------------------------------------------------------------------
@admin.group()
def user() -> None:
    """Users, licences and phone numbers."""


@user.command("create")
@click.argument("tenant_ref")
@click.argument("upn")
@click.option("--name", "display_name", required=True)
@click.option("--password", default=None)
@click.option("--given-name", default=None)
@click.option("--surname", default=None)
@click.option("--job-title", default=None)
@click.option("--licence", "licences", multiple=True, help="TEAMS, TEAMS_PHONE (repeatable)")
@click.option("--number", default=None, help="assigned phone number, E.164")
@click.option("--admin", "is_admin", is_flag=True, help="tenant administrator")
@click.option("--guest", is_flag=True, help="a guest account (userType Guest; meetings' lobby tells them apart)")
@click.option("--id", "user_id", default=None, help="object id GUID (default: a new one)")
def user_create(tenant_ref: str, upn: str, display_name: str, password: str | None, given_name: str | None,
                surname: str | None, job_title: str | None, licences: tuple[str, ...], number: str | None,
                is_admin: bool, guest: bool, user_id: str | None) -> None:
    async def act(s: AsyncSession) -> list[str]:
        new = users.NewUser(upn=upn, display_name=display_name, password=password, given_name=given_name,
                            surname=surname, job_title=job_title, licences=list(licences), phone_number=number,
                            enterprise_voice=number is not None, admin=is_admin, user_id=user_id, guest=guest)
        u = await users.create_user(s, tenant_ref, new)
        return [f"{u.id}\t{u.user_principal_name}"]

    _run(act)


@user.command("list")
@click.argument("tenant_ref")
def user_list(tenant_ref: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        lines = []
        for u in await users.list_users(s, tenant_ref):
            state = "enabled" if u.account_enabled else "disabled"
            lines.append(f"{u.id}\t{u.user_principal_name}\t{u.display_name}\t{','.join(u.licence_skus) or '-'}\t"
                         f"{u.phone_number or '-'}\t{state}")
        return lines

    _run(act)


@user.command("licence")
@click.argument("user_ref")
@click.argument("operation", type=click.Choice(["add", "remove"]))
@click.argument("licence")
def user_licence(user_ref: str, operation: str, licence: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        u = await users.set_licence(s, user_ref, licence, operation == "add")
        return [f"{u.user_principal_name}\t{','.join(u.licence_skus) or '-'}"]

    _run(act)


@user.command("number")
@click.argument("user_ref")
@click.argument("number", required=False)
@click.option("--release", is_flag=True, help="release the user's number")
def user_number(user_ref: str, number: str | None, release: bool) -> None:
    if bool(number) == release:
        raise click.UsageError("give a number or --release")

    async def act(s: AsyncSession) -> list[str]:
        u = await users.assign_number(s, user_ref, None if release else number, enterprise_voice=False)
        return [f"{u.user_principal_name}\t{u.phone_number or '-'}"]

    _run(act)


@user.command("enable")
@click.argument("user_ref")
@click.option("--off", is_flag=True, help="disable the account instead")
def user_enable(user_ref: str, off: bool) -> None:
    async def act(s: AsyncSession) -> list[str]:
        u = await users.set_account_enabled(s, user_ref, not off)
        return [f"{u.user_principal_name}\t{'enabled' if u.account_enabled else 'disabled'}"]

    _run(act)


# -- app registrations and consent ---------------------------------------------------------------------------
@admin.group()
def app() -> None:
    """App registrations and client secrets."""


def _permissions(delegated: tuple[str, ...], application: tuple[str, ...]) -> dict[str, Any]:
    from callbridge.identity.scopes import APPLICATION, DELEGATED, ScopeError, _split

    result: dict[str, Any] = {}
    for kind, items, known in (("delegated", delegated, DELEGATED), ("application", application, APPLICATION)):
        for item in items:
            try:
                resource, name = _split(item)
            except ScopeError as exc:
                raise Invalid(str(exc)) from None
            if name not in known[resource]:
                raise Invalid(f"unknown {kind} permission {item!r}")
            result.setdefault(resource, {}).setdefault(kind, []).append(name)
    return result


@app.command("create")
@click.argument("tenant_ref")
@click.argument("name")
@click.option("--multi-tenant", is_flag=True)
@click.option("--public-client", is_flag=True, help="allow public client flows (PKCE, password grant)")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--permission", "delegated", multiple=True, help="delegated scope, e.g. User.Read or "
              "https://auth.msft.communication.azure.com/Teams.ManageCalls")
@click.option("--app-permission", "application", multiple=True, help="application permission, e.g. User.Read.All")
@click.option("--secret-days", type=int, default=0, help="also make a client secret living this many days")
def app_create(tenant_ref: str, name: str, multi_tenant: bool, public_client: bool, redirect_uris: tuple[str, ...],
               delegated: tuple[str, ...], application: tuple[str, ...], secret_days: int) -> None:
    async def act(s: AsyncSession) -> list[str]:
        a = await apps.create_app(s, tenant_ref, name, multi_tenant=multi_tenant, allow_public_client=public_client,
                                  redirect_uris=list(redirect_uris), permissions=_permissions(delegated, application))
        lines = [f"client_id\t{a.client_id}"]
        if secret_days:
            _, value = await apps.add_secret(s, a.client_id, secret_days)
            lines.append(f"client_secret\t{value}")
        return lines

    _run(act)


@app.command("list")
def app_list() -> None:
    async def act(s: AsyncSession) -> list[str]:
        lines = []
        for a in await apps.list_apps(s):
            kind = "multi-tenant" if a.multi_tenant else "single-tenant"
            lines.append(f"{a.client_id}\t{a.display_name}\t{kind}\t{' '.join(a.redirect_uris) or '-'}")
        return lines

    _run(act)


@app.command("secret")
@click.argument("client_id")
@click.option("--days", type=int, default=365)
def app_secret(client_id: str, days: int) -> None:
    async def act(s: AsyncSession) -> list[str]:
        stored, value = await apps.add_secret(s, client_id, days)
        return [f"{value}\t(expires {stored.expires_at:%Y-%m-%d}; shown once)"]

    _run(act)


@admin.group("consent")
def consent_group() -> None:
    """Consent grants."""


@consent_group.command("grant")
@click.argument("tenant_ref")
@click.argument("client_id")
def consent_grant(tenant_ref: str, client_id: str) -> None:
    """Admin consent: everyone in TENANT may use CLIENT_ID with what it requires."""

    async def act(s: AsyncSession) -> list[str]:
        t = await tenants.get_tenant(s, tenant_ref)
        granted = await consent.grant_admin_consent(s, t, await apps.get_app(s, parse_guid(client_id, "client id")))
        return [f"granted in {t.display_name}: {' '.join(granted) or '(nothing required)'}"]

    _run(act)


@consent_group.command("list")
@click.argument("tenant_ref")
def consent_list(tenant_ref: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        grants = await consent.list_grants(s, await tenants.get_tenant(s, tenant_ref))
        return [f"{g.client_id}\t{g.resource_app_id}\t{g.consent_type}\t{g.principal_id or '-'}\t{g.scopes}"
                for g in grants]

    _run(act)


# -- communication resources and keys ------------------------------------------------------------------------
@admin.group()
def resource() -> None:
    """Communication resources and their access keys."""


@resource.command("create")
@click.argument("tenant_ref")
@click.argument("name")
def resource_create(tenant_ref: str, name: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        r = await resources.create_resource(s, tenant_ref, name)
        return [f"{r.id}\t{r.name}"]

    _run(act)


@resource.command("list")
def resource_list() -> None:
    async def act(s: AsyncSession) -> list[str]:
        return [f"{r.id}\t{r.name}\tkeys rotated {r.keys_rotated_at:%Y-%m-%d %H:%M}"
                for r in await resources.list_resources(s)]

    _run(act)


@resource.command("rotate-key")
@click.argument("resource_ref")
@click.argument("which", type=click.Choice(resources.KEY_NAMES))
def resource_rotate(resource_ref: str, which: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        await resources.rotate_key(s, resource_ref, which)
        return [f"{which} key rotated"]

    _run(act)


@resource.command("connection-string")
@click.argument("resource_ref")
@click.option("--key", "which", type=click.Choice(resources.KEY_NAMES), default="primary")
def resource_connection_string(resource_ref: str, which: str) -> None:
    from callbridge.config import Settings

    async def act(s: AsyncSession) -> list[str]:
        r = await resources.get_resource(s, resource_ref)
        return [resources.connection_string(r, resources.endpoint(Settings().public_base_url), which)]

    _run(act)


@admin.group()
def keys() -> None:
    """Token signing keys."""


@keys.command("rotate")
@click.option("--purpose", type=click.Choice(["idp", "communication"]), default="idp")
def keys_rotate(purpose: str) -> None:
    """Make a new signing key; the old one stays published until the tokens it signed expire."""
    from callbridge.config import Settings
    from callbridge.identity.keys import KeyRing
    from callbridge.store.types import utcnow

    settings = Settings()
    lifetime = settings.longest_token_lifetime_s(purpose)

    async def act() -> None:
        from callbridge.store.db import Database

        secure_data_dir(settings.data_dir)
        db = Database(settings.effective_database_url)
        try:
            await db.migrate()
            ring = KeyRing(db, purpose, "RS256" if purpose == "idp" else "ES256")
            await ring.load(utcnow())
            key = await ring.rotate(utcnow(), timedelta(seconds=lifetime))
        finally:
            await db.close()
        click.echo(f"new {purpose} key {key.kid}; retired keys stay published for {lifetime} s")

    asyncio.run(act())


@keys.command("list")
def keys_list() -> None:
    from sqlalchemy import select

    from callbridge.store.models import SigningKey

    async def act(s: AsyncSession) -> list[str]:
        lines = []
        for k in (await s.scalars(select(SigningKey).order_by(SigningKey.created_at))).all():
            state = "active" if k.retired_at is None else f"retired, published until {k.publish_until:%Y-%m-%d %H:%M}"
            lines.append(f"{k.kid}\t{k.purpose}\t{k.algorithm}\t{k.created_at:%Y-%m-%d %H:%M}\t{state}")
        return lines

    _run(act)


# -- trunks ---------------------------------------------------------------------------------------------------
@admin.group()
def trunk() -> None:
    """Tenants' phone connectivity: SIP trunks to carriers or session border controllers."""


def _trunk_options(command: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option("--host", default=None, help="the peer's address or DNS name"),
        click.option("--port", type=int, default=None, help="the peer's SIP port (5060; 5061 for TLS)"),
        click.option("--transport", type=click.Choice(trunks.TRANSPORTS), default=None),
        click.option("--numbers", "prefixes", multiple=True, help="E.164 prefix it carries, + for all (repeatable)"),
        click.option("--allow", "sources", multiple=True, help="address or CIDR calls may come from (repeatable)"),
        click.option("--inbound-user", default=None, help="digest username the peer must authenticate with"),
        click.option("--inbound-password", default=None),
        click.option("--realm", default=trunks.DEFAULT_REALM, show_default=True, help="digest realm (inbound)"),
        click.option("--outbound-user", default=None, help="username to answer the peer's challenges with"),
        click.option("--outbound-password", default=None),
        click.option("--max-calls", type=int, default=None, help="concurrent calls (100)"),
        click.option("--max-cps", type=int, default=None, help="new calls per second (10)"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _trunk_changes(o: dict[str, Any], enabled: bool | None = None) -> trunks.TrunkChanges:
    def pair(user: str | None, password: str | None, realm: str, what: str) -> trunks.Credentials | None:
        if (user is None) != (password is None):
            raise Invalid(f"give both --{what}-user and --{what}-password")
        return trunks.Credentials(user, password, realm) if user is not None and password is not None else None

    return trunks.TrunkChanges(
        host=o["host"], port=o["port"], transport=o["transport"], enabled=enabled,
        number_prefixes=o["prefixes"] or None, allow_sources=o["sources"] or None,
        inbound=pair(o["inbound_user"], o["inbound_password"], o["realm"], "inbound"),
        outbound=pair(o["outbound_user"], o["outbound_password"], trunks.DEFAULT_REALM, "outbound"),
        max_calls=o["max_calls"], max_cps=o["max_cps"])


@trunk.command("add")
@click.argument("tenant_ref")
@click.argument("name")
@_trunk_options
def trunk_add(tenant_ref: str, name: str, **options: Any) -> None:
    async def act(s: AsyncSession) -> list[str]:
        return [trunks.describe(await trunks.add_trunk(s, tenant_ref, name, _trunk_changes(options)))]

    _run(act)
    _warn_unheard(options["transport"])


def _warn_unheard(transport: str | None) -> None:
    """A trunk on a transport this deployment's SIP side does not listen on cannot be called (nor call in)."""
    from callbridge.config import Settings

    listening = [t.lower() for t in Settings().sip_transports]
    if transport is not None and transport not in listening:
        click.echo(f"warning: SIP does not listen on {transport} here (CALLBRIDGE_SIP_TRANSPORTS is "
                   f"{','.join(listening)}): calls over this trunk fail until it does", err=True)


@trunk.command("set")
@click.argument("tenant_ref")
@click.argument("name")
@_trunk_options
@click.option("--enable/--disable", "enabled", default=None)
def trunk_set(tenant_ref: str, name: str, enabled: bool | None, **options: Any) -> None:
    async def act(s: AsyncSession) -> list[str]:
        return [trunks.describe(await trunks.change_trunk(s, tenant_ref, name, _trunk_changes(options, enabled)))]

    _run(act)
    _warn_unheard(options["transport"])


@trunk.command("list")
@click.argument("tenant_ref", required=False)
def trunk_list(tenant_ref: str | None) -> None:
    async def act(s: AsyncSession) -> list[str]:
        return [trunks.describe(t) for t in await trunks.list_trunks(s, tenant_ref)]

    _run(act)


@trunk.command("remove")
@click.argument("tenant_ref")
@click.argument("name")
def trunk_remove(tenant_ref: str, name: str) -> None:
    async def act(s: AsyncSession) -> list[str]:
        await trunks.remove_trunk(s, tenant_ref, name)
        return [f"trunk {name} removed"]

    _run(act)
