"""What the agent key spent, per UTC day and token, against its daily limits."""

from __future__ import annotations

import time

from sf_mcp.store.db import Database
from sf_mcp.store.generations import utc_day


class AgentSpending:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve_spend(self, *, wallet: str, token: str, amount: int, per_day: int) -> int | None:
        """Book ``amount`` against today's limit; None (nothing booked) when it would exceed it."""
        day = utc_day()
        async with self._db.transaction() as tx:
            await tx.lock(f"agent_spend:{wallet}:{token}")  # two replicas must not both fit under the limit
            rows = await tx.fetchall(
                "SELECT amount FROM agent_spend WHERE wallet = ? AND day = ? AND token = ?", (wallet, day, token)
            )
            spent = sum(int(r["amount"]) for r in rows)
            if spent + amount > per_day:
                return None
            row = await tx.fetchone(
                "INSERT INTO agent_spend (wallet, day, token, amount, created_at) VALUES (?, ?, ?, ?, ?) "
                "RETURNING spend_id",
                (wallet, day, token, str(amount), time.time()),
            )
            assert row is not None  # INSERT ... RETURNING
            return int(row["spend_id"])

    async def spent_today(self, *, wallet: str, token: str) -> int:
        rows = await self._db.fetchall(
            "SELECT amount FROM agent_spend WHERE wallet = ? AND day = ? AND token = ?", (wallet, utc_day(), token)
        )
        return sum(int(r["amount"]) for r in rows)

    async def settle_spend(self, spend_id: int, *, tx_hash: str | None) -> None:
        """Attach the transaction to a booking, or drop the booking (``None``) when nothing was sent."""
        async with self._db.transaction() as tx:
            if tx_hash is None:
                await tx.execute("DELETE FROM agent_spend WHERE spend_id = ?", (spend_id,))
            else:
                await tx.execute("UPDATE agent_spend SET tx_hash = ? WHERE spend_id = ?", (tx_hash, spend_id))
