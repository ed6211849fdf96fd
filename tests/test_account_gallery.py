"""account and gallery: every filter, sort and page on a seeded history, and a wallet's stats on the embedded chain.

The store-level tests seed jobs and indexed events directly (a fixed ``now``, so the
windows and the trending score are exact); the MCP tests do the same things for real on
the embedded chain: stake, pay, generate, vote, then read ``account`` and ``gallery``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.chain.conftest import Session, auto_session, error_text, structured  # noqa: F401 (fixture)

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS
from sf_mcp.store import ChainEvent, Store
from sf_mcp.store.gallery import trending_score
from support import settled

pytestmark = pytest.mark.anyio

CHAIN = 31337
NOW = 20_255 * 86_400.0 + 12 * 3600  # noon UTC, so "today" began 12 hours before NOW
HOUR, DAY = 3600.0, 86_400.0
W = [f"0x{i:040x}" for i in range(1, 6)]  # five creators
WEEK = 7 * 24 * 3600


# -- store level: exact filters, sorts and pages -----------------------------------------------
async def _job(store: Store, wallet: str, kind: str, prompt: str, *, age_s: float, request_id: int | None = None,
               status: str = "succeeded") -> str:
    if request_id is not None:
        row, _ = await store.generations.reserve_keyed(
            payment_key=_key(request_id), wallet=wallet, kind=kind, prompt=prompt, params={},
            payment={"method": "crypto"}, chain_request_id=request_id,
        )
    else:
        row = await store.generations.reserve_free(wallet=wallet, kind=kind, prompt=prompt, params={}, daily_quota=99)
    claimed = await store.generations.claim_next(owner="test", lease_s=60)
    assert claimed is not None and claimed.task_id == row.task_id
    if status == "succeeded":
        await store.generations.mark_succeeded(row.task_id, owner="test", provider="local", model="m",
                                               content_sha256="ab" * 32, mime_type="image/png", public_url=None,
                                               attempts=[])
    else:
        await store.generations.mark_failed(row.task_id, owner="test", error="boom", attempts=[])
    async with store.db.transaction() as tx:  # arrange the history's clock (test only)
        await tx.execute("UPDATE ai_generations SET created_at = ? WHERE task_id = ?", (NOW - age_s, row.task_id))
    return row.task_id


def _key(request_id: int) -> str:
    return f"crypto:{CHAIN}:0x{request_id:064x}"


def _event(n: int, event: str, args: dict[str, Any], *, tx: str | None = None, log_index: int = 0) -> ChainEvent:
    return ChainEvent(chain_id=CHAIN, tx_hash=tx or f"0x{n + 1000:064x}", log_index=log_index, block_number=n,
                      block_hash=f"0x{n:064x}", contract="x", event=event, args=args)


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[tuple[Store, dict[str, str]]]:
    store = await Store.open(tmp_path / "g.db")
    ids = {
        "fox": await _job(store, W[0], "image", "A Red Fox at dawn", age_s=10 * DAY, request_id=1),
        "whale": await _job(store, W[1], "image", "blue whale", age_s=5 * 60, request_id=2),
        "foxvid": await _job(store, W[0], "video", "fox running in snow", age_s=40 * DAY, request_id=3),
        "city": await _job(store, W[2], "image", "city at night", age_s=2 * DAY),
        "snow": await _job(store, W[3], "video", "SNOW fox", age_s=11 * HOUR),
        "moth": await _job(store, W[4], "image", "moth", age_s=20 * DAY),
        "failed": await _job(store, W[1], "image", "fox that failed", age_s=HOUR, status="failed"),
    }
    events = [_event(n, "GenerationRequested", {"requestId": n, "user": W[0]}, tx=f"0x{n:064x}") for n in (1, 2, 3)]
    events += [
        _event(10, "VoteCast", {"voter": W[3], "generationId": 1, "creator": W[0], "weight": 2, "contestId": 1}),
        _event(11, "VoteCast", {"voter": W[4], "generationId": 1, "creator": W[0], "weight": 1, "contestId": 1}),
        _event(12, "VoteCast", {"voter": W[3], "generationId": 2, "creator": W[1], "weight": 2, "contestId": 1}),
        _event(13, "Staked", {"account": W[0], "tokenId": 1}),
        _event(14, "Staked", {"account": W[3], "tokenId": 7}),
        _event(15, "Staked", {"account": W[2], "tokenId": 9}),
        _event(16, "Unstaked", {"account": W[2], "tokenId": 9, "early": False}),
    ]
    await store.chain.apply(CHAIN, events=events, jobs=[], block_number=20, block_hash="0x" + "20" * 32)
    yield store, ids
    await store.close()


async def _ids(store: Store, names: dict[str, str], **kw: Any) -> list[str]:
    page = await store.gallery.page(chain_id=CHAIN, now=NOW, **kw)
    by_id = {v: k for k, v in names.items()}
    return [by_id[e.row.task_id] for e in page.entries]


async def test_filters(seeded) -> None:
    store, n = seeded
    assert await _ids(store, n) == ["whale", "snow", "city", "fox", "moth", "foxvid"]  # newest; no failed job
    assert await _ids(store, n, timeframe="today") == ["whale", "snow"]
    assert await _ids(store, n, timeframe="week") == ["whale", "snow", "city"]
    assert await _ids(store, n, timeframe="month") == ["whale", "snow", "city", "fox", "moth"]
    assert await _ids(store, n, kind="video") == ["snow", "foxvid"]
    assert await _ids(store, n, kind="image") == ["whale", "city", "fox", "moth"]
    assert await _ids(store, n, search="FOX") == ["snow", "fox", "foxvid"]  # case-insensitive substring
    assert await _ids(store, n, search="fox", kind="video", timeframe="month") == ["snow"]
    assert await _ids(store, n, search="%") == []  # no LIKE wildcards
    assert await _ids(store, n, staked_only=True) == ["snow", "fox", "foxvid"]  # W[0], W[3]; W[2] unstaked
    assert await _ids(store, n, timeframe="all", kind="all", sort="newest", staked_only=False, search=None,
                      limit=2, offset=4) == ["moth", "foxvid"]
    assert (await store.gallery.page(chain_id=None, now=NOW, staked_only=True)).entries == []


async def test_sorts_and_votes(seeded) -> None:
    store, n = seeded
    assert await _ids(store, n, sort="top") == ["fox", "whale", "snow", "city", "moth", "foxvid"]
    # whale: 1 vote, 5 minutes old; fox: 2 votes, 10 days old; the rest have none and follow newest first.
    assert await _ids(store, n, sort="trending") == ["whale", "fox", "snow", "city", "moth", "foxvid"]
    page = await store.gallery.page(chain_id=CHAIN, now=NOW, sort="top", limit=2)
    fox, whale = page.entries
    assert (fox.votes, fox.points, whale.votes, whale.points) == (2, 3, 1, 2)
    assert fox.trending == pytest.approx(trending_score(2, 10 * DAY))
    assert whale.trending == pytest.approx(1 / (5 / 60 + 2) ** 1.5)
    assert page.total == 6
    other_chain = await store.gallery.page(chain_id=CHAIN + 1, now=NOW, sort="top")
    assert {e.votes for e in other_chain.entries} == {0}


async def test_votes_need_this_chains_payment_event(seeded) -> None:
    """A job keeps its request id after the embedded chain restarts; a new chain's votes must not land on it."""
    store, n = seeded
    await store.chain.reset(CHAIN)
    await store.chain.apply(CHAIN, events=[
        _event(30, "VoteCast", {"voter": W[4], "generationId": 2, "creator": W[1], "weight": 1, "contestId": 1}),
    ], jobs=[], block_number=30, block_hash="0x" + "30" * 32)
    page = await store.gallery.page(chain_id=CHAIN, now=NOW, sort="top")
    assert {e.votes for e in page.entries} == {0}


async def test_creator_stats(seeded) -> None:
    store, _ = seeded
    stats = await store.gallery.creator_stats(W[0], chain_id=CHAIN)
    assert (stats.generations, stats.images, stats.videos, stats.votes_received, stats.points_received) == (2, 1, 1, 2, 3)
    stats = await store.gallery.creator_stats(W[1], chain_id=CHAIN)
    assert (stats.generations, stats.votes_received) == (1, 1)  # the failed job is not a creation
    assert (await store.gallery.creator_stats(W[0], chain_id=None)).votes_received == 0


# -- MCP level on the embedded chain ----------------------------------------------------------------
async def _send(s: Session, account: int, fn: Any) -> None:
    await s.chain.send(Signer(DEV_KEYS[account]), fn)


async def _stake(s: Session, account: int, token_ids: list[int]) -> None:
    nft = s.chain.contract("BanditKidz").functions
    await _send(s, account, nft.setApprovalForAll(s.chain.staking.address, True))
    await _send(s, account, s.chain.staking.functions.stakeBatch(token_ids))


async def _paid_generation(s: Session, prompt: str, account: int) -> Any:
    await s.pay_s(prompt, account=account)
    await s.indexer.sync()
    job = next(r for r in await s.services.store.generations.recent(limit=20) if r.prompt == prompt)
    done = await settled(s.services.runner).wait(job.task_id)
    assert done.status == "succeeded"
    return await s.services.store.generations.get(job.task_id)


async def test_account_and_gallery_on_chain(auto_session: Session) -> None:
    s = auto_session
    dev0, dev1, dev2 = DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]
    await _stake(s, 1, [4, 5])  # dev1: two NFTs
    await _stake(s, 2, [7])  # dev2: one NFT
    await _stake(s, 0, [1])  # dev0, the caller: one NFT
    await s.chain.advance_time(WEEK + 60)  # contest 2: those stakes are its voting power
    mine = await _paid_generation(s, "my red fox", 0)
    theirs = await _paid_generation(s, "their blue whale", 1)
    voting = s.chain.voting.functions
    await _send(s, 1, voting.vote(mine.chain_request_id))  # weight 2
    await _send(s, 2, voting.vote(mine.chain_request_id))  # weight 1
    await _send(s, 0, voting.vote(theirs.chain_request_id))  # weight 1
    await s.services.store.accounts.add_credits(dev0, 4, reason="grant")
    await _send(s, 0, s.chain.payment.functions.addCredits(s.chain.w3.to_checksum_address(dev0), 2))  # dev0 is operator
    free = structured(await s.call("generate_image", {"prompt": "free owl", "payment": {"method": "free"},
                                                     "width": 128, "height": 128}))
    await s.indexer.sync()

    acct = structured(await s.call("account", {}))
    assert acct["wallet"] == dev0 and acct["chain_id"] == s.chain.chain_id and acct["note"] is None
    assert acct["credits_offchain"] == 4 and acct["credits_onchain"] == 2
    assert acct["free_quota_left_today"] == s.services.settings.limits.free_daily_quota - 1
    assert acct["staked_token_ids"] == [1]
    assert acct["voting_power_now"] == 1 and acct["voting_power_next_contest"] == 1
    assert acct["current_contest_id"] == 2
    stats = acct["stats"]
    assert stats == {"upvotes_received": 2, "points_received": 3, "generations_created": 2, "images_created": 2,
                     "videos_created": 0, "leaderboard_points_all_time": 3, "weekly_points": 3, "can_vote": True}
    # 25 % of each 3 S payment goes to the 4 staked NFTs; dev0 holds one of them.
    earned = acct["claimable_rewards"]["s"]
    s_rewards, _ = await s.chain.call(s.chain.staking.functions.earned(s.chain.w3.to_checksum_address(dev0)))
    assert int(earned["base_units"]) == s_rewards > 0 and earned["amount"] == "0.375"
    assert acct["pending_prize"] == {"s": {"base_units": "0", "amount": "0"}, "usdc": {"base_units": "0", "amount": "0"}}

    top = structured(await s.call("gallery", {"sort": "top"}))
    assert [(i["task_id"], i["votes"], i["points"]) for i in top["items"]] == [
        (mine.task_id, 2, 3), (theirs.task_id, 1, 1), (free["task_id"], 0, 0)]
    assert set(top["items"][0]) >= {"content_uri", "prompt", "wallet", "created_at"} and "payment" not in top["items"][0]
    assert top["total"] == 3 and top["next_cursor"] is None
    staked = structured(await s.call("gallery", {"staked_only": True, "search": "WHALE"}))
    assert [i["task_id"] for i in staked["items"]] == [theirs.task_id]
    assert structured(await s.call("gallery", {"type": "video"}))["items"] == []

    # pages: cursor and page number give the same slices; a cursor is tied to its filters
    first = structured(await s.call("gallery", {"limit": 2}))
    assert [i["task_id"] for i in first["items"]] == [free["task_id"], theirs.task_id] and first["page"] == 1
    second = structured(await s.call("gallery", {"limit": 2, "cursor": first["next_cursor"]}))
    assert [i["task_id"] for i in second["items"]] == [mine.task_id] and second["page"] == 2
    assert second["next_cursor"] is None and second["as_of"] == first["as_of"]
    by_page = structured(await s.call("gallery", {"limit": 2, "page": 2}))
    assert [i["task_id"] for i in by_page["items"]] == [mine.task_id]
    assert "other filters" in error_text(await s.call("gallery", {"limit": 3, "cursor": first["next_cursor"]}))
    assert "cursor" in error_text(await s.call("gallery", {"cursor": "not-a-cursor"}))
    forged = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "==="))
    for offset in (10**30, -1):  # a forged page far out of range is refused, not a crash
        bad = base64.urlsafe_b64encode(json.dumps({**forged, "o": offset}).encode()).decode().rstrip("=")
        assert "not a cursor this server issued" in error_text(await s.call("gallery", {"limit": 2, "cursor": bad}))
    assert "cursor, page" in error_text(await s.call("gallery", {"cursor": first["next_cursor"], "page": 2, "limit": 2}))

    other = structured(await s.call("gallery", {"sort": "top", "search": "whale"}))["items"][0]
    assert other["wallet"] == dev1 and dev2 not in {i["wallet"] for i in top["items"]}


@pytest.mark.parametrize(("args", "field"), [
    ({"timeframe": "year"}, "timeframe"),
    ({"type": "audio"}, "type"),
    ({"sort": "hot"}, "sort"),
    ({"limit": 0}, "limit"),
    ({"limit": 51}, "limit"),
    ({"search": "x" * 201}, "search"),
    ({"search": ""}, "search"),
    ({"page": 0}, "page"),
    ({"staked_only": "maybe"}, "staked_only"),
])
async def test_gallery_rejects_bad_filters_naming_the_field(auto_session: Session, args: dict, field: str) -> None:
    text = error_text(await auto_session.call("gallery", args))
    assert text.startswith(f"{field}: must "), text
