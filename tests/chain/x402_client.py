"""An x402 client for tests: follows the MCP transport spec from a payment-required answer.

The happy path signs with the x402 package's own "exact" EVM client (eth-account signer); the
helpers below sign deliberately wrong authorizations (expired, wrong amount, other key, a given
nonce) with eth-account's EIP-712, the way any spec client would, to check the server's refusals.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from x402 import x402Client
from x402.mechanisms.evm.exact import register_exact_evm_client
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentRequired

META_PAYMENT = "x402/payment"
META_RESPONSE = "x402/payment-response"


def payment_required(result: Any) -> PaymentRequired:
    """The terms of a payment-required result, read as the spec tells clients to (structuredContent first)."""
    assert result.is_error, result.content
    data = result.structured_content
    if not (isinstance(data, dict) and "x402Version" in data):
        data = json.loads(result.content[0].text)["x402/error"]["data"]
    return PaymentRequired.model_validate(data)


async def pay(key: str, result: Any, *, cap: int = 5_000_000) -> dict[str, Any]:
    """``_meta`` for the retry: the x402 client's signed payment for the terms in ``result``.

    The client pays only this server's token (not one of its default assets) and at most ``cap`` units.
    """
    terms = payment_required(result)
    allowed = [{"network": a.network, "asset": a.asset, "max_amount_per_payment": str(cap)} for a in terms.accepts]
    client = x402Client().set_spend_controls({"allowed_assets": allowed})
    register_exact_evm_client(client, EthAccountSigner(Account.from_key(key)))
    payload = await client.create_payment_payload(terms)
    return {META_PAYMENT: payload.model_dump(mode="json", by_alias=True, exclude_none=True)}


def signed(key: str, terms: PaymentRequired, *, value: int | None = None, valid_before: int | None = None,
           valid_after: int = 0, nonce: bytes | None = None, signer: str | None = None,
           to: str | None = None) -> dict[str, Any]:
    """``_meta`` with an authorization built by hand (for the cases the x402 client never makes)."""
    accepted = terms.accepts[0]
    payer = Account.from_key(key).address
    message = {"from": payer, "to": to or accepted.pay_to, "value": int(accepted.amount) if value is None else value,
               "validAfter": valid_after, "validBefore": valid_before or int(time.time()) + 300,
               "nonce": nonce or os.urandom(32)}
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "TransferWithAuthorization": [{"name": n, "type": t} for n, t in (
                ("from", "address"), ("to", "address"), ("value", "uint256"), ("validAfter", "uint256"),
                ("validBefore", "uint256"), ("nonce", "bytes32"))],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": {"name": accepted.extra["name"], "version": accepted.extra["version"],
                   "chainId": int(accepted.network.split(":")[1]), "verifyingContract": accepted.asset},
        "message": message,
    }
    signature = Account.sign_message(encode_typed_data(full_message=typed), signer or key).signature
    payload = {
        "x402Version": 2,
        "resource": terms.resource.model_dump(mode="json", by_alias=True, exclude_none=True) if terms.resource else None,
        "accepted": accepted.model_dump(mode="json", by_alias=True, exclude_none=True),
        "payload": {"signature": "0x" + bytes(signature).hex(), "authorization": {
            "from": payer, "to": message["to"], "value": str(message["value"]), "validAfter": str(valid_after),
            "validBefore": str(message["validBefore"]), "nonce": "0x" + message["nonce"].hex()}},
    }
    return {META_PAYMENT: payload}
