"""x402 per call over MCP on the embedded chain: a wallet with USDC and no S pays for an image with a signed
authorization, following the payment-required answer of the x402 MCP transport; every refusal takes nothing."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from tests.chain.conftest import Session
from tests.chain.x402_client import META_RESPONSE, pay, payment_required, signed
from web3.logs import DISCARD

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.contracts import USDC
from sf_mcp.config import load_settings
from sf_mcp.errors import GenerationError
from sf_mcp.store.chain import x402_payment_key
from support import connected, settled

pytestmark = pytest.mark.anyio

X402 = {"method": "x402"}
SMALL = {"width": 64, "height": 64}


async def _funded(s: Session, usdc: int) -> tuple[str, str]:
    """A fresh wallet holding ``usdc`` USDC units and no S at all."""
    fresh = Account.create()
    if usdc:
        await s.chain.send(Signer(DEV_KEYS[0]), s.chain.contract(USDC).functions.mint(fresh.address, usdc))
    assert await s.chain.w3.eth.get_balance(fresh.address) == 0
    return fresh.key.to_0x_hex(), fresh.address


async def _usdc(s: Session, who: str) -> int:
    return int(await s.chain.call(s.chain.contract(USDC).functions.balanceOf(s.chain.w3.to_checksum_address(who))))


async def _price(s: Session) -> int:
    return int(await s.chain.call(s.chain.payment.functions.priceUSDC()))


async def _terms(s: Session, prompt: str, tool: str = "generate_image") -> Any:
    return await s.client.call_tool(tool, {"prompt": prompt, "payment": X402, **SMALL})


async def test_an_image_paid_per_call_with_usdc_and_no_gas(session: Session) -> None:
    s = session
    price = await _price(s)
    key, payer = await _funded(s, 3 * price)
    args = {"prompt": "an x402 heron", "payment": X402, **SMALL}

    first = await s.client.call_tool("generate_image", args)
    terms = payment_required(first)
    assert terms.x402_version == 2 and terms.resource.url == "mcp://tool/generate_image"
    (accepted,) = terms.accepts
    assert accepted.scheme == "exact" and accepted.network == f"eip155:{s.chain.chain_id}"
    assert accepted.amount == str(price) and accepted.asset.lower() == s.chain.address_of(USDC)
    assert accepted.pay_to.lower() == s.chain.payment.address.lower() and accepted.max_timeout_seconds == 300
    assert accepted.extra == {"name": "USDC", "version": "2"}
    wrapper = json.loads(first.content[0].text)["x402/error"]
    assert wrapper["code"] == 402 and wrapper["data"] == first.structured_content
    assert await _usdc(s, payer) == 3 * price  # asking costs nothing

    meta = await pay(key, first)
    paid = await s.client.call_tool("generate_image", args, meta=meta)
    assert not paid.is_error, paid.content
    assert paid.content[0].type == "image"
    result = paid.structured_content
    assert result["status"] == "succeeded" and result["wallet"] == payer.lower()
    assert result["payment"]["details"]["scheme"] == "x402"
    settlement = paid.meta[META_RESPONSE]
    assert settlement["success"] is True and settlement["network"] == accepted.network
    assert settlement["payer"] == payer and settlement["transaction"].startswith("0x")
    assert await _usdc(s, payer) == 2 * price

    # The settlement is an ordinary payment on chain: split, requested, settled for this authorization.
    receipt = await s.chain.w3.eth.get_transaction_receipt(settlement["transaction"])
    (requested,) = s.chain.payment.events.GenerationRequested().process_receipt(receipt, errors=DISCARD)
    assert requested["args"]["user"] == payer and requested["args"]["amount"] == price
    assert s.chain.payment.events.PaymentSplit().process_receipt(receipt, errors=DISCARD)

    # The indexer joins the same job (keyed by the authorization), and it is entered in the contest.
    nonce = meta["x402/payment"]["payload"]["authorization"]["nonce"]
    await s.indexer.sync()
    jobs = [r for r in await s.services.store.generations.recent(limit=20) if r.wallet == payer.lower()]
    assert [j.task_id for j in jobs] == [result["task_id"]]
    assert jobs[0].payment_key == x402_payment_key(s.chain.chain_id, s.chain.address_of(USDC), payer, nonce)
    assert jobs[0].chain_request_id == requested["args"]["requestId"]
    row = await settled(s.services.runner).wait(result["task_id"])
    assert (await s.services.store.generations.get(row.task_id)).submission is not None

    # The same authorization again (a retry after a lost answer), even without the payment argument: same task.
    again = await s.client.call_tool("generate_image", {"prompt": "an x402 heron", **SMALL}, meta=meta)
    assert not again.is_error and again.structured_content["task_id"] == result["task_id"]
    assert again.structured_content["payment"]["replay"] is True
    assert again.meta[META_RESPONSE]["transaction"] == settlement["transaction"]
    assert await _usdc(s, payer) == 2 * price
    # ... but not for another prompt: refused, naming the task it paid for.
    other = await s.client.call_tool("generate_image", {**args, "prompt": "another heron"}, meta=meta)
    assert other.is_error and result["task_id"] in other.content[0].text


async def test_refusals_take_nothing(auto_session: Session) -> None:
    s = auto_session
    price = await _price(s)
    key, payer = await _funded(s, 2 * price)
    args = {"prompt": "a careful crane", "payment": X402, **SMALL}
    terms = payment_required(await _terms(s, "a careful crane"))
    now = int((await s.chain.get_block("latest"))["timestamp"])

    async def refused(meta: dict[str, Any], reason: str, words: str) -> None:
        answer = await s.client.call_tool("generate_image", args, meta=meta)
        data = payment_required(answer)
        assert data.error and words in data.error, data.error
        assert reason in json.dumps(answer.structured_content) or words in answer.content[0].text

    await refused(signed(key, terms, valid_before=now - 1), "", "expired")
    await refused(signed(key, terms, value=price - 1), "", "price is 1 USDC")
    await refused(signed(key, terms, valid_after=now + 3600), "", "valid only after")
    await refused(signed(key, terms, signer=DEV_KEYS[3]), "", "signature")
    await refused(signed(key, terms, to=Account.create().address), "", "payTo")
    broke_key, _ = await _funded(s, price - 1)
    await refused(signed(broke_key, terms), "", "holds 0.999999 USDC")
    # A nonce the payer cancelled at the token (EIP-3009 cancelAuthorization, sent here by a wallet with gas).
    nonce = os.urandom(32)
    await _cancel(s, DEV_KEYS[4], nonce)
    await refused(signed(DEV_KEYS[4], terms, nonce=nonce), "", "already used or cancelled")
    assert await _usdc(s, payer) == 2 * price
    assert not [r for r in await s.services.store.generations.recent(limit=50) if r.prompt == "a careful crane"]
    # max_price below the price: refused before the terms are even given.
    capped = await s.client.call_tool("generate_image", {**args, "max_price": 0.5})
    assert capped.is_error and "max_price" in capped.content[0].text


async def _cancel(s: Session, key: str, nonce: bytes) -> None:
    usdc = s.chain.contract(USDC)
    me = Account.from_key(key)
    domain = {"name": "USDC", "version": "2", "chainId": s.chain.chain_id, "verifyingContract": usdc.address}
    typed = {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                        {"name": "chainId", "type": "uint256"},
                                        {"name": "verifyingContract", "type": "address"}],
                       "CancelAuthorization": [{"name": "authorizer", "type": "address"},
                                               {"name": "nonce", "type": "bytes32"}]},
             "primaryType": "CancelAuthorization", "domain": domain,
             "message": {"authorizer": me.address, "nonce": nonce}}
    from eth_account.messages import encode_typed_data

    sig = bytes(Account.sign_message(encode_typed_data(full_message=typed), key).signature)
    await s.chain.send(Signer(key), usdc.functions.cancelAuthorization(me.address, nonce, sig))


async def test_a_settlement_that_reverts_generates_nothing(auto_session: Session) -> None:
    s = auto_session
    price = await _price(s)
    key, payer = await _funded(s, price)
    first = await _terms(s, "a paused pelican")
    meta = await pay(key, first)
    await s.chain.send(Signer(DEV_KEYS[0]), s.chain.payment.functions.pause())  # the contract refuses payments now
    failed = await s.client.call_tool("generate_image", {"prompt": "a paused pelican", "payment": X402, **SMALL},
                                      meta=meta)
    data = payment_required(failed)
    assert "settlement failed" in data.error and "EnforcedPause" in data.error
    response = failed.structured_content[META_RESPONSE]
    assert response["success"] is False and response["errorReason"] == "settlement_failed"
    assert await _usdc(s, payer) == price
    assert not [r for r in await s.services.store.generations.recent(limit=20) if r.wallet == payer.lower()]
    # Unpaused, the same authorization settles and generates.
    await s.chain.send(Signer(DEV_KEYS[0]), s.chain.payment.functions.unpause())
    paid = await s.client.call_tool("generate_image", {"prompt": "a paused pelican", "payment": X402, **SMALL},
                                    meta=meta)
    assert not paid.is_error and await _usdc(s, payer) == 0


async def test_a_failed_generation_is_refunded_on_chain(auto_session: Session,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session

    async def fail(request, *, on_attempt=None):
        raise GenerationError("every provider failed (test)")

    monkeypatch.setattr(s.services.providers, "run", fail)
    key, payer = await _funded(s, await _price(s))
    meta = await pay(key, await _terms(s, "a doomed dodo"))
    answer = await s.client.call_tool("generate_image", {"prompt": "a doomed dodo", "payment": X402, **SMALL},
                                      meta=meta)
    assert answer.is_error and answer.structured_content["status"] == "refunded"
    assert answer.meta[META_RESPONSE]["success"] is True  # paid, then given back
    assert answer.structured_content["payment"]["refund"]["method"] == "onchain_credits"
    assert await s.chain.call(s.chain.payment.functions.credits(payer)) == 1


async def test_a_front_run_authorization_gets_one_job_and_is_never_split(auto_session: Session) -> None:
    s = auto_session
    price = await _price(s)
    key, payer = await _funded(s, price)
    meta = await pay(key, await _terms(s, "a raced raven"))
    a = meta["x402/payment"]["payload"]["authorization"]
    usdc = s.chain.contract(USDC)
    # Someone submits the authorization straight to the token first (it pays the contract, as signed).
    transfer = usdc.functions.transferWithAuthorization(
        a["from"], a["to"], int(a["value"]), int(a["validAfter"]), int(a["validBefore"]),
        bytes.fromhex(a["nonce"][2:]), bytes.fromhex(meta["x402/payment"]["payload"]["signature"][2:]))
    await s.chain.send(Signer(DEV_KEYS[1]), transfer)
    assert await s.chain.call(s.chain.payment.functions.surplus(usdc.address)) == price

    answer = await s.client.call_tool("generate_image", {"prompt": "a raced raven", "payment": X402, **SMALL},
                                      meta=meta)
    assert not answer.is_error, answer.content
    details = answer.structured_content["payment"]["details"]
    assert "front_run" in details and details["request_id"] is None
    # Nothing was split: the amount stays the contract's visible surplus, recoverable by the owner.
    assert await s.chain.call(s.chain.payment.functions.surplus(usdc.address)) == price
    await s.indexer.sync()
    jobs = [r for r in await s.services.store.generations.recent(limit=20) if r.wallet == payer.lower()]
    assert len(jobs) == 1
    again = await s.client.call_tool("generate_image", {"prompt": "a raced raven", "payment": X402, **SMALL},
                                     meta=meta)
    assert again.structured_content["task_id"] == jobs[0].task_id and again.structured_content["payment"]["replay"]


@pytest.fixture
async def agent(data_dir, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Session]:
    """A local agent over stdio whose key the server holds: it may sign x402 authorizations within its limits."""
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=data_dir, agent_key=DEV_KEYS[2], agent_max_usdc_per_tx=2,
                             agent_max_usdc_per_day=2.5)
    async with connected(settings, mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def test_the_agent_key_signs_x402_within_its_usdc_limits(agent: Session) -> None:
    s = agent
    me = Account.from_key(DEV_KEYS[2]).address
    await s.chain.send(Signer(DEV_KEYS[0]), s.chain.contract(USDC).functions.mint(me, 10 * 10**6))
    before = await _usdc(s, me)
    for i in range(2):  # 1 USDC each: 2 USDC of the day's 2.5
        paid = await s.client.call_tool("generate_image", {"prompt": f"an agent's ibis {i}", "payment": X402, **SMALL})
        assert not paid.is_error, paid.content
        assert paid.meta[META_RESPONSE]["payer"] == me and paid.structured_content["wallet"] == me.lower()
    assert await _usdc(s, me) == before - 2 * 10**6
    third = await s.client.call_tool("generate_image", {"prompt": "an agent's ibis 3", "payment": X402, **SMALL})
    assert third.is_error and "SF_AGENT_MAX_USDC_PER_DAY" in third.content[0].text and "nothing was signed" in \
        third.content[0].text
    # The per-payment limit: a price raised above it is refused before anything is signed.
    await s.chain.send(Signer(DEV_KEYS[0]), s.chain.payment.functions.setPrices(3 * 10**18, 3 * 10**6))
    dear = await s.client.call_tool("generate_image", {"prompt": "a dear ibis", "payment": X402, **SMALL})
    assert dear.is_error and "SF_AGENT_MAX_USDC_PER_TX" in dear.content[0].text
    assert await _usdc(s, me) == before - 2 * 10**6


async def test_a_token_domain_that_does_not_match_the_settings_keeps_x402_off(data_dir, monkeypatch) -> None:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    async with connected(load_settings(data_dir=data_dir, x402_token_version="1"), mode="auto") as (client, _):
        answer = await client.call_tool("generate_image", {"prompt": "an owl", "payment": X402, **SMALL})
        assert answer.is_error and "x402 is not available" in answer.content[0].text
        assert "SF_X402_TOKEN_VERSION" in answer.content[0].text
        missing = await client.call_tool("generate_image", {"prompt": "an owl", **SMALL})
        assert missing.is_error and "payment: is required" in missing.content[0].text
