"""The sf-mcp contracts as typed reads and call steps, so no code outside chain/ sees an ABI.

:class:`Contracts` answers plain Python values (lower-case addresses, ints) for
the views the rules need, and builds the :class:`~sf_mcp.chain.txplan.Step` of
each user action; the domain layer decides which to call and what to say.
Checksummed addresses, ``.functions`` and decoded tuples stay in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import anyio

from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.contracts import NATIVE_TOKEN, NFT, PAYMENT, STAKING, USDC, VOTING, chain_name
from sf_mcp.chain.txplan import Step
from sf_mcp.chain.units import S_DECIMALS, USDC_DECIMALS
from sf_mcp.errors import ChainError

Token = Literal["S", "USDC"]

# Gas when a step cannot be estimated before an earlier one of its plan is mined (its nonce is ahead):
# a claim of one token settles at most 32 reward lots, and one finalization pays three winners; both
# stay well under 300k.
CLAIM_GAS = 300_000
FINALIZE_GAS = 300_000


@dataclass(frozen=True)
class StakeInfo:
    """One NFT's stake record."""

    staker: str  # lower-case; the zero address when never staked
    staked_at: int  # unix seconds


@dataclass(frozen=True)
class ContestEntry:
    """A generation submitted to the contest."""

    creator: str  # lower-case; the zero address when unknown
    contest_id: int
    votes: int
    prompt: str

    @property
    def exists(self) -> bool:
        return int(self.creator, 16) != 0


@dataclass(frozen=True)
class Pair:
    """An amount in S (wei) and in USDC (base units), as the contracts answer rewards and pools."""

    s: int
    usdc: int

    @property
    def zero(self) -> bool:
        return not self.s and not self.usdc


@dataclass(frozen=True)
class LiveFigures:
    """What events cannot tell about a wallet, read from the contracts at one block."""

    block: int
    voting_power: int  # NFTs staked before the open contest began (the contract's snapshot)
    earned: Pair  # staking rewards claimable now
    locked: Pair  # rewards of NFTs still inside the minimum stake period


class Contracts:
    """Reads and call steps of the payment, staking, voting, USDC and NFT contracts of one deployment."""

    def __init__(self, client: ChainClient) -> None:
        self._client = client
        self._w3 = client.w3
        self._schedule: tuple[int, int] | None = None  # (firstContestStart, contestDuration): immutable
        self._schedule_lock = anyio.Lock()  # the first callers at once read it once

    @property
    def chain_id(self) -> int:
        return self._client.chain_id

    @property
    def chain_label(self) -> str:
        return chain_name(self._client.chain_id)

    def _me(self, wallet: str) -> str:
        return str(self._w3.to_checksum_address(wallet))

    async def now(self) -> int:
        """The latest block's time, unix seconds (the contracts' clock)."""
        return int((await self._client.get_block("latest"))["timestamp"])

    async def head(self, *, since: float) -> int:
        """The head block number, read at or after ``since`` (``time.monotonic()``); shared by concurrent callers."""
        return await self._client.head(since=since)

    async def advance_time(self, seconds: int) -> int:
        """Development chains only: move the clock and mine a block; the new latest block time."""
        return int(await self._client.advance_time(seconds))

    # -- payment --------------------------------------------------------------
    def _token_address(self, token: Token) -> str:
        return str(self._w3.to_checksum_address(NATIVE_TOKEN if token == "S" else self._client.address_of(USDC)))

    def payment_tokens(self) -> dict[str, tuple[str, int]]:
        """The tokens payments arrive in: lower-case address -> (symbol, decimals)."""
        return {NATIVE_TOKEN: ("S", S_DECIMALS), self._client.address_of(USDC): ("USDC", USDC_DECIMALS)}

    async def price_s(self) -> int:
        return int(await self._client.call(self._client.payment.functions.priceS()))

    async def price_usdc(self) -> int:
        return int(await self._client.call(self._client.payment.functions.priceUSDC()))

    async def onchain_credits(self, wallet: str) -> int:
        return int(await self._client.call(self._client.payment.functions.credits(self._me(wallet))))

    async def usdc_allowance(self, wallet: str) -> int:
        """What the payment contract may take from ``wallet``'s USDC."""
        usdc = self._client.contract(USDC).functions
        return int(await self._client.call(usdc.allowance(self._me(wallet), self._client.payment.address)))

    def approve_usdc(self, amount: int, *, summary: str) -> Step:
        fn = self._client.contract(USDC).functions.approve(self._client.payment.address, amount)
        return Step(fn=fn, contract=USDC, summary=summary)

    def pay_with_s(self, prompt: str, kind: str, *, price: int, summary: str) -> Step:
        fn = self._client.payment.functions.payWithS(prompt, kind)
        return Step(fn=fn, contract=PAYMENT, value=price, spends_s=price, summary=summary)

    def pay_with_usdc(self, prompt: str, kind: str, *, price: int, estimate: bool, summary: str) -> Step:
        # maxAmount = the price read now: a price raised before the transaction is mined is refused, not taken.
        fn = self._client.payment.functions.payWithUSDC(prompt, kind, price)
        return Step(fn=fn, contract=PAYMENT, spends_usdc=price, estimate=estimate, summary=summary)

    def use_credits(self, prompt: str, kind: str, *, summary: str) -> Step:
        return Step(fn=self._client.payment.functions.useCredits(prompt, kind), contract=PAYMENT, summary=summary)

    # -- NFT and staking ----------------------------------------------------------
    async def nft_owner(self, token_id: int) -> str:
        try:
            owner = await self._client.call(self._client.contract(NFT).functions.ownerOf(token_id))
        except ChainError:
            raise ChainError(f"BanditKidz #{token_id} does not exist on {self.chain_label}") from None
        return str(owner).lower()

    async def staking_approved(self, wallet: str) -> bool:
        nft = self._client.contract(NFT).functions
        return bool(await self._client.call(nft.isApprovedForAll(self._me(wallet), self._client.staking.address)))

    def approve_staking(self, *, summary: str) -> Step:
        fn = self._client.contract(NFT).functions.setApprovalForAll(self._client.staking.address, True)
        return Step(fn=fn, contract=NFT, summary=summary)

    def stake(self, token_ids: list[int], *, estimate: bool, gas_fallback: int, summary: str) -> Step:
        staking = self._client.staking.functions
        fn = staking.stake(token_ids[0]) if len(token_ids) == 1 else staking.stakeBatch(token_ids)
        return Step(fn=fn, contract=STAKING, estimate=estimate, gas_fallback=gas_fallback, summary=summary)

    def unstake(self, token_id: int, *, summary: str) -> Step:
        return Step(fn=self._client.staking.functions.unstake(token_id), contract=STAKING, summary=summary)

    def claim_reward_to(self, token: Token, recipient: str, *, estimate: bool, summary: str) -> Step:
        """Claim one token's staking rewards to ``recipient`` (``claimRewardTo``)."""
        fn = self._client.staking.functions.claimRewardTo(self._token_address(token), self._me(recipient))
        return Step(fn=fn, contract=STAKING, estimate=estimate, gas_fallback=CLAIM_GAS, summary=summary)

    async def earned(self, wallet: str) -> Pair:
        """Staking rewards ``wallet`` can claim now."""
        s, usdc = await self._client.call(self._client.staking.functions.earned(self._me(wallet)))
        return Pair(int(s), int(usdc))

    async def locked_rewards(self, wallet: str) -> Pair:
        """Rewards of ``wallet``'s NFTs still inside the minimum stake period."""
        s, usdc = await self._client.call(self._client.staking.functions.pendingRewards(self._me(wallet)))
        return Pair(int(s), int(usdc))

    async def min_stake_period(self) -> int:
        return int(await self._client.call(self._client.staking.functions.minStakePeriod()))

    async def stake_info(self, token_id: int) -> StakeInfo:
        info = await self._client.call(self._client.staking.functions.stakeInfo(token_id))
        return StakeInfo(staker=str(info[0]).lower(), staked_at=int(info[1]))

    async def is_staked(self, token_id: int) -> bool:
        return bool(await self._client.call(self._client.staking.functions.isStaked(token_id)))

    async def staked_tokens(self, wallet: str) -> list[int]:
        tokens = await self._client.call(self._client.staking.functions.stakedTokensOf(self._me(wallet)))
        return [int(t) for t in tokens]

    async def live_figures(self, wallet: str, *, block: int) -> LiveFigures:
        """Voting power, claimable and locked rewards of ``wallet`` at ``block``: one JSON-RPC batch, cached per block."""
        me, client = self._me(wallet), self._client
        power, earned, locked = await client.call_many(
            [(client.voting, "getUserVotingPower", (me,)), (client.staking, "earned", (me,)),
             (client.staking, "pendingRewards", (me,))], block=block)
        return LiveFigures(block=block, voting_power=int(power), earned=Pair(int(earned[0]), int(earned[1])),
                           locked=Pair(int(locked[0]), int(locked[1])))

    # -- voting and contests --------------------------------------------------------
    async def contest_entry(self, generation_id: int) -> ContestEntry:
        creator, contest_id, votes, _, prompt, _ = await self._client.call(
            self._client.voting.functions.getGeneration(generation_id))
        return ContestEntry(creator=str(creator).lower(), contest_id=int(contest_id), votes=int(votes),
                            prompt=str(prompt))

    async def current_contest_id(self) -> int:
        return int(await self._client.call(self._client.voting.functions.currentContestId()))

    async def has_voted(self, generation_id: int, wallet: str) -> bool:
        return bool(await self._client.call(self._client.voting.functions.hasVoted(generation_id, self._me(wallet))))

    async def voting_power(self, wallet: str) -> int:
        return int(await self._client.call(self._client.voting.functions.getUserVotingPower(self._me(wallet))))

    async def pending_prize(self, wallet: str) -> Pair:
        s, usdc = await self._client.call(self._client.voting.functions.pendingPrize(self._me(wallet)))
        return Pair(int(s), int(usdc))

    async def _contest_schedule(self) -> tuple[int, int]:
        """``(firstContestStart, contestDuration)``: immutable in the voting contract, so read once."""
        if self._schedule is None:
            async with self._schedule_lock:
                if self._schedule is None:
                    voting = self._client.voting.functions
                    self._schedule = (int(await self._client.call(voting.firstContestStart())),
                                      int(await self._client.call(voting.contestDuration())))
        return self._schedule

    async def contest_at(self, timestamp: int) -> int:
        """The contest open at ``timestamp``: ``currentContestId`` of a block of that time, without a read."""
        first, duration = await self._contest_schedule()
        return 1 if timestamp < first else (timestamp - first) // duration + 1

    async def contest_window(self, contest_id: int) -> tuple[int, int]:
        """(start, end) in unix seconds, the end exclusive, as ``contestWindow`` answers (without a read)."""
        if contest_id < 1:
            raise ChainError(f"contest {contest_id} does not exist: contests are numbered from 1")
        first, duration = await self._contest_schedule()
        return first + (contest_id - 1) * duration, first + contest_id * duration

    async def is_finalized(self, contest_id: int) -> bool:
        return bool(await self._client.call(self._client.voting.functions.isFinalized(contest_id)))

    async def prize_pool(self, contest_id: int) -> Pair:
        s, usdc = await self._client.call(self._client.voting.functions.prizePool(contest_id))
        return Pair(int(s), int(usdc))

    async def top_creators(self, contest_id: int) -> list[str]:
        creators, _ = await self._client.call(self._client.voting.functions.topCreators(contest_id))
        return [str(c).lower() for c in creators]

    def vote(self, generation_id: int, *, summary: str) -> Step:
        return Step(fn=self._client.voting.functions.vote(generation_id), contract=VOTING, summary=summary)

    async def next_contest_to_finalize(self) -> int:
        """Contests are finalized in order: the first one not finalized yet."""
        return int(await self._client.call(self._client.voting.functions.nextContestToFinalize()))

    def claim_prize_to(self, token: Token, recipient: str, *, estimate: bool, summary: str) -> Step:
        """Claim one token's contest prizes to ``recipient`` (``claimPrizeTo``)."""
        fn = self._client.voting.functions.claimPrizeTo(self._token_address(token), self._me(recipient))
        return Step(fn=fn, contract=VOTING, estimate=estimate, gas_fallback=CLAIM_GAS, summary=summary)

    def finalize_contest(self, contest_id: int, *, estimate: bool, summary: str) -> Step:
        fn = self._client.voting.functions.finalizeContest(contest_id)
        return Step(fn=fn, contract=VOTING, estimate=estimate, gas_fallback=FINALIZE_GAS, summary=summary)
