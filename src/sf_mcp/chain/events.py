"""What the indexer tells the rest of sf-mcp, in domain terms: chain/ knows nothing of MCP.

The server maps these to resource URIs (``server/services.py``); another
listener (a webhook, a metrics exporter) could map them to anything else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sf_mcp.store import GenerationRow


class ChainUpdate(BaseModel):
    """One indexer pass (or one retried operator action) changed these things."""

    model_config = ConfigDict(frozen=True)

    created: tuple[GenerationRow, ...] = ()  # jobs made for payments seen on chain
    changed: tuple[GenerationRow, ...] = ()  # jobs whose chain state changed: a vote for them, their refund
    standings_changed: bool = False  # votes, stakes, entries, its pool, a finalization or a reorg moved the contest

    @property
    def empty(self) -> bool:
        return not (self.created or self.changed or self.standings_changed)
