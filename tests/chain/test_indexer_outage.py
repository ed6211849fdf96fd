"""The indexer rides out an RPC outage: backs off (capped, jittered), says "degraded", counts the outage, and
picks up by itself (a payment made during the outage still becomes a job) once the RPC answers again.

anvil from the contracts' npm toolchain, behind the loopback proxy that the test switches off and on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from prometheus_client import generate_latest
from tests.chain.conftest import Session
from tests.chain.rpc_proxy import RpcProxy
from tests.chain.test_anvil import _settings, anvil, cast_pay, proxy  # noqa: F401 (fixtures)

from sf_mcp.chain import Indexer, IndexerState
from sf_mcp.server import build_server, open_http_app

pytestmark = [pytest.mark.anyio, pytest.mark.anvil]
MAX_BACKOFF_S = 0.4


class WatchedWaits:
    """The server's indexer sleeps here: the backoffs of an outage are recorded, its fifth failure in a row and
    the first wait at the poll interval after it are signalled; every wait still takes its time."""

    def __init__(self) -> None:
        self.indexer: Indexer | None = None  # set once the services are open
        self.backoffs: list[float] = []
        self.after: list[float] = []  # waits once running again after the outage
        self.failing, self.recovered = anyio.Event(), anyio.Event()

    async def sleep(self, seconds: float) -> None:
        indexer = self.indexer
        if indexer is not None and indexer.state is IndexerState.DEGRADED:
            self.backoffs.append(seconds)
            if indexer.checkpoint.failures_in_a_row >= 5:
                self.failing.set()
        elif indexer is not None and self.backoffs:
            self.after.append(seconds)
            self.recovered.set()
        await anyio.sleep(seconds)


async def test_the_indexer_backs_off_through_an_rpc_outage_and_recovers_by_itself(
    anvil: Any, proxy: RpcProxy, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, deployment = anvil
    settings = _settings(data_dir, proxy.url, deployment, monkeypatch).updated(
        indexer_max_backoff_s=MAX_BACKOFF_S)
    watch = WatchedWaits()
    with anyio.fail_after(120):
        async with open_http_app(settings, indexer_sleep=watch.sleep) as (_, surface), \
                Client(build_server(settings, http=surface), mode="auto") as client:
            s = Session(client=client, services=surface.services)
            indexer = watch.indexer = s.indexer
            await indexer.sync()

            proxy.down = True
            indexer.nudge()
            await watch.failing.wait()
            status, checks = await surface.status()
            assert status == "degraded" and checks["indexer"]["detail"].startswith("degraded"), checks
            assert checks["database"]["ok"] and checks["providers"]["ok"]
            assert b"sf_mcp_indexer_outages_total 1.0" in generate_latest(surface.metrics.registry)
            waits = watch.backoffs
            assert max(waits) <= MAX_BACKOFF_S and len(set(waits)) == len(waits)  # capped; jittered
            # Someone pays on chain directly while our RPC is down.
            tx = cast_pay(node.url, s.chain.deployment.address("SonicAIGenerationPayment"), "paid in the outage")

            proxy.down = False
            indexer.nudge()
            await watch.recovered.wait()
            assert watch.after[0] == settings.chain.indexer_poll_s  # back to the poll interval, not a backoff
            await indexer.sync()
            assert indexer.state is IndexerState.RUNNING and indexer.checkpoint.outages == 1
            jobs = [r for r in await s.services.store.generations.recent(limit=20) if r.payment.get("tx_hash") == tx]
            assert len(jobs) == 1
            status, _ = await surface.status()
            assert status == "ready"
