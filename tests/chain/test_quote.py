"""quote (prices read from the contract, free quota and credits left) and max_price on the generate tools."""

from __future__ import annotations

import pytest
from tests.chain.conftest import Session, error_text, structured

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.server.mcp.identity import DEV_WALLET

pytestmark = pytest.mark.anyio


def _price(quote: dict, kind: str, method: str) -> dict:
    (line,) = [p for p in quote["prices"] if p["kind"] == kind and p["method"] == method]
    return line


async def test_quote_reads_the_contract_prices_and_the_quota_left(session: Session) -> None:
    s = session
    q = structured(await s.call("quote", {}))
    assert q["wallet"] == DEV_WALLET and q["chain_id"] == s.chain.chain_id
    assert {(p["kind"], p["method"]) for p in q["prices"]} == {
        (k, m) for k in ("image", "video") for m in ("S", "USDC", "x402", "credits")}
    assert _price(q, "image", "S")["display"] == "3 S" and _price(q, "image", "S")["amount"] == str(3 * 10**18)
    assert _price(q, "video", "USDC")["display"] == "1 USDC"
    assert _price(q, "image", "x402") == {**_price(q, "image", "USDC"), "method": "x402"}
    assert _price(q, "image", "credits")["display"] == "1 credit"
    assert q["free_quota_left_today"] == q["free_daily_quota"] > 0

    # The owner raises the prices on chain: the next quote says so; a free generation uses one of the quota.
    await s.chain.send(Signer(DEV_KEYS[0]), s.chain.payment.functions.setPrices(5 * 10**17, 2_500_000))
    assert not (await s.call("generate_image", {"prompt": "a quoted fox", "payment": {"method": "free"},
                                                "width": 64, "height": 64})).is_error
    q = structured(await s.call("quote", {}))
    assert _price(q, "image", "S")["display"] == "0.5 S" and _price(q, "video", "x402")["display"] == "2.5 USDC"
    assert q["free_quota_left_today"] == q["free_daily_quota"] - 1


async def test_max_price_refuses_before_anything_is_charged(session: Session) -> None:
    s = session
    await s.services.store.accounts.add_credits(DEV_WALLET, 2, reason="test grant")
    args = {"prompt": "a thrifty owl", "payment": {"method": "credits"}, "width": 64, "height": 64}
    refused = error_text(await s.call("generate_image", {**args, "max_price": 0.5}))
    assert "max_price" in refused and "costs 1 credits" in refused and "nothing was charged" in refused
    assert await s.services.store.accounts.credits(DEV_WALLET) == 2
    assert await s.services.store.generations.recent(wallet=DEV_WALLET) == []
    # At or above the price it runs and takes one credit; the free quota costs nothing whatever the cap.
    assert not (await s.call("generate_image", {**args, "max_price": 1})).is_error
    assert await s.services.store.accounts.credits(DEV_WALLET) == 1
    free = {**args, "payment": {"method": "free"}, "max_price": 0}
    assert not (await s.call("generate_image", free)).is_error
    # A crypto payment was already made by the caller's transaction: max_price has nothing to bound there.
    tx = await s.pay_s("a thrifty owl")
    refused = error_text(await s.call("generate_video", {"prompt": "a thrifty owl", "max_price": 3,
                                                         "payment": {"method": "crypto", "tx_hash": tx}}))
    assert "max_price" in refused and "crypto" in refused
    negative = error_text(await s.call("generate_image", {**args, "max_price": -1}))
    assert "max_price" in negative
