"""Prices: what one generation costs by each way of paying, and the ``max_price`` a caller agrees to.

Prices live on the payment contract (the owner may change them), so a quote is read
from the chain each time; the same figures are what the gate compares a caller's
``max_price`` with before it charges anything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.units import format_units
from sf_mcp.errors import ChainError, InvalidRequest, PriceAboveMax
from sf_mcp.store import Store

Method = Literal["S", "USDC", "x402", "credits"]
KINDS = ("image", "video")
_DECIMALS = {"S": 18, "USDC": 6, "credits": 0}


class Price(BaseModel):
    """One generation of one kind paid one way."""

    kind: Literal["image", "video"]
    method: Method = Field(description='S / USDC: payWithS / payWithUSDC then {"method": "crypto"}; x402: '
                           'a signed USDC authorization, no gas; credits: one credit (off- or on-chain).')
    token: Literal["S", "USDC", "credits"]
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


def _price(kind: str, method: Method, token: str, amount: int) -> Price:
    shown = format_units(amount, _DECIMALS[token])
    unit = "credit" + ("" if amount == 1 else "s") if token == "credits" else token
    return Price(kind=kind, method=method, token=token, amount=str(amount), display=f"{shown} {unit}")


async def chain_prices(chain: ChainClient) -> tuple[int, int]:
    """(price in S wei, price in USDC units) per generation, read from the payment contract now."""
    pay = chain.payment.functions
    return int(await chain.call(pay.priceS(), "the price in S")), int(await chain.call(pay.priceUSDC(), "the price in USDC"))


async def quote(store: Store, chain: ChainClient | None, *, wallet: str, free_daily_quota: int) -> Quote:
    """What one generation of each kind costs ``wallet`` by each method, read from the contract now."""
    used = await store.accounts.free_used_today(wallet)
    answer = Quote(
        wallet=wallet,
        free_quota_left_today=max(0, free_daily_quota - used),
        free_daily_quota=free_daily_quota,
        credits_offchain=await store.accounts.credits(wallet),
    )
    prices = [_price(kind, "credits", "credits", 1) for kind in KINDS]
    if chain is None:
        answer.prices = prices
        answer.note = "this server has no chain connection: only free and credits generations are possible"
        return answer
    answer.chain_id = chain.chain_id
    try:
        price_s, price_usdc = await chain_prices(chain)
        me = chain.w3.to_checksum_address(wallet)
        answer.credits_onchain = int(await chain.call(chain.payment.functions.credits(me), "on-chain credits"))
    except ChainError as exc:  # the off-chain half of the answer still holds
        answer.prices = prices
        answer.note = f"on-chain prices unavailable: {exc}"
        return answer
    for kind in KINDS:
        prices += [_price(kind, "S", "S", price_s), _price(kind, "USDC", "USDC", price_usdc),
                   _price(kind, "x402", "USDC", price_usdc)]
    answer.prices = sorted(prices, key=lambda p: (p.kind, ["S", "USDC", "x402", "credits"].index(p.method)))
    return answer


def check_max_price(max_price: Decimal | None, *, token: str, amount: int) -> None:
    """Refuse, before anything is charged, a price above what the caller agreed to (in the token's own unit)."""
    if max_price is None:
        return
    price = Decimal(amount).scaleb(-_DECIMALS[token])
    if price > max_price:
        unit = "credits" if token == "credits" else token
        raise PriceAboveMax(
            f"max_price: this generation costs {format_units(amount, _DECIMALS[token])} {unit}, above your "
            f"max_price {max_price.normalize():f} {unit}; nothing was charged (see the quote tool for prices)")


def no_max_price_for_crypto(max_price: Decimal | None) -> None:
    """A crypto payment was already made by the caller's own transaction: there is nothing left to bound."""
    if max_price is not None:
        raise InvalidRequest(
            "max_price: a crypto payment was already made by your transaction (prepare_payment's maxAmount bounds "
            "it); give max_price with free, credits or x402 payments only")
