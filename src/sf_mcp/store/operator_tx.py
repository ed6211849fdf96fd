"""The operator key's own transactions (a refund, a contest submission) as one small state machine.

One :class:`OperatorTx` per (task, action). Its states and the only moves between them::

    (no row) --CLAIM-----> CLAIMED     a process won the right to sign
    CLAIMED  --TAKE_OVER-> CLAIMED     its owner signed nothing and went quiet: another process takes it
    CLAIMED  --SIGN------> SENT        signed bytes, hash and nonce recorded; then broadcast
    SENT     --REPLACE---> SENT        still pending when old: same nonce, higher fees, one more hash
    SENT     --RECLAIM---> CLAIMED     proved that none of the hashes can ever be mined: sign anew
    SENT     --MINE------> MINED       one of the hashes has a successful receipt (MINED -> MINED: again)
    CLAIMED, or SENT with a single hash --RELEASE--> (no row)    nothing reached the chain

:data:`TRANSITIONS` is the table: each transition's allowed source states and its target. The store
(:class:`sf_mcp.store.operator_txs.OperatorTxs`) applies each one as a single conditional statement
whose ``WHERE`` names those source states (plus the owner or the expected hash), so of two processes
racing for one step exactly one wins. Which transition to ask for, and the proof that makes RECLAIM
safe (none of the row's hashes can ever be mined), is :mod:`sf_mcp.chain.operator`'s.

Invariant: every transaction's hash is in ``hashes`` before it is broadcast, and all those signed since
the row was (re)claimed share one nonce (REPLACE keeps it); only RECLAIM, on proof that none of
``hashes`` can be mined, lets a new nonce be signed. So at most one transaction per (task, action) has an effect on chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["TRANSITIONS", "OperatorAction", "OperatorTx", "OperatorTxState", "Transition", "sources"]


class OperatorAction(StrEnum):
    """What the operator key does for a job (the table's CHECK constraint names the same values)."""

    REFUND = "refund"  # addCredits(payer, 1) for a failed crypto job
    SUBMIT = "submit"  # submitGeneration for a succeeded one


class OperatorTxState(StrEnum):
    """Where one (task, action) stands."""

    CLAIMED = "claimed"  # a process won the right to sign; nothing signed yet
    SENT = "sent"  # signed bytes, hash and nonce recorded before the broadcast; a replacement adds a hash
    MINED = "mined"  # one of the hashes has a successful receipt


class Transition(StrEnum):
    """The moves of :data:`TRANSITIONS`, one conditional store statement each."""

    CLAIM = "claim"  # insert the row; only the process whose insert succeeds goes on
    TAKE_OVER = "take_over"  # a claim whose owner signed nothing and went quiet changes owner
    SIGN = "sign"  # the claim's owner records its signed transaction (then broadcasts it)
    REPLACE = "replace"  # a pending transaction is re-signed with the same nonce and higher fees
    RECLAIM = "reclaim"  # none of the hashes can be mined any more (proved on chain): sign anew
    MINE = "mine"  # one of the hashes has a successful receipt
    RELEASE = "release"  # the node refused the only transaction, or building it failed: forget the row


_State = OperatorTxState
# transition -> (states it may start from; None = no row yet, its target; None = the row is deleted)
TRANSITIONS: Mapping[Transition, tuple[frozenset[OperatorTxState | None], OperatorTxState | None]] = {
    Transition.CLAIM: (frozenset({None}), _State.CLAIMED),
    Transition.TAKE_OVER: (frozenset({_State.CLAIMED}), _State.CLAIMED),
    Transition.SIGN: (frozenset({_State.CLAIMED}), _State.SENT),
    Transition.REPLACE: (frozenset({_State.SENT}), _State.SENT),
    Transition.RECLAIM: (frozenset({_State.SENT}), _State.CLAIMED),
    Transition.MINE: (frozenset({_State.SENT, _State.MINED}), _State.MINED),
    Transition.RELEASE: (frozenset({_State.CLAIMED, _State.SENT}), None),
}


def sources(transition: Transition) -> tuple[str, ...]:
    """The states ``transition`` may start from, as stored (sorted, for a stable SQL ``IN`` list)."""
    return tuple(sorted(str(s) for s in TRANSITIONS[transition][0] if s is not None))


class OperatorTx(BaseModel):
    """One row of ``operator_txs``: what the operator signed for a (task, action), and how far it got."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    action: OperatorAction
    chain_id: int
    status: OperatorTxState
    owner: str | None = None  # the process ("pid:random") that holds the claim or signed last
    nonce: int | None = None  # shared by every transaction in ``hashes``
    tx_hash: str | None = None  # the newest transaction recorded (or, once MINED, the one mined)
    raw_tx: str | None = None  # the newest transaction's signed bytes (hex), re-broadcast on resume
    hashes: tuple[str, ...] = Field(default=())  # every transaction ever recorded for this row, oldest first
    created_at: float
    updated_at: float

    @field_validator("hashes", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        return json.loads(value or "[]") if isinstance(value, str | None) else value

    @property
    def candidates(self) -> tuple[str, ...]:
        """Every hash that could carry the action (rows written before ``hashes`` existed have only tx_hash)."""
        return self.hashes or ((self.tx_hash,) if self.tx_hash else ())

    @property
    def signed(self) -> bytes | None:
        """The newest transaction's signed bytes, None while nothing is recorded."""
        return bytes.fromhex(self.raw_tx.removeprefix("0x")) if self.raw_tx else None
