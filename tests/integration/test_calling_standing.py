"""The standing of communication tokens' identities, read alike on SQLite and PostgreSQL: what the socket
re-check (``calling.sockets``) and the handshake rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from callbridge.acs.standing import Standing, standings
from callbridge.directory import resources, tenants, users
from callbridge.store.db import Database
from callbridge.store.models import CommunicationIdentity

REVOKED_AT = datetime(2026, 12, 1, 12, 0, 0, 900_000, tzinfo=UTC)


async def test_standings_reads_users_and_communication_users_in_batches(db: Database) -> None:
    async with db.transaction() as s:
        await tenants.create_tenant(s, "Fabrikam", ["fabrikam.example"])
        alice = await users.create_user(s, "fabrikam.example", users.NewUser("alice@fabrikam.example", "Alice"))
        bob = await users.create_user(s, "fabrikam.example", users.NewUser("bob@fabrikam.example", "Bob"))
        resource = await resources.create_resource(s, "fabrikam.example", "calls")
        s.add(CommunicationIdentity(id=f"8:acs:{resource.id}_1", resource_id=resource.id))
        s.add(CommunicationIdentity(id=f"8:acs:{resource.id}_2", resource_id=resource.id,
                                    tokens_valid_from=REVOKED_AT))
    async with db.transaction() as s:
        await users.set_account_enabled(s, bob.id, False)
    strangers = [f"8:acs:{resource.id}_{uuid.uuid4()}" for _ in range(1200)]  # over one query's batch
    asked = [f"8:orgid:{alice.id.upper()}", f"8:orgid:{bob.id}", f"8:orgid:{uuid.uuid4()}", "8:orgid:not-a-guid",
             f"8:acs:{resource.id}_1", f"8:acs:{resource.id}_2", "4:+14255550101", *strangers]
    found = await standings(db, asked)
    assert found == {f"8:orgid:{alice.id}": Standing(enabled=True), f"8:orgid:{bob.id}": Standing(enabled=False),
                     f"8:acs:{resource.id}_1": Standing(), f"8:acs:{resource.id}_2": Standing(
                         tokens_valid_from=REVOKED_AT)}
