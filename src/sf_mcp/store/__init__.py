"""Persistence: the only package that speaks SQL.

``Store`` opens the database, applies migrations and hands out one query object
per concern. Callers depend on these methods, never on SQL, so a Postgres
backend can follow behind the same names.
"""

from __future__ import annotations

from pathlib import Path

from sf_mcp.store.accounts import Accounts
from sf_mcp.store.chain import AppliedBatch, ChainEvent, ChainStore, Cursor, JobFromPayment
from sf_mcp.store.db import Database
from sf_mcp.store.gallery import CreatorStats, Gallery, GalleryEntry, GalleryPage
from sf_mcp.store.generations import GenerationRow, Generations, utc_day
from sf_mcp.store.review import ReviewItem, ReviewQueue
from sf_mcp.store.sessions import Sessions

__all__ = [
    "Accounts",
    "AppliedBatch",
    "ChainEvent",
    "ChainStore",
    "CreatorStats",
    "Cursor",
    "Gallery",
    "GalleryEntry",
    "GalleryPage",
    "GenerationRow",
    "Generations",
    "JobFromPayment",
    "ReviewItem",
    "ReviewQueue",
    "Sessions",
    "Store",
    "utc_day",
]


class Store:
    """The database and its query objects."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = Accounts(db)
        self.generations = Generations(db)
        self.chain = ChainStore(db)
        self.sessions = Sessions(db)
        self.gallery = Gallery(db)
        self.review = ReviewQueue(db)

    @classmethod
    async def open(cls, path: Path) -> "Store":
        return cls(await Database.open(path))

    async def ping(self) -> None:
        """Raise if the database cannot answer a query (for readiness checks)."""
        await self.db.fetchone("SELECT 1")

    async def close(self) -> None:
        await self.db.close()
