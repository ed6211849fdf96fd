"""Persistence: the only package that speaks SQL.

``Store`` opens the database (SQLite or PostgreSQL, see :mod:`sf_mcp.store.db`),
applies or checks its migrations and hands out one query object per concern.
Callers depend on these methods, never on SQL or on the dialect.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from sf_mcp.store import migrations
from sf_mcp.store.accounts import Accounts
from sf_mcp.store.chain import AppliedBatch, ChainEvent, ChainStore, Cursor, JobFromPayment
from sf_mcp.store.coordination import Leadership, Notifications
from sf_mcp.store.db import Database, redacted
from sf_mcp.store.gallery import CreatorStats, Gallery, GalleryEntry, GalleryPage
from sf_mcp.store.generations import JOB_FINISHED, JOBS_QUEUED, GenerationRow, Generations, JobStatus, utc_day
from sf_mcp.store.oauth import CodeRow, OAuthStore, RefreshRow
from sf_mcp.store.operator_tx import OperatorAction, OperatorTx, OperatorTxState
from sf_mcp.store.operator_txs import OperatorTxs
from sf_mcp.store.rate_limits import RateBuckets
from sf_mcp.store.read_models import AccountFigures, AsOf, ContestFigures, ReadModels
from sf_mcp.store.review import ReviewItem, ReviewQueue
from sf_mcp.store.sessions import Sessions

__all__ = [
    "AccountFigures",
    "AsOf",
    "ContestFigures",
    "ReadModels",
    "Accounts",
    "AppliedBatch",
    "ChainEvent",
    "ChainStore",
    "CodeRow",
    "CreatorStats",
    "Cursor",
    "Gallery",
    "GalleryEntry",
    "GalleryPage",
    "GenerationRow",
    "JobStatus",
    "Generations",
    "JOB_FINISHED",
    "JOBS_QUEUED",
    "JobFromPayment",
    "Leadership",
    "Notifications",
    "OAuthStore",
    "OperatorAction",
    "OperatorTx",
    "OperatorTxState",
    "OperatorTxs",
    "RateBuckets",
    "RefreshRow",
    "ReviewItem",
    "ReviewQueue",
    "Sessions",
    "Store",
    "check_schema",
    "migrate",
    "redacted_url",
    "utc_day",
]

redacted_url = redacted


async def migrate(url: str | Path) -> tuple[str | None, str]:
    """Upgrade the database to the newest migration; ``(revision before, revision after)``."""
    db = await Database.connect(url)
    try:
        return await migrations.current(db), await migrations.upgrade(db)
    finally:
        await db.close()


class Store:
    """The database and its query objects."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = Accounts(db)
        self.generations = Generations(db)
        self.chain = ChainStore(db)
        self.operator_txs = OperatorTxs(db)
        self.sessions = Sessions(db)
        self.gallery = Gallery(db)
        self.review = ReviewQueue(db)
        self.read_models = ReadModels(db)
        self.oauth = OAuthStore(db)
        self.rate_buckets = RateBuckets(db)

    @classmethod
    async def open(cls, url: str | Path, *, migrate: bool | None = None) -> Store:
        """Open a SQLite file (a path or ``sqlite:///``) or a ``postgresql://`` database.

        ``migrate`` None: a SQLite file is upgraded in place; a PostgreSQL database must already be
        current (``sf-mcp migrate``), else :class:`~sf_mcp.errors.ConfigError` says so.
        """
        return cls(await Database.open(url, migrate=migrate))

    @property
    def notifications(self) -> Notifications:
        """Wake-ups across replicas (LISTEN/NOTIFY on PostgreSQL); run ``notifications.run`` to receive them."""
        return self.db.coordination.notifications

    async def publish(self, channel: str, payload: str) -> None:
        """Notify ``channel``'s listeners on every replica (in this process on SQLite)."""
        if self.db.postgres:
            async with self.db.transaction() as tx:
                await tx.notify(channel, payload)
        else:
            self.notifications.deliver(channel, payload)

    def leadership(self, name: str, *, lease_s: float) -> Leadership:
        """One holder of ``name`` across replicas (the indexer of a chain)."""
        return self.db.coordination.leadership(name, lease_s=lease_s)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A critical section across replicas (one sender per operator key)."""
        return self.db.coordination.exclusive(name)

    @property
    def postgres(self) -> bool:
        return self.db.postgres

    async def migration_state(self) -> tuple[str | None, str]:
        """``(the database's revision, this code's newest)``, for readiness checks."""
        return await migrations.current(self.db), migrations.head()

    async def close(self) -> None:
        await self.db.close()


async def check_schema(url: str | Path) -> None:
    """Raise ConfigError when a PostgreSQL database has pending migrations (a SQLite file upgrades on open)."""
    db = await Database.connect(url)
    try:
        if db.postgres:
            await migrations.require_current(db, redacted(url))
    finally:
        await db.close()
