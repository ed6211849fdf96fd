"""The embedded chain: py-evm in this process, with the contracts deployed at start-up.

The default when no RPC URL is configured: it runs offline, starts in about a
second, and is gone when the process ends. The standard development accounts
(``chain.accounts``) get S, MockUSDC and BanditKidz NFTs, so the demo and the
tests pay, stake and vote with the same wallets anvil would give them.

Besides the usual RPC it can move its clock (contests are weekly), take and
revert snapshots (reorgs in tests) and simulate an RPC outage (``down``).
"""

from __future__ import annotations

import copy
from typing import Any

from web3 import AsyncWeb3
from web3.exceptions import ProviderConnectionError
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS, DEV_S, FUNDED_ACCOUNTS
from sf_mcp.chain.client import ChainClient, Signer
from sf_mcp.chain.contracts import Deployment
from sf_mcp.chain.deploy import deploy


class _Provider(AsyncEthereumTesterProvider):
    """The tester provider with an off switch, to test what an outage does."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    async def make_request(self, method: Any, params: Any) -> Any:
        self.calls += 1
        if self.down:
            raise ProviderConnectionError("embedded chain is switched off (simulated RPC outage)")
        return await super().make_request(method, params)


class EmbeddedChain:
    """Controls of the in-process chain that a real node does not offer over plain RPC."""

    def __init__(self, provider: _Provider) -> None:
        self.provider = provider
        self.tester = provider.ethereum_tester

    @property
    def down(self) -> bool:
        return self.provider.down

    @down.setter
    def down(self, value: bool) -> None:
        self.provider.down = value

    async def advance_time(self, seconds: int) -> int:
        """Mine a block ``seconds`` after the pending one; later blocks follow from there."""
        pending = self.tester.get_block_by_number("pending")["timestamp"]
        self.tester.time_travel(pending + seconds)
        return self.tester.get_block_by_number("latest")["timestamp"]

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def snapshot(self) -> int:
        return self.tester.take_snapshot()

    def revert(self, snapshot_id: int) -> None:
        self.tester.revert_to_snapshot(snapshot_id)


# The first start deploys into a template chain; later starts in the same process (tests, a
# restarted lifespan) copy it, which takes milliseconds instead of a second of transactions.
_template: tuple[Any, Deployment] | None = None


async def start_embedded(*, confirmations: int | None = None) -> ChainClient:
    """A fresh in-process chain with the contracts deployed and the dev accounts funded."""
    global _template
    if _template is None:
        provider = _Provider()
        w3 = AsyncWeb3(provider)
        tester = provider.ethereum_tester
        rich = tester.get_accounts()[0]  # eth-tester's own accounts hold the genesis S
        for wallet in DEV_ADDRESSES[:FUNDED_ACCOUNTS]:
            tester.send_transaction({"from": rich, "to": AsyncWeb3.to_checksum_address(wallet), "value": DEV_S,
                                     "gas": 21000})
        deployment = await deploy(w3, Signer(DEV_KEYS[0]), dev=True)
        _template = (copy.deepcopy(tester), deployment)
    else:
        provider = _Provider()
        provider.ethereum_tester = copy.deepcopy(_template[0])
    return ChainClient(AsyncWeb3(provider), _template[1], confirmations=confirmations,
                       operator=Signer(DEV_KEYS[0]), embedded=EmbeddedChain(provider))
