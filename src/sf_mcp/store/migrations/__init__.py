"""Alembic migrations for both dialects, run on the store's own connection.

A SQLite file made by the hand-rolled runner this replaced (a ``schema_migrations`` table with
versions 1..n) is adopted in place: it is stamped at revision ``000n`` and upgraded from there.
On PostgreSQL, concurrent migrators (several replicas started at once) queue on an advisory lock.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from sf_mcp.errors import ConfigError


class Database(Protocol):
    """What migrating needs of ``store.db.Database`` (which imports this module)."""

    @property
    def postgres(self) -> bool: ...

    def connection(self, *, write: bool) -> AbstractAsyncContextManager[AsyncConnection]: ...

MIGRATION_LOCK = 0x5F_4D_43_50  # the advisory lock key migrators take on PostgreSQL ("_MCP")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


async def upgrade(db: Database) -> str:
    """Bring the database to the newest revision in one transaction; returns that revision."""
    async with db.connection(write=True) as conn:
        if db.postgres:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        return await conn.run_sync(_upgrade)


async def current(db: Database) -> str | None:
    """The revision the database is at (None: empty, or never migrated)."""
    async with db.connection(write=False) as conn:
        return await conn.run_sync(_current)


async def require_current(db: Database, name: str) -> None:
    """Refuse to work on a database that is behind (or ahead of) this code."""
    found, wanted = await current(db), head()
    if found == wanted:
        return
    known = {r.revision for r in ScriptDirectory.from_config(_config()).walk_revisions()}
    if found is not None and found not in known:
        raise ConfigError(f"the database {name} is at migration {found}, newer than this sf-mcp knows ({wanted}); "
                          "upgrade sf-mcp")
    raise ConfigError(f"the database {name} has pending migrations (at {found or 'none'}, this sf-mcp needs "
                      f"{wanted}): run `sf-mcp migrate` first")


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version") and _legacy_version(conn) is not None:
        return f"{_legacy_version(conn):04d}"
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> str:
    legacy = _legacy_version(conn) if not inspect(conn).has_table("alembic_version") else None
    if legacy is not None:
        MigrationContext.configure(conn).stamp(ScriptDirectory.from_config(_config()), f"{legacy:04d}")
        conn.execute(text("DROP TABLE schema_migrations"))
    cfg = _config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
    return head()


def _legacy_version(conn: Connection) -> int | None:
    """The newest version the old SQL-file runner applied, if this database was made by it."""
    if not inspect(conn).has_table("schema_migrations"):
        return None
    return conn.execute(text("SELECT MAX(version) FROM schema_migrations")).scalar()
