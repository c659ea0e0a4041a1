"""Fixtures of the integration tier: a fresh, migrated database per test on each backend (SQLite, PostgreSQL).

PostgreSQL is a throwaway server (tests/support/postgres.py) started once for the session; each test gets a
database of its own. A missing PostgreSQL fails these tests; CALLBRIDGE_SKIP_POSTGRES=1 skips them instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from callbridge.store.db import Database
from tests.support.postgres import throwaway_postgres

SKIP_POSTGRES = "CALLBRIDGE_SKIP_POSTGRES"


# -- one fresh, migrated database per test, on each backend ---------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if os.environ.get(SKIP_POSTGRES) == "1":
        pytest.skip(f"{SKIP_POSTGRES}=1")
    with throwaway_postgres() as url:  # raises, failing the tests, when PostgreSQL is not installed
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'callbridge.db'}"
    else:
        server = make_url(request.getfixturevalue("postgres_server"))
        name = f"cb_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = server.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    await database.migrate()
    await database.migrate()  # a second run on every start must be harmless
    yield database
    await database.close()


