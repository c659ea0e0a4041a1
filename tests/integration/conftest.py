"""Fixtures of the integration tier: a fresh, migrated database per test on each backend (SQLite, PostgreSQL).

PostgreSQL is a throwaway server (tests/support/postgres.py, the session fixture ``postgres_server`` of
tests/conftest.py, shared with the portal's store tests) started once for the session; each test gets a
database of its own. A missing PostgreSQL fails these tests; CALLBRIDGE_SKIP_POSTGRES=1 skips them instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.store.db import Database
from tests.support.postgres import fresh_database


# -- one fresh, migrated database per test, on each backend ---------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'callbridge.db'}"
    else:
        url = await fresh_database(request.getfixturevalue("postgres_server"), "cb")
    database = Database(url)
    await database.migrate()
    await database.migrate()  # a second run on every start must be harmless
    yield database
    await database.close()


