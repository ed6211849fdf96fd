"""Three ``sf-mcp serve --transport http`` replicas on one PostgreSQL and one anvil, as deployed.

Each replica is its own process with its own data dir; they share the database, the chain, the
JWT secret and the public URL. The tests talk to them over loopback HTTP only, pay with ``cast
send`` like a user, SIGKILL replicas, and read the outcome from the shared database.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import boto3
import httpx2
import pytest
from eth_account import Account
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from moto.server import ThreadedMotoServer
from tests.chain.test_anvil import cast_pay
from tests.http.http_support import sign
from tests.pg_support import PgServer

from fakes._server import Behavior
from fakes.huggingface import FakeHuggingFace
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.devnet import find_anvil, start_anvil
from sf_mcp.store import OperatorAction, Store
from support import UpdateWatcher, subscribed, wait_until_serving

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.anvil,
    pytest.mark.replicas,
    pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent: run `npm ci` in contracts/"),
]

MODEL = "replica/model"
WALLET_LIMIT = 40
REPLICAS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The replicas' processes, their URLs, and a store on their database for checking the books."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root = env, root
        self.ports = [_free_port() for _ in range(REPLICAS)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * REPLICAS
        self.env["SF_PUBLIC_URL"] = self.url(0)  # the load balancer's URL in a real deployment

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, i: int) -> None:
        env = {**self.env, "SF_DATA_DIR": str(self.root / f"replica{i}")}
        proc = subprocess.Popen([sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http",
                                 "--port", str(self.ports[i])], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.procs[i] = proc
        wait_until_serving(proc)

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def index_of_pid(self, pid: int) -> int:
        return next(i for i, p in enumerate(self.procs) if p is not None and p.pid == pid)

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace() as f:
        yield f


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The media store every replica writes and reads (S3 in production; moto's server here)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="s").create_bucket(Bucket="media")
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(pg: PgServer, fake: FakeHuggingFace, s3: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("replicas")
    node = start_anvil()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    try:
        deployed = subprocess.run([sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(root / "deploy"), "deploy",
                                   "--dev", "--rpc-url", node.url], capture_output=True, text=True, timeout=120,
                                  env=base_env)
        assert deployed.returncode == 0, deployed.stderr
        with pg.database() as url:
            env = {
                **base_env,
                "SF_DATABASE_URL": url,
                "SF_RPC_URL": node.url,
                "SF_DEPLOYMENT_FILE": str(root / "deploy" / "deployment.json"),
                "SF_JWT_SECRET": "j" * 48,
                "SF_REQUEST_STATE_KEYS": "r" * 48,
                "SF_HF_BASE_URL": fake.base_url,
                "SF_IMAGE_MODELS": json.dumps([MODEL]),
                "SF_LOCAL_RENDERER": "false",
                "SF_CONTENT_BACKEND": "s3",
                "SF_S3_BUCKET": "media",
                "SF_S3_ENDPOINT_URL": s3,
                "SF_S3_REGION": "us-east-1",
                "SF_S3_ACCESS_KEY_ID": "k",
                "SF_S3_SECRET_ACCESS_KEY": "s",
                "SF_INDEXER_POLL_S": "0.2",
                "SF_LEADER_LEASE_S": "1",
                "SF_JOB_LEASE_S": "2",
                "SF_RATE_LIMIT_WALLET": str(WALLET_LIMIT),
                "SF_RATE_LIMIT_IP": "100000",
                "SF_RATE_LIMIT_AUTH_IP": "100000",
            }
            c = Cluster(env, root)
            try:
                for i in range(REPLICAS):
                    c.start(i)
                yield c
            finally:
                c.stop()
    finally:
        node.stop()


@pytest.fixture
async def books(cluster: Cluster) -> AsyncIterator[Store]:
    """The shared database, read as an operator would."""
    store = await Store.open(cluster.env["SF_DATABASE_URL"])
    yield store
    await store.close()


async def _sign_in(cluster: Cluster, key: str, replica: int = 0) -> str:
    account = Account.from_key(key)
    async with httpx2.AsyncClient(base_url=cluster.url(replica), timeout=30) as http:
        issued = (await http.get("/auth/nonce", params={"address": account.address})).json()
        # The nonce was issued by one replica; another verifies it (nonces live in the database).
        other = cluster.url((replica + 1) % REPLICAS)
        answer = await http.post(f"{other}/auth/verify", json={"message": issued["message"],
                                                               "signature": sign(account, issued["message"])})
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]


@asynccontextmanager
async def mcp_client(cluster: Cluster, replica: int, token: str, mode: str = "legacy",
                     watcher: UpdateWatcher | None = None) -> AsyncIterator[Client]:
    extra = {"message_handler": watcher.message_handler} if watcher is not None else {}
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        async with Client(streamable_http_client(f"{cluster.url(replica)}/mcp", http_client=http), mode=mode,
                          cache=None, **extra) as client:
            yield client


async def _until(check: Callable[[], Awaitable[Any]], *, timeout: float = 60, every: float = 0.2) -> Any:
    """The first truthy answer of ``check`` (state written by other processes: read until it is there)."""
    with anyio.fail_after(timeout):
        while not (value := await check()):
            await anyio.sleep(every)
    return value


def _payment_address(cluster: Cluster) -> str:
    deployment = json.loads(Path(cluster.env["SF_DEPLOYMENT_FILE"]).read_text())
    return deployment["contracts"]["SonicAIGenerationPayment"]["address"]


async def _jobs_of(books: Store, tx: str) -> list:
    return [r for r in await books.generations.recent(limit=500) if (r.payment.get("tx_hash") or "").lower() == tx]


async def _ready(cluster: Cluster, i: int) -> dict[str, Any]:
    async with httpx2.AsyncClient(timeout=10) as http:
        return (await http.get(f"{cluster.url(i)}/readyz")).json()


async def _leaders(cluster: Cluster) -> list[int]:
    out = []
    for i, proc in enumerate(cluster.procs):
        if proc is not None and proc.poll() is None:
            if (await _ready(cluster, i))["checks"].get("indexer", {}).get("leader"):
                out.append(i)
    return out


async def test_thirty_calls_on_one_payment_over_three_replicas_make_one_task(cluster: Cluster, books: Store) -> None:
    tx = await anyio.to_thread.run_sync(cast_pay, cluster.env["SF_RPC_URL"], _payment_address(cluster),
                                        "one payment, thirty calls", DEV_KEYS[1])
    token = await _sign_in(cluster, DEV_KEYS[1])
    args = {"prompt": "one payment, thirty calls", "payment": {"method": "crypto", "tx_hash": tx},
            "width": 64, "height": 64}
    answers: list[Any] = []

    async def ten_calls(replica: int) -> None:
        async with mcp_client(cluster, replica, token) as client:
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(lambda: _append(answers, client.call_tool("generate_image", args)))

    async with anyio.create_task_group() as tg:
        for replica in range(REPLICAS):
            tg.start_soon(ten_calls, replica)
    jobs = await _jobs_of(books, tx.lower())
    assert len(jobs) == 1 and len(answers) == 30
    task = jobs[0].task_id
    for answer in answers:
        text = " ".join(getattr(c, "text", "") for c in answer.content)
        assert (answer.structured_content or {}).get("task_id") == task or task in text, text


async def _append(out: list[Any], call: Awaitable[Any]) -> None:
    out.append(await call)


async def test_a_direct_payment_makes_one_job_and_one_submission(cluster: Cluster, books: Store) -> None:
    tx = (await anyio.to_thread.run_sync(cast_pay, cluster.env["SF_RPC_URL"], _payment_address(cluster),
                                         "paid in a dApp", DEV_KEYS[2])).lower()
    job = (await _until(lambda: _submitted(books, tx)))
    assert len(await _jobs_of(books, tx)) == 1 and job.status == "succeeded"
    op = await books.operator_txs.get(job.task_id, OperatorAction.SUBMIT)
    assert op is not None and op.status == "mined" and len(op.hashes) == 1


async def _submitted(books: Store, tx: str):
    jobs = await _jobs_of(books, tx)
    return jobs[0] if jobs and jobs[0].submission is not None else None


async def test_sigkill_of_the_replica_running_a_job_another_finishes_it_once(
    cluster: Cluster, books: Store, fake: FakeHuggingFace,
) -> None:
    fake.program(MODEL, Behavior(hang=True), Behavior())  # the first provider call never answers, then all do
    token = await _sign_in(cluster, DEV_KEYS[3])
    before = len(fake.calls(MODEL))

    async def call() -> None:
        try:
            async with mcp_client(cluster, 0, token) as client:
                await client.call_tool("generate_image", {"prompt": "survive a replica", "payment": {"method": "free"},
                                                          "width": 64, "height": 64})
        except Exception:  # the replica serving this call may be the one killed
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.to_thread.run_sync(lambda: fake.wait_for_calls(MODEL, before + 1))
        running = await _until(lambda: _running(books, "survive a replica"))
        victim = cluster.index_of_pid(int(running.lease_owner.split("-", 1)[0]))
        cluster.kill(victim)
        done = await _until(lambda: _finished(books, running.task_id))
        tg.cancel_scope.cancel()
    assert done.status == "succeeded" and done.run_count == 2
    assert len(fake.calls(MODEL)) == before + 2  # the killed attempt and the one that finished, nothing more
    survivors = [i for i in range(REPLICAS) if i != victim]
    assert sum([await _metric(cluster, i, "sf_mcp_job_lease_takeovers_total") for i in survivors]) >= 1
    cluster.start(victim)


async def _running(books: Store, prompt: str):
    rows = [r for r in await books.generations.recent(limit=50) if r.prompt == prompt and r.status == "running"]
    return rows[0] if rows else None


async def _finished(books: Store, task_id: str):
    row = await books.generations.get(task_id)
    return row if row is not None and row.finished else None


async def test_sigkill_of_the_indexer_leader_another_takes_over_nothing_twice(cluster: Cluster, books: Store) -> None:
    [leader] = await _until(lambda: _leaders(cluster))
    cluster.kill(leader)
    [successor] = await _until(lambda: _leaders(cluster), timeout=30)
    assert successor != leader
    assert await _metric(cluster, successor, "sf_mcp_indexer_leader") == 1
    assert await _metric(cluster, successor, "sf_mcp_indexer_leader_changes_total") >= 1
    ready = await _ready(cluster, successor)
    assert ready["checks"]["database"]["ok"] and ready["checks"]["database"]["detail"].startswith("migration ")
    tx = (await anyio.to_thread.run_sync(cast_pay, cluster.env["SF_RPC_URL"], _payment_address(cluster),
                                         "after the leader died", DEV_KEYS[4])).lower()
    job = await _until(lambda: _submitted(books, tx))
    assert len(await _jobs_of(books, tx)) == 1 and job.status == "succeeded"
    chain_id = job.payment["chain_id"]
    events = await books.chain.events(chain_id, limit=10_000)
    assert len({(e.tx_hash, e.log_index) for e in events}) == len(events)
    requested = [e for e in events if e.event == "GenerationRequested"]
    assert len({e.payment_key for e in requested}) == len(requested)
    for row in await books.generations.recent(limit=500):
        for action in ("submit", "refund"):
            op = await books.operator_txs.get(row.task_id, OperatorAction(action))
            assert op is None or len(op.hashes) == 1, (row.task_id, action, op)
    cluster.start(leader)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_subscriber_on_one_replica_hears_a_job_finished_on_another(cluster: Cluster, mode: str) -> None:
    """A listener on every replica: whichever replica runs the job, the listeners on the other two hear it."""
    key = "0x" + ("6b" if mode == "legacy" else "6c") * 32  # a wallet per mode: each has its own free tier
    token = await _sign_in(cluster, key)
    uri = f"generations://wallet/{Account.from_key(key).address.lower()}"
    watchers = [UpdateWatcher() for _ in range(REPLICAS)]
    before = [await _finished_count(cluster, i) for i in range(REPLICAS)]
    async with AsyncExitStack() as stack:
        for i, watcher in enumerate(watchers):
            listener = await stack.enter_async_context(mcp_client(cluster, i, token, mode, watcher))
            await stack.enter_async_context(subscribed(listener, watcher, mode, uri))
        caller = await stack.enter_async_context(mcp_client(cluster, 1, token))
        answer = await caller.call_tool("generate_image", {
            "prompt": f"heard across replicas {mode}", "payment": {"method": "free"}, "width": 64, "height": 64})
        assert not answer.is_error, answer.content
        heard = [await watcher.next_update() for watcher in watchers]

    async def runners() -> list[int]:
        return [i for i in range(REPLICAS) if await _finished_count(cluster, i) > before[i]]

    assert len(await _until(runners)) == 1  # one replica ran the job ...
    assert heard == [uri] * REPLICAS  # ... and the listeners on the others heard it too


async def _metric(cluster: Cluster, i: int, name: str) -> float:
    async with httpx2.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{cluster.url(i)}/metrics")).text
    return sum(float(m) for m in re.findall(rf'^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$', text, re.M))


async def _finished_count(cluster: Cluster, i: int) -> float:
    async with httpx2.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{cluster.url(i)}/metrics")).text
    return sum(float(m) for m in re.findall(r'^sf_mcp_generations_total\{[^}]*\} ([0-9.e+]+)$', text, re.M))


async def test_a_wallets_rate_limit_holds_across_replicas(cluster: Cluster) -> None:
    token = await _sign_in(cluster, "0x" + "5a" * 32)
    rounds = WALLET_LIMIT // REPLICAS + 3
    refused = 0
    async with mcp_client(cluster, 0, token) as c0, mcp_client(cluster, 1, token) as c1, \
            mcp_client(cluster, 2, token) as c2:
        for _ in range(rounds):
            for client in (c0, c1, c2):
                answer = await client.call_tool("account", {})
                refused += bool(answer.is_error and "rate limit" in answer.content[0].text)
    assert refused == rounds * REPLICAS - WALLET_LIMIT
