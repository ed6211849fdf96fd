"""x402 "exact" on EVM, the chain side: the token's EIP-712 domain, checking a signed EIP-3009
``TransferWithAuthorization`` and settling it with the payment contract's ``payWithAuthorization``.

The signature is checked here with eth-account (EIP-712 typed data), before the operator
spends gas on it; the token checks it again when it settles. Reads that say what happened
to an authorization's nonce (``AuthorizationSettled`` by our contract, or ``AuthorizationUsed``
by the token when someone submitted it to the token directly) let the gate tell a replay of
a settled payment from a front-run one.
"""

from __future__ import annotations

import os
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from pydantic import BaseModel

from sf_mcp.chain.client import ChainClient, Signer
from sf_mcp.chain.contracts import PAYMENT, USDC
from sf_mcp.chain.logs import EventDecoder, generation_requests
from sf_mcp.errors import ChainError

_DOMAIN_FIELDS = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                  {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]
_AUTH_FIELDS = [{"name": n, "type": t} for n, t in (
    ("from", "address"), ("to", "address"), ("value", "uint256"), ("validAfter", "uint256"),
    ("validBefore", "uint256"), ("nonce", "bytes32"))]


class Authorization(BaseModel):
    """An EIP-3009 TransferWithAuthorization and its signature (addresses lower case, nonce 0x + 64 hex)."""

    payer: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str
    signature: bytes

    def as_struct(self, client: ChainClient) -> tuple[Any, ...]:
        """The payment contract's ``Authorization`` tuple."""
        return (client.w3.to_checksum_address(self.payer), self.value, self.valid_after, self.valid_before,
                bytes.fromhex(self.nonce[2:]), self.signature)


class Settlement(BaseModel):
    """Where an authorization moved the USDC: our settlement (with its request id), or the token directly (None)."""

    tx_hash: str
    request_id: int | None
    block: int


class X402Chain:
    """The token and the payment contract, as x402 needs them."""

    def __init__(self, client: ChainClient, *, token_name: str, token_version: str) -> None:
        self.client = client
        self.token_name = token_name
        self.token_version = token_version
        self._decoder = EventDecoder({PAYMENT: client.address_of(PAYMENT)})  # receipts read as the verifier reads them

    @property
    def network(self) -> str:
        return f"eip155:{self.client.chain_id}"

    @property
    def asset(self) -> str:
        return self.client.w3.to_checksum_address(self.client.address_of(USDC))

    @property
    def pay_to(self) -> str:
        return self.client.w3.to_checksum_address(self.client.payment.address)

    def _typed(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": _DOMAIN_FIELDS, "TransferWithAuthorization": _AUTH_FIELDS},
            "primaryType": "TransferWithAuthorization",
            "domain": {"name": self.token_name, "version": self.token_version, "chainId": self.client.chain_id,
                       "verifyingContract": self.asset},
            "message": message,
        }

    def signer_of(self, auth: Authorization) -> str | None:
        """The address that signed ``auth`` for this token's domain (lower case), or None for a malformed signature."""
        message = {"from": self.client.w3.to_checksum_address(auth.payer),
                   "to": self.client.w3.to_checksum_address(auth.to), "value": auth.value,
                   "validAfter": auth.valid_after, "validBefore": auth.valid_before,
                   "nonce": bytes.fromhex(auth.nonce[2:])}
        try:
            signer: str = Account.recover_message(encode_typed_data(full_message=self._typed(message)),
                                                  signature=auth.signature)
            return signer.lower()
        except Exception:  # eth-account raises several types for a malformed signature
            return None

    def sign(self, signer: Signer, *, value: int, valid_before: int) -> Authorization:
        """A fresh authorization of ``value`` to the payment contract, signed by a key of this server (the agent)."""
        nonce = "0x" + os.urandom(32).hex()
        message = {"from": self.client.w3.to_checksum_address(signer.address), "to": self.pay_to, "value": value,
                   "validAfter": 0, "validBefore": valid_before, "nonce": bytes.fromhex(nonce[2:])}
        return Authorization(payer=signer.address, to=self.pay_to.lower(), value=value, valid_after=0,
                             valid_before=valid_before, nonce=nonce, signature=signer.sign_typed(self._typed(message)))

    def domain_separator(self) -> bytes:
        """The EIP-712 domain separator the configured name and version give for this token."""
        zero = {"from": "0x" + "00" * 20, "to": "0x" + "00" * 20, "value": 0, "validAfter": 0, "validBefore": 0,
                "nonce": b"\0" * 32}
        return bytes(encode_typed_data(full_message=self._typed(zero)).header)

    async def check_domain(self) -> str | None:
        """None when the token speaks EIP-3009 with the configured EIP-712 name/version; else what is wrong."""
        token = self.client.contract(USDC).functions
        try:
            on_chain = bytes(await self.client.call(token.DOMAIN_SEPARATOR(), "the token's DOMAIN_SEPARATOR"))
            await self.client.call(token.authorizationState(self.asset, b"\0" * 32), "the token's authorizationState")
        except ChainError as exc:
            return f"the token {self.asset} does not answer DOMAIN_SEPARATOR/authorizationState (EIP-3009): {exc}"
        if on_chain != self.domain_separator():
            return (f"the token's DOMAIN_SEPARATOR is not the one of EIP-712 name {self.token_name!r} version "
                    f"{self.token_version!r}: set SF_X402_TOKEN_NAME / SF_X402_TOKEN_VERSION to the token's")
        return None

    async def price(self) -> int:
        return int(await self.client.call(self.client.payment.functions.priceUSDC(), "the price in USDC"))

    async def now(self) -> int:
        return int((await self.client.get_block("latest"))["timestamp"])

    async def nonce_used(self, auth: Authorization) -> bool:
        token = self.client.contract(USDC).functions
        payer = self.client.w3.to_checksum_address(auth.payer)
        return bool(await self.client.call(token.authorizationState(payer, bytes.fromhex(auth.nonce[2:])),
                                           "the authorization's state"))

    async def balance(self, payer: str) -> int:
        token = self.client.contract(USDC).functions
        return int(await self.client.call(token.balanceOf(self.client.w3.to_checksum_address(payer)), "the USDC balance"))

    async def settled_by_us(self, auth: Authorization) -> Settlement | None:
        """Our contract's settlement of this authorization, if it happened (a replay, or a crash after settling)."""
        event = self.client.payment.events.AuthorizationSettled
        logs = await self._logs(event, {"payer": self.client.w3.to_checksum_address(auth.payer),
                                        "nonce": bytes.fromhex(auth.nonce[2:])})
        if not logs:
            return None
        log = logs[0]
        return Settlement(tx_hash=log["transactionHash"].to_0x_hex(), request_id=int(log["args"]["requestId"]),
                          block=int(log["blockNumber"]))

    async def used_at_token(self, auth: Authorization) -> Settlement | None:
        """The token's transfer of this authorization (to = us, as signed) when someone submitted it directly."""
        event = self.client.contract(USDC).events.AuthorizationUsed
        logs = await self._logs(event, {"authorizer": self.client.w3.to_checksum_address(auth.payer),
                                        "nonce": bytes.fromhex(auth.nonce[2:])})
        if not logs:
            return None
        return Settlement(tx_hash=logs[0]["transactionHash"].to_0x_hex(), request_id=None,
                          block=int(logs[0]["blockNumber"]))

    async def _logs(self, event: Any, filters: dict[str, Any]) -> list[Any]:
        start = self.client.deployment.start_block  # nothing of ours happened before the contracts existed
        return await self.client.read("x402 settlement logs", lambda: event.get_logs(
            from_block=start, to_block="latest", argument_filters=filters))

    async def settle(self, prompt: str, kind: str, auth: Authorization) -> Settlement:
        """Send ``payWithAuthorization`` with the operator key; a revert is a ChainError naming the contract error."""
        fn = self.client.payment.functions.payWithAuthorization(prompt, kind, auth.as_struct(self.client))
        receipt = await self.client.send_as_operator(fn, "settling an x402 payment")
        (requested,) = generation_requests(self._decoder, receipt, self.client.address_of(PAYMENT))
        return Settlement(tx_hash=receipt["transactionHash"].to_0x_hex(), request_id=int(requested.args["requestId"]),
                          block=int(receipt["blockNumber"]))
