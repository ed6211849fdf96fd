"""Prices: what one generation costs by each way of paying (the quote tool's answer).

Prices live on the payment contract (the owner may change them), so a quote is read
from the chain each time; the same figures are what the gate compares a caller's
``max_price`` with before it charges anything (``jobs.gate.check_max_price``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sf_mcp.chain.units import PRICE_DECIMALS, format_units
from sf_mcp.chain.views import Contracts
from sf_mcp.errors import ChainError
from sf_mcp.store import Store

Method = Literal["S", "USDC", "x402", "credits"]
PriceToken = Literal["S", "USDC", "credits"]
Kind = Literal["image", "video"]
KINDS: tuple[Kind, ...] = ("image", "video")
METHODS: tuple[Method, ...] = ("S", "USDC", "x402", "credits")  # the order a quote lists them in


class Price(BaseModel):
    """One generation of one kind paid one way."""

    kind: Kind
    method: Method = Field(description='S / USDC: payWithS / payWithUSDC then {"method": "crypto"}; x402: '
                           'a signed USDC authorization, no gas; credits: one credit (off- or on-chain).')
    token: PriceToken
    amount: str = Field(description="In base units (wei for S, 1e-6 for USDC, whole credits).")
    display: str = Field(description="Human readable, e.g. '1 USDC'; max_price is compared with this number.")


class Quote(BaseModel):
    """Prices of one generation by kind and method, and what the caller may use for free or has prepaid."""

    wallet: str
    chain_id: int | None = None
    prices: list[Price] = Field(default_factory=list)
    free_quota_left_today: int = Field(description="Free generations left this UTC day ({\"method\": \"free\"}).")
    free_daily_quota: int
    credits_offchain: int
    credits_onchain: int | None = None
    note: str | None = None


def _price(kind: Kind, method: Method, token: PriceToken, amount: int) -> Price:
    shown = format_units(amount, PRICE_DECIMALS[token])
    unit = "credit" + ("" if amount == 1 else "s") if token == "credits" else token
    return Price(kind=kind, method=method, token=token, amount=str(amount), display=f"{shown} {unit}")


async def quote(contracts: Contracts, store: Store, *, wallet: str, free_daily_quota: int) -> Quote:
    """What one generation of each kind costs ``wallet`` by each method, read from the contract now.

    When the chain does not answer, the off-chain half (free quota, credits) still holds and the
    quote says why the on-chain prices are missing.
    """
    used = await store.accounts.free_used_today(wallet)
    answer = Quote(
        wallet=wallet,
        chain_id=contracts.chain_id,
        free_quota_left_today=max(0, free_daily_quota - used),
        free_daily_quota=free_daily_quota,
        credits_offchain=await store.accounts.credits(wallet),
    )
    prices = [_price(kind, "credits", "credits", 1) for kind in KINDS]
    try:
        price_s, price_usdc = await contracts.price_s(), await contracts.price_usdc()
        answer.credits_onchain = await contracts.onchain_credits(wallet)
    except ChainError as exc:
        answer.prices = prices
        answer.note = f"on-chain prices unavailable: {exc}"
        return answer
    for kind in KINDS:
        prices += [_price(kind, "S", "S", price_s), _price(kind, "USDC", "USDC", price_usdc),
                   _price(kind, "x402", "USDC", price_usdc)]
    answer.prices = sorted(prices, key=lambda p: (p.kind, METHODS.index(p.method)))
    return answer
