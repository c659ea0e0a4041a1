"""Engine, sessions and migrations. SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, Row, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; safe on every start)."""

    def upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(upgrade)


class ReadSession(Protocol):
    """What read-only services use of a session; ``AsyncSession`` and ``InlineSession`` both offer it."""

    async def get(self, entity: Any, ident: Any) -> Any: ...

    async def scalar(self, statement: Any, params: Any = None) -> Any: ...

    async def scalars(self, statement: Any, params: Any = None) -> Any: ...

    async def execute(self, statement: Any, params: Any = None) -> Any: ...


class InlineSession:
    """The ``ReadSession`` methods of an ``AsyncSession``, answered by a synchronous ``Session`` in this thread."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def get(self, entity: Any, ident: Any) -> Any:
        return self._session.get(entity, ident)

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return self._session.scalar(statement, params)

    async def scalars(self, statement: Any, params: Any = None) -> Any:
        return self._session.scalars(statement, params)

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return self._session.execute(statement, params)


class Database:
    """The store: one engine and its session factory.

    On SQLite, reads (``fetch_all``, ``reading()``) run on a plain ``sqlite3`` connection in the event loop's
    thread: a WAL read takes tens of microseconds, less than aiosqlite's hand-offs to its worker thread cost.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sync_reads: Engine | None = None
        if url.startswith("sqlite+aiosqlite"):
            self._sync_reads = sa_create_engine(url.replace("+aiosqlite", "", 1), poolclass=StaticPool,
                                                connect_args={"check_same_thread": False})
            event.listen(self._sync_reads, "connect", _sqlite_pragmas)

    async def fetch_all(self, statement: Executable, params: dict[str, Any]) -> list[Row[Any]]:
        """Rows of a read-only statement, by the cheapest path the backend has."""
        if self._sync_reads is not None:
            with self._sync_reads.connect() as conn:
                return list(conn.execute(statement, params).all())
        async with self.engine.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        await migrate(self.engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as s:
            yield s

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as s, s.begin():
            yield s

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[ReadSession]:
        """A session for read-only work: inline on SQLite, an ``AsyncSession`` elsewhere."""
        if self._sync_reads is None:
            async with self.sessions() as s:
                yield s
            return
        with Session(self._sync_reads, expire_on_commit=False) as sync:
            yield InlineSession(sync)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._sync_reads is not None:
            self._sync_reads.dispose()
