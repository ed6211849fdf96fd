"""An agent that pays sf-mcp per call with USDC only (x402): no gas, no approve, no transaction of its own.

No LLM: a plain MCP Python SDK client and the x402 package's "exact" EVM client.

The flow (the x402 MCP transport)
    1. ``quote`` says what an image costs by each method (x402: the USDC price);
    2. ``generate_image`` with ``payment={"method": "x402"}`` answers "payment required": ``is_error``
       with the terms in ``structuredContent`` (scheme ``exact``, network ``eip155:<chain id>``,
       the amount, the USDC address, ``payTo`` = the payment contract, the token's EIP-712 name/version);
    3. the x402 client signs an EIP-3009 ``TransferWithAuthorization`` for exactly those terms
       (only this server's token, at most ``--max-usdc`` per call);
    4. the same call again with the signed payment in ``_meta["x402/payment"]``: the server checks
       it, settles it on chain with its operator key (the contract splits it like any payment),
       generates, and answers the image with ``_meta["x402/payment-response"]`` (the settlement
       transaction and the payer).

Run it
    python examples/x402_agent.py                         # own server over stdio, embedded chain
    python examples/x402_agent.py --rpc-url http://127.0.0.1:8545 --key 0x...   # after `sf-mcp deploy`

The default key is development account 3, which a dev deployment funds with USDC; the agent
never spends its S.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from eth_account import Account
from mcp import StdioServerParameters
from mcp.client import Client
from x402 import x402Client
from x402.mechanisms.evm.exact import register_exact_evm_client
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentRequired

# Development account 3 of the standard test mnemonic (public; funded only on dev chains).
DEV_KEY_3 = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
PROMPTS = ["a lighthouse at dusk, oil painting", "a paper crane on a desk, macro photo"]


def _terms(result: Any) -> PaymentRequired:
    """The payment-required terms, read as the transport spec says (structuredContent first, then the wrapper)."""
    data = result.structured_content
    if not (isinstance(data, dict) and "x402Version" in data):
        data = json.loads(result.content[0].text)["x402/error"]["data"]
    return PaymentRequired.model_validate(data)


async def pay_per_call(client: Client, payer: x402Client, prompt: str) -> dict[str, Any]:
    """One image paid with a fresh x402 authorization; returns what the agent learned."""
    args = {"prompt": prompt, "payment": {"method": "x402"}, "width": 256, "height": 256}
    required = await client.call_tool("generate_image", args)
    if not required.is_error:
        raise RuntimeError("expected the payment terms first")
    payload = await payer.create_payment_payload(_terms(required))
    meta = {"x402/payment": payload.model_dump(mode="json", by_alias=True, exclude_none=True)}
    result = await client.call_tool("generate_image", args, meta=meta)
    if result.is_error:
        raise RuntimeError(" ".join(getattr(c, "text", "") for c in result.content))
    settlement = (result.meta or {})["x402/payment-response"]
    return {"prompt": prompt, "task_id": result.structured_content["task_id"],
            "content_uri": result.structured_content["content_uri"], "transaction": settlement["transaction"],
            "payer": settlement["payer"], "network": settlement["network"]}


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key", default=os.environ.get("X402_AGENT_KEY", DEV_KEY_3), help="the paying wallet's key")
    parser.add_argument("--rpc-url", help="a chain after `sf-mcp deploy` (default: the embedded chain)")
    parser.add_argument("--data-dir", help="the server's data dir (default: a temporary one)")
    parser.add_argument("--max-usdc", type=float, default=2.0, help="the most the agent pays for one call")
    args = parser.parse_args(argv)
    account = Account.from_key(args.key)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
        env.update(SF_DATA_DIR=args.data_dir or tmp, SF_WALLET=account.address)
        if args.rpc_url:
            env["SF_RPC_URL"] = args.rpc_url
        server = StdioServerParameters(command=str(Path(sys.executable).with_name("sf-mcp")), args=["serve"], env=env)
        async with Client(server) as client:
            quote = (await client.call_tool("quote", {})).structured_content
            (price,) = [p for p in quote["prices"] if p["kind"] == "image" and p["method"] == "x402"]
            print(f"x402 price of an image: {price['display']}")
            payer = x402Client()
            required = _terms(await client.call_tool(
                "generate_image", {"prompt": PROMPTS[0], "payment": {"method": "x402"}}))
            cap = str(int(args.max_usdc * 10**6))
            payer.set_spend_controls({"allowed_assets": [
                {"network": a.network, "asset": a.asset, "max_amount_per_payment": cap} for a in required.accepts]})
            register_exact_evm_client(payer, EthAccountSigner(account))
            paid = []
            for prompt in PROMPTS:
                done = await pay_per_call(client, payer, prompt)
                print(f"paid {price['display']} for {done['task_id']} ({done['content_uri']}) in {done['transaction']}")
                paid.append(done)
    return {"payer": account.address, "price": price, "paid": paid}


if __name__ == "__main__":
    anyio.run(main)
