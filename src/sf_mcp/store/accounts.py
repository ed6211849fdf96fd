"""Wallets, their off-chain credits and their free-tier usage."""

from __future__ import annotations

import time
from typing import Any

from sf_mcp.store.db import Database
from sf_mcp.store.generations import utc_day
from sf_mcp.store.users import ensure_user


class Accounts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_credits(self, wallet: str, amount: int, *, reason: str) -> int:
        """Add ``amount`` credits (an operator grant or a purchase); returns the new balance."""
        if amount <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        now = time.time()
        async with self._db.transaction() as tx:
            await ensure_user(tx, wallet, now=now, seen=False)
            await tx.execute(
                "INSERT INTO user_credits (wallet, balance, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (wallet) DO UPDATE SET balance = user_credits.balance + excluded.balance, updated_at = excluded.updated_at",
                (wallet, amount, now),
            )
            await tx.execute(
                "INSERT INTO credit_ledger (wallet, delta, reason, created_at) VALUES (?, ?, ?, ?)",
                (wallet, amount, reason, now),
            )
            row = await tx.fetchone("SELECT balance FROM user_credits WHERE wallet = ?", (wallet,))
            assert row is not None  # upserted above
            return int(row["balance"])

    async def credits(self, wallet: str) -> int:
        row = await self._db.fetchone("SELECT balance FROM user_credits WHERE wallet = ?", (wallet,))
        return int(row["balance"]) if row else 0

    async def free_used_today(self, wallet: str) -> int:
        row = await self._db.fetchone(
            "SELECT used FROM free_usage WHERE wallet = ? AND day = ?", (wallet, utc_day())
        )
        return int(row["used"]) if row else 0

    async def ledger(self, wallet: str, *, limit: int = 50) -> list[dict[str, Any]]:
        return await self._db.fetchall(
            "SELECT entry_id, delta, reason, task_id, created_at FROM credit_ledger WHERE wallet = ? "
            "ORDER BY entry_id DESC LIMIT ?",
            (wallet, limit),
        )
