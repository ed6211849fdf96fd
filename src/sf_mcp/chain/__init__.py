"""The chain package: the only code that imports web3.

Public API:

- :func:`open_chain` -> :class:`ChainClient` (embedded py-evm chain, anvil or Sonic)
- :func:`deploy` (the one deployment path) and :class:`Deployment`
- :class:`ChainPaymentVerifier` (``jobs.gate.PaymentVerifier``) and :class:`PaymentVerdict`
- :class:`OperatorActions` (``jobs.runner.Refunder`` and contest submissions)
- :class:`Indexer` (the event sidecar), :class:`Checkpoint`, :class:`IndexerState`
- :class:`TxPlanner`, :class:`TxPlan`, :class:`TxResult` (user transactions)
"""

from __future__ import annotations

from sf_mcp.chain.client import ChainClient, Signer, connect_rpc, is_dev_chain
from sf_mcp.chain.contracts import Deployment
from sf_mcp.chain.deploy import deploy
from sf_mcp.chain.embedded import EmbeddedChain, NewChainHook, start_embedded
from sf_mcp.chain.events import ChainUpdate
from sf_mcp.chain.indexer import Checkpoint, Indexer, IndexerState
from sf_mcp.chain.operator import OperatorActions
from sf_mcp.chain.payments import ChainPaymentVerifier, PaymentVerdict
from sf_mcp.config import Settings

__all__ = [
    "ChainClient",
    "ChainUpdate",
    "ChainPaymentVerifier",
    "Checkpoint",
    "Deployment",
    "EmbeddedChain",
    "Indexer",
    "IndexerState",
    "OperatorActions",
    "PaymentVerdict",
    "Signer",
    "connect_rpc",
    "deploy",
    "is_dev_chain",
    "open_chain",
    "start_embedded",
]


async def open_chain(settings: Settings, *, on_new_chain: NewChainHook | None = None) -> ChainClient:
    """The chain these settings name: the embedded chain of the data dir when no RPC URL is set (``on_new_chain``
    runs when it is created), else the RPC's (checked)."""
    if settings.chain.embedded:
        return await start_embedded(confirmations=settings.chain.confirmations, home=settings.storage.data_dir / "chain",
                                    on_new_chain=on_new_chain)
    return await connect_rpc(settings)
