"""OAuth 2.1 state: registered clients, pending authorization requests, grants, codes, refresh tokens.

A *grant* is one consent (this wallet let this client use these scopes on this
resource) and the family of every token issued from it: its access tokens are
rows of ``user_sessions`` carrying the ``grant_id``, its refresh tokens rows of
``oauth_refresh_tokens``. Revoking the grant ends them all at once, which is what
RFC 7009 revocation, logout and a reused refresh token (OAuth 2.1 section 4.3.1) need.
Codes and refresh tokens are stored as SHA-256 hashes: a leaked database holds no usable secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sf_mcp.store.db import Database, Transaction


@dataclass(frozen=True)
class CodeRow:
    """An authorization code as issued; ``used_at`` is set by its first exchange."""

    grant_id: str
    client_id: str
    wallet: str
    scopes: str
    resource: str
    redirect_uri: str
    redirect_explicit: bool
    code_challenge: str
    expires_at: float
    used_at: float | None


@dataclass(frozen=True)
class RefreshRow:
    """A refresh token with its grant; ``used_at`` is set when it was rotated."""

    grant_id: str
    client_id: str
    wallet: str
    scopes: str
    resource: str
    expires_at: float
    used_at: float | None
    grant_revoked: bool


class OAuthStore:
    """Queries on the oauth_* tables (and the grant columns of user_sessions)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- clients (RFC 7591) -------------------------------------------------------
    async def save_client(self, client_id: str, metadata: str, *, now: float) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO oauth_clients (client_id, metadata, created_at) VALUES (?, ?, ?)",
                (client_id, metadata, now),
            )

    async def client(self, client_id: str) -> str | None:
        """The registered client information (JSON), or None."""
        row = await self._db.fetchone("SELECT metadata FROM oauth_clients WHERE client_id = ?", (client_id,))
        return row["metadata"] if row else None

    # -- authorization requests waiting for the login page -------------------------
    async def add_request(
        self, request_id: str, *, client_id: str, params: dict[str, Any], now: float, expires_at: float
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM oauth_requests WHERE expires_at < ?", (now - 3600,))
            await tx.execute(
                "INSERT INTO oauth_requests (request_id, client_id, params, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (request_id, client_id, json.dumps(params), now, expires_at),
            )

    async def request(self, request_id: str, *, now: float) -> tuple[str, dict[str, Any]] | None:
        """(client_id, params) of an open request: not answered yet and not expired."""
        row = await self._db.fetchone(
            "SELECT client_id, params FROM oauth_requests WHERE request_id = ? AND used_at IS NULL AND expires_at > ?",
            (request_id, now),
        )
        return (row["client_id"], json.loads(row["params"])) if row else None

    async def close_request(self, request_id: str, *, now: float) -> bool:
        """Mark the request answered; True only for the first answer."""
        async with self._db.transaction() as tx:
            return await tx.execute(
                "UPDATE oauth_requests SET used_at = ? WHERE request_id = ? AND used_at IS NULL", (now, request_id)
            ) == 1

    # -- codes ------------------------------------------------------------------------
    async def add_code(self, code_hash: str, row: CodeRow, *, now: float) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (now - 86_400,))
            await tx.execute(
                "INSERT INTO oauth_codes (code_hash, grant_id, client_id, wallet, scopes, resource, redirect_uri, "
                "redirect_explicit, code_challenge, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code_hash, row.grant_id, row.client_id, row.wallet, row.scopes, row.resource, row.redirect_uri,
                 int(row.redirect_explicit), row.code_challenge, now, row.expires_at),
            )

    async def code(self, code_hash: str) -> CodeRow | None:
        row = await self._db.fetchone(
            "SELECT grant_id, client_id, wallet, scopes, resource, redirect_uri, redirect_explicit, code_challenge, "
            "expires_at, used_at FROM oauth_codes WHERE code_hash = ?",
            (code_hash,),
        )
        if row is None:
            return None
        row["redirect_explicit"] = bool(row["redirect_explicit"])
        return CodeRow(**row)

    async def use_code(self, code_hash: str, *, now: float) -> bool:
        """Consume the code; True only for its first exchange."""
        async with self._db.transaction() as tx:
            return await tx.execute(
                "UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL", (now, code_hash)
            ) == 1

    # -- grants and refresh tokens ------------------------------------------------------
    async def create_grant(
        self, grant_id: str, *, client_id: str, wallet: str, scopes: str, resource: str, now: float
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO oauth_grants (grant_id, client_id, wallet, scopes, resource, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (grant_id, client_id, wallet, scopes, resource, now),
            )

    async def add_refresh_token(
        self, token_hash: str, *, grant_id: str, scopes: str, now: float, expires_at: float
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, scopes, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, grant_id, scopes, now, expires_at),
            )

    async def refresh_token(self, token_hash: str) -> RefreshRow | None:
        row = await self._db.fetchone(
            "SELECT r.grant_id, g.client_id, g.wallet, r.scopes, g.resource, r.expires_at, r.used_at, "
            "g.revoked_at IS NOT NULL AS grant_revoked "
            "FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.grant_id = r.grant_id WHERE r.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        row["grant_revoked"] = bool(row["grant_revoked"])
        return RefreshRow(**row)

    async def use_refresh_token(self, token_hash: str, *, now: float) -> bool:
        """Rotate: mark the token used; True only for its first use while its grant stands."""
        async with self._db.transaction() as tx:
            return await tx.execute(
                "UPDATE oauth_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                "AND grant_id IN (SELECT grant_id FROM oauth_grants WHERE revoked_at IS NULL)",
                (now, token_hash),
            ) == 1

    async def revoke_grant(self, grant_id: str, *, now: float) -> int:
        """End the grant and every token of its family; returns how many access tokens that ended."""
        async with self._db.transaction() as tx:
            return await revoke_grants(tx, "grant_id = ?", (grant_id,), now=now)


async def revoke_grants(tx: Transaction, where: str, params: tuple[Any, ...], *, now: float) -> int:
    """Revoke the grants matching ``where`` (on oauth_grants) with their access and refresh tokens."""
    grants = f"SELECT grant_id FROM oauth_grants WHERE {where}"
    await tx.execute(f"UPDATE oauth_grants SET revoked_at = ? WHERE revoked_at IS NULL AND {where}", (now, *params))
    await tx.execute(
        f"UPDATE oauth_refresh_tokens SET used_at = ? WHERE used_at IS NULL AND grant_id IN ({grants})",
        (now, *params),
    )
    return await tx.execute(
        f"UPDATE user_sessions SET revoked_at = ? WHERE revoked_at IS NULL AND grant_id IN ({grants})",
        (now, *params),
    )
