"""Read models: tables the indexer maintains from contract events, so reads never go to the chain.

Mature indexers (Ponder, graph-node, Subsquid) answer queries from tables they
keep from events; so does sf-mcp. In the same transaction that stores a block
range's events (``IndexedEvents.apply``), :func:`apply_read_models` turns them
into rows:

- ``rm_votes``: one row per ``VoteCast`` (leaderboard, gallery votes, creator stats);
- ``rm_submissions``: one row per ``GenerationSubmitted`` (the contest entries);
- ``rm_ledger``: amounts, one row per token and party of an event: prize pools
  funded (``pool``, ``+``) and rolled over (``pool``, ``-`` from one contest and
  ``+`` to the next), prizes won at finalization (``won``, plus one ``finalized``
  marker per contest, also when its pool rolled over for want of winners), prizes
  and staking rewards claimed, all tokens at once or one to a recipient
  (``prize_claimed``, ``reward_claimed``), on-chain credits added and used (``credits``, ``+``/``-``);
- stakes stay in ``nft_stakes`` (``store.events.apply_stake``).

Every row carries its event's block number: a reorg deletes the rows above the fork
point together with the events (``Reorgs.rollback``), and re-mined events make them
again, once, keyed by ``(chain_id, tx_hash, log_index[, part])``. Answers say which
block they reflect (:meth:`ReadModels.as_of`). Amounts are exact decimal strings,
summed in Python: uint256 values outgrow the databases' integers.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel

from sf_mcp.shared_read import SharedRead
from sf_mcp.store.db import Database, Transaction

__all__ = ["AccountFigures", "AsOf", "ContestFigures", "NATIVE_TOKEN_SENTINEL", "ReadModels", "apply_read_models",
           "rows_of_event"]

# The address our contracts put in events for payments in S (chain.contracts.NATIVE_TOKEN; a test keeps them equal).
NATIVE_TOKEN_SENTINEL = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
READ_MODEL_TABLES = ("rm_votes", "rm_submissions", "rm_ledger")
CURSOR_MAX_AGE_S = 0.5  # how far an answer may lag the cursor another replica's indexer just moved
READ_MODEL_EVENTS = frozenset({  # the events :func:`rows_of_event` makes rows of; the others are skipped at once
    "VoteCast", "GenerationSubmitted", "PrizePoolFunded", "PrizePoolRolledOver", "ContestFinalized", "PrizeClaimed",
    "RewardsClaimed", "PrizePaid", "RewardPaid", "CreditsAdded", "CreditsUsed",
})
ANSWERS_KEPT = 256  # leaderboard and contest answers memoized per indexed block (a few contests and limits)
T = TypeVar("T")


class AsOf(BaseModel):
    """The indexed block the read models reflect, and its timestamp (the chain's clock at that block)."""

    block_number: int
    block_hash: str = ""
    block_timestamp: int | None = None


class ContestFigures(BaseModel):
    contest_id: int
    pool: dict[str, int]  # token ("S", "USDC") -> base units funded and rolled in, minus rolled out
    finalized: bool
    winners: list[str]  # in rank order, once finalized


class AccountFigures(BaseModel):
    credits_onchain: int
    prizes_won: dict[str, int]
    prizes_claimed: dict[str, int]
    rewards_claimed: dict[str, int]
    points_all_time: int
    points_by_contest: dict[int, int]
    votes_received: int

    def pending_prize(self, token: str) -> int:
        return self.prizes_won.get(token, 0) - self.prizes_claimed.get(token, 0)


def _token(address: Any) -> str:
    return "S" if str(address).lower() == NATIVE_TOKEN_SENTINEL else "USDC"


def rows_of_event(events: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The read-model rows of decoded events (``chain_id, tx_hash, log_index, block_number, event, args``)."""
    out: dict[str, list[dict[str, Any]]] = {table: [] for table in READ_MODEL_TABLES}
    for ev in events:
        if ev["event"] not in READ_MODEL_EVENTS:  # most of a busy range: payments, splits, refunds
            continue
        a = ev["args"]
        key = {"chain_id": ev["chain_id"], "tx_hash": ev["tx_hash"], "log_index": ev["log_index"],
               "block_number": ev["block_number"]}
        name = ev["event"]
        ledger = out["rm_ledger"]

        def entry(part: int, kind: str, token: str, amount: Any, *, account: Any = None,
                  contest: Any = None, key: dict[str, Any] = key) -> dict[str, Any]:
            return {**key, "part": part, "kind": kind, "account": str(account).lower() if account else None,
                    "contest_id": int(contest) if contest is not None else None, "token": token,
                    "amount": str(int(amount))}

        if name == "VoteCast":
            out["rm_votes"].append({**key, "voter": str(a["voter"]).lower(), "generation_id": int(a["generationId"]),
                                    "creator": str(a["creator"]).lower(), "contest_id": int(a["contestId"]),
                                    "weight": int(a["weight"])})
        elif name == "GenerationSubmitted":
            out["rm_submissions"].append({**key, "generation_id": int(a["generationId"]),
                                          "creator": str(a["creator"]).lower(), "contest_id": int(a["contestId"]),
                                          "prompt": str(a["prompt"]), "result_url": str(a["resultUrl"])})
        elif name == "PrizePoolFunded":
            ledger.append(entry(0, "pool", _token(a["token"]), a["amount"], contest=a["contestId"]))
        elif name == "PrizePoolRolledOver":  # a contest finalized without winners hands its pool on
            for part, (token, amount) in enumerate((("S", a["sAmount"]), ("USDC", a["usdcAmount"]))):
                ledger.append(entry(2 * part, "pool", token, -int(amount), contest=a["contestId"]))
                ledger.append(entry(2 * part + 1, "pool", token, amount, contest=a["toContestId"]))
            ledger.append(entry(4, "finalized", "S", 0, contest=a["contestId"]))
        elif name == "ContestFinalized":
            ledger.append(entry(0, "finalized", "S", 0, contest=a["contestId"]))
            for rank, winner in enumerate(a["winners"]):
                ledger.append(entry(1 + 2 * rank, "won", "S", a["sAmounts"][rank], account=winner,
                                    contest=a["contestId"]))
                ledger.append(entry(2 + 2 * rank, "won", "USDC", a["usdcAmounts"][rank], account=winner,
                                    contest=a["contestId"]))
        elif name in ("PrizeClaimed", "RewardsClaimed"):
            kind = "prize_claimed" if name == "PrizeClaimed" else "reward_claimed"
            ledger.append(entry(0, kind, "S", a["sAmount"], account=a["account"]))
            ledger.append(entry(1, kind, "USDC", a["usdcAmount"], account=a["account"]))
        elif name in ("PrizePaid", "RewardPaid"):  # one token's claim, sent to a recipient
            kind = "prize_claimed" if name == "PrizePaid" else "reward_claimed"
            ledger.append(entry(0, kind, _token(a["token"]), a["amount"], account=a["account"]))
        elif name == "CreditsAdded":
            ledger.append(entry(0, "credits", "credits", a["amount"], account=a["user"]))
        elif name == "CreditsUsed":
            ledger.append(entry(0, "credits", "credits", -int(a["amount"]), account=a["user"]))
    return out


async def apply_read_models(tx: Transaction, events: Iterable[Any]) -> None:
    """Inside the indexer's transaction: the rows of newly stored events (``ChainEvent`` objects)."""
    rows = rows_of_event(
        {"chain_id": e.chain_id, "tx_hash": e.tx_hash, "log_index": e.log_index, "block_number": e.block_number,
         "event": e.event, "args": e.args} for e in events if e.event in READ_MODEL_EVENTS
    )
    for table, items in rows.items():
        if items:
            columns = list(items[0])
            await tx.insert_rows(table, columns, [tuple(item[c] for c in columns) for item in items])


async def forget_read_models(tx: Transaction, chain_id: int, *, above_block: int = -1) -> None:
    """Inside a reorg's transaction: drop the rows of events above ``above_block`` (all of them by default)."""
    for table in READ_MODEL_TABLES:
        await tx.execute(f"DELETE FROM {table} WHERE chain_id = ? AND block_number > ?", (chain_id, above_block))


def _sums(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r["token"]] += int(r["amount"])
    return dict(out)


class ReadModels:
    """The questions the tools ask, answered from the read-model tables (no chain reads)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._answers: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cursors: dict[int, SharedRead[AsOf | None]] = {}
        self._computing: dict[tuple[Any, ...], anyio.Lock] = {}  # answers being computed, by key

    async def _per_block(self, chain_id: int, as_of: AsOf | None, key: tuple[Any, ...],
                         compute: Callable[[], Awaitable[T]]) -> T:
        """``compute()``, memoized for the indexed block ``as_of`` (its number and hash: a reorg that replaces
        it makes a new key). The tables change only when the cursor moves, in the same transaction, so an
        answer is kept only when the cursor did not move while it was computed. Callers asking the same
        question at once wait for one computation (fifty first calls make one query, not fifty)."""
        if as_of is None:
            return await compute()
        full = (chain_id, as_of.block_number, as_of.block_hash, *key)
        if full in self._answers:
            self._answers.move_to_end(full)
            return self._answers[full]  # type: ignore[no-any-return]
        computing = self._computing.setdefault(full, anyio.Lock())
        try:
            async with computing:
                if full in self._answers:  # computed while this caller waited
                    return self._answers[full]  # type: ignore[no-any-return]
                answer = await compute()
                if await self.as_of(chain_id) != as_of:
                    return answer
                self._answers[full] = answer
                while len(self._answers) > ANSWERS_KEPT:
                    self._answers.popitem(last=False)
                return answer
        finally:
            if not computing.locked() and not computing.statistics().tasks_waiting:
                self._computing.pop(full, None)

    async def as_of(self, chain_id: int) -> AsOf | None:
        """The indexer's cursor: the block the answers read after this call reflect (or a later one).

        Every leaderboard, gallery and account answer starts here, so it is read once for all callers
        (:class:`SharedRead`): a cursor moved by this process is seen at once (a transaction that moves it
        marks it changed), one moved by another replica's indexer within ``CURSOR_MAX_AGE_S``. Each
        answer names the block it reflects (``as_of_block``), so a lag is stated, never hidden.
        """
        shared = self._cursors.get(chain_id)
        if shared is None:
            shared = self._cursors[chain_id] = SharedRead(
                lambda: self._read_cursor(chain_id), version=lambda: self._db.changes["indexer_cursor"], clock=self._clock)
        return await shared.get(since=self._clock() - CURSOR_MAX_AGE_S)

    async def _read_cursor(self, chain_id: int) -> AsOf | None:
        row = await self._db.fetchone(
            "SELECT block_number, block_hash, block_timestamp FROM indexer_cursor WHERE chain_id = ?", (chain_id,)
        )
        if row is None:
            return None
        ts = row["block_timestamp"]
        return AsOf(block_number=int(row["block_number"]), block_hash=row["block_hash"] or "",
                    block_timestamp=int(ts) if ts is not None else None)

    async def leaderboard(self, chain_id: int, *, contest_id: int | None, limit: int,
                          as_of: AsOf | None = None) -> list[dict[str, Any]]:
        """Creators by points (votes weighted by the voters' NFTs); one contest or all time.

        Given the ``as_of`` just read, the answer is memoized for that block (callers must not change it)."""
        return await self._per_block(chain_id, as_of, ("leaderboard", contest_id, limit),
                                     lambda: self._leaderboard(chain_id, contest_id=contest_id, limit=limit))

    async def _leaderboard(self, chain_id: int, *, contest_id: int | None, limit: int) -> list[dict[str, Any]]:
        sql = ("SELECT creator, SUM(weight) AS points, COUNT(*) AS votes, COUNT(DISTINCT generation_id) AS generations "
               "FROM rm_votes WHERE chain_id = ?")
        params: list[Any] = [chain_id]
        if contest_id is not None:
            sql += " AND contest_id = ?"
            params.append(contest_id)
        sql += " GROUP BY creator ORDER BY points DESC, MIN(block_number), creator LIMIT ?"
        params.append(limit)
        return await self._db.fetchall(sql, params)

    async def contest(self, chain_id: int, contest_id: int, *, as_of: AsOf | None = None) -> ContestFigures:
        """Pool, finalization and winners of one contest (memoized for the block ``as_of``, when given)."""
        return await self._per_block(chain_id, as_of, ("contest", contest_id),
                                     lambda: self._contest(chain_id, contest_id))

    async def _contest(self, chain_id: int, contest_id: int) -> ContestFigures:
        rows = await self._db.fetchall(
            "SELECT kind, account, token, amount, part FROM rm_ledger WHERE chain_id = ? AND contest_id = ? "
            "AND kind IN ('pool', 'finalized', 'won') ORDER BY block_number, log_index, part",
            (chain_id, contest_id),
        )
        winners = list(dict.fromkeys(r["account"] for r in rows if r["kind"] == "won"))
        return ContestFigures(contest_id=contest_id, pool=_sums(r for r in rows if r["kind"] == "pool"),
                              finalized=any(r["kind"] == "finalized" for r in rows), winners=winners)

    async def account(self, chain_id: int, wallet: str) -> AccountFigures:
        wallet = wallet.lower()
        ledger = await self._db.fetchall(
            "SELECT kind, token, amount FROM rm_ledger WHERE chain_id = ? AND account = ?", (chain_id, wallet)
        )
        points = await self._db.fetchall(
            "SELECT contest_id, SUM(weight) AS points, COUNT(*) AS votes FROM rm_votes "
            "WHERE chain_id = ? AND creator = ? GROUP BY contest_id", (chain_id, wallet),
        )

        def of(kind: str) -> dict[str, int]:
            return _sums(r for r in ledger if r["kind"] == kind)

        by_contest = {int(r["contest_id"]): int(r["points"]) for r in points}
        return AccountFigures(
            credits_onchain=of("credits").get("credits", 0), prizes_won=of("won"), prizes_claimed=of("prize_claimed"),
            rewards_claimed=of("reward_claimed"), points_all_time=sum(by_contest.values()),
            points_by_contest=by_contest, votes_received=sum(int(r["votes"]) for r in points),
        )
