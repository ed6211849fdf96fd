"""Sign-in nonces and bearer-token sessions (one row per issued JWT, keyed by its ``jti``).

Tokens from ``/auth/verify`` and OAuth access tokens share ``user_sessions``; an OAuth
token names its grant, so ending a session ends the grant's whole token family too.
"""

from __future__ import annotations

import time

from sf_mcp.store.db import Database
from sf_mcp.store.oauth import revoke_grants
from sf_mcp.store.users import ensure_user


class Sessions:
    """Queries on auth_nonces and user_sessions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- nonces ---------------------------------------------------------------
    async def add_nonce(self, *, nonce: str, wallet: str, created_at: float, expires_at: float) -> None:
        """Store a fresh nonce for ``wallet``; expired ones are pruned on the way."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM auth_nonces WHERE expires_at < ?", (created_at - 3600,))
            await tx.execute(
                "INSERT INTO auth_nonces (nonce, wallet, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (nonce, wallet, created_at, expires_at),
            )

    async def consume_nonce(self, *, nonce: str, wallet: str, now: float | None = None) -> bool:
        """Mark the nonce used; True only for the first caller, for that wallet, before it expires."""
        now = time.time() if now is None else now
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE auth_nonces SET used_at = ? "
                "WHERE nonce = ? AND wallet = ? AND used_at IS NULL AND expires_at >= ?",
                (now, nonce, wallet, now),
            )
        return changed == 1

    # -- sessions -------------------------------------------------------------
    async def create(
        self, *, session_id: str, wallet: str, created_at: float, expires_at: float,
        client_id: str | None = None, scopes: str | None = None, grant_id: str | None = None,
    ) -> None:
        """One issued token; ``client_id``, ``scopes`` and ``grant_id`` only for OAuth access tokens."""
        async with self._db.transaction() as tx:
            await ensure_user(tx, wallet, now=created_at)
            await tx.execute(
                "INSERT INTO user_sessions (session_id, wallet, created_at, expires_at, client_id, scopes, grant_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, wallet, created_at, expires_at, client_id, scopes, grant_id),
            )

    async def is_active(self, session_id: str, *, now: float | None = None) -> bool:
        """True when the session exists, is not revoked and has not expired."""
        now = time.time() if now is None else now
        row = await self._db.fetchone(
            "SELECT 1 FROM user_sessions WHERE session_id = ? AND revoked_at IS NULL AND expires_at > ?",
            (session_id, now),
        )
        return row is not None

    async def revoke(self, session_id: str, *, now: float | None = None) -> bool:
        """Revoke one session (and, for an OAuth token, its grant's whole family); True when it was active."""
        now = time.time() if now is None else now
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE user_sessions SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL",
                (now, session_id),
            )
            await revoke_grants(
                tx, "grant_id IN (SELECT grant_id FROM user_sessions WHERE session_id = ?)", (session_id,), now=now
            )
        return changed == 1

    async def revoke_wallet(self, wallet: str, *, now: float | None = None) -> int:
        """Revoke every active session and OAuth grant of ``wallet`` (sign out everywhere); returns how many sessions."""
        now = time.time() if now is None else now
        async with self._db.transaction() as tx:
            count = await tx.execute(
                "UPDATE user_sessions SET revoked_at = ? WHERE wallet = ? AND revoked_at IS NULL", (now, wallet)
            )
            await revoke_grants(tx, "wallet = ?", (wallet,), now=now)
            return count
