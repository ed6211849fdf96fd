"""What a user action answers: transactions for the wallet to sign, or the receipts of the agent key's.

Every on-chain action (pay, stake, vote, contest, relay) ends in :func:`outcome`:
the planner either answers a plan for the caller's wallet or, where the agent key
is that wallet and may sign, sends the transactions and answers the receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from sf_mcp.chain.txplan import Step, TxPlan, TxPlanner, TxResult
from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.chain.views import Pair, Token
from sf_mcp.errors import InvalidRequest


class ClaimStep(Protocol):
    """``Contracts.claim_reward_to`` or ``Contracts.claim_prize_to``."""

    def __call__(self, token: Token, recipient: str, *, estimate: bool, summary: str) -> Step: ...


@dataclass(frozen=True)
class Caller:
    """Who an action is for, and the planner allowed to act for them (the agent key signs over stdio only)."""

    wallet: str
    planner: TxPlanner


class Payout(BaseModel):
    s_wei: str = Field(description="S in wei, decimal string (exact).")
    usdc_units: str = Field(description="USDC in units of 10^-6, decimal string (exact).")
    s: str = Field(description="The same in S.")
    usdc: str = Field(description="The same in USDC.")

    @classmethod
    def of(cls, s_wei: int, usdc_units: int) -> Payout:
        return cls(s_wei=str(int(s_wei)), usdc_units=str(int(usdc_units)), s=format_s(s_wei),
                   usdc=format_usdc(usdc_units))


class ChainAction(BaseModel):
    """The answer of stake / vote / contest / prepare_payment / send_transaction."""

    mode: Literal["plan", "sent"] = Field(
        description="plan: sign and send `plan.transactions` in order with the wallet; sent: the server's agent "
        "key already sent them (`sent` holds the receipts)."
    )
    summary: str
    plan: TxPlan | None = None
    sent: TxResult | None = None
    payout: Payout | None = Field(default=None, description="What a claim pays the wallet (claims only).")


def recipient_of(wallet: str, recipient: str | None) -> str:
    """A claim's recipient: the caller's wallet unless it names another (non-zero) address."""
    if recipient is None:
        return wallet
    text = recipient.strip().lower()
    try:
        valid = len(text) == 42 and text.startswith("0x") and int(text, 16) != 0
    except ValueError:
        valid = False
    if not valid:
        raise InvalidRequest(f"recipient: {recipient!r} is not a non-zero 0x-prefixed 20-byte address")
    return text


def claim_steps(claim: ClaimStep, what: str, amounts: Pair, recipient: str) -> list[Step]:
    """One claim per token with something to take: a wallet that cannot receive S, or that USDC refuses,
    still gets the other token out, and the recipient may be another address."""
    tokens: tuple[tuple[Token, int, str], ...] = (("S", amounts.s, f"{format_s(amounts.s)} S"),
                                                  ("USDC", amounts.usdc, f"{format_usdc(amounts.usdc)} USDC"))
    steps: list[Step] = []
    for token, amount, label in tokens:
        if amount:
            # Only the first can be estimated before the earlier one is mined.
            steps.append(claim(token, recipient, estimate=not steps, summary=f"claim {label} of {what} to {recipient}"))
    return steps


async def claim(caller: Caller, claim_to: ClaimStep, what: str, amounts: Pair, recipient: str) -> ChainAction:
    """Plan (or send) one claim per token of ``amounts`` of ``what`` to ``recipient``; the answer says what it pays."""
    steps = claim_steps(claim_to, what, amounts, recipient)
    summary = f"claim {format_s(amounts.s)} S and {format_usdc(amounts.usdc)} USDC of {what} to {recipient}"
    return await outcome(caller, steps, summary, payout=Payout.of(amounts.s, amounts.usdc))


async def outcome(caller: Caller, steps: list[Step], summary: str, notes: list[str] | None = None,
                  payout: Payout | None = None) -> ChainAction:
    """Plan ``steps`` for the caller, or send them with the agent key where it may."""
    answer = await caller.planner.execute(caller.wallet, steps, summary, notes)
    if isinstance(answer, TxResult):
        return ChainAction(mode="sent", summary=summary, sent=answer, payout=payout)
    return ChainAction(mode="plan", summary=summary, plan=answer, payout=payout)


async def relay(caller: Caller, signed_tx: str) -> ChainAction:
    """Broadcast a transaction the caller's wallet signed from one of our plans, and wait for its receipt."""
    result = await caller.planner.relay(caller.wallet, signed_tx)
    return ChainAction(mode="sent", summary=result.summary, sent=result)
