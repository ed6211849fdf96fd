"""What the chain package keeps, one class per concern, gathered under ``store.chain``.

- :mod:`sf_mcp.store.events`: indexed events, the indexer's cursor and the reads built on them;
- :mod:`sf_mcp.store.reorgs`: rewinding after a reorg, forgetting a reset chain;
- :mod:`sf_mcp.store.agent_spend`: the agent key's daily spending.
"""

from __future__ import annotations

from sf_mcp.store.agent_spend import AgentSpending
from sf_mcp.store.db import Database
from sf_mcp.store.events import (
    CHECKPOINTS_KEPT,
    AppliedBatch,
    ChainEvent,
    Cursor,
    IndexedEvents,
    JobFromPayment,
    crypto_payment_key,
    x402_payment_key,
)
from sf_mcp.store.reorgs import Reorgs

__all__ = [
    "CHECKPOINTS_KEPT", "AppliedBatch", "ChainEvent", "ChainStore", "Cursor", "JobFromPayment", "crypto_payment_key",
    "x402_payment_key",
]


class ChainStore(IndexedEvents, Reorgs, AgentSpending):
    """The three concerns behind one object, so the chain package keeps a single ``store.chain``."""

    def __init__(self, db: Database) -> None:
        self._db = db
