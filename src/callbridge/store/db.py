"""Engine, sessions and migrations. SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, Row, Select, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection, StaticPool

from callbridge.private_files import PRIVATE_FILE, private_file, tighten

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _private_sqlite_file(url: str) -> None:
    """A SQLite database file is made 0600 before SQLite opens it (its -wal and -shm files take its mode)."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:") and Path(database).parent.is_dir():
        private_file(Path(database))
        for suffix in ("-wal", "-shm", "-journal"):
            tighten(Path(database + suffix), PRIVATE_FILE)


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


PreparedRead = Callable[[dict[str, Any]], Awaitable[Sequence[Any]]]


class _InlineStatement:
    """A SELECT compiled once for the inline SQLite path: its SQL, its parameters in order (with the values it
    binds itself, such as literals in the query) and what each result column needs to become a Python value.
    Rows are named tuples with the statement's column names, as ``Row`` reads them by attribute and index."""

    def __init__(self, sql: str, order: Sequence[str], defaults: dict[str, Any],
                 binds: Mapping[str, Callable[[Any], Any]], keys: Sequence[str],
                 results: Sequence[Callable[[Any], Any] | None]) -> None:
        self.sql, self.order, self.defaults, self.binds = sql, tuple(order), defaults, binds
        self.results = tuple(results) if any(results) else None
        row: Any = namedtuple("Row", keys)  # type: ignore[misc]  # field names known at run time
        self.make: Callable[[Iterable[Any]], Any] = row._make

    @classmethod
    def compile(cls, statement: Select[*tuple[Any, ...]], engine: Engine) -> _InlineStatement | None:
        """None when the statement needs more than this path does (parameters expanded or rendered at run time,
        column names that are not identifiers)."""
        compiled = statement.compile(dialect=engine.dialect)
        keys = [column.keyname for column in compiled._result_columns]
        if (compiled.positiontup is None or compiled.post_compile_params or compiled.literal_execute_params
                or not all(key.isidentifier() and not key.startswith("_") for key in keys)
                or len(set(keys)) != len(keys)):
            return None
        binds = {name: bind for name, bind in compiled._bind_processors.items() if callable(bind)}
        if len(binds) != len(compiled._bind_processors):  # a tuple's per-element processors
            return None
        dialect = engine.dialect
        results = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                   for column in compiled._result_columns]
        return cls(compiled.string, compiled.positiontup, dict(compiled.construct_params(_check=False)), binds, keys,
                   results)

    def parameters(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = {**self.defaults, **params}
        binds = self.binds
        return tuple(binds[name](values[name]) if name in binds else values[name] for name in self.order)

    def rows(self, fetched: list[tuple[Any, ...]]) -> list[Any]:
        make, results = self.make, self.results
        if results is None:
            return [make(row) for row in fetched]
        return [make(value if convert is None else convert(value) for convert, value in zip(results, row, strict=True))
                for row in fetched]


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
        self._raw_reads: PoolProxiedConnection | None = None
        self._prepared: dict[Select[*tuple[Any, ...]], PreparedRead] = {}
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

    def prepared(self, statement: Select[*tuple[Any, ...]]) -> PreparedRead:
        """``fetch_all`` of one SELECT, for a read on every call's path: on SQLite it is compiled here once and
        runs on the inline connection's ``sqlite3`` cursor, past SQLAlchemy's execution (its cache look-up,
        events and result objects), which costs more than the read itself; elsewhere it is ``fetch_all``. Kept per
        statement: asking again for the same one is a dictionary look-up."""
        if statement not in self._prepared:
            self._prepared[statement] = self._prepare(statement)
        return self._prepared[statement]

    def _prepare(self, statement: Select[*tuple[Any, ...]]) -> PreparedRead:
        inline = _InlineStatement.compile(statement, self._sync_reads) if self._sync_reads is not None else None
        if inline is None:
            return lambda params: self.fetch_all(statement, params)

        async def fetch(params: dict[str, Any]) -> Sequence[Any]:
            if self._raw_reads is None:
                assert self._sync_reads is not None
                self._raw_reads = self._sync_reads.raw_connection()  # StaticPool: the inline connection itself
            cursor = self._raw_reads.driver_connection.execute(inline.sql, inline.parameters(params))  # type: ignore[union-attr]
            return inline.rows(cursor.fetchall())

        return fetch

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
        if self._raw_reads is not None:
            self._raw_reads.close()
            self._raw_reads = None
        if self._sync_reads is not None:
            self._sync_reads.dispose()
