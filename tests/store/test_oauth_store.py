"""OAuth grants, codes and rotating refresh tokens on both backends: single use, and one revocation ends a family."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sf_mcp.store import CodeRow, Store

pytestmark = pytest.mark.anyio
WALLET = "0x" + "ab" * 20
NOW = 1_800_000_000.0


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    yield s
    await s.close()


async def _grant(store: Store, grant_id: str = "g1") -> None:
    await store.oauth.create_grant(grant_id, client_id="c1", wallet=WALLET, scopes="read generate",
                                   resource="http://h/mcp", now=NOW)
    await store.sessions.create(session_id=f"{grant_id}-at", wallet=WALLET, created_at=NOW, expires_at=NOW + 3600,
                                client_id="c1", scopes="read generate", grant_id=grant_id)
    await store.oauth.add_refresh_token(f"{grant_id}-rt", grant_id=grant_id, scopes="read generate", now=NOW,
                                        expires_at=NOW + 86_400)


async def test_codes_and_requests_are_single_use(store: Store) -> None:
    await store.oauth.add_request("r1", client_id="c1", params={"scopes": ["read"]}, now=NOW, expires_at=NOW + 600)
    assert await store.oauth.request("r1", now=NOW) == ("c1", {"scopes": ["read"]})
    assert await store.oauth.request("r1", now=NOW + 601) is None
    assert await store.oauth.close_request("r1", now=NOW) and not await store.oauth.close_request("r1", now=NOW)
    code = CodeRow(grant_id="g1", client_id="c1", wallet=WALLET, scopes="read", resource="http://h/mcp",
                   redirect_uri="http://127.0.0.1/cb", redirect_explicit=True, code_challenge="x",
                   expires_at=NOW + 60, used_at=None)
    await store.oauth.add_code("h1", code, now=NOW)
    assert await store.oauth.code("h1") == code
    assert await store.oauth.use_code("h1", now=NOW) and not await store.oauth.use_code("h1", now=NOW)


async def test_a_rotated_refresh_token_cannot_be_used_again_and_revoking_the_grant_ends_its_tokens(
    store: Store,
) -> None:
    await _grant(store)
    row = await store.oauth.refresh_token("g1-rt")
    assert row is not None and row.wallet == WALLET and not row.grant_revoked and row.used_at is None
    assert await store.oauth.use_refresh_token("g1-rt", now=NOW)
    assert not await store.oauth.use_refresh_token("g1-rt", now=NOW)
    assert await store.oauth.revoke_grant("g1", now=NOW) == 1
    assert not await store.sessions.is_active("g1-at", now=NOW)
    assert (await store.oauth.refresh_token("g1-rt")).grant_revoked


async def test_logout_ends_the_grant_of_a_session_and_sign_out_everywhere_ends_every_grant(store: Store) -> None:
    await _grant(store, "g1")
    await _grant(store, "g2")
    await store.sessions.create(session_id="siwe", wallet=WALLET, created_at=NOW, expires_at=NOW + 3600)
    assert await store.sessions.revoke("g1-at", now=NOW)
    assert not await store.oauth.use_refresh_token("g1-rt", now=NOW)  # the family ended with the session
    assert await store.sessions.revoke_wallet(WALLET, now=NOW) == 2  # g2's access token and the SIWE session
    assert not await store.oauth.use_refresh_token("g2-rt", now=NOW)
