"""examples/contest_agent.py end to end: a whole weekly contest on the embedded chain, paid out to the wei.

The agent runs against a real HTTP server (uvicorn in a thread, as ``sf-mcp serve --transport
http`` runs it, with ``SF_DEV_TOOLS`` on so time is advanced, not waited). Afterwards the test
reads the chain itself (events of the three contracts) and recomputes every payout from the
payments made, with the contracts' promised split: 15 % of each payment to the contest's pool,
paid 50/30/20 to the top three creators by points (dust to first); 25 % to the stakers, the same
per staked NFT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_mcp.server.services import Services
from support import ThreadedHttpServer, http_server_thread, load_example

pytestmark = pytest.mark.anyio

BPS = 10_000
STAKERS_BPS, PRIZE_POOL_BPS = 2_500, 1_500
PRIZE_SHARES_BPS = (5_000, 3_000, 2_000)  # first place also gets what the others' shares leave
PRECISION = 10**18  # the staking accumulator's scale


def _load_agent() -> Any:
    return load_example("contest_agent")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadedHttpServer]:
    with http_server_thread(tmp_path / "data", dev_tools=True, indexer_poll_s=0.2) as running:
        yield running


async def _events(services: Services) -> dict[str, list[dict[str, Any]]]:
    chain = services.chain
    found: dict[str, list[dict[str, Any]]] = {}
    for contract, names in ((chain.payment, ["PaymentReceived"]), (chain.staking, ["Staked", "RewardPaid"]),
                            (chain.voting, ["VoteCast", "ContestFinalized", "PrizePaid"])):
        for name in names:
            logs = await getattr(contract.events, name)().get_logs(from_block=0)
            found[name] = [{k: _lower(v) for k, v in log["args"].items()} for log in logs]
    found["usdc"] = [{"address": chain.address_of("MockUSDC")}]
    return found


def _claimed(events: list[dict[str, Any]], usdc: str) -> dict[str, tuple[int, int]]:
    """(S, USDC) paid per account by the per-token claims (RewardPaid / PrizePaid), each to the account itself."""
    paid: dict[str, tuple[int, int]] = {}
    for e in events:
        assert e["recipient"] == e["account"]
        s, u = paid.get(e["account"], (0, 0))
        paid[e["account"]] = (s, u + e["amount"]) if e["token"] == usdc else (s + e["amount"], u)
    return paid


def _lower(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [_lower(v) for v in value]
    return value


async def test_contest_agent_pays_out_what_the_contracts_promise(server: ThreadedHttpServer, capsys: pytest.CaptureFixture) -> None:
    agent = _load_agent()
    report = await agent.main(["--url", server.url])
    events = server.run(_events)
    usdc = events["usdc"][0]["address"]
    print(capsys.readouterr().out)  # the agent's printout, shown with -s or on failure

    # The payments made: one per wallet, all during the contest (3 S each, Dee's 1 USDC).
    payments = events["PaymentReceived"]
    assert len(payments) == len(agent.PLAYERS) == len(report["wallets"])
    reported = sorted((p["token"], int(p["amount"])) for w in report["wallets"] for p in w["payments"])
    on_chain = sorted(("USDC" if e["token"] == usdc else "S", e["amount"]) for e in payments)
    assert reported == on_chain == sorted([("S", 3 * 10**18)] * 3 + [("USDC", 10**6)])

    def total(token: str, bps: int) -> int:
        return sum(amount * bps // BPS for t, amount in on_chain if t == token)

    # Prize pool: 15 % of every payment, split 50/30/20 by points from the chain's own VoteCast events.
    points: dict[str, int] = defaultdict(int)
    for vote in events["VoteCast"]:
        points[vote["creator"]] += vote["weight"]
    ranking = sorted(points, key=lambda c: -points[c])
    assert len(set(points.values())) == len(points)  # no ties, so the order is unambiguous
    expected_prizes: dict[str, tuple[int, int]] = {}
    pool = {token: total(token, PRIZE_POOL_BPS) for token in ("S", "USDC")}
    for token_index, token in enumerate(("S", "USDC")):
        shares = [pool[token] * bps // BPS for bps in PRIZE_SHARES_BPS]
        shares[0] = pool[token] - shares[1] - shares[2]
        for creator, share in zip(ranking[:3], shares, strict=True):
            s, u = expected_prizes.get(creator, (0, 0))
            expected_prizes[creator] = (share, u) if token_index == 0 else (s, share)
    (finalized,) = events["ContestFinalized"]
    assert finalized["contestId"] == report["contest_id"] and finalized["winners"] == ranking[:3]
    claimed_prizes = _claimed(events["PrizePaid"], usdc)
    assert claimed_prizes == expected_prizes
    assert sum(s for s, _ in claimed_prizes.values()) == pool["S"] == 135 * 10**16  # 1.35 S: nothing lost
    assert sum(u for _, u in claimed_prizes.values()) == pool["USDC"] == 150_000

    # Staker rewards: 25 % of every payment, the same per staked NFT (sub-wei dust stays in the contract).
    staked: dict[str, int] = defaultdict(int)
    for e in events["Staked"]:
        staked[e["account"]] += 1
    nfts = sum(staked.values())
    per_nft = {token: total(token, STAKERS_BPS) * PRECISION // nfts for token in ("S", "USDC")}
    expected_rewards = {a: (n * per_nft["S"] // PRECISION, n * per_nft["USDC"] // PRECISION) for a, n in staked.items()}
    claimed_rewards = _claimed(events["RewardPaid"], usdc)
    assert claimed_rewards == expected_rewards

    # The agent saw and printed the same numbers.
    by_name = {w["name"]: w for w in report["wallets"]}
    for w in report["wallets"]:
        prize = expected_prizes.get(w["address"])
        if prize is None:
            assert w["prize"] is None
        else:
            assert (int(w["prize"]["s_wei"]), int(w["prize"]["usdc_units"])) == prize
        reward = expected_rewards.get(w["address"])
        if reward is None:
            assert w["staking_rewards"] is None
        else:
            assert (int(w["staking_rewards"]["s_wei"]), int(w["staking_rewards"]["usdc_units"])) == reward
    assert [e["creator"] for e in report["standings"]] == ranking
    assert [e["points"] for e in report["standings"]] == [points[c] for c in ranking]

    # The scenario, in numbers: Dee (no NFTs, voted for by all) wins; Cy (3 NFTs) only earns staking rewards.
    assert [e["name"] for e in report["standings"]] == ["Dee", "Ana", "Ben", "Cy"]
    assert [e["points"] for e in report["standings"]] == [6, 5, 4, 3]
    assert expected_prizes[by_name["Dee"]["address"]] == (675 * 10**15, 75_000)
    assert expected_prizes[by_name["Ana"]["address"]] == (405 * 10**15, 45_000)
    assert expected_prizes[by_name["Ben"]["address"]] == (270 * 10**15, 30_000)
    assert expected_rewards[by_name["Ana"]["address"]] == (375 * 10**15, 41_666)
    assert expected_rewards[by_name["Ben"]["address"]] == (750 * 10**15, 83_333)
    assert expected_rewards[by_name["Cy"]["address"]] == (1_125 * 10**15, 124_999)
