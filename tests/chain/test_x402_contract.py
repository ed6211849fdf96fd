"""The contract side of x402 on the embedded chain: an EIP-3009 authorization signed with eth-account (the x402
"exact" scheme's TransferWithAuthorization, to = the payment contract) settled by the operator key."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from tests.chain.conftest import Session
from web3.logs import DISCARD

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.contracts import USDC
from sf_mcp.errors import ChainError

pytestmark = pytest.mark.anyio


async def _authorization(s: Session, key: str, value: int, *, valid_for: int = 3600) -> dict[str, Any]:
    chain = s.chain
    now = int((await chain.get_block("latest"))["timestamp"])
    message = {"from": Account.from_key(key).address, "to": chain.payment.address, "value": value,
               "validAfter": 0, "validBefore": now + valid_for, "nonce": os.urandom(32)}
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "TransferWithAuthorization": [{"name": n, "type": t} for n, t in (
                ("from", "address"), ("to", "address"), ("value", "uint256"), ("validAfter", "uint256"),
                ("validBefore", "uint256"), ("nonce", "bytes32"))],
        },
        "primaryType": "TransferWithAuthorization",
        # MockUSDC carries Circle FiatToken v2.2's domain: name "USDC", version "2".
        "domain": {"name": "USDC", "version": "2", "chainId": chain.chain_id,
                   "verifyingContract": chain.address_of(USDC)},
        "message": message,
    }
    signed = Account.sign_message(encode_typed_data(full_message=typed), key)
    return {**message, "signature": bytes(signed.signature)}


def _struct(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["from"], a["value"], a["validAfter"], a["validBefore"], a["nonce"], a["signature"])


async def test_operator_settles_an_x402_authorization_once(auto_session: Session) -> None:
    s = auto_session
    chain = s.chain
    usdc = chain.contract(USDC).functions
    fresh = Account.create()  # a wallet with USDC and no S: it pays no gas
    key, payer = fresh.key.to_0x_hex(), fresh.address
    price = int(await chain.call(chain.payment.functions.priceUSDC()))
    await chain.send(Signer(DEV_KEYS[0]), usdc.mint(payer, 2 * price))  # MockUSDC: anyone may mint
    before = int(await chain.call(usdc.balanceOf(payer)))
    assert before == 2 * price and await chain.w3.eth.get_balance(payer) == 0

    auth = await _authorization(s, key, price)
    pay = chain.payment.functions.payWithAuthorization("an x402 owl", "image", _struct(auth))
    receipt = await chain.send_as_operator(pay, "settling an x402 payment")
    (requested,) = chain.payment.events.GenerationRequested().process_receipt(receipt, errors=DISCARD)
    assert requested["args"]["user"] == payer and requested["args"]["amount"] == price
    (settled,) = chain.payment.events.AuthorizationSettled().process_receipt(receipt, errors=DISCARD)
    assert settled["args"]["nonce"] == auth["nonce"] and settled["args"]["requestId"] == requested["args"]["requestId"]
    assert int(await chain.call(usdc.balanceOf(payer))) == before - price
    assert await chain.call(usdc.authorizationState(payer, auth["nonce"]))

    # The same authorization again: refused by name (the server's cue to answer "settlement failed").
    with pytest.raises(ChainError, match="PaymentAuthorizationUsed"):
        await chain.send_as_operator(pay, "settling the same x402 payment again")
    # An expired one and one for the wrong amount, likewise by name; nothing is taken.
    expired = await _authorization(s, key, price, valid_for=-1)
    with pytest.raises(ChainError, match="PaymentAuthorizationExpired"):
        await chain.send_as_operator(
            chain.payment.functions.payWithAuthorization("an x402 owl", "image", _struct(expired)), "expired")
    cheap = await _authorization(s, key, price - 1)
    with pytest.raises(ChainError, match="PaymentAuthorizationValueMismatch"):
        await chain.send_as_operator(
            chain.payment.functions.payWithAuthorization("an x402 owl", "image", _struct(cheap)), "too cheap")
    assert int(await chain.call(usdc.balanceOf(payer))) == before - price
