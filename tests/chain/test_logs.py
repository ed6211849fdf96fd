"""The indexer's own log decoding (raw eth_getLogs + eth_abi) against web3's, on the embedded chain."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from tests.chain.conftest import DEV1, Session
from web3.exceptions import Web3RPCError

from sf_mcp.chain.contracts import PAYMENT, STAKING, VOTING
from sf_mcp.chain.logs import EventDecoder, generation_requests, get_logs_raw
from sf_mcp.errors import ChainUnavailable

pytestmark = pytest.mark.anyio


def _web3_args(chain, name: str, log) -> tuple[str, dict]:
    """What web3's process_log makes of ``log``, in the stored form (addresses lower case, bytes as hex)."""
    contract = chain.contract(name)
    topic = bytes(log["topics"][0])
    for entry in contract.abi:
        if entry.get("type") == "event":
            event = getattr(contract.events, entry["name"])()
            if bytes(chain.w3.keccak(text=event.signature)) == topic:
                decoded = event.process_log(log)
                plain = {}
                for key, value in decoded["args"].items():
                    if isinstance(value, (bytes, bytearray)):
                        value = "0x" + bytes(value).hex()
                    elif isinstance(value, str) and value.startswith("0x") and len(value) == 42:
                        value = value.lower()
                    plain[key] = value
                return decoded["event"], plain
    raise AssertionError("no event of this contract has that topic")


async def test_raw_decoding_matches_web3_for_every_log_of_our_contracts(auto_session: Session) -> None:
    s = auto_session
    chain = s.chain
    await s.pay_s("decoded twice", account=1)
    await s.pay_s("and again", kind="video", account=2)
    await s.indexer.sync()
    head = await chain.block_number()
    names = {chain.address_of(n): n for n in (PAYMENT, STAKING, VOTING)}
    addresses = [chain.w3.to_checksum_address(a) for a in names]
    formatted = await chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": addresses})
    raw = await get_logs_raw(chain.w3, from_block=0, to_block=head, addresses=addresses)
    assert len(raw) == len(formatted) >= 6
    decoder = EventDecoder({n: a for a, n in names.items()})
    seen = set()
    for mine, theirs in zip(raw, formatted, strict=True):
        decoded = decoder.decode(mine)
        assert decoded is not None
        name = names[theirs["address"].lower()]
        event, args = _web3_args(chain, name, theirs)
        assert (decoded.contract, decoded.event, decoded.args) == (name, event, args)
        assert (decoded.tx_hash, decoded.log_index, decoded.block_number, decoded.block_hash) == (
            theirs["transactionHash"].to_0x_hex(), theirs["logIndex"], theirs["blockNumber"],
            theirs["blockHash"].to_0x_hex())
        seen.add(event)
    assert {"GenerationRequested", "PaymentReceived"} <= seen
    requested = [decoder.decode(r) for r in raw]
    prompts = [d.args["prompt"] for d in requested if d and d.event == "GenerationRequested"]
    assert prompts == ["decoded twice", "and again"]


async def test_logs_of_other_contracts_or_unknown_events_are_skipped(auto_session: Session) -> None:
    chain = auto_session.chain
    decoder = EventDecoder({PAYMENT: chain.address_of(PAYMENT)})
    log = {"address": "0x" + "11" * 20, "topics": ["0x" + "22" * 32], "data": "0x", "transactionHash": "0x" + "00" * 32,
           "logIndex": "0x0", "blockNumber": "0x1", "blockHash": "0x" + "00" * 32}
    assert decoder.decode(log) is None
    assert decoder.decode({**log, "address": chain.address_of(PAYMENT)}) is None
    assert decoder.decode({**log, "topics": []}) is None


async def test_a_receipts_generation_requests_are_only_those_our_payment_contract_emitted(auto_session: Session) -> None:
    s = auto_session
    chain = s.chain
    receipt = await chain.receipt(await s.pay_s("read from the receipt", account=1))
    assert receipt is not None
    payment = chain.address_of(PAYMENT)
    decoder = EventDecoder({PAYMENT: payment})
    (ours,) = generation_requests(decoder, receipt, payment)
    assert ours.args["prompt"] == "read from the receipt" and ours.args["user"] == DEV1.lower()
    # The same event at another address (a contract that emits our signature) does not count.
    logs = [dict(log) for log in receipt["logs"]]
    other = "0x" + "11" * 20
    copied = [{**log, "address": other} for log in logs]
    assert generation_requests(decoder, {**receipt, "logs": copied}, payment) == []
    # Several in one receipt come in log order, whatever order the receipt lists them in.
    second = [{**log, "logIndex": int(log["logIndex"]) + len(logs)} for log in logs]
    both = generation_requests(decoder, {**receipt, "logs": second + logs}, payment)
    assert [e.log_index for e in both] == sorted(e.log_index for e in both) and len(both) == 2


async def test_an_rpc_error_answer_is_an_outage_for_the_indexer(auto_session: Session) -> None:
    chain = auto_session.chain
    calls = []

    async def node(method, params):  # a node behind a rate limit: JSON-RPC error -32005
        calls.append((method, params))
        return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "limit exceeded"}}

    w3 = SimpleNamespace(provider=SimpleNamespace(make_request=node))
    with pytest.raises(Web3RPCError, match="limit exceeded"):
        await get_logs_raw(w3, from_block=10, to_block=20, addresses=["0x" + "ab" * 20])
    assert calls == [("eth_getLogs", [{"fromBlock": "0xa", "toBlock": "0x14", "address": ["0x" + "ab" * 20]}])]
    with pytest.raises(ChainUnavailable):
        await chain.read("reading events", lambda: get_logs_raw(w3, from_block=0, to_block=1, addresses=[]))
