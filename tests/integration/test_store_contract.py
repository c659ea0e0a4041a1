"""The store's contract, run alike on SQLite and on PostgreSQL: the directory behaves the same on both.

PostgreSQL is a throwaway server (tests/support/postgres.py) started once for the session; each test gets a
database of its own. A missing PostgreSQL fails these tests; CALLBRIDGE_SKIP_POSTGRES=1 skips them instead.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from callbridge.directory import apps, consent, resources, tenants, users
from callbridge.directory.errors import Conflict, Invalid, NotFound
from callbridge.directory.values import COMMUNICATION_APP_ID, GRAPH_APP_ID, Licence
from callbridge.store.db import Database
from callbridge.store.models import AppRegistration, Base, ClientSecret, Tenant, User

ALICE_NUMBER = "+14255550101"
PERMISSIONS = {
    GRAPH_APP_ID: {"delegated": ["User.Read", "Presence.Read"], "application": ["User.Read.All"]},
    COMMUNICATION_APP_ID: {"delegated": ["Teams.ManageCalls", "Teams.ManageChats"]},
}


async def _fabrikam(db: Database) -> Tenant:
    async with db.transaction() as s:
        return await tenants.create_tenant(s, "Fabrikam", ["fabrikam.example", "Fabrikam-Sales.Example"])


async def _contoso(db: Database) -> Tenant:
    async with db.transaction() as s:
        return await tenants.create_tenant(s, "Contoso", ["contoso.example"])


async def _user(db: Database, upn: str, **fields: object) -> User:
    async with db.transaction() as s:
        return await users.create_user(s, upn.split("@")[1], users.NewUser(upn=upn, display_name=upn, **fields))


async def _app(db: Database, tenant: Tenant, *, multi_tenant: bool = False) -> AppRegistration:
    async with db.transaction() as s:
        return await apps.create_app(s, tenant.id, "Calling", multi_tenant=multi_tenant, permissions=PERMISSIONS,
                                     redirect_uris=["https://calling.fabrikam.example/cb", "http://localhost"])


# -- schema ---------------------------------------------------------------------------------------------------
def _modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Everything but the expression indexes on lower(column), which only the migration declares."""
    return not (type_ == "index" and (name or "").startswith("ix_users_tenant_lower_"))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_migrations_reach_head_and_match_the_models(db: Database) -> None:
    await db.migrate()

    def inspect(connection: object) -> tuple[str | None, list[object]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _modelled})
        return context.get_current_revision(), compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        revision, differences = await conn.run_sync(inspect)
    from alembic.script import ScriptDirectory

    from callbridge.store.db import alembic_config

    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert differences == []


# -- tenants --------------------------------------------------------------------------------------------------
async def test_a_tenant_is_found_by_guid_and_by_each_domain_in_any_case(db: Database) -> None:
    created = await _fabrikam(db)

    async with db.session() as s:
        for ref in (created.id, created.id.upper(), "fabrikam.example", "FABRIKAM-sales.example "):
            found = await tenants.get_tenant(s, ref)
            assert (found.id, found.display_name) == (created.id, "Fabrikam")
        assert sorted(d.name for d in found.domains) == ["fabrikam-sales.example", "fabrikam.example"]
        assert tenants.default_domain(found) == "fabrikam.example"
        assert await tenants.find_tenant(s, "contoso.example") is None
        assert await tenants.find_tenant(s, str(uuid.uuid4())) is None
        with pytest.raises(NotFound, match=re.escape("no tenant 'contoso.example'")):
            await tenants.get_tenant(s, "contoso.example")


async def test_a_domain_is_verified_by_one_tenant_only(db: Database) -> None:
    await _fabrikam(db)

    with pytest.raises(Conflict, match=re.escape("domain fabrikam.example is already verified by another tenant")):
        async with db.transaction() as s:
            await tenants.create_tenant(s, "Impostor", ["impostor.example", "FABRIKAM.example"])

    async with db.session() as s:
        assert [t.display_name for t in await tenants.list_tenants(s)] == ["Fabrikam"]
        assert await tenants.find_tenant(s, "impostor.example") is None


async def test_tenant_settings_are_stored(db: Database) -> None:
    tenant = await _fabrikam(db)
    async with db.transaction() as s:
        await tenants.set_tenant_setting(s, "fabrikam.example", "user_consent_allowed", False)
        with pytest.raises(Invalid, match="unknown tenant setting"):
            await tenants.set_tenant_setting(s, "fabrikam.example", "display_name", True)

    async with db.session() as s:
        stored = await tenants.get_tenant(s, tenant.id)
        assert (stored.user_consent_allowed, stored.acs_interop_enabled, stored.password_grant_enabled) == (
            False, True, False)


# -- users, numbers, licences ---------------------------------------------------------------------------------
async def test_users_are_found_by_id_and_by_upn_in_any_case(db: Database) -> None:
    fabrikam = await _fabrikam(db)
    contoso = await _contoso(db)
    alice = await _user(db, "Alice@Fabrikam.Example", licences=["teams"])

    async with db.session() as s:
        for ref in (alice.id, alice.id.upper(), "alice@fabrikam.example", " ALICE@fabrikam.EXAMPLE"):
            found = await users.get_user(s, ref)
            assert (found.id, found.user_principal_name) == (alice.id, "alice@fabrikam.example")
        assert found.licence_skus == ["TEAMS"]
        assert found.account_enabled and found.phone_number is None
        assert await users.find_user(s, "alice@fabrikam.example", fabrikam) is not None
        assert await users.find_user(s, "alice@fabrikam.example", contoso) is None  # only within that tenant


async def test_a_upn_belongs_to_one_user(db: Database) -> None:
    await _fabrikam(db)
    await _user(db, "alice@fabrikam.example")

    with pytest.raises(Conflict, match=re.escape("user alice@fabrikam.example already exists")):
        await _user(db, "ALICE@fabrikam.example")

    async with db.session() as s:
        assert await users.count_users(s) == 1


async def test_a_user_only_gets_a_domain_of_their_own_tenant(db: Database) -> None:
    await _fabrikam(db)
    await _contoso(db)

    refused = re.escape("domain contoso.example of bob@contoso.example is not verified by tenant Fabrikam")
    with pytest.raises(Invalid, match=refused):
        async with db.transaction() as s:
            await users.create_user(s, "fabrikam.example", users.NewUser("bob@contoso.example", "Bob"))


async def test_a_number_belongs_to_one_user_and_a_refused_transaction_leaves_nothing(db: Database) -> None:
    await _fabrikam(db)
    await _user(db, "alice@fabrikam.example", phone_number="+1 425 555 0101")

    with pytest.raises(Conflict, match=r"number \+14255550101 is already assigned to alice@fabrikam.example"):
        async with db.transaction() as s:
            await users.create_user(s, "fabrikam.example", users.NewUser("carol@fabrikam.example", "Carol"))
            await users.create_user(s, "fabrikam.example",
                                    users.NewUser("bob@fabrikam.example", "Bob", phone_number="+1 (425) 555-0101"))

    async with db.session() as s:
        assert [u.user_principal_name for u in await users.list_users(s, "fabrikam.example")] == [
            "alice@fabrikam.example"]
        assert (await users.get_user(s, "alice@fabrikam.example")).phone_number == ALICE_NUMBER


async def test_numbers_are_assigned_and_released(db: Database) -> None:
    await _fabrikam(db)
    await _user(db, "alice@fabrikam.example", phone_number=ALICE_NUMBER, enterprise_voice=True)
    await _user(db, "bob@fabrikam.example")

    with pytest.raises(Conflict, match=re.escape("already assigned to alice@fabrikam.example")):
        async with db.transaction() as s:
            await users.assign_number(s, "bob@fabrikam.example", "+1 425 555 0101", enterprise_voice=True)
    async with db.transaction() as s:
        await users.assign_number(s, "alice@fabrikam.example", ALICE_NUMBER, enterprise_voice=True)  # her own
        await users.assign_number(s, "alice@fabrikam.example", None, enterprise_voice=False)
    async with db.transaction() as s:
        await users.assign_number(s, "bob@fabrikam.example", "+1 425-555-0101", enterprise_voice=False)

    async with db.session() as s:
        alice = await users.get_user(s, "alice@fabrikam.example")
        bob = await users.get_user(s, "bob@fabrikam.example")
        assert (alice.phone_number, alice.enterprise_voice_enabled) == (None, False)
        assert (bob.phone_number, bob.enterprise_voice_enabled) == (ALICE_NUMBER, True)  # a number brings voice


async def test_licences_are_added_and_removed(db: Database) -> None:
    await _fabrikam(db)
    await _user(db, "alice@fabrikam.example", licences=["TEAMS", "teams"])

    async with db.transaction() as s:
        await users.set_licence(s, "alice@fabrikam.example", "teams_phone", assigned=True)
        await users.set_licence(s, "alice@fabrikam.example", "TEAMS_PHONE", assigned=True)
    async with db.session() as s:
        alice = await users.get_user(s, "alice@fabrikam.example")
        assert alice.licence_skus == ["TEAMS", "TEAMS_PHONE"]
        assert users.has_licence(alice, Licence.TEAMS_PHONE)
        assert all(lic.assigned_at.tzinfo is UTC for lic in alice.licences)

    async with db.transaction() as s:
        await users.set_licence(s, "alice@fabrikam.example", "TEAMS", assigned=False)
        await users.set_licence(s, "alice@fabrikam.example", "TEAMS", assigned=False)
        with pytest.raises(Invalid, match="unknown licence 'E5'"):
            await users.set_licence(s, "alice@fabrikam.example", "E5", assigned=True)
    async with db.session() as s:
        assert (await users.get_user(s, "alice@fabrikam.example")).licence_skus == ["TEAMS_PHONE"]


async def test_accounts_are_disabled_and_enabled(db: Database) -> None:
    await _fabrikam(db)
    await _user(db, "alice@fabrikam.example")
    async with db.transaction() as s:
        await users.set_account_enabled(s, "alice@fabrikam.example", False)
    async with db.session() as s:
        assert not (await users.get_user(s, "alice@fabrikam.example")).account_enabled


async def test_explicit_ids_must_be_unused(db: Database) -> None:
    tenant = await _fabrikam(db)
    alice = await _user(db, "alice@fabrikam.example")
    app = await _app(db, tenant)

    with pytest.raises(Conflict, match=f"tenant {tenant.id} already exists"):
        async with db.transaction() as s:
            await tenants.create_tenant(s, "Again", ["again.example"], tenant_id=tenant.id.upper())
    with pytest.raises(Conflict, match=f"user {alice.id} already exists"):
        await _user(db, "bob@fabrikam.example", user_id=alice.id.upper())
    with pytest.raises(Conflict, match=f"app {app.client_id} already exists"):
        async with db.transaction() as s:
            await apps.create_app(s, tenant.id, "Again", client_id=app.client_id)
    with pytest.raises(Invalid, match="user id 'not-a-guid' is not a GUID"):
        await _user(db, "bob@fabrikam.example", user_id="not-a-guid")

    async with db.session() as s:
        assert len(await tenants.list_tenants(s)) == 1
        assert await users.count_users(s) == 1
        assert len(await apps.list_apps(s)) == 1


async def test_values_too_long_for_their_column_are_refused_on_every_backend(db: Database) -> None:
    tenant = await _fabrikam(db)
    too_long = "x" * 257
    attempts = [
        (lambda s: tenants.create_tenant(s, too_long, ["long.example"]), "a tenant's display name"),
        (lambda s: users.create_user(s, tenant.id, users.NewUser("bob@fabrikam.example", too_long)),
         "a user's display name"),
        (lambda s: users.create_user(s, tenant.id, users.NewUser(f"{too_long}@fabrikam.example", "Bob")),
         "a userPrincipalName"),
        (lambda s: users.create_user(s, tenant.id, users.NewUser("bob@fabrikam.example", "Bob",
                                                                 job_title=too_long)), "a job title"),
        (lambda s: apps.create_app(s, tenant.id, too_long), "an app's display name"),
        (lambda s: resources.create_resource(s, tenant.id, "r" * 129), "a resource name"),
    ]
    for attempt, what in attempts:
        with pytest.raises(Invalid, match=f"{what} is longer than"):
            async with db.transaction() as s:
                await attempt(s)

    async with db.session() as s:
        assert (len(await tenants.list_tenants(s)), await users.count_users(s)) == (1, 0)


# -- apps and consent -----------------------------------------------------------------------------------------
async def test_admin_consent_grants_the_required_scopes_and_roles(db: Database) -> None:
    fabrikam = await _fabrikam(db)
    contoso = await _contoso(db)
    app = await _app(db, fabrikam, multi_tenant=True)

    for _ in range(2):  # consenting again changes nothing
        async with db.transaction() as s:
            granted = await consent.grant_admin_consent(s, contoso, await apps.get_app(s, app.client_id))
        assert sorted(granted) == ["Presence.Read", "Teams.ManageCalls", "Teams.ManageChats", "User.Read",
                                   "User.Read.All"]

    async with db.session() as s:
        assert await consent.granted_scopes(s, contoso.id, app.client_id, GRAPH_APP_ID, None) == {
            "User.Read", "Presence.Read"}
        assert await consent.granted_scopes(s, contoso.id, app.client_id, COMMUNICATION_APP_ID, None) == {
            "Teams.ManageCalls", "Teams.ManageChats"}
        assert await consent.granted_roles(s, contoso.id, app.client_id, GRAPH_APP_ID) == {"User.Read.All"}
        assert await consent.granted_roles(s, fabrikam.id, app.client_id, GRAPH_APP_ID) == set()
        grants = await consent.list_grants(s, contoso)
        assert sorted((g.resource_app_id, g.consent_type, g.principal_id) for g in grants) == [
            (GRAPH_APP_ID, "AllPrincipals", None), (COMMUNICATION_APP_ID, "AllPrincipals", None)]
        for app_id in (app.client_id, GRAPH_APP_ID, COMMUNICATION_APP_ID):
            assert await apps.find_service_principal(s, contoso.id, app_id) is not None


async def test_user_consent_merges_scopes_for_that_user_only(db: Database) -> None:
    tenant = await _fabrikam(db)
    app = await _app(db, tenant)
    alice = await _user(db, "alice@fabrikam.example")
    bob = await _user(db, "bob@fabrikam.example")

    async with db.transaction() as s:
        await consent.grant_user_consent(s, alice, app.client_id, GRAPH_APP_ID, ["User.Read"])
    async with db.transaction() as s:
        await consent.grant_user_consent(s, alice, app.client_id, GRAPH_APP_ID, ["Presence.Read", "User.Read"])

    async with db.session() as s:
        assert await consent.granted_scopes(s, tenant.id, app.client_id, GRAPH_APP_ID, alice.id) == {
            "User.Read", "Presence.Read"}
        assert await consent.granted_scopes(s, tenant.id, app.client_id, GRAPH_APP_ID, bob.id) == set()
        assert await consent.granted_scopes(s, tenant.id, app.client_id, GRAPH_APP_ID, None) == set()
        [grant] = await consent.list_grants(s, tenant)
        assert (grant.consent_type, grant.principal_id, grant.scopes) == ("Principal", alice.id,
                                                                          "Presence.Read User.Read")


async def test_a_single_tenant_app_cannot_be_consented_in_another_tenant(db: Database) -> None:
    fabrikam = await _fabrikam(db)
    contoso = await _contoso(db)
    app = await _app(db, fabrikam)
    carol = await _user(db, "carol@contoso.example")

    with pytest.raises(Invalid, match="app Calling is single-tenant and cannot be used in Contoso"):
        async with db.transaction() as s:
            await consent.grant_admin_consent(s, contoso, await apps.get_app(s, app.client_id))
    with pytest.raises(Invalid, match="single-tenant"):
        async with db.transaction() as s:
            await consent.grant_user_consent(s, carol, app.client_id, GRAPH_APP_ID, ["User.Read"])

    async with db.session() as s:
        assert await consent.list_grants(s, contoso) == []
        assert await apps.find_service_principal(s, contoso.id, app.client_id) is None
        assert await consent.granted_roles(s, contoso.id, app.client_id, GRAPH_APP_ID) == set()


async def test_client_secrets_are_kept_as_hashes_and_match_until_they_expire(db: Database) -> None:
    tenant = await _fabrikam(db)
    app = await _app(db, tenant)
    async with db.transaction() as s:
        stored, value = await apps.add_secret(s, app.client_id, lifetime_days=30)
        with pytest.raises(Invalid, match="at least one day"):
            await apps.add_secret(s, app.client_id, lifetime_days=0)

    async with db.session() as s:
        reloaded = await apps.get_app(s, app.client_id)
        [secret] = reloaded.secrets
        assert value not in (secret.secret_hash, secret.hint) and secret.hint == value[:3]
        now = datetime.now(UTC)
        assert apps.secret_matches(reloaded, value, now)
        assert not apps.secret_matches(reloaded, value + "x", now)
        assert not apps.secret_matches(reloaded, value, stored.expires_at + timedelta(seconds=1))


# -- communication resources ----------------------------------------------------------------------------------
async def test_rotating_a_resource_key_changes_only_that_key(db: Database) -> None:
    tenant = await _fabrikam(db)
    async with db.transaction() as s:
        created = await resources.create_resource(s, tenant.id, " Fabrikam-ACS ")
    assert created.name == "fabrikam-acs" and created.primary_key != created.secondary_key

    async with db.transaction() as s:
        await resources.rotate_key(s, "fabrikam-acs", "primary")
    async with db.session() as s:
        rotated = await resources.get_resource(s, created.id.upper())
        assert rotated.primary_key != created.primary_key
        assert rotated.secondary_key == created.secondary_key
        assert rotated.keys_rotated_at > created.keys_rotated_at
        endpoint = resources.endpoint("https://cb.example")
        assert endpoint == "https://cb.example/"
        assert resources.connection_string(rotated, endpoint) == (
            f"endpoint=https://cb.example/;accesskey={rotated.primary_key}")
        assert resources.connection_string(rotated, endpoint, "secondary").endswith(
            created.secondary_key)


async def test_resource_names_are_unique_and_checked(db: Database) -> None:
    tenant = await _fabrikam(db)
    async with db.transaction() as s:
        await resources.create_resource(s, tenant.id, "fabrikam-acs")

    for name, error, message in [
        ("FABRIKAM-ACS", Conflict, "resource fabrikam-acs already exists"),
        ("fabrikam acs", Invalid, "may hold only letters"),
        ("-acs", Invalid, "may hold only letters"),
        ("café", Invalid, "may hold only letters"),
        (str(uuid.uuid4()), Invalid, "may hold only letters"),
    ]:
        with pytest.raises(error, match=message):
            async with db.transaction() as s:
                await resources.create_resource(s, tenant.id, name)
    with pytest.raises(Invalid, match="key must be one of primary, secondary"):
        async with db.transaction() as s:
            await resources.rotate_key(s, "fabrikam-acs", "tertiary")

    async with db.session() as s:
        assert [r.name for r in await resources.list_resources(s)] == ["fabrikam-acs"]


# -- column types ---------------------------------------------------------------------------------------------
async def test_timestamps_come_back_timezone_aware_utc(db: Database) -> None:
    tenant = await _fabrikam(db)
    app = await _app(db, tenant)
    expires = datetime(2030, 6, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.transaction() as s:
        s.add(ClientSecret(client_id=app.client_id, hint="abc", secret_hash="0" * 64, expires_at=expires))

    async with db.session() as s:
        stored = await tenants.get_tenant(s, tenant.id)
        assert stored.created_at.tzinfo is UTC
        assert abs(datetime.now(UTC) - stored.created_at) < timedelta(minutes=5)
        secret = await s.scalar(select(ClientSecret).where(ClientSecret.expires_at > expires - timedelta(seconds=1)))
        assert secret is not None
        assert secret.expires_at.tzinfo is UTC
        assert secret.expires_at == expires  # the same instant
        assert secret.expires_at.hour == 12  # ... told in UTC
        assert await s.scalar(select(ClientSecret).where(ClientSecret.expires_at > expires)) is None

    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as s:
            s.add(ClientSecret(client_id=app.client_id, hint="abc", secret_hash="1" * 64,
                               expires_at=datetime(2030, 1, 1)))  # naive: refused


async def test_json_columns_round_trip(db: Database) -> None:
    tenant = await _fabrikam(db)
    phones = ["+1 425 555 0101", "+44 20 7946 0958 (Zürich office)"]
    await _user(db, "alice@fabrikam.example", business_phones=phones)
    app = await _app(db, tenant)
    async with db.transaction() as s:
        stored_app = await apps.get_app(s, app.client_id)
        apps.add_redirect_uri(stored_app, "https://calling.fabrikam.example/second")

    async with db.session() as s:
        assert (await users.get_user(s, "alice@fabrikam.example")).business_phones == phones
        assert (await users.get_user(s, "alice@fabrikam.example")).mail == "alice@fabrikam.example"
        reloaded = await apps.get_app(s, app.client_id)
        assert reloaded.redirect_uris == ["https://calling.fabrikam.example/cb", "http://localhost",
                                          "https://calling.fabrikam.example/second"]
        assert reloaded.required_permissions == PERMISSIONS
