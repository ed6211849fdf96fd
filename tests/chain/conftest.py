"""Chain fixtures: an MCP client on the embedded chain, the running services behind it, and a wallet helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp.client import Client

from sf_mcp.chain import ChainClient, Indexer, Signer
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS
from sf_mcp.config import Settings
from sf_mcp.server.services import Services
from support import connected


@dataclass
class Session:
    """An MCP client plus what a test needs to act on the chain beside it."""

    client: Client
    services: Services

    @property
    def chain(self) -> ChainClient:
        return self.services.chain

    @property
    def indexer(self) -> Indexer:
        return self.services.indexer

    async def pay_s(self, prompt: str, kind: str = "image", *, account: int = 0, value: int | None = None) -> str:
        """payWithS from dev account ``account``; returns the tx hash."""
        price = value if value is not None else await self.chain.call(self.chain.payment.functions.priceS())
        receipt = await self.chain.send(Signer(DEV_KEYS[account]), self.chain.payment.functions.payWithS(prompt, kind),
                                        value=price)
        return receipt["transactionHash"].to_0x_hex()

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        return await self.client.call_tool(tool, args)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
async def session(settings: Settings, mode: str) -> AsyncIterator[Session]:
    async with connected(settings, mode=mode) as (client, services):
        yield Session(client=client, services=services)


@pytest.fixture
async def auto_session(settings: Settings) -> AsyncIterator[Session]:
    """One protocol mode, for tests where the mode does not matter."""
    async with connected(settings, mode="auto") as (client, services):
        yield Session(client=client, services=services)


DEV0, DEV1, DEV2 = DEV_ADDRESSES[0], DEV_ADDRESSES[1], DEV_ADDRESSES[2]
