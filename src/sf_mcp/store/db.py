"""The database behind the store: SQLite (embedded default) or PostgreSQL, through SQLAlchemy 2 Core (async).

The query classes of this package write their statements once, with ``?`` placeholders;
this module binds them as SQLAlchemy ``text()`` parameters for either dialect and hands
out the few expressions the two dialects spell differently (JSON access, ``GREATEST``).

SQLite: one connection per process, guarded by a lock, and ``BEGIN IMMEDIATE`` so a
transaction holds the write lock from its first statement (several processes share the
file through WAL mode and a busy timeout). PostgreSQL: a connection pool; a transaction
runs at READ COMMITTED, so statements that decide on what they read take row locks
(``FOR UPDATE [SKIP LOCKED]``) or a transaction-scoped advisory lock (:meth:`Transaction.lock`).

Schema changes are Alembic revisions (``migrations/``). A SQLite file is upgraded when it is
opened, as before; a PostgreSQL database shared by replicas is upgraded by ``sf-mcp migrate``
only, and opening one with pending revisions fails with that advice.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import TextClause, exc, text
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sf_mcp.errors import ConfigError, StoreUnavailable
from sf_mcp.store import migrations
from sf_mcp.store.coordination import Coordination

Row = dict[str, Any]

BUSY_TIMEOUT_MS = 10_000  # SQLite: how long a statement waits for another writer's lock before it fails


def engine_url(url: str | Path) -> str:
    """The SQLAlchemy URL (with its async driver) for a path or a ``sqlite:///`` / ``postgresql://`` URL."""
    if isinstance(url, Path):
        return f"sqlite+aiosqlite:///{url}"
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigError(f"SF_DATABASE_URL: {backend!r} is not supported; use sqlite:///path or postgresql://...")


def redacted(url: str | Path) -> str:
    """The URL without its password, for messages and logs."""
    return str(url) if isinstance(url, Path) else make_url(str(url)).render_as_string(hide_password=True)


class Database:
    """An async SQLAlchemy engine with explicit transactions, over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name  # "sqlite" | "postgresql"
        self._conn = conn  # SQLite: the one connection of this process
        self._lock = anyio.Lock()
        self._pg_types: dict[str, dict[str, str]] = {}  # PostgreSQL column types by table, read once (bulk inserts)
        # Tables that transactions committed by this process marked as changed, and how often (caches of this
        # process compare the count: see ReadModels.as_of).
        self.changes: Counter[str] = Counter()
        self.coordination = Coordination(
            engine.url.render_as_string(hide_password=False), self.dialect == "postgresql", engine
        )

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    @classmethod
    async def open(cls, url: str | Path, *, migrate: bool | None = None) -> Database:
        """Connect; ``migrate`` None upgrades a SQLite file and checks that a PostgreSQL database is current."""
        db = await cls.connect(url)
        try:
            if migrate if migrate is not None else not db.postgres:
                await migrations.upgrade(db)
            else:
                await migrations.require_current(db, redacted(url))
        except BaseException:
            await db.close()
            raise
        return db

    @classmethod
    async def connect(cls, url: str | Path) -> Database:
        """Connect without looking at the schema (``sf-mcp migrate``, readiness checks)."""
        target = engine_url(url)
        if target.startswith("sqlite"):
            path = Path(make_url(target).database or "")
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(target, isolation_level="AUTOCOMMIT")
            conn = await engine.connect()
            for pragma in ("journal_mode=WAL", f"busy_timeout={int(BUSY_TIMEOUT_MS)}", "foreign_keys=ON",
                           "synchronous=NORMAL"):
                await conn.exec_driver_sql(f"PRAGMA {pragma}")
            db = cls(engine, conn)
        else:
            engine = create_async_engine(target, pool_size=10, max_overflow=10, pool_pre_ping=True)
            db = cls(engine)
        return db

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def connection(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction (SQLite: ``BEGIN IMMEDIATE`` when ``write``).

        A database that cannot be used now raises :class:`StoreUnavailable` (see :func:`_unavailable`).
        """
        if self._conn is None:
            with _unavailable():
                async with self.engine.begin() as conn:
                    yield conn
            return
        async with self._lock:
            conn = self._conn
            with _unavailable():
                if not write:
                    yield conn
                    return
                with anyio.CancelScope(shield=True):
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                    with anyio.CancelScope(shield=True):
                        await conn.exec_driver_sql("COMMIT")
                except BaseException:
                    # Also after a failed COMMIT (busy, disk full): the process's only connection must not stay
                    # inside a transaction, or every later BEGIN would fail.
                    with anyio.CancelScope(shield=True), contextlib.suppress(exc.OperationalError):
                        await conn.exec_driver_sql("ROLLBACK")
                    raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run statements atomically: all of them commit, or none (an exception rolls back)."""
        async with self.connection(write=True) as conn:
            tx = Transaction(conn, self.dialect, self._pg_types)
            yield tx
        self.changes.update(tx.changed)  # committed
        for channel, payload in tx.pending:  # SQLite: delivered in this process once committed
            self.coordination.notifications.deliver(channel, payload)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self.connection(write=False) as conn:
            row = (await _run(conn, sql, params)).first()
        return dict(row._mapping) if row is not None else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self.connection(write=False) as conn:
            rows = (await _run(conn, sql, params)).all()
        return [dict(r._mapping) for r in rows]

    # -- the few expressions the dialects spell differently -------------------
    def json_text(self, column: str, key: str) -> str:
        """A top-level JSON member of a TEXT column, as text (SQLite: its JSON type)."""
        return f"({column}::jsonb ->> '{key}')" if self.postgres else f"json_extract({column}, '$.{key}')"

    def json_num(self, column: str, key: str) -> str:
        """A top-level numeric JSON member of a TEXT column, as a number (for sums and comparisons)."""
        return f"({column}::jsonb ->> '{key}')::numeric" if self.postgres else f"json_extract({column}, '$.{key}')"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.postgres else f"MAX({a}, {b})"

    def contains_ci(self, column: str) -> str:
        """``column`` contains the bound text, case-insensitively (no LIKE wildcards)."""
        return f"strpos(lower({column}), lower(?)) > 0" if self.postgres else f"instr(lower({column}), lower(?)) > 0"


class Transaction:
    """Statements inside one open transaction."""

    def __init__(self, conn: AsyncConnection, dialect: str, types: dict[str, dict[str, str]] | None = None) -> None:
        self._conn = conn
        self.postgres = dialect == "postgresql"
        self._types = types if types is not None else {}  # PostgreSQL column types by table (the Database's cache)
        self.pending: list[tuple[str, str]] = []  # SQLite: notifications to deliver after the commit
        self.changed: set[str] = set()  # tables marked by mark_changed, counted in Database.changes once committed

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run a statement and return the number of rows it changed."""
        result = await _run(self._conn, sql, params)
        return int(result.rowcount)

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
        conflict: str = "ON CONFLICT DO NOTHING", returning: str | None = None,
    ) -> list[Row]:
        """Insert many rows at once (``conflict``: the statement's ON CONFLICT clause); returns the ``returning``
        columns of the rows actually inserted (none when ``returning`` is None).

        Bulk writes are what the indexer spends its time on, so each backend gets its fastest form:
        PostgreSQL one ``INSERT ... SELECT FROM unnest(<one array per column>)`` (one round trip, the
        arrays sent binary, whatever the number of rows); SQLite the driver's own ``executemany`` of
        one prepared statement (or multi-row ``VALUES`` when rows must come back), past SQLAlchemy's
        per-row parameter binding, which cost more than SQLite's insert itself.
        """
        if not rows:
            return []
        names = ", ".join(columns)
        tail = f" {conflict}" + (f" RETURNING {returning}" if returning else "")
        out: list[Row] = []
        with anyio.CancelScope(shield=True):
            if self.postgres and len(rows) >= _COPY_FROM:
                out = await self._copy_rows(table, columns, rows, tail)
            elif self.postgres:
                types = await self._column_types(table)
                arrays = ", ".join(f"CAST(? AS {types[c]}[])" for c in columns)
                result = await self._conn.execute(
                    _text(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){tail}"),
                    _bind([list(values) for values in zip(*rows, strict=True)]),
                )
                out = [dict(r._mapping) for r in result.all()] if returning else []
            elif not returning:
                await self._conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES {_marks(len(columns))}{tail}",
                                                 [tuple(r) for r in rows])
            else:
                per = max(1, _SQLITE_VARIABLES // len(columns))
                for i in range(0, len(rows), per):
                    chunk = rows[i:i + per]
                    result = await self._conn.exec_driver_sql(
                        f"INSERT INTO {table} ({names}) VALUES {', '.join([_marks(len(columns))] * len(chunk))}{tail}",
                        tuple(v for r in chunk for v in r),
                    )
                    out.extend(dict(r._mapping) for r in result.all())
        return out

    async def _copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                         tail: str) -> list[Row]:
        """PostgreSQL, many rows: binary ``COPY`` into a temporary table, then one ``INSERT ... SELECT`` (which keeps
        the ON CONFLICT clause and RETURNING); COPY skips the per-row work of a parameterised insert."""
        driver = (await self._conn.get_raw_connection()).driver_connection
        assert driver is not None  # an open connection inside this transaction
        names = ", ".join(columns)
        staging = f"bulk_{table}"
        # Dropped at once (a second bulk insert into the table may follow in this transaction); a failure rolls
        # the transaction back, and the table with it.
        await driver.execute(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")
        await driver.copy_records_to_table(staging, records=rows, columns=list(columns))
        result = await self._conn.execute(_text(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}{tail}"))
        out = [dict(r._mapping) for r in result.all()] if result.returns_rows else []
        await driver.execute(f"DROP TABLE {staging}")
        return out

    async def _column_types(self, table: str) -> dict[str, str]:
        """PostgreSQL: ``table``'s column types as SQL (``bigint``, ``double precision``), read once per database."""
        types = self._types.get(table)
        if types is None:
            rows = await _run(
                self._conn, "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
                "WHERE attrelid = CAST(? AS regclass) AND attnum > 0 AND NOT attisdropped", (table,),
            )
            types = self._types[table] = {r.attname: r.type for r in rows}
        return types

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        row = (await _run(self._conn, sql, params)).first()
        return dict(row._mapping) if row is not None else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        rows = (await _run(self._conn, sql, params)).all()
        return [dict(r._mapping) for r in rows]

    def mark_changed(self, table: str) -> None:
        """Say that ``table`` changed in a way this process's caches of it must see once this commits."""
        self.changed.add(table)

    async def notify(self, channel: str, payload: str = "") -> None:
        """Tell every listener of ``channel`` (every replica on PostgreSQL) once this transaction commits."""
        if self.postgres:
            await _run(self._conn, "SELECT pg_notify(?, ?)", (channel, payload))
        else:
            self.pending.append((channel, payload))

    async def lock(self, name: str) -> None:
        """Serialize transactions that decide on what they read about ``name`` (held until commit).

        SQLite needs nothing: ``BEGIN IMMEDIATE`` already admits one writer at a time.
        """
        if self.postgres:
            await _run(self._conn, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """The database's "cannot now" as :class:`StoreUnavailable`, which callers retry and tools answer as "try
    again": SQLite locked past the busy timeout, disk full, an I/O error; PostgreSQL unreachable or its
    connection lost. Constraint and SQL errors stay what they are (conflicts or bugs, not outages)."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise StoreUnavailable(f"the database cannot be used right now: {_reason(error)}; nothing was lost") \
            from error
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        raise StoreUnavailable(f"the database connection was lost: {_reason(error)}; nothing was lost") from error
    except (ConnectionError, OSError) as error:
        raise StoreUnavailable(f"the database cannot be reached: {error}; nothing was lost") from error


def _reason(error: exc.DBAPIError) -> str:
    """The driver's own words ("database is locked"), without SQLAlchemy's statement dump and link."""
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__


async def _run(conn: AsyncConnection, sql: str, params: Iterable[Any]) -> CursorResult[Any]:
    """One statement, never cut off by a cancellation: an interrupted driver call would ruin the connection
    (SQLite's is the process's only one); the caller's cancellation lands right after it."""
    with anyio.CancelScope(shield=True):
        result = await conn.execute(_text(sql), _bind(params))
    return result


_COPY_FROM = 1_000  # PostgreSQL: rows from which a bulk insert goes through COPY (fewer: one INSERT ... unnest)
_SQLITE_VARIABLES = 32_766  # SQLite's limit of bound values per statement (since 3.32)
_LITERAL_OR_MARK = re.compile(r"'(?:[^']|'')*'|\?")


@lru_cache(maxsize=1024)
def _text(sql: str) -> TextClause:
    """``?`` placeholders (outside string literals) as SQLAlchemy bind parameters ``:p0, :p1, ...``."""
    counter = iter(range(10_000))
    return text(_LITERAL_OR_MARK.sub(lambda m: m.group(0) if m.group(0) != "?" else f":p{next(counter)}", sql))


def _marks(n: int) -> str:
    return "(" + ", ".join("?" * n) + ")"


def _bind(params: Iterable[Any]) -> dict[str, Any]:
    return {f"p{i}": value for i, value in enumerate(params)}


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # ``json.dumps`` builds one per call otherwise


def dumps(value: Any) -> str:
    """JSON for a TEXT column: compact and key-sorted so equal values store equally."""
    return _ENCODER.encode(value)
