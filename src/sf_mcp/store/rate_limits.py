"""Token buckets in the database, so a limit holds across replicas (100 calls means 100 in total).

One row per key; a take is one upsert that refills the bucket for the time passed and spends
tokens only when they are there, so concurrent takes on any replica never overspend. A replica
may take several at once and spend them locally (``server.http.limits``).
"""

from __future__ import annotations

import time

from sf_mcp.store.db import Database

PRUNE_EVERY = 1000  # takes between deletions of buckets idle for longer than a window


class RateBuckets:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._takes = 0

    async def take(self, key: str, *, capacity: int, window_s: float, want: int = 1,
                   now: float | None = None) -> float | None:
        """Spend ``want`` tokens of ``key`` (all or none; ``want <= capacity``): None when taken, else the
        seconds until one token is available."""
        now = time.time() if now is None else now
        rate = capacity / window_s
        least, greatest = ("LEAST", "GREATEST") if self._db.postgres else ("MIN", "MAX")
        # Replicas' clocks and concurrent takes may be slightly out of order: time never runs backwards here.
        elapsed = f"{greatest}(excluded.updated_at - rate_buckets.updated_at, 0)"
        refilled = f"{least}(CAST(? AS FLOAT), rate_buckets.tokens + {elapsed} * ?)"
        async with self._db.transaction() as tx:
            taken = await tx.fetchone(
                "INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                f"SET tokens = {refilled} - ?, updated_at = {greatest}(excluded.updated_at, rate_buckets.updated_at) "
                f"WHERE {refilled} >= ? RETURNING tokens",
                (key, float(capacity - want), now, capacity, rate, want, capacity, rate, want),
            )
            if taken is not None:
                self._takes += 1
                if self._takes % PRUNE_EVERY == 0:
                    await tx.execute("DELETE FROM rate_buckets WHERE updated_at < ?", (now - window_s,))
                return None
            row = await tx.fetchone("SELECT tokens, updated_at FROM rate_buckets WHERE key = ?", (key,))
        assert row is not None  # the bucket exists: the take above found it empty
        tokens = min(capacity, float(row["tokens"]) + max(0.0, now - float(row["updated_at"])) * rate)
        return max(0.0, (1.0 - tokens) / rate)

    async def give_back(self, key: str, *, capacity: int) -> None:
        """Return a token taken by a call that another limit then refused."""
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE rate_buckets SET tokens = {'LEAST' if self._db.postgres else 'MIN'}(CAST(? AS FLOAT), "
                "tokens + 1) WHERE key = ?",
                (capacity, key),
            )
