"""On-chain tools: check a payment, prepare one, stake BanditKidz NFTs, vote, finalize and claim contests, relay
signed transactions, and read the contest leaderboard.

Every tool acts for the calling wallet only (``caller_wallet``). User actions
answer unsigned transactions (``plan``) for that wallet to sign; where the
server runs a local agent key over stdio, it signs and sends them within the
configured limits and answers the receipts (``sent``) instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from sf_mcp.chain.payments import PaymentVerdict
from sf_mcp.domain.actions import ChainAction, relay
from sf_mcp.domain.contests import ChainTime, advance_time, contest_action
from sf_mcp.domain.leaderboard import LEADERBOARD_MAX, Leaderboard
from sf_mcp.domain.leaderboard import leaderboard as leaderboard_of
from sf_mcp.domain.payments import prepare_payment as plan_payment
from sf_mcp.domain.staking import stake_action
from sf_mcp.domain.voting import vote as plan_vote
from sf_mcp.server.apps.views import tool_meta
from sf_mcp.server.mcp.context import services_of
from sf_mcp.server.mcp.identity import caller_of, caller_wallet
from sf_mcp.server.mcp.results import tool_errors
from sf_mcp.server.services import Services


async def verify_payment(
    tx_hash: Annotated[str, Field(description="0x-prefixed 32-byte hash of a payWithS / payWithUSDC / useCredits transaction.")],
    ctx: Context[Services],
    generation_type: Annotated[
        Literal["image", "video"] | None, Field(description="Also check the payment was for this type.")
    ] = None,
    prompt: Annotated[str | None, Field(max_length=4000, description="Also check the payment was for this prompt.")] = None,
) -> PaymentVerdict:
    """Check a Sonic payment transaction before generating with it.

    Says whether the transaction is a confirmed payment to the sf-mcp payment contract by
    your wallet (and, if given, for this type and prompt), who paid how much, its request
    id, confirmations, and the task it already paid for (consumed_by), if any. Nothing is
    consumed: pass the same hash to generate_image / generate_video to use it.
    """
    services = services_of(ctx)
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    return await services.verifier.verdict(tx_hash, wallet=wallet, generation_type=generation_type, prompt=prompt)

async def prepare_payment(
    method: Annotated[Literal["S", "USDC", "credits"], Field(
        description="Pay the contract's current price in S or USDC (3 S / 1 USDC by default; USDC needs an "
        "approve first) or with one on-chain credit.")],
    prompt: Annotated[str, Field(description="The prompt to pay for; the same text must be given to the generate tool.")],
    generation_type: Annotated[Literal["image", "video"], Field(description="What the payment is for.")],
    ctx: Context[Services],
) -> ChainAction:
    """Prepare the on-chain payment for one generation: the transactions your wallet signs.

    Use before generate_image / generate_video with {"method": "crypto", "tx_hash": ...}:
    sign and send the returned transactions in order (for USDC an approve comes first), then
    pass the payment transaction's hash. With a local agent key the server sends them itself.
    """
    services = services_of(ctx)
    return await plan_payment(services.contracts, caller_of(services), method=method, prompt=prompt,
                              kind=generation_type)

async def stake(
    action: Annotated[Literal["stake", "unstake", "claim"], Field(description="stake or unstake BanditKidz NFTs, or claim staking rewards.")],
    ctx: Context[Services],
    token_ids: Annotated[list[Annotated[int, Field(ge=0, lt=2**256)]], Field(max_length=50, description="NFT token ids (for stake / unstake).")] = [],  # noqa: B006
    recipient: Annotated[str | None, Field(max_length=64, description="claim: the address that receives the "
                                           "rewards (default: your wallet).")] = None,
) -> ChainAction:
    """Stake BanditKidz NFTs (voting power and 25 % of all fees), unstake them, or claim rewards.

    Staked NFTs earn a share of every payment in S and USDC and give one vote each in the
    weekly contests that start after they were staked. Unstaking before the minimum period
    forfeits that NFT's unclaimed rewards.
    """
    services = services_of(ctx)
    return await stake_action(services.contracts, caller_of(services), action=action, token_ids=token_ids,
                              recipient=recipient)

async def vote(
    generation_id: Annotated[
        Annotated[int, Field(ge=1, le=2**63 - 1)] | Annotated[str, Field(min_length=1, max_length=64)],
        Field(description="The contest generation id (the payment's request id) or the task id of a generation."),
    ],
    ctx: Context[Services],
) -> ChainAction:
    """Vote for a generation in the current weekly contest, with your staked NFTs' voting power.

    Voting power is the number of BanditKidz NFTs you had staked when the contest started;
    one vote per wallet per generation, and not for your own.
    """
    services = services_of(ctx)
    return await plan_vote(services.contracts, services.store, caller_of(services), generation_id)

async def contest(
    action: Annotated[Literal["finalize", "claim"], Field(
        description="finalize: pay out an ended contest's prize pool to its top three; claim: take your prizes.")],
    ctx: Context[Services],
    contest_id: Annotated[int | None, Field(ge=1, le=2**63 - 1, description="finalize: the contest (default: the last one that ended).")] = None,
    recipient: Annotated[str | None, Field(max_length=64, description="claim: the address that receives the "
                                           "prizes (default: your wallet).")] = None,
) -> ChainAction:
    """Finalize a weekly contest that has ended, or claim the prizes you won.

    Anyone may finalize an ended contest: its pool is split 50/30/20 among the top three
    creators (dust to first) and credited to them; each winner then claims with action "claim".
    Contests are finalized in order, so the plan also finalizes earlier ended ones still open; a
    contest without votes passes its pool on to the next contest.
    """
    services = services_of(ctx)
    return await contest_action(services.contracts, caller_of(services), action=action, contest_id=contest_id,
                                recipient=recipient)

async def send_transaction(
    signed_tx: Annotated[str, Field(max_length=262_144, description="The signed transaction, 0x-prefixed hex.")],
    ctx: Context[Services],
) -> ChainAction:
    """Broadcast a transaction your wallet signed from one of our plans, and wait for its receipt.

    For wallets without an RPC endpoint of their own: sign each transaction of a plan
    (prepare_payment, stake, vote, contest) in order and send it here. Only transactions
    signed by your wallet, for this chain, calling the payment, staking or voting contract
    (or approving one of them: USDC approve of the payment contract, BanditKidz
    setApprovalForAll of the staking contract) are relayed; token transfers are not.
    """
    return await relay(caller_of(services_of(ctx)), signed_tx)

async def leaderboard(
    ctx: Context[Services],
    period: Annotated[Literal["week", "all"], Field(description="week: one weekly contest; all: all time.")] = "week",
    contest_id: Annotated[int | None, Field(ge=1, le=2**63 - 1, description="A past contest (period week); default the open one.")] = None,
    limit: Annotated[int, Field(ge=1, le=LEADERBOARD_MAX, description="Entries to return.")] = 10,
) -> Leaderboard:
    """The contest leaderboard: creators ranked by the votes their generations received.

    period "week" shows the open weekly contest (or contest_id) with its prize pool. The pool is
    not paid automatically: after the contest ends, anyone finalizes it with the contest tool
    (action "finalize"), which credits the top three creators, who then claim it (action
    "claim"). "all" ranks all time.
    """
    services = services_of(ctx)
    return await leaderboard_of(services.contracts, services.store, period=period, contest_id=contest_id, limit=limit)


TOOLS = (verify_payment, prepare_payment, stake, vote, contest, send_transaction, leaderboard)


def register(server: MCPServer) -> None:
    for tool in TOOLS:
        server.add_tool(tool_errors(tool), structured_output=True, meta=tool_meta(tool.__name__))


async def dev_advance_time(
    seconds: Annotated[int, Field(ge=1, le=366 * 24 * 3600, description="How far to move the chain's clock.")],
    ctx: Context[Services],
) -> ChainTime:
    """Development chains only: move the chain's clock forward and mine a block (e.g. to end a contest)."""
    return await advance_time(services_of(ctx).contracts, seconds)


DEV_TOOLS = (dev_advance_time,)


def register_dev(server: MCPServer) -> None:
    """Development-only tools (``SF_DEV_TOOLS=1``); the server refuses to start with them on a real chain."""
    for tool in DEV_TOOLS:
        server.add_tool(tool_errors(tool), structured_output=True)
