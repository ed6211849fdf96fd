"""The operator's chain client behind a loopback proxy (tests/chain/rpc_proxy.py) in front of the embedded
chain's own JSON-RPC endpoint: a test makes the node refuse, lose or never answer the operator's requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from eth_utils import keccak
from tests.chain.conftest import Session
from tests.chain.rpc_proxy import RpcProxy

from sf_mcp.chain import ChainClient
from sf_mcp.chain.client import http_web3


@asynccontextmanager
async def proxied_chain(s: Session) -> AsyncIterator[tuple[RpcProxy, ChainClient]]:
    """A proxy in front of the session's embedded chain, and an operator client that reaches it only through it."""
    home = s.chain.embedded.provider.home
    upstream = json.loads((home / "endpoint.json").read_text())["url"]
    async with RpcProxy(upstream) as proxy:
        client = ChainClient(http_web3(proxy.url), s.chain.deployment, confirmations=s.chain.confirmations,
                             operator=s.chain.operator, label="the proxied chain")
        try:
            yield proxy, client
        finally:
            await client.close()


def refuse(message: str) -> Any:
    """An ``intercept`` that refuses every broadcast as a node does (a JSON-RPC error), forwarding the rest."""
    def intercept(call: dict[str, Any]) -> dict[str, Any] | None:
        if call.get("method") == "eth_sendRawTransaction":
            return {"error": {"code": -32000, "message": message}}
        return None
    return intercept


def swallow(lost: list[str]) -> Any:
    """An ``intercept`` for a node that accepts every broadcast, answers its hash, and then loses it."""
    def intercept(call: dict[str, Any]) -> dict[str, Any] | None:
        if call.get("method") == "eth_sendRawTransaction":
            raw = bytes.fromhex(call["params"][0].removeprefix("0x"))
            lost.append("0x" + keccak(raw).hex())
            return {"result": lost[-1]}
        return None
    return intercept


async def paid_image_not_yet_submitted(s: Session, monkeypatch: Any, prompt: str) -> str:
    """A paid, generated image whose contest entry the server holds back (the test submits it): its task id."""
    async def not_now(job: Any) -> None:
        return None

    monkeypatch.setattr(s.services.operator, "submit", not_now)
    tx = await s.pay_s(prompt)
    answer = await s.call("generate_image", {"prompt": prompt, "width": 64, "height": 64,
                                             "payment": {"method": "crypto", "tx_hash": tx}})
    return str(answer.structured_content["task_id"])
