"""Smart-contract wallets over HTTP, on the server's embedded chain, with a real contract wallet.

MockSmartWallet (contracts/src/mocks) is an EIP-1271 wallet owned by one development key: it accepts
the owner's personal_sign of a SIWE message (the server asks it about the EIP-191 digest) and pays
through ``execute``, so the payment contract sees the wallet as the payer. Nothing is faked: the
wallet is deployed on the chain the server runs, sign-in goes through ``/auth/verify`` and the
payment through ``verify_payment`` and ``generate_image`` over MCP.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from http_support import LiveServer, new_account, sign
from oauth_support import OAuthFlow

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.contracts import artifact
from sf_mcp.server.services import Services

pytestmark = pytest.mark.anyio

SERVER_SETTINGS = {"rate_limit_auth_ip": 1000}
SMALL = {"width": 64, "height": 64}
OWNER_KEY = DEV_KEYS[3]  # a funded development account the server itself does not send from
PROMPT = "a lighthouse drawn by a contract wallet"


@pytest.fixture(scope="module")
def owner() -> LocalAccount:
    return Account.from_key(OWNER_KEY)


@pytest.fixture(scope="module")
def wallet(live_server: LiveServer, owner: LocalAccount) -> str:
    """A MockSmartWallet owned by ``owner``, deployed on the server's chain; its lower-case address."""
    async def deploy(services: Services) -> str:
        chain = services.chain
        art = artifact("MockSmartWallet")
        factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = await chain.send(Signer(OWNER_KEY), factory.constructor(owner.address), what="MockSmartWallet")
        return str(receipt["contractAddress"]).lower()

    address = live_server.run(deploy)
    assert live_server.run(lambda s: s.chain.w3.eth.get_code(s.chain.w3.to_checksum_address(address)))
    return address


async def _sign_in(server: LiveServer, address: str, signer: LocalAccount) -> Any:
    """GET a nonce for ``address``, have ``signer`` personal_sign the message, POST it."""
    async with server.http() as http:
        issued = await http.get("/auth/nonce", params={"address": address})
        assert issued.status_code == 200, issued.text
        message = issued.json()["message"]
        return await http.post("/auth/verify", json={"message": message, "signature": sign(signer, message)})


async def _token(server: LiveServer, address: str, signer: LocalAccount) -> str:
    response = await _sign_in(server, address, signer)
    assert response.status_code == 200, response.text
    return response.json()["token"]


async def test_sign_in_as_contract_wallet_with_owner_signature(
    server: LiveServer, wallet: str, owner: LocalAccount
) -> None:
    response = await _sign_in(server, wallet, owner)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["wallet"] == wallet  # the contract's address, not the owner's
    assert jwt.decode(body["token"], options={"verify_signature": False})["sub"] == wallet
    async with server.mcp(body["token"]) as client:  # the token works on /mcp as that wallet
        made = await client.call_tool("generate_image", {"prompt": "a free cat", "payment": {"method": "free"}, **SMALL})
        assert not made.is_error, made.content
        assert made.structured_content["wallet"] == wallet


async def test_sign_in_as_contract_wallet_refuses_another_key(server: LiveServer, wallet: str) -> None:
    response = await _sign_in(server, wallet, new_account())
    assert response.status_code == 401, response.text
    assert "EIP-1271" in response.json()["error_description"]


async def test_contract_wallet_sign_in_errors_are_named_and_burn_no_nonce(
    server: LiveServer, wallet: str, owner: LocalAccount
) -> None:
    async with server.http() as http:
        issued = await http.get("/auth/nonce", params={"address": wallet})
        message = issued.json()["message"]

        async def verify(signature: str) -> Any:
            return await http.post("/auth/verify", json={"message": message, "signature": signature})

        not_hex = await verify("0x" + "zz" * 65)
        assert not_hex.status_code == 401 and not_hex.json()["error_description"] == "signature: not hex"
        garbled = await verify("0x" + "ab" * 7)  # the wallet's isValidSignature reverts on it: a refusal
        assert garbled.status_code == 401 and "EIP-1271" in garbled.json()["error_description"]

        def set_down(down: bool):
            async def apply(services: Services) -> None:
                services.chain.embedded.down = down
            return apply

        server.run(set_down(True))  # the chain cannot be asked: retryable, not a refusal
        try:
            outage = await verify(sign(owner, message))
        finally:
            server.run(set_down(False))
        assert outage.status_code == 503 and outage.json()["error"] == "temporarily_unavailable"
        assert "token" not in outage.json()
        ok = await verify(sign(owner, message))
        assert ok.status_code == 200 and ok.json()["wallet"] == wallet


async def test_payment_through_contract_wallet_is_the_wallets(
    server: LiveServer, wallet: str, owner: LocalAccount
) -> None:
    async def fund_and_pay(services: Services) -> tuple[str, int]:
        chain = services.chain
        price = await chain.call(chain.payment.functions.priceS())
        await chain.send(Signer(OWNER_KEY), to=wallet, value=price, what="funding the contract wallet")
        data = chain.payment.encode_abi("payWithS", args=[PROMPT, "image"])
        contract = chain.w3.eth.contract(address=chain.w3.to_checksum_address(wallet),
                                         abi=artifact("MockSmartWallet")["abi"])
        receipt = await chain.send(
            Signer(OWNER_KEY),
            contract.functions.execute(chain.w3.to_checksum_address(chain.address_of("SonicAIGenerationPayment")),
                                       price, data),
            what="execute(payWithS)",
        )
        return receipt["transactionHash"].to_0x_hex(), price

    tx_hash, price = server.run(fund_and_pay)
    assert price == 3 * 10**18
    token = await _token(server, wallet, owner)
    async with server.mcp(token) as client:
        verdict = await client.call_tool(
            "verify_payment", {"tx_hash": tx_hash, "generation_type": "image", "prompt": PROMPT}
        )
        assert not verdict.is_error, verdict.content
        found = verdict.structured_content
        assert found["valid"] is True, found["reason"]
        assert found["payer"] == wallet
        assert (found["token"], found["amount"], found["amount_display"]) == ("S", str(price), "3 S")
        made = await client.call_tool(
            "generate_image", {"prompt": PROMPT, "payment": {"method": "crypto", "tx_hash": tx_hash}, **SMALL}
        )
        assert not made.is_error, made.content
        assert made.structured_content["wallet"] == wallet
    # The owner's own (EOA) sign-in is another wallet: the payment is not its.
    async with server.mcp(await server.sign_in(owner)) as client:
        theirs = (await client.call_tool("verify_payment", {"tx_hash": tx_hash})).structured_content
        assert theirs["valid"] is False and theirs["payer"] == wallet and "not by you" in theirs["reason"]


async def test_oauth_login_page_accepts_a_contract_wallet(server: LiveServer, wallet: str, owner: LocalAccount) -> None:
    """The OAuth login page checks signatures like /auth/verify: EIP-1271 wallets sign in there too."""
    async with server.http() as http:
        flow = OAuthFlow(server, http)
        grant = await flow.grant(owner, address=wallet, scope="read")
        tokens = await flow.exchange(grant)
        assert tokens.status_code == 200, tokens.text
        assert jwt.decode(tokens.json()["access_token"], options={"verify_signature": False})["sub"] == wallet
        stranger = new_account()  # not the wallet's owner: the contract refuses the signature
        with pytest.raises(AssertionError, match="signature"):
            await flow.grant(stranger, address=wallet)


async def test_a_contract_that_is_no_wallet_signs_no_one_in(server: LiveServer) -> None:
    """A contract without isValidSignature (the USDC token) reverts when asked: that is a refusal, never a yes."""
    usdc = server.run(lambda s: _lower(s.chain.contract("MockUSDC").address))
    response = await _sign_in(server, usdc, new_account())
    assert response.status_code == 401 and "token" not in response.json()
    assert "nor accepted by it under EIP-1271" in response.json()["error_description"]


async def _lower(address: str) -> str:  # server.run takes a coroutine
    return address.lower()
