"""The users table: one row per wallet the server has dealt with."""

from __future__ import annotations

from sf_mcp.store.db import Transaction


async def ensure_user(tx: Transaction, wallet: str, *, now: float, seen: bool = True) -> None:
    """Create the wallet's row if needed; ``seen`` also records that the wallet itself acted now.

    An operator granting credits is not the wallet acting, hence ``seen=False`` there.
    """
    if seen:
        await tx.execute(
            "INSERT INTO users (wallet, created_at, last_seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (wallet) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            (wallet, now, now),
        )
    else:
        await tx.execute(
            "INSERT INTO users (wallet, created_at, last_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (wallet, now, now),
        )
