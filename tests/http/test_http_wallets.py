"""Per-wallet authorization over HTTP: wallet A cannot spend, claim or read what belongs to wallet B."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from http_support import LiveServer, new_account

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS

pytestmark = pytest.mark.anyio

SERVER_SETTINGS = {"free_daily_quota": 1, "rate_limit_auth_ip": 1000, "indexer": False}
SMALL = {"width": 64, "height": 64}


def _credits(server: LiveServer, wallet: str) -> int:
    return server.run(lambda s: s.store.accounts.credits(wallet))


async def test_a_cannot_spend_b_credits(server: LiveServer) -> None:
    a, b = new_account(), new_account()
    wallet_b = b.address.lower()
    server.run(lambda s: s.store.accounts.add_credits(wallet_b, 1, reason="test grant"))
    token_a, token_b = await server.sign_in(a), await server.sign_in(b)
    async with server.mcp(token_a) as client:
        # No tool takes a wallet: an extra "wallet" argument changes nothing, A pays for itself.
        for args in ({}, {"wallet": wallet_b}, {"userAddress": wallet_b}):
            result = await client.call_tool(
                "generate_image", {"prompt": "a cat", "payment": {"method": "credits"}, **SMALL, **args}
            )
            assert result.is_error
            assert "credit" in result.content[0].text.lower()
    assert _credits(server, wallet_b) == 1
    async with server.mcp(token_b) as client:
        result = await client.call_tool("generate_image", {"prompt": "a cat", "payment": {"method": "credits"}, **SMALL})
        assert not result.is_error and result.structured_content["wallet"] == wallet_b
    assert _credits(server, wallet_b) == 0


async def test_free_quota_is_per_wallet(server: LiveServer) -> None:
    a, b = new_account(), new_account()
    token_a, token_b = await server.sign_in(a), await server.sign_in(b)
    free = {"prompt": "a dog", "payment": {"method": "free"}, **SMALL}
    async with server.mcp(token_a) as client:
        assert not (await client.call_tool("generate_image", free)).is_error
        second = await client.call_tool("generate_image", free)
        assert second.is_error and "free" in second.content[0].text.lower()
    async with server.mcp(token_b) as client:  # A used up its own quota, not B's
        assert not (await client.call_tool("generate_image", free)).is_error


async def test_a_sees_only_public_fields_of_b_history(server: LiveServer) -> None:
    a, b = new_account(), new_account()
    wallet_b = b.address.lower()
    token_a, token_b = await server.sign_in(a), await server.sign_in(b)
    async with server.mcp(token_b) as client:
        made = await client.call_tool("generate_image", {"prompt": "a fox", "payment": {"method": "free"}, **SMALL})
        task_id = made.structured_content["task_id"]
        own = json.loads((await client.read_resource(f"generations://wallet/{wallet_b}")).contents[0].text)
        assert own[0]["task_id"] == task_id and "payment" in own[0] and "attempts" in own[0]
    async with server.mcp(token_a) as client:
        seen = json.loads((await client.read_resource(f"generations://wallet/{wallet_b}")).contents[0].text)
        assert seen[0]["task_id"] == task_id
        assert "payment" not in seen[0] and "attempts" not in seen[0] and "error" not in seen[0]
        one = json.loads((await client.read_resource(f"generation://{task_id}")).contents[0].text)
        assert "payment" not in one and one["wallet"] == wallet_b


async def test_a_cannot_claim_b_crypto_payment(server: LiveServer) -> None:
    """B pays on the (embedded) chain; A presents B's transaction: the real verifier refuses it, naming the payer.

    The server's indexer is off here, so no job exists for the payment when A tries: only the verifier's
    payer check stands between A and B's payment (the gate's replay check comes into play once B used it).
    """
    a, b = new_account(), Account.from_key(DEV_KEYS[1])  # B: a funded dev account of the embedded chain
    wallet_a, wallet_b = a.address.lower(), b.address.lower()

    async def pay(services) -> str:
        chain = services.chain
        price = await chain.call(chain.payment.functions.priceS())
        receipt = await chain.send(Signer(DEV_KEYS[1]), chain.payment.functions.payWithS("a boat", "image"),
                                   value=price)
        return receipt["transactionHash"].to_0x_hex()

    tx_hash = server.run(pay)
    token_a, token_b = await server.sign_in(a), await server.sign_in(b)
    pay_args = {"prompt": "a boat", "payment": {"method": "crypto", "tx_hash": tx_hash}, **SMALL}
    async with server.mcp(token_a) as client:
        stolen = await client.call_tool("generate_image", {**pay_args, "wallet": wallet_b})
        assert stolen.is_error
        assert f"was paid by {wallet_b}, not by you ({wallet_a})" in stolen.content[0].text
    assert server.run(lambda s: s.store.generations.recent(limit=50, wallet=wallet_a)) == []  # nothing consumed
    async with server.mcp(token_b) as client:
        paid = await client.call_tool("generate_image", pay_args)
        assert not paid.is_error and paid.structured_content["wallet"] == wallet_b
        task_id = paid.structured_content["task_id"]
    async with server.mcp(token_a) as client:  # and not after B used it either
        again = await client.call_tool("generate_image", pay_args)
        assert again.is_error and task_id in again.content[0].text
