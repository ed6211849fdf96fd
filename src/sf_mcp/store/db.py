"""The SQLite connection, its transactions and the migrations applied at start-up.

One aiosqlite connection per process, guarded by a lock: a coroutine that opens
a transaction holds the connection until it commits, so concurrent tool calls
never see each other's half-written rows. Several processes (``serve`` and a
standalone ``indexer``) share the file through WAL mode and a busy timeout.

Callers never see SQL or this module's connection: they use the query classes
in this package, so a Postgres backend can replace this file without touching them.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

Row = dict[str, Any]


class Database:
    """A lock-guarded aiosqlite connection with explicit transactions."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = anyio.Lock()

    @classmethod
    async def open(cls, path: Path) -> "Database":
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA synchronous=NORMAL")
        db = cls(conn)
        await db._migrate()
        return db

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Transaction"]:
        """Run statements atomically; ``BEGIN IMMEDIATE`` takes the write lock up front."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._lock:
            async with self._conn.execute(sql, tuple(params)) as cur:
                row = await cur.fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            async with self._conn.execute(sql, tuple(params)) as cur:
                rows = await cur.fetchall()
        return [dict(r) for r in rows]

    async def _migrate(self) -> None:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        async with self._conn.execute("SELECT version FROM schema_migrations") as cur:
            applied = {r[0] for r in await cur.fetchall()}
        for version, name, sql in _migrations():
            if version in applied:
                continue
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                # A second process may have applied it while we waited for the lock.
                async with self._conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                ) as cur:
                    if await cur.fetchone():
                        await self._conn.execute("ROLLBACK")
                        continue
                for statement in _split_sql(sql):
                    await self._conn.execute(statement)
                await self._conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
                )
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")


class Transaction:
    """Statements inside one open transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run a statement and return the number of rows it changed."""
        async with self._conn.execute(sql, tuple(params)) as cur:
            return cur.rowcount

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run an INSERT and return the new row id."""
        async with self._conn.execute(sql, tuple(params)) as cur:
            return int(cur.lastrowid or 0)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return [dict(r) for r in await cur.fetchall()]


def _migrations() -> list[tuple[int, str, str]]:
    folder = importlib.resources.files("sf_mcp.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _split_sql(script: str) -> list[str]:
    lines = [re.sub(r"--.*$", "", line) for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def dumps(value: Any) -> str:
    """JSON for a TEXT column: compact and key-sorted so equal values store equally."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
