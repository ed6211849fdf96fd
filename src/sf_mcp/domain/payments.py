"""Paying for a generation on chain: the contract's current price in S or USDC, or one on-chain credit."""

from __future__ import annotations

from typing import Literal

from sf_mcp.chain.txplan import Step
from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.chain.views import Contracts
from sf_mcp.domain.actions import Caller, ChainAction, outcome
from sf_mcp.errors import InsufficientFunds
from sf_mcp.prompt import clean_prompt

PayMethod = Literal["S", "USDC", "credits"]
Kind = Literal["image", "video"]

NEXT_STEP = ('then call the generate tool with payment {"method": "crypto", "tx_hash": <the payment transaction '
             'hash>} and the same prompt')


async def prepare_payment(contracts: Contracts, caller: Caller, *, method: PayMethod, prompt: str,
                          kind: Kind) -> ChainAction:
    """The transactions that pay for one generation of ``kind`` (for USDC an approve first, when needed).

    The prompt is cleaned as the generate tools clean it, so the payment matches the request.
    """
    wallet = caller.wallet
    cleaned = clean_prompt(prompt)
    steps: list[Step] = []
    if method == "S":
        price = await contracts.price_s()
        steps.append(contracts.pay_with_s(cleaned, kind, price=price,
                                          summary=f"pay {format_s(price)} S for one {kind}: {cleaned[:60]!r}"))
    elif method == "USDC":
        price = await contracts.price_usdc()
        allowance = await contracts.usdc_allowance(wallet)
        if allowance < price:
            steps.append(contracts.approve_usdc(
                price, summary=f"allow the payment contract to take {format_usdc(price)} USDC"))
        # Without the approval mined the node cannot estimate the payment.
        steps.append(contracts.pay_with_usdc(
            cleaned, kind, price=price, estimate=allowance >= price,
            summary=f"pay {format_usdc(price)} USDC for one {kind}: {cleaned[:60]!r}"))
    else:
        credits = await contracts.onchain_credits(wallet)
        if credits < 1:
            raise InsufficientFunds(f"payment: {wallet} has no on-chain credits on the payment contract; "
                                    "pay with S or USDC")
        steps.append(contracts.use_credits(
            cleaned, kind, summary=f"spend one on-chain credit (of {credits}) for one {kind}"))
    return await outcome(caller, steps, f"pay for one {kind} with {method}", [NEXT_STEP])
