"""The embedded chain: a py-evm sandbox chain kept in the data dir, shared by every process that serves it.

The default when no RPC URL is configured: it runs offline, with the contracts
deployed and the standard development accounts (``chain.accounts``) given S,
MockUSDC and BanditKidz NFTs, so the demo and the tests pay, stake and vote with
the same wallets anvil would give them.

**One chain per data dir, however many processes.** Every stdio client (Claude
Desktop, Cursor, ...) starts its own ``sf-mcp serve`` on the same data dir. The
first process to take the file lock ``chain/owner.lock`` owns the chain: it runs
py-evm in-process and answers JSON-RPC for the others on a loopback port that it
writes to ``chain/endpoint.json``. The others are ordinary RPC clients of it.
When the owner exits (or dies: the kernel drops its lock) the next request of
another process fails to connect, that process takes the lock, loads the chain
and becomes the owner; the rest follow the new endpoint. So every process sees
one chain: no resets, no false reorgs, one job per payment.

**State that survives restarts.** py-evm's key-value store is kept in
``chain/state.journal`` (``chain.journal``): every write is appended and fsynced
before the request that made it is answered, so a transaction whose hash anyone
saw is still there after a crash or a restart. The chain is created (genesis,
funding, deployment; ``chain/deployment.json``) only when no journal exists:
then ``on_new_chain`` runs (the server forgets what its database knew of an
earlier chain with the same id) before any other process can reach it.

**Off the event loop.** py-evm executes a transaction or an ``eth_call``
synchronously (milliseconds to tens of them): on the server's event loop that
stalled every other request, /healthz included. The owner runs each request in a
worker thread, one at a time (:attr:`SharedChain.requests`, an async lock taken
around the whole of ``make_request``, so code that replaces it to swap
``ethereum_tester`` around one request, like the tests' lagging-node router, stays valid), and every direct use of the
tester (:class:`EmbeddedChain` controls, ``EmbeddedChain.tester``) holds the same
thread lock as that worker.

Besides the usual RPC the owner can move the clock (contests are weekly), take
and revert snapshots and stop automining (tests), and any process can simulate
an RPC outage (``down``). See docs/chain.md for why this design.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
import anyio
from aiohttp import web
from eth.db.atomic import AtomicDB
from eth_tester import EthereumTester, PyEVMBackend
from filelock import FileLock, Timeout
from web3 import AsyncWeb3
from web3._utils.encoding import Web3JsonEncoder
from web3.exceptions import ProviderConnectionError
from web3.middleware import async_combine_middleware
from web3.providers.eth_tester import AsyncEthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS, DEV_S, FUNDED_ACCOUNTS
from sf_mcp.chain.client import ChainClient, Signer, _tester_revert_data
from sf_mcp.chain.contracts import Deployment
from sf_mcp.chain.deploy import deploy
from sf_mcp.chain.journal import JournalDB
from sf_mcp.errors import ChainError

logger = logging.getLogger(__name__)

NewChainHook = Callable[[int], Awaitable[None]]
ELECTION_TIMEOUT_S = 30.0  # how long a process waits for another one that holds the lock to answer
_GONE = (aiohttp.ClientConnectionError, ConnectionError, OSError)  # the owner process is not there (any more)


class SharedChain(AsyncEthereumTesterProvider):
    """The web3 provider of the embedded chain: the chain itself in the owner process, its RPC in the others."""

    def __init__(self, home: Path | None, *, on_new_chain: NewChainHook | None = None) -> None:
        super().__init__()
        self.home = home
        self.down = False  # a simulated RPC outage
        self.calls = 0
        self.owner = False
        self.journal: JournalDB | None = None
        self._on_new_chain = on_new_chain
        self._lock = FileLock(home / "owner.lock") if home is not None else None
        self._url: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._site: web.AppRunner | None = None
        self._pipelines: tuple[Any, ...] | None = None
        self._served: Any = None  # the owner's middleware pipeline for requests from other processes
        self.requests = anyio.Lock()  # one request at a time, held around all of it (see the module docstring)
        self.tester_lock = threading.RLock()  # held by whoever runs py-evm: the request worker or a control
        self._worker = anyio.CapacityLimiter(1)

    # -- start and stop ------------------------------------------------------------
    async def start(self) -> Deployment:
        """Own or join the data dir's chain (creating it when there is none); returns its deployment."""
        if self.home is None:  # a private in-memory chain (no data dir)
            tester, deployment = await _template()
            self.ethereum_tester = copy.deepcopy(tester)
            self.owner = True
            return deployment
        self.home.mkdir(parents=True, exist_ok=True)
        await self._elect()
        return Deployment.load(self.home / "deployment.json")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._site is not None:
            await self._site.cleanup()
            self._site = None
            endpoint = self.home / "endpoint.json"  # type: ignore[operator]
            if endpoint.exists() and json.loads(endpoint.read_text()).get("pid") == os.getpid():
                endpoint.unlink(missing_ok=True)
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._lock is not None and self._lock.is_locked:
            self._lock.release()
        self.owner = False

    async def disconnect(self) -> None:  # ChainClient.close()
        await self.close()

    # -- requests --------------------------------------------------------------------
    async def _one_at_a_time(self, method: Any, params: Any) -> Any:
        """:meth:`make_request` (looked up per call: tests replace it) under :attr:`requests`. Taken here, below
        web3's middlewares, because some of those make requests of their own (the chain id) while one runs."""
        async with self.requests:
            return await self.make_request(method, params)

    async def make_request(self, method: Any, params: Any) -> Any:
        """One request to the chain in this process, run in a worker thread; its writes reach the journal
        before it is answered. Callers hold :attr:`requests`."""
        try:
            return await anyio.to_thread.run_sync(self._run, method, params, limiter=self._worker)
        finally:
            self.flush()

    def _run(self, method: Any, params: Any) -> Any:
        """Drive the tester provider's request to its end: it computes without awaiting anything. (Made here,
        so a request cancelled before its turn leaves no coroutine behind.)"""
        with self.tester_lock:
            request = AsyncEthereumTesterProvider.make_request(self, method, params)
            try:
                request.send(None)
            except StopIteration as done:
                return done.value
            request.close()
            raise RuntimeError("the eth-tester provider awaited inside a request; it cannot run in a worker thread")

    def flush(self) -> None:
        if self.journal is not None:
            self.journal.flush()

    async def request_func(self, async_w3: AsyncWeb3[Any], middleware_onion: Any) -> Any:
        onion = middleware_onion.as_tuple_of_middleware()
        if self._pipelines is None or self._pipelines[0] != onion:
            local = await async_combine_middleware(onion + tuple(self._middleware), async_w3, self._one_at_a_time)
            remote = await async_combine_middleware(onion, async_w3, self._remote)
            self._pipelines = (onion, local, remote)
        _, local, remote = self._pipelines

        async def dispatch(method: Any, params: Any) -> Any:
            self.calls += 1
            if self.down:
                raise ProviderConnectionError("embedded chain is switched off (simulated RPC outage)")
            for _ in range(3):
                if self.owner:
                    return await local(method, params)
                try:
                    return await remote(method, params)
                except _GONE:
                    await self._elect()  # the owner left: take over, or follow whoever did
            raise ProviderConnectionError(f"the embedded chain in {self.home} does not answer")

        return dispatch

    async def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        """A JSON-RPC batch, answered in wire form as a node answers one (``ChainClient`` reads receipts and
        views this way: without web3's per-method formatting, which costs more than the chain's own work).

        The owner answers each request in turn, as it answers other processes' batches; the others send
        the batch to the owner."""
        self.calls += len(requests)
        if self.down:
            raise ProviderConnectionError("embedded chain is switched off (simulated RPC outage)")
        calls = [{"jsonrpc": "2.0", "id": i, "method": str(m), "params": p} for i, (m, p) in enumerate(requests)]
        for _ in range(3):
            if self.owner:
                if self._served is None:  # a private chain serves no other process, but answers in wire form
                    self._served = await self._wire_pipeline()
                return [cast(RPCResponse, await self._answer_one(call)) for call in calls]
            try:
                return cast(list[RPCResponse], await self._post(calls))
            except _GONE:
                await self._elect()
        raise ProviderConnectionError(f"the embedded chain in {self.home} does not answer")

    async def _remote(self, method: Any, params: Any) -> Any:
        return await self._post({"jsonrpc": "2.0", "id": self.calls, "method": str(method), "params": params})

    async def _post(self, body: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        async with self._session.post(self._url or "http://127.0.0.1:1", data=json.dumps(body, cls=Web3JsonEncoder),
                                      headers={"Content-Type": "application/json"}) as response:
            if response.status == 404:  # the port now belongs to another server: our owner is gone
                raise ConnectionError(f"{self._url} is no longer the embedded chain of {self.home}")
            return await response.json()

    async def _wire_pipeline(self) -> Any:
        """Requests in, answers out in JSON-RPC wire form: the tester's own formatting middlewares only."""
        return await async_combine_middleware(tuple(self._middleware), AsyncWeb3(self), self._one_at_a_time)

    # -- who owns the chain ------------------------------------------------------------
    async def _elect(self) -> None:
        """Become the owner if nobody is, else follow the owner's endpoint (waiting while one takes over)."""
        assert self.home is not None and self._lock is not None
        deadline = time.monotonic() + ELECTION_TIMEOUT_S
        while True:
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                url = _read_endpoint(self.home)
                if url is not None and await self._answers(url):
                    if url != self._url:
                        logger.info("embedded chain: using the chain of another process at %s", url)
                    self._url = url
                    return
                if time.monotonic() > deadline:
                    raise ProviderConnectionError(f"the embedded chain in {self.home} is held by a process that "
                                                  "does not answer") from None
                await anyio.sleep(0.05)  # another process is taking over or starting
                continue
            await self._become_owner()
            return

    async def _answers(self, url: str) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            body = {"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []}
            async with self._session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status == 200
        except (*_GONE, TimeoutError):
            return False

    async def _become_owner(self) -> None:
        assert self.home is not None
        try:
            journal = JournalDB.open(self.home / "state.journal")
            fresh = not journal.kv_store
            if fresh:
                tester, deployment = await _template()
                deployment.save(self.home / "deployment.json")  # first: a journal never exists without it
                journal.seed(dict(tester.backend.chain.chaindb.db.wrapped_db.kv_store))
            self.ethereum_tester = _tester_over(journal)
            self.journal = journal
            self.owner = True
            if fresh and self._on_new_chain is not None:
                await self._on_new_chain(Deployment.load(self.home / "deployment.json").chain_id)
            await self._serve()
        except BaseException:
            await self.close()
            raise
        logger.info("embedded chain: this process (pid %s) owns the chain in %s (%s)", os.getpid(), self.home,
                    "new" if fresh else "loaded from its journal")

    async def _serve(self) -> None:
        """Answer the other processes' JSON-RPC on a loopback port named in endpoint.json."""
        assert self.home is not None
        self._served = await self._wire_pipeline()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        # A random path: a stale endpoint.json never reaches another server that got the port, and only those
        # who can read the data dir can reach this chain.
        path = f"/{secrets.token_urlsafe(16)}"
        app.router.add_post(path, self._answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._site = runner
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        tmp = self.home / f"endpoint.{os.getpid()}.tmp"
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps({"url": f"http://127.0.0.1:{port}{path}", "pid": os.getpid()}))
        os.replace(tmp, self.home / "endpoint.json")

    async def _answer(self, request: web.Request) -> web.Response:
        payload = await request.json()
        calls = payload if isinstance(payload, list) else [payload]
        answers = [await self._answer_one(call) for call in calls]
        body = answers if isinstance(payload, list) else answers[0]
        return web.Response(text=json.dumps(body, cls=Web3JsonEncoder), content_type="application/json")

    async def _answer_one(self, call: dict[str, Any]) -> dict[str, Any]:
        rid, method, params = call.get("id"), call.get("method"), call.get("params") or []
        try:
            if method == "sf_advanceTime":
                result: Any = await EmbeddedChain(self).advance_time(int(params[0]))
            else:
                response = await self._served(method, params)
                if "error" in response:
                    return {"jsonrpc": "2.0", "id": rid, "error": response["error"]}
                result = response.get("result")
        except Exception as exc:  # a revert or a refused transaction: answered as a node would
            data = getattr(exc, "data", None) or _tester_revert_data(str(exc))
            error: dict[str, Any] = {"code": 3 if data else -32000, "message": str(exc)}
            if data:
                error = {**error, "message": "execution reverted", "data": data}
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        return {"jsonrpc": "2.0", "id": rid, "result": result}


class EmbeddedChain:
    """Controls of the embedded chain that a real node does not offer over plain RPC."""

    def __init__(self, provider: SharedChain) -> None:
        self.provider = provider

    @property
    def tester(self) -> Any:
        """The py-evm tester (its calls hold the provider's thread lock, so they never run beside a request)."""
        if not self.provider.owner:
            raise ChainError("the embedded chain is run by another process; only its owner controls it directly")
        return _Guarded(self.provider.ethereum_tester, self.provider.tester_lock)

    @property
    def down(self) -> bool:
        return self.provider.down

    @down.setter
    def down(self, value: bool) -> None:
        self.provider.down = value

    async def advance_time(self, seconds: int) -> int:
        """Mine a block ``seconds`` after the pending one; later blocks follow from there."""
        if not self.provider.owner:
            response = await self.provider._remote("sf_advanceTime", [seconds])
            if "error" in response:
                raise ChainError(f"advancing the embedded chain's clock: {response['error'].get('message')}")
            return int(response["result"])
        tester, lock = self.tester, self.provider.tester_lock

        def travel() -> int:
            with lock:
                pending = tester.get_block_by_number("pending")["timestamp"]
                tester.time_travel(pending + seconds)
                self.provider.flush()
                return int(tester.get_block_by_number("latest")["timestamp"])

        return await anyio.to_thread.run_sync(travel)

    def mine(self, blocks: int = 1) -> None:
        with self.provider.tester_lock:
            self.tester.mine_blocks(blocks)
            self.provider.flush()

    def snapshot(self) -> int:
        return int(self.tester.take_snapshot())

    def revert(self, snapshot_id: int) -> None:
        with self.provider.tester_lock:
            self.tester.revert_to_snapshot(snapshot_id)
            self.provider.flush()


class _Guarded:
    """An eth-tester whose method calls hold ``lock`` (the request worker's): safe beside running requests."""

    def __init__(self, tester: EthereumTester, lock: threading.RLock) -> None:
        self._tester, self._lock = tester, lock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tester, name)
        if not callable(value):
            return value
        lock = self._lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return value(*args, **kwargs)

        return locked

    def __deepcopy__(self, memo: dict[int, Any]) -> EthereumTester:
        with self._lock:  # a copy of the chain as it is now (a lagging node, in tests)
            return copy.deepcopy(self._tester, memo)


async def start_embedded(*, confirmations: int | None = None, home: Path | None = None,
                         on_new_chain: NewChainHook | None = None) -> ChainClient:
    """The embedded chain of the data dir ``home`` (created when it has none), or a private one when None."""
    provider = SharedChain(home, on_new_chain=on_new_chain)
    deployment = await provider.start()
    return ChainClient(AsyncWeb3(provider), deployment, confirmations=confirmations,
                       operator=Signer(DEV_KEYS[0]), embedded=EmbeddedChain(provider))


# The first new chain of a process deploys into a template; later ones (tests, a second data dir) copy it,
# which takes milliseconds instead of a second of transactions.
_template_chain: tuple[EthereumTester, Deployment] | None = None


async def _template() -> tuple[EthereumTester, Deployment]:
    global _template_chain
    if _template_chain is None:
        provider = AsyncEthereumTesterProvider()
        tester = provider.ethereum_tester
        rich = tester.get_accounts()[0]  # eth-tester's own accounts hold the genesis S
        for wallet in DEV_ADDRESSES[:FUNDED_ACCOUNTS]:
            tester.send_transaction({"from": rich, "to": AsyncWeb3.to_checksum_address(wallet), "value": DEV_S,
                                     "gas": 21000})
        deployment = await deploy(AsyncWeb3(provider), Signer(DEV_KEYS[0]), dev=True)
        _template_chain = (copy.deepcopy(tester), deployment)
    return _template_chain


def _tester_over(journal: JournalDB) -> EthereumTester:
    """An eth-tester whose chain lives in ``journal`` (its canonical head is where the chain resumes)."""
    backend = PyEVMBackend()
    backend.chain = type(backend.chain)(AtomicDB(journal))
    return EthereumTester(backend=backend)


def _read_endpoint(home: Path) -> str | None:
    try:
        return str(json.loads((home / "endpoint.json").read_text())["url"])
    except (OSError, ValueError, KeyError):
        return None
