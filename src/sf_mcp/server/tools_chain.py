"""On-chain tools: check a payment, prepare one, stake BanditKidz NFTs, vote, finalize and claim contests, relay
signed transactions, and read the contest leaderboard.

Every tool acts for the calling wallet only (``caller_wallet``). User actions
answer unsigned transactions (``plan``) for that wallet to sign; where the
server runs a local agent key over stdio, it signs and sends them within the
configured limits and answers the receipts (``sent``) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field, computed_field

from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.contracts import NATIVE_TOKEN, NFT, PAYMENT, STAKING, USDC, VOTING, chain_name
from sf_mcp.chain.payments import ChainPaymentVerifier, PaymentVerdict
from sf_mcp.chain.txplan import Step, TxPlan, TxPlanner, TxResult
from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.errors import ChainError, InsufficientFunds, InvalidRequest, NotFound
from sf_mcp.generation.media import clean_prompt
from sf_mcp.server.identity import caller_wallet
from sf_mcp.server.models import iso_utc
from sf_mcp.server.results import services_of, tool_errors
from sf_mcp.server.services import Services

LEADERBOARD_MAX = 100
FINALIZE_MAX = 10  # contests finalized by one plan (they are finalized in order)


class Payout(BaseModel):
    s_wei: str = Field(description="S in wei, decimal string (exact).")
    usdc_units: str = Field(description="USDC in units of 10^-6, decimal string (exact).")
    s: str = Field(description="The same in S.")
    usdc: str = Field(description="The same in USDC.")

    @classmethod
    def of(cls, s_wei: int, usdc_units: int) -> "Payout":
        return cls(s_wei=str(int(s_wei)), usdc_units=str(int(usdc_units)), s=_s(s_wei), usdc=_usdc(usdc_units))


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


class LeaderboardEntry(BaseModel):
    rank: int
    creator: str
    points: int = Field(description="Votes received, each weighted by the voter's staked NFTs.")
    votes: int = Field(description="Number of votes cast for this creator's generations.")
    generations: int = Field(description="Generations of this creator that received votes.")


class Leaderboard(BaseModel):
    period: Literal["week", "all"]
    contest_id: int | None = Field(default=None, description="The weekly contest shown (period week).")
    contest_start: int | None = Field(default=None, description="Unix seconds, inclusive.")
    contest_end: int | None = Field(default=None, description="Unix seconds, exclusive.")
    finalized: bool | None = None
    prize_pool_s: str | None = Field(default=None, description="The contest's prize pool in S (decimal string).")
    prize_pool_usdc: str | None = None
    entries: list[LeaderboardEntry]
    indexed_to_block: int | None = Field(default=None, description="Votes up to this block are counted.")
    chain_id: int

    @computed_field(description="contest_start as an ISO 8601 UTC time.")
    @property
    def contest_start_iso(self) -> str | None:
        return iso_utc(self.contest_start)

    @computed_field(description="contest_end as an ISO 8601 UTC time.")
    @property
    def contest_end_iso(self) -> str | None:
        return iso_utc(self.contest_end)


def chain_of(services: Services) -> ChainClient:
    chain = services.chain
    if chain is None:
        raise ChainError("this server has no chain connection")
    return chain


def planner_of(services: Services) -> TxPlanner:
    if services.planner is None:
        raise ChainError("this server has no chain connection")
    return services.planner


def _acting_wallet(services: Services) -> tuple[str, TxPlanner]:
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    planner = planner_of(services)
    if get_access_token() is not None and planner.agent is not None:
        # Over HTTP the agent key never signs: callers get plans for their own wallet.
        planner = TxPlanner(chain_of(services), services.store)
    return wallet, planner


def _claim_steps(chain: ChainClient, fn: Any, contract: str, what: str, amounts: tuple[int, int],
                 recipient: str) -> list[Step]:
    """One claim per token with something to take (claimRewardTo / claimPrizeTo): a wallet that cannot receive
    S, or that USDC refuses, still gets the other token out, and the recipient may be another address."""
    to = chain.w3.to_checksum_address(recipient)
    steps = []
    for token, amount, label in ((NATIVE_TOKEN, amounts[0], f"{_s(amounts[0])} S"),
                                 (chain.address_of(USDC), amounts[1], f"{_usdc(amounts[1])} USDC")):
        if amount:
            # A later step cannot be estimated before the earlier one is mined (its nonce is ahead): a claim of
            # one token settles at most 32 lots, well under 300k gas.
            steps.append(Step(fn=fn(chain.w3.to_checksum_address(token), to), contract=contract,
                              estimate=not steps, gas_fallback=300_000,
                              summary=f"claim {label} of {what} to {recipient}"))
    return steps


def _recipient(wallet: str, recipient: str | None) -> str:
    """The claim's recipient: the caller's wallet unless it names another (non-zero) address."""
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


async def _outcome(planner: TxPlanner, wallet: str, steps: list[Step], summary: str,
                   notes: list[str] | None = None, payout: Payout | None = None) -> ChainAction:
    answer = await planner.execute(wallet, steps, summary, notes)
    if isinstance(answer, TxResult):
        return ChainAction(mode="sent", summary=summary, sent=answer, payout=payout)
    return ChainAction(mode="plan", summary=summary, plan=answer, payout=payout)


def register(server: MCPServer) -> None:
    @server.tool(structured_output=True)
    @tool_errors
    async def verify_payment(
        tx_hash: Annotated[str, Field(description="0x-prefixed 32-byte hash of a payWithS / payWithUSDC / useCredits transaction.")],
        ctx: Context,
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
        verifier: ChainPaymentVerifier = services.gate.verifier  # type: ignore[assignment]
        if verifier is None:
            raise ChainError("this server has no chain connection")
        wallet = caller_wallet(services.settings, over_http=services.over_http)
        return await verifier.verdict(tx_hash, wallet=wallet, generation_type=generation_type, prompt=prompt)

    @server.tool(structured_output=True)
    @tool_errors
    async def prepare_payment(
        method: Annotated[Literal["S", "USDC", "credits"], Field(
            description="Pay the contract's current price in S or USDC (3 S / 1 USDC by default; USDC needs an "
            "approve first) or with one on-chain credit.")],
        prompt: Annotated[str, Field(description="The prompt to pay for; the same text must be given to the generate tool.")],
        generation_type: Annotated[Literal["image", "video"], Field(description="What the payment is for.")],
        ctx: Context,
    ) -> ChainAction:
        """Prepare the on-chain payment for one generation: the transactions your wallet signs.

        Use before generate_image / generate_video with {"method": "crypto", "tx_hash": ...}:
        sign and send the returned transactions in order (for USDC an approve comes first), then
        pass the payment transaction's hash. With a local agent key the server sends them itself.
        """
        services = services_of(ctx)
        chain = chain_of(services)
        wallet, planner = _acting_wallet(services)
        cleaned = clean_prompt(prompt)
        pay = chain.payment.functions
        me = chain.w3.to_checksum_address(wallet)
        steps: list[Step] = []
        if method == "S":
            price = int(await chain.call(pay.priceS()))
            steps.append(Step(fn=pay.payWithS(cleaned, generation_type), contract=PAYMENT, value=price,
                              spends_s=price, summary=f"pay {_s(price)} S for one {generation_type}: {cleaned[:60]!r}"))
        elif method == "USDC":
            price = int(await chain.call(pay.priceUSDC()))
            usdc = chain.contract(USDC).functions
            allowance = int(await chain.call(usdc.allowance(me, chain.payment.address)))
            if allowance < price:
                steps.append(Step(fn=usdc.approve(chain.payment.address, price), contract=USDC,
                                  summary=f"allow the payment contract to take {_usdc(price)} USDC"))
            # maxAmount = the price read now: a price raised before the transaction is mined is refused, not taken.
            steps.append(Step(fn=pay.payWithUSDC(cleaned, generation_type, price), contract=PAYMENT, spends_usdc=price,
                              estimate=allowance >= price,
                              summary=f"pay {_usdc(price)} USDC for one {generation_type}: {cleaned[:60]!r}"))
        else:
            credits = int(await chain.call(pay.credits(me)))
            if credits < 1:
                raise InsufficientFunds(f"payment: {wallet} has no on-chain credits on the payment contract; pay with S or USDC")
            steps.append(Step(fn=pay.useCredits(cleaned, generation_type), contract=PAYMENT,
                              summary=f"spend one on-chain credit (of {credits}) for one {generation_type}"))
        notes = ['then call the generate tool with payment {"method": "crypto", "tx_hash": <the payment transaction hash>} '
                 "and the same prompt"]
        return await _outcome(planner, wallet, steps, f"pay for one {generation_type} with {method}", notes)

    @server.tool(structured_output=True)
    @tool_errors
    async def stake(
        action: Annotated[Literal["stake", "unstake", "claim"], Field(description="stake or unstake BanditKidz NFTs, or claim staking rewards.")],
        ctx: Context,
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
        chain = chain_of(services)
        wallet, planner = _acting_wallet(services)
        me = chain.w3.to_checksum_address(wallet)
        staking = chain.staking.functions
        ids = list(dict.fromkeys(token_ids))
        if action == "claim":
            to = _recipient(wallet, recipient)
            s_amount, usdc_amount = await chain.call(staking.earned(me))
            if not s_amount and not usdc_amount:
                raise InvalidRequest(f"claim: {wallet} has no staking rewards to claim yet")
            steps = _claim_steps(chain, staking.claimRewardTo, STAKING, "staking rewards", (s_amount, usdc_amount), to)
            summary = f"claim {_s(s_amount)} S and {_usdc(usdc_amount)} USDC of staking rewards to {to}"
            return await _outcome(planner, wallet, steps, summary, payout=Payout.of(s_amount, usdc_amount))
        if not ids:
            raise InvalidRequest(f"token_ids: give the NFT token ids to {action}")
        if action == "stake":
            nft = chain.contract(NFT).functions
            for token_id in ids:
                owner = await _owner_of(chain, token_id)
                if owner != wallet:
                    raise InvalidRequest(f"token_ids: BanditKidz #{token_id} belongs to {owner}, not to you ({wallet})")
            steps = []
            approved = await chain.call(nft.isApprovedForAll(me, chain.staking.address))
            if not approved:
                steps.append(Step(fn=nft.setApprovalForAll(chain.staking.address, True), contract=NFT,
                                  summary="allow the staking contract to hold your BanditKidz NFTs"))
            fn = staking.stake(ids[0]) if len(ids) == 1 else staking.stakeBatch(ids)
            # Without the approval mined the node cannot estimate the stake: allow 120k + 150k gas per NFT
            # (a first stake of one NFT uses ~225k).
            steps.append(Step(fn=fn, contract=STAKING, estimate=approved, gas_fallback=200_000 + 150_000 * len(ids),
                              summary=f"stake BanditKidz {', '.join(f'#{i}' for i in ids)}"))
            return await _outcome(planner, wallet, steps, f"stake {len(ids)} NFT(s)")
        steps = []
        min_period = int(await chain.call(staking.minStakePeriod()))
        now = int((await chain.get_block("latest"))["timestamp"])
        early: list[int] = []
        for token_id in ids:
            info = await chain.call(staking.stakeInfo(token_id))
            staker = str(info[0]).lower()
            if staker != wallet or not await chain.call(staking.isStaked(token_id)):
                raise InvalidRequest(f"token_ids: BanditKidz #{token_id} is not staked by you ({wallet})")
            summary = f"unstake BanditKidz #{token_id}"
            if int(info[1]) + min_period > now:
                early.append(token_id)
                summary += f" (early: {int(info[1]) + min_period - now} s before the minimum stake period ends)"
            steps.append(Step(fn=staking.unstake(token_id), contract=STAKING, summary=summary))
        summary = f"unstake {len(ids)} NFT(s)"
        notes: list[str] = []
        if early:
            # Locked rewards belong to tokens still inside the period; an early unstake forfeits its token's.
            s_amount, usdc_amount = await chain.call(staking.pendingRewards(me))
            young = 0
            for token_id in await chain.call(staking.stakedTokensOf(me)):
                young += int((await chain.call(staking.stakeInfo(token_id)))[1]) + min_period > now
            lost_s = int(s_amount) * len(early) // max(1, young)
            lost_usdc = int(usdc_amount) * len(early) // max(1, young)
            tokens = ", ".join(f"#{i}" for i in early)
            summary += f"; early: forfeits ~{_s(lost_s)} S / {_usdc(lost_usdc)} USDC"
            notes.append(
                f"early: BanditKidz {tokens} {'is' if len(early) == 1 else 'are'} inside the minimum stake period "
                f"({min_period} s); unstaking now forfeits ~{_s(lost_s)} S / {_usdc(lost_usdc)} USDC of locked "
                "rewards (an even share of what your young NFTs earned; they go to the remaining stakers). Wait "
                "until the period ends to keep them."
            )
        return await _outcome(planner, wallet, steps, summary, notes)

    @server.tool(structured_output=True)
    @tool_errors
    async def vote(
        generation_id: Annotated[
            Annotated[int, Field(ge=1, le=2**63 - 1)] | Annotated[str, Field(min_length=1, max_length=64)],
            Field(description="The contest generation id (the payment's request id) or the task id of a generation."),
        ],
        ctx: Context,
    ) -> ChainAction:
        """Vote for a generation in the current weekly contest, with your staked NFTs' voting power.

        Voting power is the number of BanditKidz NFTs you had staked when the contest started;
        one vote per wallet per generation, and not for your own.
        """
        services = services_of(ctx)
        chain = chain_of(services)
        wallet, planner = _acting_wallet(services)
        gen_id = await _generation_id(services, chain, generation_id)
        voting = chain.voting.functions
        creator, contest_id, votes, _, prompt, _ = await chain.call(voting.getGeneration(gen_id))
        creator = str(creator).lower()
        if int(creator, 16) == 0:
            raise NotFound(f"generation_id: generation {gen_id} is not in the contest (not submitted yet, or unknown)")
        current = int(await chain.call(voting.currentContestId()))
        if int(contest_id) != current:
            raise InvalidRequest(f"generation_id: generation {gen_id} belongs to contest {contest_id}, which is closed "
                                 f"(contest {current} is open)")
        if creator == wallet:
            raise InvalidRequest(f"generation_id: generation {gen_id} is yours; you cannot vote for your own work")
        me = chain.w3.to_checksum_address(wallet)
        if await chain.call(voting.hasVoted(gen_id, me)):
            raise InvalidRequest(f"generation_id: you already voted for generation {gen_id}")
        power = int(await chain.call(voting.getUserVotingPower(me)))
        if power == 0:
            raise InsufficientFunds(
                f"vote: {wallet} has no voting power in contest {current}; NFTs count from the contest after they "
                "were staked (use the stake tool)"
            )
        steps = [Step(fn=voting.vote(gen_id), contract=VOTING,
                      summary=f"vote for generation {gen_id} ({str(prompt)[:50]!r}) with weight {power}")]
        return await _outcome(planner, wallet, steps, steps[0].summary)

    @server.tool(structured_output=True)
    @tool_errors
    async def contest(
        action: Annotated[Literal["finalize", "claim"], Field(
            description="finalize: pay out an ended contest's prize pool to its top three; claim: take your prizes.")],
        ctx: Context,
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
        chain = chain_of(services)
        wallet, planner = _acting_wallet(services)
        voting = chain.voting.functions
        if action == "claim":
            to = _recipient(wallet, recipient)
            s_amount, usdc_amount = await chain.call(voting.pendingPrize(chain.w3.to_checksum_address(wallet)))
            if not s_amount and not usdc_amount:
                raise InvalidRequest(f"claim: {wallet} has no contest prizes to claim (finalize an ended contest first?)")
            steps = _claim_steps(chain, voting.claimPrizeTo, VOTING, "contest prizes", (s_amount, usdc_amount), to)
            summary = f"claim {_s(s_amount)} S and {_usdc(usdc_amount)} USDC of contest prizes to {to}"
            return await _outcome(planner, wallet, steps, summary, payout=Payout.of(s_amount, usdc_amount))
        current = int(await chain.call(voting.currentContestId()))
        cid = contest_id or current - 1
        if cid < 1:
            raise InvalidRequest(f"contest_id: no contest has ended yet (contest {current} is open)")
        _, end = await chain.call(voting.contestWindow(cid))
        now = int((await chain.get_block("latest"))["timestamp"])
        if now < int(end):
            raise InvalidRequest(f"contest_id: contest {cid} ends in {int(end) - now} s (at {iso_utc(int(end))}, unix time {int(end)}); "
                                 "finalize it after that")
        if await chain.call(voting.isFinalized(cid)):
            raise InvalidRequest(f"contest_id: contest {cid} is already finalized; winners claim with action \"claim\"")
        first = int(await chain.call(voting.nextContestToFinalize()))
        if cid - first >= FINALIZE_MAX:
            raise InvalidRequest(f"contest_id: contests are finalized in order and {first}..{cid - 1} are still open; "
                                 f"finalize up to contest {first + FINALIZE_MAX - 1} first")
        steps = []
        rolled = (0, 0)
        for k in range(first, cid + 1):
            pool_s, pool_usdc = await chain.call(voting.prizePool(k))
            pool_s, pool_usdc = int(pool_s) + rolled[0], int(pool_usdc) + rolled[1]
            creators, _ = await chain.call(voting.topCreators(k))
            who = ", ".join(str(c).lower() for c in creators) or f"nobody (the pool rolls over to contest {k + 1})"
            rolled = (0, 0) if creators else (pool_s, pool_usdc)
            # Only the first can be estimated before the earlier finalizations are mined.
            steps.append(Step(fn=voting.finalizeContest(k), contract=VOTING, estimate=k == first, gas_fallback=300_000,
                              summary=f"finalize contest {k}: {_s(pool_s)} S and {_usdc(pool_usdc)} USDC to {who}"))
        return await _outcome(planner, wallet, steps, steps[-1].summary)

    @server.tool(structured_output=True)
    @tool_errors
    async def send_transaction(
        signed_tx: Annotated[str, Field(max_length=262_144, description="The signed transaction, 0x-prefixed hex.")],
        ctx: Context,
    ) -> ChainAction:
        """Broadcast a transaction your wallet signed from one of our plans, and wait for its receipt.

        For wallets without an RPC endpoint of their own: sign each transaction of a plan
        (prepare_payment, stake, vote, contest) in order and send it here. Only transactions
        signed by your wallet, for this chain, calling the payment, staking or voting contract
        (or approving one of them: USDC approve of the payment contract, BanditKidz
        setApprovalForAll of the staking contract) are relayed; token transfers are not.
        """
        services = services_of(ctx)
        wallet = caller_wallet(services.settings, over_http=services.over_http)
        result = await planner_of(services).relay(wallet, signed_tx)
        return ChainAction(mode="sent", summary=result.summary, sent=result)

    @server.tool(structured_output=True)
    @tool_errors
    async def leaderboard(
        ctx: Context,
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
        return await leaderboard_of(services_of(ctx), period=period, contest_id=contest_id, limit=limit)


class ChainTime(BaseModel):
    chain_id: int
    timestamp: int = Field(description="The new latest block's time, unix seconds.")
    contest_id: int = Field(description="The contest open at that time.")
    contest_end: int = Field(description="When that contest ends, unix seconds.")

    @computed_field(description="timestamp as an ISO 8601 UTC time.")
    @property
    def timestamp_iso(self) -> str | None:
        return iso_utc(self.timestamp)

    @computed_field(description="contest_end as an ISO 8601 UTC time.")
    @property
    def contest_end_iso(self) -> str | None:
        return iso_utc(self.contest_end)


def register_dev(server: MCPServer) -> None:
    """Development-only tools (``SF_DEV_TOOLS=1``); the server refuses to start with them on a real chain."""

    @server.tool(structured_output=True)
    @tool_errors
    async def dev_advance_time(
        seconds: Annotated[int, Field(ge=1, le=366 * 24 * 3600, description="How far to move the chain's clock.")],
        ctx: Context,
    ) -> ChainTime:
        """Development chains only: move the chain's clock forward and mine a block (e.g. to end a contest)."""
        chain = chain_of(services_of(ctx))
        timestamp = await chain.advance_time(seconds)
        contest_id = int(await chain.call(chain.voting.functions.currentContestId()))
        _, end = await chain.call(chain.voting.functions.contestWindow(contest_id))
        return ChainTime(chain_id=chain.chain_id, timestamp=int(timestamp), contest_id=contest_id, contest_end=int(end))


def register_resources(server: MCPServer, current_services: Callable[[], Services]) -> None:
    @server.resource("leaderboard://week", mime_type="application/json")
    async def leaderboard_week() -> str:
        """The open weekly contest: creators ranked by votes, and the prize pool (updated as votes arrive)."""
        board = await leaderboard_of(current_services(), period="week", contest_id=None, limit=LEADERBOARD_MAX)
        return board.model_dump_json(indent=2)


async def leaderboard_of(services: Services, *, period: str, contest_id: int | None, limit: int) -> Leaderboard:
    chain = chain_of(services)
    voting = chain.voting.functions
    cursor = await services.store.chain.cursor(chain.chain_id)
    indexed = cursor.block_number if cursor else None
    if period == "all":
        rows = await services.store.chain.leaderboard(chain.chain_id, contest_id=None, limit=limit)
        return Leaderboard(period="all", entries=_entries(rows), indexed_to_block=indexed, chain_id=chain.chain_id)
    cid = contest_id or int(await chain.call(voting.currentContestId()))
    start, end = await chain.call(voting.contestWindow(cid))
    pool_s, pool_usdc = await chain.call(voting.prizePool(cid))
    finalized = bool(await chain.call(voting.isFinalized(cid)))
    rows = await services.store.chain.leaderboard(chain.chain_id, contest_id=cid, limit=limit)
    return Leaderboard(
        period="week", contest_id=cid, contest_start=int(start), contest_end=int(end), finalized=finalized,
        prize_pool_s=_s(pool_s), prize_pool_usdc=_usdc(pool_usdc), entries=_entries(rows), indexed_to_block=indexed,
        chain_id=chain.chain_id,
    )


def _entries(rows: list[dict[str, Any]]) -> list[LeaderboardEntry]:
    return [
        LeaderboardEntry(rank=i + 1, creator=r["creator"], points=int(r["points"]), votes=int(r["votes"]),
                         generations=int(r["generations"]))
        for i, r in enumerate(rows)
    ]


async def _generation_id(services: Services, chain: ChainClient, generation_id: int | str) -> int:
    if isinstance(generation_id, int) or (isinstance(generation_id, str) and generation_id.isdigit()):
        gen_id = int(generation_id)
        if gen_id <= 0 or gen_id > 2**63 - 1:
            raise InvalidRequest("generation_id: must be a positive contest generation id or a task id")
        return gen_id
    row = await services.store.generations.get(str(generation_id))
    if row is None:
        raise NotFound(f"generation_id: no task {str(generation_id)[:64]!r}")
    if row.chain_request_id is None or not row.payment_key.startswith(f"crypto:{chain.chain_id}:"):
        raise InvalidRequest(f"generation_id: task {row.task_id} was not paid on chain, so it is not in the contest")
    return row.chain_request_id


async def _owner_of(chain: ChainClient, token_id: int) -> str:
    try:
        return str(await chain.call(chain.contract(NFT).functions.ownerOf(token_id))).lower()
    except ChainError:
        raise InvalidRequest(f"token_ids: BanditKidz #{token_id} does not exist on {chain_name(chain.chain_id)}") from None


_s = format_s
_usdc = format_usdc
