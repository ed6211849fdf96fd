"""Voting in the weekly contest, with every check the contract would revert on, said in words first.

A vote is refused before any transaction is planned when the generation is not
in the contest, belongs to a closed contest, is the caller's own, was already
voted for by the caller, or when the caller has no voting power (NFTs count from
the contest after they were staked).
"""

from __future__ import annotations

from sf_mcp.chain.payments import crypto_key_prefix
from sf_mcp.chain.views import Contracts
from sf_mcp.domain.actions import Caller, ChainAction, outcome
from sf_mcp.errors import InsufficientFunds, InvalidRequest, NotFound
from sf_mcp.store import Store

MAX_GENERATION_ID = 2**63 - 1


async def vote(contracts: Contracts, store: Store, caller: Caller, generation_id: int | str) -> ChainAction:
    """Vote for a contest generation (its id, or the task id of a paid generation) with the caller's NFTs."""
    wallet = caller.wallet
    gen_id = await contest_generation_id(contracts, store, generation_id)
    entry = await contracts.contest_entry(gen_id)
    if not entry.exists:
        raise NotFound(f"generation_id: generation {gen_id} is not in the contest (not submitted yet, or unknown)")
    current = await contracts.current_contest_id()
    if entry.contest_id != current:
        raise InvalidRequest(f"generation_id: generation {gen_id} belongs to contest {entry.contest_id}, which is "
                             f"closed (contest {current} is open)")
    if entry.creator == wallet:
        raise InvalidRequest(f"generation_id: generation {gen_id} is yours; you cannot vote for your own work")
    if await contracts.has_voted(gen_id, wallet):
        raise InvalidRequest(f"generation_id: you already voted for generation {gen_id}")
    power = await contracts.voting_power(wallet)
    if power == 0:
        raise InsufficientFunds(
            f"vote: {wallet} has no voting power in contest {current}; NFTs count from the contest after they "
            "were staked (use the stake tool)"
        )
    summary = f"vote for generation {gen_id} ({entry.prompt[:50]!r}) with weight {power}"
    return await outcome(caller, [contracts.vote(gen_id, summary=summary)], summary)


async def contest_generation_id(contracts: Contracts, store: Store, generation_id: int | str) -> int:
    """The contest id of a generation given by contest id or by task id (only paid tasks are in the contest)."""
    if isinstance(generation_id, int) or generation_id.isdigit():
        gen_id = int(generation_id)
        if gen_id <= 0 or gen_id > MAX_GENERATION_ID:
            raise InvalidRequest("generation_id: must be a positive contest generation id or a task id")
        return gen_id
    row = await store.generations.get(generation_id)
    if row is None:
        raise NotFound(f"generation_id: no task {generation_id[:64]!r}")
    if row.chain_request_id is None or not row.payment_key.startswith(crypto_key_prefix(contracts.chain_id)):
        raise InvalidRequest(f"generation_id: task {row.task_id} was not paid on chain, so it is not in the contest")
    return row.chain_request_id
