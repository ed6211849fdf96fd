"""The chain client: one AsyncWeb3 connection, the deployed contracts, and signing for our own keys.

Three targets share this class: the embedded py-evm chain (``chain.embedded``),
a local anvil node and Sonic. Every RPC goes through :meth:`ChainClient.read`
or :meth:`ChainClient.send`, which turn transport failures into
:class:`~sf_mcp.errors.ChainUnavailable` (retryable; reads are retried a few
times first) and contract reverts into :class:`~sf_mcp.errors.ChainError`
naming the contract's custom error.

Keys never leave :class:`Signer`; its ``repr`` shows the address only.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import aiohttp
import anyio
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ABIError, HexStr
from eth_utils import function_abi_to_4byte_selector, keccak
from eth_utils.abi import collapse_if_tuple
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.providers import AsyncBaseProvider
from web3.types import BlockIdentifier, RPCEndpoint, RPCResponse, TxParams

from sf_mcp.chain.contracts import (
    CORE_CONTRACTS,
    NFT,
    PAYMENT,
    STAKING,
    USDC,
    VOTING,
    Deployment,
    abi,
    chain_name,
    default_confirmations,
)
from sf_mcp.chain.units import fee_fields, plain
from sf_mcp.config import Settings
from sf_mcp.errors import ChainError, ChainUnavailable, ConfigError, SfMcpError
from sf_mcp.shared_read import SharedRead

logger = logging.getLogger(__name__)
T = TypeVar("T")

READ_ATTEMPTS = 3
CALL_CACHE_SIZE = 1024  # call_many answers kept (per block and question): a few hundred wallets over the last blocks

# One view call of a batch: (contract, function name, arguments).
ViewCall = tuple[AsyncContract, str, tuple[Any, ...]]


class Signer:
    """A local key that signs our own transactions; one lock per address keeps nonces in order."""

    _locks: dict[str, anyio.Lock] = {}

    def __init__(self, key: str) -> None:
        self._account = Account.from_key(key)
        self.address = self._account.address.lower()

    @property
    def lock(self) -> anyio.Lock:
        return Signer._locks.setdefault(self.address, anyio.Lock())

    def sign(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def sign_typed(self, typed: dict[str, Any]) -> bytes:
        """An EIP-712 signature of ``typed`` (a full typed-data message), e.g. an x402 authorization."""
        return bytes(self._account.sign_message(encode_typed_data(full_message=typed)).signature)

    def __repr__(self) -> str:
        return f"Signer({self.address})"


def is_unavailable(exc: BaseException) -> bool:
    """True for transport failures (the node is down or overloaded), not for answers we dislike."""
    if isinstance(exc, (ProviderConnectionError, RequestTimedOut, TooManyRequests, TimeExhausted)):
        return True
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)):
        return True
    if isinstance(exc, Web3RPCError) and not isinstance(exc, ContractLogicError):
        code = (exc.rpc_response or {}).get("error", {}).get("code") if isinstance(exc.rpc_response, dict) else None
        return code in (-32005, -32603) and "revert" not in str(exc).lower()
    return False


def _build_error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in (PAYMENT, STAKING, VOTING, USDC, NFT):
        try:
            entries = abi(name)
        except ConfigError:
            continue
        for item in entries:
            if item.get("type") != "error":
                continue
            types = [collapse_if_tuple(i) for i in item["inputs"]]
            table[function_abi_to_4byte_selector(cast(ABIError, item))] = (item["name"], types, [i["name"] for i in item["inputs"]])
    return table


_ERRORS: dict[bytes, tuple[str, list[str], list[str]]] | None = None


def describe_revert(exc: BaseException) -> str:
    """A contract revert as ``ErrorName(arg=value, ...)`` using the contracts' custom errors."""
    global _ERRORS
    if _ERRORS is None:
        _ERRORS = _build_error_table()
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if data is None:
        data = _tester_revert_data(str(exc))
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        raw = bytes.fromhex(data[2:])
        found = _ERRORS.get(raw[:4])
        if found:
            name, types, names = found
            try:
                values = abi_decode(types, raw[4:])
                args = ", ".join(f"{n}={plain(v)}" for n, v in zip(names, values, strict=True))
                return f"{name}({args})"
            except Exception:
                return name
    message = getattr(exc, "message", None) or str(exc)
    return str(message)


def _tester_revert_data(text: str) -> str | None:
    """eth-tester reports a revert as text holding a bytes literal; recover the bytes."""
    match = re.search(r"b(['\"]).*\1", text, re.DOTALL)
    if not match:
        return None
    try:
        raw = ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return None
    return "0x" + raw.hex() if isinstance(raw, bytes) else None


def is_revert(exc: BaseException) -> bool:
    return isinstance(exc, ContractLogicError) or type(exc).__name__ == "TransactionFailed"


class ChainClient:
    """The deployed contracts on one chain, and the calls sf-mcp makes to them."""

    def __init__(
        self,
        w3: AsyncWeb3[AsyncBaseProvider],
        deployment: Deployment,
        *,
        confirmations: int | None = None,
        operator: Signer | None = None,
        embedded: Any = None,
        label: str | None = None,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.confirmations = confirmations if confirmations is not None else default_confirmations(self.chain_id)
        self.operator = operator
        self.embedded = embedded  # chain.embedded.EmbeddedChain when in-process
        self.label = label or chain_name(self.chain_id)
        self._head = SharedRead(self.block_number)
        self._calls: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()  # call_many answers per block
        self._contracts: dict[str, AsyncContract] = {}
        # Told the block of every transaction this process saw mined (its own sends and broadcasts): the server
        # nudges its indexer, so reads made right after a caller's own transaction (a payment, a vote, a stake)
        # reflect it instead of waiting for the next poll.
        self.on_mined: list[Callable[[int], None]] = []
        for name, record in deployment.contracts.items():
            self._contracts[name] = w3.eth.contract(address=w3.to_checksum_address(record.address), abi=abi(name))

    # -- contracts ----------------------------------------------------------
    def contract(self, name: str) -> AsyncContract:
        try:
            return self._contracts[name]
        except KeyError:
            raise ChainError(f"the {self.label} deployment has no {name} contract") from None

    @property
    def payment(self) -> AsyncContract:
        return self.contract(PAYMENT)

    @property
    def staking(self) -> AsyncContract:
        return self.contract(STAKING)

    @property
    def voting(self) -> AsyncContract:
        return self.contract(VOTING)

    def address_of(self, name: str) -> str:
        return self.deployment.address(name).lower()

    # -- reading --------------------------------------------------------------
    async def read(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one read, retrying transport failures a few times; map failures into the error tree.

        The first try goes straight to the node: building tenacity's retry state costs more than a read
        from a local node, and nearly every read succeeds. Only a node that did not answer brings in
        tenacity, which tries again at once and then backs off.
        """
        try:
            try:
                return await call()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(READ_ATTEMPTS - 1),
                wait=wait_exponential(multiplier=0.05, max=0.5),
                retry=retry_if_exception(is_unavailable),
                reraise=True,
            ):
                with attempt:
                    return await call()
        except SfMcpError:
            raise
        except Exception as exc:
            raise self.map_error(exc, what) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, fn: Any, what: str | None = None) -> Any:
        """Call a view function (``contract.functions.x(...)``)."""
        return await self.read(what or f"reading {fn.fn_name}", fn.call)

    async def block_number(self) -> int:
        return await self.read("reading the block number", lambda: self.w3.eth.block_number)

    async def head(self, *, since: float) -> int:
        """The chain head as read by a request that started at or after ``since`` (``time.monotonic()``).

        Callers asking at the same time share one ``eth_blockNumber`` (16 verifications at once make
        one or two, not 16), and no caller ever gets a head read before it asked: a confirmation
        count is never staler than a read of its own would be.
        """
        return await self._head.get(since=since)

    async def receipt_and_head(self, tx_hash: str) -> tuple[dict[str, Any] | None, int]:
        """The receipt of ``tx_hash`` (None while unknown or pending) and the chain head, in one round trip.

        One JSON-RPC batch (the in-process chain takes them too), so the head is read with the receipt,
        never before the caller asked. The receipt's ``status`` and ``blockNumber`` are ints, its logs
        as the node gave them (``chain.logs.EventDecoder`` reads either form).
        """
        provider: Any = self.w3.provider

        async def both() -> tuple[dict[str, Any] | None, int]:
            answers = await provider.make_batch_request([("eth_getTransactionReceipt", [tx_hash]),
                                                         ("eth_blockNumber", [])])
            receipt, head = _batch_results(answers, 2)
            if receipt is None:
                return None, _quantity(head)
            return {**receipt, "status": _quantity(receipt["status"]),
                    "blockNumber": _quantity(receipt["blockNumber"])}, _quantity(head)

        return await self.read(f"looking up transaction {tx_hash}", both)

    async def is_known(self, tx_hash: str) -> bool:
        """Whether the node has seen ``tx_hash`` at all: pending in its mempool, or mined."""
        provider: Any = self.w3.provider

        async def ask() -> bool:
            [found] = _batch_results(await provider.make_batch_request([("eth_getTransactionByHash", [tx_hash])]), 1)
            return found is not None

        return await self.read(f"looking up transaction {tx_hash}", ask)

    async def call_many(self, calls: Sequence[ViewCall], *, block: int) -> list[Any]:
        """View calls at ``block``, in one JSON-RPC batch where the node takes one; answers cached per block.

        Pinned to one block, the answers are consistent with each other. The same question at the
        same block is not asked twice (the indexer calls :meth:`forget_cached` when a reorg replaces
        blocks; in another process a replaced head block is served from the cache until the head
        moves on, one block time). The in-process chain has no batches: it is asked in turn.
        """
        key = (block, tuple((c.address, name, args) for c, name, args in calls))
        if key in self._calls:
            self._calls.move_to_end(key)
            return list(self._calls[key])
        answers = await self._call_many(calls, block=block)
        self._calls[key] = answers
        while len(self._calls) > CALL_CACHE_SIZE:
            self._calls.popitem(last=False)
        return list(answers)

    def forget_cached(self) -> None:
        """Drop cached :meth:`call_many` answers (blocks were replaced by a reorg)."""
        self._calls.clear()

    async def _call_many(self, calls: Sequence[ViewCall], *, block: int) -> list[Any]:
        what = f"reading {', '.join(name for _, name, _ in calls)}"
        provider: Any = self.w3.provider
        requests = [("eth_call", [{"to": c.address, "data": c.encode_abi(name, args=list(args))}, hex(block)])
                    for c, name, args in calls]

        async def batch() -> list[Any]:
            results = _batch_results(await provider.make_batch_request(requests), len(calls))
            out = []
            for (c, name, _), result in zip(calls, results, strict=True):
                types = [o["type"] for o in c.get_function_by_name(name).abi["outputs"]]
                values = abi_decode(types, _data(result))
                out.append(values[0] if len(values) == 1 else tuple(values))
            return out

        return await self.read(what, batch)

    async def get_block(self, ident: int | str) -> Any:
        return await self.read(f"reading block {ident}", lambda: self.w3.eth.get_block(cast(BlockIdentifier, ident)))

    def map_error(self, exc: BaseException, what: str) -> SfMcpError:
        """``exc`` from web3 while doing ``what``, as the sf-mcp error a caller can act on (retryable or not)."""
        if is_unavailable(exc):
            return ChainUnavailable(f"{what}: the {self.label} RPC endpoint is unreachable ({type(exc).__name__})")
        if is_revert(exc):
            return ChainError(f"{what}: the contract refused: {describe_revert(exc)}")
        if isinstance(exc, Web3Exception):
            return ChainError(f"{what}: {exc}")
        return ChainError(f"{what}: unexpected {type(exc).__name__}: {exc}")

    # -- writing --------------------------------------------------------------
    async def build_tx(
        self, sender: str, fn: Any = None, *, value: int = 0, to: str | None = None, data: bytes | None = None,
        nonce: int | None = None,
    ) -> dict[str, Any]:
        """An unsigned EIP-1559 transaction from ``sender`` with nonce, gas estimate and fees filled in."""
        w3 = self.w3
        sender_cs = w3.to_checksum_address(sender)

        async def build() -> dict[str, Any]:
            n = nonce if nonce is not None else await w3.eth.get_transaction_count(sender_cs, "pending")
            base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
            try:
                tip = await w3.eth.max_priority_fee
            except Exception:
                tip = None
            tx: dict[str, Any] = {
                "from": sender_cs, "nonce": n, "chainId": self.chain_id, "value": value, **fee_fields(base, tip),
                "type": 2,
            }
            if fn is not None:
                tx = await fn.build_transaction(tx)
            else:
                if to is None:
                    raise ValueError("build_tx needs a contract call (fn) or an address (to)")
                tx["to"] = w3.to_checksum_address(to)
                tx["data"] = data or b""
                tx["gas"] = await w3.eth.estimate_gas(cast(TxParams, tx))
            return tx

        return await self.read(f"preparing {getattr(fn, 'fn_name', 'a transfer')}", build)

    async def send(
        self, signer: Signer, fn: Any = None, *, value: int = 0, to: str | None = None, what: str | None = None,
        on_sent: Callable[[str], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Sign with ``signer``, send, wait for the receipt; a reverted transaction is a ChainError.

        ``on_sent`` gets the hash as soon as the node accepted the transaction, before the
        wait, so a caller can remember it and never send the same action twice.
        """
        what = what or getattr(fn, "fn_name", "transaction")
        async with signer.lock:
            tx = await self.build_tx(signer.address, fn, value=value, to=to)
            raw = signer.sign(tx)
            try:
                tx_hash = await self.w3.eth.send_raw_transaction(raw)
            except Exception as exc:
                raise self.map_error(exc, f"sending {what}") from exc
        if on_sent is not None:
            await on_sent(tx_hash.to_0x_hex())
        try:
            receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.1)
        except Exception as exc:
            raise self.map_error(exc, f"waiting for {what} ({tx_hash.to_0x_hex()})") from exc
        self.mined(receipt)
        if receipt["status"] != 1:
            raise ChainError(f"{what} transaction {tx_hash.to_0x_hex()} reverted on chain")
        return dict(receipt)

    async def send_raw(self, raw: bytes, *, what: str) -> dict[str, Any]:
        """Broadcast a transaction someone else signed and wait for its receipt (any status).

        Sending the same bytes twice is harmless: a transaction the chain already mined answers
        its receipt, one still pending is waited for.
        """
        tx_hash = "0x" + keccak(raw).hex()
        found = await self.receipt(tx_hash)
        if found is not None:
            self.mined(found)
            return found
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            if "known" not in str(exc).lower():  # "already known": the node has it; wait for it below
                raise self.map_error(exc, f"sending {what}") from exc
        try:
            receipt = await self.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=120, poll_latency=0.1)
        except Exception as exc:
            raise self.map_error(exc, f"waiting for {what} ({tx_hash})") from exc
        self.mined(receipt)
        return dict(receipt)

    def mined(self, receipt: Mapping[str, Any]) -> None:
        """Tell the ``on_mined`` hooks that a transaction this process waited for is in a block."""
        for hook in self.on_mined:
            hook(int(receipt["blockNumber"]))

    async def send_as_operator(
        self, fn: Any, what: str, *, on_sent: Callable[[str], Awaitable[None]] | None = None
    ) -> dict[str, Any]:
        if self.operator is None:
            raise ConfigError(f"{what}: no operator key; set SF_OPERATOR_KEY to the key that holds OPERATOR_ROLE")
        return await self.send(self.operator, fn, what=what, on_sent=on_sent)

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt of ``tx_hash``, or None while it is unknown or pending."""

        async def get() -> Any:
            try:
                return await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                return None

        found = await self.read(f"looking up transaction {tx_hash}", get)
        return dict(found) if found is not None else None

    # -- time (dev chains) ----------------------------------------------------
    async def advance_time(self, seconds: int) -> int:
        """Move the chain's clock forward (embedded chain or anvil only) and mine a block; returns its timestamp."""
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        if self.embedded is not None:
            return int(await self.embedded.advance_time(seconds))
        if not self.deployment.dev:
            raise ChainError(f"advance_time: {self.label} is not a development chain")
        await self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
        await self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        return int((await self.get_block("latest"))["timestamp"])

    async def close(self) -> None:
        disconnect = getattr(self.w3.provider, "disconnect", None)
        if disconnect is not None:
            try:
                await disconnect()
            except Exception:
                logger.debug("closing the RPC session failed", exc_info=True)


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity: hex on the wire from a node, already an int from the in-process chain."""
    return value if isinstance(value, int) else int(value, 16)


def _data(value: Any) -> bytes:
    """JSON-RPC data: hex on the wire from a node, already bytes from the in-process chain."""
    return bytes(value) if isinstance(value, (bytes, bytearray)) else bytes.fromhex(str(value).removeprefix("0x"))


def _batch_results(answers: Any, expected: int) -> list[Any]:
    """The results of a JSON-RPC batch in request order; any error raises :class:`Web3RPCError` with its response."""
    if isinstance(answers, dict):  # the whole batch was refused
        raise Web3RPCError(str(answers.get("error", answers)), rpc_response=cast(RPCResponse, answers))
    ordered = sorted(answers, key=lambda a: a.get("id", 0))
    if len(ordered) != expected:
        raise Web3RPCError(f"a batch of {expected} requests got {len(ordered)} answers", rpc_response={})
    for answer in ordered:
        if "error" in answer:
            raise Web3RPCError(str(answer["error"]), rpc_response=answer)
    return [answer.get("result") for answer in ordered]


def is_dev_chain(settings: Settings) -> bool:
    """The embedded chain, or a ``sf-mcp deploy --dev`` deployment (mock tokens, public dev keys).

    Reads the deployment file: called once where the services are built, never from a property.
    """
    if settings.chain.embedded:
        return True
    try:
        return bool(json.loads(settings.deployment_path.read_text(encoding="utf-8")).get("dev"))
    except (OSError, ValueError, AttributeError):  # no file yet, or not ours: not a dev deployment
        return False


def http_web3(rpc_url: str, *, timeout_s: float = 10.0) -> AsyncWeb3[AsyncBaseProvider]:
    provider = AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_s)},
                                 exception_retry_configuration=None)
    return AsyncWeb3(provider)


async def connect_rpc(settings: Settings) -> ChainClient:
    """Connect to ``settings.chain.rpc_url`` and check it against the deployment file; refuse any other chain."""
    assert settings.chain.rpc_url is not None
    url = settings.chain.rpc_url
    w3 = http_web3(url, timeout_s=settings.chain.rpc_timeout_s)
    try:
        chain_id = await w3.eth.chain_id
    except Exception as exc:
        await _quiet_close(w3)
        if is_unavailable(exc):
            raise ChainUnavailable(f"cannot reach the RPC endpoint {_safe_url(url)} ({type(exc).__name__})") from exc
        raise ChainError(f"the RPC endpoint {_safe_url(url)} did not answer eth_chainId: {exc}") from exc
    path = settings.deployment_path
    try:
        deployment = Deployment.load(path)
    except ConfigError:
        await _quiet_close(w3)
        raise ConfigError(
            f"{chain_name(chain_id)} (chain id {chain_id}) at {_safe_url(url)} is unknown to this server: "
            f"no deployment file at {path}; run `sf-mcp deploy --rpc-url {_safe_url(url)}` first"
        ) from None
    if deployment.chain_id != chain_id:
        await _quiet_close(w3)
        raise ConfigError(
            f"the RPC endpoint {_safe_url(url)} is {chain_name(chain_id)} (chain id {chain_id}) but the deployment "
            f"file {path} is for {chain_name(deployment.chain_id)} (chain id {deployment.chain_id}); refusing to "
            "treat one chain as another"
        )
    code = await w3.eth.get_code(w3.to_checksum_address(deployment.address(PAYMENT)))
    if not code:
        await _quiet_close(w3)
        raise ConfigError(
            f"no contract at {deployment.address(PAYMENT)} on {chain_name(chain_id)}: the chain was reset since "
            f"{path} was written; run `sf-mcp deploy` again"
        )
    missing = [n for n in CORE_CONTRACTS if n not in deployment.contracts]
    if missing:
        await _quiet_close(w3)
        raise ConfigError(f"deployment file {path} lacks {', '.join(missing)}")
    operator = Signer(settings.chain.operator_key.get_secret_value()) if settings.chain.operator_key else None
    if operator is None and deployment.dev:
        from sf_mcp.chain.accounts import DEV_KEYS

        operator = Signer(DEV_KEYS[0])
    return ChainClient(w3, deployment, confirmations=settings.chain.confirmations, operator=operator)


async def _quiet_close(w3: AsyncWeb3[AsyncBaseProvider]) -> None:
    try:
        await w3.provider.disconnect()
    except Exception:
        pass


def _safe_url(url: str) -> str:
    """The URL without credentials or API keys in its path or query, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
